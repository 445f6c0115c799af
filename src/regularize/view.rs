//! Which matrices of a weight tensor a penalty acts on (issue 9 item 5), and the penalty of
//! the whole tensor from theirs.
//!
//! * [`MatrixView::Dense`]: a Linear weight `out x inp`, the tensor as is.
//! * [`MatrixView::ConvSlices`] (the default for a Conv2d weight `[out, inp, kh, kw]`): the
//!   `kh * kw` slices `W[:, :, i, j]` (`out x inp`, `i` outer, `j` inner), exactly the matrices
//!   `analyze` reports for the layer (METRICS.md section 1, WeightWatcher's conv view). Their
//!   eigenvalues are pooled into one ESD with the conv scaling of the pooled view (every conv
//!   matrix multiplied by `sqrt(1/2)`, so every eigenvalue is halved), and the penalty `R` is
//!   computed once on that pooled, scaled ESD. With `mu_k = lambda_k / 2` the chain rule gives
//!   `dR/dlambda_k = g_pooled(k) / 2`, and slice `s` receives `2 W_s V_s diag(g_s) V_s^T`.
//! * [`MatrixView::ConvFlatten`] (`--conv-matrix flatten`): the tensor as one
//!   `out x (inp*kh*kw)` matrix. PyTorch's `[out, inp, kh, kw]` row-major layout already is
//!   that matrix row-major, so it is a dense view of the same memory, unscaled.
//!
//! Depthwise convolutions (one input channel per group) are not penalised
//! ([`MatrixView::for_tensor`] says why): their slices are `out x 1` columns with a single
//! eigenvalue each.

use serde::{Deserialize, Serialize};

use super::spectral::{Decomposition, assemble_gradient, decompose};
use crate::error::{Error, Result};

/// How a penalised tensor is seen as matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MatrixView {
    /// A Linear weight, row-major `out x inp`.
    Dense {
        /// Rows.
        out: usize,
        /// Columns.
        inp: usize,
    },
    /// The `kh * kw` slices `W[:, :, i, j]` of a `[out, inp, kh, kw]` convolution weight,
    /// eigenvalues pooled and halved.
    ConvSlices {
        /// Output channels.
        out: usize,
        /// Input channels per group.
        inp: usize,
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
    },
    /// A `[out, inp, kh, kw]` convolution weight as one `out x (inp*kh*kw)` matrix.
    ConvFlatten {
        /// Rows.
        out: usize,
        /// `inp * kh * kw` columns.
        inp_khkw: usize,
    },
}

/// One matrix of a view: which slice (`None` for the whole tensor) and its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewMatrix {
    /// `(i, j)` of the slice `W[:, :, i, j]`, or `None`.
    pub slice: Option<(usize, usize)>,
    /// Rows of the matrix.
    pub rows: usize,
    /// Columns of the matrix.
    pub cols: usize,
}

/// The spectral part of one matrix's penalty gradient: `dR/dW_m = 2 W_m V diag(g) V^T`
/// (right side) or `2 U diag(g) U^T W_m` (left side), `V`/`U` from `dec`.
#[derive(Debug, Clone)]
pub struct MatrixPenalty {
    /// The matrix of the view it belongs to.
    pub matrix: ViewMatrix,
    /// Eigen-decomposition of the matrix's smaller Gram matrix (f64, unscaled).
    pub dec: Decomposition,
    /// `dR/dlambda_i` for the unscaled `dec.evals[i]` (conv scaling already applied).
    pub g: Vec<f64>,
}

/// The penalty of one tensor: its value and the per-matrix spectral parts.
#[derive(Debug, Clone)]
pub struct ViewPenalty {
    /// `R` of the pooled, scaled ESD (with the regularizer's weight and hinge if the
    /// coefficient function applied them).
    pub value: f64,
    /// One entry per matrix of the view.
    pub matrices: Vec<MatrixPenalty>,
}

