//! The pool's thread budget, for `ferroprop.get_num_threads` / `set_num_threads`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The threads ferroprop's parallel work uses now (see `pool::num_threads`).
#[pyfunction]
pub(super) fn get_num_threads() -> usize {
    crate::pool::num_threads()
}

/// Limits ferroprop's parallel work to `threads` threads (`None`: back to the default).
#[pyfunction]
#[pyo3(signature = (threads))]
pub(super) fn set_num_threads(threads: Option<usize>) -> PyResult<()> {
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
