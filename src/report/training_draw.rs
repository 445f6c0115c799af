//! Drawing of the training page's plots ([`super::training_data`]) with the report's frame
//! builder ([`super::draw::frame`] and [`super::draw::axes`]: title, legend under it, the
//! fewest-digit ticks), so they look like the analysis and compare pages' plots: per-epoch
//! curves with a marker on every point (so a one-epoch run shows its point), and several
//! log-log ESDs overlaid as outlined histograms with their fitted lines dashed in the same
//! colour.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{
    AxisSpec, BLUE, DrawResult, GREEN, Key, ORANGE, Swatch, axes, err, frame, min_max, range,
};
use super::font::ensure_registered;
use super::training_data::{Curves, EsdOverlays};

/// Pixel size of every training plot.
pub const SIZE: (u32, u32) = (800, 460);

/// One colour per run / model, in order.
const COLORS: [RGBColor; 3] = [BLUE, ORANGE, GREEN];

fn color(k: usize) -> RGBColor {
    COLORS[k % COLORS.len()]
}

/// `(lo, hi)` of the finite values, widened to at least 2% of their magnitude (so nearly
/// equal points, one epoch of two runs, do not make a hair-thin axis), then padded.
fn readable(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = min_max(v);
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let half = 0.5 * (hi - lo).max(0.02 * lo.abs().max(hi.abs()));
    let mid = 0.5 * (lo + hi);
    range(mid - half, mid + half, false)
}

/// Draws per-epoch curves on `root`.
pub fn draw_curves<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Curves) -> DrawResult {
    ensure_registered();
    root.fill(&WHITE).map_err(err)?;
    let pts = || c.series.iter().flat_map(|s| s.1.iter());
    let (x0, x1) = readable(pts().map(|p| p.0));
    let (y0, y1) = readable(pts().map(|p| p.1));
    let keys: Vec<Key> = (c.series.iter().enumerate())
        .map(|(k, (name, _))| Key::new(name.as_str(), Swatch::Dot(color(k))))
        .collect();
    let area = frame(root, &c.title, &keys)?;
    // Epochs are integers: label only integral ticks.
    let epoch = |v: &f64| {
        if (v - v.round()).abs() < 1e-9 {
            format!("{v:.0}")
        } else {
            String::new()
        }
    };
    let spec = AxisSpec {
        x_format: Some(&epoch),
        ..AxisSpec::new("epoch", &c.ylabel)
    };
    let mut chart = axes(&area, x0..x1, y0..y1, &spec)?;
    for (k, (_, p)) in c.series.iter().enumerate() {
        let col = color(k);
        chart
            .draw_series(LineSeries::new(p.iter().copied(), col.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(p.iter().map(|&q| Circle::new(q, 4, col.filled())))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// Draws several log-log ESDs overlaid on `root`.
pub fn draw_esds<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, o: &EsdOverlays) -> DrawResult {
    ensure_registered();
    root.fill(&WHITE).map_err(err)?;
    let (x0, x1) = min_max(
        o.esds
            .iter()
            .flat_map(|(_, e)| e.hist.edges.iter().copied()),
    );
    let ys = o.esds.iter().flat_map(|(_, e)| {
        let fit = e.fit_line.iter().map(|q| q.1);
        e.hist.density.iter().copied().chain(fit)
    });
    let (y0, y1) = min_max(ys.filter(|&d| d > 0.0));
    if !(x0 > 0.0 && x1.is_finite() && y0 > 0.0 && y1.is_finite()) {
        return Err(format!("{}: nothing positive to draw", o.label));
    }
    let ((x0, x1), (y0, y1)) = (range(x0, x1, true), range(y0, y1, true));
    let mut keys: Vec<Key> = (o.esds.iter().enumerate())
        .map(|(k, (name, _))| Key::new(name.as_str(), Swatch::Line(color(k))))
        .collect();
    keys.push(Key::new(
        "power-law fits",
        Swatch::Dashed(RGBColor(90, 90, 90)),
    ));
    let area = frame(root, &o.title, &keys)?;
    let spec = AxisSpec::new("eigenvalue", "density");
    let mut chart = axes(&area, (x0..x1).log_scale(), (y0..y1).log_scale(), &spec)?;
    for (k, (_, e)) in o.esds.iter().enumerate() {
        let col = color(k);
        // The histogram as a step outline, broken at empty bins (no zero on a log axis).
        let h = &e.hist;
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut open = false;
        for (i, &d) in h.density.iter().enumerate() {
            if d > 0.0 {
                if !open {
                    runs.push(Vec::new());
                }
                if let Some(run) = runs.last_mut() {
                    run.extend([(h.edges[i], d), (h.edges[i + 1], d)]);
                }
            }
            open = d > 0.0;
        }
        for run in runs {
            chart
                .draw_series(LineSeries::new(run, col.stroke_width(2)))
                .map_err(err)?;
        }
        if !e.fit_line.is_empty() {
            chart
                .draw_series(DashedLineSeries::new(
                    e.fit_line.iter().copied(),
                    8,
                    5,
                    col.stroke_width(2),
                ))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)
}

/// An SVG element (no XML declaration) drawn by `f`, or the error.
pub fn svg_with(
    f: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> DrawResult,
) -> std::result::Result<String, String> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        f(&root)?;
    }
    Ok(match s.find("<svg") {
        Some(i) => s[i..].to_string(),
        None => s,
    })
}
