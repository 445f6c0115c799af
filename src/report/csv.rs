//! The CSV view: one line per analysed row (and per skipped tensor, with status `skipped`),
//! with WeightWatcher's column names so `pd.read_csv` of ours lines up with its `details`.

use std::fmt::Write;

use crate::result::columns::{self, ADAPTER, FINGERS, MP, RAND, Value};
use crate::result::{AnalysisResult, LayerResult};
use crate::util::csv_quote as quote;

/// Columns always present, in order.
const BASE: [&str; 32] = [
    "layer_id",
    "name",
    "layer_type",
    "slice_id",
    "N",
    "M",
    "Q",
    "rf",
    "status",
    "num_evals",
    "alpha",
    "xmin",
    "xmax",
    "D",
    "sigma",
    "num_pl_spikes",
    "norm",
    "log_norm",
    "lambda_max",
    "spectral_norm",
    "log_spectral_norm",
    "alpha_weighted",
    "log_alpha_norm",
    "stable_rank",
    "matrix_rank",
    "entropy",
    "sv_max",
    "sv_min",
    "rank_loss",
    "weak_rank_loss",
    "warning",
    "message",
];

/// Renders the result as CSV (RFC 4180 quoting; floats in shortest round-trip form).
/// Optional column groups appear only when some row has them.
pub fn to_csv(result: &AnalysisResult) -> String {
    let mut header: Vec<&str> = BASE.to_vec();
    let groups: [&[&str]; 4] = [&FINGERS, &MP, &RAND, &ADAPTER];
    for (cols, present) in groups.into_iter().zip(columns::groups(result)) {
        if present {
            header.extend(cols);
        }
    }
    let mut out = header.join(",");
    out.push('\n');

    // Analysed rows and skipped tensors interleaved in layer_id order.
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    for l in &result.layers {
        rows.push((l.layer_id, header.iter().map(|c| cell(l, c)).collect()));
    }
    for s in &result.skipped {
        let mut cells = vec![String::new(); header.len()];
        cells[0] = s.layer_id.to_string();
        cells[1] = s.name.clone();
        cells[8] = "skipped".into();
        cells[31] = s.reason.clone();
        rows.push((s.layer_id, cells));
    }
    rows.sort_by_key(|r| r.0);
    for (_, cells) in rows {
        let line: Vec<String> = cells.iter().map(|c| quote(c)).collect();
        let _ = writeln!(out, "{}", line.join(","));
    }
    out
}

/// Column `col` of row `l` as CSV text: empty where the row has no value.
fn cell(l: &LayerResult, col: &str) -> String {
    match columns::value(l, col) {
        Value::Int(v) => v.map(|v| v.to_string()).unwrap_or_default(),
        Value::Float(v) => v.map(num).unwrap_or_default(),
        Value::Str(s) => s,
        Value::Bool(b) => b.to_string(),
    }
}

/// Shortest round-trip decimal; NaN and infinities as pandas reads them.
fn num(x: f64) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(quote("plain"), "plain");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(f64::NAN), "nan");
    }
}
