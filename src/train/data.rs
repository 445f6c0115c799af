//! Training data: a safetensors file with `x` (samples x features, any float dtype or U8)
//! and `y` (integer labels), or a pair of MNIST IDX files.
//!
//! Input scaling: integer pixels (U8 in safetensors, unsigned-byte IDX) are divided by 255 so
//! they lie in [0, 1], as torchvision's `ToTensor` does; float inputs are used as stored.
//! Tensors of rank > 2 (`n x 28 x 28`) are flattened row-major. No mean/std normalisation is
//! applied (the PyTorch reference protocol in REGULARIZATION.md uses plain [0, 1] pixels).

use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use safetensors::tensor::Dtype;

use crate::error::{Error, Result};

/// A labelled data set held in memory as f32 features.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `len x dim` features, row-major.
    pub x: Vec<f32>,
    /// `len` class labels.
    pub y: Vec<u32>,
    /// Features per sample.
    pub dim: usize,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether the set holds no sample.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Largest label + 1.
    pub fn num_classes(&self) -> usize {
        self.y.iter().max().map_or(0, |&m| m as usize + 1)
    }

    /// Features of sample `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// The samples at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let mut x = Vec::with_capacity(idx.len() * self.dim);
        for &i in idx {
            x.extend_from_slice(self.row(i));
        }
        Dataset {
            x,
            y: idx.iter().map(|&i| self.y[i]).collect(),
            dim: self.dim,
        }
    }

    /// The first `n` samples (all if fewer).
    pub fn head(&self, n: usize) -> Dataset {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset(&idx)
    }

    /// Splits off a test set of `round(len * fraction)` samples. Without `seed` the test set
    /// is the last rows (files such as mnist10k are pre-shuffled, and this reproduces the
    /// "rows 0-7999 train / 8000-9999 test" protocol); with a seed, a seeded random split.
    pub fn split(&self, fraction: f64, seed: Option<u64>) -> Result<(Dataset, Dataset)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::InvalidArgument(format!(
                "test fraction {fraction} must be in [0, 1)"
            )));
        }
        let n_test = (self.len() as f64 * fraction).round() as usize;
        let mut idx: Vec<usize> = (0..self.len()).collect();
        if let Some(s) = seed {
            shuffle(&mut idx, &mut ChaCha8Rng::seed_from_u64(s));
        }
        let cut = self.len() - n_test;
        let (mut tr, mut te) = (idx[..cut].to_vec(), idx[cut..].to_vec());
        tr.sort_unstable();
        te.sort_unstable();
        Ok((self.subset(&tr), self.subset(&te)))
    }

    /// Loads a data set: `*.safetensors` (tensors `x` and `y`), or an IDX image file whose
    /// labels are in `labels` (default: the MNIST sibling name, `images-idx3` ->
    /// `labels-idx1`).
    pub fn load(path: &Path, labels: Option<&Path>) -> Result<Dataset> {
        let is_st = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
        if is_st {
            load_safetensors(path)
        } else {
            let lab = match labels {
                Some(l) => l.to_path_buf(),
                None => idx_label_sibling(path)?,
            };
            load_idx_pair(path, &lab)
        }
    }
}

/// Fisher-Yates shuffle with a ChaCha stream (`next_u64 % (i + 1)`; the modulo bias is below
/// 1e-14 for any data-set size), stable across rand versions.
pub fn shuffle(v: &mut [usize], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// The sample order of epoch `epoch` for a run seeded with `seed`: a permutation of
/// `0..n` that depends only on (seed, epoch), so two runs with the same seed see the same
/// batches whatever else differs.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_da7a_0000_0000 ^ (epoch as u64));
    shuffle(&mut idx, &mut rng);
    idx
}

fn load_safetensors(path: &Path) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let get = |name: &str| {
        st.tensor(name).map_err(|_| Error::Tensor {
            path: path.to_path_buf(),
            tensor: name.to_string(),
            reason: "missing: a data file needs tensors 'x' (samples x features) and 'y' (labels)"
                .into(),
        })
    };
    let (xv, yv) = (get("x")?, get("y")?);
    let terr = |t: &str, reason: String| Error::Tensor {
        path: path.to_path_buf(),
        tensor: t.to_string(),
        reason,
    };
    let n = *xv
        .shape()
        .first()
        .ok_or_else(|| terr("x", "scalar, expected samples x features".into()))?;
    let dim: usize = xv.shape()[1..].iter().product();
    let x = decode(xv.dtype(), xv.data(), true, false).map_err(|r| terr("x", r))?;
    let yf = decode(yv.dtype(), yv.data(), false, false).map_err(|r| terr("y", r))?;
    if yf.len() != n {
        return Err(terr("y", format!("{} labels for {n} samples", yf.len())));
    }
    let y = labels_from(&yf).map_err(|r| terr("y", r))?;
    Ok(Dataset { x, y, dim })
}

