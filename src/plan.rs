//! Which tensors to analyse, and as what (METRICS.md section 1).
//!
//! - rank 2 -> `dense`: the tensor as it is, N = larger side, M = smaller, rf = 1 (Linear,
//!   Embedding, GPT-2's Conv1D: the orientation does not change the eigenvalues of W^T W).
//! - rank 4 `(out, in, kh, kw)` -> `conv2d`: the kh*kw slices `W[:, :, i, j]` (i outer, j inner).
//!   By default one "pooled" row whose spectrum is all slices' eigenvalues together (rf = kh*kw);
//!   with `per_slice`, one row per slice with `slice_id = i*kw + j`.
//! - everything else, non-float dtypes, and tensors outside the size limits are skipped with a
//!   reason that names the numbers and the option that would include them.
//!
//! Conv scaling (Martin & Mahoney's WeightWatcher convention, METRICS.md): every conv matrix is
//! multiplied by sqrt(c/2), c = 1 pooled and c = kh*kw per slice, i.e. eigenvalues are
//! multiplied by [`PlannedLayer::eval_scale`]. Dense layers are never scaled.

mod lora;

pub use lora::{AdapterPlan, MergedPlan, MergedRow, PlannedLora, plan_adapter, plan_merged};

use crate::checkpoint::TensorInfo;
use crate::checkpoint::dtype::FloatDtype;
use crate::error::{Error, Result};
use crate::matrices::MatrixRef;
use crate::result::{LayerType, SkippedTensor};
use regex::Regex;
use std::path::PathBuf;

/// What to analyse. The defaults are WeightWatcher's.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Skip rows with fewer eigenvalues (M*rf; M per slice).
    pub min_evals: usize,
    /// Skip rows with more eigenvalues than this (cost grows with the cube).
    pub max_evals: usize,
    /// Skip matrices whose larger side N exceeds this (big embeddings, lm_heads).
    pub max_n: usize,
    /// One row per conv slice instead of one pooled row per conv layer.
    pub per_slice: bool,
    /// Scale conv eigenvalues by c/2 (see the module docs).
    pub conv_scaling: bool,
    /// Analyse only tensors whose name matches (regex search, not full match).
    pub layers: Option<Regex>,
    /// Skip tensors whose name matches (regex search), after `layers`.
    pub exclude: Option<Regex>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            min_evals: 8,
            max_evals: 15000,
            max_n: 50000,
            per_slice: false,
            conv_scaling: true,
            layers: None,
            exclude: None,
        }
    }
}

/// One row to analyse: a dense layer, a pooled conv layer, or one conv slice.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedLayer {
    /// Position of the tensor in checkpoint order (= index into `Checkpoint::tensors`).
    pub layer_id: usize,
    /// Tensor name.
    pub name: String,
    /// Kind of layer.
    pub layer_type: LayerType,
    /// Storage dtype.
    pub dtype: FloatDtype,
    /// Tensor shape as stored.
    pub shape: Vec<usize>,
    /// File holding the tensor (for error messages).
    pub path: PathBuf,
    /// Larger dimension of one matrix.
    pub n: usize,
    /// Smaller dimension of one matrix.
    pub m: usize,
    /// Matrices pooled into this row (kh*kw for a pooled conv, else 1).
    pub rf: usize,
    /// Kernel position `i*kw + j` for per-slice rows.
    pub slice_id: Option<usize>,
    /// Factor to multiply every eigenvalue of this row by (conv scaling; 1 for dense).
    pub eval_scale: f64,
}

impl PlannedLayer {
    /// N / M.
    pub fn q(&self) -> f64 {
        self.n as f64 / self.m as f64
    }

    /// Number of eigenvalues of the row (M * rf).
    pub fn num_evals(&self) -> usize {
        self.m * self.rf
    }

