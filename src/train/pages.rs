//! Views of a [`CompareReport`]: a terminal summary and a self-contained HTML page with the
//! training curves (inline SVG) and the accuracy / spectra tables. The layer-by-layer spectral
//! comparison page itself is the report module's compare page.

use std::fmt::Write as _;

use super::experiment::{CompareReport, LayerNumbers};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

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

/// An SVG line chart of one per-epoch series for each run.
fn chart(title: &str, series: &[(&str, Vec<f64>)]) -> String {
    let (w, h, pad) = (460.0, 240.0, 40.0);
    let all: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .collect();
    if all.is_empty() {
        return String::new();
    }
    let (mut lo, mut hi) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    if hi - lo < 1e-12 {
        lo -= 0.5;
        hi += 0.5;
    }
    let n = series
        .iter()
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\">\
         <title>{t}</title><text x=\"{pad}\" y=\"16\" font-size=\"13\">{t}</text>\
         <rect x=\"{pad}\" y=\"{pad}\" width=\"{iw}\" height=\"{ih}\" fill=\"none\" stroke=\"#999\"/>\
         <text x=\"2\" y=\"{pad}\" font-size=\"10\">{hi:.4}</text>\
         <text x=\"2\" y=\"{yb}\" font-size=\"10\">{lo:.4}</text>\
         <text x=\"{pad}\" y=\"{yl}\" font-size=\"10\">epoch 1</text>\
         <text x=\"{xr}\" y=\"{yl}\" font-size=\"10\">{n}</text>",
        t = esc(title),
        iw = w - 2.0 * pad,
        ih = h - 2.0 * pad,
        yb = h - pad,
        yl = h - pad + 14.0,
        xr = w - pad - 10.0,
    );
    for (i, (name, v)) in series.iter().enumerate() {
        let pts: Vec<String> = v
            .iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite())
            .map(|(k, y)| {
                let x = pad + (w - 2.0 * pad) * k as f64 / (n - 1) as f64;
                let yy = h - pad - (h - 2.0 * pad) * (y - lo) / (hi - lo);
                format!("{x:.1},{yy:.1}")
            })
            .collect();
        let c = colors[i % colors.len()];
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{c}\">{}</text>",
            pts.join(" "),
            w - pad - 150.0,
            pad + 14.0 + 14.0 * i as f64,
            esc(name)
        );
    }
    svg + "</svg>"
}

/// The training page: accuracy table, curves, per-layer spectra table.
pub fn training_page(r: &CompareReport) -> String {
    let mut b = format!(
        "<h1>Regularize and compare</h1><p>{} ({}), {} training / {} test samples, \
         {} epochs, batch {}, lr {}, seed {}, backend {}.</p>",
        esc(&r.source),
        esc(&r.arch),
        r.samples.0,
        r.samples.1,
        r.config.epochs,
        r.config.batch_size,
        r.config.lr,
        r.config.seed,
        esc(r.runs.first().map_or("", |x| x.history.backend.as_str()))
    );
    b += "<h2>Accuracy</h2><table><tr><th>run</th><th>regularization</th><th>test accuracy</th>\
          <th>test loss</th><th>final train loss</th><th>s/epoch</th></tr>";
    for run in &r.runs {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
            esc(&run.name),
            esc(&run.regularization),
            pct(run.final_test.map(|t| t.accuracy)),
            num(run.final_test.map(|t| t.loss)),
            num(run.history.epochs.last().map(|e| e.train_loss)),
            run.seconds_per_epoch
        );
    }
    b += "</table>";
    let series = |f: &dyn Fn(&super::trainer::EpochRecord) -> f64| -> Vec<(&str, Vec<f64>)> {
        r.runs
            .iter()
            .map(|run| {
                (
                    run.name.as_str(),
                    run.history.epochs.iter().map(f).collect(),
                )
            })
            .collect()
    };
    b += "<h2>Training curves</h2><div>";
    b += &chart(
        "test accuracy",
        &series(&|e| e.test.map_or(f64::NAN, |t| t.accuracy)),
    );
    b += &chart(
        "test loss",
        &series(&|e| e.test.map_or(f64::NAN, |t| t.loss)),
    );
    b += &chart("train loss", &series(&|e| e.train_loss));
    b += "</div><h2>Spectra per layer</h2><table><tr><th>layer</th>\
          <th>alpha before</th><th>alpha baseline</th><th>alpha regularized</th>\
          <th>alpha_w before</th><th>alpha_w baseline</th><th>alpha_w regularized</th>\
          <th>stable rank before</th><th>baseline</th><th>regularized</th></tr>";
    for l in &r.layers {
        let g = |x: &Option<LayerNumbers>, f: fn(&LayerNumbers) -> f64| num(x.as_ref().map(f));
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.name),
            g(&l.before, |v| v.alpha),
            g(&l.baseline, |v| v.alpha),
            g(&l.regularized, |v| v.alpha),
            g(&l.before, |v| v.alpha_weighted),
            g(&l.baseline, |v| v.alpha_weighted),
            g(&l.regularized, |v| v.alpha_weighted),
            g(&l.before, |v| v.stable_rank),
            g(&l.baseline, |v| v.stable_rank),
            g(&l.regularized, |v| v.stable_rank),
        );
    }
    b += "</table><p>The layer-by-layer spectral comparison is in <a href=\"compare.html\">compare.html</a>.</p>";
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"generator\" content=\"htdiag {}\"><title>htdiag regularize</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}svg{{margin:4px}}</style>\
         </head><body>\n{b}\n</body></html>\n",
        env!("CARGO_PKG_VERSION")
    )
}
