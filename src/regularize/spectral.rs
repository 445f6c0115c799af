//! The spectral machinery shared by every penalty: the eigen-decomposition of the Gram
//! matrix of the smaller side of `W` (with vectors), the assembly of `dR/dW` from spectral
//! coefficients `g_i = dR/dlambda_i`, and power iteration for the top singular pair.
//!
//! ## The chain rule, on both sides
//!
//! Let `W` be `rows x cols` and `n = min(rows, cols)`; `lambda_i` are the squared singular
//! values, `W v_i = sigma_i u_i`, `W^T u_i = sigma_i v_i`.
//!
//! * Tall or square (`cols <= rows`): the Gram matrix is `G = W^T W = V diag(lambda) V^T`.
//!   For a simple eigenvalue, `dlambda_i = v_i^T dG v_i = v_i^T (dW^T W + W^T dW) v_i
//!   = 2 <W v_i v_i^T, dW>`, so `dlambda_i/dW = 2 W v_i v_i^T` and
//!   `dR/dW = sum_i g_i 2 W v_i v_i^T = 2 W V diag(g) V^T`.
//! * Wide (`rows < cols`): the Gram matrix is `G = W W^T = U diag(lambda) U^T`.
//!   `dlambda_i = u_i^T (dW W^T + W dW^T) u_i = 2 <u_i u_i^T W, dW>`, so
//!   `dlambda_i/dW = 2 u_i u_i^T W` and `dR/dW = 2 U diag(g) U^T W`.
//!
//! Both equal `2 sigma_i u_i v_i^T` per eigenvalue, so they agree wherever both apply; using
//! the smaller Gram matrix keeps the eigenproblem `n x n` and never creates the `|rows - cols|`
//! structural zero eigenvalues of the larger one.
//!
//! ## Degenerate spectra
//!
//! A repeated eigenvalue has no unique eigenvectors. When `g` is equal across a cluster of
//! equal eigenvalues, `sum_{i in cluster} g_i v_i v_i^T = g P_cluster` does not depend on the
//! basis and the gradient is exact; when it is not (a tie across the median index of a Hill
//! estimate), the result is one element of the (Clarke) subdifferential. Either way the
//! assembly only multiplies finite numbers: it cannot create a NaN. Zero eigenvalues are
//! harmless here (`2 W v v^T = 0` for `v` in the null space); the penalties clamp them where
//! they divide or take logarithms.

use crate::error::{Error, Result};
use crate::matrices::MatrixRef;
use crate::spectrum::{clamp_nonnegative, gram_upper, symmetric_eigen};

/// Eigenvalues below this are treated as this value where a penalty divides by them or takes
/// their logarithm, and carry no gradient (REGULARIZATION.md: "clamp eigenvalues at 1e-12").
pub const EIG_FLOOR: f64 = 1e-12;

/// Which Gram matrix a [`Decomposition`] diagonalises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GramSide {
    /// `W^T W` (`cols <= rows`): the eigenvectors are the right singular vectors `v_i`.
    Right,
    /// `W W^T` (`rows < cols`): the eigenvectors are the left singular vectors `u_i`.
    Left,
}

impl GramSide {
    /// The side used for a `rows x cols` matrix.
    pub fn of(rows: usize, cols: usize) -> Self {
        if cols <= rows {
            GramSide::Right
        } else {
            GramSide::Left
        }
    }
}

/// Eigen-decomposition of the smaller Gram matrix of `W`.
#[derive(Debug, Clone)]
pub struct Decomposition {
    /// The `n = min(rows, cols)` eigenvalues, ascending, clamped at 0.
    pub evals: Vec<f64>,
    /// Orthonormal eigenvectors, `n x n` column-major: column `i` belongs to `evals[i]`.
    pub vecs: Vec<f64>,
    /// Order of the Gram matrix.
    pub n: usize,
    /// Which Gram matrix this is.
    pub side: GramSide,
}

/// Checks that `w` is a finite, non-empty, row-major `rows x cols` matrix.
pub fn check_matrix(w: &[f64], rows: usize, cols: usize) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Err(Error::InvalidArgument(format!(
            "penalty: empty weight matrix ({rows} x {cols})"
        )));
    }
    let len = rows.checked_mul(cols).ok_or_else(|| {
        Error::InvalidArgument(format!("penalty: matrix {rows} x {cols} too large"))
    })?;
    if w.len() != len {
        return Err(Error::InvalidArgument(format!(
            "penalty: {} values for a {rows} x {cols} matrix",
            w.len()
        )));
    }
    if let Some(i) = w.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "penalty: non-finite weight {} at ({}, {}) of a {rows} x {cols} matrix",
            w[i],
            i / cols,
            i % cols
        )));
    }
    Ok(())
}

