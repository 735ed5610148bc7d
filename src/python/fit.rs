//! `CoreNetwork.fit`: its arguments, its monitor (signals, publishing, the callback) and
//! the call of `train::fit` with the GIL released.

use super::convert::{array2, weight_pairs, weights1, PyTarget};
use super::network::PyNetwork;
use super::rate::CallableRate;
use crate::io::StoredFloat;
use crate::train::fit_reusing;
use crate::train::stopping::{Metric, Progress, Scales, Schedule, Stopping};
use crate::train::{check_gamma, check_power_t, check_schedule};
use crate::train::{
    Divergence, EpochControl, EpochReport, Monitor, Mt19937, Validation, PUBLISH_EVERY,
};
use crate::{check, Error, FitConfig, Network, OptimizerConfig};
use numpy::Element;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The scalar and name arguments of `CoreNetwork.fit`, as Python gave them (integers of
/// any sign, names of any spelling: `config` checks them).
pub(super) struct Args<'a> {
    pub epochs: i128,
    pub learning_rate: f64,
    pub batch_size: Option<i128>,
    pub shuffle: bool,
    pub seed: i128,
    pub optimizer: &'a str,
    pub momentum: f64,
    pub nesterov: bool,
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
    pub alpha: f64,
    pub schedule: &'a str,
    pub power_t: f64,
    /// A metric's name, or `None` for a callable (`Metric::External`).
    pub validation_metric: Option<&'a str>,
    pub n_iter_no_change: Option<i128>,
    pub tol: f64,
    pub early_stopping: bool,
    /// `Scales` as `(loss, penalty, step)`.
    pub scales: (f64, f64, f64),
    /// `Progress` as `(count, best_loss, best_score, samples_seen, learning_rate)`, and
    /// optionally its `epochs`.
    pub resume: Option<Resume>,
    /// The weight decay of SGD and AdamW, and the settings of PyTorch's schedules.
    pub torch: TorchArgs,
    /// `FitConfig::numpy_stream`, checked by `Mt19937::from_state`.
    pub numpy_stream: Option<Mt19937>,
    /// `"raise"` or `"record"` (`Divergence`).
    pub divergence: &'a str,
}

/// `Progress` as `fit`'s `resume` takes it: `(count, best_loss, best_score, samples_seen,
/// learning_rate)`, and optionally the schedule's `epochs` (0 without).
#[derive(FromPyObject)]
pub(super) enum Resume {
    Clock((usize, f64, f64, u64, f64, u64)),
    Rule((usize, f64, f64, u64, f64)),
}

/// The arguments of `fit` that PyTorch's optimizers and schedules add: `weight_decay` (SGD,
/// AdamW), `warmup`, `t_max`, `step_size`, `gamma`, and whether `learning_rate` is a
/// callable (the schedule is then `Callable`).
pub(super) struct TorchArgs {
    pub weight_decay: f64,
    pub warmup: i128,
    pub t_max: Option<i128>,
    pub step_size: Option<i128>,
    pub gamma: f64,
    pub callable: bool,
}

