//! A data set in one safetensors file: `x` (samples first; U8 pixels are divided by 255) and
//! `y` (integer labels). `x` of rank 2 is flat features; rank 3 `[n, h, w]` is one-channel
//! images; rank 4 is `[n, c, h, w]` (PyTorch) or `[n, h, w, c]` (NumPy / TensorFlow image
//! arrays), as [`Layout`] says, stored as NCHW rows either way.

use std::path::Path;

use super::Dataset;
use super::decode::{decode, labels_from};
use crate::error::{Error, Result};

/// Axis order of a rank-4 `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// `[n, c, h, w]`.
    #[default]
    Nchw,
    /// `[n, h, w, c]` (channels last): transposed to NCHW at load.
    Nhwc,
}

impl std::str::FromStr for Layout {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "nchw" => Ok(Layout::Nchw),
            "nhwc" => Ok(Layout::Nhwc),
            _ => Err(Error::InvalidArgument(format!(
                "layout '{s}': expected nchw or nhwc"
            ))),
        }
    }
}

/// Reorders `n` samples of `[h, w, c]` into `[c, h, w]`.
fn nhwc_to_nchw(x: &[f32], n: usize, [c, h, w]: [usize; 3]) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    let per = c * h * w;
    for s in 0..n {
        let (src, dst) = (&x[s * per..(s + 1) * per], &mut out[s * per..(s + 1) * per]);
        for (p, px) in src.chunks_exact(c).enumerate() {
            for (k, &v) in px.iter().enumerate() {
                dst[k * h * w + p] = v;
            }
        }
    }
    out
}

/// Loads `x` and `y` from `path`.
pub fn load(path: &Path, layout: Layout) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = ::safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::Data {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let get = |name: &str| {
        st.tensor(name).map_err(|_| Error::Tensor {
            path: path.to_path_buf(),
            tensor: name.to_string(),
            reason: "missing: a data file needs tensors 'x' (samples first) and 'y' (labels)"
                .into(),
        })
    };
    let (xv, yv) = (get("x")?, get("y")?);
    let terr = |t: &str, reason: String| Error::Tensor {
        path: path.to_path_buf(),
        tensor: t.to_string(),
        reason,
    };
    let dims = xv.shape().to_vec();
    let n = *dims
        .first()
        .ok_or_else(|| terr("x", "scalar, expected samples x features".into()))?;
    let shape = match (dims.as_slice(), layout) {
        ([_], _) => return Err(terr("x", "rank 1, expected samples x features".into())),
        ([_, _], _) => None,
        ([_, h, w], _) => Some([1, *h, *w]),
        ([_, c, h, w], Layout::Nchw) => Some([*c, *h, *w]),
        ([_, h, w, c], Layout::Nhwc) => Some([*c, *h, *w]),
        _ => {
            return Err(terr(
                "x",
                format!("shape {dims:?}: expected rank 2 (n, features), 3 (n, h, w) or 4"),
            ));
        }
    };
    let dim: usize = dims[1..].iter().product();
    let mut x = decode(xv.dtype(), xv.data(), true, false).map_err(|r| terr("x", r))?;
    if let (Some(s), Layout::Nhwc, 4) = (shape, layout, dims.len()) {
        x = nhwc_to_nchw(&x, n, s);
    }
    let yf = decode(yv.dtype(), yv.data(), false, false).map_err(|r| terr("y", r))?;
    if yf.len() != n {
        return Err(terr("y", format!("{} labels for {n} samples", yf.len())));
    }
    let y = labels_from(&yf).map_err(|r| terr("y", r))?;
    let d = Dataset::new(x, y, dim).map_err(|e| terr("x", e.to_string()))?;
    match shape {
        Some(s) => d.with_shape(s),
        None => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::safetensors::tensor::{Dtype, TensorView};

    fn write(p: &Path, x_shape: &[usize], x: &[u8]) {
        let y = [3u8, 1];
        let t = [
            (
                "x",
                TensorView::new(Dtype::U8, x_shape.to_vec(), x).unwrap(),
            ),
            ("y", TensorView::new(Dtype::U8, vec![2], &y).unwrap()),
        ];
        ::safetensors::serialize_to_file(t, None, p).unwrap();
    }

    /// Two 2x3-pixel RGB samples stored channels-last equal the same samples stored
    /// channels-first, pixel for pixel (index arithmetic written out independently).
    #[test]
    fn nhwc_equals_nchw() {
        let dir = tempfile::tempdir().unwrap();
        let (n, c, h, w) = (2, 3, 2, 3);
        let val = |s: usize, k: usize, i: usize, j: usize| (s * 100 + k * 30 + i * 5 + j) as u8;
        let mut nchw = Vec::new();
        let mut nhwc = Vec::new();
        for s in 0..n {
            for k in 0..c {
                for i in 0..h {
                    for j in 0..w {
                        nchw.push(val(s, k, i, j));
                    }
                }
            }
            for i in 0..h {
                for j in 0..w {
                    for k in 0..c {
                        nhwc.push(val(s, k, i, j));
                    }
                }
            }
        }
        let (a, b) = (
            dir.path().join("a.safetensors"),
            dir.path().join("b.safetensors"),
        );
        write(&a, &[n, c, h, w], &nchw);
        write(&b, &[n, h, w, c], &nhwc);
        let da = load(&a, Layout::Nchw).unwrap();
        let db = load(&b, Layout::Nhwc).unwrap();
        assert_eq!(da.shape, Some([3, 2, 3]));
        assert_eq!(da, db);
        assert_eq!(da.row(1)[h * w], val(1, 1, 0, 0) as f32 / 255.0);
        assert_eq!(da.y, vec![3, 1]);
        // The same bytes read with the wrong layout have another shape.
        assert_eq!(load(&b, Layout::Nchw).unwrap().shape, Some([2, 3, 3]));
    }

    #[test]
    fn ranks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.safetensors");
        write(&p, &[2, 4], &[0; 8]);
        assert_eq!(load(&p, Layout::Nchw).unwrap().shape, None);
        write(&p, &[2, 2, 2], &[0; 8]);
        assert_eq!(load(&p, Layout::Nchw).unwrap().shape, Some([1, 2, 2]));
        write(&p, &[2, 1, 1, 2, 2], &[0; 8]);
        let e = load(&p, Layout::Nchw).unwrap_err().to_string();
        assert!(e.contains("'x'") || e.contains("x"), "{e}");
        assert!(e.contains("rank 2"), "{e}");
        assert!("NHWC".parse::<Layout>().is_ok() && "hwc".parse::<Layout>().is_err());
    }
}
