//! The terminal summary of `htdiag regularize`: accuracy and time per run, the penalty's
//! overhead, then per layer the number the chosen penalty acts on (stable rank for
//! stable-rank, ...; [`PenaltyMetric::of_penalty`]) and alpha, before and after each run.

use std::fmt::Write as _;

use crate::train::experiment::{ALPHA_METRIC, CompareReport, LayerNumbers, PenaltyMetric};

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v))
}

fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.3}"),
        _ => "-".into(),
    }
}

/// Terminal summary: accuracy per run, then the penalty's metric and alpha before/after per
/// layer.
pub fn summary_text(r: &CompareReport) -> String {
    let mut s = String::new();
    for run in &r.runs {
        let _ = writeln!(
            s,
            "{:<12} {:<40} test acc {:>7}  test loss {:>7}  {:.2} s/epoch",
            run.name,
            run.regularization,
            pct(run.final_test.map(|t| t.accuracy)),
            num(run.final_test.map(|t| t.loss)),
            run.seconds_per_epoch
        );
    }
    let _ = writeln!(
        s,
        "penalised / plain time per step: {:.2}x (refreshes: {:.1}% of the regularized run's \
         step time on the training thread)",
        1.0 + r.penalty_overhead,
        100.0 * r.runs.get(1).map_or(0.0, |x| x.refresh_share)
    );
    if let Some(f) = r.runs.get(1).and_then(|x| x.history.refresh.as_ref()) {
        let ks: Vec<usize> = f.intervals.iter().map(|s| s.interval).collect();
        let (lo, hi) = (ks.iter().min(), ks.iter().max());
        let _ = writeln!(
            s,
            "spectrum refreshes: {} (every {} steps), largest lag {} steps, penalty product {}",
            f.refreshes,
            match (lo, hi) {
                (Some(a), Some(b)) if a != b => format!("{a}-{b}"),
                (Some(a), _) => a.to_string(),
                _ => "-".into(),
            },
            f.max_lag,
            match f.held {
                true => "held between refreshes",
                false => "with the current weights",
            }
        );
    }
    let metric = PenaltyMetric::of_penalty(&r.regularizer.penalty);
    let mut blocks = vec![metric];
    if metric.name != ALPHA_METRIC.name {
        blocks.push(ALPHA_METRIC);
    }
    let heads: Vec<String> = blocks
        .iter()
        .map(|m| format!("{} per layer", m.name))
        .collect();
    let w = heads
        .iter()
        .map(String::len)
        .chain(r.layers.iter().map(|l| l.name.len()))
        .max()
        .unwrap_or(0);
    for (m, head) in blocks.into_iter().zip(&heads) {
        layer_table(&mut s, r, m, head, w);
    }
    s
}

/// One block of the per-layer table, `w` characters for the names: `metric` before, after the
/// baseline, after the regularized run.
fn layer_table(s: &mut String, r: &CompareReport, metric: PenaltyMetric, head: &str, w: usize) {
    let _ = writeln!(
        s,
        "{head:<w$} {:>12} {:>12} {:>12}",
        "before", "baseline", "regularized"
    );
    let v = |x: &Option<LayerNumbers>| num(x.as_ref().and_then(metric.of));
    for l in &r.layers {
        let _ = writeln!(
            s,
            "{:<w$} {:>12} {:>12} {:>12}",
            l.name,
            v(&l.before),
            v(&l.baseline),
            v(&l.regularized)
        );
    }
}
