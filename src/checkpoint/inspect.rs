//! `htdiag inspect`: what a checkpoint holds, from its headers alone (no tensor data is read).

use super::Checkpoint;
use serde::Serialize;

/// One tensor as `htdiag inspect` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectRow {
    /// Position in checkpoint order (the `layer_id` an analysis gives it).
    pub layer_id: usize,
    /// Tensor name.
    pub name: String,
    /// Storage dtype name as written in the header.
    pub dtype: String,
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// Number of elements.
    pub parameters: u64,
    /// Bytes of storage.
    pub bytes: u64,
    /// File name of the shard holding it.
    pub file: String,
}

/// One row per tensor, in checkpoint order.
pub fn inspect(ckpt: &Checkpoint) -> Vec<InspectRow> {
    ckpt.tensors()
        .iter()
        .enumerate()
        .map(|(i, t)| InspectRow {
            layer_id: i,
            name: t.name.clone(),
            dtype: t.dtype.clone(),
            shape: t.shape.clone(),
            parameters: t.num_elements(),
            bytes: t.byte_range.len() as u64,
            file: t
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| t.path.display().to_string()),
        })
        .collect()
}
