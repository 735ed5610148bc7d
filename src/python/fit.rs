//! `CoreNetwork.fit`: its arguments, its monitor (signals, publishing, the callback) and
//! the call of `train::fit` with the GIL released.

use super::convert::{array2, weight_pairs, weights1, PyTarget};
use super::network::PyNetwork;
use crate::io::StoredFloat;
use crate::train::stopping::{Metric, Progress, Scales, Schedule, Stopping};
use crate::train::{
    check_power_t, Divergence, EpochControl, EpochReport, Monitor, Mt19937, Validation,
    PUBLISH_EVERY,
};
use crate::{check, fit, Error, FitConfig, Network, OptimizerConfig};
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
    pub validation_metric: &'a str,
    pub n_iter_no_change: Option<i128>,
    pub tol: f64,
    pub early_stopping: bool,
    /// `Scales` as `(loss, penalty, step)`.
    pub scales: (f64, f64, f64),
    /// `Progress` as `(count, best_loss, best_score, samples_seen, learning_rate)`.
    pub resume: Option<(usize, f64, f64, u64, f64)>,
    /// `FitConfig::numpy_stream`, checked by `Mt19937::from_state`.
    pub numpy_stream: Option<Mt19937>,
    /// `"raise"` or `"record"` (`Divergence`).
    pub divergence: &'a str,
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
    let sgd = OptimizerConfig::Sgd { momentum, nesterov };
    let adam = OptimizerConfig::Adam {
        beta_1,
        beta_2,
        epsilon,
    };
    let optimizer = check::pick("optimizer", optimizer, &[("sgd", sgd), ("adam", adam)])?;
    sgd.validate()?;
    adam.validate()?;
    check_power_t(power_t)?;
    let schedule = check::pick(
        "schedule",
        schedule,
        &[
            ("constant", Schedule::Constant),
            ("invscaling", Schedule::InvScaling { power_t }),
            ("adaptive", Schedule::Adaptive),
        ],
    )?;
    let metric = check::pick(
        "validation_metric",
        validation_metric,
        &[
            ("loss", Metric::Loss),
            ("accuracy", Metric::Accuracy),
            ("r2", Metric::R2),
            ("one_class", Metric::OneClass),
        ],
    )?;
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
        resume: resume.map(
            |(count, best_loss, best_score, samples_seen, learning_rate)| Progress {
                count,
                best_loss,
                best_score,
                samples_seen,
                learning_rate,
            },
        ),
    };
    config.validate()?;
    Ok((config, metric))
}

/// Fit's monitor, always called on the thread that called `fit` (see `train::Monitor`):
/// checks for Ctrl-C at most every 50 ms, publishes the weights to the shared network, and
/// calls the optional Python callbacks after each epoch: `report` with the epoch's
/// `EpochReport` as a dict (the estimators' bookkeeping), then `callback(epoch, loss)`.
pub(super) struct PyMonitor<'a> {
    shared: &'a PyNetwork,
    callback: Option<Py<PyAny>>,
    report: Option<Py<PyAny>>,
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

impl<T: StoredFloat> Monitor<T> for PyMonitor<'_> {
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

    fn epoch_end(&mut self, report: &EpochReport, net: &Network<T>) -> crate::Result<EpochControl> {
        if let Some(shared) = T::of(&mut self.shared.write()) {
            shared.assign_weights(net);
        }
        self.check_signals()?;
        if let Some(hook) = &self.report {
            let sent = Python::attach(|py| hook.call1(py, (report_dict(py, report)?,)).map(drop));
            sent.map_err(|e| self.interrupt(e))?;
        }
        let Some(callback) = &self.callback else {
            return Ok(EpochControl::Continue);
        };
        let (epoch, loss) = (report.epoch, report.loss);
        let result = Python::attach(|py| -> PyResult<EpochControl> {
            let stop = callback.call1(py, (epoch, loss))?;
            Ok(match stop.bind(py).is_truthy()? {
                true => EpochControl::Stop,
                false => EpochControl::Continue,
            })
        });
        result.map_err(|e| self.interrupt(e))
    }
}

/// An `EpochReport` as a dict.
fn report_dict<'py>(py: Python<'py>, r: &EpochReport) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("epoch", r.epoch)?;
    dict.set_item("loss", r.loss)?;
    dict.set_item("judged_loss", r.judged_loss)?;
    dict.set_item("val_score", r.val_score)?;
    dict.set_item("stop", r.stop.map(|s| s.name()))?;
    dict.set_item("divided", r.divided)?;
    let p = &r.progress;
    dict.set_item("count", p.count)?;
    dict.set_item("best_loss", p.best_loss)?;
    dict.set_item("best_score", p.best_score)?;
    dict.set_item("samples_seen", p.samples_seen)?;
    dict.set_item("learning_rate", p.learning_rate)?;
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

/// The Python callables of a fit call (see `PyMonitor`).
pub(super) struct Hooks {
    pub callback: Option<Py<PyAny>>,
    pub report: Option<Py<PyAny>>,
}

pub(super) fn fit_py<'py, T: Element + StoredFloat>(
    py: Python<'py>,
    this: &PyNetwork,
    data: FitData<'_, 'py>,
    (config, metric): (FitConfig, Metric),
    Hooks { callback, report }: Hooks,
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
    let mut trainee = match py.detach(|| T::of_ref(&this.read()).map(|n| n.clone_params())) {
        Some(net) => net?,
        None => {
            return Err(PyRuntimeError::new_err(
                "the network's dtype changed during fit",
            ))
        }
    };
    let mut monitor = PyMonitor {
        shared: this,
        callback,
        report,
        last_check: Instant::now(),
        error: None,
    };
    let result = py.detach(|| {
        let result = fit(&mut trainee, xv, yv, wv, val, &config, &mut monitor);
        // Whatever happened, the trainee's weights are consistent: they become the network's.
        let mut shared = this.write();
        *shared = T::wrap(trainee);
        this.fitting.store(false, Ordering::Release);
        result
    });
    let history = match (result, monitor.error) {
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
