//! Top singular pair by the Lanczos method on the smaller Gram matrix (Golub & Van Loan,
//! "Matrix Computations", 4th ed., section 10.1), the default route of the penalties that
//! need only `sigma_max` and its singular vectors.
//!
//! Plain power iteration converges like `(lambda_2/lambda_1)^t`; at the top of a random
//! (Marchenko-Pastur) spectrum the relative gap is only ~`n^(-2/3)`, so it needs thousands of
//! products at MLP sizes (`examples/bench_penalties.rs`: 300 x 784 did not converge in 1000).
//! Lanczos builds the Krylov space of the same products and converges like
//! `exp(-2 t sqrt(gap))`, tens of products instead. Every new Lanczos vector is
//! re-orthogonalised twice against all previous ones (full reorthogonalisation: no spurious
//! copies of converged Ritz values), which costs `O(n t)` per step, small next to the two
//! matrix-vector products of `O(rows * cols)`.
//!
//! Stopping test: the Ritz pair `(theta, y = Q s)` of the tridiagonal `T_t` has residual
//! `||G y - theta y|| = beta_t |s_t|`; it stops when that is `<= tol * theta`, when the Krylov
//! space is invariant (`beta_t = 0`) or spans everything (`t = n`, then it is exact). If none
//! happens within `max_iter` products, the full eigen-decomposition is used (`fell_back`).

use super::spectral::{
    GramSide, PowerOptions, TopPair, apply_gram, check_matrix, decompose, default_start,
    default_unit, finish, norm, start_vector,
};
use crate::error::{Error, Result};

/// Top eigenpair `(theta, s)` of the symmetric tridiagonal matrix with diagonal `d` and
/// off-diagonal `e` (`e.len() == d.len() - 1`): bisection (`dstebz`) for the eigenvalue and
/// inverse iteration (`dstein`) for its vector, `O(k)` each, so the test can run every step.
fn tridiagonal_top(d: &[f64], e: &[f64]) -> Result<(f64, Vec<f64>)> {
    let k = d.len();
    let ki = super::spectral::blas_dim("Lanczos dimension", k)?;
    let (mut m, mut info) = (0i32, 0i32);
    let mut nsplit = [0i32];
    let mut w = vec![0.0; k];
    let mut iblock = vec![0i32; k];
    let mut isplit = vec![0i32; k];
    let mut work = vec![0.0; 5 * k];
    let mut iwork = vec![0i32; 3 * k];
    // `e` must have k - 1 entries; LAPACK reads none when k = 1.
    let e_buf = if e.is_empty() { vec![0.0] } else { e.to_vec() };
    // SAFETY: d has k values, e_buf k - 1 (at least 1), w, iblock, isplit k, work 4k of its
    // 5k, iwork 3k: the sizes dstebz documents for order k (range 'I', one eigenvalue).
    unsafe {
        lapack::dstebz(
            b'I',
            b'B',
            ki,
            0.0,
            0.0,
            ki,
            ki,
            2.0 * f64::MIN_POSITIVE,
            d,
            &e_buf,
            &mut m,
            &mut nsplit,
            &mut w,
            &mut iblock,
            &mut isplit,
            &mut work[..4 * k],
            &mut iwork,
            &mut info,
        );
    }
    if info != 0 || m != 1 {
        return Err(Error::Numerical(format!(
            "Lanczos: dstebz failed (info = {info}, m = {m}, order {k})"
        )));
    }
    let mut z = vec![0.0; k];
    let mut ifail = [0i32];
    // SAFETY: one eigenvector (m = 1) of order k: z is k x 1 (ld k), work 5k, iwork k,
    // ifail 1; d, e_buf, w, iblock, isplit as filled by dstebz above.
    unsafe {
        lapack::dstein(
            ki,
            d,
            &e_buf,
            1,
            &w[..1],
            &iblock[..1],
            &isplit,
            &mut z,
            ki,
            &mut work,
            &mut iwork[..k],
            &mut ifail,
            &mut info,
        );
    }
    if info != 0 {
        return Err(Error::Numerical(format!(
            "Lanczos: dstein failed (info = {info}, order {k})"
        )));
    }
    Ok((w[0], z))
}

/// Top singular pair of `W` by Lanczos with full reorthogonalisation. `warm` (the previous
/// step's [`TopPair::vector`]) starts the Krylov space when it fits; `opts.max_iter` caps the
/// number of Gram products (the Krylov dimension), `opts.tol` is the relative residual.
pub fn top_pair_lanczos(
    w: &[f64],
    rows: usize,
    cols: usize,
    warm: Option<&[f64]>,
    opts: &PowerOptions,
) -> Result<TopPair> {
    check_matrix(w, rows, cols)?;
    if !(opts.tol.is_finite() && opts.tol > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "Lanczos: tolerance must be positive, got {}",
            opts.tol
        )));
    }
    let side = GramSide::of(rows, cols);
    let n = rows.min(cols);
    if w.iter().all(|x| *x == 0.0) {
        return Ok(finish(w, rows, cols, side, default_unit(n), 0, false));
    }
    let start = start_vector(warm, n);
    let mut tmp = vec![0.0; rows.max(cols)];
    let mut z = vec![0.0; n];
    // Lanczos vectors, one per row of `q` (n values each).
    let mut q: Vec<f64> = Vec::with_capacity(n * 64);
    let (mut alpha, mut beta): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut products = 0usize;
    let mut restarted = false;
    let mut cur = start;
    let nc = norm(&cur);
    cur.iter_mut().for_each(|x| *x /= nc);
    while products < opts.max_iter {
        q.extend_from_slice(&cur);
        let j = alpha.len();
        apply_gram(w, rows, cols, &cur, &mut tmp, &mut z);
        products += 1;
        let a: f64 = cur.iter().zip(&z).map(|(x, y)| x * y).sum();
        // Two passes of classical Gram-Schmidt against every Lanczos vector so far (this
        // subsumes the three-term recurrence).
        for _ in 0..2 {
            for qi in q.chunks_exact(n) {
                let d: f64 = qi.iter().zip(&z).map(|(x, y)| x * y).sum();
                z.iter_mut().zip(qi).for_each(|(y, x)| *y -= d * x);
            }
        }
        alpha.push(a);
        let b = norm(&z);
        if j == 0 && a <= 0.0 {
            // The start lies in the null space of W (a stale warm start): restart once.
            if restarted {
                break;
            }
            restarted = true;
            q.clear();
            alpha.clear();
            cur = default_start(n);
            let nc = norm(&cur);
            cur.iter_mut().for_each(|x| *x /= nc);
            continue;
        }
        let (theta, s) = tridiagonal_top(&alpha, &beta)?;
        let invariant = b <= 1e-14 * theta.abs().max(f64::MIN_POSITIVE);
        let converged = b * s[j].abs() <= opts.tol * theta;
        if converged || invariant || alpha.len() == n {
            let mut y = vec![0.0; n];
            for (qi, &si) in q.chunks_exact(n).zip(&s) {
                y.iter_mut().zip(qi).for_each(|(v, x)| *v += si * x);
            }
            let ny = norm(&y);
            y.iter_mut().for_each(|v| *v /= ny);
            return Ok(finish(w, rows, cols, side, y, products, false));
        }
        beta.push(b);
        cur = z.iter().map(|x| x / b).collect();
    }
    let dec = decompose(w, rows, cols)?;
    let v = dec.vecs[(n - 1) * n..n * n].to_vec();
    Ok(finish(w, rows, cols, side, v, products, true))
}
