//! The HTML page of `htdiag compare A B --report`: model means side by side, alpha of A
//! against B with the diagonal, the per-layer deltas, a sortable table of metric pairs, the
//! rows found on one side only, and each matched row's two ESDs overlaid (drawn on demand by
//! the page's script). The regularize-and-compare workflow writes the same page.

use std::path::Path;

use serde::Serialize;

use super::compare_data::{EsdOverlay, all_overlays, alpha_scatter, delta_series};
use super::draw::Plot;
use super::layer_data::fmt_num;
use super::page::{embed_json, esc, inline_svg, num_cell, page};
use crate::compare::{Comparison, METRICS};
use crate::error::Result;
use crate::result::AnalysisResult;
use crate::util::atomic_write;

#[derive(Serialize)]
struct PageData {
    kind: &'static str,
    layers: Vec<Option<EsdOverlay>>,
}

fn opt(v: Option<f64>) -> String {
    v.map_or("n/a".into(), fmt_num)
}

/// The compare page as a string. `c` must be `compare(a, b)`.
pub fn render_compare_html(a: &AnalysisResult, b: &AnalysisResult, c: &Comparison) -> String {
    let mut body = format!(
        "<header><h1>htdiag compare</h1><p>A: {} &middot; B: {} &middot; {} matched rows, {} only in A, {} only in B</p></header>",
        esc(&c.source_a),
        esc(&c.source_b),
        c.matched.len(),
        c.only_in_a.len(),
        c.only_in_b.len()
    );
    body += "<section id=\"summary\"><h2>Model means</h2><table class=\"kv\"><tr><th>metric</th><th>A</th><th>B</th><th>B - A</th></tr>";
    for s in &c.summary {
        body += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s.name,
            opt(s.pair.a),
            opt(s.pair.b),
            opt(s.pair.delta)
        );
    }
    body += "</table></section>";
    let scatter = alpha_scatter(c);
    let deltas = delta_series(c, "alpha");
    body += &format!(
        "<section id=\"model\"><h2>Per layer</h2><div class=\"model-plots\">{}{}</div></section>",
        inline_svg(&Plot::Scatter(&scatter)),
        inline_svg(&Plot::Deltas(&deltas))
    );
    body += "<section id=\"layers\"><h2>Matched rows</h2><div class=\"controls\">\
             <input id=\"filter-text\" type=\"search\" placeholder=\"filter by name\" aria-label=\"filter by name\">\
             <small class=\"note\" id=\"filter-count\"></small></div><div class=\"tablewrap\"><table id=\"layer-table\"><thead><tr>\
             <th data-type=\"num\">row</th><th class=\"name\" data-type=\"str\">name</th>";
    for m in METRICS {
        body += &format!(
            "<th data-type=\"num\">{m} A</th><th data-type=\"num\">{m} B</th><th data-type=\"num\">&Delta; {m}</th>"
        );
    }
    body += "<th class=\"txt\" data-type=\"str\">plots</th></tr></thead><tbody>";
    for (i, r) in c.matched.iter().enumerate() {
        let label = match r.slice_id {
            Some(s) => format!("{} [slice {s}]", r.name),
            None => r.name.clone(),
        };
        body += &format!(
            "<tr id=\"row-{i}\" data-w=\"\" data-name=\"{n}\"><td data-v=\"{i}\">{i}</td><td class=\"name\" title=\"{n}\">{n}</td>",
            n = esc(&label)
        );
        for p in &r.metrics {
            body += &num_cell(p.a);
            body += &num_cell(p.b);
            body += &num_cell(p.delta);
        }
        body += &format!("<td class=\"txt\"><a href=\"#plot-{i}\">ESDs</a></td></tr>");
    }
    body += "</tbody></table></div></section>";
    for (side, list) in [("A", &c.only_in_a), ("B", &c.only_in_b)] {
        body += &format!(
            "<section id=\"only-{side}\"><h2>Rows only in {side} ({})</h2>",
            list.len()
        );
        if !list.is_empty() {
            body += "<ul>";
            for n in list.iter() {
                body += &format!("<li>{}</li>", esc(n));
            }
            body += "</ul>";
        }
        body += "</section>";
    }
    body += "<section id=\"layer-plots\" hidden><h2>ESDs: <span id=\"lp-title\"></span></h2>\
             <p><small class=\"note\"><a href=\"#layers\">back to the table</a></small></p><div id=\"lp-grid\"></div></section>";
    let data = embed_json(&PageData {
        kind: "compare",
        layers: all_overlays(a, b, c),
    });
    page(
        &format!("htdiag compare: {} vs {}", c.source_a, c.source_b),
        &body,
        &data,
    )
}

/// Writes the compare page to `path` (atomically).
pub fn write_compare_html(
    a: &AnalysisResult,
    b: &AnalysisResult,
    c: &Comparison,
    path: &Path,
) -> Result<()> {
    atomic_write(path, render_compare_html(a, b, c).as_bytes())
}
