//! Per-layer decisions from per-layer spectra (ALLOCATION.md sections 4 to 7), computed from
//! the canonical [`AnalysisResult`] alone (one analysis, then bookkeeping):
//!
//! - AlphaPruning (Lu et al., NeurIPS 2024, `lib/prune.py` `ww_sparsity`): layer-wise
//!   sparsity whose parameter-weighted mean is the target ([`sparsity`]);
//! - TempBalance (Zhou et al., NeurIPS 2023, `tempbalance.py`): layer-wise learning rates;
//! - AlphaDecay (`WeightDecayUnbalance.py`): layer-wise weight decay ([`schedule`]).
//!
//! Each follows its code's arithmetic (numpy's summation and `interp`, torch's float32
//! total), so the numbers can be put next to theirs. Layers come in the result's order (the
//! checkpoint's order). Batch-norm modules take the value of the convolution whose name they
//! share ([`batchnorm`]).

mod batchnorm;
mod metric;
pub mod numpy;
pub mod output;
mod schedule;
mod sparsity;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::analyze::rules::{BLOCK_PATTERN, EMBEDDING_PATTERN};
use crate::error::{Error, Result};
use crate::result::{AnalysisResult, LayerResult, LayerType};

pub use metric::{METRICS, Metric};
pub use schedule::Map;

/// AlphaPruning's two ways to turn metrics into ratios (`--mapping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// `block_wise` (their default): every layer takes its block's mean metric.
    Block,
    /// `layer_wise`: every layer its own metric.
    Layer,
}

/// Settings of AlphaPruning's sparsity allocation.
#[derive(Debug, Clone)]
pub struct PruningOptions {
    /// Target parameter-weighted mean sparsity S (e.g. 0.7).
    pub sparsity: f64,
    /// Spread: ratios run from `1 - epsilon` to `1 + epsilon` before scaling (their 0.3).
    pub epsilon: f64,
    /// Block means or per-layer metrics.
    pub mapping: Mapping,
    /// Clip sparsities to [0, 1] (their code does not).
    pub clip: bool,
    /// Block of a layer: capture group 1 of this pattern (section 7's by default).
    pub block_regex: Regex,
}

/// Settings of the TempBalance / AlphaDecay schedules.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleOptions {
    /// The global value: learning rate (TempBalance) or weight decay (AlphaDecay).
    pub base: f64,
    /// `(min_ratio, max_ratio)`: TempBalance 0.5 and 1.5, AlphaDecay 0.666 and 3.
    pub ratios: (f64, f64),
    /// The map from metric to value.
    pub map: Map,
    /// Layers with fewer eigenvalues are left alone (their `eigs_thresh = 50`).
    pub min_evals: usize,
}

/// What to allocate.
#[derive(Debug, Clone)]
pub enum Method {
    /// Layer-wise sparsity.
    AlphaPruning(PruningOptions),
    /// Layer-wise learning rates.
    TempBalance(ScheduleOptions),
    /// Layer-wise weight decay.
    AlphaDecay(ScheduleOptions),
}

impl Method {
    /// The method's name (`alphapruning`, `tempbalance`, `alphadecay`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::AlphaPruning(_) => "alphapruning",
            Method::TempBalance(_) => "tempbalance",
            Method::AlphaDecay(_) => "alphadecay",
        }
    }

    /// The layer rules of the analysis this method reads (`alphapruning`; `tempbalance` for
    /// both schedules).
    pub fn rules(&self) -> &'static str {
        match self {
            Method::AlphaPruning(_) => "alphapruning",
            Method::TempBalance(_) | Method::AlphaDecay(_) => "tempbalance",
        }
    }

    /// Tensors this method counts that `result` skipped (size limits, name filters), as
    /// `name (reason)`; empty tensors and unsupported dtypes are not counted by anyone.
    /// Their absence would shift the first/last exclusions or the block means.
    pub fn unanalysed(&self, result: &AnalysisResult) -> Vec<String> {
        let wanted = |name: &str, shape: &[usize]| match self {
            Method::AlphaPruning(o) => sparsity::counts(o, name, shape),
            Method::TempBalance(_) | Method::AlphaDecay(_) => is_layer_weight(name, shape),
        };
        result
            .skipped
            .iter()
            .filter(|s| !s.shape.contains(&0) && !s.reason.starts_with("dtype"))
            .filter(|s| wanted(&s.name, &s.shape))
            .map(|s| format!("{} ({})", s.name, s.reason))
            .collect()
    }
}

/// One layer's allocation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocatedLayer {
    /// Tensor name (for a batch-norm module: its weight tensor, or the module name).
    pub name: String,
    /// Module name (the tensor name without `.weight`): what a PyTorch user looks up.
    pub module: String,
    /// The layer's metric (alpha by default; for batch norm, its convolution's).
    #[serde(
        serialize_with = "crate::result::inf_as_string",
        deserialize_with = "crate::result::inf_from_string"
    )]
    pub alpha: f64,
    /// The allocated sparsity, learning rate or weight decay.
    pub value: f64,
    /// Parameters of the tensor (the weights AlphaPruning counts).
    pub params: u64,
    /// The number the map used when it differs from `alpha` (AlphaPruning's block mean).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// AlphaPruning: the layer's block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<String>,
    /// Batch norm: the convolution whose value it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherits: Option<String>,
}

