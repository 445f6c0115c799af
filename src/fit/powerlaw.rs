//! The default Clauset et al. (2009) scan, as WeightWatcher 0.7.6's `WWFit`:
//! candidates `xmin = x_i` for `i = 0..n-2`, `alpha_i = 1 + m_i / s_i` with
//! `s_i = sum_{j>=i} ln(x_j/x_i)`, `D_i` the KS distance (1 when `alpha_i` is not a finite
//! value > 1), and the first `i` with the smallest `D` wins.
//!
//! Cost: the `s_i` come from the recurrence `s_i = s_{i+1} + (m_i - 1)(ln x_{i+1} - ln x_i)`
//! (O(1) per candidate, no cancellation since every term is >= 0). The KS distances are the
//! O(n^2) part; each is computed with an early exit against the best `D` known so far, which
//! is first seeded from a sparse sample of exact distances, and the position that rejected
//! the previous candidate is checked first (neighbours are usually rejected by the same
//! eigenvalue), which makes most rejections O(1). Candidates are split across rayon workers
//! only for very large spectra, where that pays.

use rayon::prelude::*;

use super::{in_window, ks_distance, ks_probe, success};
use crate::result::PowerLawFit;

/// One candidate `xmin` of the scan (for `D(xmin)` and `alpha(xmin)` plots).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// The candidate lower cut-off.
    pub xmin: f64,
    /// Maximum-likelihood exponent of the tail `>= xmin`.
    pub alpha: f64,
    /// KS distance of that fit (1 when alpha is not a finite value > 1).
    pub d: f64,
}

/// Number of candidates from which the scan is split across rayon workers. Below it one
/// thread is fast enough (about 2 ms at n = 4608 and 6 ms at n = 15000, see
/// `examples/bench_fit.rs`), and the pipeline already runs layers in parallel.
const PAR_MIN_CANDIDATES: usize = 32768;

/// Candidates whose exact `D` is computed first, to give the early exit a good bound.
const SEED_SAMPLES: usize = 48;

/// Natural logs and the per-candidate `s_i`, for `x` ascending (all > 0).
pub(super) fn logs_and_sums(x: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = x.len();
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let mut s = vec![0.0; n];
    for i in (0..n.saturating_sub(1)).rev() {
        let m = (n - i) as f64;
        s[i] = s[i + 1] + (m - 1.0) * (lx[i + 1] - lx[i]);
    }
    (lx, s)
}

/// `alpha_i = 1 + m/s`, and whether it is a valid (finite, > 1) exponent.
#[inline]
fn alpha_of(m: usize, s: f64) -> (f64, bool) {
    let a = 1.0 + m as f64 / s;
    (a, a.is_finite() && a > 1.0)
}

/// The whole scan of the default rule on the eigenvalues above [`super::EVALS_THRESH`]
/// (every `D` exact; meant for plots, the fit itself uses early exits). O(n^2): about 0.1 s
/// at n = 4608; see [`scan_sampled`] for plots of large spectra.
pub fn scan(evals_ascending: &[f64]) -> Vec<Candidate> {
    scan_sampled(evals_ascending, usize::MAX)
}

/// [`scan`] at no more than `max_points` candidates, evenly spaced in rank (the first and
/// the last candidate always included); every returned `D` and `alpha` is exact. Costs about
/// `max_points * n / 2` terms instead of `n^2 / 2`.
pub fn scan_sampled(evals_ascending: &[f64], max_points: usize) -> Vec<Candidate> {
    if evals_ascending.iter().any(|v| !v.is_finite()) || max_points == 0 {
        return Vec::new();
    }
    let evals = super::sorted(evals_ascending);
    let x = super::above(&evals, super::EVALS_THRESH);
    if x.len() < 2 {
        return Vec::new();
    }
    let (lx, s) = logs_and_sums(x);
    let n = x.len();
    let nc = n - 1;
    let idx: Vec<usize> = if max_points >= nc {
        (0..nc).collect()
    } else if max_points == 1 {
        vec![0]
    } else {
        let mut v: Vec<usize> = (0..max_points)
            .map(|k| ((k as f64) * (nc - 1) as f64 / (max_points - 1) as f64).round() as usize)
            .collect();
        v.dedup();
        v
    };
    idx.into_par_iter()
        .with_min_len(64)
        .map(|i| {
            let (alpha, ok) = alpha_of(n - i, s[i]);
            let d = if ok {
                ks_distance(&lx[i..], alpha, f64::INFINITY).unwrap_or(1.0)
            } else {
                1.0
            };
            Candidate {
                xmin: x[i],
                alpha,
                d,
            }
        })
        .collect()
}