impl MatrixView {
    /// The view of a weight tensor of shape `shape` (rank 2: dense; rank 4: conv, sliced
    /// unless `flatten`). `Ok(None)` with the reason for a tensor the penalty skips
    /// (a depthwise convolution), an error for other ranks or empty shapes.
    pub fn for_tensor(shape: &[usize], flatten: bool) -> Result<std::result::Result<Self, String>> {
        if shape.contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "penalty: empty weight tensor of shape {shape:?}"
            )));
        }
        match *shape {
            [out, inp] => Ok(Ok(MatrixView::Dense { out, inp })),
            [_, 1, _, _] => Ok(Err(
                "depthwise convolution (one input channel per group): not penalised".into(),
            )),
            [out, inp, kh, kw] if flatten => Ok(Ok(MatrixView::ConvFlatten {
                out,
                inp_khkw: inp * kh * kw,
            })),
            [out, inp, kh, kw] => Ok(Ok(MatrixView::ConvSlices { out, inp, kh, kw })),
            _ => Err(Error::InvalidArgument(format!(
                "penalty: a weight tensor of rank {} (shape {shape:?}) has no matrix view",
                shape.len()
            ))),
        }
    }

    /// Number of values of the tensor.
    pub fn len(&self) -> usize {
        match *self {
            MatrixView::Dense { out, inp } => out * inp,
            MatrixView::ConvSlices { out, inp, kh, kw } => out * inp * kh * kw,
            MatrixView::ConvFlatten { out, inp_khkw } => out * inp_khkw,
        }
    }

    /// Whether the tensor is empty (never, for a view made by [`MatrixView::for_tensor`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Factor applied to every eigenvalue before pooling (METRICS.md conv scaling).
    pub fn eig_scale(&self) -> f64 {
        match self {
            MatrixView::ConvSlices { .. } => 0.5,
            _ => 1.0,
        }
    }

    /// The matrices of the view, in `analyze`'s order (slices `i` outer, `j` inner).
    pub fn matrices(&self) -> Vec<ViewMatrix> {
        match *self {
            MatrixView::Dense { out, inp } => vec![ViewMatrix {
                slice: None,
                rows: out,
                cols: inp,
            }],
            MatrixView::ConvFlatten { out, inp_khkw } => vec![ViewMatrix {
                slice: None,
                rows: out,
                cols: inp_khkw,
            }],
            MatrixView::ConvSlices { out, inp, kh, kw } => (0..kh)
                .flat_map(|i| (0..kw).map(move |j| (i, j)))
                .map(|ij| ViewMatrix {
                    slice: Some(ij),
                    rows: out,
                    cols: inp,
                })
                .collect(),
        }
    }

    /// Index into the tensor of element `(r, c)` of matrix `m`.
    fn index(&self, m: &ViewMatrix, r: usize, c: usize) -> usize {
        match (*self, m.slice) {
            (MatrixView::ConvSlices { inp, kh, kw, .. }, Some((i, j))) => {
                ((r * inp + c) * kh + i) * kw + j
            }
            _ => r * m.cols + c,
        }
    }

    /// Matrix `m` of the tensor `w`, row-major `rows x cols`.
    pub fn gather<T: Copy>(&self, w: &[T], m: &ViewMatrix) -> Vec<T> {
        (0..m.rows)
            .flat_map(|r| (0..m.cols).map(move |c| (r, c)))
            .map(|(r, c)| w[self.index(m, r, c)])
            .collect()
    }

    /// `t[index of (r, c)] += x[r * cols + c]` for matrix `m`.
    pub fn scatter_add<T: Copy + std::ops::AddAssign>(&self, x: &[T], m: &ViewMatrix, t: &mut [T]) {
        for r in 0..m.rows {
            for c in 0..m.cols {
                t[self.index(m, r, c)] += x[r * m.cols + c];
            }
        }
    }

    fn check(&self, w: &[f64]) -> Result<()> {
        if w.len() != self.len() {
            return Err(Error::InvalidArgument(format!(
                "penalty: {} values for the view {self:?} of {} values",
                w.len(),
                self.len()
            )));
        }
        Ok(())
    }

    /// The pooled, scaled ESD of the tensor `w` (ascending): what `R` is computed on.
    pub fn pooled_eigenvalues(&self, w: &[f64]) -> Result<Vec<f64>> {
        self.check(w)?;
        let s = self.eig_scale();
        let mut pooled = Vec::new();
        for m in self.matrices() {
            let evals = super::spectral::eigenvalues(&self.gather(w, &m), m.rows, m.cols)?;
            pooled.extend(evals.iter().map(|l| l * s));
        }
        pooled.sort_by(f64::total_cmp);
        Ok(pooled)
    }

    /// Decomposes every matrix of `w`, pools the scaled eigenvalues (ascending) and hands
    /// them to `coefficients`, which returns `R` and `dR/dmu` per pooled value; maps the
    /// coefficients back to each matrix's own (unscaled) eigenvalues.
    pub fn penalty(
        &self,
        w: &[f64],
        coefficients: impl FnOnce(&[f64]) -> Result<(f64, Vec<f64>)>,
    ) -> Result<ViewPenalty> {
        self.check(w)?;
        let s = self.eig_scale();
        let mut decs = Vec::new();
        // (scaled eigenvalue, matrix, index) for every eigenvalue of every matrix.
        let mut pooled: Vec<(f64, usize, usize)> = Vec::new();
        for (k, m) in self.matrices().into_iter().enumerate() {
            let dec = decompose(&self.gather(w, &m), m.rows, m.cols)?;
            pooled.extend(dec.evals.iter().enumerate().map(|(i, &l)| (l * s, k, i)));
            decs.push((m, dec));
        }
        pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
        let values: Vec<f64> = pooled.iter().map(|p| p.0).collect();
        let (value, g) = coefficients(&values)?;
        if g.len() != values.len() {
            return Err(Error::InvalidArgument(format!(
                "penalty: {} coefficients for {} pooled eigenvalues",
                g.len(),
                values.len()
            )));
        }
        let mut matrices: Vec<MatrixPenalty> = decs
            .into_iter()
            .map(|(matrix, dec)| MatrixPenalty {
                matrix,
                g: vec![0.0; dec.n],
                dec,
            })
            .collect();
        for (&(_, k, i), gp) in pooled.iter().zip(&g) {
            matrices[k].g[i] = gp * s;
        }
        Ok(ViewPenalty { value, matrices })
    }

    /// `dR/dW` (same layout as `w`) of a [`ViewPenalty`] against the tensor `w`:
    /// every matrix's `2 W_m V diag(g) V^T` scattered back. With `w` the tensor the penalty
    /// was computed on, this is the exact gradient; with a later `w`, the stale-spectrum
    /// gradient a trainer applies between refreshes.
    pub fn gradient(&self, w: &[f64], p: &ViewPenalty) -> Result<Vec<f64>> {
        self.check(w)?;
        let mut grad = vec![0.0; w.len()];
        for mp in &p.matrices {
            let m = &mp.matrix;
            let part = assemble_gradient(&self.gather(w, m), m.rows, m.cols, &mp.dec, &mp.g)?;
            self.scatter_add(&part, m, &mut grad);
        }
        Ok(grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_follow_pytorch_layout() {
        let v = MatrixView::ConvSlices {
            out: 2,
            inp: 3,
            kh: 2,
            kw: 2,
        };
        let w: Vec<f64> = (0..v.len()).map(|i| i as f64).collect();
        let ms = v.matrices();
        assert_eq!(ms.len(), 4);
        assert_eq!(ms[1].slice, Some((0, 1)));
        // W[o, c, 0, 1] = ((o * 3 + c) * 2 + 0) * 2 + 1.
        let s = v.gather(&w, &ms[1]);
        assert_eq!(s, vec![1.0, 5.0, 9.0, 13.0, 17.0, 21.0]);
        let mut back = vec![0.0; w.len()];
        for m in &ms {
            v.scatter_add(&v.gather(&w, m), m, &mut back);
        }
        assert_eq!(back, w);
    }

    #[test]
    fn depthwise_and_bad_ranks() {
        assert!(
            MatrixView::for_tensor(&[8, 1, 3, 3], false)
                .unwrap()
                .is_err()
        );
        assert_eq!(
            MatrixView::for_tensor(&[8, 4, 3, 3], true).unwrap(),
            Ok(MatrixView::ConvFlatten {
                out: 8,
                inp_khkw: 36
            })
        );
        assert!(MatrixView::for_tensor(&[8, 4, 3], false).is_err());
        assert!(MatrixView::for_tensor(&[0, 4], false).is_err());
    }
}
