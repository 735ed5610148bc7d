//! The training loop: epochs of (optionally shuffled) minibatches, each a forward pass, a
//! backward pass and an optimizer step, all in one call.
//!
//! ```text
//! for epoch in 1..=epochs:
//!     order = shuffle(0..n) if shuffle else 0..n        (one seeded stream per fit)
//!     for batch in chunks(order, batch_size):
//!         ŷ = forward(X[batch]);  loss_b = L(ŷ, y[batch])
//!         backward(y[batch]);  optimizer.step(η)
//!     history[epoch] = Σ_b loss_b · |b| / n
//! ```
//!
//! Buffers (layer caches, the gathered batch, a weight snapshot) are allocated once per
//! fit; the steady state allocates nothing. The loss of each batch is checked: if it is not
//! finite, the weights of the start of the epoch are restored and training stops with an
//! error.

mod batches;
mod engine;
mod feature_major;
mod mt19937;
pub mod schedule;
pub mod stopping;
mod trainer;

use crate::{
    check, Error, Float, Gradient, LayerCache, Network, Optimizer, OptimizerConfig, Result, Target,
};
pub use engine::uses_threads;
use engine::Engine;
pub use mt19937::Mt19937;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
pub use stopping::{Metric, Progress, Scales, Schedule, Stop, Stopping};
use trainer::{Data, Trainer};

/// What `fit` does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitConfig {
    pub epochs: usize,
    pub learning_rate: f64,
    /// Rows per minibatch; `None` for the full batch. Larger than `n` means `n`.
    pub batch_size: Option<usize>,
    /// Shuffle the rows at the start of each epoch (minibatches only).
    pub shuffle: bool,
    /// Seed of the shuffling stream.
    pub seed: u64,
    /// With `Some`, the rows are shuffled by NumPy's legacy stream from this state instead
    /// of from `seed`: one `RandomState.shuffle` of the row order per epoch, even for a
    /// full batch, the order scikit-learn's MLPs draw. `History::numpy_stream` is where
    /// the stream ends.
    pub numpy_stream: Option<Mt19937>,
    /// What a non-finite loss or weight does.
    pub divergence: Divergence,
    pub optimizer: OptimizerConfig,
    /// L2 penalty: each batch's loss gains `α/2 · Σ‖W‖² / Σw` (biases are not penalized),
    /// with `Σw` the batch's total sample weight (its row count without weights).
    pub alpha: f64,
    /// How the step size evolves (any optimizer).
    pub schedule: Schedule,
    /// Epochs of linear warm-up in front of the schedule (`schedule.rs`).
    pub warmup: usize,
    /// When to stop before `epochs`.
    pub stopping: Stopping,
    /// The units of the stopping rule and of the steps (all 1: ferroprop's).
    pub scales: Scales,
    /// Where to continue from (`History::progress` of an earlier fit); `None` starts
    /// afresh at `learning_rate`. `learning_rate` stays the schedule's `η₀`.
    pub resume: Option<Progress>,
}

/// Data held out to score the network after each epoch.
#[derive(Debug, Clone, Copy)]
pub struct Validation<'a, T> {
    pub x: ArrayView2<'a, T>,
    pub y: Target<'a, T>,
    pub metric: Metric,
    /// Each row's weight in the score (and the validation loss).
    pub sample_weight: Option<ArrayView1<'a, T>>,
    /// With early stopping and `FitConfig::resume`: the weights that scored
    /// `Progress::best_score`, restored at the end if no epoch beats it (the network's own
    /// weights when `None`).
    pub best: Option<&'a [(Array2<T>, Array1<T>)]>,
}

/// What a fit did, epoch by epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Mean training loss of each epoch (penalty included).
    pub loss: Vec<f64>,
    /// Loss and score on the validation data after each epoch (empty without it).
    pub val_loss: Vec<f64>,
    pub val_score: Vec<f64>,
    /// The step size used in each epoch.
    pub learning_rate: Vec<f64>,
    /// The best validation score (`None` without validation data).
    pub best_val_score: Option<f64>,
    pub stopped: Stop,
    /// The epoch (1-based) whose loss or weights became non-finite, with
    /// `Divergence::Record`.
    pub diverged: Option<usize>,
    /// The state of `FitConfig::numpy_stream` at the end.
    pub numpy_stream: Option<Mt19937>,
    /// Where training stands at the end: the samples seen (those of a resumed fit
    /// included), the best judged loss and score, the count and the step size; a later fit
    /// continues from it (`FitConfig::resume`).
    pub progress: Progress,
}