/// Best `(D, i)` so far; ordering is lexicographic so that the first index wins ties.
#[derive(Debug, Clone, Copy)]
struct Best {
    d: f64,
    i: usize,
}

impl Best {
    const NONE: Best = Best {
        d: f64::INFINITY,
        i: usize::MAX,
    };

    fn better(a: Best, b: Best) -> Best {
        if a.d < b.d || (a.d == b.d && a.i < b.i) {
            a
        } else {
            b
        }
    }
}

/// The default fit of thresholded ascending data `x` (`x.len() >= 2`).
pub(super) fn fit(x: &[f64], window: Option<(f64, f64)>) -> PowerLawFit {
    fit_impl(x, window, x.len() > PAR_MIN_CANDIDATES)
}

/// [`fit`] with the choice of the parallel scan made by the caller (tests force both).
pub(super) fn fit_impl(x: &[f64], window: Option<(f64, f64)>, parallel: bool) -> PowerLawFit {
    let n = x.len();
    let xmax = x[n - 1];
    let (lx, s) = logs_and_sums(x);
    let cand: Vec<usize> = (0..n - 1).filter(|&i| in_window(x[i], window)).collect();
    if cand.is_empty() {
        return PowerLawFit::failed(xmax);
    }

    // D_i exactly when it is <= cutoff (ties included), else None. `hint` is the global index
    // of the last eigenvalue that rejected a candidate (see `ks_probe`).
    let eval = |i: usize, cutoff: f64, hint: &mut Option<usize>| -> Option<f64> {
        let (alpha, ok) = alpha_of(n - i, s[i]);
        if !ok {
            return (1.0 <= cutoff).then_some(1.0);
        }
        let local = hint.and_then(|h| h.checked_sub(i));
        match ks_probe(&lx[i..], alpha, cutoff, local) {
            Ok((d, k)) => {
                *hint = Some(i + k);
                Some(d)
            }
            Err(k) => {
                *hint = Some(i + k);
                None
            }
        }
    };

    // Seed: exact D on a sparse, evenly spaced sample.
    let stride = (cand.len() / SEED_SAMPLES).max(1);
    let mut best = Best::NONE;
    let mut hint = None;
    for &i in cand.iter().step_by(stride) {
        if let Some(d) = eval(i, best.d, &mut hint) {
            best = Best::better(Best { d, i }, best);
        }
    }

    // Full pass with early exits.
    let scan_chunk = |chunk: &[usize], start: Best| -> Best {
        let mut b = start;
        let mut hint = None;
        for &i in chunk {
            if i == start.i {
                continue;
            }
            if let Some(d) = eval(i, b.d, &mut hint) {
                b = Best::better(Best { d, i }, b);
            }
        }
        b
    };
    best = if parallel {
        let seed = best;
        cand.par_chunks(256)
            .map(|c| scan_chunk(c, seed))
            .reduce(|| seed, Best::better)
    } else {
        scan_chunk(&cand, best)
    };

    let i = best.i;
    let (alpha, ok) = alpha_of(n - i, s[i]);
    if !ok {
        return PowerLawFit::failed(xmax);
    }
    success(alpha, x[i], xmax, best.d, n - i)
}