    /// The row's matrices over the tensor's bytes (from `Checkpoint::tensor_bytes`): one for
    /// dense and per-slice rows, kh*kw for a pooled conv (i outer, j inner). Their pooled
    /// eigenvalues, times [`eval_scale`](Self::eval_scale), are the row's spectrum.
    pub fn matrices<'a>(&self, bytes: &'a [u8]) -> Result<Vec<MatrixRef<'a>>> {
        let numel: usize = self.shape.iter().product();
        if bytes.len() != numel * self.dtype.size() {
            return Err(Error::Tensor {
                path: self.path.clone(),
                tensor: self.name.clone(),
                reason: format!(
                    "{} bytes given for shape {:?} of {}",
                    bytes.len(),
                    self.shape,
                    self.dtype
                ),
            });
        }
        Ok(match (self.layer_type, self.shape.as_slice()) {
            (LayerType::Conv2d, &[o, i, kh, kw]) => {
                let at = |s: usize| {
                    MatrixRef::conv_slice(bytes, self.dtype, [o, i, kh, kw], s / kw, s % kw)
                };
                match self.slice_id {
                    Some(s) => vec![at(s)],
                    None => (0..kh * kw).map(at).collect(),
                }
            }
            (_, &[r, c]) => vec![MatrixRef::dense(bytes, self.dtype, r, c)],
            _ => {
                return Err(Error::Tensor {
                    path: self.path.clone(),
                    tensor: self.name.clone(),
                    reason: format!(
                        "shape {:?} does not fit a {:?} row",
                        self.shape, self.layer_type
                    ),
                });
            }
        })
    }
}

/// The outcome of planning: rows to analyse and tensors skipped, both in `layer_id` order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Rows to analyse (per-slice rows of one tensor are consecutive, by slice_id).
    pub layers: Vec<PlannedLayer>,
    /// Tensors not analysed, with their reasons.
    pub skipped: Vec<SkippedTensor>,
}

/// Eigenvalue factor of conv scaling: matrices scaled by sqrt(c/2), c = 1 pooled, kh*kw per
/// slice (METRICS.md section 1); 1 when scaling is off.
pub fn conv_eval_scale(kh: usize, kw: usize, per_slice: bool, conv_scaling: bool) -> f64 {
    match (conv_scaling, per_slice) {
        (false, _) => 1.0,
        (true, false) => 0.5,
        (true, true) => (kh * kw) as f64 / 2.0,
    }
}

/// Decides, for every tensor (in checkpoint order), what is analysed and what is skipped.
pub fn plan(tensors: &[TensorInfo], opts: &PlanOptions) -> Plan {
    let mut out = Plan::default();
    for (layer_id, t) in tensors.iter().enumerate() {
        match plan_one(layer_id, t, opts) {
            Ok(rows) => out.layers.extend(rows),
            Err(reason) => out.skipped.push(SkippedTensor {
                layer_id,
                name: t.name.clone(),
                dtype: t.dtype.clone(),
                shape: t.shape.clone(),
                reason,
            }),
        }
    }
    out
}

