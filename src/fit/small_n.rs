//! WeightWatcher 0.7.6's rule for small spectra (fewer than [`super::SMALL_N_LIMIT`] fitted
//! eigenvalues): only tails of at least [`MIN_TAIL`] values are candidates, the exponent uses
//! the unbiased `alpha = 1 + (m - 1)/s` (Clauset et al. 2009, eq. 3.7's small-sample
//! correction), candidates with `s <= 1e-12` are skipped, and the smallest KS distance wins.

use super::{in_window, ks_distance, powerlaw::logs_and_sums, success};
use crate::result::PowerLawFit;

/// Smallest tail the small-N rule fits.
pub const MIN_TAIL: usize = 8;

/// Candidates whose log-sum is at or below this are degenerate (all tail values equal).
const MIN_LOG_SUM: f64 = 1e-12;

/// Small-N fit of thresholded ascending data `x` (`x.len() >= 2`).
pub(super) fn fit(x: &[f64], window: Option<(f64, f64)>) -> PowerLawFit {
    let n = x.len();
    let xmax = x[n - 1];
    let (lx, s) = logs_and_sums(x);
    let mut best: Option<(f64, usize, f64)> = None;
    for i in 0..n - 1 {
        let m = n - i;
        if m < MIN_TAIL || s[i] <= MIN_LOG_SUM || !in_window(x[i], window) {
            continue;
        }
        let alpha = 1.0 + (m - 1) as f64 / s[i];
        let d = if alpha.is_finite() && alpha > 1.0 {
            ks_distance(&lx[i..], alpha, f64::INFINITY).unwrap_or(1.0)
        } else {
            1.0
        };
        if best.is_none_or(|(bd, _, _)| d < bd) {
            best = Some((d, i, alpha));
        }
    }
    match best {
        Some((d, i, alpha)) if alpha.is_finite() && alpha > 1.0 => {
            success(alpha, x[i], xmax, d, n - i)
        }
        _ => PowerLawFit::failed(xmax),
    }
}
