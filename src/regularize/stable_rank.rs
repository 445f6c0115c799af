//! Stable rank, `R_sr = sum_i lambda_i / lambda_max = ||W||_F^2 / ||W||_2^2`
//! (REGULARIZATION.md, penalty 2; after Xiao et al., ICANN 2023, arXiv:2304.02911, whose
//! exact equations were not available: htdiag's own definition; stable rank itself is
//! Rudelson & Vershynin's numerical rank, 2007).
//!
//! Gradient: with `F = ||W||_F^2` and `L = lambda_max`,
//! `dR/dW = 2 W / L - (F / L^2) dL/dW = 2 W / L - (2 F / L^2) sigma u v^T`: only the top
//! singular pair is needed, so the default route is a Krylov method on the Gram matrix
//! (Lanczos, [`super::lanczos`]; plain power iteration, [`super::spectral::top_pair`], on
//! request), `O(rows * cols)` per product, rather than a full eigen-decomposition. Spectrally: `g_i = 1/L` for all `i`, plus `-F/L^2` on `lambda_max`.
//!
//! Guard: `L` is clamped at [`EIG_FLOOR`] (then it carries no gradient), so the zero matrix
//! has `R = 0` and gradient 0 instead of `0/0`.
//!
//! What it does to the spectrum: every singular value shrinks in proportion (the `2W/L`
//! term) while `sigma_max` is pushed back up (the `-F/L^2` term), so the bulk shrinks
//! relative to the top: the stable rank drops towards 1 and the spectrum becomes dominated
//! by its largest eigenvalue.

use serde::{Deserialize, Serialize};

use super::spectral::{EIG_FLOOR, PowerOptions};
use super::weighted_alpha::check_ascending;
use crate::error::Result;

/// How the top singular pair is obtained for the penalties that need only it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopRoute {
    /// Lanczos on the smaller Gram matrix ([`super::lanczos`]), warm-started from the
    /// previous step: the default.
    Lanczos(PowerOptions),
    /// Plain power iteration ([`super::spectral::top_pair`]), warm-started: the textbook
    /// method (and what a simple GPU kernel does), slow when the top gap is small.
    Power(PowerOptions),
    /// The full eigen-decomposition of the smaller Gram matrix.
    Eigen,
}

impl Default for TopRoute {
    fn default() -> Self {
        TopRoute::Lanczos(PowerOptions::default())
    }
}

/// Hyper-parameters of the stable-rank penalty.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StableRankParams {
    /// How `sigma_max` and its singular vectors are found.
    pub route: TopRoute,
}

/// Value and spectral coefficients of `R_sr`.
pub fn coefficients(evals: &[f64]) -> Result<(f64, Vec<f64>)> {
    check_ascending(evals)?;
    let n = evals.len();
    let (value, g_top, g_rest) = from_sums(evals.iter().sum(), evals[n - 1]);
    let mut g = vec![g_rest; n];
    g[n - 1] = g_top;
    Ok((value, g))
}

/// `(R, g_top, g_rest)` from `F = sum lambda` and `lambda_max` alone: `g_i = 1/L` for every
/// eigenvalue but the top one, `1/L - F/L^2` for it.
pub fn from_sums(f: f64, top: f64) -> (f64, f64, f64) {
    let l = top.max(EIG_FLOOR);
    let g_top = if top > EIG_FLOOR {
        1.0 / l - f / (l * l)
    } else {
        1.0 / l
    };
    (f / l, g_top, 1.0 / l)
}

/// Value and gradient (row-major) from `||W||_F^2` and the top pair: the power route.
pub fn from_top_pair(w: &[f64], top: &super::spectral::TopPair) -> (f64, Vec<f64>) {
    let f: f64 = w.iter().map(|x| x * x).sum();
    let l = top.lambda.max(EIG_FLOOR);
    let mut grad: Vec<f64> = w.iter().map(|x| 2.0 * x / l).collect();
    if top.lambda > EIG_FLOOR {
        top.add_gradient(-f / (l * l), &mut grad);
    }
    (f / l, grad)
}
