//! The spectrum a heavy-tailed penalty needs, obtained on the CPU at refresh steps.
//!
//! Design (see the README section "Training and regularize-and-compare"): every
//! `spectrum_every` steps the trainer reads each regularized weight matrix back, forms the Gram
//! matrix of its smaller side in f64 and eigendecomposes it with LAPACK (`dsyevd`). The
//! penalty's spectral part `g = dR/dlambda` is computed from those eigenvalues, and the pair
//! (V, g) goes to the backend, which assembles `2 mu W V diag(g) V^T` against the *current*
//! weights at every step. At refresh steps V and g belong to the current weights, so the
//! gradient is exact there; in between, the eigenvectors and g lag by at most
//! `spectrum_every - 1` steps while W is current.

use super::backend::GramSide;
use crate::error::{Error, Result};

/// Eigendecomposition of one layer's smaller-side Gram matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpectrum {
    /// `W^T W` (Right) or `W W^T` (Left).
    pub side: GramSide,
    /// min(out, in).
    pub n: usize,
    /// Eigenvalues (squared singular values), ascending, clamped at 0.
    pub eigenvalues: Vec<f64>,
    /// `n x n` row-major; column `i` is the eigenvector of `eigenvalues[i]`.
    pub vectors: Vec<f64>,
}

/// Decomposes the `out x in` row-major f32 matrix `w`.
pub fn decompose(w: &[f32], out: usize, inp: usize) -> Result<LayerSpectrum> {
    if w.len() != out * inp || out == 0 || inp == 0 {
        return Err(Error::InvalidArgument(format!(
            "weight of {} values for shape [{out}, {inp}]",
            w.len()
        )));
    }
    if w.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical(
            "non-finite weight: training diverged (lower the learning rate or mu)".into(),
        ));
    }
    let a: Vec<f64> = w.iter().map(|&v| v as f64).collect();
    // Row-major out x in is column-major A (in x out) with leading dimension `inp`.
    let (side, n) = if out < inp {
        (GramSide::Left, out)
    } else {
        (GramSide::Right, inp)
    };
    let mut g = vec![0.0f64; n * n];
    let (ni, oi, ii) = (n as i32, out as i32, inp as i32);
    unsafe {
        match side {
            // W W^T = A^T A.
            GramSide::Left => {
                blas::dgemm(b'T', b'N', ni, ni, ii, 1.0, &a, ii, &a, ii, 0.0, &mut g, ni)
            }
            // W^T W = A A^T.
            GramSide::Right => {
                blas::dgemm(b'N', b'T', ni, ni, oi, 1.0, &a, ii, &a, ii, 0.0, &mut g, ni)
            }
        }
    }
    let mut vals = crate::spectrum::symmetric_eigen(&mut g, n, true, false)?;
    for v in vals.iter_mut() {
        *v = v.max(0.0);
    }
    // LAPACK leaves eigenvector i in column i of a column-major array: g[i*n + r] = V[r][i].
    let mut vectors = vec![0.0; n * n];
    for i in 0..n {
        for r in 0..n {
            vectors[r * n + i] = g[i * n + r];
        }
    }
    Ok(LayerSpectrum {
        side,
        n,
        eigenvalues: vals,
        vectors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconstructs_gram() {
        for (out, inp) in [(3usize, 5usize), (5, 3)] {
            let w: Vec<f32> = (0..out * inp)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0)
                .collect();
            let s = decompose(&w, out, inp).unwrap();
            let n = s.n;
            assert_eq!(n, 3);
            // G = V diag(l) V^T must equal the Gram matrix of the smaller side.
            for i in 0..n {
                for j in 0..n {
                    let g: f64 = (0..n)
                        .map(|k| s.vectors[i * n + k] * s.eigenvalues[k] * s.vectors[j * n + k])
                        .sum();
                    let direct: f64 = if out < inp {
                        (0..inp)
                            .map(|c| w[i * inp + c] as f64 * w[j * inp + c] as f64)
                            .sum()
                    } else {
                        (0..out)
                            .map(|r| w[r * inp + i] as f64 * w[r * inp + j] as f64)
                            .sum()
                    };
                    assert!((g - direct).abs() < 1e-9, "{g} {direct}");
                }
            }
            assert!(s.eigenvalues.windows(2).all(|p| p[0] <= p[1]));
        }
    }
}
