//! The values of an analysed row by column name, with WeightWatcher's `details` names: the one
//! mapping from [`LayerResult`] fields to columns that every tabular view reads (the CSV of
//! `report::csv`, the Python package's data frame). Each view chooses its order and how a
//! missing value is written (the CSV leaves the cell empty; the frame writes NaN or -1).

use super::{AnalysisResult, LayerResult};

/// One cell: `None` where the row has no value (no fit, no metrics, a group it lacks).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(Option<i64>),
    Float(Option<f64>),
    Str(String),
    Bool(bool),
}

/// Columns of `--fix-fingers clip_xmax`.
pub const FINGERS: [&str; 2] = ["raw_alpha", "num_fingers"];
/// Columns of `--mp-fit`.
pub const MP: [&str; 6] = [
    "sigma_mp",
    "num_spikes",
    "mp_softrank",
    "bulk_max",
    "bulk_min",
    "W_scale",
];
/// Columns of `--randomize`.
pub const RAND: [&str; 5] = [
    "max_rand_eval",
    "rand_distance",
    "ww_softrank",
    "ww_maxdist",
    "rand_num_spikes",
];
/// Columns of a LoRA adapter's rows (`lora_merged` is 1 for a merged `W0 + dW` row).
pub const ADAPTER: [&str; 6] = [
    "lora_rank",
    "lora_alpha",
    "lora_scale",
    "lora_merged",
    "effective_rank",
    "new_directions",
];

/// Which optional column groups some row of `result` has: fingers, MP, randomized, adapter
/// (the views show a group only then).
pub fn groups(result: &AnalysisResult) -> [bool; 4] {
    let has = |f: fn(&LayerResult) -> bool| result.layers.iter().any(f);
    [
        has(|l| l.fit.is_some_and(|f| f.raw_alpha.is_some())),
        has(|l| l.mp.is_some()),
        has(|l| l.randomized.is_some()),
        has(|l| l.adapter.is_some()),
    ]
}

/// The value of column `col` in row `l` (`Float(None)` for a name no row has).
pub fn value(l: &LayerResult, col: &str) -> Value {
    let fit = l.fit.as_ref();
    let m = l.metrics.as_ref();
    let mp = l.mp.as_ref();
    let r = l.randomized.as_ref();
    let a = l.adapter.as_ref();
    let f = Value::Float;
    let i = Value::Int;
    let n = |v: usize| Value::Int(Some(v as i64));
    match col {
        "layer_id" => n(l.layer_id),
        "name" | "longname" => Value::Str(l.name.clone()),
        "layer_type" => Value::Str(l.layer_type.as_str().into()),
        "slice_id" => i(l.slice_id.map(|s| s as i64)),
        "N" => n(l.n),
        "M" => n(l.m),
        "Q" => f(Some(l.q)),
        "rf" => n(l.rf),
        "status" => Value::Str(l.status.as_str().into()),
        "num_evals" => n(l.num_evals),
        "has_esd" => Value::Bool(!l.eigenvalues.is_empty()),
        "alpha" => f(fit.map(|p| p.alpha)),
        "xmin" => f(fit.map(|p| p.xmin)),
        "xmax" => f(fit.map(|p| p.xmax)),
        "D" => f(fit.map(|p| p.d)),
        "sigma" => f(fit.map(|p| p.sigma)),
        "num_pl_spikes" => i(fit.map(|p| p.num_pl_spikes)),
        "raw_alpha" => f(fit.and_then(|p| p.raw_alpha)),
        "num_fingers" => i(fit.and_then(|p| p.num_fingers)),
        "norm" => f(m.map(|m| m.norm)),
        "log_norm" => f(m.map(|m| m.log_norm)),
        "lambda_max" => f(m.map(|m| m.lambda_max)),
        "spectral_norm" => f(m.map(|m| m.spectral_norm)),
        "log_spectral_norm" => f(m.map(|m| m.log_spectral_norm)),
        "alpha_weighted" => f(m.map(|m| m.alpha_weighted)),
        "log_alpha_norm" => f(m.map(|m| m.log_alpha_norm)),
        "stable_rank" => f(m.map(|m| m.stable_rank)),
        "matrix_rank" => i(m.map(|m| m.matrix_rank)),
        "entropy" => f(m.map(|m| m.entropy)),
        "sv_max" => f(m.map(|m| m.sv_max)),
        "sv_min" => f(m.map(|m| m.sv_min)),
        "rank_loss" => i(m.map(|m| m.rank_loss)),
        "weak_rank_loss" => i(m.map(|m| m.weak_rank_loss)),
        "warning" => Value::Str(m.map(|m| m.warning.clone()).unwrap_or_default()),
        "message" => Value::Str(l.message.clone().unwrap_or_default()),
        "sigma_mp" => f(mp.map(|p| p.sigma_mp)),
        "num_spikes" => i(mp.map(|p| p.num_spikes)),
        "mp_softrank" => f(mp.map(|p| p.mp_softrank)),
        "bulk_max" => f(mp.map(|p| p.bulk_max)),
        "bulk_min" => f(mp.map(|p| p.bulk_min)),
        "W_scale" => f(mp.map(|p| p.w_scale)),
        "max_rand_eval" => f(r.map(|p| p.max_rand_eval)),
        "rand_distance" => f(r.map(|p| p.rand_distance)),
        "ww_softrank" => f(r.map(|p| p.ww_softrank)),
        "ww_maxdist" => f(r.map(|p| p.ww_maxdist)),
        "rand_num_spikes" => i(r.map(|p| p.rand_num_spikes)),
        "lora_rank" => i(a.map(|a| a.rank as i64)),
        "lora_alpha" => f(a.map(|a| a.lora_alpha)),
        "lora_scale" => f(a.map(|a| a.scale)),
        "lora_merged" => i(a.map(|a| i64::from(a.merged))),
        "effective_rank" => f(a.map(|a| a.effective_rank)),
        "new_directions" => i(a
            .and_then(|a| a.new_directions.as_ref())
            .map(|n| n.count as i64)),
        "dtype" => Value::Str(l.dtype.clone()),
        _ => f(None),
    }
}
