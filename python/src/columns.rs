//! The analysed rows as columns laid out like WeightWatcher's `details` frame: `layer_id`,
//! `name`, then its metric columns in its (alphabetical) order, then htdiag's own
//! `slice_id`, `dtype` and `message`. Values are the result's f64/i64 numbers unchanged, so
//! they equal the command line's CSV (which prints them in shortest round-trip form).
//!
//! Where a row has no value (status `error` has no fit and no metrics; optional groups absent
//! in some rows) float columns hold NaN and integer columns -1, WeightWatcher's sentinel.

use htdiag::result::{AnalysisResult, LayerResult};

/// One value of a column.
pub enum Cell {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// A nullable integer (pandas `Int64`): `slice_id`.
    MaybeInt(Option<i64>),
}

/// WeightWatcher 0.7's `details` columns after `layer_id` and `name`.
const WW: [&str; 30] = [
    "D",
    "M",
    "N",
    "Q",
    "alpha",
    "alpha_weighted",
    "entropy",
    "has_esd",
    "lambda_max",
    "layer_type",
    "log_alpha_norm",
    "log_norm",
    "log_spectral_norm",
    "longname",
    "matrix_rank",
    "norm",
    "num_evals",
    "num_pl_spikes",
    "rank_loss",
    "rf",
    "sigma",
    "spectral_norm",
    "stable_rank",
    "status",
    "sv_max",
    "sv_min",
    "warning",
    "weak_rank_loss",
    "xmax",
    "xmin",
];
/// `fix_fingers='clip_xmax'` columns.
const FINGERS: [&str; 2] = ["num_fingers", "raw_alpha"];
/// `mp_fit=True` columns.
const MP: [&str; 6] = [
    "W_scale",
    "bulk_max",
    "bulk_min",
    "mp_softrank",
    "num_spikes",
    "sigma_mp",
];
/// `randomize=True` columns.
const RAND: [&str; 5] = [
    "max_rand_eval",
    "rand_distance",
    "rand_num_spikes",
    "ww_maxdist",
    "ww_softrank",
];
/// htdiag's own columns, after WeightWatcher's.
const OWN: [&str; 3] = ["slice_id", "dtype", "message"];
/// A LoRA adapter's columns, last (the command line's CSV has the same; `lora_merged` is 1
/// for a merged `W0 + dW` row). Empty (NA/NaN) in rows of the adapter's other tensors.
const ADAPTER: [&str; 6] = [
    "lora_rank",
    "lora_alpha",
    "lora_scale",
    "lora_merged",
    "effective_rank",
    "new_directions",
];

/// Column names for `result`: optional groups only when some row has them.
pub fn names(result: &AnalysisResult) -> Vec<&'static str> {
    let has = |f: fn(&LayerResult) -> bool| result.layers.iter().any(f);
    let mut metrics: Vec<&'static str> = WW.to_vec();
    if has(|l| l.fit.is_some_and(|f| f.raw_alpha.is_some())) {
        metrics.extend(FINGERS);
    }
    if has(|l| l.mp.is_some()) {
        metrics.extend(MP);
    }
    if has(|l| l.randomized.is_some()) {
        metrics.extend(RAND);
    }
    metrics.sort_unstable(); // byte order, as pandas sorts WeightWatcher's column names
    let mut out = vec!["layer_id", "name"];
    out.extend(metrics);
    out.extend(OWN);
    if has(|l| l.adapter.is_some()) {
        out.extend(ADAPTER);
    }
    out
}

/// The value of column `col` in row `l`.
pub fn cell(l: &LayerResult, col: &str) -> Cell {
    let fit = l.fit.as_ref();
    let m = l.metrics.as_ref();
    let mp = l.mp.as_ref();
    let r = l.randomized.as_ref();
    let a = l.adapter.as_ref();
    let f = |v: Option<f64>| Cell::Float(v.unwrap_or(f64::NAN));
    let i = |v: Option<i64>| Cell::Int(v.unwrap_or(-1));
    let n = |v: usize| Cell::Int(v as i64);
    match col {
        "layer_id" => n(l.layer_id),
        "name" | "longname" => Cell::Str(l.name.clone()),
        "D" => f(fit.map(|p| p.d)),
        "M" => n(l.m),
        "N" => n(l.n),
        "Q" => Cell::Float(l.q),
        "alpha" => f(fit.map(|p| p.alpha)),
        "xmin" => f(fit.map(|p| p.xmin)),
        "xmax" => f(fit.map(|p| p.xmax)),
        "sigma" => f(fit.map(|p| p.sigma)),
        "num_pl_spikes" => i(fit.map(|p| p.num_pl_spikes)),
        "raw_alpha" => f(fit.and_then(|p| p.raw_alpha)),
        "num_fingers" => i(fit.and_then(|p| p.num_fingers)),
        "has_esd" => Cell::Bool(!l.eigenvalues.is_empty()),
        "layer_type" => Cell::Str(l.layer_type.as_str().into()),
        "num_evals" => n(l.num_evals),
        "rf" => n(l.rf),
        "status" => Cell::Str(l.status.as_str().into()),
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
        "warning" => Cell::Str(m.map(|m| m.warning.clone()).unwrap_or_default()),
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
        "lora_rank" => Cell::MaybeInt(a.map(|a| a.rank as i64)),
        "lora_alpha" => f(a.map(|a| a.lora_alpha)),
        "lora_scale" => f(a.map(|a| a.scale)),
        "lora_merged" => Cell::MaybeInt(a.map(|a| i64::from(a.merged))),
        "effective_rank" => f(a.map(|a| a.effective_rank)),
        "new_directions" => Cell::MaybeInt(
            a.and_then(|a| a.new_directions.as_ref())
                .map(|n| n.count as i64),
        ),
        "slice_id" => Cell::MaybeInt(l.slice_id.map(|s| s as i64)),
        "dtype" => Cell::Str(l.dtype.clone()),
        "message" => Cell::Str(l.message.clone().unwrap_or_default()),
        _ => Cell::Float(f64::NAN),
    }
}

/// The pandas dtype of column `col` (the type [`cell`] gives it).
pub fn kind(col: &str) -> &'static str {
    match col {
        "layer_id" | "M" | "N" | "num_pl_spikes" | "num_fingers" | "num_evals" | "rf"
        | "matrix_rank" | "rank_loss" | "weak_rank_loss" | "num_spikes" | "rand_num_spikes" => {
            "int64"
        }
        "has_esd" => "bool",
        "name" | "longname" | "layer_type" | "status" | "warning" | "dtype" | "message" => "object",
        "slice_id" | "lora_rank" | "lora_merged" | "new_directions" => "Int64",
        _ => "float64",
    }
}