/// The core's `FitConfig` and validation metric from `fit`'s arguments, every one checked by
/// the core's rules (`check.rs`), whatever the optimizer and schedule, as scikit-learn
/// checks all of its parameters: integers are converted by `check::count` and
/// `check::seed`, names by `check::pick`, and the settings the config does not carry (the
/// other optimizer's, `power_t` without `invscaling`) by the functions `FitConfig::validate`
/// uses for those it carries.
pub(super) fn config(args: Args<'_>) -> crate::Result<(FitConfig, Metric)> {
    let Args {
        epochs,
        learning_rate,
        batch_size,
        shuffle,
        seed,
        optimizer,
        momentum,
        nesterov,
        beta_1,
        beta_2,
        epsilon,
        alpha,
        schedule,
        power_t,
        validation_metric,
        n_iter_no_change,
        tol,
        early_stopping,
        scales: (loss, penalty, step),
        resume,
        torch,
        numpy_stream,
        divergence,
    } = args;
    let divergence = check::pick(
        "divergence",
        divergence,
        &[("raise", Divergence::Raise), ("record", Divergence::Record)],
    )?;
    let epochs = check::count("epochs", epochs)?;
    let batch_size = batch_size
        .map(|b| check::count("batch_size", b))
        .transpose()?;
    let seed = check::seed("seed", seed)?;
    let n_iter_no_change = n_iter_no_change
        .map(|n| check::count("n_iter_no_change", n))
        .transpose()?;
    let weight_decay = torch.weight_decay;
    let sgd = OptimizerConfig::Sgd {
        momentum,
        nesterov,
        weight_decay,
    };
    let adam = OptimizerConfig::Adam {
        beta_1,
        beta_2,
        epsilon,
    };
    let adamw = OptimizerConfig::AdamW {
        beta_1,
        beta_2,
        epsilon,
        weight_decay,
    };
    let choices = [("sgd", sgd), ("adam", adam), ("adamw", adamw)];
    let optimizer = check::pick("optimizer", optimizer, &choices)?;
    sgd.validate()?;
    adamw.validate()?;
    if let (OptimizerConfig::Adam { .. }, true) = (optimizer, weight_decay > 0.0) {
        return Err(Error::value(
            "weight_decay",
            format!(
                "must be 0 with optimizer 'adam' (scikit-learn's Adam has none: use \
                 optimizer 'adamw' for decoupled weight decay, or alpha for an L2 penalty), \
                 got {weight_decay:?}"
            ),
        ));
    }
    check_power_t(power_t)?;
    let (schedule, warmup) = schedule_of(schedule, power_t, &torch)?;
    let metric = match validation_metric {
        Some(name) => check::pick(
            "validation_metric",
            name,
            &[
                ("loss", Metric::Loss),
                ("accuracy", Metric::Accuracy),
                ("r2", Metric::R2),
                ("one_class", Metric::OneClass),
            ],
        )?,
        None => Metric::External,
    };
    let config = FitConfig {
        epochs,
        learning_rate,
        batch_size,
        shuffle,
        seed,
        numpy_stream,
        divergence,
        optimizer,
        alpha,
        schedule,
        warmup,
        stopping: Stopping {
            n_iter_no_change,
            tol,
            early_stopping,
        },
        scales: Scales {
            loss,
            penalty,
            step,
        },
        resume: resume.map(|resume| {
            let ((count, best_loss, best_score, samples_seen, learning_rate), epochs) = match resume
            {
                Resume::Clock((c, l, s, t, r, e)) => ((c, l, s, t, r), e),
                Resume::Rule(rule) => (rule, 0),
            };
            Progress {
                count,
                best_loss,
                best_score,
                samples_seen,
                learning_rate,
                epochs,
            }
        }),
    };
    config.validate()?;
    Ok((config, metric))
}

/// The schedule named `name` (or `Callable`) and the warm-up, their settings checked
/// whatever the schedule (as `power_t` is).
fn schedule_of(name: &str, power_t: f64, torch: &TorchArgs) -> crate::Result<(Schedule, usize)> {
    let warmup = check::count_or_zero("warmup", torch.warmup)?;
    let t_max = torch.t_max.map(|t| check::count("t_max", t)).transpose()?;
    let step_size = torch
        .step_size
        .map(|s| check::count("step_size", s))
        .transpose()?;
    check_gamma(torch.gamma)?;
    let step = Schedule::Step {
        step_size: step_size.unwrap_or(0),
        gamma: torch.gamma,
    };
    let schedule = check::pick(
        "schedule",
        name,
        &[
            ("constant", Schedule::Constant),
            ("invscaling", Schedule::InvScaling { power_t }),
            ("adaptive", Schedule::Adaptive),
            ("cosine", Schedule::Cosine { t_max }),
            ("step", step),
            ("one_cycle", Schedule::OneCycle { t_max }),
        ],
    )?;
    if let (Schedule::Step { .. }, None) = (schedule, step_size) {
        return Err(Error::value(
            "step_size",
            "must be given with schedule 'step' (the epochs between two multiplications by \
             gamma), got None",
        ));
    }
    let schedule = match (torch.callable, schedule) {
        (false, schedule) => schedule,
        (true, Schedule::Constant) => Schedule::Callable,
        (true, _) => {
            return Err(Error::value(
                "schedule",
                format!(
                    "must be 'constant' with a callable learning_rate (the callable is the \
                     schedule), got '{name}'"
                ),
            ))
        }
    };
    check_schedule(schedule, warmup)?;
    Ok((schedule, warmup))
}

