//! Eigenvalues of W^T W (METRICS.md section 2).
//!
//! The route is "Gram matrix of the smaller side + symmetric eigensolver without vectors",
//! in f64: 3-5x faster than an SVD at every size we measured (see `spec/PERFORMANCE.md` and
//! `examples/bench_eigen.rs`), with the largest eigenvalues accurate to ~1e-14 and the
//! smallest to ~1e-7 relative, well inside the conformance tolerances.

#[cfg(feature = "faer")]
mod faer;
mod gram;
mod lowrank;
pub mod openblas;
mod vectors;

#[cfg(feature = "faer")]
pub use faer::Faer;
pub use gram::gram_upper;
pub use lowrank::{low_rank_singular_values, singular_values};
pub use vectors::{LeftVectors, top_left_singular_vectors};

use crate::error::{Error, Result};
use crate::matrices::MatrixRef;

/// Computes the eigenvalues of the Gram matrix of a matrix's smaller side.
///
/// Implementations must return all `min(rows, cols)` eigenvalues in ascending order, clamped
/// at 0 (a Gram matrix is positive semi-definite; rounding can produce tiny negatives).
pub trait Eigensolver: Sync + Send {
    /// Eigenvalues of `W^T W` (or `W W^T`, whichever is smaller), ascending.
    fn eigenvalues(&self, w: &MatrixRef<'_>) -> Result<Vec<f64>>;
    /// Short name for logs and benchmarks.
    fn name(&self) -> &'static str;
}

/// LAPACK (system OpenBLAS): blocked `dsyrk` into the Gram matrix, then `dsyevd` (or its
/// two-stage variant from `two_stage_from` up, where it is faster) with `jobz = 'N'`.
#[derive(Debug, Clone, Copy)]
pub struct Lapack {
    /// Order of the Gram matrix from which `dsyevd_2stage` is used (0 = never).
    pub two_stage_from: usize,
}

impl Default for Lapack {
    fn default() -> Self {
        // The two-stage reduction wins from about 2048 up (PERFORMANCE.md, Xeon); on Zen 3
        // the crossover is between 2048 and 2304 (README "Performance", bench_eigen).
        Lapack {
            two_stage_from: 2048,
        }
    }
}

impl Eigensolver for Lapack {
    fn eigenvalues(&self, w: &MatrixRef<'_>) -> Result<Vec<f64>> {
        let (mut g, k) = gram_upper(w);
        let two_stage = self.two_stage_from > 0 && k >= self.two_stage_from;
        let mut vals = symmetric_eigen(&mut g, k, false, two_stage)?;
        clamp_nonnegative(&mut vals);
        Ok(vals)
    }

    fn name(&self) -> &'static str {
        "lapack-syrk-syevd"
    }
}

/// Sets the tiny negative eigenvalues that rounding gives a positive semi-definite Gram
/// matrix to 0 (the one clamp of the crate: METRICS.md section 2 has `lambda >= 0`).
pub fn clamp_nonnegative(evals: &mut [f64]) {
    for v in evals.iter_mut() {
        if *v < 0.0 {
            *v = 0.0;
        }
    }
}

