//! The CSV view: one line per analysed row (and per skipped tensor, with status `skipped`),
//! with WeightWatcher's column names so `pd.read_csv` of ours lines up with its `details`.

use std::fmt::Write;

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
/// Columns of `--fix-fingers`.
const FINGERS: [&str; 2] = ["raw_alpha", "num_fingers"];
/// Columns of `--mp-fit`.
const MP: [&str; 6] = [
    "sigma_mp",
    "num_spikes",
    "mp_softrank",
    "bulk_max",
    "bulk_min",
    "W_scale",
];
/// Columns of `--randomize`.
const RAND: [&str; 5] = [
    "max_rand_eval",
    "rand_distance",
    "ww_softrank",
    "ww_maxdist",
    "rand_num_spikes",
];

/// Columns of a LoRA adapter's rows (`lora_merged` is 1 for a merged `W0 + dW` row).
const ADAPTER: [&str; 6] = [
    "lora_rank",
    "lora_alpha",
    "lora_scale",
    "lora_merged",
    "effective_rank",
    "new_directions",
];

/// Renders the result as CSV (RFC 4180 quoting; floats in shortest round-trip form).
/// Optional column groups appear only when some row has them.
pub fn to_csv(result: &AnalysisResult) -> String {
    let fingers = result
        .layers
        .iter()
        .any(|l| l.fit.is_some_and(|f| f.raw_alpha.is_some()));
    let mp = result.layers.iter().any(|l| l.mp.is_some());
    let rand = result.layers.iter().any(|l| l.randomized.is_some());
    let adapter = result.layers.iter().any(|l| l.adapter.is_some());
    let mut header: Vec<&str> = BASE.to_vec();
    if fingers {
        header.extend(FINGERS);
    }
    if mp {
        header.extend(MP);
    }
    if rand {
        header.extend(RAND);
    }
    if adapter {
        header.extend(ADAPTER);
    }
    let mut out = header.join(",");
    out.push('\n');

    // Analysed rows and skipped tensors interleaved in layer_id order.
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    for l in &result.layers {
        rows.push((l.layer_id, layer_cells(l, [fingers, mp, rand, adapter])));
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

/// The cells of one row; `groups` says which optional column groups are present (fingers,
/// MP, randomized, adapter).
fn layer_cells(l: &LayerResult, groups: [bool; 4]) -> Vec<String> {
    let [fingers, mp, rand, adapter] = groups;
    let f = num;
    let mut c = vec![
        l.layer_id.to_string(),
        l.name.clone(),
        l.layer_type.as_str().to_string(),
        l.slice_id.map(|s| s.to_string()).unwrap_or_default(),
        l.n.to_string(),
        l.m.to_string(),
        f(l.q),
        l.rf.to_string(),
        l.status.as_str().to_string(),
        l.num_evals.to_string(),
    ];
    match &l.fit {
        Some(p) => c.extend([
            f(p.alpha),
            f(p.xmin),
            f(p.xmax),
            f(p.d),
            f(p.sigma),
            p.num_pl_spikes.to_string(),
        ]),
        None => c.extend(std::iter::repeat_n(String::new(), 6)),
    }
    match &l.metrics {
        Some(m) => c.extend([
            f(m.norm),
            f(m.log_norm),
            f(m.lambda_max),
            f(m.spectral_norm),
            f(m.log_spectral_norm),
            f(m.alpha_weighted),
            f(m.log_alpha_norm),
            f(m.stable_rank),
            m.matrix_rank.to_string(),
            f(m.entropy),
            f(m.sv_max),
            f(m.sv_min),
            m.rank_loss.to_string(),
            m.weak_rank_loss.to_string(),
            m.warning.clone(),
        ]),
        None => c.extend(std::iter::repeat_n(String::new(), 15)),
    }
    c.push(l.message.clone().unwrap_or_default());
    if fingers {
        let p = l.fit.as_ref();
        c.push(p.and_then(|p| p.raw_alpha).map(f).unwrap_or_default());
        c.push(
            p.and_then(|p| p.num_fingers)
                .map(|k| k.to_string())
                .unwrap_or_default(),
        );
    }
    if mp {
        match &l.mp {
            Some(m) => c.extend([
                f(m.sigma_mp),
                m.num_spikes.to_string(),
                f(m.mp_softrank),
                f(m.bulk_max),
                f(m.bulk_min),
                f(m.w_scale),
            ]),
            None => c.extend(std::iter::repeat_n(String::new(), 6)),
        }
    }
    if rand {
        match &l.randomized {
            Some(r) => c.extend([
                f(r.max_rand_eval),
                f(r.rand_distance),
                f(r.ww_softrank),
                f(r.ww_maxdist),
                r.rand_num_spikes.to_string(),
            ]),
            None => c.extend(std::iter::repeat_n(String::new(), 5)),
        }
    }
    if adapter {
        match &l.adapter {
            Some(a) => c.extend([
                a.rank.to_string(),
                f(a.lora_alpha),
                f(a.scale),
                u8::from(a.merged).to_string(),
                f(a.effective_rank),
                a.new_directions
                    .as_ref()
                    .map(|n| n.count.to_string())
                    .unwrap_or_default(),
            ]),
            None => c.extend(std::iter::repeat_n(String::new(), ADAPTER.len())),
        }
    }
    c
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