/// Fit's monitor, always called on the thread that called `fit` (see `train::Monitor`):
/// checks for Ctrl-C at most every 50 ms, publishes the weights to the shared network, and
/// calls the optional Python callbacks after each epoch: `metric(y_true, y_pred)` for a
/// callable validation metric, `report` with the epoch's `EpochReport` as a dict (the
/// estimators' bookkeeping, `Network.fit`'s one-argument callbacks), then
/// `callback(epoch, loss)`. A truthy return of `report` or `callback` stops training.
pub(super) struct PyMonitor<'a> {
    shared: &'a PyNetwork,
    callback: Option<Py<PyAny>>,
    report: Option<Py<PyAny>>,
    /// A callable validation metric and the validation targets it compares against.
    metric: Option<(Py<PyAny>, Py<PyAny>)>,
    last_check: Instant,
    /// The Python error (a signal's or the callback's) that ended training.
    error: Option<PyErr>,
}

impl PyMonitor<'_> {
    fn interrupt(&mut self, err: PyErr) -> Error {
        self.error = Some(err);
        Error::Interrupted
    }

    fn check_signals(&mut self) -> crate::Result<()> {
        self.last_check = Instant::now();
        match Python::attach(|py| py.check_signals()) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.interrupt(e)),
        }
    }
}

/// Whether a callback's return value asks to stop.
fn control(stop: &Bound<'_, PyAny>) -> PyResult<EpochControl> {
    Ok(match stop.is_truthy()? {
        true => EpochControl::Stop,
        false => EpochControl::Continue,
    })
}

impl<T: StoredFloat + Element> Monitor<T> for PyMonitor<'_> {
    fn between_batches(&mut self) -> crate::Result<()> {
        match self.last_check.elapsed() < PUBLISH_EVERY {
            true => Ok(()),
            false => self.check_signals(),
        }
    }

    fn poll(&mut self) -> EpochControl {
        match self.check_signals() {
            Ok(()) => EpochControl::Continue,
            Err(_) => EpochControl::Stop,
        }
    }

    fn every_epoch(&self) -> bool {
        self.callback.is_some() || self.report.is_some()
    }

    /// The shared network holds the weights of the start of each run: the trainee's copy
    /// when the fit began, then what `epoch_end` published after each run that was not the
    /// last (nothing else changes it while the fit runs: `fitting`).
    fn keeps_run_start(&self) -> bool {
        true
    }

    fn restore_run_start(&mut self, net: &mut Network<T>) {
        if let Some(shared) = T::of_ref(&self.shared.read()) {
            net.assign_weights(shared);
        }
    }

    fn epoch_end(&mut self, report: &EpochReport, net: &Network<T>) -> crate::Result<EpochControl> {
        // After the last epoch `fit` hands the trainee itself over (`*shared = trainee`):
        // a copy first is needed only for hooks that look at the network.
        let hooked = self.callback.is_some() || self.report.is_some();
        if !report.last || hooked {
            if let Some(shared) = T::of(&mut self.shared.write()) {
                shared.assign_weights(net);
            }
        }
        self.check_signals()?;
        if let Some(hook) = &self.report {
            let sent =
                Python::attach(|py| control(hook.call1(py, (report_dict(py, report)?,))?.bind(py)));
            if sent.map_err(|e| self.interrupt(e))? == EpochControl::Stop {
                return Ok(EpochControl::Stop);
            }
        }
        let Some(callback) = &self.callback else {
            return Ok(EpochControl::Continue);
        };
        let (epoch, loss) = (report.epoch, report.loss);
        let result = Python::attach(|py| control(callback.call1(py, (epoch, loss))?.bind(py)));
        result.map_err(|e| self.interrupt(e))
    }

    fn score(&mut self, yhat: ndarray::ArrayView2<T>) -> crate::Result<f64> {
        let Some((metric, y_true)) = &self.metric else {
            return Err(Error::value(
                "validation_metric",
                "no callable metric was given",
            ));
        };
        let result = Python::attach(|py| -> PyResult<f64> {
            let y_pred = numpy::PyArray2::from_array(py, &yhat);
            let value = metric.call1(py, (y_true.clone_ref(py), y_pred))?;
            value.bind(py).extract::<f64>().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "validation_metric must return a real number (greater is better), got {}",
                    value
                        .bind(py)
                        .get_type()
                        .name()
                        .map_or_else(|_| "?".to_string(), |n| n.to_string())
                ))
            })
        });
        result.map_err(|e| self.interrupt(e))
    }
}