/// Eigenvalues only (ascending, clamped at 0) of the smaller Gram matrix of `W`.
pub fn eigenvalues(w: &[f64], rows: usize, cols: usize) -> Result<Vec<f64>> {
    check_matrix(w, rows, cols)?;
    let (mut g, n) = gram_upper(&MatrixRef::from_f64(w, rows, cols));
    let mut evals = symmetric_eigen(&mut g, n, false, false)?;
    clamp_nonnegative(&mut evals);
    Ok(evals)
}

/// Eigenvalues and eigenvectors of the smaller Gram matrix of `W` (LAPACK `dsyevd`).
pub fn decompose(w: &[f64], rows: usize, cols: usize) -> Result<Decomposition> {
    check_matrix(w, rows, cols)?;
    let (mut g, n) = gram_upper(&MatrixRef::from_f64(w, rows, cols));
    let mut evals = symmetric_eigen(&mut g, n, true, false)?;
    clamp_nonnegative(&mut evals);
    Ok(Decomposition {
        evals,
        vecs: g,
        n,
        side: GramSide::of(rows, cols),
    })
}

impl Decomposition {
    /// Eigenvector `i` (of `evals[i]`), length `n`.
    pub fn vector(&self, i: usize) -> &[f64] {
        &self.vecs[i * self.n..(i + 1) * self.n]
    }
}

/// A dimension as the `i32` BLAS/LAPACK expect, or an error naming it.
pub(crate) fn blas_dim(what: &str, v: usize) -> Result<i32> {
    i32::try_from(v)
        .map_err(|_| Error::InvalidArgument(format!("{what} = {v} exceeds the BLAS index range")))
}

/// `dR/dW` from the spectral coefficients `g_i = dR/dlambda_i` (one per `dec.evals[i]`):
/// `2 W V diag(g) V^T` on the right side, `2 U diag(g) U^T W` on the left side. Returns the
/// gradient row-major `rows x cols`. Columns with `g_i = 0` are skipped, so a penalty that
/// only touches `lambda_max` costs one rank-1 product.
pub fn assemble_gradient(
    w: &[f64],
    rows: usize,
    cols: usize,
    dec: &Decomposition,
    g: &[f64],
) -> Result<Vec<f64>> {
    check_matrix(w, rows, cols)?;
    let n = dec.n;
    if n != rows.min(cols) || g.len() != n || dec.vecs.len() < n * n {
        return Err(Error::InvalidArgument(format!(
            "assemble_gradient: decomposition of order {n} and {} coefficients for a {rows} x {cols} matrix",
            g.len()
        )));
    }
    if let Some(i) = g.iter().position(|x| !x.is_finite()) {
        return Err(Error::Numerical(format!(
            "assemble_gradient: non-finite spectral coefficient g[{i}] = {}",
            g[i]
        )));
    }
    // Keep only the eigenvectors that carry a coefficient: Q_s (n x r) and Q_s diag(g_s).
    let active: Vec<usize> = (0..n).filter(|&i| g[i] != 0.0).collect();
    let r = active.len();
    let mut grad = vec![0.0; rows * cols];
    if r == 0 {
        return Ok(grad);
    }
    let mut qs = vec![0.0; n * r];
    let mut qgs = vec![0.0; n * r];
    for (c, &i) in active.iter().enumerate() {
        let col = &dec.vecs[i * n..(i + 1) * n];
        qs[c * n..(c + 1) * n].copy_from_slice(col);
        for (dst, &q) in qgs[c * n..(c + 1) * n].iter_mut().zip(col) {
            *dst = q * g[i];
        }
    }
    // M = Q_s diag(g_s) Q_s^T, n x n symmetric (column-major = row-major).
    let mut m = vec![0.0; n * n];
    let (ni, ri) = (
        blas_dim("Gram order", n)?,
        blas_dim("active eigenvectors", r)?,
    );
    // SAFETY: qgs and qs hold n x r column-major values (ld n), m holds n x n (ld n); the
    // dimensions passed are exactly those, so dgemm reads and writes inside the slices.
    unsafe {
        blas::dgemm(
            b'N', b'T', ni, ni, ri, 1.0, &qgs, ni, &qs, ni, 0.0, &mut m, ni,
        );
    }
    // The row-major W is the column-major W^T (cols x rows, ld = cols); the row-major
    // gradient is the column-major grad^T.
    let (ri_, ci) = (blas_dim("rows", rows)?, blas_dim("cols", cols)?);
    // SAFETY: check_matrix proved w.len() == rows * cols == grad.len(); m is n x n with
    // n = cols (Right) or n = rows (Left), as each call's inner dimension requires.
    unsafe {
        match dec.side {
            // grad = 2 W M  <=>  grad^T = 2 M W^T (M symmetric): (cols x cols)(cols x rows).
            GramSide::Right => blas::dgemm(
                b'N', b'N', ci, ri_, ci, 2.0, &m, ci, w, ci, 0.0, &mut grad, ci,
            ),
            // grad = 2 M W  <=>  grad^T = 2 W^T M: (cols x rows)(rows x rows).
            GramSide::Left => blas::dgemm(
                b'N', b'N', ci, ri_, ri_, 2.0, w, ci, &m, ri_, 0.0, &mut grad, ci,
            ),
        }
    }
    Ok(grad)
}

