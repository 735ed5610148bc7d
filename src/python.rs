//! The Python binding: `ferroprop._core`. Thin wrappers around the core, which never sees
//! Python. Arrays come in already converted to the network's dtype by the Python package;
//! shapes and values are validated by the core. Long work runs with the GIL released.

use crate::train::{EpochControl, Monitor};
use crate::{
    fit, Activation, Error, FitConfig, Float, Loss, Network, NetworkConfig, OptimizerConfig, Target,
};
use ndarray::{Array1, ArrayView1, ArrayView2};
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::time::{Duration, Instant};

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match err {
            Error::Type { .. } => PyTypeError::new_err(err.to_string()),
            _ => PyValueError::new_err(err.to_string()),
        }
    }
}

enum Inner {
    F32(Network<f32>),
    F64(Network<f64>),
}

/// Runs `$body` with `$net` bound to the network, whatever its dtype.
macro_rules! dispatch {
    ($inner:expr, $net:ident => $body:expr) => {
        match $inner {
            Inner::F32($net) => $body,
            Inner::F64($net) => $body,
        }
    };
}

/// The compiled network; `ferroprop.Network` wraps it.
#[pyclass(module = "ferroprop._core", name = "CoreNetwork")]
struct PyNetwork {
    inner: Inner,
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
    match obj.cast::<numpy::PyUntypedArray>() {
        Ok(a) => format!("a {}-D array of dtype {}", a.ndim(), a.dtype()),
        Err(_) => obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default(),
    }
}

/// Targets as the core takes them: a 2-D array of the dtype, or 1-D int64 class labels.
enum PyTarget<'py, T: Element> {
    Dense(PyReadonlyArray2<'py, T>),
    Labels(Array1<usize>),
}

impl<'py, T: Element + Float> PyTarget<'py, T> {
    fn extract(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(labels) = obj.extract::<PyReadonlyArray1<i64>>() {
            let labels = labels.as_array();
            if let Some(bad) = labels.iter().find(|&&c| c < 0) {
                return Err(PyValueError::new_err(format!(
                    "y: class labels must be non-negative, got {bad}"
                )));
            }
            return Ok(PyTarget::Labels(labels.mapv(|c| c as usize)));
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

fn weights_to_py<'py, T: Element + Float>(
    py: Python<'py>,
    net: &Network<T>,
) -> PyResult<Bound<'py, PyList>> {
    let pairs = net.get_weights().into_iter().map(|(w, b)| {
        PyTuple::new(
            py,
            [w.into_pyarray(py).into_any(), b.into_pyarray(py).into_any()],
        )
    });
    PyList::new(py, pairs.collect::<PyResult<Vec<_>>>()?)
}

fn set_weights_from_py<T: Element + Float>(
    net: &mut Network<T>,
    weights: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let mut arrays = Vec::new();
    for pair in weights.try_iter()? {
        let (w, b): (Bound<PyAny>, Bound<PyAny>) = pair?
            .extract()
            .map_err(|_| PyTypeError::new_err("weights: expected a list of (W, b) pairs"))?;
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
    Ok(net.set_weights(&views)?)
}

fn layer_array<'py, T: Element + Float>(
    py: Python<'py>,
    net: &Network<T>,
    k: usize,
    name: &str,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let layer = net
        .layers()
        .get(k)
        .ok_or_else(|| PyValueError::new_err(format!("layer index {k} out of range")))?;
    match name {
        "W" => return Ok(Some(PyArray2::from_array(py, &layer.w).into_any())),
        "b" => return Ok(Some(PyArray1::from_array(py, &layer.b).into_any())),
        _ => {}
    }
    let Some(cache) = net.cache().get(k) else {
        return Ok(None);
    };
    Ok(Some(match name {
        "z" => PyArray2::from_array(py, &cache.z).into_any(),
        "a" => PyArray2::from_array(py, &cache.a).into_any(),
        "dz" => PyArray2::from_array(py, &cache.dz).into_any(),
        "da" => PyArray2::from_array(py, &cache.da).into_any(),
        "dW" => PyArray2::from_array(py, &cache.dw).into_any(),
        "db" => PyArray1::from_array(py, &cache.db).into_any(),
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown layer array {name:?}; expected one of W, b, z, a, dz, dW, db, da"
            )))
        }
    }))
}

/// Calls the optional Python callback after each epoch and checks for Ctrl-C between
/// batches (at most every 50 ms), re-attaching to the interpreter only for that.
struct PyMonitor {
    callback: Option<Py<PyAny>>,
    last_check: Instant,
    error: Option<PyErr>,
}

impl PyMonitor {
    fn interrupt(&mut self, err: PyErr) -> Error {
        self.error = Some(err);
        Error::Interrupted
    }
}

impl Monitor for PyMonitor {
    fn between_batches(&mut self) -> crate::Result<()> {
        if self.last_check.elapsed() < Duration::from_millis(50) {
            return Ok(());
        }
        self.last_check = Instant::now();
        match Python::attach(|py| py.check_signals()) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.interrupt(e)),
        }
    }

    fn epoch_end(&mut self, epoch: usize, loss: f64) -> crate::Result<EpochControl> {
        self.last_check = Instant::now();
        let result = Python::attach(|py| -> PyResult<EpochControl> {
            py.check_signals()?;
            match &self.callback {
                None => Ok(EpochControl::Continue),
                Some(cb) => {
                    let stop = cb.call1(py, (epoch, loss))?;
                    Ok(if stop.bind(py).is_truthy()? {
                        EpochControl::Stop
                    } else {
                        EpochControl::Continue
                    })
                }
            }
        });
        result.map_err(|e| self.interrupt(e))
    }
}