/// What a fit does when a batch's loss or the weights become non-finite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Divergence {
    /// Stop with `Error::NonFinite`, the weights of the start of that epoch restored.
    Raise,
    /// As scikit-learn's estimators, which train on with NaN weights: keep the weights of
    /// the start of that epoch, record a NaN loss and score for it and for every later
    /// epoch up to `epochs` (judged by the rule, their shuffles drawn, nothing computed)
    /// and end normally; `History::diverged` says which epoch diverged.
    Record,
}

/// One epoch, as `Monitor::epoch_end` sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    /// Epochs run in this fit, this one included.
    pub epoch: usize,
    /// Its mean training loss (as `History::loss`), and that loss as the stopping rule
    /// judged it (see `Scales`).
    pub loss: f64,
    pub judged_loss: f64,
    /// Its validation loss and score, if there is validation data.
    pub val_loss: Option<f64>,
    pub val_score: Option<f64>,
    /// The step size it used (its first batch's, for a schedule stepped per batch), as
    /// `History::learning_rate` records it.
    pub learning_rate: f64,
    /// The rule's verdict after it: training stops (`NoImprovement`, `LearningRate`), or
    /// the adaptive schedule divided the step size by 5.
    pub stop: Option<Stop>,
    pub divided: bool,
    /// Where training stands after it.
    pub progress: Progress,
    /// Whether training ends with it.
    pub last: bool,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 100,
            learning_rate: 0.01,
            batch_size: None,
            shuffle: true,
            seed: 0,
            numpy_stream: None,
            divergence: Divergence::Raise,
            optimizer: OptimizerConfig::default(),
            alpha: 0.0,
            schedule: Schedule::Constant,
            warmup: 0,
            stopping: Stopping::default(),
            scales: Scales::default(),
            resume: None,
        }
    }
}

impl FitConfig {
    /// Refuses settings outside their domain, by the rules of `check.rs`: `epochs`,
    /// `batch_size` and `n_iter_no_change` at least 1; `learning_rate` positive, `alpha` and
    /// `tol` non-negative, all finite; `power_t` and the settings of PyTorch's schedules as
    /// `check_power_t` and `check_schedule` say; the optimizer's settings as
    /// `OptimizerConfig::validate` says. A caller that takes the settings of every optimizer
    /// and schedule (the Python API) checks those `self` does not carry with the same
    /// functions.
    pub fn validate(&self) -> Result<()> {
        check::count("epochs", self.epochs as i128)?;
        crate::nn::network::check_learning_rate(self.learning_rate)?;
        if let Some(batch_size) = self.batch_size {
            check::count("batch_size", batch_size as i128)?;
        }
        check::non_negative("alpha", self.alpha)?;
        if let Schedule::InvScaling { power_t } = self.schedule {
            check_power_t(power_t)?;
        }
        check_schedule(self.schedule, self.warmup)?;
        check::non_negative("tol", self.stopping.tol)?;
        if let Some(n) = self.stopping.n_iter_no_change {
            check::count("n_iter_no_change", n as i128)?;
        }
        let Scales {
            loss,
            penalty,
            step,
        } = self.scales;
        crate::check::positive("scales loss", loss)?;
        crate::check::positive("scales penalty", penalty)?;
        crate::check::positive("scales step", step)?;
        if let Some(progress) = self.resume {
            crate::check::positive("resume learning_rate", progress.learning_rate)?;
            if progress.best_loss.is_nan() || progress.best_score.is_nan() {
                return Err(Error::value(
                    "resume",
                    "best loss and score must not be NaN",
                ));
            }
        }
        self.optimizer.validate()
    }
}

/// The rule of `Schedule::InvScaling`'s exponent: non-negative and finite.
pub fn check_power_t(power_t: f64) -> Result<()> {
    check::non_negative("power_t", power_t).map(drop)
}

/// The rules of the settings of PyTorch's schedules (`schedule.rs`): `t_max` and
/// `step_size` at least 1, `gamma` positive and finite; no warm-up before a callable one
/// (the callable says every epoch's step size).
pub fn check_schedule(schedule: Schedule, warmup: usize) -> Result<()> {
    match schedule {
        Schedule::Cosine { t_max: Some(t) } | Schedule::OneCycle { t_max: Some(t) } => {
            check::count("t_max", t as i128).map(drop)
        }
        Schedule::Step { step_size, gamma } => {
            check::count("step_size", step_size as i128)?;
            check_gamma(gamma)
        }
        Schedule::Callable if warmup > 0 => Err(Error::value(
            "warmup",
            format!(
                "must be 0 with a callable learning_rate (the callable gives every epoch's \
                 step size: write the warm-up into it), got {warmup}"
            ),
        )),
        _ => Ok(()),
    }
}