/// Options of the Krylov solvers (power iteration, Lanczos) for the top singular pair.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PowerOptions {
    /// Maximum number of products with the Gram matrix (for Lanczos: the Krylov dimension)
    /// before falling back to the full eigen-decomposition.
    pub max_iter: usize,
    /// Converged when the residual `||G x - rho x|| <= tol * rho` (`rho` the Rayleigh
    /// quotient or Ritz value).
    pub tol: f64,
}

impl Default for PowerOptions {
    fn default() -> Self {
        PowerOptions {
            max_iter: 1000,
            tol: 1e-10,
        }
    }
}

/// The top singular pair of `W`, in the form the gradient needs.
#[derive(Debug, Clone)]
pub struct TopPair {
    /// `lambda_max = sigma_max^2`.
    pub lambda: f64,
    /// `a` (length `rows`) and `b` (length `cols`) with `a b^T = sigma u v^T`, so that
    /// `dlambda_max/dW = 2 a b^T`. (Right side: `a = W v, b = v`; left side: `a = u,
    /// b = W^T u`.) Both zero for the zero matrix, where the gradient of `lambda_max` is 0.
    pub a: Vec<f64>,
    /// See `a`.
    pub b: Vec<f64>,
    /// The unit top eigenvector of the smaller Gram matrix (`v` or `u`): a warm start for
    /// the next step.
    pub vector: Vec<f64>,
    /// Products with the Gram matrix spent.
    pub iterations: usize,
    /// Whether power iteration did not converge and the eigen-decomposition was used.
    pub fell_back: bool,
}

impl TopPair {
    /// `dlambda_max/dW = 2 a b^T`, scaled by `scale`, added into `grad` (row-major).
    pub fn add_gradient(&self, scale: f64, grad: &mut [f64]) {
        let cols = self.b.len();
        for (row, &ai) in grad.chunks_exact_mut(cols).zip(&self.a) {
            let f = 2.0 * scale * ai;
            if f != 0.0 {
                for (gij, &bj) in row.iter_mut().zip(&self.b) {
                    *gij += f * bj;
                }
            }
        }
    }
}

/// `y = G x` for the smaller Gram matrix without forming it; `tmp` has the other side's
/// length.
pub(super) fn apply_gram(
    w: &[f64],
    rows: usize,
    cols: usize,
    x: &[f64],
    tmp: &mut [f64],
    y: &mut [f64],
) {
    match GramSide::of(rows, cols) {
        GramSide::Right => {
            // tmp = W x (rows), y = W^T tmp (cols).
            mat_vec(w, rows, cols, x, tmp);
            mat_t_vec(w, rows, cols, tmp, y);
        }
        GramSide::Left => {
            // tmp = W^T x (cols), y = W tmp (rows).
            mat_t_vec(w, rows, cols, x, tmp);
            mat_vec(w, rows, cols, tmp, y);
        }
    }
}

fn mat_vec(w: &[f64], _rows: usize, cols: usize, x: &[f64], y: &mut [f64]) {
    for (yi, row) in y.iter_mut().zip(w.chunks_exact(cols)) {
        *yi = row.iter().zip(x).map(|(a, b)| a * b).sum();
    }
}

fn mat_t_vec(w: &[f64], _rows: usize, cols: usize, x: &[f64], y: &mut [f64]) {
    y.fill(0.0);
    for (&xi, row) in x.iter().zip(w.chunks_exact(cols)) {
        if xi != 0.0 {
            for (yj, &a) in y.iter_mut().zip(row) {
                *yj += xi * a;
            }
        }
    }
}

pub(super) fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// A fixed pseudo-random start (SplitMix64), so results are reproducible and the start is
/// almost surely not orthogonal to the top eigenvector of a structured matrix.
pub(super) fn default_start(n: usize) -> Vec<f64> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

/// Weight of the fixed pseudo-random vector mixed into a warm start.
pub const WARM_MIX: f64 = 1e-3;

