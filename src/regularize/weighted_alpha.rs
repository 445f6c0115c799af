//! Weighted alpha, `R_wa = alpha_hat * log10(lambda_max)` (REGULARIZATION.md, penalty 1).
//!
//! After Xiao, Li, Xie & Zhou, "Heavy-Tailed Regularization of Weight Matrices in Deep Neural
//! Networks" (ICANN 2023, arXiv:2304.02911), whose exact equations were not available to us:
//! this is htdiag's own definition. `alpha_hat` is the median-xmin Hill estimate used by
//! TempBalance / AlphaPruning (Zhou et al. 2023, Lu et al. 2024) instead of the Clauset fit,
//! because its xmin index is fixed and so the estimate is differentiable almost everywhere;
//! `alpha_hat * log10(lambda_max)` is WeightWatcher's `alpha_weighted` (Martin & Mahoney,
//! Nature Communications 2021).
//!
//! With `lambda_0 <= ... <= lambda_{n-1}` (0-based, ascending, each clamped at
//! [`EIG_FLOOR`]): `k = floor(n/2)`, `m = n - k`,
//! `S = sum_{j=k}^{n-1} ln(lambda_j / lambda_k)`, `alpha_hat = 1 + m / max(S, S_min)` with
//! `S_min = m / (alpha_max - 1)`, i.e. `alpha_hat` is capped at `alpha_max` (default 1000)
//! so that identical singular values (orthogonal initialisation) give a finite value.
//!
//! Gradient: `dS/dlambda_j = 1/lambda_j` for `j > k`, `dS/dlambda_k = (1 - m)/lambda_k`,
//! `dalpha/dlambda = -m/S^2 dS/dlambda` (0 while `S` is floored), and
//! `dR/dlambda_i = log10(lambda_max) dalpha/dlambda_i + [i = n-1] alpha_hat/(lambda_max ln 10)`.
//! Clamped eigenvalues carry no gradient.
//!
//! What it does to the spectrum: while `lambda_max > 1` (`log10 > 0`), descent lowers
//! `alpha_hat` (spreads the upper half of the spectrum, a heavier tail) and lowers
//! `lambda_max`. While `lambda_max < 1` (common for freshly initialised layers:
//! `log10(lambda_max) < 0`), the sign flips and descent pushes `alpha_hat` UP: the penalty
//! then lightens the tail. This is a property of the definition, kept as is.

use serde::{Deserialize, Serialize};

use super::spectral::EIG_FLOOR;
use crate::error::{Error, Result};

/// Default cap on `alpha_hat`.
pub const DEFAULT_ALPHA_MAX: f64 = 1000.0;

/// Hyper-parameters of the weighted-alpha penalty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeightedAlphaParams {
    /// Cap on `alpha_hat` (through the floor `S >= m / (alpha_max - 1)`); must exceed 1.
    pub alpha_max: f64,
}

impl Default for WeightedAlphaParams {
    fn default() -> Self {
        WeightedAlphaParams {
            alpha_max: DEFAULT_ALPHA_MAX,
        }
    }
}

/// The median-xmin Hill estimate of one spectrum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HillEstimate {
    /// `alpha_hat = 1 + m / max(S, S_min)`.
    pub alpha: f64,
    /// Index of xmin in the ascending spectrum, `floor(n/2)`.
    pub k: usize,
    /// Tail size `n - k`.
    pub m: usize,
    /// `S = sum_{j>=k} ln(lambda_j / lambda_k)` (before the floor).
    pub s: f64,
    /// Whether `S` was below its floor (then `alpha_hat` is at its cap, without gradient).
    pub floored: bool,
}

pub(crate) fn check_ascending(evals: &[f64]) -> Result<()> {
    if let Some(i) = evals.iter().position(|x| !x.is_finite() || *x < 0.0) {
        return Err(Error::InvalidArgument(format!(
            "penalty: eigenvalue {i} is {} (must be finite and >= 0)",
            evals[i]
        )));
    }
    if let Some(i) = evals.windows(2).position(|p| p[1] < p[0]) {
        return Err(Error::InvalidArgument(format!(
            "penalty: eigenvalues must be ascending ({} > {} at index {i})",
            evals[i],
            evals[i + 1]
        )));
    }
    Ok(())
}

fn clamped(x: f64) -> f64 {
    x.max(EIG_FLOOR)
}

/// Median-xmin Hill estimate of an ascending spectrum of at least 3 eigenvalues (with 2,
/// `S = 0` always; with 1 there is no tail).
pub fn median_hill(evals: &[f64], alpha_max: f64) -> Result<HillEstimate> {
    check_ascending(evals)?;
    if !(alpha_max.is_finite() && alpha_max > 1.0) {
        return Err(Error::InvalidArgument(format!(
            "alpha_max must be a finite number > 1, got {alpha_max}"
        )));
    }
    let n = evals.len();
    if n < 3 {
        return Err(Error::InvalidArgument(format!(
            "the median Hill estimate alpha_hat needs at least 3 singular values, got {n} \
             (a {n} x N layer): use another penalty for this layer or leave it unregularized"
        )));
    }
    let k = n / 2;
    let m = n - k;
    let lk = clamped(evals[k]).ln();
    let s: f64 = evals[k..].iter().map(|&x| clamped(x).ln() - lk).sum();
    let s_min = m as f64 / (alpha_max - 1.0);
    let floored = s < s_min;
    let alpha = 1.0 + m as f64 / if floored { s_min } else { s };
    Ok(HillEstimate {
        alpha,
        k,
        m,
        s,
        floored,
    })
}

/// `d alpha_hat / d lambda_i` for every eigenvalue (zero while `S` is floored and for
/// clamped eigenvalues).
pub fn median_hill_gradient(evals: &[f64], est: &HillEstimate) -> Vec<f64> {
    let n = evals.len();
    let mut d = vec![0.0; n];
    if est.floored {
        return d;
    }
    let m = est.m as f64;
    let c = -m / (est.s * est.s);
    for j in est.k..n {
        if evals[j] > EIG_FLOOR {
            let ds = if j == est.k { 1.0 - m } else { 1.0 };
            d[j] = c * ds / evals[j];
        }
    }
    d
}

/// Value and spectral coefficients `g_i = dR/dlambda_i` of `R_wa`; also returns the estimate.
pub fn coefficients(
    evals: &[f64],
    params: &WeightedAlphaParams,
) -> Result<(f64, Vec<f64>, HillEstimate)> {
    let est = median_hill(evals, params.alpha_max)?;
    let n = evals.len();
    let top = evals[n - 1];
    let log_top = clamped(top).log10();
    let value = est.alpha * log_top;
    let mut g = median_hill_gradient(evals, &est);
    for gi in g.iter_mut() {
        *gi *= log_top;
    }
    if top > EIG_FLOOR {
        g[n - 1] += est.alpha / (top * std::f64::consts::LN_10);
    }
    Ok((value, g, est))
}