/// A layer the method leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Excluded {
    /// Tensor name.
    pub name: String,
    /// Why it gets no value.
    pub reason: String,
}

/// The outcome of [`allocate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    /// `alphapruning`, `tempbalance` or `alphadecay`.
    pub method: String,
    /// The settings used (for provenance).
    pub settings: serde_json::Value,
    /// The allocated layers, in checkpoint order.
    pub layers: Vec<AllocatedLayer>,
    /// Layers analysed but left alone.
    pub excluded: Vec<Excluded>,
    /// AlphaPruning: the parameter-weighted mean sparsity achieved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_sparsity: Option<f64>,
    /// Things a user should know (sparsities above 1, ...).
    pub warnings: Vec<String>,
}

/// Computes the allocation of `method` from the metric `metric` of an analysis.
pub fn allocate(result: &AnalysisResult, method: &Method, metric: Metric) -> Result<Allocation> {
    metric.check(result)?;
    if result.layers.iter().any(|l| l.slice_id.is_some()) {
        return Err(Error::InvalidArgument(format!(
            "{} holds per-slice conv rows; an allocation needs one row per layer (analyse \
             with one row per layer)",
            result.source
        )));
    }
    check_nothing_missing(result, method)?;
    let settings = settings_json(method, metric);
    let mut out = match method {
        Method::AlphaPruning(o) => sparsity::allocate(result, o, metric)?,
        Method::TempBalance(o) | Method::AlphaDecay(o) => {
            let mut a = schedule::allocate(result, o, metric)?;
            a.layers = batchnorm::with_batchnorm(result, a.layers);
            a
        }
    };
    out.method = method.as_str().to_string();
    out.settings = settings;
    Ok(out)
}

fn settings_json(method: &Method, metric: Metric) -> serde_json::Value {
    let mut v = match method {
        Method::AlphaPruning(o) => serde_json::json!({
            "sparsity": o.sparsity,
            "epsilon": o.epsilon,
            "mapping": match o.mapping { Mapping::Block => "block", Mapping::Layer => "layer" },
            "clip": o.clip,
            "block_regex": o.block_regex.as_str(),
        }),
        Method::TempBalance(o) | Method::AlphaDecay(o) => serde_json::json!({
            "base": o.base,
            "ratios": [o.ratios.0, o.ratios.1],
            "map": o.map.as_str(),
            "min_evals": o.min_evals,
        }),
    };
    v["metric"] = metric.as_str().into();
    v
}

/// The default block pattern (ALLOCATION.md section 7).
pub fn default_block_regex() -> Regex {
    Regex::new(BLOCK_PATTERN).unwrap_or_else(|_| unreachable!("BLOCK_PATTERN is a valid regex"))
}

/// Whether a tensor is one of their Linear/Conv2d weights: rank 2 or 4, named `*weight`,
/// not an embedding table.
fn is_layer_weight(name: &str, shape: &[usize]) -> bool {
    let embedding = Regex::new(EMBEDDING_PATTERN).is_ok_and(|r| r.is_match(name));
    matches!(shape.len(), 2 | 4) && name.ends_with("weight") && !embedding
}

/// Module name of a tensor name (`a.b.weight` -> `a.b`).
fn module_of(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(m, _)| m)
}

/// Parameters of a tensor of this shape.
fn numel(shape: &[usize]) -> u64 {
    shape.iter().map(|&d| d as u64).product()
}

/// Refuses a result in which tensors the method counts were skipped ([`Method::unanalysed`]).
fn check_nothing_missing(result: &AnalysisResult, method: &Method) -> Result<()> {
    let missing = method.unanalysed(result);
    let rules = method.rules();
    if missing.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
    Err(Error::InvalidArgument(format!(
        "{} layer(s) this method counts were not analysed in {}: {}{}; analyse with the {rules} layer rules",
        missing.len(),
        result.source,
        shown.join(", "),
        if missing.len() > 5 { ", ..." } else { "" }
    )))
}

/// Metric values of the given rows, or an error naming every row without a usable value.
fn metric_values(rows: &[&LayerResult], metric: Metric, method: &str) -> Result<Vec<f64>> {
    let mut bad = Vec::new();
    let mut vals = Vec::with_capacity(rows.len());
    for r in rows {
        match metric.value(r) {
            Ok(v) if v.is_nan() => bad.push(format!("{}: {} is NaN", r.name, metric.as_str())),
            Ok(v) => vals.push(v),
            Err(e) => bad.push(format!("{}: {e}", r.name)),
        }
    }
    if bad.is_empty() {
        return Ok(vals);
    }
    Err(Error::InvalidArgument(format!(
        "{method} needs {} on every layer it allocates; {} layer(s) have none: {}",
        metric.as_str(),
        bad.len(),
        bad.join("; ")
    )))
}

/// Whether a row is a conv layer (for batch norm pairing and AlphaPruning's Linear-only rule).
fn is_conv(row: &LayerResult) -> bool {
    row.layer_type == LayerType::Conv2d
}

#[cfg(test)]
mod tests;
