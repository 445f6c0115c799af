//! The fit's candidate scan as the plots need it: for each candidate xmin, alpha and the KS
//! distance D (METRICS.md section 3), from [`crate::fit::scan`] on the eigenvalues stored in
//! the result, so the plot is a view of the result, not a second analysis of the checkpoint.

use serde::Serialize;

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

/// The candidate scan of a row's spectrum (all eigenvalues, as stored in the result).
pub fn scan_points(evals: &[f64]) -> Vec<ScanPoint> {
    crate::fit::scan(evals)
        .into_iter()
        .map(|c| ScanPoint {
            xmin: c.xmin,
            alpha: c.alpha,
            d: c.d,
        })
        .collect()
}
