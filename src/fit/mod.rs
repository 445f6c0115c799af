//! Power-law fit of an ESD's tail (METRICS.md section 3).
//!
//! The estimator is the one of Clauset, Shalizi & Newman, "Power-law distributions in empirical
//! data", SIAM Review 51 (2009): for every candidate lower cut-off `xmin` the continuous
//! maximum-likelihood exponent `alpha = 1 + m / sum ln(x/xmin)` is computed, and the `xmin`
//! whose fitted tail has the smallest Kolmogorov-Smirnov distance `D` to the data wins. This
//! is what WeightWatcher 0.7.6 does (its `WW_powerlaw.WWFit`), and what Martin & Mahoney,
//! "Implicit self-regularization in deep neural networks", JMLR 22 (2021), read as the layer
//! quality metric alpha.
//!
//! Variants (all selected through [`FitOptions`]):
//! - the small-N rule of WeightWatcher 0.7.6 for fewer than 20 eigenvalues ([`SmallN`]);
//! - `fix_fingers = clip_xmax` ([`FixFingers::ClipXmax`]): refit without the few largest
//!   eigenvalues when they distort the tail;
//! - the "median xmin" estimator of TempBalance (Zhou et al., NeurIPS 2023) and AlphaPruning
//!   (Lu et al., NeurIPS 2024) ([`FitMethod::Median`]), and AlphaPruning's "peak xmin"
//!   estimator `alpha_peak` ([`FitMethod::Peak`]), both as ALLOCATION.md sections 2 and 3,
//!   in f64 or in their float32 arithmetic ([`Precision`]);
//! - a window restricting the candidate `xmin` ([`FitOptions::xmin_window`]).
//!
//! [`scan`] returns the whole `D(xmin)` and `alpha(xmin)` curves for plots ([`scan_sampled`]
//! a subset of them, for large spectra).

mod fingers;
mod median;
mod peak;
mod powerlaw;
mod real;
mod small_n;

use std::borrow::Cow;

use crate::result::PowerLawFit;

pub use peak::{histc, linspace, window as peak_window};
pub use powerlaw::{Candidate, scan, scan_sampled};
pub use real::{Precision, Real, f32_eigenvalues};

/// Eigenvalues at or below this are left out of the fit (WeightWatcher's `EVALS_THRESH`).
pub const EVALS_THRESH: f64 = 1e-5;

/// Below this many fitted eigenvalues, WeightWatcher 0.7.6 switches to its small-N rule.
pub const SMALL_N_LIMIT: usize = 20;

/// Which estimator chooses `xmin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FitMethod {
    /// Clauset et al. (2009): the `xmin` that minimises the KS distance (the default).
    #[default]
    Clauset,
    /// TempBalance / AlphaPruning: `xmin` = the median eigenvalue (`i = floor(n/2)`).
    Median,
    /// AlphaPruning's `alpha_peak`: the KS scan restricted to a window around the peak of the
    /// log10 histogram (ALLOCATION.md section 3).
    Peak,
}

/// What to do with spectra of fewer than [`SMALL_N_LIMIT`] eigenvalues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmallN {
    /// WeightWatcher 0.7.6: only tails of at least 8 values, `alpha = 1 + (m - 1)/s`.
    #[default]
    Ww076,
    /// WeightWatcher 0.7.5.5 and older: the ordinary rule at every size.
    Ww0755,
}

/// Finite-size "fingers" (a few outlying top eigenvalues) correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FixFingers {
    /// No correction (the default).
    #[default]
    None,
    /// WeightWatcher's `clip_xmax`: drop the top k = 2..9 eigenvalues until alpha falls by more
    /// than 1.0 (or below 2).
    ClipXmax,
}

/// Options of [`fit_power_law`]. `FitOptions::default()` reproduces WeightWatcher 0.7.6.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Estimator of `xmin`.
    pub method: FitMethod,
    /// Rule for small spectra.
    pub small_n: SmallN,
    /// Fingers correction (Clauset method only; the median estimator ignores it).
    pub fix_fingers: FixFingers,
    /// When set, only candidates `xmin` with `lo <= xmin <= hi` are considered (Clauset
    /// method only; the median estimator ignores it).
    pub xmin_window: Option<(f64, f64)>,
    /// Eigenvalues `<= threshold` are not fitted ([`EVALS_THRESH`] by default;
    /// `f64::NEG_INFINITY` keeps every eigenvalue, zeros included, as AlphaPruning and
    /// TempBalance do with their default `filter_zeros=False`).
    pub threshold: f64,
    /// Arithmetic of the median and peak estimators (the Clauset fit always runs in f64).
    pub precision: Precision,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            method: FitMethod::Clauset,
            small_n: SmallN::Ww076,
            fix_fingers: FixFingers::None,
            xmin_window: None,
            threshold: EVALS_THRESH,
            precision: Precision::F64,
        }
    }
}

