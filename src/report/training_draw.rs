//! Drawing of the training page's plots ([`super::training_data`]) with plotters, in the
//! style of the analysis and compare pages (same font, colours, grid and number format):
//! per-epoch curves with a marker on every point (so a one-epoch run shows its point), and
//! several log-log ESDs overlaid as outlined histograms with their fitted lines dashed in
//! the same colour.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::DrawResult;
use super::font::{FAMILY, ensure_registered};
use super::layer_data::fmt_num;
use super::training_data::{Curves, EsdOverlays};

/// Pixel size of every training plot.
pub const SIZE: (u32, u32) = (800, 460);

/// One colour per run / model, in order: blue, orange, green (the report palette).
const COLORS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
];

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

fn color(k: usize) -> RGBColor {
    COLORS[k % COLORS.len()]
}

/// `(lo, hi)` of the finite values, widened to a readable span and padded by 5%.
fn padded(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    // At least 2% of the values' magnitude (or 1 around zero), so that nearly equal points
    // (one epoch, two runs) do not fill the axis with indistinguishable tick labels.
    let span = (hi - lo).max(0.02 * lo.abs().max(hi.abs())).max(1e-12);
    let pad = 0.05 * span + 0.5 * (span - (hi - lo));
    if hi - lo <= 0.0 && lo == 0.0 {
        (-0.5, 0.5)
    } else {
        (lo - pad, hi + pad)
    }
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    pos: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(120, 120, 120))
        .label_font((FAMILY, 13))
        .position(pos)
        .draw()
        .map_err(err)
}

/// Draws per-epoch curves on `root`.
pub fn draw_curves<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Curves) -> DrawResult {
    ensure_registered();
    root.fill(&WHITE).map_err(err)?;
    let pts = || c.series.iter().flat_map(|s| s.1.iter());
    let (x0, x1) = padded(pts().map(|p| p.0));
    let (y0, y1) = padded(pts().map(|p| p.1));
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, (FAMILY, 17))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc("epoch")
        .y_desc(c.ylabel.as_str())
        .x_label_formatter(&|v| {
            // Epochs are integers: label only integral ticks.
            if (v - v.round()).abs() < 1e-9 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| fmt_num(*v))
        .label_style((FAMILY, 13))
        .draw()
        .map_err(err)?;
    for (k, (name, p)) in c.series.iter().enumerate() {
        let col = color(k);
        chart
            .draw_series(LineSeries::new(p.iter().copied(), col.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(p.iter().map(|&q| Circle::new(q, 4, col.filled())))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, col.filled()));
    }
    // Keep the legend off the curves: below them when they rise, above when they fall.
    let (first, last) = c
        .series
        .iter()
        .fold((0.0, 0.0), |(f, l), (_, p)| match p.as_slice() {
            [a, .., b] => (f + a.1, l + b.1),
            _ => (f, l),
        });
    let pos = if last >= first {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    };
    legend(&mut chart, pos)?;
    root.present().map_err(err)
}

/// Draws several log-log ESDs overlaid on `root`.
pub fn draw_esds<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, o: &EsdOverlays) -> DrawResult {
    ensure_registered();
    root.fill(&WHITE).map_err(err)?;
    let xs = o
        .esds
        .iter()
        .flat_map(|(_, e)| e.hist.edges.iter().copied());
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let ys = o.esds.iter().flat_map(|(_, e)| {
        e.hist
            .density
            .iter()
            .copied()
            .chain(e.fit_line.iter().map(|q| q.1))
    });
    let (y0, y1) = ys
        .filter(|&d| d > 0.0 && d.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    if !(x0 > 0.0 && x1.is_finite() && y0 > 0.0 && y1.is_finite()) {
        return Err(format!("{}: nothing positive to draw", o.label));
    }
    let (x0, x1, y0, y1) = (x0 / 1.5, x1 * 1.5, y0 / 1.5, y1 * 1.5);
    let mut chart = ChartBuilder::on(root)
        .caption(&o.title, (FAMILY, 17))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc("eigenvalue")
        .y_desc("density")
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&|v| fmt_num(*v))
        .label_style((FAMILY, 13))
        .draw()
        .map_err(err)?;
    for (k, (name, e)) in o.esds.iter().enumerate() {
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
                let run = runs.last_mut().expect("pushed above");
                run.push((h.edges[i], d));
                run.push((h.edges[i + 1], d));
            }
            open = d > 0.0;
        }
        for (r, run) in runs.into_iter().enumerate() {
            let drawn = chart
                .draw_series(LineSeries::new(run, col.stroke_width(2)))
                .map_err(err)?;
            if r == 0 {
                drawn.label(name.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], col.stroke_width(2))
                });
            }
        }
        if !e.fit_line.is_empty() {
            chart
                .draw_series(DashedLineSeries::new(
                    e.fit_line.iter().copied(),
                    8,
                    5,
                    col.mix(0.9).stroke_width(2),
                ))
                .map_err(err)?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
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
