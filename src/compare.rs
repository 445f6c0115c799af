//! Comparison of two analyses (`htdiag compare A B`): rows matched by tensor name (and conv
//! slice), per-layer metric pairs with their deltas (B - A), the rows found on one side only,
//! and the model means side by side. The regularize-and-compare workflow reuses it to show
//! what fine-tuning with a heavy-tailed penalty did to each layer's spectrum.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::result::{AnalysisResult, LayerResult};
use crate::util::{csv_quote as csv_field, natural_cmp};

/// The metrics compared, in column order (names as in the result's CSV).
pub const METRICS: [&str; 10] = [
    "alpha",
    "alpha_weighted",
    "D",
    "log_norm",
    "log_spectral_norm",
    "log_alpha_norm",
    "stable_rank",
    "entropy",
    "mp_softrank",
    "rand_distance",
];

/// One metric's value in A and B and the delta B - A (absent where either side lacks it:
/// failed fit, error row, option not used).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricPair {
    /// Value in A.
    pub a: Option<f64>,
    /// Value in B.
    pub b: Option<f64>,
    /// b - a.
    pub delta: Option<f64>,
}

impl MetricPair {
    fn new(a: Option<f64>, b: Option<f64>) -> Self {
        let delta = match (a, b) {
            (Some(x), Some(y)) => Some(y - x),
            _ => None,
        };
        MetricPair { a, b, delta }
    }
}

/// A row present in both analyses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchedLayer {
    /// Tensor name.
    pub name: String,
    /// Conv slice, for per-slice rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice_id: Option<usize>,
    /// Index of the row in A's `layers`.
    pub index_a: usize,
    /// Index of the row in B's `layers`.
    pub index_b: usize,
    /// layer_id in A.
    pub layer_id_a: usize,
    /// layer_id in B.
    pub layer_id_b: usize,
    /// Tensor shape in A.
    pub shape_a: Vec<usize>,
    /// Tensor shape in B (differs from `shape_a` when the two models are not the same
    /// architecture: such pairs are flagged).
    pub shape_b: Vec<usize>,
    /// One pair per entry of [`METRICS`], same order.
    pub metrics: Vec<MetricPair>,
}

impl MatchedLayer {
    /// The pair of the metric called `name` (one of [`METRICS`]).
    pub fn metric(&self, name: &str) -> Option<&MetricPair> {
        METRICS
            .iter()
            .position(|m| *m == name)
            .map(|i| &self.metrics[i])
    }
}

/// A model-level mean in A and B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryPair {
    /// Summary field name.
    pub name: &'static str,
    /// The pair.
    #[serde(flatten)]
    pub pair: MetricPair,
}

/// The comparison of two analyses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// A's source (checkpoint path as analysed).
    pub source_a: String,
    /// B's source.
    pub source_b: String,
    /// Short, distinct names of A and B for legends and headers (`A: base.safetensors`).
    pub names: [String; 2],
    /// Analysis options that differ between A and B: `(option, value in A, value in B)`.
    /// Differences in the fit or the filters make the deltas partly an artefact.
    pub option_differences: Vec<(String, String, String)>,
    /// Metric names, the order of every `metrics` vector.
    pub metric_names: Vec<&'static str>,
    /// Rows present in both, in A's order.
    pub matched: Vec<MatchedLayer>,
    /// Row labels only in A.
    pub only_in_a: Vec<String>,
    /// Row labels only in B.
    pub only_in_b: Vec<String>,
    /// Model means side by side.
    pub summary: Vec<SummaryPair>,
}

/// The value of metric `name` (one of [`METRICS`]) in a row; alpha-based metrics only for a
/// valid fit.
pub fn metric_value(l: &LayerResult, name: &str) -> Option<f64> {
    let fit = l.fit.filter(|f| f.is_valid());
    let m = l.metrics.as_ref();
    let v = match name {
        "alpha" => fit.map(|f| f.alpha),
        "D" => fit.map(|f| f.d),
        "alpha_weighted" => fit.and(m).map(|m| m.alpha_weighted),
        "log_alpha_norm" => fit.and(m).map(|m| m.log_alpha_norm),
        "log_norm" => m.map(|m| m.log_norm),
        "log_spectral_norm" => m.map(|m| m.log_spectral_norm),
        "stable_rank" => m.map(|m| m.stable_rank),
        "entropy" => m.map(|m| m.entropy),
        "mp_softrank" => l.mp.as_ref().map(|p| p.mp_softrank),
        "rand_distance" => l.randomized.as_ref().map(|r| r.rand_distance),
        _ => None,
    };
    v.filter(|x| x.is_finite())
}

fn label(name: &str, slice: Option<usize>) -> String {
    match slice {
        Some(s) => format!("{name} [slice {s}]"),
        None => name.to_string(),
    }
}