/// Eigen-decomposition of a symmetric `n x n` matrix whose upper triangle is stored
/// column-major in `a`. Returns the eigenvalues ascending; with `vectors`, `a` is overwritten
/// by the orthonormal eigenvectors (column `i` belongs to eigenvalue `i`).
pub fn symmetric_eigen(
    a: &mut [f64],
    n: usize,
    vectors: bool,
    two_stage: bool,
) -> Result<Vec<f64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if a.len() < n * n {
        return Err(Error::InvalidArgument(format!(
            "symmetric_eigen: buffer of {} for order {n}",
            a.len()
        )));
    }
    let ni = i32::try_from(n)
        .map_err(|_| Error::Numerical(format!("matrix order {n} too large for LAPACK")))?;
    let jobz = if vectors { b'V' } else { b'N' };
    // The two-stage driver only supports jobz = 'N'.
    let two_stage = two_stage && !vectors;
    let mut w = vec![0.0; n];
    let mut info = 0i32;
    let mut work_q = [0.0f64];
    let mut iwork_q = [0i32];
    let call = |a: &mut [f64],
                w: &mut [f64],
                work: &mut [f64],
                lwork: i32,
                iwork: &mut [i32],
                liwork: i32,
                info: &mut i32| unsafe {
        if two_stage {
            lapack::dsyevd_2stage(jobz, b'U', ni, a, ni, w, work, lwork, iwork, liwork, info);
        } else {
            lapack::dsyevd(jobz, b'U', ni, a, ni, w, work, lwork, iwork, liwork, info);
        }
    };
    call(a, &mut w, &mut work_q, -1, &mut iwork_q, -1, &mut info);
    if info != 0 {
        return Err(Error::Numerical(format!(
            "dsyevd workspace query failed (info = {info})"
        )));
    }
    let lwork = work_q[0].max(1.0) as usize;
    let liwork = iwork_q[0].max(1) as usize;
    let mut work = vec![0.0; lwork];
    let mut iwork = vec![0i32; liwork];
    call(
        a,
        &mut w,
        &mut work,
        lwork as i32,
        &mut iwork,
        liwork as i32,
        &mut info,
    );
    if info != 0 {
        return Err(Error::Numerical(format!(
            "dsyevd did not converge (info = {info}, order {n})"
        )));
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// W = U diag(s) V^T with known singular values: the eigenvalues must be s^2.
    #[test]
    fn known_singular_values() {
        // Tall 5x3 with orthonormal columns built from a Householder reflection.
        let (rows, cols) = (5usize, 3usize);
        let v = [0.3, -0.5, 0.1, 0.7, 0.4];
        let nv: f64 = v.iter().map(|x| x * x).sum();
        let mut h = vec![0.0; rows * rows];
        for i in 0..rows {
            for j in 0..rows {
                h[i * rows + j] = if i == j { 1.0 } else { 0.0 } - 2.0 * v[i] * v[j] / nv;
            }
        }
        let s = [3.0, 0.5, 2.0];
        // W[i, j] = H[i, j] * s[j] (first `cols` columns of H scaled), V = I.
        let mut w = vec![0.0; rows * cols];
        for i in 0..rows {
            for j in 0..cols {
                w[i * cols + j] = h[i * rows + j] * s[j];
            }
        }
        for m in [MatrixRef::from_f64(&w, rows, cols)] {
            let ev = Lapack::default().eigenvalues(&m).unwrap();
            let want = [0.25, 4.0, 9.0];
            for (a, b) in ev.iter().zip(want) {
                assert!((a - b).abs() < 1e-12, "{ev:?}");
            }
        }
        // The transpose (wide) has the same spectrum.
        let mut wt = vec![0.0; rows * cols];
        for i in 0..rows {
            for j in 0..cols {
                wt[j * rows + i] = w[i * cols + j];
            }
        }
        let ev = Lapack::default()
            .eigenvalues(&MatrixRef::from_f64(&wt, cols, rows))
            .unwrap();
        assert_eq!(ev.len(), 3);
        assert!((ev[2] - 9.0).abs() < 1e-12 && (ev[0] - 0.25).abs() < 1e-12);
    }

    #[test]
    fn two_stage_matches_classic() {
        let (rows, cols) = (40usize, 30usize);
        let w: Vec<f64> = (0..rows * cols)
            .map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0)
            .collect();
        let m = MatrixRef::from_f64(&w, rows, cols);
        let a = Lapack { two_stage_from: 0 }.eigenvalues(&m).unwrap();
        let b = Lapack { two_stage_from: 1 }.eigenvalues(&m).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-9 * a[a.len() - 1]);
        }
    }

    #[test]
    fn eigenvectors_reconstruct() {
        // A = [[2, 1], [1, 2]]: eigenvalues 1, 3.
        let mut a = vec![2.0, 1.0, 1.0, 2.0];
        let w = symmetric_eigen(&mut a, 2, true, false).unwrap();
        assert!((w[0] - 1.0).abs() < 1e-14 && (w[1] - 3.0).abs() < 1e-14);
        let r = std::f64::consts::FRAC_1_SQRT_2;
        assert!((a[0].abs() - r).abs() < 1e-14 && (a[2].abs() - r).abs() < 1e-14);
    }
}