/// The start of a Krylov solve: the warm start (when it has length `n` and is finite and
/// non-zero) plus [`WARM_MIX`] times the fixed pseudo-random start, else the latter alone.
///
/// The mix matters: after a step of the spectral-norm penalty alone, the previous top vector
/// is still an exact eigenvector of the new Gram matrix but no longer the top one; its
/// Krylov space is one-dimensional and both solvers would "converge" to it at once. The
/// random part gives every direction a non-zero start, so the true top one wins.
pub(super) fn start_vector(warm: Option<&[f64]>, n: usize) -> Vec<f64> {
    let mut r = default_start(n);
    let nr = norm(&r);
    r.iter_mut().for_each(|x| *x /= nr);
    match warm {
        Some(v) if v.len() == n && v.iter().all(|x| x.is_finite()) && norm(v) > 0.0 => {
            let nv = norm(v);
            v.iter()
                .zip(&r)
                .map(|(a, b)| a / nv + WARM_MIX * b)
                .collect()
        }
        _ => r,
    }
}

/// Top singular pair of `W` by power iteration on the smaller Gram matrix (two
/// matrix-vector products per iteration, `O(rows * cols)`, no Gram matrix formed).
///
/// `warm` (the previous step's [`TopPair::vector`]) is used when it has the right length and
/// is finite and non-zero. Power iteration converges like `(lambda_2 / lambda_1)^t`; when the
/// residual test is not met within `opts.max_iter` products (a nearly repeated top singular
/// value), the top eigenvector of the full decomposition is used instead (`fell_back`). An
/// exactly repeated top eigenvalue converges at once to some vector of its eigenspace: the
/// result is then one valid (sub)gradient.
pub fn top_pair(
    w: &[f64],
    rows: usize,
    cols: usize,
    warm: Option<&[f64]>,
    opts: &PowerOptions,
) -> Result<TopPair> {
    check_matrix(w, rows, cols)?;
    if !(opts.tol.is_finite() && opts.tol > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "power iteration: tolerance must be positive, got {}",
            opts.tol
        )));
    }
    let side = GramSide::of(rows, cols);
    let n = rows.min(cols);
    let other = rows.max(cols);
    let frob2: f64 = w.iter().map(|v| v * v).sum();
    if frob2 == 0.0 {
        return Ok(finish(w, rows, cols, side, default_unit(n), 0, false));
    }
    let mut x = start_vector(warm, n);
    let mut tmp = vec![0.0; other];
    let mut y = vec![0.0; n];
    let mut restarted = false;
    let nx = norm(&x);
    x.iter_mut().for_each(|v| *v /= nx);
    let mut it = 0;
    while it < opts.max_iter {
        it += 1;
        apply_gram(w, rows, cols, &x, &mut tmp, &mut y);
        let rho: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        let ny = norm(&y);
        if ny == 0.0 || rho <= 0.0 {
            // x lies in the null space (a warm start from another matrix): restart once.
            if restarted {
                break;
            }
            restarted = true;
            x = default_start(n);
            let nx = norm(&x);
            x.iter_mut().for_each(|v| *v /= nx);
            continue;
        }
        let res = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (b - rho * a).powi(2))
            .sum::<f64>()
            .sqrt();
        for (xi, yi) in x.iter_mut().zip(&y) {
            *xi = yi / ny;
        }
        if res <= opts.tol * rho {
            return Ok(finish(w, rows, cols, side, x, it, false));
        }
    }
    // Not converged: use the exact decomposition.
    let dec = decompose(w, rows, cols)?;
    let v = dec.vecs[(n - 1) * n..n * n].to_vec();
    Ok(finish(w, rows, cols, side, v, it, true))
}

pub(super) fn default_unit(n: usize) -> Vec<f64> {
    let mut e = vec![0.0; n];
    e[n - 1] = 1.0;
    e
}

pub(super) fn finish(
    w: &[f64],
    rows: usize,
    cols: usize,
    side: GramSide,
    x: Vec<f64>,
    iterations: usize,
    fell_back: bool,
) -> TopPair {
    let (a, b) = match side {
        GramSide::Right => {
            let mut a = vec![0.0; rows];
            mat_vec(w, rows, cols, &x, &mut a);
            (a, x.clone())
        }
        GramSide::Left => {
            let mut b = vec![0.0; cols];
            mat_t_vec(w, rows, cols, &x, &mut b);
            (x.clone(), b)
        }
    };
    let lambda = match side {
        GramSide::Right => a.iter().map(|v| v * v).sum(),
        GramSide::Left => b.iter().map(|v| v * v).sum(),
    };
    TopPair {
        lambda,
        a,
        b,
        vector: x,
        iterations,
        fell_back,
    }
}
