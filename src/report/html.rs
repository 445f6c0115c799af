//! The HTML report of one analysis (`htdiag analyze --report`, `htdiag report`): one
//! self-contained page with the model summary, the model-level plots (inline SVG drawn by
//! plotters), a sortable and filterable layer table with warnings highlighted, and each row's
//! plots drawn on demand by the page's script from compact plot data, so a 500-layer model's
//! page stays small and opens quickly.

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::draw::Plot;
use super::layer_data::{LayerPlots, anchor, fmt_num, plots_of, row_label};
use super::model_data::model_plots;
use super::page::{embed_json, esc, inline_svg, inline_svg_linked, num_cell, page};
use super::png::model_plot_list;
use super::status::{status_text, warning_class};
use crate::error::Result;
use crate::result::{AnalysisResult, LayerResult, LayerStatus};
use crate::util::atomic_write;

#[derive(Serialize)]
struct PageData<'a> {
    kind: &'static str,
    layers: &'a [LayerPlots],
}

/// The per-row plot data of the whole result (rows in result order), scans included.
pub fn all_layer_plots(result: &AnalysisResult) -> Vec<LayerPlots> {
    result
        .layers
        .par_iter()
        .map(|l| plots_of(result, l))
        .collect()
}

fn card(value: &str, label: &str, class: &str) -> String {
    format!(
        "<div class=\"card {class}\"><b>{}</b><span>{}</span></div>",
        esc(value),
        esc(label)
    )
}

fn summary_section(r: &AnalysisResult) -> String {
    let s = &r.summary;
    let mean = |v: Option<f64>| v.map_or("n/a".to_string(), fmt_num);
    let mut h = String::from("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    h += &card(&s.num_layers.to_string(), "layers analysed", "");
    h += &card(&mean(s.alpha), "mean alpha", "");
    h += &card(&mean(s.alpha_weighted), "mean alpha_weighted", "");
    h += &card(&mean(s.log_alpha_norm), "mean log_alpha_norm", "");
    h += &card(&mean(s.log_norm), "mean log_norm", "");
    h += &card(&mean(s.log_spectral_norm), "mean log_spectral_norm", "");
    h += &card(&mean(s.stable_rank), "mean stable_rank", "");
    if s.mp_softrank.is_some() {
        h += &card(&mean(s.mp_softrank), "mean mp_softrank", "");
    }
    let bad = |n: usize, c: &'static str| if n > 0 { c } else { "" };
    h += &card(
        &s.over_trained.to_string(),
        "over-trained (alpha < 2)",
        bad(s.over_trained, "bad"),
    );
    h += &card(
        &s.under_trained.to_string(),
        "under-trained (alpha > 6)",
        bad(s.under_trained, "warn"),
    );
    if s.low_confidence > 0 {
        h += &card(
            &s.low_confidence.to_string(),
            "low-confidence fits (not counted above)",
            "",
        );
    }
    h += &card(
        &s.failed_fits.to_string(),
        "failed fits (excluded from alpha means)",
        bad(s.failed_fits, "warn"),
    );
    h += &card(&s.errors.to_string(), "errors", bad(s.errors, "bad"));
    h += &card(&s.skipped.to_string(), "tensors skipped", "");
    h += "</div>";
    let errors: Vec<&LayerResult> = r
        .layers
        .iter()
        .filter(|l| l.status == LayerStatus::Error)
        .collect();
    if !errors.is_empty() {
        h += "<h2>Rows with errors</h2><table class=\"kv\" id=\"errors\"><tr><th>layer_id</th><th>name</th><th>message</th></tr>";
        for l in errors {
            h += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                l.layer_id,
                esc(&row_label(l)),
                esc(l.message.as_deref().unwrap_or(""))
            );
        }
        h += "</table>";
    }
    if !r.skipped.is_empty() {
        h += &format!(
            "<details id=\"skipped\"{}><summary>{} skipped tensors, with reasons</summary>\
             <table class=\"kv\"><tr><th>layer_id</th><th>name</th><th>dtype</th><th>shape</th><th>reason</th></tr>",
            if r.skipped.len() <= 8 { " open" } else { "" },
            r.skipped.len()
        );
        for t in &r.skipped {
            h += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:?}</td><td>{}</td></tr>",
                t.layer_id,
                esc(&t.name),
                esc(&t.dtype),
                t.shape,
                esc(&t.reason)
            );
        }
        h += "</table></details>";
    }
    h + "</section>"
}

fn model_section(r: &AnalysisResult) -> String {
    let m = model_plots(r);
    let svgs: Vec<String> = model_plot_list(&m)
        .par_iter()
        .map(|(_, p)| match p {
            Plot::Series(s) => inline_svg_linked(p, &|i| {
                let value = s.points.iter().find(|q| q.0 == i).map_or(f64::NAN, |q| q.1);
                (
                    format!("plot-{}", anchor(&r.layers[i])),
                    format!(
                        "{} (layer_id {}): {} = {}",
                        m.labels[i],
                        r.layers[i].layer_id,
                        s.ylabel,
                        fmt_num(value)
                    ),
                )
            }),
            _ => inline_svg(p),
        })
        .collect();
    format!(
        "<section id=\"model\"><h2>Model</h2><div class=\"model-plots\">{}</div></section>",
        svgs.concat()
    )
}