/// The rule of `Schedule::Step`'s factor: positive and finite.
pub fn check_gamma(gamma: f64) -> Result<()> {
    check::positive("gamma", gamma).map(drop)
}

/// A callable schedule's step size for epoch `epoch`: finite and non-negative.
fn check_rate(rate: f64, epoch: u64) -> Result<f64> {
    match rate.is_finite() && rate >= 0.0 {
        true => Ok(rate),
        false => Err(Error::value(
            "learning_rate",
            format!(
                "(a callable) must return a finite, non-negative step size, got {} for epoch \
                 {epoch}",
                check::show(rate)
            ),
        )),
    }
}

/// What the caller says after each epoch (and between batches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochControl {
    Continue,
    Stop,
}

/// Hooks the loop calls, always on the thread that called `fit` (never on a pool thread, so
/// a hook may block: take a lock, wait for an interpreter). An error from any of them ends
/// training with the weights of the last full step.
pub trait Monitor<T> {
    /// Between batches, when the loop runs on the calling thread (small networks).
    fn between_batches(&mut self) -> Result<()> {
        Ok(())
    }
    /// Every `PUBLISH_EVERY` while the loop runs on the pool; `Stop` ends training at the
    /// next batch with `Error::Interrupted`.
    fn poll(&mut self) -> EpochControl {
        EpochControl::Continue
    }
    /// After an epoch with its report and the network as it stands: after every epoch if
    /// `every_epoch`, otherwise after the last epoch of each run of epochs (at least every
    /// `PUBLISH_EVERY`) and after the last one.
    fn epoch_end(&mut self, _report: &EpochReport, _net: &Network<T>) -> Result<EpochControl> {
        Ok(EpochControl::Continue)
    }
    fn every_epoch(&self) -> bool {
        true
    }
    /// The validation score of the predictions `yhat` on the validation data, for
    /// `Metric::External` (greater is better). Called after
    /// each epoch, before its stopping rule and `epoch_end`; never called if a prediction is
    /// not finite (the score is then NaN, as the built-in metrics' is).
    fn score(&mut self, _yhat: ArrayView2<T>) -> Result<f64> {
        Err(Error::value(
            "validation_metric",
            "an external metric needs a monitor that computes it",
        ))
    }
    /// The step size of epoch `epoch` (the schedule's clock, 0-based: `Progress::epochs`) of
    /// a `Schedule::Callable` fit, asked before the epoch starts, in the schedule's units;
    /// it must be finite and non-negative.
    fn learning_rate(&mut self, _epoch: u64) -> Result<f64> {
        Err(Error::value(
            "schedule",
            "Callable needs a monitor that gives each epoch's step size",
        ))
    }
    /// Whether the monitor keeps the weights the network has at the start of each run of
    /// epochs (those it had when the fit began, then those `epoch_end` last showed it) and
    /// can put them back (`restore_run_start`). The trainer then keeps no copy of them for
    /// the first epoch of a run: a fit whose runs are one epoch each holds one copy of the
    /// weights fewer.
    fn keeps_run_start(&self) -> bool {
        false
    }
    /// Puts the weights of the start of the run that just ended back into `net`: its first
    /// epoch diverged (only asked if `keeps_run_start`). Called on the calling thread,
    /// before `epoch_end` and before the fit returns an error.
    fn restore_run_start(&mut self, _net: &mut Network<T>) {}
}

/// How long the loop runs on the pool before the monitor sees it again (when the monitor
/// does not need every epoch).
pub const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// A monitor that lets training run to the end.
pub struct NoMonitor;
impl<T> Monitor<T> for NoMonitor {
    fn every_epoch(&self) -> bool {
        false
    }
}

