//! The Python binding: `ferroprop._core`. Thin wrappers around the core, which never sees
//! Python. Arrays come in already converted to the network's dtype by the Python package;
//! shapes and values are validated by the core.
//!
//! Threads: the network sits behind a read-write lock (see `PyNetwork` for the rules that
//! keep it, the GIL and the pool free of deadlocks). `fit` trains a private copy and
//! publishes its weights after every epoch (every 50 ms without a callback): a `predict`
//! running meanwhile sees the weights of an epoch boundary, never a half-updated set.

mod convert;
mod errors;
mod fit;
mod network;
mod rate;
mod threads;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<network::PyNetwork>()?;
    m.add_function(wrap_pyfunction!(threads::get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(threads::set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(threads::packing_blocks, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
