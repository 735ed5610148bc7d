//! The pool's thread budget, for `ferroprop.get_num_threads` / `set_num_threads`, and a
//! reading of the blocks the products pack into, for the tests.

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

/// The blocks gemm's packing buffers are served from (`kernels/packing.rs`): a dict of
/// `blocks` and `bytes` kept now, and `served` and `allocated` so far. For the tests.
#[pyfunction]
#[pyo3(name = "_packing_blocks")]
pub(super) fn packing_blocks(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let stats = crate::kernels::packing::BLOCKS.stats();
    let dict = pyo3::types::PyDict::new(py);
    dict.set_item("blocks", stats.blocks)?;
    dict.set_item("bytes", stats.bytes)?;
    dict.set_item("served", stats.served)?;
    dict.set_item("allocated", stats.allocated)?;
    Ok(dict)
}
