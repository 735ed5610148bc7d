//! The Python binding: `ferroprop._core`. Thin wrappers around the core, which never sees
//! Python. Arrays come in already converted to the network's dtype by the Python package;
//! shapes and values are validated by the core.
//!
//! Threads: the network sits behind a read-write lock (see `PyNetwork` for the rules that
//! keep it, the GIL and the pool free of deadlocks). `fit` trains a private copy and
//! publishes its weights after every epoch (every 50 ms without a callback): a `predict`
//! running meanwhile sees the weights of an epoch boundary, never a half-updated set.

use crate::io::{self, AnyNetwork, StoredFloat};
use crate::layer::try_clone;
use crate::stopping::{Metric, Schedule, Stopping};
use crate::train::{EpochControl, Monitor, Validation, PUBLISH_EVERY};
use crate::{
    fit, Activation, Error, FitConfig, Loss, Network, NetworkConfig, OptimizerConfig, Target,
};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use numpy::{
    Element, IntoPyArray, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyIsADirectoryError, PyMemoryError, PyOSError,
    PyPermissionError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match err {
            Error::Type { .. } => PyTypeError::new_err(err.to_string()),
            Error::Memory { .. } => PyMemoryError::new_err(err.to_string()),
            Error::Io { kind, .. } => {
                let msg = err.to_string();
                match kind {
                    ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
                    ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
                    ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
                    ErrorKind::AlreadyExists => PyFileExistsError::new_err(msg),
                    _ => PyOSError::new_err(msg),
                }
            }
            _ => PyValueError::new_err(err.to_string()),
        }
    }
}

/// Runs `$body` with `$net` bound to the network, whatever its dtype.
macro_rules! dispatch {
    ($any:expr, $net:ident => $body:expr) => {
        match $any {
            AnyNetwork::F32($net) => $body,
            AnyNetwork::F64($net) => $body,
        }
    };
}

/// Calls the generic `$f::<T>(args)` with `T` the dtype of the network `$this`.
macro_rules! by_dtype {
    ($this:expr, $f:ident($($arg:expr),*)) => {
        if is_f32($this) {
            $f::<f32>($($arg),*)
        } else {
            $f::<f64>($($arg),*)
        }
    };
}

/// The compiled network; `ferroprop.Network` wraps it.
///
/// Locking rules (with those of `pool.rs`, they make a deadlock impossible):
/// - `net` is taken only with the GIL released, or for a short read with the GIL held
///   (copies of W, b or a cache array); whoever holds it never waits for the GIL.
/// - Whoever holds it may wait on the pool (a product of `predict`, say): no pool task ever
///   waits on this lock, the GIL or anything else outside the pool, so that wait ends.
/// - `fit` trains a private copy; the calling thread (never a pool thread) publishes its
///   weights between runs of epochs. While it runs, the calls that change the network
///   (`forward`, `backward`, `update`, `set_weights`, `reset_optimizer`, a second `fit`)
///   raise `RuntimeError`: the next published epoch would silently overwrite them.
#[pyclass(module = "ferroprop._core", name = "CoreNetwork", frozen)]
struct PyNetwork {
    net: RwLock<AnyNetwork>,
    /// Set while a `fit` trains this network; cleared under the write lock of `net`.
    fitting: AtomicBool,
}

impl PyNetwork {
    fn wrap(net: AnyNetwork) -> Self {
        PyNetwork {
            net: RwLock::new(net),
            fitting: AtomicBool::new(false),
        }
    }

    // A panic is a bug and never happens while the lock is held by ferroprop's own code;
    // if one did, the weights are still whole arrays, so the lock is taken regardless.
    fn read(&self) -> RwLockReadGuard<'_, AnyNetwork> {
        self.net.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, AnyNetwork> {
        self.net.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The write lock for a call that changes the network, refused while `fit` trains it.
    fn change(&self, call: &str) -> PyResult<RwLockWriteGuard<'_, AnyNetwork>> {
        let guard = self.write();
        match self.fitting.load(Ordering::Acquire) {
            false => Ok(guard),
            true => Err(PyRuntimeError::new_err(format!(
                "{call} cannot run while fit is training this network (from fit's callback or \
                 another thread): fit would overwrite its effect with the next epoch's \
                 weights; call it after fit returns (return True from the callback to stop fit)"
            ))),
        }
    }
}

