//! The HTML page of `htdiag compare A B --report`: model means side by side, alpha of A
//! against B with the diagonal, the per-layer deltas, a sortable table of metric pairs, the
//! rows found on one side only, and each matched row's two ESDs overlaid (drawn on demand by
//! the page's script). The regularize-and-compare workflow writes the same page.

use std::path::Path;

use serde::Serialize;

use super::compare_data::{EsdOverlay, all_overlays, alpha_scatter, delta_series};
use super::draw::Plot;
use super::layer_data::fmt_num;
use super::page::{embed_json, esc, inline_svg_linked, num_cell, page};
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
        "<header><h1>htdiag compare</h1><p><b>A</b>: {} &middot; <b>B</b>: {} &middot; {} matched rows, {} only in A, {} only in B</p></header>",
        esc(&c.source_a),
        esc(&c.source_b),
        c.matched.len(),
        c.only_in_a.len(),
        c.only_in_b.len()
    );
    body += "<section id=\"summary\">";
    if !c.option_differences.is_empty() {
        body += "<h2>Different options</h2><p class=\"note\">The two analyses used different options: the deltas partly reflect them.</p>\
                 <table class=\"kv\" id=\"option-differences\"><tr><th>option</th><th>A</th><th>B</th></tr>";
        for (k, va, vb) in &c.option_differences {
            body += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(k),
                esc(va),
                esc(vb)
            );
        }
        body += "</table>";
    }
    body += &format!(
        "<h2>Model means</h2><table class=\"kv\"><tr><th>metric</th><th>{}</th><th>{}</th><th>B - A</th></tr>",
        esc(&c.names[0]),
        esc(&c.names[1])
    );
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
    let link = |i: usize| {
        let r = &c.matched[i];
        let p = r.metric("alpha");
        (
            format!("plot-{i}"),
            format!(
                "{}: alpha {} -> {}",
                deltas.names[i],
                opt(p.and_then(|p| p.a)),
                opt(p.and_then(|p| p.b))
            ),
        )
    };
    body += &format!(
        "<section id=\"model\"><h2>Per layer</h2><div class=\"model-plots\">{}{}</div></section>",
        inline_svg_linked(&Plot::Scatter(&scatter), &link),
        inline_svg_linked(&Plot::Deltas(&deltas), &link)
    );
    body += "<section id=\"layers\"><h2>Matched rows</h2><div class=\"controls\">\
             <input id=\"filter-text\" type=\"search\" placeholder=\"filter by name\" aria-label=\"filter by name\">\
             <small class=\"note\" id=\"filter-count\"></small></div><div class=\"tablewrap\"><table id=\"layer-table\"><thead><tr>\
             <th data-type=\"num\">row</th><th class=\"name\" data-type=\"str\">name</th><th class=\"txt\" data-type=\"str\">plots</th>";
    for m in METRICS {
        body += &format!(
            "<th data-type=\"num\">{m} A</th><th data-type=\"num\">{m} B</th><th data-type=\"num\">&Delta; {m}</th>"
        );
    }
    body += "</tr></thead><tbody>";
    for (i, r) in c.matched.iter().enumerate() {
        let label = &deltas.names[i];
        let (w, flag) = if r.shape_a != r.shape_b {
            (
                "error",
                format!(
                    " <span class=\"badge b-error\" title=\"shape {:?} in A, {:?} in B\">shapes differ</span>",
                    r.shape_a, r.shape_b
                ),
            )
        } else {
            ("", String::new())
        };
        body += &format!(
            "<tr id=\"row-{i}\" class=\"w-{w}\" data-w=\"{w}\" data-name=\"{n}\"><td data-v=\"{i}\">{i}</td><td class=\"name\" title=\"{n}\">{n}</td>\
             <td class=\"txt\"><a href=\"#plot-{i}\">ESDs</a>{flag}</td>",
            n = esc(label)
        );
        for p in &r.metrics {
            body += &num_cell(p.a);
            body += &num_cell(p.b);
            body += &num_cell(p.delta);
        }
        body += "</tr>";
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
