//! Frechet prior on `lambda_max` (REGULARIZATION.md, penalty 5; after Xiao et al., ICANN
//! 2023, arXiv:2304.02911, whose exact equations were not available: htdiag's own
//! definition).
//!
//! The largest eigenvalue of a heavy-tailed random matrix follows a Frechet law (Soshnikov
//! 2004; Auffinger, Ben Arous & Peche 2009). Its negative log-density with shape `a` and
//! scale `s`, up to a constant, is the penalty
//! `R_fr = (1 + a) ln(r) + r^(-a)`, `r = lambda_max / s`,
//! with `a` by default the layer's `alpha_hat - 1` (held constant within a step) and `s` by
//! default the layer's `lambda_max` at the start of training ([`super::LayerState`]).
//! `dR/dlambda_max = ((1 + a) - a r^(-a)) / lambda_max`.
//!
//! What it does to the spectrum: `R_fr` is minimal at the Frechet mode
//! `r* = (a / (1 + a))^(1/a)` (< 1), so descent pulls `lambda_max` towards
//! `s * (a/(1+a))^(1/a)`: down when it is above, up when it is below. Nothing else moves.
//!
//! Guards: `lambda_max` is clamped at [`EIG_FLOOR`] (without gradient there); the exponent
//! `t = -a ln r` of `r^(-a) = e^t` is continued linearly beyond [`EXP_CAP`]
//! (`e^T (1 + t - T)`), which keeps value and gradient finite and the push upwards for a
//! collapsing layer.

use serde::{Deserialize, Serialize};

use super::spectral::EIG_FLOOR;
use super::weighted_alpha::check_ascending;
use crate::error::{Error, Result};

/// Beyond `t = -a ln r > EXP_CAP`, `e^t` is replaced by its tangent line at `EXP_CAP`.
pub const EXP_CAP: f64 = 100.0;

/// Hyper-parameters of the Frechet prior.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FrechetParams {
    /// Shape `a` (> 0); `None`: the layer's `alpha_hat - 1`.
    pub shape: Option<f64>,
    /// Scale `s` (> 0); `None`: the layer's initial `lambda_max`
    /// ([`super::LayerState::initial_lambda_max`]).
    pub scale: Option<f64>,
}

/// The mode of the Frechet law, where `R_fr` is minimal: `s (a / (1 + a))^(1/a)`.
pub fn mode(shape: f64, scale: f64) -> f64 {
    scale * (shape / (1.0 + shape)).powf(1.0 / shape)
}

/// Value and spectral coefficients of `R_fr` with shape and scale resolved.
pub fn coefficients(evals: &[f64], shape: f64, scale: f64) -> Result<(f64, Vec<f64>)> {
    check_ascending(evals)?;
    if !(shape.is_finite() && shape > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "Frechet prior: shape must be finite and > 0, got {shape}"
        )));
    }
    if !(scale.is_finite() && scale > 0.0) {
        return Err(Error::InvalidArgument(format!(
            "Frechet prior: scale must be finite and > 0, got {scale}"
        )));
    }
    let n = evals.len();
    let top = evals[n - 1];
    let l = top.max(EIG_FLOOR);
    let ln_r = (l / scale).ln();
    let t = -shape * ln_r;
    let (e, de) = if t <= EXP_CAP {
        let e = t.exp();
        (e, e)
    } else {
        let e = EXP_CAP.exp();
        (e * (1.0 + t - EXP_CAP), e)
    };
    let value = (1.0 + shape) * ln_r + e;
    let mut g = vec![0.0; n];
    if top > EIG_FLOOR {
        // d/dl [(1+a) ln r] = (1+a)/l; d/dl e(t) = de * dt/dl = -a de / l.
        g[n - 1] = ((1.0 + shape) - shape * de) / l;
    }
    Ok((value, g))
}
