//! The terminal summary of `htdiag regularize`: accuracy and time per run, the penalty's
//! overhead, then alpha per layer before and after each run.

use std::fmt::Write as _;

use crate::train::experiment::{CompareReport, LayerNumbers};

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v))
}

fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.3}"),
        _ => "-".into(),
    }
}

/// Terminal summary: accuracy per run, then alpha before/after per layer.
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
            "spectrum refreshes: {} (every {} steps), largest lag {} steps",
            f.refreshes,
            match (lo, hi) {
                (Some(a), Some(b)) if a != b => format!("{a}-{b}"),
                (Some(a), _) => a.to_string(),
                _ => "-".into(),
            },
            f.max_lag
        );
    }
    let _ = writeln!(
        s,
        "{:<16} {:>22} {:>22} {:>22}",
        "layer", "alpha before", "alpha baseline", "alpha regularized"
    );
    let a = |x: &Option<LayerNumbers>| num(x.map(|v| v.alpha));
    for l in &r.layers {
        let _ = writeln!(
            s,
            "{:<16} {:>22} {:>22} {:>22}",
            l.name,
            a(&l.before),
            a(&l.baseline),
            a(&l.regularized)
        );
    }
    s
}
