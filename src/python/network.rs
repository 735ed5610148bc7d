//! `CoreNetwork`: the network behind its lock, and each method a thin wrapper around the
//! core's `Network` of the right dtype.

use super::convert::{array2, describe, weights1, PyTarget};
use super::fit::{self, fit_py};
use crate::io::{self, StoredFloat};
use crate::nn::dropout::Rates;
use crate::nn::layer::try_clone;
use crate::train::{FitBuffers, Mt19937};
use crate::AnyNetwork;
use crate::{check, Activation, Error, Float, LayerCache, Loss, Network, NetworkConfig, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use numpy::{Element, IntoPyArray, PyReadonlyArray1};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use std::any::Any;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

/// Runs `$body` with `$net` bound to the network, whatever its dtype.
macro_rules! on_network {
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
pub(super) struct PyNetwork {
    net: RwLock<AnyNetwork>,
    /// Set while a `fit` trains this network; cleared under the write lock of `net`.
    pub(super) fitting: AtomicBool,
    /// The last fit's buffers (a `FitBuffers<f32>` or `<f64>`), for the next fit: taken
    /// by `fit` alone (one at a time, `fitting`), never held while waiting on anything.
    buffers: Mutex<Option<Box<dyn Any + Send>>>,
    /// The last `predict`'s forward buffers (a `Vec<LayerCache<f32>>` or `<f64>`), for the
    /// next: taken with `try_lock`, so a `predict` running beside another uses its own.
    predict_buffers: Mutex<Option<Box<dyn Any + Send>>>,
    /// The network the last fit replaced, if at most `KEEP_SPARE` bytes: the next fit
    /// copies the weights it trains into its arrays (`Network::clone_params_into`) rather
    /// than into new ones. Taken and given back by `fit` alone, like `buffers`.
    spare: Mutex<Option<AnyNetwork>>,
}

impl PyNetwork {
    fn wrap(net: AnyNetwork) -> Self {
        PyNetwork {
            net: RwLock::new(net),
            fitting: AtomicBool::new(false),
            buffers: Mutex::new(None),
            predict_buffers: Mutex::new(None),
            spare: Mutex::new(None),
        }
    }

    /// `predict` through the buffers the last call left, if no other call has them now;
    /// keeps them for the next if they are at most `KEEP_BUFFERS` bytes.
    fn predict_reusing<T: Float>(&self, net: &Network<T>, x: ArrayView2<T>) -> Result<Array2<T>> {
        let mut slot = match self.predict_buffers.try_lock() {
            Ok(slot) => Some(slot),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None, // another predict has them
        };
        let mut ws = slot
            .as_mut()
            .and_then(|s| s.take())
            .and_then(|b| b.downcast::<Vec<LayerCache<T>>>().ok())
            .map_or_else(Vec::new, |b| *b);
        let result = net.predict_with(x, &mut ws);
        let bytes = ws.iter().map(|c| c.n_values()).sum::<usize>() * std::mem::size_of::<T>();
        if let Some(slot) = slot.as_mut().filter(|_| bytes <= KEEP_BUFFERS) {
            **slot = Some(Box::new(ws));
        }
        result
    }

    /// The buffers the last fit left, if they are of `T`.
    pub(super) fn take_buffers<T: Float>(&self) -> Option<FitBuffers<T>> {
        let kept = self
            .buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        kept.downcast::<FitBuffers<T>>().ok().map(|b| *b)
    }

    /// Keeps a fit's buffers for the next fit, if they are at most `KEEP_BUFFERS` bytes.
    pub(super) fn keep_buffers<T: Float>(&self, buffers: Option<FitBuffers<T>>) {
        let kept = buffers
            .filter(|b| b.bytes() <= KEEP_BUFFERS)
            .map(|b| Box::new(b) as Box<dyn Any + Send>);
        *self.buffers.lock().unwrap_or_else(|e| e.into_inner()) = kept;
    }

    /// The network the last fit replaced, if it is of `T`.
    pub(super) fn take_spare<T: crate::nn::NetworkFloat>(&self) -> Option<Network<T>> {
        let spare = self
            .spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        T::into_inner(spare)
    }

    /// Keeps the network a fit replaced for the next fit, if it is at most `KEEP_SPARE`
    /// bytes; drops it (outside the lock) otherwise.
    pub(super) fn keep_spare(&self, spare: AnyNetwork) {
        if spare.param_bytes() <= KEEP_SPARE {
            *self.spare.lock().unwrap_or_else(|e| e.into_inner()) = Some(spare);
        }
    }

    // A panic is a bug and never happens while the lock is held by ferroprop's own code;
    // if one did, the weights are still whole arrays, so the lock is taken regardless.
    pub(super) fn read(&self) -> RwLockReadGuard<'_, AnyNetwork> {
        self.net.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, AnyNetwork> {
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

/// A network keeps its last fit's buffers up to this size (64 MiB), so that the next fit
/// by batches of the same size (`partial_fit`'s, a streaming loop's) does not allocate,
/// zero and fault in its own; larger ones are freed. The trade: on 784-1024-1024-10 with
/// batches of 256 (44 MiB of buffers in float64) one fit call on one batch costs 1.1× its
/// share of a long fit with them kept, 1.4× without (`benches/per_call.py`), and a
/// process holding many fitted networks holds their buffers too.
const KEEP_BUFFERS: usize = 64 << 20;

/// A network keeps the weights (and optimizer state) its last fit replaced up to this
/// size (16 MiB), as the next fit's copy to train: a fit then copies into arrays already
/// faulted in, which a `partial_fit` pays on every call, at the price of a second copy
/// of the weights held between fits.
const KEEP_SPARE: usize = 16 << 20;

/// Clears `fitting` if `fit` ends before publishing its result (an error in its arguments).
pub(super) struct Fitting<'a>(&'a AtomicBool);

impl Drop for Fitting<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn is_f32(this: &PyNetwork) -> bool {
    matches!(*this.read(), AnyNetwork::F32(_))
}

fn weights_of<T: StoredFloat>(net: &Network<T>) -> crate::Result<Vec<(Array2<T>, Array1<T>)>> {
    net.get_weights()
}

/// One array of layer `k` (`W, b, z, a, dz, dW, db, da`, `mask`), copied, as a 2-D or 1-D
/// array.
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
        "dW" => LayerArray::Two(try_clone(&cache.grad.dw)?),
        "db" => LayerArray::One(try_clone(&cache.grad.db)?),
        "mask" if cache.masked() => LayerArray::Two(try_clone(&cache.mask)?),
        "mask" => return Ok(None),
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown layer array {name:?}; expected one of W, b, z, a, dz, dW, db, da, mask"
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
    /// Integers of any sign, names of any spelling and rates of any value: the core checks
    /// them all. `dropout`: one rate for every hidden layer, or a list of one per hidden
    /// layer.
    #[new]
    #[pyo3(signature = (layer_sizes, activations, loss, dtype, seed, dropout=None))]
    fn new(
        layer_sizes: Vec<i128>,
        activations: Vec<String>,
        loss: &str,
        dtype: &str,
        seed: i128,
        dropout: Option<DropoutArg>,
    ) -> PyResult<Self> {
        let layer_sizes = check::counts("layer_sizes", &layer_sizes)?;
        // Named as the argument: "unknown activations 'gelu'".
        let argument = |e| match e {
            Error::UnknownName {
                name,
                expected,
                hint,
                ..
            } => Error::UnknownName {
                kind: "activations",
                name,
                expected,
                hint,
            },
            e => e,
        };
        let activations = activations
            .iter()
            .map(|a| Activation::from_name(a).map_err(argument))
            .collect::<crate::Result<Vec<_>>>()?;
        let config = NetworkConfig::new(layer_sizes, activations, Loss::from_name(loss)?);
        let hidden = config.layer_sizes.len().saturating_sub(2);
        let rates = match dropout {
            None => Rates::Rate(0.0),
            Some(DropoutArg::Rate(p)) => Rates::Rate(p),
            Some(DropoutArg::Rates(r)) => Rates::Rates(r),
        };
        let config = config.with_dropout(rates.per_layer(hidden)?);
        let f32 = check::pick("dtype", dtype, &[("float32", true), ("float64", false)])?;
        let seed = check::seed("seed", seed)?;
        let net = match f32 {
            true => AnyNetwork::F32(Network::new(&config, seed)?),
            false => AnyNetwork::F64(Network::new(&config, seed)?),
        };
        Ok(PyNetwork::wrap(net))
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        on_network!(&*self.read(), net => dtype_name(net))
    }

    #[getter]
    fn layer_sizes(&self) -> Vec<usize> {
        on_network!(&*self.read(), net => net.config().layer_sizes)
    }

    #[getter]
    fn activations(&self) -> Vec<&'static str> {
        on_network!(&*self.read(), net => net.layers().iter().map(|l| l.activation.name()).collect())
    }

    #[getter]
    fn loss_name(&self) -> &'static str {
        on_network!(&*self.read(), net => net.loss_fn().name())
    }

    /// Dropout's rate of each hidden layer.
    #[getter]
    fn dropout(&self) -> Vec<f64> {
        on_network!(&*self.read(), net => net.dropout().to_vec())
    }

    /// `seed`: `None` for a pass that drops nothing, else the seed of a training pass's
    /// masks.
    #[pyo3(signature = (x, seed=None))]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        seed: Option<i128>,
    ) -> PyResult<Bound<'py, PyAny>> {
        fn run<'py, T: Element + StoredFloat>(
            py: Python<'py>,
            this: &PyNetwork,
            x: &Bound<'py, PyAny>,
            seed: Option<u64>,
        ) -> PyResult<Bound<'py, PyAny>> {
            let x = array2::<T>("X", x)?;
            let xv = x.as_array();
            let yhat = py.detach(|| -> PyResult<Array2<T>> {
                let mut guard = this.change("forward")?;
                let net = T::of(&mut guard).expect("dtype checked");
                let yhat = match seed {
                    Some(seed) => net.forward_train(xv, seed)?,
                    None => net.forward(xv)?,
                };
                Ok(try_clone(&yhat)?)
            })?;
            Ok(yhat.into_pyarray(py).into_any())
        }
        let seed = seed.map(|s| check::seed("seed", s)).transpose()?;
        by_dtype!(self, run(py, self, x, seed))
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
            Ok(on_network!(&mut *guard, net => net.update(crate::Float::c(learning_rate)))?)
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
            let yhat = py.detach(|| {
                this.predict_reusing(T::of_ref(&this.read()).expect("dtype checked"), xv)
            })?;
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

    /// `masks`: one entry per hidden layer, each `None` or a 2-D array of the dtype.
    #[pyo3(signature = (x, y, eps=None, masks=None))]
    fn gradient_check(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        eps: Option<f64>,
        masks: Option<Vec<Option<Bound<'_, PyAny>>>>,
    ) -> PyResult<f64> {
        fn run<T: Element + StoredFloat>(
            py: Python<'_>,
            this: &PyNetwork,
            (x, y): (&Bound<'_, PyAny>, &Bound<'_, PyAny>),
            eps: Option<f64>,
            masks: &[Option<Bound<'_, PyAny>>],
        ) -> PyResult<f64> {
            let (x, y) = (array2::<T>("X", x)?, PyTarget::<T>::extract(y)?);
            let (xv, yv) = (x.as_array(), y.view());
            let masks = masks
                .iter()
                .map(|m| m.as_ref().map(|m| array2::<T>("masks", m)).transpose())
                .collect::<PyResult<Vec<_>>>()?;
            let views: Vec<_> = masks
                .iter()
                .map(|m| m.as_ref().map(|m| m.as_array()))
                .collect();
            // A copy, so that a long check does not hold the lock.
            let net = py.detach(|| T::of_ref(&this.read()).map(|n| n.clone_params()));
            let net = net.expect("dtype checked")?;
            Ok(py.detach(|| net.gradient_check_masked(xv, yv, eps, &views))?)
        }
        let masks = masks.unwrap_or_default();
        by_dtype!(self, run(py, self, (x, y), eps, &masks))
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
            let w = w.map(|w| weights1::<T>("sample_weight", w)).transpose()?;
            let (xv, yv, wv) = (x.as_array(), y.view(), w.as_ref().map(|w| w.as_array()));
            let result = py.detach(|| {
                T::of_ref(&this.read())
                    .expect("dtype checked")
                    .loss_and_gradient(xv, yv, wv, alpha)
            })?;
            let pairs = result.gradients.into_iter().map(|g| {
                PyTuple::new(
                    py,
                    [
                        g.dw.into_pyarray(py).into_any(),
                        g.db.into_pyarray(py).into_any(),
                    ],
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

    /// One array of layer `k` (`W, b, z, a, dz, dW, db, da`, `mask`), copied; `None` for
    /// the pass values before the first `forward`, and for `mask` where the last `forward`
    /// dropped nothing.
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
            on_network!(&mut *guard, net => net.reset_optimizer());
            Ok(())
        })
    }

    /// The network as the bytes of a safetensors file.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| on_network!(&*self.read(), net => io::to_bytes(net)))?;
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
        Ok(py.detach(|| on_network!(&*self.read(), net => io::save(net, &path, optimizer_state)))?)
    }

    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        Ok(PyNetwork::wrap(py.detach(|| io::load(&path))?))
    }
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (x, y, *, epochs, learning_rate, batch_size, shuffle, seed, optimizer,
                        momentum, nesterov, beta_1, beta_2, epsilon, alpha=0.0,
                        sample_weight=None, schedule="constant", power_t=0.5,
                        weight_decay=0.0, warmup=0, t_max=None, step_size=None, gamma=0.1,
                        validation_data=None, validation_metric=None,
                        n_iter_no_change=None, tol=1e-4, early_stopping=false,
                        callback=None, scales=None, resume=None,
                        validation_sample_weight=None, best_weights=None, report=None,
                        numpy_stream=None, divergence="raise"))]
    fn fit<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        epochs: i128,
        learning_rate: &Bound<'py, PyAny>,
        batch_size: Option<i128>,
        shuffle: bool,
        seed: i128,
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
        weight_decay: f64,
        warmup: i128,
        t_max: Option<i128>,
        step_size: Option<i128>,
        gamma: f64,
        validation_data: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
        validation_metric: Option<&Bound<'py, PyAny>>,
        n_iter_no_change: Option<i128>,
        tol: f64,
        early_stopping: bool,
        callback: Option<Py<PyAny>>,
        scales: Option<(f64, f64, f64)>,
        resume: Option<fit::Resume>,
        validation_sample_weight: Option<&Bound<'py, PyAny>>,
        best_weights: Option<&Bound<'py, PyAny>>,
        report: Option<Py<PyAny>>,
        numpy_stream: Option<(PyReadonlyArray1<'py, u32>, usize)>,
        divergence: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        // A metric's name, or a callable (`Metric::External`).
        let (metric_name, metric_fn) = match validation_metric {
            None => (Some("loss".to_string()), None),
            Some(m) if m.is_callable() => (None, Some(m.clone().unbind())),
            Some(m) => (Some(m.extract::<String>()?), None),
        };
        // A callable learning rate is the schedule (`Callable`); η₀ is then unused.
        let rate = learning_rate
            .is_callable()
            .then(|| learning_rate.clone().unbind());
        let learning_rate = match rate {
            Some(_) => 1.0,
            None => learning_rate.extract::<f64>()?,
        };
        let numpy_stream = numpy_stream
            .map(|(key, pos)| Mt19937::from_state(&key.as_array().to_vec(), pos))
            .transpose()?;
        let (config, metric) = fit::config(fit::Args {
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
            validation_metric: metric_name.as_deref(),
            n_iter_no_change,
            tol,
            early_stopping,
            scales: scales.unwrap_or((1.0, 1.0, 1.0)),
            resume,
            torch: fit::TorchArgs {
                weight_decay,
                warmup,
                t_max,
                step_size,
                gamma,
                callable: rate.is_some(),
            },
            numpy_stream,
            divergence,
        })?;
        if self.fitting.swap(true, Ordering::AcqRel) {
            return Err(PyRuntimeError::new_err(
                "fit is already running on this network (in another thread or from its callback)",
            ));
        }
        let _fitting = Fitting(&self.fitting);
        let data = fit::FitData {
            x,
            y,
            sample_weight,
            validation: validation_data,
            validation_weight: validation_sample_weight,
            best_weights,
        };
        let settings = (config, metric);
        let hooks = fit::Hooks {
            callback,
            report,
            metric: metric_fn,
            rate,
        };
        by_dtype!(self, fit_py(py, self, data, settings, hooks))
    }
}

/// `dropout=`: one rate, or one per hidden layer (a float is not a list, so the order
/// matters only for the message of the core's check).
#[derive(FromPyObject)]
pub(super) enum DropoutArg {
    Rate(f64),
    Rates(Vec<f64>),
}

fn dtype_name<T: StoredFloat>(_: &Network<T>) -> &'static str {
    T::NAME
}
