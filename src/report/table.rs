//! The terminal view: an aligned table of the main metrics, warnings highlighted when the
//! output is a terminal, then the skipped tensors with their reasons and the model summary.

use std::fmt::Write;

use crate::result::{AnalysisResult, LayerResult, LayerStatus};

/// Widest layer name shown before it is shortened in the middle.
const MAX_NAME: usize = 48;

/// ANSI styles, or nothing when colour is off.
struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// Renders the result as a table for people. `color` adds ANSI colours (warnings yellow,
/// errors red); pass `std::io::IsTerminal::is_terminal(&stdout)`.
pub fn render(result: &AnalysisResult, color: bool) -> String {
    let style = Style { on: color };
    let headers = [
        "id",
        "name",
        "type",
        "N x M",
        "rf",
        "evals",
        "alpha",
        "D",
        "alpha_w",
        "log_norm",
        "stable_rank",
        "lambda_max",
        "status",
    ];
    let mut rows: Vec<(Vec<String>, &LayerResult)> = Vec::new();
    for l in &result.layers {
        rows.push((cells(l), l));
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for (c, _) in &rows {
        for (w, s) in widths.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    // Right-align numbers, left-align text.
    let left = [
        false, true, true, false, false, false, false, false, false, false, false, false, true,
    ];
    let mut out = String::new();
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = widths[i].saturating_sub(c.chars().count());
            if left[i] {
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s
    };
    let head: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let _ = writeln!(out, "{}", style.paint("1", &line(&head)));
    for (c, l) in &rows {
        let text = line(c);
        let painted = match (l.status, l.metrics.as_ref().map(|m| m.warning.as_str())) {
            (LayerStatus::Error, _) => style.paint("31", &text),
            (LayerStatus::Failed, _) => style.paint("35", &text),
            (_, Some(w)) if !w.is_empty() => style.paint("33", &text),
            _ => text,
        };
        let _ = writeln!(out, "{painted}");
    }

    if !result.skipped.is_empty() {
        let _ = writeln!(out, "\n{} tensors skipped:", result.skipped.len());
        let w = result
            .skipped
            .iter()
            .map(|s| short(&s.name).chars().count())
            .max()
            .unwrap_or(0);
        for s in &result.skipped {
            let shape = shape_str(&s.shape);
            let _ = writeln!(
                out,
                "  {:<w$}  {:>5} {:<14} {}",
                short(&s.name),
                s.dtype,
                shape,
                s.reason
            );
        }
    }

    let errors: Vec<&LayerResult> = result
        .layers
        .iter()
        .filter(|l| l.status == LayerStatus::Error)
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\n{} layers could not be analysed:", errors.len());
        for l in errors {
            let _ = writeln!(
                out,
                "  {}  {}",
                l.name,
                style.paint("31", l.message.as_deref().unwrap_or(""))
            );
        }
    }

    let s = &result.summary;
    let f = |x: Option<f64>| x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    let _ = writeln!(
        out,
        "\nsummary: {} layers analysed ({} failed fits, {} errors), {} skipped; \
         {} over-trained (alpha < 2), {} under-trained (alpha > 6)",
        s.num_layers, s.failed_fits, s.errors, s.skipped, s.over_trained, s.under_trained
    );
    let _ = writeln!(
        out,
        "means:   alpha {}  alpha_weighted {}  log_norm {}  log_alpha_norm {}  \
         log_spectral_norm {}  stable_rank {}",
        f(s.alpha),
        f(s.alpha_weighted),
        f(s.log_norm),
        f(s.log_alpha_norm),
        f(s.log_spectral_norm),
        f(s.stable_rank)
    );
    if s.mp_softrank.is_some() {
        let _ = writeln!(out, "         mp_softrank {}", f(s.mp_softrank));
    }
    out
}

fn cells(l: &LayerResult) -> Vec<String> {
    let name = match l.slice_id {
        Some(s) => format!("{}[{}]", short(&l.name), s),
        None => short(&l.name),
    };
    let g = |x: f64| fmt_num(x);
    let (alpha, d) = match &l.fit {
        Some(p) if p.is_valid() => (format!("{:.3}", p.alpha), format!("{:.3}", p.d)),
        Some(_) => ("-1".into(), "-".into()),
        None => ("".into(), "".into()),
    };
    let (aw, ln, sr, lm, status) = match &l.metrics {
        Some(m) => (
            if l.fit.is_some_and(|p| p.is_valid()) {
                format!("{:.3}", m.alpha_weighted)
            } else {
                "-".into()
            },
            format!("{:.3}", m.log_norm),
            g(m.stable_rank),
            g(m.lambda_max),
            if m.warning.is_empty() {
                l.status.as_str().to_string()
            } else {
                m.warning.clone()
            },
        ),
        None => (
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            l.status.as_str().to_string(),
        ),
    };
    vec![
        l.layer_id.to_string(),
        name,
        l.layer_type.as_str().to_string(),
        format!("{} x {}", l.n, l.m),
        l.rf.to_string(),
        l.num_evals.to_string(),
        alpha,
        d,
        aw,
        ln,
        sr,
        lm,
        status,
    ]
}

/// Four significant digits, switching to scientific notation for very large/small values.
fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

/// Shortens a long name in the middle so the table stays readable.
fn short(name: &str) -> String {
    let n = name.chars().count();
    if n <= MAX_NAME {
        return name.to_string();
    }
    let keep = (MAX_NAME - 1) / 2;
    let head: String = name.chars().take(keep).collect();
    let tail: String = name.chars().skip(n - (MAX_NAME - 1 - keep)).collect();
    format!("{head}…{tail}")
}

fn shape_str(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_in_the_middle() {
        let long = "model.layers.31.self_attn.rotary_emb.inv_freq.something.very.long.name";
        let s = short(long);
        assert_eq!(s.chars().count(), MAX_NAME);
        assert!(s.starts_with("model.layers.31") && s.ends_with("long.name"));
        assert_eq!(short("fc1.weight"), "fc1.weight");
    }

    #[test]
    fn number_format() {
        assert_eq!(fmt_num(12.345678), "12.3457");
        assert_eq!(fmt_num(123456.0), "1.235e5");
    }
}