#[allow(clippy::too_many_arguments)]
fn fit_py<T: Element + Float>(
    py: Python<'_>,
    net: &mut Network<T>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    config: FitConfig,
    callback: Option<Py<PyAny>>,
) -> PyResult<Vec<f64>> {
    let x = array2::<T>("X", x)?;
    let y = PyTarget::<T>::extract(y)?;
    let (xv, yv) = (x.as_array(), y.view());
    let mut monitor = PyMonitor {
        callback,
        last_check: Instant::now(),
        error: None,
    };
    let result = py.detach(|| fit(net, xv, yv, &config, &mut monitor));
    match (result, monitor.error) {
        (Err(Error::Interrupted), Some(err)) => Err(err),
        (result, _) => Ok(result?),
    }
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
        let inner = match dtype {
            "float32" => Inner::F32(Network::new(&config, seed)?),
            "float64" => Inner::F64(Network::new(&config, seed)?),
            _ => {
                return Err(Error::UnknownName {
                    kind: "dtype",
                    name: dtype.to_owned(),
                    expected: "float32, float64",
                }
                .into())
            }
        };
        Ok(PyNetwork { inner })
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        dispatch!(&self.inner, net => dtype_name(net))
    }

    #[getter]
    fn layer_sizes(&self) -> Vec<usize> {
        dispatch!(&self.inner, net => net.config().layer_sizes)
    }

    #[getter]
    fn activations(&self) -> Vec<&'static str> {
        dispatch!(&self.inner, net => net.layers().iter().map(|l| l.activation.name()).collect())
    }

    #[getter]
    fn loss_name(&self) -> &'static str {
        dispatch!(&self.inner, net => net.loss_fn().name())
    }

    fn forward<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        dispatch!(&mut self.inner, net => {
            let x = array2("X", x)?;
            let yhat = net.forward(x.as_array())?;
            Ok(PyArray2::from_array(py, &yhat).into_any())
        })
    }

    fn backward(&mut self, y: &Bound<'_, PyAny>) -> PyResult<()> {
        dispatch!(&mut self.inner, net => {
            let y = PyTarget::extract(y)?;
            Ok(net.backward(y.view())?)
        })
    }

    fn update(&mut self, learning_rate: f64) -> PyResult<()> {
        dispatch!(&mut self.inner, net => Ok(net.update(Float::c(learning_rate))?))
    }

    fn predict<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        dispatch!(&self.inner, net => {
            let x = array2("X", x)?;
            Ok(net.predict(x.as_array())?.into_pyarray(py).into_any())
        })
    }

    fn loss(&self, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>) -> PyResult<f64> {
        dispatch!(&self.inner, net => {
            let x = array2("X", x)?;
            let y = PyTarget::extract(y)?;
            Ok(net.loss(x.as_array(), y.view())?)
        })
    }

    #[pyo3(signature = (x, y, eps=None))]
    fn gradient_check(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        eps: Option<f64>,
    ) -> PyResult<f64> {
        dispatch!(&self.inner, net => {
            let x = array2("X", x)?;
            let y = PyTarget::extract(y)?;
            let (xv, yv) = (x.as_array(), y.view());
            Ok(py.detach(|| net.gradient_check(xv, yv, eps))?)
        })
    }

    fn get_weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        dispatch!(&self.inner, net => weights_to_py(py, net))
    }

    fn set_weights(&mut self, weights: &Bound<'_, PyAny>) -> PyResult<()> {
        dispatch!(&mut self.inner, net => set_weights_from_py(net, weights))
    }

    /// One array of layer `k` (`W, b, z, a, dz, dW, db, da`), copied; `None` for the pass
    /// values before the first `forward`.
    fn layer_array<'py>(
        &self,
        py: Python<'py>,
        k: usize,
        name: &str,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        dispatch!(&self.inner, net => layer_array(py, net, k, name))
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (x, y, *, epochs, learning_rate, batch_size, shuffle, seed, optimizer,
                        momentum, nesterov, beta_1, beta_2, epsilon, callback=None))]
    fn fit(
        &mut self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
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
        callback: Option<Py<PyAny>>,
    ) -> PyResult<Vec<f64>> {
        let optimizer = match optimizer {
            "sgd" => OptimizerConfig::Sgd { momentum, nesterov },
            "adam" => OptimizerConfig::Adam {
                beta_1,
                beta_2,
                epsilon,
            },
            _ => {
                return Err(Error::UnknownName {
                    kind: "optimizer",
                    name: optimizer.to_owned(),
                    expected: "sgd, adam",
                }
                .into())
            }
        };
        let config = FitConfig {
            epochs,
            learning_rate,
            batch_size,
            shuffle,
            seed,
            optimizer,
        };
        dispatch!(&mut self.inner, net => fit_py(py, net, x, y, config, callback))
    }
}

fn dtype_name<T: Float>(_: &Network<T>) -> &'static str {
    T::NAME
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNetwork>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