/// Trains `net` on `(x, y)`; returns the mean training loss of each epoch (each batch's loss
/// measured in its forward pass, before its update, penalty included; batches weighted by
/// their row counts). The optimizer's state is kept in the network: a later `fit` with the
/// same optimizer settings continues from it.
///
/// With `sample_weight`, each batch's loss is the `w`-weighted mean of its rows' losses, and
/// its gradient that of this weighted mean: a weight of 2 counts a row twice. A batch whose
/// weights are all zero is skipped.
///
/// When some product is large enough for several threads (`uses_threads`), epochs run as
/// tasks of ferroprop's pool (so that the loop's thread is one of the products' threads),
/// and the calling thread waits, calling the monitor between them (see `Monitor`).
pub fn fit<'d, T: Float>(
    net: &mut Network<T>,
    x: ArrayView2<'d, T>,
    y: Target<'d, T>,
    sample_weight: Option<ArrayView1<'d, T>>,
    validation: Option<Validation<'d, T>>,
    config: &FitConfig,
    monitor: &mut dyn Monitor<T>,
) -> Result<History> {
    let data = (x, y, sample_weight, validation);
    fit_reusing(net, data, config, monitor, &mut None)
}

/// A fit's data: `x`, `y`, the sample weights and the validation data.
pub type FitData<'d, T> = (
    ArrayView2<'d, T>,
    Target<'d, T>,
    Option<ArrayView1<'d, T>>,
    Option<Validation<'d, T>>,
);

/// The buffers a fit allocates for its batches (the engine's, the row-major passes' caches
/// with their gradients, the weights of the start of an epoch if it needed them).
/// `fit_reusing` hands them back, and the next fit of the same network with the same batch
/// size takes them over instead of allocating, zeroing and faulting in its own: the cost a
/// `partial_fit` or a streaming loop pays on every call. Nothing in them carries over into
/// the results: a fit writes every value before reading it.
pub struct FitBuffers<T> {
    batch: usize,
    shapes: Vec<(usize, usize)>,
    dropout: Vec<f64>,
    engine: Engine<T>,
    caches: Vec<LayerCache<T>>,
    snapshot: Vec<(Array2<T>, Array1<T>)>,
}

impl<T: Float> FitBuffers<T> {
    /// Their size in bytes.
    pub fn bytes(&self) -> usize {
        let item = std::mem::size_of::<T>();
        let engine = match &self.engine {
            Engine::FeatureMajor(ws, grads) => {
                ws.n_values() + grads.iter().map(Gradient::n_values).sum::<usize>()
            }
            Engine::Halves(caches) => caches.iter().map(LayerCache::n_values).sum(),
            Engine::RowMajor => 0,
        };
        let caches: usize = self.caches.iter().map(LayerCache::n_values).sum();
        let snapshot: usize = self.snapshot.iter().map(|(w, b)| w.len() + b.len()).sum();
        (engine + caches + snapshot) * item
    }

    /// Whether a fit of `net` by batches of `batch` rows can use them.
    fn fits(&self, net: &Network<T>, batch: usize) -> bool {
        self.batch == batch && self.dropout == net.dropout() && self.shapes == shapes(net)
    }
}

fn shapes<T: Float>(net: &Network<T>) -> Vec<(usize, usize)> {
    net.layers().iter().map(|l| l.w.dim()).collect()
}

