//! In-memory tensors from Python (a `state_dict`) -> [`MemoryTensor`]s that borrow the arrays'
//! memory without copying it.
//!
//! The pure-Python side (`htdiag/_state.py`) turns each value into a C-contiguous,
//! little-endian buffer and hands over `(name, dtype, shape, owner, address, nbytes)`: `owner`
//! is the object that owns the memory at `address` (a numpy array or a torch tensor).

use htdiag::checkpoint::{Checkpoint, MemoryTensor};
use pyo3::prelude::*;

use crate::errors::to_py;

/// `nbytes` bytes at `address`, kept alive by a reference to their owner.
struct Borrowed {
    _owner: Py<PyAny>,
    address: usize,
    nbytes: usize,
}

// SAFETY: the memory belongs to `_owner`, which we hold a strong reference to, so it is not
// freed while this value exists; we only ever read it. Python code could still write to the
// array from another thread while an analysis runs, as with any numpy routine that releases
// the GIL; htdiag.analyze documents that the tensors must not change meanwhile.
unsafe impl Send for Borrowed {}
unsafe impl Sync for Borrowed {}

impl AsRef<[u8]> for Borrowed {
    fn as_ref(&self) -> &[u8] {
        if self.nbytes == 0 {
            return &[];
        }
        // SAFETY: `_owner` exposes `nbytes` readable, contiguous bytes at `address` (the
        // contract of `htdiag/_state.py`, which takes both from the same live buffer) and keeps
        // them alive (see above). Bytes have no alignment requirement.
        unsafe { std::slice::from_raw_parts(self.address as *const u8, self.nbytes) }
    }
}

/// One tensor as `_state.py` describes it.
type Described = (String, String, Vec<usize>, Py<PyAny>, usize, usize);

/// A checkpoint over the described tensors, in the given order.
pub fn checkpoint(py: Python<'_>, source: &str, tensors: Vec<Described>) -> PyResult<Checkpoint> {
    let tensors = tensors
        .into_iter()
        .map(
            |(name, dtype, shape, owner, address, nbytes)| MemoryTensor {
                name,
                dtype,
                shape,
                data: Box::new(Borrowed {
                    _owner: owner,
                    address,
                    nbytes,
                }),
            },
        )
        .collect();
    Checkpoint::from_memory(source, tensors).map_err(|e| to_py(py, e))
}
