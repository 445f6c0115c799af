//! The "median xmin" estimator of TempBalance (Zhou et al., "Temperature balancing,
//! layer-wise weight analysis, and neural network training", NeurIPS 2023; `pl_fitting =
//! "median"`) and AlphaPruning (Lu et al., "AlphaPruning: using heavy-tailed self
//! regularization theory for improved layer-wise pruning of large language models", NeurIPS
//! 2024; `alpha_mid`), as ALLOCATION.md section 2 states it from their code:
//!
//! ```text
//! i = floor(N / 2); xmin = lambda[i]; n = N - i        (the tail includes xmin)
//! alpha = 1 + n / (sum_{j >= i} ln lambda[j] - n ln lambda[i])
//! D = max_{k < n} | 1 - (lambda[i+k] / xmin)^(1 - alpha) - k/n |
//! ```
//!
//! computed literally (their operation order, in the chosen [`Real`]). N = 1 or 2, or a tail
//! of equal values, make the denominator 0: alpha = +inf, which is reported as such (D is then
//! `(n - 1)/n` by the same formula, 0 for N <= 2). An exactly zero `xmin` (more than half the
//! eigenvalues zero, possible only without the 1e-5 threshold) gives NaN in their code: the
//! row is reported `failed` with that reason. The same `alpha_i` and `D_i` serve each
//! candidate of the peak estimator ([`super::peak`]).

use super::real::{Precision, Real, f32_eigenvalues};
use super::success;
use crate::result::PowerLawFit;

/// `sum_{j >= i} ln x_j` for every `i`, accumulated in f64 from the end (index `N` holds 0).
pub(super) fn tail_log_sums<R: Real>(logs: &[R]) -> Vec<f64> {
    let mut s = vec![0.0; logs.len() + 1];
    for i in (0..logs.len()).rev() {
        s[i] = s[i + 1] + logs[i].wide();
    }
    s
}

/// `alpha_i = 1 + n / (sum_{j>=i} ln x_j - n ln x_i)` in `R`, given the tail sums.
#[inline]
pub(super) fn alpha_at<R: Real>(logs: &[R], sums: &[f64], i: usize) -> R {
    let n = R::of((logs.len() - i) as f64);
    R::of(1.0) + n / (R::of(sums[i]) - n * logs[i])
}

/// `D_i = max_k |1 - (x_{i+k}/x_i)^(1-alpha) - k/n|` in `R`. Stops early (returning a value
/// `> cutoff`) once the running maximum exceeds `cutoff`; pass +inf for the exact value. NaN
/// terms make the result NaN (torch's `max` propagates NaN).
pub(super) fn ks_at<R: Real>(x: &[R], i: usize, alpha: R, cutoff: R) -> R {
    let tail = &x[i..];
    let n = R::of(tail.len() as f64);
    let (one, e, xmin) = (R::of(1.0), R::of(1.0) - alpha, x[i]);
    let mut d = R::of(0.0);
    for (k, &v) in tail.iter().enumerate() {
        let t = (one - (v / xmin).powf(e) - R::of(k as f64) / n).abs();
        if t.is_nan() {
            return t;
        }
        if t > d {
            d = t;
            if d > cutoff {
                return d;
            }
        }
    }
    d
}

/// The median-xmin fit of ascending `x` in `R`: `Ok((alpha, D, i))`, or why it has none.
fn mid<R: Real>(x: &[R]) -> Result<(R, R, usize), String> {
    let n = x.len();
    if n == 0 {
        return Err("no eigenvalues to fit".into());
    }
    let i = n / 2;
    if x[i].wide() <= 0.0 {
        return Err(format!(
            "median estimator: xmin = lambda[{i}] = 0 (at least half of the {n} eigenvalues are \
             zero): alpha is NaN in TempBalance/AlphaPruning's code"
        ));
    }
    let logs: Vec<R> = x[i..].iter().map(|v| v.ln()).collect();
    let sums = tail_log_sums(&logs);
    let alpha = alpha_at(&logs, &sums, 0);
    if alpha.is_nan() {
        return Err("median estimator: alpha is NaN".into());
    }
    let d = ks_at(x, i, alpha, R::of(f64::INFINITY));
    Ok((alpha, d, i))
}

/// The fit as a [`PowerLawFit`] (alpha and D widened from `R`), or why there is none.
fn fit_in<R: Real>(x: &[R]) -> Result<PowerLawFit, String> {
    let (alpha, d, i) = mid(x)?;
    let mut f = success(
        alpha.wide(),
        x[i].wide(),
        x[x.len() - 1].wide(),
        d.wide(),
        x.len() - i,
    );
    f.num_pl_spikes = (x.len() - x.partition_point(|v| *v < x[i])) as i64;
    Ok(f)
}

/// Median-xmin fit of ascending data `x` (already thresholded by the caller, or not at all
/// under `--rules`), in the given precision. `num_pl_spikes` counts the values `>= xmin`.
pub(super) fn fit(x: &[f64], precision: Precision) -> Result<PowerLawFit, String> {
    match precision {
        Precision::F64 => fit_in(x),
        Precision::F32 => fit_in(&f32_eigenvalues(x)),
    }
}
