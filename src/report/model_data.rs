//! The data of the model-level plots, as pure functions of an [`AnalysisResult`]: alpha per
//! layer in the result's row order with the 2 and 6 bands ("correlation flow", Martin & Mahoney,
//! JMLR 2021, section 5), the alpha histogram, alpha_weighted and stable rank per layer.

use serde::Serialize;

use super::bins::{self, Histogram};
use super::layer_data::row_label;
use crate::result::AnalysisResult;

/// Below this alpha a layer is flagged "over-trained" (METRICS.md section 4).
pub const ALPHA_LOW: f64 = 2.0;
/// Above this alpha a layer is flagged "under-trained".
pub const ALPHA_HIGH: f64 = 6.0;

/// One per-layer series: `(row index, value)` for the rows that have one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Plot title.
    pub title: String,
    /// y axis label.
    pub ylabel: String,
    /// The row labels, index = x position (the x axis is labelled with them).
    pub names: Vec<String>,
    /// `(row index, value)` pairs; rows without a value (failed fit, error) are absent.
    pub points: Vec<(usize, f64)>,
    /// Horizontal reference lines `(label, y)`.
    pub bands: Vec<(String, f64)>,
}

/// Every model-level plot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelPlots {
    /// Row labels, index = position in `AnalysisResult::layers`.
    pub labels: Vec<String>,
    /// alpha per layer with the 2 and 6 bands.
    pub alpha: Series,
    /// Histogram of the valid alphas (counts; density normalised by their number).
    pub alpha_hist: Option<Histogram>,
    /// alpha_weighted per layer.
    pub alpha_weighted: Series,
    /// stable rank per layer.
    pub stable_rank: Series,
}

/// Builds the model-level plot data.
pub fn model_plots(result: &AnalysisResult) -> ModelPlots {
    let labels: Vec<String> = result.layers.iter().map(row_label).collect();
    let valid_fit = |i: usize| {
        result.layers[i]
            .fit
            .filter(|f| f.is_valid())
            .map(|f| f.alpha)
            // alpha = +inf (median fit of a tail of equal eigenvalues) has no place on an axis.
            .filter(|a| a.is_finite())
    };
    let alpha_points: Vec<(usize, f64)> = (0..result.layers.len())
        .filter_map(|i| valid_fit(i).map(|a| (i, a)))
        .collect();
    let metric = |f: &dyn Fn(&crate::result::SpectralMetrics) -> f64, need_fit: bool| {
        result
            .layers
            .iter()
            .enumerate()
            .filter(|(i, _)| !need_fit || valid_fit(*i).is_some())
            .filter_map(|(i, l)| l.metrics.as_ref().map(|m| (i, f(m))))
            .filter(|(_, v)| v.is_finite())
            .collect::<Vec<_>>()
    };
    let alpha_hist = if alpha_points.is_empty() {
        None
    } else {
        let a: Vec<f64> = alpha_points.iter().map(|p| p.1).collect();
        let lo = a.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let nb = ((a.len() as f64).sqrt().ceil() as usize).clamp(5, 50);
        Some(bins::histogram(
            &a,
            bins::linear_edges(lo, hi, nb),
            a.len() as u64,
        ))
    };
    ModelPlots {
        alpha: Series {
            title: "alpha per layer (correlation flow)".into(),
            ylabel: "alpha".into(),
            names: labels.clone(),
            points: alpha_points,
            bands: vec![
                ("alpha = 2".into(), ALPHA_LOW),
                ("alpha = 6".into(), ALPHA_HIGH),
            ],
        },
        alpha_hist,
        alpha_weighted: Series {
            title: "alpha_weighted per layer".into(),
            ylabel: "alpha_weighted".into(),
            names: labels.clone(),
            points: metric(&|m| m.alpha_weighted, true),
            bands: Vec::new(),
        },
        stable_rank: Series {
            title: "stable rank per layer".into(),
            ylabel: "stable_rank".into(),
            names: labels.clone(),
            points: metric(&|m| m.stable_rank, false),
            bands: Vec::new(),
        },
        labels,
    }
}