/// Compares `a` with `b`: rows are matched by (tensor name, slice id); deltas are B - A.
pub fn compare(a: &AnalysisResult, b: &AnalysisResult) -> Comparison {
    let key = |l: &LayerResult| (l.name.clone(), l.slice_id);
    let b_index: HashMap<(String, Option<usize>), usize> = b
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| (key(l), i))
        .collect();
    let mut used_b = vec![false; b.layers.len()];
    let mut matched = Vec::new();
    let mut only_in_a = Vec::new();
    for (ia, la) in a.layers.iter().enumerate() {
        match b_index.get(&key(la)) {
            Some(&ib) if !used_b[ib] => {
                used_b[ib] = true;
                let lb = &b.layers[ib];
                matched.push(MatchedLayer {
                    name: la.name.clone(),
                    slice_id: la.slice_id,
                    index_a: ia,
                    index_b: ib,
                    layer_id_a: la.layer_id,
                    layer_id_b: lb.layer_id,
                    shape_a: la.shape.clone(),
                    shape_b: lb.shape.clone(),
                    metrics: METRICS
                        .iter()
                        .map(|m| MetricPair::new(metric_value(la, m), metric_value(lb, m)))
                        .collect(),
                });
            }
            _ => only_in_a.push(label(&la.name, la.slice_id)),
        }
    }
    let only_in_b = b
        .layers
        .iter()
        .zip(&used_b)
        .filter(|(_, u)| !**u)
        .map(|(l, _)| label(&l.name, l.slice_id))
        .collect();
    let (sa, sb) = (&a.summary, &b.summary);
    let summary = vec![
        SummaryPair {
            name: "alpha",
            pair: MetricPair::new(sa.alpha, sb.alpha),
        },
        SummaryPair {
            name: "alpha_weighted",
            pair: MetricPair::new(sa.alpha_weighted, sb.alpha_weighted),
        },
        SummaryPair {
            name: "log_alpha_norm",
            pair: MetricPair::new(sa.log_alpha_norm, sb.log_alpha_norm),
        },
        SummaryPair {
            name: "log_norm",
            pair: MetricPair::new(sa.log_norm, sb.log_norm),
        },
        SummaryPair {
            name: "log_spectral_norm",
            pair: MetricPair::new(sa.log_spectral_norm, sb.log_spectral_norm),
        },
        SummaryPair {
            name: "stable_rank",
            pair: MetricPair::new(sa.stable_rank, sb.stable_rank),
        },
    ];
    Comparison {
        source_a: a.source.clone(),
        source_b: b.source.clone(),
        names: short_names(&a.source, &b.source),
        option_differences: option_differences(&a.options, &b.options),
        metric_names: METRICS.to_vec(),
        matched,
        only_in_a,
        only_in_b,
        summary,
    }
}

/// Options that do not change the numbers (left out of [`option_differences`]).
const NEUTRAL_OPTIONS: [&str; 1] = ["threads"];

/// The options (top-level keys of the results' `options` objects) whose values differ.
pub fn option_differences(
    a: &serde_json::Value,
    b: &serde_json::Value,
) -> Vec<(String, String, String)> {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&serde_json::Value>| v.map_or("(absent)".to_string(), |v| v.to_string());
    keys.into_iter()
        .filter(|k| !NEUTRAL_OPTIONS.contains(&k.as_str()) && a.get(*k) != b.get(*k))
        .map(|k| (k.clone(), show(a.get(k)), show(b.get(k))))
        .collect()
}

/// `A: <name>`, `B: <name>` with the shortest trailing part of each source path that tells
/// them apart (the file name, or more of the path when the file names are equal).
pub fn short_names(a: &str, b: &str) -> [String; 2] {
    let parts = |s: &str| -> Vec<String> {
        Path::new(s)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect()
    };
    let (pa, pb) = (parts(a), parts(b));
    let tail = |p: &[String], k: usize| p[p.len().saturating_sub(k)..].join("/");
    let most = pa.len().max(pb.len()).max(1);
    let k = (1..=most)
        .find(|&k| tail(&pa, k) != tail(&pb, k))
        .unwrap_or(1);
    [
        format!("A: {}", tail(&pa, k)),
        format!("B: {}", tail(&pb, k)),
    ]
}

/// How the matched rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompareOrder {
    /// Largest absolute alpha change first (rows without one last, in A's order).
    #[default]
    Delta,
    /// Natural name order (`layers.2` before `layers.10`).
    Name,
    /// A's row order.
    Order,
}