/// Clears `fitting` if `fit` ends before publishing its result (an error in its arguments).
struct Fitting<'a>(&'a AtomicBool);

impl Drop for Fitting<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn array2<'py, T: Element>(
    arg: &'static str,
    obj: &Bound<'py, PyAny>,
) -> PyResult<PyReadonlyArray2<'py, T>> {
    obj.extract::<PyReadonlyArray2<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{arg}: expected a 2-D numpy array of dtype {}, got {}",
            std::any::type_name::<T>(),
            describe(obj)
        ))
    })
}

fn describe(obj: &Bound<'_, PyAny>) -> String {
    match obj.cast::<PyUntypedArray>() {
        Ok(a) => format!("a {}-D array of dtype {}", a.ndim(), a.dtype()),
        Err(_) => obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default(),
    }
}

/// Sample weights as the core takes them: a 1-D array of the network's dtype.
fn weights1<'py, T: Element>(w: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray1<'py, T>> {
    w.extract::<PyReadonlyArray1<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "sample_weight: expected a 1-D array of the network's dtype, got {}",
            describe(w)
        ))
    })
}

/// Targets as the core takes them: a 2-D array of the dtype, or 1-D int64 class labels.
enum PyTarget<'py, T: Element> {
    Dense(PyReadonlyArray2<'py, T>),
    Labels(Array1<usize>),
}

impl<'py, T: Element + StoredFloat> PyTarget<'py, T> {
    fn extract(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(labels) = obj.extract::<PyReadonlyArray1<i64>>() {
            let labels = labels.as_array();
            if let Some(bad) = labels.iter().find(|&&c| c < 0) {
                return Err(PyValueError::new_err(format!(
                    "y: class labels must be non-negative, got {bad}"
                )));
            }
            let n = labels.len();
            let labels = crate::layer::try_collect(labels.iter().map(|&c| c as usize), || {
                format!("{n} class labels")
            })?;
            return Ok(PyTarget::Labels(Array1::from_vec(labels)));
        }
        Ok(PyTarget::Dense(array2("y", obj)?))
    }

    fn view(&self) -> Target<'_, T> {
        match self {
            PyTarget::Dense(y) => Target::Dense(y.as_array()),
            PyTarget::Labels(l) => Target::Labels(l.view()),
        }
    }
}

fn is_f32(this: &PyNetwork) -> bool {
    matches!(*this.read(), AnyNetwork::F32(_))
}

