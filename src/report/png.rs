//! `--png-dir`: every plot of a result as a PNG file with a predictable name.
//!
//! Names: `model_alpha.png`, `model_alpha_hist.png`, `model_alpha_weighted.png`,
//! `model_stable_rank.png`, and per row `{stem}_{kind}.png` with the stem of
//! [`super::layer_data::file_stem`] (`L0012_model.layers.3.mlp.weight`, `L0007s4_conv1.weight`
//! for slice 4) and kind one of `esd_loglog`, `esd_ccdf`, `esd_linear`, `esd_loglin`, `ks_scan`,
//! `randomized`, `mp` (the last two only when the result has them).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::draw::{Plot, to_png};
use super::layer_data::{LayerPlots, plots_of};
use super::model_data::{ModelPlots, model_plots};
use crate::error::{Error, Result};
use crate::result::AnalysisResult;
use crate::util::atomic_write;

/// The model-level plots with their file-name kinds.
pub fn model_plot_list(m: &ModelPlots) -> Vec<(&'static str, Plot<'_>)> {
    let mut v = vec![("alpha", Plot::Series(&m.alpha))];
    if let Some(h) = &m.alpha_hist {
        v.push(("alpha_hist", Plot::AlphaHist(h)));
    }
    v.push(("alpha_weighted", Plot::Series(&m.alpha_weighted)));
    v.push(("stable_rank", Plot::Series(&m.stable_rank)));
    v
}

/// The plots of one row that exist, with their file-name kinds.
pub fn layer_plot_list(p: &LayerPlots) -> Vec<(&'static str, Plot<'_>)> {
    let mut v = Vec::new();
    if let Some(x) = &p.loglog {
        v.push(("esd_loglog", Plot::LogLog(x)));
    }
    if let Some(x) = &p.ccdf {
        v.push(("esd_ccdf", Plot::Ccdf(x)));
    }
    if let Some(x) = &p.linear {
        v.push(("esd_linear", Plot::Marked(x)));
    }
    if let Some(x) = &p.loglin {
        v.push(("esd_loglin", Plot::Marked(x)));
    }
    if let Some(x) = &p.scan {
        v.push(("ks_scan", Plot::Scan(x)));
    }
    if let Some(x) = &p.randomized {
        v.push(("randomized", Plot::Randomized(x)));
    }
    if let Some(x) = &p.mp {
        v.push(("mp", Plot::Mp(x)));
    }
    v
}

fn write_one(path: PathBuf, plot: &Plot) -> Result<PathBuf> {
    let bytes = to_png(plot).map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
    atomic_write(&path, &bytes)?;
    Ok(path)
}

/// Writes every plot of `result` into `dir` (created if missing) and returns the paths written,
/// model plots first, then rows in result order. Rows are drawn in parallel.
pub fn write_pngs(result: &AnalysisResult, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let model = model_plots(result);
    let mut written = Vec::new();
    for (kind, plot) in model_plot_list(&model) {
        written.push(write_one(dir.join(format!("model_{kind}.png")), &plot)?);
    }
    let per_layer: Vec<Vec<PathBuf>> = result
        .layers
        .par_iter()
        .map(|layer| {
            let plots = plots_of(result, layer);
            layer_plot_list(&plots)
                .into_iter()
                .map(|(kind, plot)| {
                    write_one(dir.join(format!("{}_{kind}.png", plots.stem)), &plot)
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    written.extend(per_layer.into_iter().flatten());
    Ok(written)
}
