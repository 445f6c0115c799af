//! The allocation section of the HTML report (`htdiag allocate --report`): a bar chart of the
//! allocated value per layer next to the layer's alpha (inline SVG, one row per layer, so a
//! 200-layer model stays readable), the summary and the layers left alone.

use std::fmt::Write;
use std::path::Path;

use super::html::render_html_with;
use super::page::esc;
use crate::allocate::Allocation;
use crate::allocate::output::value_label;
use crate::error::Result;
use crate::result::AnalysisResult;
use crate::util::atomic_write;

/// Height of one layer's row in the chart, in pixels.
const ROW: f64 = 16.0;
/// Width of the name column, of each bar panel, and the gap between them.
const NAME_W: f64 = 300.0;
const PANEL_W: f64 = 260.0;
const GAP: f64 = 70.0;

/// Largest finite value of `v` (1 when none is positive), the scale of a panel.
fn scale_of(v: impl Iterator<Item = f64>) -> f64 {
    let m = v.filter(|x| x.is_finite()).fold(0.0f64, f64::max);
    if m > 0.0 { m } else { 1.0 }
}

/// One panel's bar: a rect of `x / scale` of the panel width (full for +inf) and its label.
fn bar(s: &mut String, x0: f64, y: f64, v: f64, scale: f64, class: &str) {
    let frac = if v.is_finite() {
        (v / scale).clamp(0.0, 1.0)
    } else if v > 0.0 {
        1.0
    } else {
        0.0
    };
    let w = frac * PANEL_W;
    let _ = write!(
        s,
        "<rect class=\"{class}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\"><title>{v}</title></rect>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"v\">{}</text>",
        y + 2.0,
        ROW - 4.0,
        x0 + w + 3.0,
        y + ROW - 4.0,
        short(v)
    );
}

fn short(v: f64) -> String {
    if !v.is_finite() {
        format!("{v}")
    } else if v != 0.0 && !(1e-3..1e4).contains(&v.abs()) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// The bar chart: per layer, alpha (the metric) and the allocated value side by side.
pub fn chart_svg(a: &Allocation) -> String {
    let metric = a.settings["metric"].as_str().unwrap_or("alpha");
    let label = value_label(&a.method);
    let sa = scale_of(a.layers.iter().map(|l| l.alpha));
    let sv = scale_of(a.layers.iter().map(|l| l.value));
    let (xa, xv) = (NAME_W, NAME_W + PANEL_W + GAP);
    let width = xv + PANEL_W + GAP;
    let height = ROW * (a.layers.len() as f64 + 1.5);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"alloc-chart\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">\
         <style>.a{{fill:#4c78a8}}.b{{fill:#f58518}}.v{{fill:#333}}.one{{stroke:#c00;stroke-dasharray:3 2}}</style>\
         <text x=\"{xa}\" y=\"12\" font-weight=\"bold\">{}</text><text x=\"{xv}\" y=\"12\" font-weight=\"bold\">{}</text>",
        esc(metric),
        esc(label)
    );
    if a.method == "alphapruning" && sv > 1.0 {
        let x = xv + PANEL_W / sv;
        let _ = write!(
            s,
            "<line class=\"one\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{ROW}\" y2=\"{height:.0}\"><title>sparsity 1</title></line>"
        );
    }
    for (i, l) in a.layers.iter().enumerate() {
        let y = ROW * (i as f64 + 1.0);
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            NAME_W - 6.0,
            y + ROW - 4.0,
            esc(&l.name)
        );
        bar(&mut s, xa, y, l.alpha, sa, "a");
        bar(&mut s, xv, y, l.value, sv, "b");
    }
    s + "</svg>"
}

/// The report section: summary line, warnings, chart, layers left alone.
pub fn section(a: &Allocation) -> String {
    let mut h = format!(
        "<section id=\"allocation\"><h2>Allocation: {} ({} per layer)</h2><p>{} layers allocated, {} left alone; settings <code>{}</code></p>",
        esc(&a.method),
        esc(value_label(&a.method)),
        a.layers.len(),
        a.excluded.len(),
        esc(&a.settings.to_string())
    );
    if let Some(m) = a.mean_sparsity {
        let _ = write!(h, "<p>Parameter-weighted mean sparsity: <b>{m:?}</b></p>");
    }
    for w in &a.warnings {
        let _ = write!(h, "<p class=\"warn\">warning: {}</p>", esc(w));
    }
    h += "<div class=\"tablewrap\">";
    h += &chart_svg(a);
    h += "</div>";
    if !a.excluded.is_empty() {
        h += &format!(
            "<details><summary>{} layers left alone, with reasons</summary><table class=\"kv\"><tr><th>name</th><th>reason</th></tr>",
            a.excluded.len()
        );
        for e in &a.excluded {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&e.name),
                esc(&e.reason)
            );
        }
        h += "</table></details>";
    }
    h + "</section>"
}

/// Writes the analysis report of `result` with the allocation section (atomically).
pub fn write_html(result: &AnalysisResult, a: &Allocation, path: &Path) -> Result<()> {
    atomic_write(path, render_html_with(result, &section(a)).as_bytes())
}
