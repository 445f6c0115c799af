//! A pure-Rust eigensolver ([faer](https://docs.rs/faer) 0.24), behind the cargo feature
//! `faer`: the same route as [`super::Lapack`] (blocked Gram matrix of the smaller side in f64,
//! then a symmetric eigensolver without vectors), single-threaded like BLAS in the workers.
//!
//! It is not the default: `examples/bench_eigen.rs` measured it 1.3-2.1x slower than OpenBLAS's
//! LAPACK on this project's machines (README, "Performance"), and it takes minutes to compile.
//! It exists so the choice stays measurable and so a build could drop the system library.

use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::{Accum, Mat, MatRef, Par};

use crate::error::{Error, Result};
use crate::matrices::MatrixRef;

use super::Eigensolver;

/// Rows (or columns) widened per block product, as in the LAPACK route.
const BLOCK: usize = 256;

/// faer: blocked lower-triangular Gram product, then `self_adjoint_evd` without vectors.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faer;

/// Gram matrix of the smaller side of `w` in the lower triangle of a `k x k` faer matrix.
fn gram_lower(w: &MatrixRef<'_>) -> Mat<f64> {
    let (rows, cols) = (w.rows, w.cols);
    let k = rows.min(cols);
    let mut g = Mat::<f64>::zeros(k, k);
    if k == 0 {
        return g;
    }
    let tall = cols <= rows;
    let (len, other) = if tall { (rows, cols) } else { (cols, rows) };
    let mut block = vec![0.0; BLOCK.min(len) * other];
    let mut s0 = 0;
    while s0 < len {
        let s1 = (s0 + BLOCK).min(len);
        let b = s1 - s0;
        let buf = &mut block[..b * other];
        // Either way the buffer is a column-major `k x b` matrix A with G += A A^T:
        // rows r0..r1 row-major are (cols x b) column-major; columns c0..c1 read transposed
        // (below) are (rows x b) column-major.
        if tall {
            w.rows_into(s0, s1, buf);
        } else {
            for (j, c) in (s0..s1).enumerate() {
                for r in 0..rows {
                    buf[j * rows + r] = w.get(r, c);
                }
            }
        }
        let a = MatRef::from_column_major_slice(buf, k, b);
        let beta = if s0 == 0 { Accum::Replace } else { Accum::Add };
        matmul(
            g.as_mut(),
            BlockStructure::TriangularLower,
            beta,
            a,
            BlockStructure::Rectangular,
            a.transpose(),
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        );
        s0 = s1;
    }
    g
}

impl Eigensolver for Faer {
    fn eigenvalues(&self, w: &MatrixRef<'_>) -> Result<Vec<f64>> {
        let g = gram_lower(w);
        let k = g.nrows();
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut s = faer::diag::Diag::<f64>::zeros(k);
        let params = Default::default();
        let req = faer::linalg::evd::self_adjoint_evd_scratch::<f64>(
            k,
            faer::linalg::evd::ComputeEigenvectors::No,
            Par::Seq,
            params,
        );
        let mut mem = faer::dyn_stack::MemBuffer::new(req);
        // self_adjoint_evd reads the lower triangle.
        faer::linalg::evd::self_adjoint_evd(
            g.as_ref(),
            s.as_mut(),
            None,
            Par::Seq,
            faer::dyn_stack::MemStack::new(&mut mem),
            params,
        )
        .map_err(|e| Error::Numerical(format!("faer self_adjoint_evd (order {k}): {e:?}")))?;
        let mut vals: Vec<f64> = s.column_vector().iter().map(|&x| x.max(0.0)).collect();
        vals.sort_by(f64::total_cmp);
        Ok(vals)
    }

    fn name(&self) -> &'static str {
        "faer-gram-evd"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectrum::Lapack;

    fn matrix(rows: usize, cols: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..rows * cols)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                // Heavy-ish tails: a signed power of a uniform.
                (u - 0.5).signum() * (u - 0.5).abs().powf(1.5) * 4.0
            })
            .collect()
    }

    /// faer and LAPACK agree on tall, wide and square matrices, including blocks that do not
    /// divide the long side, to 1e-9 of the largest eigenvalue and 1e-6 relative at the top.
    #[test]
    fn matches_lapack() {
        for (rows, cols, seed) in [(300, 70, 1), (70, 300, 2), (120, 120, 3), (600, 9, 4)] {
            let w = matrix(rows, cols, seed);
            let m = MatrixRef::from_f64(&w, rows, cols);
            let a = Lapack::default().eigenvalues(&m).unwrap();
            let b = Faer.eigenvalues(&m).unwrap();
            assert_eq!(a.len(), rows.min(cols));
            assert_eq!(b.len(), a.len());
            let top = a[a.len() - 1];
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    (x - y).abs() <= 1e-9 * top,
                    "{rows}x{cols}: lapack {x} vs faer {y}"
                );
            }
            assert!((b[b.len() - 1] - top).abs() <= 1e-12 * top);
        }
    }

    #[test]
    fn empty_and_tiny() {
        let w = [3.0, 4.0];
        let ev = Faer.eigenvalues(&MatrixRef::from_f64(&w, 1, 2)).unwrap();
        assert_eq!(ev.len(), 1);
        assert!((ev[0] - 25.0).abs() < 1e-12);
        let e: [f64; 0] = [];
        assert!(
            Faer.eigenvalues(&MatrixRef::from_f64(&e, 0, 3))
                .unwrap()
                .is_empty()
        );
    }
}
