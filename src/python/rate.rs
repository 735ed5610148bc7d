//! A callable `learning_rate`: `fit`'s monitor wrapped so that the loop asks the callable
//! for each epoch's step size (`Monitor::learning_rate`), on the thread that called `fit`.

use crate::train::{EpochControl, EpochReport, Monitor};
use crate::{Error, Network};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBool;

/// `inner`'s hooks, and each epoch's step size from `rate(epoch)`. The Python error that
/// ended training (the callable's exception, or a value that is not a number), if any, is
/// kept in `error`, as `PyMonitor` keeps its own.
pub(super) struct CallableRate<'m, M> {
    pub inner: &'m mut M,
    pub rate: Py<PyAny>,
    pub error: Option<PyErr>,
}

impl<T, M: Monitor<T>> Monitor<T> for CallableRate<'_, M> {
    fn between_batches(&mut self) -> crate::Result<()> {
        self.inner.between_batches()
    }

    fn poll(&mut self) -> EpochControl {
        self.inner.poll()
    }

    fn epoch_end(&mut self, report: &EpochReport, net: &Network<T>) -> crate::Result<EpochControl> {
        self.inner.epoch_end(report, net)
    }

    fn every_epoch(&self) -> bool {
        true
    }

    fn score(&mut self, yhat: ndarray::ArrayView2<T>) -> crate::Result<f64> {
        self.inner.score(yhat)
    }

    fn keeps_run_start(&self) -> bool {
        self.inner.keeps_run_start()
    }

    fn restore_run_start(&mut self, net: &mut Network<T>) {
        self.inner.restore_run_start(net)
    }

    fn learning_rate(&mut self, epoch: u64) -> crate::Result<f64> {
        let rate = Python::attach(|py| call_rate(py, &self.rate, epoch));
        rate.map_err(|e| {
            self.error = Some(e);
            Error::Interrupted
        })
    }
}

/// `rate(epoch)` as a float: a real number (not a bool); the core checks its value.
fn call_rate(py: Python<'_>, rate: &Py<PyAny>, epoch: u64) -> PyResult<f64> {
    let value = rate.call1(py, (epoch,))?;
    let value = value.bind(py);
    let number = match value.is_instance_of::<PyBool>() {
        true => None,
        false => value.extract::<f64>().ok(),
    };
    number.ok_or_else(|| {
        let kind = value
            .get_type()
            .name()
            .map_or_else(|_| "?".to_owned(), |n| n.to_string());
        let shown = value
            .repr()
            .map_or_else(|_| "?".to_owned(), |r| r.to_string());
        PyTypeError::new_err(format!(
            "learning_rate (a callable) must return a real number, got {kind} {shown} for \
             epoch {epoch}"
        ))
    })
}
