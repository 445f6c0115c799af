//! Spectral-norm regularization, the second conventional baseline (Yoshida & Miyato,
//! "Spectral Norm Regularization for Improving the Generalizability of Deep Learning",
//! arXiv:1705.10941): `R_sn = sigma_max^2 = lambda_max`, `dR/dW = 2 sigma u v^T`, with the
//! top singular pair from power iteration (as in that paper) or the eigen-decomposition.
//! (Their `(mu/2) sigma^2` convention is `mu_here = mu_there / 2`.)
//!
//! What it does to the spectrum: only `sigma_max` shrinks (and, once it meets the next one,
//! the top cluster together): `lambda_max` falls and the stable rank rises.

use serde::{Deserialize, Serialize};

use super::stable_rank::TopRoute;

/// Hyper-parameters of spectral-norm regularization.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpectralNormParams {
    /// How `sigma_max` and its singular vectors are found.
    pub route: TopRoute,
}

/// Value and spectral coefficients of `R_sn` (ascending spectrum, at least one value).
pub fn coefficients(evals: &[f64]) -> (f64, Vec<f64>) {
    let n = evals.len();
    let mut g = vec![0.0; n];
    g[n - 1] = 1.0;
    (evals[n - 1], g)
}