/// `run` with `monitor` wrapped to ask `rate` for each epoch's step size; the callable's
/// error, if it ended training, goes to `error`.
fn with_rate<T, R>(
    monitor: &mut PyMonitor<'_>,
    rate: Py<PyAny>,
    error: &mut Option<PyErr>,
    run: impl FnOnce(&mut dyn Monitor<T>) -> R,
) -> R
where
    for<'m> PyMonitor<'m>: Monitor<T>,
{
    let mut wrapped = CallableRate {
        inner: monitor,
        rate,
        error: None,
    };
    let result = run(&mut wrapped);
    *error = wrapped.error;
    result
}

/// An `EpochReport` as a dict.
fn report_dict<'py>(py: Python<'py>, r: &EpochReport) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("epoch", r.epoch)?;
    dict.set_item("loss", r.loss)?;
    dict.set_item("judged_loss", r.judged_loss)?;
    dict.set_item("val_loss", r.val_loss)?;
    dict.set_item("val_score", r.val_score)?;
    dict.set_item("epoch_learning_rate", r.learning_rate)?;
    dict.set_item("stop", r.stop.map(|s| s.name()))?;
    dict.set_item("divided", r.divided)?;
    let p = &r.progress;
    dict.set_item("count", p.count)?;
    dict.set_item("best_loss", p.best_loss)?;
    dict.set_item("best_score", p.best_score)?;
    dict.set_item("samples_seen", p.samples_seen)?;
    dict.set_item("learning_rate", p.learning_rate)?;
    dict.set_item("epochs", p.epochs)?;
    Ok(dict)
}

/// The arrays of a fit call: X, y, sample weights, and the validation data: X, y, and
/// optionally its sample weights and the best weights so far (a resumed fit).
pub(super) struct FitData<'a, 'py> {
    pub x: &'a Bound<'py, PyAny>,
    pub y: &'a Bound<'py, PyAny>,
    pub sample_weight: Option<&'a Bound<'py, PyAny>>,
    pub validation: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    pub validation_weight: Option<&'a Bound<'py, PyAny>>,
    pub best_weights: Option<&'a Bound<'py, PyAny>>,
}

/// The Python callables of a fit call (see `PyMonitor`, and `CallableRate` for `rate`, a
/// callable learning rate).
pub(super) struct Hooks {
    pub callback: Option<Py<PyAny>>,
    pub report: Option<Py<PyAny>>,
    /// A callable validation metric.
    pub metric: Option<Py<PyAny>>,
    /// A callable learning rate (`Schedule::Callable`).
    pub rate: Option<Py<PyAny>>,
}

