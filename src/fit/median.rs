//! The "median xmin" estimator of TempBalance (Zhou et al., "Temperature balancing,
//! layer-wise weight analysis, and neural network training", NeurIPS 2023) and AlphaPruning
//! (Lu et al., "AlphaPruning: using heavy-tailed self regularization theory for improved
//! layer-wise pruning of large language models", NeurIPS 2024): no search over `xmin`, the
//! tail starts at the median eigenvalue, `i = floor(n/2)`, `alpha = 1 + m / sum ln(x_j/x_i)`.
//! Cheaper and more stable than the KS scan, at the price of a fixed tail fraction. `D` and
//! `sigma` are reported for that tail as for the default fit.

use super::{ks_distance, powerlaw::logs_and_sums, success};
use crate::result::PowerLawFit;

/// Median-xmin fit of thresholded ascending data `x`.
pub(super) fn fit(x: &[f64]) -> PowerLawFit {
    let n = x.len();
    let xmax = x.last().copied().unwrap_or(f64::NAN);
    let i = n / 2;
    if n < 3 {
        return PowerLawFit::failed(xmax);
    }
    let (lx, s) = logs_and_sums(x);
    let m = n - i;
    let alpha = 1.0 + m as f64 / s[i];
    if !(alpha.is_finite() && alpha > 1.0) {
        return PowerLawFit::failed(xmax);
    }
    let d = ks_distance(&lx[i..], alpha, f64::INFINITY).unwrap_or(1.0);
    success(alpha, x[i], xmax, d, m)
}
