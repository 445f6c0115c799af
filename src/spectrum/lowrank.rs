//! Singular values of a low-rank product `s B A` (a LoRA update, Hu et al., "LoRA: Low-Rank
//! Adaptation of Large Language Models", ICLR 2022) without forming the `out x in` product.
//!
//! With thin QR factorisations `B = Q_B R_B` (B is `out x r`) and `A^T = Q_A R_A` (A is
//! `r x in`), `s B A = Q_B (s R_B R_A^T) Q_A^T`, and since `Q_B`, `Q_A` have orthonormal
//! columns the nonzero singular values of `s B A` are those of the small core `s R_B R_A^T`
//! (`min(out, r) x min(in, r)`). Cost: `O((out + in) r^2 + r^3)` instead of the dense
//! product's `O(out in r)` plus an eigensolver of order `min(out, in)`.

use crate::error::{Error, Result};
use crate::matrices::MatrixRef;

/// Singular values of `scale * b * a`, descending: `min(out, r, in)` values, where `b` is
/// `out x r` and `a` is `r x in` (any strides; conv LoRA passes one kernel slice of A).
pub fn low_rank_singular_values(
    b: &MatrixRef<'_>,
    a: &MatrixRef<'_>,
    scale: f64,
) -> Result<Vec<f64>> {
    let (out, r, inp) = (b.rows, b.cols, a.cols);
    if a.rows != r {
        return Err(Error::InvalidArgument(format!(
            "low-rank product: B is {out} x {r} but A is {} x {inp}",
            a.rows
        )));
    }
    if out == 0 || r == 0 || inp == 0 {
        return Ok(Vec::new());
    }
    // B column-major (out x r) and A^T column-major (in x r): A^T[j, k] = A[k, j].
    let mut bc = vec![0.0; out * r];
    let mut ac = vec![0.0; inp * r];
    for k in 0..r {
        for i in 0..out {
            bc[k * out + i] = b.get(i, k);
        }
        for j in 0..inp {
            ac[k * inp + j] = a.get(k, j);
        }
    }
    let rb = qr_r(bc, out, r)?; // pb x r, column-major
    let ra = qr_r(ac, inp, r)?; // pa x r, column-major
    let (pb, pa) = (out.min(r), inp.min(r));
    // core = scale * R_B R_A^T (pb x pa), column-major.
    let mut core = vec![0.0; pb * pa];
    for j in 0..pa {
        for i in 0..pb {
            let mut acc = 0.0;
            for k in 0..r {
                acc += rb[k * pb + i] * ra[k * pa + j];
            }
            core[j * pb + i] = scale * acc;
        }
    }
    singular_values(core, pb, pa)
}

/// The `min(m, n) x n` factor R of a thin QR of the column-major `m x n` matrix `a`,
/// column-major (its strict lower part zero).
fn qr_r(mut a: Vec<f64>, m: usize, n: usize) -> Result<Vec<f64>> {
    let (mi, ni) = (lapack_int(m)?, lapack_int(n)?);
    let mut tau = vec![0.0; m.min(n)];
    let mut info = 0;
    let mut q = [0.0f64];
    unsafe { lapack::dgeqrf(mi, ni, &mut a, mi, &mut tau, &mut q, -1, &mut info) };
    check(info, "dgeqrf workspace query")?;
    let mut work = vec![0.0; (q[0] as usize).max(1)];
    let lw = lapack_int(work.len())?;
    unsafe { lapack::dgeqrf(mi, ni, &mut a, mi, &mut tau, &mut work, lw, &mut info) };
    check(info, "dgeqrf")?;
    let p = m.min(n);
    let mut r = vec![0.0; p * n];
    for j in 0..n {
        for i in 0..=j.min(p - 1) {
            r[j * p + i] = a[j * m + i];
        }
    }
    Ok(r)
}

/// Singular values (descending) of the column-major `m x n` matrix `a` (LAPACK `dgesvd`,
/// no vectors).
pub fn singular_values(mut a: Vec<f64>, m: usize, n: usize) -> Result<Vec<f64>> {
    let p = m.min(n);
    if p == 0 {
        return Ok(Vec::new());
    }
    let (mi, ni) = (lapack_int(m)?, lapack_int(n)?);
    let mut s = vec![0.0; p];
    let (mut u, mut vt) = ([0.0f64], [0.0f64]);
    let mut info = 0;
    let mut q = [0.0f64];
    unsafe {
        lapack::dgesvd(
            b'N', b'N', mi, ni, &mut a, mi, &mut s, &mut u, 1, &mut vt, 1, &mut q, -1, &mut info,
        )
    };
    check(info, "dgesvd workspace query")?;
    let mut work = vec![0.0; (q[0] as usize).max(1)];
    let lw = lapack_int(work.len())?;
    unsafe {
        lapack::dgesvd(
            b'N', b'N', mi, ni, &mut a, mi, &mut s, &mut u, 1, &mut vt, 1, &mut work, lw, &mut info,
        )
    };
    check(info, "dgesvd")?;
    Ok(s)
}

fn lapack_int(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::Numerical(format!("dimension {n} too large for LAPACK")))
}

fn check(info: i32, what: &str) -> Result<()> {
    match info {
        0 => Ok(()),
        i => Err(Error::Numerical(format!("{what} failed (info = {i})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectrum::{Eigensolver, Lapack};

    /// Deterministic pseudo-random entries in [-1, 1).
    fn entries(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    /// The dense product's spectrum through the Gram eigensolver equals the core's.
    #[test]
    fn matches_the_dense_product() {
        for (out, r, inp) in [(20, 4, 13), (5, 8, 30), (30, 6, 3), (7, 7, 7)] {
            let (b, a) = (entries(out * r, 1), entries(r * inp, 2));
            let s = 0.75;
            let mut dense = vec![0.0; out * inp];
            for i in 0..out {
                for j in 0..inp {
                    dense[i * inp + j] =
                        s * (0..r).map(|k| b[i * r + k] * a[k * inp + j]).sum::<f64>();
                }
            }
            let want = Lapack::default()
                .eigenvalues(&MatrixRef::from_f64(&dense, out, inp))
                .unwrap();
            let got = low_rank_singular_values(
                &MatrixRef::from_f64(&b, out, r),
                &MatrixRef::from_f64(&a, r, inp),
                s,
            )
            .unwrap();
            let p = out.min(r).min(inp);
            assert_eq!(got.len(), p);
            // The dense spectrum has min(out, in) values; the top p are the nonzero ones.
            let top = &want[want.len() - p..];
            for (g, w) in got.iter().rev().zip(top) {
                assert!(
                    (g * g - w).abs() <= 1e-10 * want[want.len() - 1],
                    "{got:?} {want:?}"
                );
            }
            // Rank at most p: the rest of the dense spectrum is zero.
            assert!(want[..want.len() - p].iter().all(|&v| v < 1e-10));
        }
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let v = vec![1.0; 12];
        let e = low_rank_singular_values(
            &MatrixRef::from_f64(&v, 4, 3),
            &MatrixRef::from_f64(&v, 2, 6),
            1.0,
        );
        assert!(e.is_err());
    }
}
