//! Checkpoints whose tensors are already in memory (a Python `state_dict` of numpy arrays or
//! PyTorch tensors, or tensors a program built): the same [`Checkpoint`] as an opened file, so
//! planning, analysis and results cannot tell the difference.
//!
//! The bytes are borrowed from their owner through [`TensorData`] (no copy): the Python
//! binding hands over a view of each array's buffer that keeps the array alive.

use super::access::Access;
use super::dtype::{FloatDtype, safetensors_bits, storage_bytes};
use super::{Checkpoint, Layout, TensorInfo};
use crate::error::{Error, Result};
use memmap2::Mmap;
use std::collections::HashMap;
use std::path::PathBuf;

/// The bytes of one in-memory tensor: row-major (C order), little-endian, exactly
/// `prod(shape) x dtype size` long. They must not change while the checkpoint is in use.
pub type TensorData = Box<dyn AsRef<[u8]> + Send + Sync>;

/// One tensor handed to [`Checkpoint::from_memory`].
pub struct MemoryTensor {
    /// Name (as in a `state_dict`: `encoder.layer.0.attention.self.query.weight`).
    pub name: String,
    /// Storage dtype as a safetensors name (`F32`, `BF16`, `I64`, ...). Names htdiag cannot
    /// read as floats are kept and skipped by the planner, as in a file.
    pub dtype: String,
    /// Shape (row-major).
    pub shape: Vec<usize>,
    /// The bytes.
    pub data: TensorData,
}

/// Where a checkpoint's bytes live: a mapped file, or one caller-owned buffer per tensor.
pub(crate) enum Storage {
    Mapped(Mmap),
    Memory(TensorData),
}

impl Storage {
    /// All bytes of the file or buffer.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mapped(m) => m,
            Storage::Memory(d) => (**d).as_ref(),
        }
    }

    /// The mapping, for a file (page advice only applies to those).
    pub(crate) fn mapped(&self) -> Option<&Mmap> {
        match self {
            Storage::Mapped(m) => Some(m),
            Storage::Memory(_) => None,
        }
    }
}

impl Checkpoint {
    /// A checkpoint over tensors in memory, in the given order (it defines `layer_id`, as the
    /// file order does for a file). `source` names the checkpoint in results and error
    /// messages (e.g. `<state_dict>`); every tensor's [`TensorInfo::path`] is `source`.
    ///
    /// Fails with [`Error::Tensor`] when a name repeats or a tensor of a known dtype holds
    /// a number of bytes other than its shape needs.
    pub fn from_memory(source: impl Into<PathBuf>, tensors: Vec<MemoryTensor>) -> Result<Self> {
        let source = source.into();
        let mut seen: HashMap<String, ()> = HashMap::with_capacity(tensors.len());
        let mut infos = Vec::with_capacity(tensors.len());
        let mut files = Vec::with_capacity(tensors.len());
        for (i, t) in tensors.into_iter().enumerate() {
            let err = |reason: String| Error::Tensor {
                path: source.clone(),
                tensor: t.name.clone(),
                reason,
            };
            if seen.insert(t.name.clone(), ()).is_some() {
                return Err(err("the name appears twice".into()));
            }
            let len = (*t.data).as_ref().len();
            if let Some(bits) = safetensors_bits(&t.dtype) {
                match storage_bytes(&t.shape, bits) {
                    None => return Err(err(format!("shape {:?} overflows", t.shape))),
                    Some(n) if n != len => {
                        return Err(err(format!(
                            "shape {:?} of dtype {} needs {n} bytes, {len} given",
                            t.shape, t.dtype
                        )));
                    }
                    Some(_) => {}
                }
            }
            infos.push(TensorInfo {
                float_dtype: FloatDtype::from_safetensors(&t.dtype),
                name: t.name,
                dtype: t.dtype,
                shape: t.shape,
                shard: i,
                byte_range: 0..len,
                path: source.clone(),
            });
            files.push((source.clone(), Storage::Memory(t.data)));
        }
        Ok(Checkpoint {
            source,
            layout: Layout::Memory,
            files,
            // Row-major little-endian buffers, used in place.
            access: vec![Access::Direct; infos.len()],
            tensors: infos,
            notes: Vec::new(),
            dict_key: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(name: &str, dtype: &str, shape: &[usize], data: Vec<u8>) -> MemoryTensor {
        MemoryTensor {
            name: name.into(),
            dtype: dtype.into(),
            shape: shape.to_vec(),
            data: Box::new(data),
        }
    }

    #[test]
    fn memory_tensors_read_back_in_the_given_order() {
        let a: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let ckpt = Checkpoint::from_memory(
            "<state_dict>",
            vec![
                tensor("z.weight", "F32", &[2, 3], a.clone()),
                tensor("steps", "I64", &[], 7i64.to_le_bytes().to_vec()),
            ],
        )
        .unwrap();
        assert_eq!(ckpt.layout(), &Layout::Memory);
        let names: Vec<&str> = ckpt.tensors().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["z.weight", "steps"]);
        let bytes = ckpt.tensor_bytes(0).unwrap();
        assert_eq!(bytes, a.as_slice());
        assert!(
            matches!(bytes, std::borrow::Cow::Borrowed(_)),
            "read in place, not copied"
        );
        assert_eq!(ckpt.tensors()[0].float_dtype, Some(FloatDtype::F32));
        assert_eq!(ckpt.tensors()[1].float_dtype, None);
        ckpt.release(0); // a no-op for memory, must not fail
        assert_eq!(ckpt.tensor_bytes(0).unwrap(), a.as_slice());
    }

    #[test]
    fn wrong_length_and_repeated_names_are_errors_naming_the_tensor() {
        let e = Checkpoint::from_memory("<sd>", vec![tensor("w", "BF16", &[2, 2], vec![0; 6])])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "<sd>: tensor 'w': shape [2, 2] of dtype BF16 needs 8 bytes, 6 given"
        );
        let e = Checkpoint::from_memory(
            "<sd>",
            vec![
                tensor("w", "F16", &[1], vec![0; 2]),
                tensor("w", "F16", &[1], vec![0; 2]),
            ],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "<sd>: tensor 'w': the name appears twice");
    }
}
