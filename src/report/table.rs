//! The terminal view: an aligned table of the main metrics (with the `--mp-fit` and
//! `--randomize` columns when the result has them), warnings highlighted when the output is a
//! terminal, then the skipped tensors counted per reason (or listed) and the model summary.

use std::fmt::Write;

use super::num::fmt_num;
use super::status::{status_text, warning_class};
use crate::result::{AnalysisResult, LayerResult, LayerStatus, LayerType, SkippedTensor};

/// Widest layer name shown before it is shortened at the front (the end of a name, with the
/// layer number, is what tells rows apart).
const MAX_NAME: usize = 48;

/// What the table shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableOptions {
    /// ANSI colours (pass `std::io::IsTerminal::is_terminal(&stdout)`).
    pub color: bool,
    /// Full names instead of names cut at the front to [`MAX_NAME`] characters.
    pub wide: bool,
    /// Every skipped tensor listed, instead of counts per reason.
    pub show_skipped: bool,
    /// Appended to the counts of skipped tensors (the binary says how to list them).
    pub skipped_hint: &'static str,
}

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

/// Renders the result as a table for people with the default options and `color`.
pub fn render(result: &AnalysisResult, color: bool) -> String {
    render_with(
        result,
        &TableOptions {
            color,
            ..TableOptions::default()
        },
    )
}

