//! Opening what `htdiag.analyze` / `htdiag.inspect` are given, as `htdiag analyze` opens it:
//! a path (any checkpoint the library reads, or a PEFT LoRA adapter), or in-memory tensors
//! described by `htdiag/_state.py`.
//!
//! `key` is the command line's `--key`: the `/`-separated dict keys leading to the tensors of a
//! nested PyTorch checkpoint (Lightning `.ckpt`, `{"model": ...}`). A nested *mapping* given
//! from Python is resolved by `htdiag/__init__.py` before it gets here.

use std::path::{Path, PathBuf};

use htdiag::Error;
use htdiag::checkpoint::peft::{Adapter, find as find_adapter};
use htdiag::checkpoint::{Checkpoint, OpenOptions, mixed};
use pyo3::prelude::*;

use crate::errors::{invalid, to_py};
use crate::state;

/// An opened source.
pub enum Source {
    /// Tensors analysed one row per weight matrix.
    Plain(Checkpoint),
    /// A PEFT LoRA adapter: one row per adapted module (its update `s B A`).
    Adapter(Box<Adapter>),
}

impl Source {
    /// The checkpoint holding the tensors (an adapter's weight file).
    pub fn checkpoint(&self) -> &Checkpoint {
        match self {
            Source::Plain(c) => c,
            Source::Adapter(a) => &a.checkpoint,
        }
    }
}

/// Opens `source`: a path, or `(name, tensors)` from `_state.py` (then `key` must be None).
/// `adapters`: whether a LoRA adapter is opened as one (`analyze`) or as its weight file's
/// plain tensors (`inspect`, as `htdiag inspect` lists them).
pub fn open(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    key: Option<String>,
    adapters: bool,
) -> PyResult<Source> {
    if let Ok(path) = source.extract::<PathBuf>() {
        // Opening maps files and parses headers only: quick, but still done off the GIL.
        return py
            .detach(|| open_path(&path, key, adapters))
            .map_err(|e| to_py(py, e));
    }
    if let Some(k) = key {
        return Err(invalid(
            py,
            format!(
                "key={k:?} selects a dict inside a checkpoint file, not in tensors given in memory"
            ),
        ));
    }
    let (name, tensors): (String, Vec<_>) = source.extract()?;
    state::checkpoint(py, &name, tensors).map(Source::Plain)
}

fn open_path(path: &Path, key: Option<String>, adapters: bool) -> htdiag::Result<Source> {
    let opts = OpenOptions { key };
    if adapters && let Some((config, weights)) = find_adapter(path)? {
        return Adapter::open(&config, &weights, &opts).map(|a| Source::Adapter(Box::new(a)));
    }
    let ckpt = Checkpoint::open_with(path, &opts)?;
    // A folder of unrelated models is refused, as by the command line.
    if let Some(why) = mixed::separate_models(&ckpt) {
        return Err(Error::Format {
            path: path.to_path_buf(),
            reason: why,
        });
    }
    Ok(Source::Plain(ckpt))
}