/// Converts little- or big-endian storage to f32; bytes are scaled by 1/255 when `scale_u8`.
fn decode(
    dt: Dtype,
    data: &[u8],
    scale_u8: bool,
    big_endian: bool,
) -> std::result::Result<Vec<f32>, String> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            data.chunks_exact($n)
                .map(|c| {
                    let a: [u8; $n] = c.try_into().expect("chunk size");
                    (if big_endian {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    }) as f32
                })
                .collect()
        };
    }
    Ok(match dt {
        Dtype::U8 => data
            .iter()
            .map(|&b| if scale_u8 { b as f32 / 255.0 } else { b as f32 })
            .collect(),
        Dtype::I8 => data.iter().map(|&b| b as i8 as f32).collect(),
        Dtype::I16 => conv!(i16, 2),
        Dtype::I32 => conv!(i32, 4),
        Dtype::U32 => conv!(u32, 4),
        Dtype::I64 => conv!(i64, 8),
        Dtype::U64 => conv!(u64, 8),
        Dtype::F32 => conv!(f32, 4),
        Dtype::F64 => conv!(f64, 8),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => return Err(format!("unsupported dtype {other:?}")),
    })
}

fn labels_from(v: &[f32]) -> std::result::Result<Vec<u32>, String> {
    v.iter()
        .map(|&l| {
            if l >= 0.0 && l.fract() == 0.0 && l < 1e6 {
                Ok(l as u32)
            } else {
                Err(format!("label {l} is not a non-negative integer"))
            }
        })
        .collect()
}

fn idx_label_sibling(images: &Path) -> Result<PathBuf> {
    let name = images
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.contains("images-idx3") {
        Ok(images.with_file_name(name.replace("images-idx3", "labels-idx1")))
    } else {
        Err(Error::InvalidArgument(format!(
            "{}: not a .safetensors file; for IDX data give the labels file too (--labels)",
            images.display()
        )))
    }
}

/// Reads one IDX file: (shape, values as f32).
fn read_idx(path: &Path, scale_u8: bool) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |reason: String| Error::Format {
        path: path.to_path_buf(),
        reason: format!("IDX: {reason}"),
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("bad magic number".into()));
    }
    let (dt, size) = match bytes[2] {
        0x08 => (Dtype::U8, 1),
        0x09 => (Dtype::I8, 1),
        0x0B => (Dtype::I16, 2),
        0x0C => (Dtype::I32, 4),
        0x0D => (Dtype::F32, 4),
        0x0E => (Dtype::F64, 8),
        t => return Err(bad(format!("unknown type code {t:#x}"))),
    };
    let nd = bytes[3] as usize;
    let head = 4 + 4 * nd;
    if bytes.len() < head {
        return Err(bad("truncated header".into()));
    }
    let shape: Vec<usize> = (0..nd)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let n: usize = shape.iter().product();
    if bytes.len() != head + n * size {
        return Err(bad(format!(
            "{} data bytes for shape {shape:?} of {size}-byte values",
            bytes.len() - head
        )));
    }
    let v = decode(dt, &bytes[head..], scale_u8, true).map_err(bad)?;
    Ok((shape, v))
}

fn load_idx_pair(images: &Path, labels: &Path) -> Result<Dataset> {
    let (xs, x) = read_idx(images, true)?;
    let (ys, yf) = read_idx(labels, false)?;
    if xs.is_empty() || ys.len() != 1 || ys[0] != xs[0] {
        return Err(Error::Format {
            path: labels.to_path_buf(),
            reason: format!("IDX labels of shape {ys:?} for images of shape {xs:?}"),
        });
    }
    let y = labels_from(&yf).map_err(|r| Error::Format {
        path: labels.to_path_buf(),
        reason: r,
    })?;
    Ok(Dataset {
        x,
        y,
        dim: xs[1..].iter().product(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idx_roundtrip_and_scaling() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("t10k-images-idx3-ubyte");
        let lab = dir.path().join("t10k-labels-idx1-ubyte");
        let mut b = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2];
        b.extend([0u8, 255, 51, 102, 1, 2, 3, 4]);
        std::fs::write(&img, b).unwrap();
        std::fs::write(&lab, [0u8, 0, 8, 1, 0, 0, 0, 2, 7, 3]).unwrap();
        let d = Dataset::load(&img, None).unwrap();
        assert_eq!(d.dim, 4);
        assert_eq!(d.y, vec![7, 3]);
        assert_eq!(&d.x[..4], &[0.0, 1.0, 0.2, 0.4]);
        // Truncated file: clear error naming it.
        std::fs::write(&lab, [0u8, 0, 8, 1, 0, 0, 0, 3, 7, 3]).unwrap();
        let e = Dataset::load(&img, None).unwrap_err().to_string();
        assert!(e.contains("labels-idx1"), "{e}");
    }

    #[test]
    fn splits() {
        let d = Dataset {
            x: (0..20).map(|i| i as f32).collect(),
            y: (0..10).collect(),
            dim: 2,
        };
        let (tr, te) = d.split(0.2, None).unwrap();
        assert_eq!(te.y, vec![8, 9]);
        assert_eq!(tr.len(), 8);
        let (tr, te) = d.split(0.3, Some(1)).unwrap();
        assert_eq!(te.len(), 3);
        let mut all: Vec<u32> = tr.y.iter().chain(&te.y).copied().collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(d.split(0.3, Some(1)).unwrap().1, te);
        assert_eq!(te.row(0)[0], te.y[0] as f32 * 2.0);
        let a = epoch_order(10, 3, 0);
        assert_eq!(a, epoch_order(10, 3, 0));
        assert_ne!(a, epoch_order(10, 3, 1));
    }
}
