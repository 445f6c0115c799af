//! Reading a checkpoint's tensors for an architecture builder, and writing a [`Net`] back as
//! safetensors under its PyTorch names: parameters and running statistics as F32,
//! `num_batches_tracked` as an I64 scalar, as `torch.save_file(model.state_dict())` does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};

use super::ir::{BufferData, Net};
use crate::checkpoint::dtype::FloatDtype;
use crate::error::{Error, Result};

/// One tensor of a checkpoint, widened to f32 (floats) or kept as i64 (integers).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values.
    pub data: BufferData,
}

/// All tensors of a checkpoint by name, and the file they came from (for messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensors {
    /// The file.
    pub path: PathBuf,
    /// By name.
    pub map: BTreeMap<String, Tensor>,
}

impl Tensors {
    /// Reads every tensor of a safetensors file. Float tensors of any width become f32;
    /// I64/I32 tensors (step counters) are kept as integers; other dtypes are refused.
    pub fn read(path: &Path) -> Result<Tensors> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut map = BTreeMap::new();
        for (name, view) in st.iter() {
            let terr = |reason: String| Error::Tensor {
                path: path.to_path_buf(),
                tensor: name.to_string(),
                reason,
            };
            let n: usize = view.shape().iter().product();
            let raw = view.data();
            let data = match view.dtype() {
                Dtype::I64 | Dtype::I32 => {
                    let w = if view.dtype() == Dtype::I64 { 8 } else { 4 };
                    if raw.len() != n * w {
                        return Err(terr("data length does not match shape".into()));
                    }
                    BufferData::I64(
                        raw.chunks_exact(w)
                            .map(|c| {
                                if w == 8 {
                                    i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))
                                } else {
                                    i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as i64
                                }
                            })
                            .collect(),
                    )
                }
                dt => {
                    let f = FloatDtype::from_safetensors(&format!("{dt:?}")).ok_or_else(|| {
                        terr(format!(
                            "dtype {dt:?} is neither a float nor an integer counter"
                        ))
                    })?;
                    if raw.len() != n * f.size() {
                        return Err(terr("data length does not match shape".into()));
                    }
                    BufferData::F32((0..n).map(|i| f.read(raw, i) as f32).collect())
                }
            };
            map.insert(
                name.to_string(),
                Tensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        Ok(Tensors {
            path: path.to_path_buf(),
            map,
        })
    }

    /// Shape of tensor `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.map.get(name).map(|t| &t.shape[..])
    }

    /// Whether tensor `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// An error about tensor `name` of this file.
    pub fn error(&self, name: &str, reason: impl Into<String>) -> Error {
        Error::Tensor {
            path: self.path.clone(),
            tensor: name.to_string(),
            reason: reason.into(),
        }
    }

    /// Shape of tensor `name`, or an error saying the architecture needs it.
    pub fn need(&self, name: &str, arch: &str) -> Result<&[usize]> {
        self.shape(name).ok_or_else(|| Error::Format {
            path: self.path.clone(),
            reason: format!("missing tensor '{name}' (architecture {arch})"),
        })
    }
}

impl Net {
    /// Writes parameters (F32) and buffers (F32, or I64 for step counters) under their names,
    /// atomically, with metadata `format = pt` and `htdiag_arch = arch`.
    pub fn save(&self, path: &Path, arch: &str) -> Result<()> {
        let bad = |e: safetensors::SafeTensorError| Error::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let mut views: Vec<(String, TensorView<'_>)> = Vec::new();
        for p in &self.params {
            let v = TensorView::new(Dtype::F32, p.shape.clone(), bytemuck::cast_slice(&p.data));
            views.push((p.name.clone(), v.map_err(bad)?));
        }
        for b in &self.buffers {
            let v = match &b.data {
                BufferData::F32(d) => {
                    TensorView::new(Dtype::F32, b.shape.clone(), bytemuck::cast_slice(d))
                }
                BufferData::I64(d) => {
                    TensorView::new(Dtype::I64, b.shape.clone(), bytemuck::cast_slice(d))
                }
            };
            views.push((b.name.clone(), v.map_err(bad)?));
        }
        let meta = std::collections::HashMap::from([
            ("format".to_string(), "pt".to_string()),
            ("htdiag_arch".to_string(), arch.to_string()),
        ]);
        let bytes = safetensors::serialize(views, Some(meta)).map_err(bad)?;
        crate::util::atomic_write(path, &bytes)
    }
}
