//! The analysed rows as columns laid out like WeightWatcher's `details` frame: `layer_id`,
//! `name`, then its metric columns in its (alphabetical) order, then htdiag's own
//! `slice_id`, `dtype` and `message`. Values are the result's f64/i64 numbers unchanged, so
//! they equal the command line's CSV (which prints them in shortest round-trip form).
//!
//! Where a row has no value (status `error` has no fit and no metrics; optional groups absent
//! in some rows) float columns hold NaN and integer columns -1, WeightWatcher's sentinel. The
//! values themselves come from the library's column mapping (`htdiag::result::columns`), the
//! one the CSV reads.

use htdiag::result::columns::{self, ADAPTER, FINGERS, MP, RAND, Value};
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
/// htdiag's own columns, after WeightWatcher's.
const OWN: [&str; 3] = ["slice_id", "dtype", "message"];

/// Column names for `result`: optional groups only when some row has them.
pub fn names(result: &AnalysisResult) -> Vec<&'static str> {
    let [fingers, mp, rand, adapter] = columns::groups(result);
    let mut metrics: Vec<&'static str> = WW.to_vec();
    if fingers {
        metrics.extend(FINGERS);
    }
    if mp {
        metrics.extend(MP);
    }
    if rand {
        metrics.extend(RAND);
    }
    metrics.sort_unstable(); // byte order, as pandas sorts WeightWatcher's column names
    let mut out = vec!["layer_id", "name"];
    out.extend(metrics);
    out.extend(OWN);
    if adapter {
        out.extend(ADAPTER); // last, as in the command line's CSV
    }
    out
}

/// The value of column `col` in row `l` ([`columns::value`]), a missing one written as
/// WeightWatcher's sentinels: NaN, or -1 in an `int64` column, NA in an `Int64` one.
pub fn cell(l: &LayerResult, col: &str) -> Cell {
    match columns::value(l, col) {
        Value::Int(v) if kind(col) == "Int64" => Cell::MaybeInt(v),
        Value::Int(v) => Cell::Int(v.unwrap_or(-1)),
        Value::Float(v) => Cell::Float(v.unwrap_or(f64::NAN)),
        Value::Str(s) => Cell::Str(s),
        Value::Bool(b) => Cell::Bool(b),
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
