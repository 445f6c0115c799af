//! Power-law prior on the spectrum's tail (REGULARIZATION.md, penalty 4; after Xiao et al.,
//! ICANN 2023, arXiv:2304.02911, whose exact equations were not available: htdiag's own
//! definition).
//!
//! MAP estimation with the prior `p(lambda) ~ lambda^(-a)` on the tail `lambda >= xmin`
//! adds the negative log-prior `R_pl = a * sum_{i >= k} ln(lambda_i)`, with the same median
//! xmin index `k = floor(n/2)` as [`super::weighted_alpha`] (eigenvalues clamped at
//! [`EIG_FLOOR`]; clamped ones carry no gradient). `a` is a fixed prior exponent (default 2)
//! or the layer's current `alpha_hat`, held constant within a step (no gradient flows
//! through it). Gradient: `g_i = a / lambda_i` for `i >= k`, 0 below.
//!
//! What it does to the spectrum: one descent step of size `eta` moves each tail singular
//! value by `sigma -> sigma - 2 eta a / sigma`, i.e. every tail eigenvalue drops by the same
//! amount `4 eta a` (to first order) while the bulk below xmin is untouched. As long as the
//! tail's lower end stays above the bulk, the log-ratios `ln(lambda_j / lambda_k)` grow and
//! `alpha_hat` falls (a heavier tail). The penalty is unbounded below, though: run long
//! enough on its own, the falling tail reaches the bulk, eigenvalues pile up at the median
//! index and the tail is then pressed onto that pile, which raises `alpha_hat` again (seen
//! after ~150 steps of `eta = 1e-4` on a 20 x 12 Gaussian matrix). In training the data loss
//! holds the tail up; keep `mu` small, or use the lower threshold of [`super::variations`].

use serde::{Deserialize, Serialize};

use super::spectral::EIG_FLOOR;
use super::weighted_alpha::check_ascending;
use crate::error::{Error, Result};

/// The exponent `a` of the power-law prior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorExponent {
    /// A fixed exponent (must be finite and > 0).
    Fixed(f64),
    /// The layer's current `alpha_hat`, held constant within a step.
    CurrentAlpha,
}

/// Hyper-parameters of the power-law prior.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PowerLawParams {
    /// The prior exponent `a`.
    pub exponent: PriorExponent,
}

impl Default for PowerLawParams {
    fn default() -> Self {
        PowerLawParams {
            exponent: PriorExponent::Fixed(2.0),
        }
    }
}

/// Value and spectral coefficients of `R_pl` with exponent `a` already resolved.
pub fn coefficients(evals: &[f64], a: f64) -> Result<(f64, Vec<f64>)> {
    check_ascending(evals)?;
    if !(a.is_finite() && a > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "power-law prior: exponent must be finite and > 0, got {a}"
        )));
    }
    let n = evals.len();
    let k = n / 2;
    let mut g = vec![0.0; n];
    let mut value = 0.0;
    for i in k..n {
        value += evals[i].max(EIG_FLOOR).ln();
        if evals[i] > EIG_FLOOR {
            g[i] = a / evals[i];
        }
    }
    Ok((a * value, g))
}
