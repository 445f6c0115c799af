//! The training page of `htdiag regularize --report` (`training.html`), built with the same
//! page shell, stylesheet and number format as the analysis and compare pages: the runs'
//! accuracy and time, their per-epoch curves, each layer's ESD before fine-tuning / after
//! the baseline / after the regularized run overlaid with the fitted power laws, and the
//! per-layer spectral numbers. The layer-by-layer comparison of the two fine-tuned models is
//! the compare page (`compare.html`), written beside it.

use serde::Serialize;

use super::page::{embed_json, esc, num_cell, page};
use super::training_data::{MODEL_NAMES, training_plots};
use super::training_draw::{draw_curves, draw_esds, svg_with};
use crate::train::experiment::{CompareReport, PenaltyMetric};

#[derive(Serialize)]
struct PageData {
    kind: &'static str,
}

fn plot_or_note(svg: std::result::Result<String, String>) -> String {
    svg.unwrap_or_else(|e| format!("<p class=\"error\">plot failed: {}</p>", esc(&e)))
}

fn pct_cell(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("<td data-v=\"{v}\">{:.2} %</td>", 100.0 * v),
        _ => "<td data-v=\"\"></td>".into(),
    }
}

/// The training page as a string.
pub fn render_training_html(r: &CompareReport) -> String {
    let backend = r.runs.first().map_or("", |x| x.history.backend.as_str());
    let mut b = format!(
        "<header><h1>htdiag regularize</h1><p>{} ({}) &middot; {} training / {} test samples \
         &middot; {} epochs, batch {}, lr {}, seed {} &middot; {}</p></header>",
        esc(&r.source),
        esc(&r.arch),
        r.samples.0,
        r.samples.1,
        r.config.epochs,
        r.config.batch_size,
        r.config.lr,
        r.config.seed,
        esc(backend)
    );
    b += "<section id=\"runs\"><h2>Runs</h2><table class=\"kv\"><tr><th>run</th>\
          <th>regularization</th><th>test accuracy</th><th>test loss</th>\
          <th>final train loss</th><th>s / epoch</th></tr>";
    for run in &r.runs {
        b += &format!(
            "<tr><td>{}</td><td>{}</td>{}{}{}{}</tr>",
            esc(&run.name),
            esc(&run.regularization),
            pct_cell(run.final_test.map(|t| t.accuracy)),
            num_cell(run.final_test.map(|t| t.loss)),
            num_cell(run.history.epochs.last().map(|e| e.train_loss)),
            num_cell(Some(run.seconds_per_epoch)),
        );
    }
    b += &format!(
        "</table><p><small class=\"note\">Penalty overhead per epoch: {:+.1} %.</small></p>\
         </section>",
        100.0 * r.penalty_overhead
    );
    let plots = training_plots(r);
    b += "<section id=\"curves\"><h2>Training curves</h2><div class=\"model-plots\">";
    for c in &plots.curves {
        b += &plot_or_note(svg_with(|root| draw_curves(root, c)));
    }
    b += "</div></section>";
    b += &format!(
        "<section id=\"esds\"><h2>Spectra per layer</h2><p><small class=\"note\">Log-log ESD of \
         each layer {}; dashed: the power-law fit of the same colour, drawn from xmin.</small>\
         </p><div class=\"model-plots\">",
        MODEL_NAMES.join(" / ")
    );
    for o in &plots.layers {
        b += &plot_or_note(svg_with(|root| draw_esds(root, o)));
    }
    b += "</div></section>";
    b += "<section id=\"layers\"><h2>Spectral numbers</h2><div class=\"tablewrap\">\
          <table id=\"layer-table\"><thead><tr><th class=\"name\" data-type=\"str\">layer</th>";
    // The chosen penalty's metric first (as the terminal summary), then alpha, alpha_weighted
    // and stable_rank; a failed fit's alpha-based cells are empty.
    let metrics = PenaltyMetric::columns(&r.regularizer.penalty);
    for m in &metrics {
        for model in MODEL_NAMES {
            b += &format!("<th data-type=\"num\">{} {model}</th>", esc(m.name));
        }
    }
    b += "</tr></thead><tbody>";
    for l in &r.layers {
        b += &format!(
            "<tr data-name=\"{n}\" data-w=\"\"><td class=\"name\" title=\"{n}\">{n}</td>",
            n = esc(&l.name)
        );
        for m in &metrics {
            for side in [&l.before, &l.baseline, &l.regularized] {
                b += &num_cell(side.as_ref().and_then(m.of));
            }
        }
        b += "</tr>";
    }
    b += "</tbody></table></div><p><small class=\"note\">The layer-by-layer comparison of the \
          two fine-tuned models is in <a href=\"compare.html\">compare.html</a>.</small></p>\
          </section>";
    let data = embed_json(&PageData { kind: "training" });
    page(&format!("htdiag regularize: {}", r.source), &b, &data)
}
