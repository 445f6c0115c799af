//! `fix_fingers = clip_xmax`, as WeightWatcher's `fit_clipped_powerlaw`: a few very large
//! eigenvalues ("fingers", a finite-size effect) can make the KS scan settle on a tiny tail
//! with a spuriously large alpha. The fit is repeated without the top k = 2..9 eigenvalues;
//! the first clipped fit whose alpha is more than [`FINGER_THRESH`] below the unclipped one is
//! taken (`num_fingers = k - 1`, as WeightWatcher reports it), and the search stops early when
//! a clipped alpha is <= [`MIN_ALPHA`]. The unclipped alpha is kept as `raw_alpha`.
//!
//! Unlike WeightWatcher, a clipped spectrum too small to fit ends the search instead of
//! failing the whole layer.

use super::{FitOptions, fit_tail};
use crate::result::PowerLawFit;

/// Alpha must drop by more than this for a clipped fit to be accepted.
pub const FINGER_THRESH: f64 = 1.0;

/// The search stops once a clipped fit's alpha is at or below this.
pub const MIN_ALPHA: f64 = 2.0;

/// Largest number of top eigenvalues dropped (WeightWatcher's `range(2, max_fingers=10)`).
pub const MAX_CLIPPED: usize = 9;

/// Clipped fit of thresholded ascending data `x`.
pub(super) fn clip_xmax(x: &[f64], opts: &FitOptions) -> PowerLawFit {
    let first = fit_tail(x, opts);
    if !first.is_valid() {
        return first;
    }
    let mut chosen = first;
    let mut num_fingers = 0i64;
    for k in 2..=MAX_CLIPPED {
        if x.len() < k + 2 {
            break;
        }
        let fit = fit_tail(&x[..x.len() - k], opts);
        if !fit.is_valid() {
            break;
        }
        if fit.alpha + FINGER_THRESH < first.alpha {
            chosen = fit;
            num_fingers = k as i64 - 1;
            break;
        }
        if fit.alpha <= MIN_ALPHA {
            break;
        }
    }
    PowerLawFit {
        raw_alpha: Some(first.alpha),
        num_fingers: Some(num_fingers),
        ..chosen
    }
}
