//! Model-level summary (METRICS.md section 5): plain means over analysed rows, as
//! WeightWatcher's `get_summary`, except that rows whose power-law fit failed (alpha = -1)
//! are left out of the alpha-based means and counted instead.

use crate::result::{LayerResult, LayerStatus, Summary};

/// Mean of the values, `None` when there are none.
fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// Summary of analysed rows; `skipped` is the number of tensors not analysed.
///
/// `log_norm`, `log_spectral_norm`, `stable_rank` average every row with metrics (status
/// success or failed); `alpha`, `alpha_weighted`, `log_alpha_norm` only rows whose fit
/// succeeded; `mp_softrank` the rows with an MP fit. Rows with status `error` are counted, and
/// so are rows whose fit failed (status `failed`; a LoRA row without a fit, for having fewer
/// than `min_evals` eigenvalues, is not a failure).
pub fn summary(layers: &[LayerResult], skipped: usize) -> Summary {
    let analysed: Vec<&LayerResult> = layers
        .iter()
        .filter(|l| l.status != LayerStatus::Error && l.metrics.is_some())
        .collect();
    let fitted: Vec<&LayerResult> = analysed
        .iter()
        .copied()
        .filter(|l| l.status == LayerStatus::Success && l.fit.is_some_and(|f| f.is_valid()))
        .collect();
    let metric = |rows: &[&LayerResult], f: fn(&crate::result::SpectralMetrics) -> f64| {
        mean(rows.iter().filter_map(|l| l.metrics.as_ref().map(f)))
    };
    let warn = |w: &str| {
        analysed
            .iter()
            .filter(|l| l.metrics.as_ref().is_some_and(|m| m.warning == w))
            .count()
    };
    Summary {
        log_norm: metric(&analysed, |m| m.log_norm),
        alpha: mean(fitted.iter().filter_map(|l| l.fit.map(|f| f.alpha))),
        alpha_weighted: metric(&fitted, |m| m.alpha_weighted),
        log_alpha_norm: metric(&fitted, |m| m.log_alpha_norm),
        log_spectral_norm: metric(&analysed, |m| m.log_spectral_norm),
        stable_rank: metric(&analysed, |m| m.stable_rank),
        mp_softrank: mean(
            analysed
                .iter()
                .filter_map(|l| l.mp.as_ref().map(|m| m.mp_softrank)),
        ),
        num_layers: analysed.len(),
        failed_fits: analysed
            .iter()
            .filter(|l| l.status == LayerStatus::Failed)
            .count(),
        errors: layers
            .iter()
            .filter(|l| l.status == LayerStatus::Error)
            .count(),
        skipped,
        over_trained: warn("over-trained"),
        under_trained: warn("under-trained"),
    }
}
