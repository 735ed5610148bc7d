//! The one mapping of the core's `Error` to Python exceptions.

use crate::Error;
use pyo3::exceptions::{
    PyFileExistsError, PyFileNotFoundError, PyIsADirectoryError, PyMemoryError, PyOSError,
    PyPermissionError, PyTypeError, PyValueError,
};
use pyo3::PyErr;
use std::io::ErrorKind;

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