/// Sorts the matched rows of `c`.
pub fn sort_matched(c: &mut Comparison, order: CompareOrder) {
    let delta = |r: &MatchedLayer| r.metric("alpha").and_then(|p| p.delta).map(f64::abs);
    match order {
        CompareOrder::Delta => c.matched.sort_by(|x, y| match (delta(x), delta(y)) {
            (Some(a), Some(b)) => b.total_cmp(&a).then(x.index_a.cmp(&y.index_a)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => x.index_a.cmp(&y.index_a),
        }),
        CompareOrder::Name => c
            .matched
            .sort_by(|x, y| natural_cmp(&x.name, &y.name).then(x.slice_id.cmp(&y.slice_id))),
        CompareOrder::Order => c.matched.sort_by_key(|r| r.index_a),
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x}"))
}

/// The per-layer table as CSV: `name,slice_id,layer_id_a,layer_id_b`, then `{m}_a,{m}_b,{m}_delta`
/// for each metric of [`METRICS`]; empty cells where a value is absent.
pub fn to_csv(c: &Comparison) -> String {
    let mut out = String::from("name,slice_id,layer_id_a,layer_id_b");
    for m in METRICS {
        out += &format!(",{m}_a,{m}_b,{m}_delta");
    }
    out.push('\n');
    for r in &c.matched {
        out += &format!(
            "{},{},{},{}",
            csv_field(&r.name),
            r.slice_id.map_or(String::new(), |s| s.to_string()),
            r.layer_id_a,
            r.layer_id_b
        );
        for p in &r.metrics {
            out += &format!(",{},{},{}", opt(p.a), opt(p.b), opt(p.delta));
        }
        out.push('\n');
    }
    out
}

/// The comparison as pretty JSON.
pub fn to_json(c: &Comparison) -> String {
    serde_json::to_string_pretty(c).unwrap_or_else(|_| "{}".into())
}

/// [`to_text_top`] with every matched row.
pub fn to_text(c: &Comparison) -> String {
    to_text_top(c, None)
}

fn cell(v: Option<f64>, signed: bool) -> String {
    match v {
        Some(x) if signed => format!("{x:+.3}"),
        Some(x) => format!("{x:.3}"),
        None => "-".into(),
    }
}

/// A terminal table: the two sources, the options that differ, model means, then per
/// matched row (at most `top`, in the comparison's order) alpha, alpha_weighted,
/// log_spectral_norm and stable_rank of A and B with deltas, shapes that differ, then the
/// unmatched rows.
pub fn to_text_top(c: &Comparison, top: Option<usize>) -> String {
    let mut o = format!("A: {}\nB: {}\n", c.source_a, c.source_b);
    if !c.option_differences.is_empty() {
        o += "\nthe two analyses used different options (deltas partly reflect them):\n";
        for (k, a, b) in &c.option_differences {
            o += &format!("  {k}: A {a}, B {b}\n");
        }
    }
    o += &format!(
        "\n{:<18} {:>10} {:>10} {:>10}\n",
        "model means", "A", "B", "B - A"
    );
    for s in &c.summary {
        o += &format!(
            "{:<18} {:>10} {:>10} {:>10}\n",
            s.name,
            cell(s.pair.a, false),
            cell(s.pair.b, false),
            cell(s.pair.delta, true)
        );
    }
    let shown = [
        "alpha",
        "alpha_weighted",
        "log_spectral_norm",
        "stable_rank",
    ];
    let rows = &c.matched[..top.unwrap_or(usize::MAX).min(c.matched.len())];
    let width = rows
        .iter()
        .map(|r| label(&r.name, r.slice_id).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 48);
    let cols: Vec<usize> = shown.iter().map(|m| m.len().max(10)).collect();
    o += &format!(
        "\n{} matched rows{}\n{:<width$}",
        c.matched.len(),
        if rows.len() < c.matched.len() {
            format!(", {} shown", rows.len())
        } else {
            String::new()
        },
        ""
    );
    for (m, w) in shown.iter().zip(&cols) {
        let w3 = 3 * w + 2;
        o += &format!(" | {m:^w3$}");
    }
    o += &format!("\n{:<width$}", "name");
    for w in &cols {
        o += &format!(" | {:>w$} {:>w$} {:>w$}", "A", "B", "B - A");
    }
    o.push('\n');
    let mut reshaped = Vec::new();
    for r in rows {
        let mut name = label(&r.name, r.slice_id);
        if name.chars().count() > width {
            let tail: String = name
                .chars()
                .rev()
                .take(width - 1)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            name = format!("~{tail}");
        }
        o += &format!("{name:<width$}");
        for (m, w) in shown.iter().zip(&cols) {
            let p = r.metric(m).copied().unwrap_or(MetricPair::new(None, None));
            o += &format!(
                " | {:>w$} {:>w$} {:>w$}",
                cell(p.a, false),
                cell(p.b, false),
                cell(p.delta, true)
            );
        }
        o.push('\n');
        if r.shape_a != r.shape_b {
            reshaped.push(format!(
                "  {}: {:?} in A, {:?} in B",
                label(&r.name, r.slice_id),
                r.shape_a,
                r.shape_b
            ));
        }
    }
    if !reshaped.is_empty() {
        o += &format!(
            "\n{} matched rows have different shapes (not the same layer?):\n{}\n",
            reshaped.len(),
            reshaped.join("\n")
        );
    }
    for (side, list) in [("A", &c.only_in_a), ("B", &c.only_in_b)] {
        if !list.is_empty() {
            o += &format!("\n{} rows only in {side}:\n", list.len());
            for n in list {
                o += &format!("  {n}\n");
            }
        }
    }
    o
}
