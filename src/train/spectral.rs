//! The trainer's f32 edge of the spectral module [`crate::regularize::spectral`].
//!
//! Everything spectral (Gram matrix of the smaller side, eigen-decomposition, clamping,
//! the f64 gradient reference) lives in `regularize::spectral`; here the f32 weights a
//! backend reads back are widened to f64 on the way in, and the eigenvectors and coefficients
//! are narrowed to the f32 [`PenaltySpectrum`] a backend assembles on the way out. The f32
//! assembly itself ([`Assembly`]) is the CPU backend's; the wgpu kernels are tested against
//! the f64 reference [`crate::regularize::assemble_gradient`].

use super::backend::PenaltySpectrum;
use crate::error::{Error, Result};
use crate::regularize::spectral::{Decomposition, GramSide, blas_dim, decompose};

/// Widens an f32 weight tensor to f64, refusing non-finite values (a diverged run) with a
/// message that says so.
pub fn widen(w: &[f32]) -> Result<Vec<f64>> {
    if w.iter().any(|v| !v.is_finite()) {
        return Err(Error::Numerical(
            "non-finite weight: training diverged (lower the learning rate or the penalty weight)"
                .into(),
        ));
    }
    Ok(w.iter().map(|&v| v as f64).collect())
}

/// Decomposes the `out x inp` row-major f32 matrix `w` (in f64).
pub fn decompose_f32(w: &[f32], out: usize, inp: usize) -> Result<Decomposition> {
    decompose(&widen(w)?, out, inp)
}

/// The f32 spectrum a backend assembles: eigenvectors row-major (column `i` belongs to
/// `g[i]`), coefficient `coef` (the trainer passes 2).
pub fn penalty_spectrum(dec: &Decomposition, g: &[f64], coef: f32) -> PenaltySpectrum {
    let n = dec.n;
    // Decomposition::vecs is column-major (vecs[i * n + r] = V[r][i]); transpose.
    let mut vectors = vec![0.0f32; n * n];
    for i in 0..n {
        for (r, &v) in dec.vector(i).iter().enumerate() {
            vectors[r * n + i] = v as f32;
        }
    }
    PenaltySpectrum {
        side: dec.side,
        n,
        vectors,
        g: g.iter().map(|&v| v as f32).collect(),
        coef,
        hold: false,
    }
}

/// The f32 spectrum of a penalty whose coefficients are `g_top` on the top eigenvector `v`
/// (unit, length `n`) and `g_rest` on every other one: `V` is the Householder reflection
/// `H = I - 2 u u^T / (u^T u)`, `u = e_last - v`, an orthonormal basis whose last column is
/// `v` (any completion gives the same `V diag(g) V^T = g_rest I + (g_top - g_rest) v v^T`).
pub fn top_pair_spectrum(
    v: &[f64],
    side: GramSide,
    g_top: f64,
    g_rest: f64,
    coef: f32,
) -> Result<PenaltySpectrum> {
    let n = v.len();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n == 0 || !(norm.is_finite() && norm > 0.0) {
        return Err(Error::Numerical(format!(
            "top singular vector of length {n} and norm {norm}"
        )));
    }
    let mut u: Vec<f64> = v.iter().map(|x| -x / norm).collect();
    u[n - 1] += 1.0;
    let uu: f64 = u.iter().map(|x| x * x).sum();
    let f = if uu > 1e-300 { 2.0 / uu } else { 0.0 };
    let mut vectors = vec![0.0f32; n * n];
    for r in 0..n {
        for c in 0..n {
            let id = if r == c { 1.0 } else { 0.0 };
            vectors[r * n + c] = (id - f * u[r] * u[c]) as f32;
        }
    }
    let mut g = vec![g_rest as f32; n];
    g[n - 1] = g_top as f32;
    Ok(PenaltySpectrum {
        side,
        n,
        vectors,
        g,
        coef,
        hold: false,
    })
}

