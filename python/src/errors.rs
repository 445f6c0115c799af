//! The library's typed errors as the Python exceptions of `htdiag.errors`, with the library's
//! messages unchanged: the problem in the library's words, which name no command-line flag
//! (the command line adds its flag hints on top; Python hints, e.g. `key=`, are added where
//! the Python front knows the remedy).

use htdiag::Error;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;

/// The Python exception for a library error: `CheckpointError` (unreadable file, bad header,
/// bad tensor; with `path` and `tensor` attributes), `InvalidArgumentError`,
/// `NumericalError`, `GpuError`, `DataError` (with `path`), `ResultFileError`, or
/// `KeyboardInterrupt` for an interrupted run.
pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    let (class, path, tensor) = match &e {
        Error::Io { path, .. } | Error::Format { path, .. } => {
            ("CheckpointError", Some(path), None)
        }
        Error::Tensor { path, tensor, .. } => ("CheckpointError", Some(path), Some(tensor)),
        Error::Numerical(_) => ("NumericalError", None, None),
        Error::Gpu(_) => ("GpuError", None, None),
        Error::Data { path, .. } => ("DataError", Some(path), None),
        Error::InvalidArgument(_) => ("InvalidArgumentError", None, None),
        Error::Serde { path, .. } => ("ResultFileError", Some(path), None),
        Error::Interrupted => return PyKeyboardInterrupt::new_err(message),
    };
    let build = || -> PyResult<PyErr> {
        let cls = py.import("htdiag.errors")?.getattr(class)?;
        let exc = cls.call1((message.clone(),))?;
        exc.setattr("path", path.map(|p| p.display().to_string()))?;
        exc.setattr("tensor", tensor.cloned())?;
        Ok(PyErr::from_value(exc))
    };
    // If htdiag.errors cannot be imported (a broken install), still raise with the message.
    build().unwrap_or_else(|_| PyRuntimeError::new_err(message))
}

/// An `InvalidArgumentError` with this message (for options the binding itself checks).
pub fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py(py, Error::InvalidArgument(message.into()))
}
