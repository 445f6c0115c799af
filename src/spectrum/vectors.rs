//! Left singular vectors of a matrix, for the comparison of a merged LoRA weight with its
//! base (which of the merged weight's top directions are new).
//!
//! Route: the Gram matrix of the smaller side ([`gram_upper`]) and the symmetric
//! eigensolver with vectors. When `rows <= cols` the Gram is `W W^T` and its eigenvectors are
//! the left singular vectors; otherwise they are the right ones `v_i`, and `u_i = W v_i /
//! sigma_i` (for singular values above the numerical-rank tolerance).

use super::{gram_upper, symmetric_eigen};
use crate::error::Result;
use crate::matrices::MatrixRef;

/// Left singular vectors of `w`, largest singular value first.
#[derive(Debug, Clone, PartialEq)]
pub struct LeftVectors {
    /// Length of each vector (`w.rows`).
    pub dim: usize,
    /// Singular values, descending (one per vector).
    pub sigma: Vec<f64>,
    /// The vectors, concatenated: vector `i` is `u[i * dim..(i + 1) * dim]` (unit length).
    pub u: Vec<f64>,
}

impl LeftVectors {
    /// Vector `i`.
    pub fn vector(&self, i: usize) -> &[f64] {
        &self.u[i * self.dim..(i + 1) * self.dim]
    }
}

/// The left singular vectors of `w` for its `k` largest singular values above the
/// numerical-rank tolerance `sigma_max * max(rows, cols) * eps` (numpy's `matrix_rank` rule;
/// vectors of zero singular values are not determined by `w`). `k = usize::MAX` gives all.
pub fn top_left_singular_vectors(w: &MatrixRef<'_>, k: usize) -> Result<LeftVectors> {
    let (rows, cols) = (w.rows, w.cols);
    let (mut g, m) = gram_upper(w);
    let evals = symmetric_eigen(&mut g, m, true, false)?;
    let sigma_max = evals.last().copied().unwrap_or(0.0).max(0.0).sqrt();
    let tol = sigma_max * rows.max(cols) as f64 * f64::EPSILON;
    let mut out = LeftVectors {
        dim: rows,
        sigma: Vec::new(),
        u: Vec::new(),
    };
    for idx in (0..m).rev() {
        let s = evals[idx].max(0.0).sqrt();
        if out.sigma.len() == k || s <= tol {
            break;
        }
        let v = &g[idx * m..(idx + 1) * m];
        if rows <= cols {
            out.u.extend_from_slice(v);
        } else {
            // u = W v / sigma, row by row.
            let mut row = vec![0.0; cols];
            for r in 0..rows {
                w.rows_into(r, r + 1, &mut row);
                out.u
                    .push(row.iter().zip(v).map(|(a, b)| a * b).sum::<f64>() / s);
            }
        }
        out.sigma.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// W = diag(3, 2, 1) padded: the left vectors are the unit vectors, in order; the tall
    /// and the wide route agree.
    #[test]
    fn unit_vectors_of_a_diagonal() {
        for (rows, cols) in [(3, 5), (5, 3)] {
            let mut w = vec![0.0; rows * cols];
            for (i, s) in [3.0, 1.0, 2.0].iter().enumerate() {
                w[i * cols + i] = *s;
            }
            let lv = top_left_singular_vectors(&MatrixRef::from_f64(&w, rows, cols), 2).unwrap();
            assert_eq!(lv.sigma.len(), 2);
            assert!((lv.sigma[0] - 3.0).abs() < 1e-12 && (lv.sigma[1] - 2.0).abs() < 1e-12);
            assert!((lv.vector(0)[0].abs() - 1.0).abs() < 1e-12);
            assert!((lv.vector(1)[2].abs() - 1.0).abs() < 1e-12);
            let all = top_left_singular_vectors(&MatrixRef::from_f64(&w, rows, cols), usize::MAX)
                .unwrap();
            assert_eq!(all.sigma.len(), 3);
        }
    }
}
