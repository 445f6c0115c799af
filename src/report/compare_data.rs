//! Plot data of the compare page, as pure functions of two results and their
//! [`Comparison`]: alpha of A against alpha of B with the diagonal, the per-layer deltas, and
//! the two ESDs of a row overlaid on shared log-spaced bins.

use serde::Serialize;

use super::bins::{self, Histogram};
use super::layer_data::{LOG_THRESHOLD, loglog, row_label};
use super::model_data::Series;
use crate::compare::Comparison;
use crate::result::{AnalysisResult, LayerResult};

/// Points `(matched row, a, b)` with the diagonal a = b.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scatter {
    /// Plot title.
    pub title: String,
    /// x axis label.
    pub xlabel: String,
    /// y axis label.
    pub ylabel: String,
    /// The points: index into the comparison's matched rows, value in A, value in B.
    pub points: Vec<(usize, f64, f64)>,
}

/// Two density histograms on shared log-spaced bins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EsdOverlay {
    /// Row label.
    pub label: String,
    /// Plot title.
    pub title: String,
    /// Legend names of the two spectra.
    pub names: [String; 2],
    /// The two histograms (same edges; each normalised by its own count).
    pub hists: [Histogram; 2],
    /// Each side's fitted power law as a density per unit of log10(x), `(x, p(x) x ln 10)`
    /// with `p` the density of [`super::layer_data::LogLogEsd`]; empty where the fit failed.
    pub fit_lines: [Vec<(f64, f64)>; 2],
}

/// alpha of A (x) against alpha of B (y) for matched rows where both fits succeeded.
pub fn alpha_scatter(c: &Comparison) -> Scatter {
    Scatter {
        title: "alpha per layer: A vs B (diagonal: unchanged)".into(),
        xlabel: "alpha (A)".into(),
        ylabel: "alpha (B)".into(),
        points: c
            .matched
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let p = r.metric("alpha")?;
                Some((i, p.a?, p.b?))
            })
            .collect(),
    }
}

/// The deltas (B - A) of `metric` per matched row, x = position among the matched rows.
pub fn delta_series(c: &Comparison, metric: &str) -> Series {
    Series {
        title: format!("{metric}: B - A per layer"),
        ylabel: format!("delta {metric}"),
        names: c
            .matched
            .iter()
            .map(|r| match r.slice_id {
                Some(s) => format!("{} [slice {s}]", r.name),
                None => r.name.clone(),
            })
            .collect(),
        points: c
            .matched
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.metric(metric)?.delta.map(|d| (i, d)))
            .collect(),
        bands: Vec::new(),
    }
}

fn positive(v: &[f64]) -> Vec<f64> {
    v.iter()
        .copied()
        .filter(|&x| x > LOG_THRESHOLD && x.is_finite())
        .collect()
}

/// The two ESDs of a matched row on shared log-spaced bins; `None` when either side has fewer
/// than 2 eigenvalues above the log threshold.
pub fn esd_overlay(a: &LayerResult, b: &LayerResult, names: [&str; 2]) -> Option<EsdOverlay> {
    let (xa, xb) = (positive(&a.eigenvalues), positive(&b.eigenvalues));
    if xa.len() < 2 || xb.len() < 2 {
        return None;
    }
    let all = xa.iter().chain(xb.iter());
    let lo = all.clone().copied().fold(f64::INFINITY, f64::min);
    let hi = all.copied().fold(f64::NEG_INFINITY, f64::max);
    let edges = bins::log_edges(lo, hi, bins::rice_bins(xa.len().max(xb.len())));
    let label = row_label(a);
    let per_log10 = |l: &LayerResult| -> Vec<(f64, f64)> {
        loglog(l, "")
            .map(|p| {
                p.fit_line
                    .into_iter()
                    .map(|(x, y)| (x, y * x * std::f64::consts::LN_10))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(EsdOverlay {
        title: format!("{label}: ESD of {} and {}", names[0], names[1]),
        label,
        names: [names[0].to_string(), names[1].to_string()],
        hists: [
            bins::histogram(&xa, edges.clone(), xa.len() as u64),
            bins::histogram(&xb, edges, xb.len() as u64),
        ],
        fit_lines: [per_log10(a), per_log10(b)],
    })
}

/// Overlays of every matched row (in the comparison's order; `None` where not drawable).
pub fn all_overlays(
    a: &AnalysisResult,
    b: &AnalysisResult,
    c: &Comparison,
) -> Vec<Option<EsdOverlay>> {
    c.matched
        .iter()
        .map(|r| {
            esd_overlay(
                &a.layers[r.index_a],
                &b.layers[r.index_b],
                [&c.names[0], &c.names[1]],
            )
        })
        .collect()
}
