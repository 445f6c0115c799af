//! Typed errors of the library. The binary wraps them in `anyhow`; the library never does.

use std::path::PathBuf;

/// Everything that can go wrong inside htdiag's library.
///
/// Variants that concern a file name it; variants that concern one tensor name the tensor too,
/// so a user can find the culprit in a checkpoint of hundreds of tensors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused a read or a write.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        // Not `#[source]`: the message already shows it, and `{:#}` would print it twice.
        source: std::io::Error,
    },
    /// A safetensors header (or shard index) that cannot be trusted.
    #[error("{path}: invalid checkpoint: {reason}")]
    Format { path: PathBuf, reason: String },
    /// A training or test data file (safetensors `x`/`y`, IDX, CIFAR batch) that cannot be
    /// read as a data set.
    #[error("{path}: invalid data file: {reason}")]
    Data { path: PathBuf, reason: String },
    /// A problem with one tensor of an otherwise readable file.
    #[error("{path}: tensor '{tensor}': {reason}")]
    Tensor {
        path: PathBuf,
        tensor: String,
        reason: String,
    },
    /// A numerical routine (LAPACK, the fit) could not produce a result.
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// The GPU (through wgpu) refused or lost work: a validation error, an out-of-memory
    /// error, a lost device or a failed read-back.
    #[error("GPU: {0}")]
    Gpu(String),
    /// Arguments that contradict each other or are out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A (de)serialisation failure of a result or options file.
    #[error("{path}: {reason}")]
    Serde { path: PathBuf, reason: String },
    /// Work stopped early because the caller asked for it (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

/// Result alias of the library.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for an [`Error::Io`] on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