pub(super) fn fit_py<'py, T: Element + StoredFloat>(
    py: Python<'py>,
    this: &PyNetwork,
    data: FitData<'_, 'py>,
    (config, metric): (FitConfig, Metric),
    Hooks {
        callback,
        report,
        metric: metric_fn,
        rate,
    }: Hooks,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, y, sample_weight, validation) = (data.x, data.y, data.sample_weight, data.validation);
    let x = array2::<T>("X", x)?;
    let y = PyTarget::<T>::extract(y)?;
    let w = sample_weight
        .map(|w| weights1::<T>("sample_weight", w))
        .transpose()?;
    let (xv, yv, wv) = (x.as_array(), y.view(), w.as_ref().map(|w| w.as_array()));
    let val = match &validation {
        Some((vx, vy)) => Some((
            array2::<T>("validation_data X", vx)?,
            PyTarget::<T>::extract(vy)?,
        )),
        None => None,
    };
    let val_w = data
        .validation_weight
        .map(|w| weights1::<T>("validation sample_weight", w))
        .transpose()?;
    let best = data
        .best_weights
        .map(|b| weight_pairs::<T>("best_weights", b))
        .transpose()?;
    let val = val.as_ref().map(|(vx, vy)| Validation {
        x: vx.as_array(),
        y: vy.view(),
        metric,
        sample_weight: val_w.as_ref().map(|w| w.as_array()),
        best: best.as_deref(),
    });
    let spare = this.take_spare::<T>();
    let copy = |net: &Network<T>| match spare {
        Some(spare) => net.clone_params_into(spare),
        None => net.clone_params(),
    };
    let mut trainee = match py.detach(|| T::of_ref(&this.read()).map(copy)) {
        Some(net) => net?,
        None => {
            return Err(PyRuntimeError::new_err(
                "the network's dtype changed during fit",
            ))
        }
    };
    let metric_fn = match (metric_fn, &validation) {
        (Some(f), Some((_, vy))) => Some((f, vy.clone().unbind())),
        _ => None,
    };
    let mut monitor = PyMonitor {
        shared: this,
        callback,
        report,
        metric: metric_fn,
        last_check: Instant::now(),
        error: None,
    };
    let mut rate_error = None;
    let mut kept = this.take_buffers::<T>();
    let result = py.detach(|| {
        let data = (xv, yv, wv, val);
        let result = match rate {
            Some(rate) => with_rate(&mut monitor, rate, &mut rate_error, |m| {
                fit_reusing(&mut trainee, data, &config, m, &mut kept)
            }),
            None => fit_reusing(&mut trainee, data, &config, &mut monitor, &mut kept),
        };
        // Whatever happened, the trainee's weights are consistent: they become the network's.
        let mut shared = this.write();
        let replaced = std::mem::replace(&mut *shared, T::wrap(trainee));
        this.fitting.store(false, Ordering::Release);
        drop(shared);
        this.keep_spare(replaced);
        result
    });
    this.keep_buffers(kept);
    let history = match (result, monitor.error.or(rate_error)) {
        (Err(Error::Interrupted), Some(err)) => return Err(err),
        (result, _) => result?,
    };
    let dict = PyDict::new(py);
    dict.set_item("loss", history.loss)?;
    dict.set_item("val_loss", history.val_loss)?;
    dict.set_item("val_score", history.val_score)?;
    dict.set_item("learning_rate", history.learning_rate)?;
    dict.set_item("t", history.progress.samples_seen)?;
    dict.set_item("best_loss", history.progress.best_loss)?;
    dict.set_item("best_val_score", history.best_val_score)?;
    dict.set_item("stopped", history.stopped.name())?;
    dict.set_item("diverged", history.diverged)?;
    let stream = history.numpy_stream.map(|mt| {
        let key = numpy::PyArray1::from_slice(py, &mt.key);
        (key, mt.pos)
    });
    dict.set_item("numpy_stream", stream)?;
    Ok(dict)
}
