//! The fit's candidate scan as the plots need it: for each candidate xmin, alpha and the KS
//! distance D (METRICS.md section 3). Computed from the eigenvalues stored in the result, so
//! the plot is a view of the result, not a second analysis.

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

/// The candidate scan of an ascending spectrum (all eigenvalues of a row, as stored).
///
/// TEMPORARY: follows METRICS.md section 3 (default fitter, n >= 20) directly until
/// `crate::fit::scan` lands; then this delegates to it.
pub fn scan_points(evals: &[f64]) -> Vec<ScanPoint> {
    let x: Vec<f64> = evals.iter().copied().filter(|&v| v > 1e-5).collect();
    let n = x.len();
    if n < 2 {
        return Vec::new();
    }
    let logs: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let mut suffix = vec![0.0; n + 1];
    for i in (0..n).rev() {
        suffix[i] = suffix[i + 1] + logs[i];
    }
    (0..n - 1)
        .map(|i| {
            let m = (n - i) as f64;
            let s = suffix[i] - m * logs[i];
            let alpha = 1.0 + m / s;
            let d = if alpha > 1.0 && alpha.is_finite() {
                (0..n - i)
                    .map(|k| (1.0 - (x[i + k] / x[i]).powf(1.0 - alpha) - k as f64 / m).abs())
                    .fold(0.0, f64::max)
            } else {
                1.0
            };
            ScanPoint {
                xmin: x[i],
                alpha,
                d,
            }
        })
        .collect()
}
