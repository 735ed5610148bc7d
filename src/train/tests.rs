//! The training loop against the step API, and its stopping rules.

use super::engine::splits;
use super::feature_major;
use super::*;
use crate::train::stopping::{Scales, Schedule, Stopping};
use crate::{Activation, Loss, NetworkConfig};
use ndarray::{s, Array1, Array2};

/// `fit` without sample weights, validation or monitor.
fn train<'d, T: Float>(
    net: &mut Network<T>,
    x: ArrayView2<'d, T>,
    y: Target<'d, T>,
    cfg: &FitConfig,
) -> Result<History> {
    fit(net, x, y, None, None, cfg, &mut NoMonitor)
}
use ndarray::array;

fn xor() -> (Network<f64>, Array2<f64>, Array2<f64>) {
    let config = NetworkConfig::new(
        vec![2, 8, 1],
        vec![Activation::Tanh, Activation::Sigmoid],
        Loss::BinaryCrossEntropy,
    );
    let x = array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    let y = array![[0.0], [1.0], [1.0], [0.0]];
    (Network::new(&config, 1).unwrap(), x, y)
}

#[test]
fn full_batch_sgd_is_the_step_api_repeated() {
    let (mut a, x, y) = xor();
    let mut b = a.clone();
    let config = FitConfig {
        epochs: 5,
        learning_rate: 0.5,
        ..FitConfig::default()
    };
    let history = train(&mut a, x.view(), Target::Dense(y.view()), &config).unwrap();
    assert_eq!(history.loss.len(), 5);
    for &epoch_loss in &history.loss {
        let loss = b.loss(x.view(), Target::Dense(y.view())).unwrap();
        assert_eq!(epoch_loss, loss);
        b.forward(x.view()).unwrap();
        b.backward(Target::Dense(y.view())).unwrap();
        b.update(0.5).unwrap();
    }
    assert_eq!(a.get_weights(), b.get_weights());
}