/// Fits a power law to the tail of an ESD.
///
/// `evals_ascending` are all eigenvalues of the row (after conv scaling), ascending; unsorted
/// input is sorted on a copy. The fit uses the values above `opts.threshold`;
/// `num_pl_spikes` counts all eigenvalues `>= xmin`. Spectra without a valid candidate
/// (fewer than 2 values, no finite alpha > 1, non-finite input) give
/// [`PowerLawFit::failed`]. Never panics.
pub fn fit_power_law(evals_ascending: &[f64], opts: &FitOptions) -> PowerLawFit {
    let xmax_all = evals_ascending.iter().copied().fold(f64::NAN, f64::max);
    if evals_ascending.iter().any(|v| !v.is_finite()) {
        return PowerLawFit::failed(xmax_all);
    }
    let evals = sorted(evals_ascending);
    let data = above(&evals, opts.threshold);
    let xmax = data.last().copied().unwrap_or(f64::NAN);
    let mut fit = match (opts.method, opts.fix_fingers) {
        (FitMethod::Median, _) => {
            median::fit(data, opts.precision).unwrap_or_else(|_| PowerLawFit::failed(xmax))
        }
        (FitMethod::Peak, _) => {
            peak::fit(data, opts.precision).unwrap_or_else(|_| PowerLawFit::failed(xmax))
        }
        (FitMethod::Clauset, FixFingers::None) => fit_tail(data, opts),
        (FitMethod::Clauset, FixFingers::ClipXmax) => fingers::clip_xmax(data, opts),
    };
    if !fit.is_valid() {
        let failed = PowerLawFit::failed(xmax_all);
        fit = PowerLawFit {
            raw_alpha: fit.raw_alpha,
            num_fingers: fit.num_fingers,
            ..failed
        };
    } else if opts.method == FitMethod::Clauset {
        // (The median and peak estimators count the tail themselves, in their precision.)
        fit.num_pl_spikes = evals.len() as i64 - evals.partition_point(|&v| v < fit.xmin) as i64;
    }
    fit
}

/// Why [`fit_power_law`] found no tail for these eigenvalues and options, in words (for the
/// `message` of a row with status `failed`). Returns `None` when the fit succeeds.
pub fn failure_reason(evals_ascending: &[f64], opts: &FitOptions) -> Option<String> {
    if fit_power_law(evals_ascending, opts).is_valid() {
        return None;
    }
    if let Some(v) = evals_ascending.iter().find(|v| !v.is_finite()) {
        return Some(format!("power-law fit failed: non-finite eigenvalue {v}"));
    }
    let evals = sorted(evals_ascending);
    let data = above(&evals, opts.threshold);
    let n = data.len();
    let t = opts.threshold;
    let tail_reason = match opts.method {
        FitMethod::Median => median::fit(data, opts.precision).err(),
        FitMethod::Peak => peak::fit(data, opts.precision).err(),
        FitMethod::Clauset => None,
    };
    if let Some(r) = tail_reason {
        return Some(format!("power-law fit failed: {r}"));
    }
    Some(if n < 2 {
        format!(
            "power-law fit failed: only {n} eigenvalue(s) above {t:e} (zero or rank-deficient matrix)"
        )
    } else if opts.method == FitMethod::Clauset
        && opts.small_n == SmallN::Ww076
        && n < small_n::MIN_TAIL
    {
        format!(
            "power-law fit failed: {n} eigenvalue(s) above {t:e}; the small-N rule (WeightWatcher 0.7.6) needs a tail of {}",
            small_n::MIN_TAIL
        )
    } else if opts.xmin_window.is_some() {
        "power-law fit failed: no candidate xmin in the window gives alpha > 1".to_string()
    } else {
        "power-law fit failed: no candidate xmin gives a finite alpha > 1".to_string()
    })
}

