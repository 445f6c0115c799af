//! Norm, rank and entropy metrics of one row (dense layer, pooled conv layer, or conv slice).

use crate::result::{PowerLawFit, SpectralMetrics};

/// Eigenvalues below this count towards `weak_rank_loss` (WeightWatcher's tolerance).
pub const WEAK_RANK_LOSS_TOLERANCE: f64 = 1e-6;

/// Machine epsilon of f64, as numpy's `finfo(float64).eps` in the rank tolerance.
const EPS: f64 = f64::EPSILON;

/// Alpha below this: "over-trained"; above [`UNDER_TRAINED_ALPHA`]: "under-trained"
/// (Martin & Mahoney 2021: well-trained layers have 2 <= alpha <= 6).
pub const OVER_TRAINED_ALPHA: f64 = 2.0;
/// See [`OVER_TRAINED_ALPHA`].
pub const UNDER_TRAINED_ALPHA: f64 = 6.0;

/// All slices' eigenvalues together, ascending (the pooled conv ESD).
pub fn pool(slices: &[&[f64]]) -> Vec<f64> {
    let mut v: Vec<f64> = slices.iter().flat_map(|s| s.iter().copied()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The warning label of a fit: "failed" when it has no valid alpha (WeightWatcher would say
/// "over-trained"), "over-trained" for alpha < 2, "under-trained" for alpha > 6, else "".
pub fn warning(fit: &PowerLawFit) -> &'static str {
    if !fit.is_valid() {
        "failed"
    } else if fit.alpha < OVER_TRAINED_ALPHA {
        "over-trained"
    } else if fit.alpha > UNDER_TRAINED_ALPHA {
        "under-trained"
    } else {
        ""
    }
}

/// Number of singular values `sqrt(lambda)` above the numerical-rank tolerance
/// `max sqrt(lambda) * n * eps` (numpy's `matrix_rank` rule, `n` = larger dimension).
fn rank_above_tolerance(evals: &[f64], n: usize) -> usize {
    let max_sv = evals.iter().copied().fold(0.0f64, f64::max).sqrt();
    let tol = max_sv * n as f64 * EPS;
    evals.iter().filter(|&&l| l.max(0.0).sqrt() > tol).count()
}

/// Metrics of one row.
///
/// - `pooled`: all eigenvalues of the row, ascending, after conv scaling (for a pooled conv
///   layer all slices together; for a dense layer or a single slice its own spectrum);
/// - `slices`: the same eigenvalues per slice (each ascending) — `matrix`-level quantities
///   (`rank_loss`) are per slice; pass `&[pooled]` for a dense layer or a single slice;
/// - `n`: the larger dimension N of one matrix (slice);
/// - `fit`: the power-law fit of `pooled`.
///
/// `alpha_weighted` and `log_alpha_norm` are NaN when the fit failed (they have no meaning
/// with alpha = -1). Empty input gives NaN norms and zero counts; never panics.
pub fn layer_metrics(
    pooled: &[f64],
    slices: &[&[f64]],
    n: usize,
    fit: &PowerLawFit,
) -> SpectralMetrics {
    let norm: f64 = pooled.iter().sum();
    let lambda_max = pooled.iter().copied().fold(f64::NAN, f64::max);
    let lambda_min = pooled.iter().copied().fold(f64::NAN, f64::min);
    let log_spectral_norm = lambda_max.log10();

    let (alpha_weighted, log_alpha_norm) = if fit.is_valid() {
        let a = fit.alpha;
        // log10(sum lambda^a) = a log10(lambda_max) + log10(sum (lambda/lambda_max)^a):
        // the same number without overflow for large alpha.
        let rel: f64 = pooled
            .iter()
            .map(|&l| (l.max(0.0) / lambda_max).powf(a))
            .sum();
        (a * log_spectral_norm, a * log_spectral_norm + rel.log10())
    } else {
        (f64::NAN, f64::NAN)
    };

    let matrix_rank = rank_above_tolerance(pooled, n);
    let entropy = {
        let h: f64 = pooled
            .iter()
            .map(|&l| {
                let p = l / norm + 1e-10;
                -p * p.ln()
            })
            .sum();
        h / (matrix_rank as f64 + 1e-10).ln()
    };
    let slices: &[&[f64]] = if slices.is_empty() {
        std::slice::from_ref(&pooled)
    } else {
        slices
    };
    let rank_loss: usize = slices
        .iter()
        .map(|s| s.len() - rank_above_tolerance(s, n))
        .sum();
    let weak_rank_loss = pooled
        .iter()
        .filter(|&&l| l < WEAK_RANK_LOSS_TOLERANCE)
        .count();

    SpectralMetrics {
        norm,
        log_norm: norm.log10(),
        lambda_max,
        spectral_norm: lambda_max,
        log_spectral_norm,
        alpha_weighted,
        log_alpha_norm,
        stable_rank: norm / lambda_max,
        matrix_rank: matrix_rank as i64,
        entropy,
        sv_max: lambda_max.max(0.0).sqrt(),
        sv_min: lambda_min.max(0.0).sqrt(),
        rank_loss: rank_loss as i64,
        weak_rank_loss: weak_rank_loss as i64,
        warning: warning(fit).to_string(),
    }
}