/// With dropout a full-batch epoch of SGD is the step API's training pass (the masks of
/// `MaskKey { seed, first: 0 }`), to rounding, for a small network (the feature-major
/// engine) and for batches split in halves (whose second half draws the masks of its own
/// rows); bit for bit for the row-major passes.
#[test]
fn a_dropout_epoch_is_the_step_api_with_the_same_masks() {
    let small = NetworkConfig::new(
        vec![2, 8, 5, 1],
        vec![Activation::Tanh, Activation::Relu, Activation::Sigmoid],
        Loss::BinaryCrossEntropy,
    )
    .with_dropout(vec![0.5, 0.25]);
    let large = NetworkConfig::new(
        vec![300, 256, 3],
        vec![Activation::Sigmoid, Activation::Softmax],
        Loss::CrossEntropy,
    )
    .with_dropout(vec![0.4]);
    let n = 63;
    let x = Array2::from_shape_fn((n, 300), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
    let y_small = Array2::from_shape_fn((n, 1), |(i, _)| (i % 2) as f64);
    let y_large = Array2::from_shape_fn((n, 3), |(i, j)| (i % 3 == j) as u8 as f64);
    let middle = NetworkConfig::new(
        vec![20, 40, 3],
        vec![Activation::LeakyRelu, Activation::Softmax],
        Loss::CrossEntropy,
    )
    .with_dropout(vec![0.6]);
    for (config, x, y, exact) in [
        (small, x.slice(s![.., ..2]), y_small.view(), false),
        (middle, x.slice(s![.., ..20]), y_large.view(), true),
        (large, x.view(), y_large.view(), false),
    ] {
        let mut a = Network::<f64>::new(&config, 4).unwrap();
        let fm = feature_major::eligible(a.layers());
        assert!(exact == (!fm && !splits(a.layers(), n)));
        let mut b = a.clone();
        let mut plain = a.clone_params().unwrap();
        let cfg = FitConfig {
            epochs: 1,
            learning_rate: 0.1,
            seed: 7,
            ..FitConfig::default()
        };
        train(&mut a, x, Target::Dense(y), &cfg).unwrap();
        b.forward_train(x, 7).unwrap();
        assert!(b.cache()[0].mask.iter().any(|&m| m == 0.0));
        b.backward(Target::Dense(y)).unwrap();
        b.update(0.1).unwrap();
        plain.forward(x).unwrap();
        plain.backward(Target::Dense(y)).unwrap();
        plain.update(0.1).unwrap();
        let (wa, wb) = (a.get_weights().unwrap(), b.get_weights().unwrap());
        assert_ne!(wa, plain.get_weights().unwrap());
        if exact {
            assert_eq!(wa, wb);
            continue;
        }
        for ((wa, ba), (wb, bb)) in wa.iter().zip(&wb) {
            let close = |(&p, &q): (&f64, &f64)| (p - q).abs() <= 1e-12 * (1.0 + q.abs());
            assert!(wa.iter().chain(ba).zip(wb.iter().chain(bb)).all(close));
        }
    }
}

/// Batches split in halves (large layers) give the step API's losses and weights, to
/// rounding: the halves' gradients are averaged rather than summed over the batch at
/// once. With sample weights and an odd batch too.
#[test]
fn halved_batches_are_the_step_api_repeated() {
    let config = NetworkConfig::new(
        vec![300, 256, 3],
        vec![Activation::Relu, Activation::Softmax],
        Loss::CrossEntropy,
    );
    let n = 63;
    let x = Array2::from_shape_fn((n, 300), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
    let y = Array2::from_shape_fn((n, 3), |(i, j)| (i % 3 == j) as u8 as f64);
    let w = Array1::from_shape_fn(n, |i| 0.5 + (i % 4) as f64);
    let mut a = Network::<f64>::new(&config, 4).unwrap();
    assert!(splits(a.layers(), n) && !feature_major::eligible(a.layers()));
    let mut b = a.clone();
    let cfg = FitConfig {
        epochs: 3,
        learning_rate: 0.1,
        ..FitConfig::default()
    };
    let target = Target::Dense(y.view());
    let history = fit(
        &mut a,
        x.view(),
        target,
        Some(w.view()),
        None,
        &cfg,
        &mut NoMonitor,
    );
    let close = |p: f64, q: f64| (p - q).abs() <= 1e-12 * (1.0 + q.abs());
    for &epoch_loss in &history.unwrap().loss {
        let got = b
            .loss_and_gradient(x.view(), target, Some(w.view()), 0.0)
            .unwrap();
        assert!(
            close(epoch_loss, got.data_loss),
            "{epoch_loss} {}",
            got.data_loss
        );
        for (l, g) in b.layers_mut().iter_mut().zip(&got.gradients) {
            l.w.scaled_add(-0.1, &g.dw);
            l.b.scaled_add(-0.1, &g.db);
        }
    }
    for ((wa, ba), (wb, bb)) in a
        .get_weights()
        .unwrap()
        .iter()
        .zip(&b.get_weights().unwrap())
    {
        assert!(wa
            .iter()
            .chain(ba)
            .zip(wb.iter().chain(bb))
            .all(|(&p, &q)| close(p, q)));
    }
}

#[test]
fn adam_learns_xor_and_same_seed_is_bit_identical() {
    let run = |seed| {
        let (mut net, x, y) = xor();
        let config = FitConfig {
            epochs: 300,
            learning_rate: 0.05,
            batch_size: Some(2),
            seed,
            optimizer: OptimizerConfig::adam(),
            ..FitConfig::default()
        };
        let h = train(&mut net, x.view(), Target::Dense(y.view()), &config).unwrap();
        (h, net.get_weights())
    };
    let (h1, w1) = run(4);
    let (h2, w2) = run(4);
    let (_, w3) = run(5);
    assert_eq!((h1.clone(), w1.clone()), (h2, w2));
    assert_ne!(w1, w3);
    assert!(h1.loss[299] < 0.05, "{}", h1.loss[299]);
}

/// Step size 10 on single rows: `diverging`'s fit diverges with it.
fn diverging_config() -> FitConfig {
    FitConfig {
        epochs: 1000,
        learning_rate: 10.0,
        batch_size: Some(1),
        ..FitConfig::default()
    }
}

/// An identity network whose fit at step size 10 on rows of size 1e3 diverges.
fn diverging() -> (Network<f64>, Array2<f64>, Array2<f64>) {
    let config = NetworkConfig::new(
        vec![1, 4, 1],
        vec![Activation::Identity, Activation::Identity],
        Loss::MeanSquaredError,
    );
    let net = Network::<f64>::new(&config, 0).unwrap();
    (
        net,
        array![[1e3], [-2e3], [3e3]],
        array![[1.0], [2.0], [3.0]],
    )
}

#[test]
fn divergence_stops_with_the_epoch_start_weights() {
    let (mut net, x, y) = diverging();
    let cfg = diverging_config();
    let err = train(&mut net, x.view(), Target::Dense(y.view()), &cfg).unwrap_err();
    assert!(matches!(err, Error::NonFinite(_)), "{err}");
    assert!(err.to_string().contains("restored"), "{err}");
    let finite = |l: &crate::Dense<f64>| l.w.iter().chain(&l.b).all(|v| v.is_finite());
    assert!(net.layers().iter().all(finite));
}

#[test]
fn recorded_divergence_runs_on_with_nan_epochs_and_the_epoch_start_weights() {
    let (mut net, x, y) = diverging();
    let cfg = FitConfig {
        epochs: 50,
        numpy_stream: Some(Mt19937::seeded(4)),
        divergence: Divergence::Record,
        ..diverging_config()
    };
    let history = train(&mut net, x.view(), Target::Dense(y.view()), &cfg).unwrap();
    let k = history.diverged.expect("diverged");
    assert_eq!(history.loss.len(), 50);
    assert!(history.loss[..k - 1].iter().all(|l| l.is_finite()));
    assert!(history.loss[k - 1..].iter().all(|l| l.is_nan()));
    assert_eq!(history.progress.samples_seen, 150);
    let finite = |l: &crate::Dense<f64>| l.w.iter().chain(&l.b).all(|v| v.is_finite());
    assert!(net.layers().iter().all(finite));
    // Every epoch drew its shuffle, the recorded ones too.
    let mut expected = Mt19937::seeded(4);
    let mut order = vec![0, 1, 2];
    (0..50).for_each(|_| expected.shuffle(&mut order));
    assert_eq!(history.numpy_stream, Some(expected));
}

#[test]
fn numpy_stream_shuffles_like_random_state_shuffle_of_the_order() {
    // Batches of one row, plain SGD: the rows each epoch visits are the stream's order,
    // which is the previous epoch's order shuffled again (as scikit-learn's indices are).
    let (mut a, x, y) = xor();
    let mut b = a.clone();
    let cfg = FitConfig {
        epochs: 3,
        learning_rate: 0.5,
        batch_size: Some(1),
        numpy_stream: Some(Mt19937::seeded(9)),
        ..FitConfig::default()
    };
    train(&mut a, x.view(), Target::Dense(y.view()), &cfg).unwrap();
    let (mut mt, mut order) = (Mt19937::seeded(9), vec![0, 1, 2, 3]);
    for _ in 0..3 {
        mt.shuffle(&mut order);
        for &i in &order {
            let (xi, yi) = (x.slice(s![i..i + 1, ..]), y.slice(s![i..i + 1, ..]));
            b.forward(xi).unwrap();
            b.backward(Target::Dense(yi)).unwrap();
            b.update(0.5).unwrap();
        }
    }
    assert_eq!(a.get_weights(), b.get_weights());
}

#[test]
fn a_monitor_can_stop_training() {
    struct StopAt(usize);
    impl Monitor<f64> for StopAt {
        fn epoch_end(&mut self, report: &EpochReport, _: &Network<f64>) -> Result<EpochControl> {
            Ok(if report.epoch == self.0 {
                EpochControl::Stop
            } else {
                EpochControl::Continue
            })
        }
    }
    let (mut net, x, y) = xor();
    let labels_net = fit(
        &mut net,
        x.view(),
        Target::Dense(y.view()),
        None,
        None,
        &FitConfig::default(),
        &mut StopAt(3),
    );
    let h = labels_net.unwrap();
    assert_eq!((h.loss.len(), h.stopped), (3, Stop::Callback));
}

#[test]
fn shuffled_minibatches_of_labels() {
    let config = NetworkConfig::new(
        vec![2, 8, 2],
        vec![Activation::Relu, Activation::Softmax],
        Loss::CrossEntropy,
    );
    let mut net = Network::<f32>::new(&config, 0).unwrap();
    let x = array![
        [0.0f32, 0.0],
        [0.0, 1.0],
        [1.0, 0.0],
        [1.0, 1.0],
        [0.9, 0.1]
    ];
    let labels = array![0usize, 1, 1, 0, 1];
    let cfg = FitConfig {
        epochs: 400,
        learning_rate: 0.05,
        batch_size: Some(2),
        optimizer: OptimizerConfig::adam(),
        ..FitConfig::default()
    };
    let h = train(&mut net, x.view(), Target::Labels(labels.view()), &cfg).unwrap();
    assert!(h.loss[399] < 0.1 * h.loss[0], "{h:?}");
    let bad = array![0usize, 1, 2, 0, 1];
    let err = train(&mut net, x.view(), Target::Labels(bad.view()), &cfg);
    assert!(err.unwrap_err().to_string().contains("out of range"));
}

fn regression() -> (Network<f64>, Array2<f64>, Array2<f64>) {
    let config = NetworkConfig::new(
        vec![2, 6, 1],
        vec![Activation::Tanh, Activation::Identity],
        Loss::MeanSquaredError,
    );
    let x = Array2::from_shape_fn((40, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
    let y = Array2::from_shape_fn((40, 1), |(i, _)| (x[[i, 0]] * 2.0 - x[[i, 1]]).sin());
    (Network::new(&config, 2).unwrap(), x, y)
}

#[test]
fn invscaling_follows_the_samples_seen() {
    let (mut net, x, y) = regression();
    let cfg = FitConfig {
        epochs: 4,
        learning_rate: 0.1,
        schedule: Schedule::InvScaling { power_t: 0.5 },
        ..FitConfig::default()
    };
    let h = train(&mut net, x.view(), Target::Dense(y.view()), &cfg).unwrap();
    let want: Vec<f64> = (0..4)
        .map(|e| {
            if e == 0 {
                0.1
            } else {
                0.1 / ((40 * e) as f64 + 1.0).sqrt()
            }
        })
        .collect();
    assert_eq!(h.learning_rate, want);
    assert_eq!(h.progress.samples_seen, 160);
}

#[test]
fn no_improvement_stops_and_adaptive_divides_by_five() {
    let (net, x, y) = regression();
    // A tolerance no epoch can beat: every epoch after the first counts as no change.
    let stopping = Stopping {
        n_iter_no_change: Some(2),
        tol: 1e9,
        early_stopping: false,
    };
    let cfg = FitConfig {
        epochs: 50,
        learning_rate: 0.01,
        stopping,
        ..FitConfig::default()
    };
    let h = train(&mut net.clone(), x.view(), Target::Dense(y.view()), &cfg).unwrap();
    assert_eq!((h.loss.len(), h.stopped), (4, Stop::NoImprovement));
    let cfg = FitConfig {
        schedule: Schedule::Adaptive,
        epochs: 100,
        ..cfg
    };
    let h = train(&mut net.clone(), x.view(), Target::Dense(y.view()), &cfg).unwrap();
    assert_eq!(h.stopped, Stop::LearningRate);
    assert_eq!(
        &h.learning_rate[..6],
        &[0.01, 0.01, 0.01, 0.01, 0.002, 0.002]
    );
    assert!(*h.learning_rate.last().unwrap() <= 1e-6);
}

#[test]
fn early_stopping_restores_the_best_validation_weights() {
    let (mut net, x, y) = regression();
    let (xv, yv) = (x.slice(s![30.., ..]), y.slice(s![30.., ..]));
    let validation = Validation {
        x: xv,
        y: Target::Dense(yv),
        metric: Metric::R2,
        sample_weight: None,
        best: None,
    };
    let stopping = Stopping {
        n_iter_no_change: Some(3),
        tol: 0.0,
        early_stopping: true,
    };
    // A step size large enough to make the validation score wander.
    let cfg = FitConfig {
        epochs: 60,
        learning_rate: 0.5,
        batch_size: Some(4),
        stopping,
        ..FitConfig::default()
    };
    let h = fit(
        &mut net,
        x.slice(s![..30, ..]),
        Target::Dense(y.slice(s![..30, ..])),
        None,
        Some(validation),
        &cfg,
        &mut NoMonitor,
    )
    .unwrap();
    let best = h.best_val_score.unwrap();
    assert_eq!(
        best,
        h.val_score
            .iter()
            .cloned()
            .fold(f64::NEG_INFINITY, f64::max)
    );
    let output = Activation::Identity;
    let now = stopping::score(
        Metric::R2,
        Loss::MeanSquaredError,
        output,
        net.predict(xv).unwrap().view(),
        Target::Dense(yv),
        None,
    )
    .unwrap();
    assert_eq!(now, best);
    assert!(matches!(
        train(&mut net, x.view(), Target::Dense(y.view()), &cfg),
        Err(Error::Value {
            arg: "early_stopping",
            ..
        })
    ));
}

/// A fit resumed from another's `History::progress` (and the network's kept optimizer)
/// takes the steps and decisions of one fit that never stopped: losses, step sizes,
/// samples seen and weights, for every schedule (with and without warm-up) and optimizer.
#[test]
fn resuming_is_not_stopping() {
    let mut resumed = Vec::new();
    let sgd = crate::OptimizerConfig::Sgd {
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    };
    let adamw = crate::OptimizerConfig::adamw(0.1);
    for (schedule, warmup, optimizer) in [
        (Schedule::Constant, 0, sgd),
        (Schedule::InvScaling { power_t: 0.5 }, 0, sgd),
        (Schedule::Adaptive, 0, sgd),
        (Schedule::Constant, 2, adamw),
        (Schedule::Cosine { t_max: Some(6) }, 3, sgd),
        (Schedule::Cosine { t_max: Some(4) }, 0, adamw),
        (
            Schedule::Step {
                step_size: 2,
                gamma: 0.5,
            },
            1,
            sgd,
        ),
        (Schedule::OneCycle { t_max: Some(9) }, 0, adamw),
        (Schedule::OneCycle { t_max: Some(3) }, 2, sgd),
    ] {
        let config = |epochs, resume| FitConfig {
            epochs,
            learning_rate: 0.3,
            batch_size: Some(2),
            shuffle: false,
            optimizer,
            alpha: 1e-3,
            schedule,
            warmup,
            stopping: Stopping {
                n_iter_no_change: Some(1),
                tol: 1e-2,
                early_stopping: false,
            },
            resume,
            ..FitConfig::default()
        };
        let (mut whole, x, y) = xor();
        let mut parts = whole.clone();
        let all = train(
            &mut whole,
            x.view(),
            Target::Dense(y.view()),
            &config(9, None),
        )
        .unwrap();
        let first = train(
            &mut parts,
            x.view(),
            Target::Dense(y.view()),
            &config(4, None),
        )
        .unwrap();
        let k = first.loss.len();
        assert_eq!(first.loss, all.loss[..k], "{schedule:?}");
        assert_eq!(first.learning_rate, all.learning_rate[..k], "{schedule:?}");
        if all.loss.len() == k {
            continue; // stopped by the rule within the first part
        }
        let rest = config(9 - k, Some(first.progress));
        let second = train(&mut parts, x.view(), Target::Dense(y.view()), &rest).unwrap();
        assert_eq!(second.loss, all.loss[k..], "{schedule:?}");
        assert_eq!(second.learning_rate, all.learning_rate[k..], "{schedule:?}");
        assert_eq!(
            (second.progress, second.stopped),
            (all.progress, all.stopped)
        );
        assert_eq!(parts.get_weights().unwrap(), whole.get_weights().unwrap());
        if schedule == Schedule::Adaptive {
            let divided = |rates: &[f64]| rates.windows(2).any(|r| r[1] < r[0]);
            assert!(divided(&all.learning_rate), "{:?}", all.learning_rate);
        }
        resumed.push(schedule);
    }
    // The adaptive schedule divides its step size, and goes on: a resumed fit carries that.
    assert!(resumed.contains(&Schedule::Adaptive), "{resumed:?}");
}

/// With `Scales`, the rule judges `s · L + (g − s) · P` against `tol` and steps by `η · g`:
/// the same steps as ferroprop's units with `η · g` given, and a judged loss of `s · L`
/// when `g == s`.
#[test]
fn scales_judge_and_step_in_the_callers_units() {
    let (mut plain, x, y) = xor();
    let mut scaled = plain.clone();
    let base = FitConfig {
        epochs: 5,
        learning_rate: 0.5,
        alpha: 1e-2,
        ..FitConfig::default()
    };
    let h_plain = train(&mut plain, x.view(), Target::Dense(y.view()), &base).unwrap();
    let units = FitConfig {
        learning_rate: 0.25,
        scales: Scales {
            loss: 3.0,
            penalty: 3.0,
            step: 2.0,
        },
        ..base
    };
    let h_scaled = train(&mut scaled, x.view(), Target::Dense(y.view()), &units).unwrap();
    assert_eq!(h_plain.loss, h_scaled.loss);
    assert_eq!(plain.get_weights().unwrap(), scaled.get_weights().unwrap());
    let best = h_plain.loss.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(h_scaled.progress.best_loss, 3.0 * best);
}

/// A callable schedule asks the monitor for each epoch's step size before the epoch, with
/// the schedule's clock; a step size that is negative or not finite ends training with an
/// error naming `learning_rate`, after the epochs before it; without a monitor that gives
/// step sizes, the fit is refused before any update.
#[test]
fn a_callable_schedule_asks_the_monitor_before_each_epoch() {
    struct Rates {
        asked: Vec<u64>,
        third: f64,
    }
    impl<T> Monitor<T> for Rates {
        fn every_epoch(&self) -> bool {
            false // `drive` runs a callable schedule's epochs one at a time regardless
        }
        fn learning_rate(&mut self, epoch: u64) -> Result<f64> {
            self.asked.push(epoch);
            Ok(if epoch == 2 { self.third } else { 0.1 })
        }
    }
    let cfg = FitConfig {
        epochs: 4,
        schedule: Schedule::Callable,
        ..FitConfig::default()
    };
    let (mut net, x, y) = xor();
    let mut rates = Rates {
        asked: vec![],
        third: 0.3,
    };
    let y = Target::Dense(y.view());
    let h = fit(&mut net, x.view(), y, None, None, &cfg, &mut rates).unwrap();
    assert_eq!(rates.asked, [0, 1, 2, 3]);
    assert_eq!(h.learning_rate, [0.1, 0.1, 0.3, 0.1]);
    assert_eq!(h.progress.epochs, 4);
    for bad in [f64::NAN, -1.0, f64::INFINITY] {
        let mut net = xor().0;
        let mut rates = Rates {
            asked: vec![],
            third: bad,
        };
        let err = fit(&mut net, x.view(), y, None, None, &cfg, &mut rates).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Value {
                    arg: "learning_rate",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(rates.asked, [0, 1, 2]);
    }
    let mut net = xor().0;
    let before = net.get_weights().unwrap();
    let err = train(&mut net, x.view(), y, &cfg).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Value {
                arg: "schedule",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(net.get_weights().unwrap(), before);
}

/// A monitor that, like `PyMonitor`, keeps the weights each run of epochs starts from:
/// its `shown` copy is the network's at the start, then what every `epoch_end` shows it.
struct Keeper {
    shown: Network<f64>,
    restored: usize,
}

impl Monitor<f64> for Keeper {
    fn epoch_end(&mut self, _report: &EpochReport, net: &Network<f64>) -> Result<EpochControl> {
        self.shown.assign_weights(net);
        Ok(EpochControl::Continue)
    }
    fn keeps_run_start(&self) -> bool {
        true
    }
    fn restore_run_start(&mut self, net: &mut Network<f64>) {
        self.restored += 1;
        net.assign_weights(&self.shown);
    }
}

fn keeper(net: &Network<f64>) -> Keeper {
    Keeper {
        shown: net.clone_params().unwrap(),
        restored: 0,
    }
}

/// The monitor put its weights back once, and the network has them (finite ones).
fn restored_once_as_shown(net: &Network<f64>, monitor: &Keeper) {
    assert_eq!(monitor.restored, 1);
    assert_eq!(
        net.get_weights().unwrap(),
        monitor.shown.get_weights().unwrap()
    );
    let finite = |l: &crate::Dense<f64>| l.w.iter().chain(&l.b).all(|v| v.is_finite());
    assert!(net.layers().iter().all(finite));
}

/// With a monitor that keeps the weights each run starts from (every run is one epoch:
/// `Keeper` sees every epoch), a fit holds no copy of an epoch's start weights, and the
/// monitor puts them back when an epoch diverges; without one, the fit keeps the copy.
#[test]
fn a_monitor_that_keeps_the_run_start_spares_the_copy_and_restores_it() {
    let (mut net, x, y) = xor();
    let cfg = FitConfig {
        epochs: 3,
        learning_rate: 0.5,
        batch_size: Some(2),
        ..FitConfig::default()
    };
    let params: usize = net.layers().iter().map(|l| l.w.len() + l.b.len()).sum();
    let data = || (x.view(), Target::Dense(y.view()), None, None);
    let mut kept = None;
    fit_reusing(
        &mut net.clone_params().unwrap(),
        data(),
        &cfg,
        &mut NoMonitor,
        &mut kept,
    )
    .unwrap();
    let with_copy = kept.take().expect("buffers").bytes();
    let mut monitor = keeper(&net);
    fit_reusing(&mut net, data(), &cfg, &mut monitor, &mut kept).unwrap();
    let without = kept.take().expect("buffers").bytes();
    assert_eq!(with_copy - without, params * std::mem::size_of::<f64>());
    assert_eq!(monitor.restored, 0);

    // Raised: the error leaves the weights the diverging epoch started from.
    let (mut net, x, y) = diverging();
    let cfg = diverging_config();
    let mut monitor = keeper(&net);
    let y = Target::Dense(y.view());
    let err = fit(&mut net, x.view(), y, None, None, &cfg, &mut monitor).unwrap_err();
    assert!(err.to_string().contains("restored"), "{err}");
    restored_once_as_shown(&net, &monitor);

    // Recorded: the epochs after it are NaN, and the weights are the same.
    let (mut net, x, y) = diverging();
    let cfg = FitConfig {
        divergence: Divergence::Record,
        epochs: 50,
        ..cfg
    };
    let mut monitor = keeper(&net);
    let y = Target::Dense(y.view());
    let history = fit(&mut net, x.view(), y, None, None, &cfg, &mut monitor).unwrap();
    assert!(history.diverged.is_some());
    restored_once_as_shown(&net, &monitor);
}