/// The rows of one tensor, or the reason it is skipped.
fn plan_one(
    layer_id: usize,
    t: &TensorInfo,
    opts: &PlanOptions,
) -> std::result::Result<Vec<PlannedLayer>, String> {
    if let Some(re) = &opts.layers
        && !re.is_match(&t.name)
    {
        return Err(format!("name does not match the layers filter /{re}/"));
    }
    if let Some(re) = &opts.exclude
        && re.is_match(&t.name)
    {
        return Err(format!("name matches the exclude filter /{re}/"));
    }
    let Some(dtype) = t.float_dtype else {
        return Err(format!("dtype {} is not a float", t.dtype));
    };
    let (layer_type, n, m, kh, kw) = match t.shape.as_slice() {
        &[r, c] => (LayerType::Dense, r.max(c), r.min(c), 1, 1),
        &[o, i, kh, kw] => (LayerType::Conv2d, o.max(i), o.min(i), kh, kw),
        [] => return Err("rank-0 tensor (scalar)".into()),
        [_] => return Err("rank-1 tensor (bias/norm)".into()),
        s => {
            return Err(format!(
                "rank-{} tensor (neither dense (rank 2) nor conv2d (rank 4))",
                s.len()
            ));
        }
    };
    if t.shape.contains(&0) {
        return Err(format!("empty tensor (shape {:?})", t.shape));
    }
    let per_slice = layer_type == LayerType::Conv2d && opts.per_slice;
    let rf = if per_slice { 1 } else { kh * kw };
    let evals = m * rf;
    let what = if per_slice {
        format!("M = {m} per slice")
    } else {
        format!("M*rf = {m}*{rf} = {evals}")
    };
    if evals < opts.min_evals {
        return Err(format!(
            "{what} < min_evals {} (lower min_evals to analyse it)",
            opts.min_evals
        ));
    }
    if evals > opts.max_evals {
        return Err(format!(
            "{what} > max_evals {} (raise max_evals to analyse it)",
            opts.max_evals
        ));
    }
    if n > opts.max_n {
        return Err(format!(
            "N = {n} > max_n {} (raise max_n to analyse it)",
            opts.max_n
        ));
    }
    let eval_scale = match layer_type {
        LayerType::Conv2d => conv_eval_scale(kh, kw, per_slice, opts.conv_scaling),
        LayerType::Dense | LayerType::Lora => 1.0,
    };
    let row = |slice_id| PlannedLayer {
        layer_id,
        name: t.name.clone(),
        layer_type,
        dtype,
        shape: t.shape.clone(),
        path: t.path.clone(),
        n,
        m,
        rf,
        slice_id,
        eval_scale,
    };
    Ok(if per_slice {
        (0..kh * kw).map(|s| row(Some(s))).collect()
    } else {
        vec![row(None)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, dtype: &str, shape: &[usize]) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            dtype: dtype.into(),
            float_dtype: FloatDtype::from_safetensors(dtype),
            shape: shape.to_vec(),
            shard: 0,
            byte_range: 0..0,
            path: "m.safetensors".into(),
        }
    }

    #[test]
    fn dense_and_conv_rows() {
        let t = [
            info("a", "F32", &[10, 64]),
            info("b", "F32", &[16, 8, 3, 3]),
            info("c", "I64", &[4, 4]),
        ];
        let p = plan(&t, &PlanOptions::default());
        assert_eq!(p.layers.len(), 2);
        let a = &p.layers[0];
        assert_eq!((a.n, a.m, a.rf, a.eval_scale), (64, 10, 1, 1.0));
        let b = &p.layers[1];
        assert_eq!(
            (b.layer_id, b.n, b.m, b.rf, b.eval_scale),
            (1, 16, 8, 9, 0.5)
        );
        assert_eq!(p.skipped[0].layer_id, 2);
        assert_eq!(p.skipped[0].reason, "dtype I64 is not a float");
    }

    #[test]
    fn per_slice_rows_and_scale() {
        let t = [info("b", "F32", &[16, 8, 3, 3])];
        let opts = PlanOptions {
            per_slice: true,
            ..Default::default()
        };
        let p = plan(&t, &opts);
        assert_eq!(p.layers.len(), 9);
        for (s, r) in p.layers.iter().enumerate() {
            assert_eq!(
                (r.slice_id, r.rf, r.eval_scale, r.num_evals()),
                (Some(s), 1, 4.5, 8)
            );
        }
        let off = PlanOptions {
            conv_scaling: false,
            ..opts
        };
        assert!(plan(&t, &off).layers.iter().all(|r| r.eval_scale == 1.0));
    }

    #[test]
    fn filters_say_numbers_and_option() {
        let t = [
            info("small", "F32", &[2, 64]),
            info("big", "F32", &[60000, 64]),
            info("wide", "F32", &[16000, 16000]),
        ];
        let p = plan(&t, &PlanOptions::default());
        assert!(p.layers.is_empty());
        assert_eq!(
            p.skipped[0].reason,
            "M*rf = 2*1 = 2 < min_evals 8 (lower min_evals to analyse it)"
        );
        assert_eq!(
            p.skipped[1].reason,
            "N = 60000 > max_n 50000 (raise max_n to analyse it)"
        );
        assert!(p.skipped[2].reason.contains("> max_evals 15000"));
    }

    #[test]
    fn matrices_cut_conv_slices_in_order() {
        // W[a, b, c, d] = 1000a + 100b + 10c + d, shape (2, 3, 2, 2), f64.
        let shape = [2usize, 3, 2, 2];
        let mut w = Vec::new();
        for a in 0..2 {
            for b in 0..3 {
                for c in 0..2 {
                    for d in 0..2 {
                        w.push((1000 * a + 100 * b + 10 * c + d) as f64);
                    }
                }
            }
        }
        let bytes: &[u8] = bytemuck::cast_slice(&w);
        let opts = PlanOptions {
            min_evals: 1,
            ..Default::default()
        };
        let p = plan(&[info("k", "F64", &shape)], &opts);
        let mats = p.layers[0].matrices(bytes).unwrap();
        assert_eq!(mats.len(), 4);
        for (s, m) in mats.iter().enumerate() {
            let (c, d) = (s / 2, s % 2);
            assert_eq!((m.rows, m.cols), (2, 3));
            assert_eq!(m.get(1, 2), (1000 + 200 + 10 * c + d) as f64);
        }
        assert!(p.layers[0].matrices(&bytes[8..]).is_err());
    }
}
