//! NumPy arrays in: the dtype and dimensions the core takes, or a `TypeError` naming the
//! argument. (The Python package has already converted them; this is the last check.)

use crate::io::StoredFloat;
use crate::nn::layer::try_clone;
use crate::Target;
use ndarray::{Array1, Array2};
use numpy::{Element, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

pub(super) fn array2<'py, T: Element>(
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

pub(super) fn describe(obj: &Bound<'_, PyAny>) -> String {
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
pub(super) fn weights1<'py, T: Element>(
    arg: &'static str,
    w: &Bound<'py, PyAny>,
) -> PyResult<PyReadonlyArray1<'py, T>> {
    w.extract::<PyReadonlyArray1<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{arg}: expected a 1-D array of the network's dtype, got {}",
            describe(w)
        ))
    })
}

/// `(W, b)` pairs of the network's dtype, copied (the best weights of a resumed fit).
pub(super) fn weight_pairs<T: Element + crate::Float>(
    arg: &'static str,
    obj: &Bound<'_, PyAny>,
) -> PyResult<Vec<(Array2<T>, Array1<T>)>> {
    let mut pairs = Vec::new();
    for pair in obj.try_iter()? {
        let (w, b): (Bound<PyAny>, Bound<PyAny>) = pair?
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("{arg}: expected (W, b) pairs")))?;
        let w = array2::<T>(arg, &w)?;
        let b = b.extract::<PyReadonlyArray1<T>>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{arg}: expected b as a 1-D array, got {}",
                describe(&b)
            ))
        })?;
        pairs.push((try_clone(&w.as_array())?, try_clone(&b.as_array())?));
    }
    Ok(pairs)
}

/// Targets as the core takes them: a 2-D array of the dtype, or 1-D int64 class labels.
pub(super) enum PyTarget<'py, T: Element> {
    Dense(PyReadonlyArray2<'py, T>),
    Labels(Array1<usize>),
}

impl<'py, T: Element + StoredFloat> PyTarget<'py, T> {
    pub(super) fn extract(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(labels) = obj.extract::<PyReadonlyArray1<i64>>() {
            let labels = labels.as_array();
            if let Some(bad) = labels.iter().find(|&&c| c < 0) {
                return Err(PyValueError::new_err(format!(
                    "y must hold class labels in [0, n_outputs), got {bad}: out of range"
                )));
            }
            let n = labels.len();
            let labels = crate::nn::layer::try_collect(labels.iter().map(|&c| c as usize), || {
                format!("{n} class labels")
            })?;
            return Ok(PyTarget::Labels(Array1::from_vec(labels)));
        }
        Ok(PyTarget::Dense(array2("y", obj)?))
    }

    pub(super) fn view(&self) -> Target<'_, T> {
        match self {
            PyTarget::Dense(y) => Target::Dense(y.as_array()),
            PyTarget::Labels(l) => Target::Labels(l.view()),
        }
    }
}
