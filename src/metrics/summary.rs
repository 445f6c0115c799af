//! Model-level summary (METRICS.md section 5): plain means over analysed rows, as
//! WeightWatcher's `get_summary`, except that rows whose power-law fit failed (alpha = -1)
//! are left out of the alpha-based means and counted instead.

use crate::result::{LayerResult, LayerStatus, LayerType, Summary};

/// True when a row's fit rests on too few eigenvalues to read alpha as a diagnosis: fewer
/// than [`crate::fit::SMALL_N_LIMIT`], or a depthwise convolution (one input channel per
/// filter, so a handful of eigenvalues per slice). Alpha from a handful of eigenvalues says
/// little (Martin & Mahoney 2021 read alpha on layers with large spectra), so such rows are
/// shown as "low confidence" and not counted as over- or under-trained.
pub fn low_confidence(l: &LayerResult) -> bool {
    let depthwise = l.layer_type == LayerType::Conv2d && l.shape.get(1) == Some(&1);
    l.status == LayerStatus::Success
        && l.fit.is_some()
        && (l.num_evals < crate::fit::SMALL_N_LIMIT || depthwise)
}

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
/// than `min_evals` eigenvalues, is not a failure). Over- and under-trained counts leave out
/// [`low_confidence`] rows (counted on their own), whose row warning is kept as WeightWatcher
/// computes it.
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
            .filter(|l| !low_confidence(l) && l.metrics.as_ref().is_some_and(|m| m.warning == w))
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
        low_confidence: analysed.iter().filter(|l| low_confidence(l)).count(),
    }
}