/// Clauset fit of already thresholded, ascending data, with the small-N rule applied.
/// `num_pl_spikes` is left for the caller (it counts over all eigenvalues).
fn fit_tail(data: &[f64], opts: &FitOptions) -> PowerLawFit {
    let xmax = data.last().copied().unwrap_or(f64::NAN);
    if data.len() < 2 {
        return PowerLawFit::failed(xmax);
    }
    if opts.small_n == SmallN::Ww076 && data.len() < SMALL_N_LIMIT {
        small_n::fit(data, opts.xmin_window)
    } else {
        powerlaw::fit(data, opts.xmin_window)
    }
}

/// The input as an ascending slice (borrowed when already sorted).
fn sorted(v: &[f64]) -> Cow<'_, [f64]> {
    if v.windows(2).all(|w| w[0] <= w[1]) {
        Cow::Borrowed(v)
    } else {
        let mut c = v.to_vec();
        c.sort_by(f64::total_cmp);
        Cow::Owned(c)
    }
}

/// The suffix of an ascending slice whose values are `> threshold`.
fn above(v: &[f64], threshold: f64) -> &[f64] {
    &v[v.partition_point(|&x| x <= threshold)..]
}

/// Whether candidate `x` lies in the optional window.
fn in_window(x: f64, window: Option<(f64, f64)>) -> bool {
    window.is_none_or(|(lo, hi)| x >= lo && x <= hi)
}

/// KS distance of the power law `(alpha, xmin = x[0])` to the tail `x` (ascending), given
/// `lx = ln x`: `max_k |1 - (x_k/x_0)^(1-alpha) - k/m|`. Returns `None` as soon as the running
/// maximum exceeds `cutoff` (pass `f64::INFINITY` for the exact value).
#[inline]
fn ks_distance(lx: &[f64], alpha: f64, cutoff: f64) -> Option<f64> {
    ks_probe(lx, alpha, cutoff, None).ok().map(|(d, _)| d)
}

/// Half-width of the window around the hint that [`ks_probe`] checks first.
const HINT_WINDOW: usize = 8;

/// [`ks_distance`] with a position hint: `Ok((D, k_max))` with the position of the maximum,
/// or `Err(k)` with a position whose deviation exceeds `cutoff`. The window of positions
/// around `hint` is checked first: neighbouring candidates tend to be rejected at the same
/// eigenvalue, so passing the last rejecting position (shifted to this tail) makes most
/// rejections O(1). The result is exact whatever the hint.
fn ks_probe(
    lx: &[f64],
    alpha: f64,
    cutoff: f64,
    hint: Option<usize>,
) -> Result<(f64, usize), usize> {
    let len = lx.len();
    let m = len as f64;
    let l0 = lx[0];
    let e = 1.0 - alpha;
    let term = |k: usize| (1.0 - (e * (lx[k] - l0)).exp() - k as f64 / m).abs();
    if let Some(h) = hint.filter(|_| cutoff.is_finite()) {
        let lo = h.saturating_sub(HINT_WINDOW).min(len);
        let hi = (h + HINT_WINDOW + 1).min(len);
        for k in lo..hi {
            if term(k) > cutoff {
                return Err(k);
            }
        }
    }
    // Blocks keep the inner loop free of branches; the early exit is checked per block.
    const B: usize = 32;
    let mut best = 0.0f64;
    let mut best_block = 0usize;
    let mut k0 = 0usize;
    while k0 < len {
        let k1 = (k0 + B).min(len);
        let mut blk = 0.0f64;
        for k in k0..k1 {
            let v = term(k);
            blk = if v > blk { v } else { blk };
        }
        if blk > best {
            best = blk;
            best_block = k0;
            if best > cutoff {
                let k = (k0..k1).find(|&k| term(k) > cutoff).unwrap_or(k0);
                return Err(k);
            }
        }
        k0 = k1;
    }
    let k1 = (best_block + B).min(len);
    let kmax = (best_block..k1)
        .find(|&k| term(k) == best)
        .unwrap_or(best_block);
    Ok((best, kmax))
}

/// Builds a successful fit from candidate values.
fn success(alpha: f64, xmin: f64, xmax: f64, d: f64, m: usize) -> PowerLawFit {
    PowerLawFit {
        alpha,
        xmin,
        xmax,
        d,
        sigma: (alpha - 1.0) / (m as f64).sqrt(),
        num_pl_spikes: 0,
        raw_alpha: None,
        num_fingers: None,
    }
}

#[cfg(test)]
mod tail_tests;
#[cfg(test)]
mod tests;