/// Renders the result as a table for people (warnings yellow, errors red when coloured).
pub fn render_with(result: &AnalysisResult, opts: &TableOptions) -> String {
    let style = Style { on: opts.color };
    let has_mp = result.layers.iter().any(|l| l.mp.is_some());
    let has_rand = result.layers.iter().any(|l| l.randomized.is_some());
    let mut headers = vec![
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
    ];
    if has_mp {
        headers.extend(["mp_softrank", "spikes"]);
    }
    if has_rand {
        headers.push("rand_dist");
    }
    headers.push("status");
    let rows: Vec<(Vec<String>, &LayerResult)> = result
        .layers
        .iter()
        .map(|l| (cells(l, opts.wide, has_mp, has_rand), l))
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for (c, _) in &rows {
        for (w, s) in widths.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    // Right-align numbers, left-align text (name, type, status).
    let left: Vec<bool> = headers
        .iter()
        .map(|h| matches!(*h, "name" | "type" | "status"))
        .collect();
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
        let painted = match warning_class(l) {
            "error" => style.paint("31", &text),
            "failed" => style.paint("35", &text),
            "over" | "under" => style.paint("33", &text),
            _ => text,
        };
        let _ = writeln!(out, "{painted}");
    }

    if let Some(l) = result
        .layers
        .iter()
        .find(|l| l.layer_type == LayerType::Lora)
    {
        let _ = writeln!(
            out,
            "\ntype lora: the update dW = s B A of a LoRA module{}, from its nonzero singular \
             values; 'no fit': fewer than min_evals eigenvalues, so no power-law fit",
            l.adapter
                .as_ref()
                .map(|a| format!(" (e.g. r = {}, s = {})", a.rank, a.scale))
                .unwrap_or_default()
        );
    }
    if !result.skipped.is_empty() && opts.show_skipped {
        let _ = writeln!(out, "\n{} tensors skipped:", result.skipped.len());
        let w = result
            .skipped
            .iter()
            .map(|s| shown_name(&s.name, opts.wide).chars().count())
            .max()
            .unwrap_or(0);
        for s in &result.skipped {
            let shape = shape_str(&s.shape);
            let _ = writeln!(
                out,
                "  {:<w$}  {:>5} {:<14} {}",
                shown_name(&s.name, opts.wide),
                s.dtype,
                shape,
                s.reason
            );
        }
    } else if !result.skipped.is_empty() {
        let _ = writeln!(
            out,
            "\n{} tensors skipped: {}{}",
            result.skipped.len(),
            skipped_counts(&result.skipped),
            opts.skipped_hint
        );
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
         {} over-trained (alpha < 2), {} under-trained (alpha > 6){}",
        s.num_layers,
        s.failed_fits,
        s.errors,
        s.skipped,
        s.over_trained,
        s.under_trained,
        if s.low_confidence > 0 {
            format!(
                ", {} low-confidence fits (< {} eigenvalues or depthwise; not counted as \
                 over/under-trained)",
                s.low_confidence,
                crate::fit::SMALL_N_LIMIT
            )
        } else {
            String::new()
        }
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

/// Why tensors were skipped, as counts per kind of reason, most frequent first:
/// `197 rank-1 tensors (bias/norm), 23 non-float`.
pub fn skipped_counts(skipped: &[SkippedTensor]) -> String {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for s in skipped {
        let kind = reason_kind(&s.reason);
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The kind of a skip reason (the planner's reasons name their numbers; this groups them).
fn reason_kind(reason: &str) -> &'static str {
    if reason.starts_with("rank-1") {
        "rank-1 (bias/norm)"
    } else if reason.starts_with("rank-0") {
        "scalars"
    } else if reason.starts_with("rank-") {
        "other ranks"
    } else if reason.starts_with("dtype") {
        "non-float"
    } else if reason.starts_with("name does not match") {
        "not matching the layers filter"
    } else if reason.contains("< min_evals") {
        "too few eigenvalues (< min_evals)"
    } else if reason.contains("> max_evals") {
        "too many eigenvalues (> max_evals)"
    } else if reason.contains("> max_n") {
        "larger side > max_n"
    } else if reason.starts_with("empty") {
        "empty"
    } else {
        "other"
    }
}

/// The name as the table shows it: whole with `wide`, else cut at the front.
fn shown_name(name: &str, wide: bool) -> String {
    if wide { name.to_string() } else { short(name) }
}

fn cells(l: &LayerResult, wide: bool, has_mp: bool, has_rand: bool) -> Vec<String> {
    let name = match l.slice_id {
        Some(s) => format!("{}[{}]", shown_name(&l.name, wide), s),
        None => shown_name(&l.name, wide),
    };
    let g = |x: f64| fmt_num(x);
    let (alpha, d) = match &l.fit {
        Some(p) if p.is_valid() => (format!("{:.3}", p.alpha), format!("{:.3}", p.d)),
        Some(_) => ("-1".into(), "-".into()),
        None => ("".into(), "".into()),
    };
    let (aw, ln, sr, lm) = match &l.metrics {
        Some(m) => (
            if l.fit.is_some_and(|p| p.is_valid()) {
                format!("{:.3}", m.alpha_weighted)
            } else {
                "-".into()
            },
            format!("{:.3}", m.log_norm),
            g(m.stable_rank),
            g(m.lambda_max),
        ),
        None => (String::new(), String::new(), String::new(), String::new()),
    };
    let mut v = vec![
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
    ];
    if has_mp {
        v.push(l.mp.as_ref().map_or(String::new(), |p| g(p.mp_softrank)));
        v.push(
            l.mp.as_ref()
                .map_or(String::new(), |p| p.num_spikes.to_string()),
        );
    }
    if has_rand {
        v.push(
            l.randomized
                .as_ref()
                .map_or(String::new(), |r| g(r.rand_distance)),
        );
    }
    v.push(status_text(l));
    v
}

/// Shortens a long name at the front (`…layers.31.mlp.down_proj.weight`), keeping the end
/// where the layer number and the matrix name are.
pub fn short(name: &str) -> String {
    let n = name.chars().count();
    if n <= MAX_NAME {
        return name.to_string();
    }
    let tail: String = name.chars().skip(n - (MAX_NAME - 1)).collect();
    format!("…{tail}")
}

fn shape_str(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_at_the_front() {
        let long = "encoder.block.11.layer.1.DenseReluDense.wo.something.very.long.weight";
        let s = short(long);
        assert_eq!(s.chars().count(), MAX_NAME);
        assert!(s.starts_with('…') && s.ends_with("very.long.weight"), "{s}");
        assert_eq!(short("fc1.weight"), "fc1.weight");
    }

    #[test]
    fn skipped_tensors_are_counted_per_reason() {
        let t = |reason: &str| SkippedTensor {
            layer_id: 0,
            name: "x".into(),
            dtype: "F32".into(),
            shape: vec![4],
            reason: reason.into(),
        };
        let s = [
            t("rank-1 tensor (bias/norm)"),
            t("dtype I64 is not a float"),
            t("rank-1 tensor (bias/norm)"),
            t("M*rf = 4*1 = 4 < min_evals 8 (lower min_evals to analyse it)"),
        ];
        assert_eq!(
            skipped_counts(&s),
            "2 rank-1 (bias/norm), 1 non-float, 1 too few eigenvalues (< min_evals)"
        );
    }
}