fn layer_table(r: &AnalysisResult) -> String {
    let has_mp = r.layers.iter().any(|l| l.mp.is_some());
    let has_rand = r.layers.iter().any(|l| l.randomized.is_some());
    let mut cols: Vec<(&str, bool)> = vec![
        ("row", true),
        ("layer_id", true),
        ("name", false),
        ("plots", false),
        ("type", false),
        ("N", true),
        ("M", true),
        ("status", false),
        ("alpha", true),
        ("D", true),
        ("xmin", true),
        ("sigma", true),
        ("num_pl_spikes", true),
        ("alpha_weighted", true),
        ("log_norm", true),
        ("log_spectral_norm", true),
        ("stable_rank", true),
        ("entropy", true),
    ];
    if has_mp {
        cols.push(("mp_softrank", true));
        cols.push(("num_spikes", true));
    }
    if has_rand {
        cols.push(("rand_distance", true));
    }
    let mut h = String::from(
        "<section id=\"layers\"><h2>Layers</h2><div class=\"controls\">\
         <input id=\"filter-text\" type=\"search\" placeholder=\"filter by name\" aria-label=\"filter by name\">\
         <select id=\"filter-kind\" aria-label=\"filter by warning\"><option value=\"\">all rows</option>\
         <option value=\"any\">any warning</option><option value=\"over\">over-trained</option>\
         <option value=\"under\">under-trained</option><option value=\"low\">low confidence</option><option value=\"failed\">failed fits</option>\
         <option value=\"error\">errors</option></select><small class=\"note\" id=\"filter-count\"></small></div>\
         <div class=\"tablewrap\"><table id=\"layer-table\"><thead><tr>",
    );
    for (c, num) in &cols {
        let class = if *c == "name" {
            " class=\"name\""
        } else if *num {
            ""
        } else {
            " class=\"txt\""
        };
        h += &format!(
            "<th data-key=\"{c}\" data-type=\"{}\"{class}>{c}</th>",
            if *num { "num" } else { "str" }
        );
    }
    h += "</tr></thead><tbody>";
    for (i, l) in r.layers.iter().enumerate() {
        let w = warning_class(l);
        let label = row_label(l);
        let fit = l.fit.filter(|f| f.is_valid());
        let m = l.metrics.as_ref();
        let st = status_text(l);
        let status = match w {
            "" => esc(&st),
            "error" => format!(
                "<span class=\"badge b-error\" title=\"{}\">error</span>",
                esc(l.message.as_deref().unwrap_or(""))
            ),
            _ => format!("<span class=\"badge b-{w}\">{}</span>", esc(&st)),
        };
        h += &format!(
            "<tr id=\"row-{a}\" class=\"w-{w}\" data-w=\"{w}\" data-name=\"{name}\"><td data-v=\"{i}\">{i}</td>\
             <td data-v=\"{id}\">{id}</td><td class=\"name\" title=\"{name}\">{name}</td>\
             <td class=\"txt\"><a href=\"#plot-{a}\">plots</a></td><td class=\"txt\">{ty}</td>\
             <td data-v=\"{n}\">{n}</td><td data-v=\"{m}\">{m}</td><td class=\"txt\" data-v=\"{st}\">{status}</td>",
            a = anchor(l),
            name = esc(&label),
            id = l.layer_id,
            ty = l.layer_type.as_str(),
            n = l.n,
            m = l.m,
            st = esc(&st),
        );
        h += &num_cell(fit.map(|f| f.alpha));
        h += &num_cell(fit.map(|f| f.d));
        h += &num_cell(fit.map(|f| f.xmin));
        h += &num_cell(fit.map(|f| f.sigma));
        h += &num_cell(fit.map(|f| f.num_pl_spikes as f64));
        h += &num_cell(m.filter(|_| fit.is_some()).map(|m| m.alpha_weighted));
        h += &num_cell(m.map(|m| m.log_norm));
        h += &num_cell(m.map(|m| m.log_spectral_norm));
        h += &num_cell(m.map(|m| m.stable_rank));
        h += &num_cell(m.map(|m| m.entropy));
        if has_mp {
            h += &num_cell(l.mp.as_ref().map(|p| p.mp_softrank));
            h += &num_cell(l.mp.as_ref().map(|p| p.num_spikes as f64));
        }
        if has_rand {
            h += &num_cell(l.randomized.as_ref().map(|p| p.rand_distance));
        }
        h += "</tr>";
    }
    h + "</tbody></table></div></section>"
}

/// The report page of `result`, as a string.
pub fn render_html(result: &AnalysisResult) -> String {
    render_html_with(result, "")
}

/// The report page with `extra` sections after the layer table (`htdiag allocate --report`
/// adds its allocation there: [`super::allocation`]).
pub fn render_html_with(result: &AnalysisResult, extra: &str) -> String {
    let plots = all_layer_plots(result);
    let data = embed_json(&PageData {
        kind: "analysis",
        layers: &plots,
    });
    let title = format!("htdiag report: {}", result.source);
    let body = format!(
        "<header><h1>htdiag report</h1><p>{} &middot; htdiag {} &middot; {} rows, {} skipped</p></header>\n{}\n{}\n{}\n{}\n\
         <section id=\"layer-plots\" hidden><h2>Plots: <span id=\"lp-title\"></span></h2>\
         <p><small class=\"note\">Drawn from the result's eigenvalues and fit; <a href=\"#layers\">back to the table</a></small></p>\
         <div id=\"lp-grid\"></div></section>",
        esc(&result.source),
        esc(&result.htdiag_version),
        result.layers.len(),
        result.skipped.len(),
        summary_section(result),
        model_section(result),
        layer_table(result),
        extra,
    );
    page(&title, &body, &data)
}

/// Writes the report page of `result` to `path` (atomically).
pub fn write_html(result: &AnalysisResult, path: &Path) -> Result<()> {
    atomic_write(path, render_html(result).as_bytes())
}
