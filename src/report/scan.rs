//! The fit's candidate scan as the plots need it: for each candidate xmin, alpha and the KS
//! distance D (METRICS.md section 3), from [`crate::fit::scan_sampled`] on the eigenvalues
//! stored in the result, so the plot is a view of the result, not a second analysis of the
//! checkpoint. Large spectra are sampled at [`SCAN_POINTS`] candidates (each value exact),
//! which keeps a report of a model with 15000-eigenvalue layers fast.

use serde::Serialize;

use crate::result::PowerLawFit;

/// Candidates computed for a plot (evenly spaced in rank, first and last included).
pub const SCAN_POINTS: usize = 300;

/// One candidate of the power-law fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScanPoint {
    /// Candidate lower cut-off.
    pub xmin: f64,
    /// alpha of the tail above it.
    pub alpha: f64,
    /// KS distance of that fit.
    pub d: f64,
}

/// The candidate scan of a row's spectrum (all eigenvalues, as stored in the result), at most
/// [`SCAN_POINTS`] candidates plus the fit's own choice: when sampling skipped the chosen xmin,
/// the fit's `(xmin, alpha, D)` from the result is inserted in order, so the plot always
/// marks the minimum the fit found.
pub fn scan_points(evals: &[f64], fit: Option<&PowerLawFit>) -> Vec<ScanPoint> {
    let mut v: Vec<ScanPoint> = crate::fit::scan_sampled(evals, SCAN_POINTS)
        .into_iter()
        .map(|c| ScanPoint {
            xmin: c.xmin,
            alpha: c.alpha,
            d: c.d,
        })
        .collect();
    if let Some(f) = fit.filter(|f| f.is_valid())
        && !v.is_empty()
        && !v.iter().any(|p| p.xmin == f.xmin)
    {
        let at = v.partition_point(|p| p.xmin < f.xmin);
        v.insert(
            at,
            ScanPoint {
                xmin: f.xmin,
                alpha: f.alpha,
                d: f.d,
            },
        );
    }
    v
}
