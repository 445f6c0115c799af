//! A row's status as the terminal table and the HTML report show it: the warning in place of
//! "success", and fits on fewer than [`crate::fit::SMALL_N_LIMIT`] eigenvalues (depthwise
//! convolutions, tiny layers) marked low-confidence rather than "over-trained"
//! ([`low_confidence`]; the summary's over-/under-trained counts leave them out too). The
//! CSV and JSON keep WeightWatcher's `warning` column as it is.

use crate::metrics::low_confidence;
use crate::result::{LayerResult, LayerStatus};

/// The row's class: "error", "failed", "low" (low confidence), "over", "under" or "".
pub fn warning_class(l: &LayerResult) -> &'static str {
    match l.status {
        LayerStatus::Error => "error",
        LayerStatus::Failed => "failed",
        LayerStatus::Success if low_confidence(l) => "low",
        LayerStatus::Success => match l.metrics.as_ref().map(|m| m.warning.as_str()) {
            Some("over-trained") => "over",
            Some("under-trained") => "under",
            _ => "",
        },
    }
}

/// The status text: the warning ("over-trained", "under-trained"), "low confidence (N
/// eigenvalues)", "no fit" (a row analysed without a power-law fit, e.g. a LoRA update with
/// fewer than `min_evals` eigenvalues), or the status (`success`, `failed`, `error`).
pub fn status_text(l: &LayerResult) -> String {
    if l.status == LayerStatus::Success && l.fit.is_none() && l.metrics.is_some() {
        return "no fit".into();
    }
    match warning_class(l) {
        "low" => format!("low confidence ({} eigenvalues)", l.num_evals),
        "over" | "under" => l
            .metrics
            .as_ref()
            .map_or(String::new(), |m| m.warning.clone()),
        _ => l.status.as_str().to_string(),
    }
}