/// `fit`, taking over the buffers of an earlier fit of the same network if they fit
/// (see `FitBuffers`), and leaving this fit's in `buffers` when it ends without an error.
pub fn fit_reusing<'d, T: Float>(
    net: &mut Network<T>,
    (x, y, sample_weight, validation): FitData<'d, T>,
    config: &FitConfig,
    monitor: &mut dyn Monitor<T>,
    buffers: &mut Option<FitBuffers<T>>,
) -> Result<History> {
    config.validate()?;
    net.check_input(&x)?;
    net.loss_fn().check_target(&y, x.nrows(), net.n_outputs())?;
    if let Some(w) = sample_weight {
        crate::nn::loss::check_sample_weight(w, x.nrows())?;
    }
    match validation {
        Some(v) => {
            net.check_input(&v.x)
                .map_err(|e| rename(e, "validation_data X"))?;
            net.loss_fn()
                .check_target(&v.y, v.x.nrows(), net.n_outputs())
                .map_err(|e| rename(e, "validation_data y"))?;
            if let Some(w) = v.sample_weight {
                crate::nn::loss::check_sample_weight(w, v.x.nrows())
                    .map_err(|e| rename(e, "validation sample_weight"))?;
            }
            if let Some(best) = v.best {
                let fits = best.len() == net.layers().len()
                    && best
                        .iter()
                        .zip(net.layers())
                        .all(|((w, b), l)| w.dim() == l.w.dim() && b.len() == l.b.len());
                if !fits {
                    return Err(Error::value(
                        "best weights",
                        "must have the shapes of the network's weights",
                    ));
                }
            }
        }
        None if config.stopping.early_stopping => {
            return Err(Error::value(
                "early_stopping",
                "needs validation data to judge by, got none",
            ))
        }
        None => {}
    }
    let threaded = uses_threads(net, x.nrows(), config);
    let mut optimizer = match net.optimizer.take() {
        Some(o) if o.config() == config.optimizer => o,
        _ => Optimizer::new(config.optimizer, net.layers())?,
    };
    let data = Data {
        x,
        y,
        sample_weight,
        validation,
    };
    // A threaded fit's new buffers are made on the pool, where its epochs use them (the
    // allocator's arena of the thread that first uses them); reused ones need no
    // allocation, and the pool is not woken for them.
    let batch = config.batch_size.unwrap_or(x.nrows()).min(x.nrows());
    let reuse = buffers.take().filter(|b| b.fits(net, batch));
    let fresh = reuse.is_none();
    let made = on_pool(threaded && fresh, || {
        Trainer::new(net, data, config, &mut optimizer, reuse)
    });
    let result = match made {
        Ok(mut trainer) => match drive(&mut trainer, threaded, monitor) {
            Ok(()) => {
                let (history, kept) = trainer.finish();
                *buffers = Some(kept);
                Ok(history)
            }
            Err(e) => {
                on_pool(threaded, || drop(trainer));
                Err(e)
            }
        },
        Err(e) => Err(e),
    };
    // Keep the optimizer's state for the next fit, unless training blew up.
    if !matches!(result, Err(Error::NonFinite(_))) {
        net.optimizer = Some(optimizer);
    }
    result
}

/// The same error, about another argument.
fn rename(err: Error, arg: &'static str) -> Error {
    match err {
        Error::Shape { expected, got, .. } => Error::Shape { arg, expected, got },
        Error::Value { msg, .. } => Error::Value { arg, msg },
        Error::Type { expected, got, .. } => Error::Type { arg, expected, got },
        other => other,
    }
}

/// `f()`, on the pool if `threaded`.
fn on_pool<R: Send>(threaded: bool, f: impl FnOnce() -> R + Send) -> R {
    match threaded {
        true => crate::pool::install(f),
        false => f(),
    }
}

/// Runs the trainer's epochs in runs (on the pool if `threaded`), calling the monitor on
/// this thread after each run.
fn drive<T: Float>(
    trainer: &mut Trainer<'_, '_, T>,
    threaded: bool,
    monitor: &mut dyn Monitor<T>,
) -> Result<()> {
    let callable = trainer.callable();
    // A callable schedule is asked before each epoch: runs of one epoch.
    let every_epoch = monitor.every_epoch() || callable;
    let stop = std::sync::atomic::AtomicBool::new(false);
    loop {
        if callable {
            let epoch = trainer.clock();
            let rate = check_rate(monitor.learning_rate(epoch)?, epoch)?;
            trainer.set_rate(rate);
        }
        trainer.begin_run(monitor.keeps_run_start());
        let started = std::time::Instant::now();
        let enough = || every_epoch || started.elapsed() >= PUBLISH_EVERY;
        let ran = match threaded {
            true => {
                let mut stopped = || match stop.load(std::sync::atomic::Ordering::Relaxed) {
                    true => Err(Error::Interrupted),
                    false => Ok(()),
                };
                let work = || trainer.epochs(&mut stopped, &enough);
                crate::pool::run_while(work, PUBLISH_EVERY, || {
                    if monitor.poll() == EpochControl::Stop {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                })
            }
            false => trainer.epochs(&mut || monitor.between_batches(), &enough),
        };
        if trainer.take_restore() {
            monitor.restore_run_start(trainer.net);
        }
        let mut finished = ran?;
        if let Some(yhat) = trainer.pending_output() {
            let score = match yhat.iter().all(|v| v.is_finite()) {
                true => monitor.score(yhat)?,
                false => f64::NAN,
            };
            finished = trainer.judge_pending(score);
        }
        let control = match trainer.report {
            Some(report) => {
                let report = EpochReport {
                    last: finished,
                    ..report
                };
                monitor.epoch_end(&report, trainer.net)?
            }
            None => EpochControl::Continue, // no epoch yet: `epochs` failed first
        };
        if !finished && control == EpochControl::Stop {
            trainer.history.stopped = Stop::Callback;
        }
        if finished || control == EpochControl::Stop {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests;
