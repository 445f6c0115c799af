//! Views of an [`Allocation`]: the terminal table, CSV (one line per layer) and JSON
//! (`{"method", "settings", "layers": [{"name", "alpha", "value", ...}], ...}`). The values
//! in CSV and JSON are the exact f64s (shortest round-trip form); the table rounds.

use std::fmt::Write;

use super::Allocation;
use crate::error::{Error, Result};

/// What the allocated value is, for headers.
pub fn value_label(method: &str) -> &'static str {
    match method {
        "alphapruning" => "sparsity",
        "tempbalance" => "lr",
        "alphadecay" => "weight_decay",
        _ => "value",
    }
}

/// A number with 6 significant digits for the table.
fn short(v: f64) -> String {
    if !v.is_finite() {
        format!("{v}")
    } else if v != 0.0 && !(1e-3..1e6).contains(&v.abs()) {
        format!("{v:.5e}")
    } else {
        format!("{v:.6}")
    }
}

/// The allocation as an aligned table with a summary, for people.
pub fn render_table(a: &Allocation) -> String {
    let metric = a.settings["metric"].as_str().unwrap_or("alpha");
    let has_score = a.layers.iter().any(|l| l.score.is_some());
    let mut head = vec!["#", "name", "params", metric];
    if has_score {
        head.push("block mean");
    }
    head.push(value_label(&a.method));
    head.push("note");
    let rows: Vec<Vec<String>> = a
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut c = vec![
                i.to_string(),
                l.name.clone(),
                l.params.to_string(),
                short(l.alpha),
            ];
            if has_score {
                c.push(l.score.map(short).unwrap_or_default());
            }
            c.push(short(l.value));
            let note = match (&l.inherits, a.method.as_str()) {
                (Some(from), _) => format!("batch norm: as {from}"),
                (None, "alphapruning") if l.value > 1.0 => "above 1".to_string(),
                _ => String::new(),
            };
            c.push(note);
            c
        })
        .collect();
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let last = head.len() - 1;
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (k, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let text = k == 1 || k == last;
            let _ = if text {
                write!(s, "{c:<w$}  ")
            } else {
                write!(s, "{c:>w$}  ")
            };
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&head.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for r in &rows {
        out += &line(r);
    }
    let _ = writeln!(
        out,
        "\n{}: {} layers allocated, {} left alone; settings {}",
        a.method,
        a.layers.len(),
        a.excluded.len(),
        a.settings
    );
    for e in &a.excluded {
        let _ = writeln!(out, "  left alone: {} ({})", e.name, e.reason);
    }
    if let Some(m) = a.mean_sparsity {
        let target = a.settings["sparsity"].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "parameter-weighted mean sparsity: {m:?} (target {target}; their total is float32)"
        );
    }
    for w in &a.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// One CSV line per allocated layer: `name,module,alpha,score,value,params,block,inherits`.
pub fn to_csv(a: &Allocation) -> String {
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let num = |v: f64| format!("{v:?}");
    let mut out = String::from("name,module,alpha,score,value,params,block,inherits\n");
    for l in &a.layers {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            q(&l.name),
            q(&l.module),
            num(l.alpha),
            l.score.map(num).unwrap_or_default(),
            num(l.value),
            l.params,
            q(l.block.as_deref().unwrap_or("")),
            q(l.inherits.as_deref().unwrap_or(""))
        );
    }
    out
}

/// The allocation as pretty-printed JSON.
pub fn to_json(a: &Allocation) -> Result<String> {
    serde_json::to_string_pretty(a).map_err(|e| Error::Serde {
        path: "<allocation>".into(),
        reason: e.to_string(),
    })
}