/// Fit's monitor, always called on the thread that called `fit` (see `train::Monitor`):
/// checks for Ctrl-C at most every 50 ms, publishes the weights to the shared network, and
/// calls the optional Python callback after each epoch.
struct PyMonitor<'a> {
    shared: &'a PyNetwork,
    callback: Option<Py<PyAny>>,
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
        self.callback.is_some()
    }

    fn epoch_end(
        &mut self,
        epoch: usize,
        loss: f64,
        net: &Network<T>,
    ) -> crate::Result<EpochControl> {
        if let Some(shared) = T::of(&mut self.shared.write()) {
            shared.assign_weights(net);
        }
        self.check_signals()?;
        let Some(callback) = &self.callback else {
            return Ok(EpochControl::Continue);
        };
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

/// The arrays of a fit call: X, y, sample weights, validation X and y.
type FitData<'a, 'py> = (
    &'a Bound<'py, PyAny>,
    &'a Bound<'py, PyAny>,
    Option<&'a Bound<'py, PyAny>>,
    Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
);

fn fit_py<'py, T: Element + StoredFloat>(
    py: Python<'py>,
    this: &PyNetwork,
    (x, y, sample_weight, validation): FitData<'_, 'py>,
    (config, metric): (FitConfig, Metric),
    callback: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let x = array2::<T>("X", x)?;
    let y = PyTarget::<T>::extract(y)?;
    let w = sample_weight.map(weights1::<T>).transpose()?;
    let (xv, yv, wv) = (x.as_array(), y.view(), w.as_ref().map(|w| w.as_array()));
    let val = match &validation {
        Some((vx, vy)) => Some((
            array2::<T>("validation_data X", vx)?,
            PyTarget::<T>::extract(vy)?,
        )),
        None => None,
    };
    let val = val.as_ref().map(|(vx, vy)| Validation {
        x: vx.as_array(),
        y: vy.view(),
        metric,
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
    dict.set_item("t", history.samples_seen)?;
    dict.set_item("best_loss", history.best_loss)?;
    dict.set_item("best_val_score", history.best_val_score)?;
    dict.set_item("stopped", history.stopped.name())?;
    Ok(dict)
}

fn weights_of<T: StoredFloat>(net: &Network<T>) -> crate::Result<Vec<(Array2<T>, Array1<T>)>> {
    net.get_weights()
}

/// One array of layer `k` (`W, b, z, a, dz, dW, db, da`), copied, as a 2-D or 1-D array.
enum LayerArray<T> {
    Two(Array2<T>),
    One(Array1<T>),
}

fn layer_array<T: StoredFloat>(
    net: &Network<T>,
    k: usize,
    name: &str,
) -> PyResult<Option<LayerArray<T>>> {
    let layer = net
        .layers()
        .get(k)
        .ok_or_else(|| PyValueError::new_err(format!("layer index {k} out of range")))?;
    match name {
        "W" => return Ok(Some(LayerArray::Two(try_clone(&layer.w)?))),
        "b" => return Ok(Some(LayerArray::One(try_clone(&layer.b)?))),
        _ => {}
    }
    let Some(cache) = net.cache().get(k) else {
        return Ok(None);
    };
    Ok(Some(match name {
        "z" => LayerArray::Two(try_clone(&cache.z)?),
        "a" => LayerArray::Two(try_clone(&cache.a)?),
        "dz" => LayerArray::Two(try_clone(&cache.dz)?),
        "da" => LayerArray::Two(try_clone(&cache.da)?),
        "dW" => LayerArray::Two(try_clone(&cache.dw)?),
        "db" => LayerArray::One(try_clone(&cache.db)?),
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown layer array {name:?}; expected one of W, b, z, a, dz, dW, db, da"
            )))
        }
    }))
}

fn to_py<'py, T: Element>(
    py: Python<'py>,
    arr: Option<LayerArray<T>>,
) -> Option<Bound<'py, PyAny>> {
    arr.map(|a| match a {
        LayerArray::Two(a) => a.into_pyarray(py).into_any(),
        LayerArray::One(a) => a.into_pyarray(py).into_any(),
    })
}

#[pymethods]
impl PyNetwork {
    #[new]
    fn new(
        layer_sizes: Vec<usize>,
        activations: Vec<String>,
        loss: &str,
        dtype: &str,
        seed: u64,
    ) -> PyResult<Self> {
        let activations = activations
            .iter()
            .map(|a| Activation::from_name(a))
            .collect::<crate::Result<Vec<_>>>()?;
        let config = NetworkConfig::new(layer_sizes, activations, Loss::from_name(loss)?);
        let net = match dtype {
            "float32" => AnyNetwork::F32(Network::new(&config, seed)?),
            "float64" => AnyNetwork::F64(Network::new(&config, seed)?),
            _ => {
                return Err(Error::UnknownName {
                    kind: "dtype",
                    name: dtype.to_owned(),
                    expected: "float32, float64",
                }
                .into())
            }
        };
        Ok(PyNetwork::wrap(net))
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        dispatch!(&*self.read(), net => dtype_name(net))
    }

    #[getter]
    fn layer_sizes(&self) -> Vec<usize> {
        dispatch!(&*self.read(), net => net.config().layer_sizes)
    }

