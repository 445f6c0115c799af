//! Plot data of the training page of `htdiag regularize --report`, as pure functions of its
//! [`CompareReport`]: per-epoch curves of every run, and each layer's ESD before fine-tuning,
//! after the baseline run and after the regularized run, overlaid with their fitted power
//! laws (the log-log ESD of [`layer_data::loglog`], one per model).

use serde::Serialize;

use super::layer_data::{self, LogLogEsd, fmt_num, row_label};
use crate::result::{AnalysisResult, LayerResult};
use crate::train::EpochRecord;
use crate::train::experiment::CompareReport;

/// Names of the three analyses of a [`CompareReport`], in its order.
pub const MODEL_NAMES: [&str; 3] = ["before", "baseline", "regularized"];

/// One per-epoch series per run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curves {
    /// Plot title.
    pub title: String,
    /// y axis label (with its unit).
    pub ylabel: String,
    /// Per run: its name and the points `(epoch, value)` that exist.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

/// A layer's log-log ESDs in several models, overlaid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EsdOverlays {
    /// Row label (tensor name, `[slice k]` for a conv slice).
    pub label: String,
    /// Plot title.
    pub title: String,
    /// Per model: its name (with alpha) and its ESD with the fitted line.
    pub esds: Vec<(String, LogLogEsd)>,
}

/// Every plot of the training page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingPlots {
    /// Test accuracy, test loss, train loss, train accuracy.
    pub curves: Vec<Curves>,
    /// Per analysed row of the starting model, in its order.
    pub layers: Vec<EsdOverlays>,
}

fn curves(
    r: &CompareReport,
    title: &str,
    ylabel: &str,
    f: fn(&EpochRecord) -> Option<f64>,
) -> Curves {
    Curves {
        title: title.into(),
        ylabel: ylabel.into(),
        series: r
            .runs
            .iter()
            .map(|run| {
                let pts = run
                    .history
                    .epochs
                    .iter()
                    .filter_map(|e| Some((e.epoch as f64, f(e).filter(|v| v.is_finite())?)))
                    .collect();
                (run.name.clone(), pts)
            })
            .collect(),
    }
}

/// The per-epoch curves of every run; accuracy in percent.
pub fn training_curves(r: &CompareReport) -> Vec<Curves> {
    vec![
        curves(r, "test accuracy", "test accuracy (%)", |e| {
            e.test.map(|t| 100.0 * t.accuracy)
        }),
        curves(r, "test loss", "test loss (cross-entropy)", |e| {
            e.test.map(|t| t.loss)
        }),
        curves(r, "train loss", "train loss (cross-entropy)", |e| {
            Some(e.train_loss)
        }),
        curves(r, "train accuracy", "train accuracy (%)", |e| {
            Some(100.0 * e.train_accuracy)
        }),
    ]
}

/// The row of `a` with the name and slice of `l`.
fn find<'a>(a: &'a AnalysisResult, l: &LayerResult) -> Option<&'a LayerResult> {
    a.layers
        .iter()
        .find(|m| m.name == l.name && m.slice_id == l.slice_id)
}

/// The ESDs of row `l` (of the starting model) in every analysis that has it and has at
/// least two positive eigenvalues; `None` when no model has a drawable ESD.
pub fn esd_overlays(analyses: &[AnalysisResult], l: &LayerResult) -> Option<EsdOverlays> {
    let label = row_label(l);
    let esds: Vec<(String, LogLogEsd)> = analyses
        .iter()
        .zip(MODEL_NAMES)
        .filter_map(|(a, name)| {
            let row = find(a, l)?;
            let esd = layer_data::loglog(row, &label)?;
            let alpha = row.fit.filter(|f| f.is_valid()).map(|f| f.alpha);
            let legend = match alpha {
                Some(x) => format!("{name}: alpha {}", fmt_num(x)),
                None => format!("{name}: no fit"),
            };
            Some((legend, esd))
        })
        .collect();
    if esds.is_empty() {
        return None;
    }
    Some(EsdOverlays {
        title: format!("{label}: ESDs and power-law fits"),
        label,
        esds,
    })
}

/// Every plot of the training page.
pub fn training_plots(r: &CompareReport) -> TrainingPlots {
    let layers = match r.analyses.first() {
        Some(before) => before
            .layers
            .iter()
            .filter_map(|l| esd_overlays(&r.analyses, l))
            .collect(),
        None => Vec::new(),
    };
    TrainingPlots {
        curves: training_curves(r),
        layers,
    }
}