/// Row-major `C (m x n) = alpha op(A) op(B) + beta C` in f32 (`op(A)` is `m x k`; `ta`: `A`
/// is stored `k x m`; `tb`: `B` is stored `n x k`), checked.
#[allow(clippy::too_many_arguments)]
fn sgemm(
    ta: bool,
    tb: bool,
    (m, n, k): (usize, usize, usize),
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
) -> Result<()> {
    if a.len() < m * k || b.len() < k * n || c.len() < m * n {
        return Err(Error::InvalidArgument(format!(
            "penalty assembly: product of {m}x{k} and {k}x{n} with {}, {} and {} values",
            a.len(),
            b.len(),
            c.len()
        )));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    let lda = blas_dim("lda", if ta { m } else { k }.max(1))?;
    let ldb = blas_dim("ldb", if tb { k } else { n }.max(1))?;
    let (mi, ni, ki) = (blas_dim("m", m)?, blas_dim("n", n)?, blas_dim("k", k)?);
    let t = |x: bool| if x { b'T' } else { b'N' };
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T. SAFETY: the slices
    // hold at least m*k, k*n and m*n values (checked above) with the leading dimensions
    // given, so sgemm reads and writes inside them.
    unsafe {
        blas::sgemm(t(tb), t(ta), ni, mi, ki, alpha, b, ldb, a, lda, beta, c, ni);
    }
    Ok(())
}

/// A [`PenaltySpectrum`] prepared for the per-step product with the current weights, in f32.
///
/// `M = V diag(g) V^T` is split as `c I + V_s diag(g_s - c) V_s^T`, with `c` the value most
/// coefficients share and `V_s` the `r` eigenvectors whose coefficient differs. When
/// `2 r < n` the low-rank form is cheaper than `M` itself (`(1 + 2r) out inp` instead of
/// `n out inp` multiply-adds per step): spectral norm and the Frechet prior are rank 1
/// (`c = 0`), stable rank is `I / lambda_max` plus rank 1, weight decay is `c I` alone.
/// Weighted alpha and the power-law prior act on the top half of the spectrum and keep `M`.
///
/// With [`PenaltySpectrum::hold`], the product is formed at the first step after the
/// hand-over and that matrix is added at every later step until the next hand-over.
#[derive(Debug, Clone)]
pub struct Assembly {
    side: GramSide,
    n: usize,
    coef: f32,
    c: f32,
    route: Route,
    hold: bool,
    held: Option<Vec<f32>>,
}

#[derive(Debug, Clone)]
enum Route {
    /// `V_s` (`n x r`, row-major) and `g_s - c`.
    LowRank { vs: Vec<f32>, gs: Vec<f32> },
    /// `M` (`n x n`), `c` included.
    Full { m: Vec<f32> },
}

/// The value most entries of `g` share (0 when none repeats).
fn shared_value(g: &[f32]) -> f32 {
    let mut s = g.to_vec();
    s.sort_by(f32::total_cmp);
    let (mut best, mut best_n) = (0.0f32, 1usize);
    let mut i = 0;
    while i < s.len() {
        let j = i + s[i..].iter().take_while(|&&x| x == s[i]).count();
        if j - i > best_n {
            (best, best_n) = (s[i], j - i);
        }
        i = j;
    }
    best
}

/// `M = V diag(g) V^T` as `c I + sum_i (g_i - c) v_i v_i^T` over the eigenvectors `v_i` whose
/// coefficient differs from the shared value `c`: `(c, [(g_i - c, i)])`.
pub fn split_shared(ps: &PenaltySpectrum) -> (f32, Vec<(f32, usize)>) {
    let c = shared_value(&ps.g);
    let active = (0..ps.n)
        .filter(|&i| ps.g[i] != c)
        .map(|i| (ps.g[i] - c, i))
        .collect();
    (c, active)
}

impl Assembly {
    /// Prepares `ps` (checks its sizes).
    pub fn new(ps: &PenaltySpectrum) -> Result<Assembly> {
        let n = ps.n;
        if ps.vectors.len() != n * n || ps.g.len() != n {
            return Err(Error::InvalidArgument(format!(
                "penalty spectrum of order {n} with {} vector values and {} coefficients",
                ps.vectors.len(),
                ps.g.len()
            )));
        }
        let (c, split) = split_shared(ps);
        let active: Vec<usize> = split.iter().map(|&(_, i)| i).collect();
        let r = active.len();
        let route = if 2 * r < n {
            let mut vs = vec![0.0f32; n * r];
            for row in 0..n {
                for (k, &i) in active.iter().enumerate() {
                    vs[row * r + k] = ps.vectors[row * n + i];
                }
            }
            let gs = split.iter().map(|&(d, _)| d).collect();
            Route::LowRank { vs, gs }
        } else {
            // M = (V diag(g)) V^T: the columns of V scaled by g, then one product.
            let scaled: Vec<f32> = ps
                .vectors
                .iter()
                .enumerate()
                .map(|(i, &v)| v * ps.g[i % n])
                .collect();
            let mut m = vec![0.0f32; n * n];
            sgemm(
                false,
                true,
                (n, n, n),
                1.0,
                &scaled,
                &ps.vectors,
                0.0,
                &mut m,
            )?;
            Route::Full { m }
        };
        Ok(Assembly {
            side: ps.side,
            n,
            coef: ps.coef,
            c: if matches!(route, Route::Full { .. }) {
                0.0
            } else {
                c
            },
            route,
            hold: ps.hold,
            held: None,
        })
    }

    /// Whether the per-step product is the full `n x n` matrix `M` (`n out inp`
    /// multiply-adds) rather than a low-rank form.
    pub fn is_full_rank(&self) -> bool {
        matches!(self.route, Route::Full { .. })
    }

    /// Whether the product is formed once per hand-over and then held.
    pub fn is_held(&self) -> bool {
        self.hold
    }

    /// `grad += coef W M` (right side) or `coef M W` (left side) for the *current* row-major
    /// `out x inp` weight `w` (with `hold`: for the weights of the first call).
    pub fn add_gradient(
        &mut self,
        w: &[f32],
        out: usize,
        inp: usize,
        grad: &mut [f32],
    ) -> Result<()> {
        if !self.hold {
            return self.product(w, out, inp, grad);
        }
        if self.held.is_none() {
            let mut p = vec![0.0f32; w.len()];
            self.product(w, out, inp, &mut p)?;
            self.held = Some(p);
        }
        let p = self.held.as_ref().expect("just formed");
        if p.len() != grad.len() {
            return Err(Error::InvalidArgument(format!(
                "penalty assembly: held product of {} values, gradient of {}",
                p.len(),
                grad.len()
            )));
        }
        grad.iter_mut().zip(p).for_each(|(g, x)| *g += x);
        Ok(())
    }

    fn product(&self, w: &[f32], out: usize, inp: usize, grad: &mut [f32]) -> Result<()> {
        let n = match self.side {
            GramSide::Right => inp,
            GramSide::Left => out,
        };
        if w.len() != out * inp || grad.len() != w.len() || n != self.n {
            return Err(Error::InvalidArgument(format!(
                "penalty assembly: weight of {} values, gradient of {} for [{out}, {inp}], \
                 spectrum of order {}",
                w.len(),
                grad.len(),
                self.n
            )));
        }
        if self.c != 0.0 {
            let f = self.coef * self.c;
            grad.iter_mut().zip(w).for_each(|(g, &x)| *g += f * x);
        }
        let k = self.coef;
        match (&self.route, self.side) {
            (Route::Full { m }, GramSide::Right) => {
                sgemm(false, false, (out, inp, inp), k, w, m, 1.0, grad)
            }
            (Route::Full { m }, GramSide::Left) => {
                sgemm(false, false, (out, inp, out), k, m, w, 1.0, grad)
            }
            (Route::LowRank { vs, gs }, side) => {
                let r = gs.len();
                if r == 0 {
                    return Ok(());
                }
                match side {
                    // T = W V_s (out x r), columns scaled by g_s; grad += k T V_s^T.
                    GramSide::Right => {
                        let mut t = vec![0.0f32; out * r];
                        sgemm(false, false, (out, r, inp), 1.0, w, vs, 0.0, &mut t)?;
                        t.iter_mut().enumerate().for_each(|(i, x)| *x *= gs[i % r]);
                        sgemm(false, true, (out, inp, r), k, &t, vs, 1.0, grad)
                    }
                    // T = V_s^T W (r x inp), rows scaled by g_s; grad += k V_s T.
                    GramSide::Left => {
                        let mut t = vec![0.0f32; r * inp];
                        sgemm(true, false, (r, inp, out), 1.0, vs, w, 0.0, &mut t)?;
                        t.chunks_exact_mut(inp)
                            .zip(gs)
                            .for_each(|(row, g)| row.iter_mut().for_each(|x| *x *= g));
                        sgemm(false, false, (out, inp, r), k, vs, &t, 1.0, grad)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regularize::assemble_gradient;

    /// The f32 assembly (full and low-rank routes) equals the f64 reference
    /// `assemble_gradient` on both sides, with a gradient already holding values.
    #[test]
    fn f32_assembly_matches_f64_reference() {
        for (out, inp) in [(9usize, 6usize), (6, 9), (7, 7)] {
            let w: Vec<f32> = (0..out * inp)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) / 7.0)
                .collect();
            let dec = decompose_f32(&w, out, inp).unwrap();
            let n = dec.n;
            let gs: [Vec<f64>; 4] = [
                (0..n).map(|i| 0.3 - 0.1 * i as f64).collect(),
                (0..n).map(|i| if i + 1 == n { 0.7 } else { 0.0 }).collect(),
                (0..n)
                    .map(|i| if i + 1 == n { -0.2 } else { 0.4 })
                    .collect(),
                vec![1.0; n],
            ];
            for g in &gs {
                let ps = penalty_spectrum(&dec, g, 2.0);
                let mut a = Assembly::new(&ps).unwrap();
                let mut grad = vec![0.5f32; w.len()];
                a.add_gradient(&w, out, inp, &mut grad).unwrap();
                let w64 = widen(&w).unwrap();
                let reference = assemble_gradient(&w64, out, inp, &dec, g).unwrap();
                for (a, b) in grad.iter().zip(&reference) {
                    assert!(
                        (*a as f64 - 0.5 - b).abs() < 1e-5,
                        "{out}x{inp}: {a} vs {b}"
                    );
                }
                assert!(reference.iter().any(|x| x.abs() > 1e-3));
            }
        }
    }

    /// The top-pair spectrum (Lanczos vector, Householder completion) assembles to the same
    /// stable-rank gradient as the full decomposition.
    #[test]
    fn top_pair_spectrum_matches_full_decomposition() {
        use crate::regularize::lanczos::top_pair_lanczos;
        use crate::regularize::{PowerOptions, stable_rank};
        for (out, inp) in [(12usize, 5usize), (5, 12)] {
            let w: Vec<f32> = (0..out * inp)
                .map(|i| ((i * 29 % 13) as f32 - 6.0) / 9.0)
                .collect();
            let w64 = widen(&w).unwrap();
            let dec = decompose_f32(&w, out, inp).unwrap();
            let (_, g) = stable_rank::coefficients(&dec.evals).unwrap();
            let reference = assemble_gradient(&w64, out, inp, &dec, &g).unwrap();
            let top = top_pair_lanczos(&w64, out, inp, None, &PowerOptions::default()).unwrap();
            let frob2: f64 = w64.iter().map(|x| x * x).sum();
            let (_, g_top, g_rest) = stable_rank::from_sums(frob2, top.lambda);
            let ps = top_pair_spectrum(&top.vector, dec.side, g_top, g_rest, 2.0).unwrap();
            let mut grad = vec![0.0f32; w.len()];
            Assembly::new(&ps)
                .unwrap()
                .add_gradient(&w, out, inp, &mut grad)
                .unwrap();
            for (a, b) in grad.iter().zip(&reference) {
                assert!((*a as f64 - b).abs() < 1e-5, "{out}x{inp}: {a} vs {b}");
            }
        }
    }

    /// A held product is the product with the first call's weights, added unchanged later.
    #[test]
    fn held_product_uses_the_first_weights() {
        let (out, inp) = (6usize, 9usize);
        let w: Vec<f32> = (0..out * inp).map(|i| (i % 7) as f32 / 5.0 - 0.5).collect();
        let dec = decompose_f32(&w, out, inp).unwrap();
        let g: Vec<f64> = (0..dec.n).map(|i| 0.1 * i as f64).collect();
        let mut ps = penalty_spectrum(&dec, &g, 2.0);
        let mut fresh = Assembly::new(&ps).unwrap();
        ps.hold = true;
        let mut held = Assembly::new(&ps).unwrap();
        let w2: Vec<f32> = w.iter().map(|x| x * 1.5).collect();
        let (mut a, mut b, mut c) = (
            vec![0.0f32; w.len()],
            vec![0.0f32; w.len()],
            vec![0.0; w.len()],
        );
        fresh.add_gradient(&w, out, inp, &mut a).unwrap();
        held.add_gradient(&w, out, inp, &mut b).unwrap();
        assert_eq!(a, b);
        held.add_gradient(&w2, out, inp, &mut c).unwrap();
        assert_eq!(a, c);
        let mut d = vec![0.0f32; w.len()];
        fresh.add_gradient(&w2, out, inp, &mut d).unwrap();
        assert!(d.iter().zip(&a).all(|(x, y)| (x - 1.5 * y).abs() < 1e-5));
    }

    #[test]
    fn refuses_diverged_weights() {
        let e = decompose_f32(&[1.0, f32::NAN], 1, 2).unwrap_err();
        assert!(e.to_string().contains("diverged"), "{e}");
    }
}