    #[getter]
    fn activations(&self) -> Vec<&'static str> {
        dispatch!(&*self.read(), net => net.layers().iter().map(|l| l.activation.name()).collect())
    }

    #[getter]
    fn loss_name(&self) -> &'static str {
        dispatch!(&*self.read(), net => net.loss_fn().name())
    }

    fn forward<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        fn run<'py, T: Element + StoredFloat>(
            py: Python<'py>,
            this: &PyNetwork,
            x: &Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyAny>> {
            let x = array2::<T>("X", x)?;
            let xv = x.as_array();
            let yhat = py.detach(|| -> PyResult<Array2<T>> {
                let mut guard = this.change("forward")?;
                let net = T::of(&mut guard).expect("dtype checked");
                Ok(try_clone(&net.forward(xv)?)?)
            })?;
            Ok(yhat.into_pyarray(py).into_any())
        }
        by_dtype!(self, run(py, self, x))
    }

    fn backward(&self, py: Python<'_>, y: &Bound<'_, PyAny>) -> PyResult<()> {
        fn run<T: Element + StoredFloat>(
            py: Python<'_>,
            this: &PyNetwork,
            y: &Bound<'_, PyAny>,
        ) -> PyResult<()> {
            let y = PyTarget::<T>::extract(y)?;
            let yv = y.view();
            py.detach(|| {
                let mut guard = this.change("backward")?;
                Ok(T::of(&mut guard).expect("dtype checked").backward(yv)?)
            })
        }
        by_dtype!(self, run(py, self, y))
    }

    fn update(&self, py: Python<'_>, learning_rate: f64) -> PyResult<()> {
        py.detach(|| {
            let mut guard = self.change("update")?;
            Ok(dispatch!(&mut *guard, net => net.update(crate::Float::c(learning_rate)))?)
        })
    }

    fn predict<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        fn run<'py, T: Element + StoredFloat>(
            py: Python<'py>,
            this: &PyNetwork,
            x: &Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyAny>> {
            let x = array2::<T>("X", x)?;
            let xv = x.as_array();
            let yhat = py.detach(|| T::of_ref(&this.read()).expect("dtype checked").predict(xv))?;
            Ok(yhat.into_pyarray(py).into_any())
        }
        by_dtype!(self, run(py, self, x))
    }

    fn loss(&self, py: Python<'_>, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>) -> PyResult<f64> {
        fn run<T: Element + StoredFloat>(
            py: Python<'_>,
            this: &PyNetwork,
            x: &Bound<'_, PyAny>,
            y: &Bound<'_, PyAny>,
        ) -> PyResult<f64> {
            let (x, y) = (array2::<T>("X", x)?, PyTarget::<T>::extract(y)?);
            let (xv, yv) = (x.as_array(), y.view());
            Ok(py.detach(|| T::of_ref(&this.read()).expect("dtype checked").loss(xv, yv))?)
        }
        by_dtype!(self, run(py, self, x, y))
    }

    #[pyo3(signature = (x, y, eps=None))]
    fn gradient_check(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        eps: Option<f64>,
    ) -> PyResult<f64> {
        fn run<T: Element + StoredFloat>(
            py: Python<'_>,
            this: &PyNetwork,
            x: &Bound<'_, PyAny>,
            y: &Bound<'_, PyAny>,
            eps: Option<f64>,
        ) -> PyResult<f64> {
            let (x, y) = (array2::<T>("X", x)?, PyTarget::<T>::extract(y)?);
            let (xv, yv) = (x.as_array(), y.view());
            // A copy, so that a long check does not hold the lock.
            let net = py.detach(|| T::of_ref(&this.read()).map(|n| n.clone_params()));
            let net = net.expect("dtype checked")?;
            Ok(py.detach(|| net.gradient_check(xv, yv, eps))?)
        }
        by_dtype!(self, run(py, self, x, y, eps))
    }

    /// `(data_loss, penalty, [(dW, db), ...])` of full-batch training, in one pass.
    #[pyo3(signature = (x, y, sample_weight=None, alpha=0.0))]
    fn loss_and_gradient<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
        alpha: f64,
    ) -> PyResult<(f64, f64, Bound<'py, PyList>)> {
        fn run<'py, T: Element + StoredFloat>(
            py: Python<'py>,
            this: &PyNetwork,
            (x, y, w): (
                &Bound<'py, PyAny>,
                &Bound<'py, PyAny>,
                Option<&Bound<'py, PyAny>>,
            ),
            alpha: f64,
        ) -> PyResult<(f64, f64, Bound<'py, PyList>)> {
            let (x, y) = (array2::<T>("X", x)?, PyTarget::<T>::extract(y)?);
            let w = w.map(weights1::<T>).transpose()?;
            let (xv, yv, wv) = (x.as_array(), y.view(), w.as_ref().map(|w| w.as_array()));
            let result = py.detach(|| {
                T::of_ref(&this.read())
                    .expect("dtype checked")
                    .loss_and_gradient(xv, yv, wv, alpha)
            })?;
            let pairs = result.gradients.into_iter().map(|(w, b)| {
                PyTuple::new(
                    py,
                    [w.into_pyarray(py).into_any(), b.into_pyarray(py).into_any()],
                )
            });
            let grads = PyList::new(py, pairs.collect::<PyResult<Vec<_>>>()?)?;
            Ok((result.data_loss, result.penalty, grads))
        }
        let data = (x, y, sample_weight);
        by_dtype!(self, run(py, self, data, alpha))
    }

    fn get_weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        fn run<'py, T: Element + StoredFloat>(
            py: Python<'py>,
            weights: Vec<(Array2<T>, Array1<T>)>,
        ) -> PyResult<Bound<'py, PyList>> {
            let pairs = weights.into_iter().map(|(w, b)| {
                PyTuple::new(
                    py,
                    [w.into_pyarray(py).into_any(), b.into_pyarray(py).into_any()],
                )
            });
            PyList::new(py, pairs.collect::<PyResult<Vec<_>>>()?)
        }
        // Cheap reads lock with the GIL held: writers never wait for the GIL while they
        // hold the lock, so this cannot deadlock.
        match &*self.read() {
            AnyNetwork::F32(net) => run(py, weights_of(net)?),
            AnyNetwork::F64(net) => run(py, weights_of(net)?),
        }
    }

    fn set_weights(&self, py: Python<'_>, weights: &Bound<'_, PyAny>) -> PyResult<()> {
        fn run<T: Element + StoredFloat>(
            py: Python<'_>,
            this: &PyNetwork,
            weights: &Bound<'_, PyAny>,
        ) -> PyResult<()> {
            let mut arrays = Vec::new();
            for pair in weights.try_iter()? {
                let (w, b): (Bound<PyAny>, Bound<PyAny>) = pair?.extract().map_err(|_| {
                    PyTypeError::new_err("weights: expected a list of (W, b) pairs")
                })?;
                let w = array2::<T>("weights", &w)?;
                let b = b.extract::<PyReadonlyArray1<T>>().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "weights: expected b as a 1-D array, got {}",
                        describe(&b)
                    ))
                })?;
                arrays.push((w, b));
            }
            let views: Vec<(ArrayView2<T>, ArrayView1<T>)> = arrays
                .iter()
                .map(|(w, b)| (w.as_array(), b.as_array()))
                .collect();
            py.detach(|| {
                let mut guard = this.change("set_weights")?;
                Ok(T::of(&mut guard)
                    .expect("dtype checked")
                    .set_weights(&views)?)
            })
        }
        by_dtype!(self, run(py, self, weights))
    }

    /// One array of layer `k` (`W, b, z, a, dz, dW, db, da`), copied; `None` for the pass
    /// values before the first `forward`.
    fn layer_array<'py>(
        &self,
        py: Python<'py>,
        k: usize,
        name: &str,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(match &*self.read() {
            AnyNetwork::F32(net) => to_py(py, layer_array(net, k, name)?),
            AnyNetwork::F64(net) => to_py(py, layer_array(net, k, name)?),
        })
    }

    /// Forgets the optimizer's state; the next `fit` starts it afresh.
    fn reset_optimizer(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| {
            let mut guard = self.change("reset_optimizer")?;
            dispatch!(&mut *guard, net => net.reset_optimizer());
            Ok(())
        })
    }

    /// The network as the bytes of a safetensors file.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| dispatch!(&*self.read(), net => io::to_bytes(net)))?;
        // Fallible (`new` panics when Python cannot allocate the object).
        PyBytes::new_with(py, bytes.len(), |out| {
            out.copy_from_slice(&bytes);
            Ok(())
        })
    }

    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        Ok(PyNetwork::wrap(py.detach(|| io::from_bytes(data))?))
    }

    /// Saves atomically in the safetensors format (with the optimizer's state if asked).
    #[pyo3(signature = (path, optimizer_state=false))]
    fn save(&self, py: Python<'_>, path: PathBuf, optimizer_state: bool) -> PyResult<()> {
        Ok(py.detach(|| dispatch!(&*self.read(), net => io::save(net, &path, optimizer_state)))?)
    }

    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Ok(PyNetwork::wrap(py.detach(|| io::load(&path))?))
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (x, y, *, epochs, learning_rate, batch_size, shuffle, seed, optimizer,
                        momentum, nesterov, beta_1, beta_2, epsilon, alpha=0.0,
                        sample_weight=None, schedule="constant", power_t=0.5,
                        validation_data=None, validation_metric="loss",
                        n_iter_no_change=None, tol=1e-4, early_stopping=false,
                        callback=None))]
    fn fit<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        epochs: usize,
        learning_rate: f64,
        batch_size: Option<usize>,
        shuffle: bool,
        seed: u64,
        optimizer: &str,
        momentum: f64,
        nesterov: bool,
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
        alpha: f64,
        sample_weight: Option<&Bound<'py, PyAny>>,
        schedule: &str,
        power_t: f64,
        validation_data: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
        validation_metric: &str,
        n_iter_no_change: Option<usize>,
        tol: f64,
        early_stopping: bool,
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let schedule = pick(
            "schedule",
            schedule,
            [
                ("constant", Schedule::Constant),
                ("invscaling", Schedule::InvScaling { power_t }),
                ("adaptive", Schedule::Adaptive),
            ],
        )?;
        let metric = pick(
            "validation_metric",
            validation_metric,
            [
                ("loss", Metric::Loss),
                ("accuracy", Metric::Accuracy),
                ("r2", Metric::R2),
            ],
        )?;
        let optimizer = pick(
            "optimizer",
            optimizer,
            [
                ("sgd", OptimizerConfig::Sgd { momentum, nesterov }),
                (
                    "adam",
                    OptimizerConfig::Adam {
                        beta_1,
                        beta_2,
                        epsilon,
                    },
                ),
            ],
        )?;
        let config = FitConfig {
            epochs,
            learning_rate,
            batch_size,
            shuffle,
            seed,
            optimizer,
            alpha,
            schedule,
            stopping: Stopping {
                n_iter_no_change,
                tol,
                early_stopping,
            },
        };
        if self.fitting.swap(true, Ordering::AcqRel) {
            return Err(PyRuntimeError::new_err(
                "fit is already running on this network (in another thread or from its callback)",
            ));
        }
        let _fitting = Fitting(&self.fitting);
        let data = (x, y, sample_weight, validation_data);
        let settings = (config, metric);
        by_dtype!(self, fit_py(py, self, data, settings, callback))
    }
}

/// The value named `name` among `choices`, or an error listing the names.
fn pick<T: Copy, const N: usize>(
    kind: &'static str,
    name: &str,
    choices: [(&str, T); N],
) -> PyResult<T> {
    match choices.iter().find(|(n, _)| *n == name) {
        Some(&(_, value)) => Ok(value),
        None => Err(PyValueError::new_err(format!(
            "unknown {kind} {name:?}; expected one of {}",
            choices
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn dtype_name<T: StoredFloat>(_: &Network<T>) -> &'static str {
    T::NAME
}

/// The threads ferroprop's parallel work uses now (see `pool::num_threads`).
#[pyfunction]
fn get_num_threads() -> usize {
    crate::pool::num_threads()
}

/// Limits ferroprop's parallel work to `threads` threads (`None`: back to the default).
#[pyfunction]
#[pyo3(signature = (threads))]
fn set_num_threads(threads: Option<usize>) -> PyResult<()> {
    match threads {
        Some(0) => Err(PyValueError::new_err(
            "threads: must be at least 1 (or None for the default), got 0",
        )),
        t => {
            crate::pool::set_num_threads(t.unwrap_or(0));
            Ok(())
        }
    }
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNetwork>()?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
