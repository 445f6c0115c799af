//! A row's status as every view shows it: the warning in place of "success" (as the
//! terminal table always did), and fits on fewer than [`crate::fit::SMALL_N_LIMIT`]
//! eigenvalues (depthwise convolutions, tiny layers) marked low-confidence rather than
//! "over-trained": alpha from a handful of eigenvalues says little (Martin & Mahoney 2021
//! read alpha on layers with large spectra).

use crate::result::{LayerResult, LayerStatus, LayerType};

/// True when the row's fit rests on too few eigenvalues to read alpha as a diagnosis: fewer
/// than [`crate::fit::SMALL_N_LIMIT`], or a depthwise convolution (one input channel per
/// filter).
pub fn low_confidence(l: &LayerResult) -> bool {
    let depthwise = l.layer_type == LayerType::Conv2d && l.shape.get(1) == Some(&1);
    l.status == LayerStatus::Success && (l.num_evals < crate::fit::SMALL_N_LIMIT || depthwise)
}

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
/// eigenvalues)", or the status (`success`, `failed`, `error`).
pub fn status_text(l: &LayerResult) -> String {
    match warning_class(l) {
        "low" => format!("low confidence ({} eigenvalues)", l.num_evals),
        "over" | "under" => l
            .metrics
            .as_ref()
            .map_or(String::new(), |m| m.warning.clone()),
        _ => l.status.as_str().to_string(),
    }
}
