//! Drawing of the plot data with plotters, onto any backend: SVG for the HTML pages, RGB
//! bitmaps (encoded as PNG) for `--png-dir`. These functions only draw what the data structs
//! of [`super::layer_data`] and [`super::model_data`] hold; they compute nothing of substance.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::bins::Histogram;
use super::compare_data::{EsdOverlay, Scatter};
use super::font::{FAMILY, ensure_registered};
use super::layer_data::{
    LogLogEsd, MarkedHistogram, MpOverlay, RandomizedOverlay, ScanCurve, fmt_num,
};
use super::model_data::Series;

/// What a drawing routine returns: plotters' error, as text.
pub type DrawResult = std::result::Result<(), String>;

/// One drawable plot, borrowed from the plot data.
#[derive(Debug, Clone, Copy)]
pub enum Plot<'a> {
    /// Log-log ESD with the fitted power law.
    LogLog(&'a LogLogEsd),
    /// Linear or log-linear ESD with markers.
    Marked(&'a MarkedHistogram),
    /// KS distance and alpha vs xmin.
    Scan(&'a ScanCurve),
    /// Randomized ESD over the real one.
    Randomized(&'a RandomizedOverlay),
    /// MP density over the bulk.
    Mp(&'a MpOverlay),
    /// A per-layer series (alpha, alpha_weighted, stable rank).
    Series(&'a Series),
    /// The alpha histogram.
    AlphaHist(&'a Histogram),
    /// Alpha of model A against model B, with the diagonal.
    Scatter(&'a Scatter),
    /// Per-layer deltas as bars.
    Deltas(&'a Series),
    /// Two log-log ESDs overlaid.
    Overlay(&'a EsdOverlay),
}

/// Pixel size of a plot: per-layer plots 800x500, the scan 800x640, model plots 1000x500.
pub fn plot_size(plot: &Plot) -> (u32, u32) {
    match plot {
        Plot::Scan(_) => (800, 640),
        Plot::Series(_) | Plot::Deltas(_) | Plot::Scatter(_) | Plot::AlphaHist(_) => (1000, 500),
        _ => (800, 500),
    }
}

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(120, 120, 120);

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Draws `plot` on `root` (the whole area).
pub fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, plot: &Plot) -> DrawResult {
    ensure_registered();
    root.fill(&WHITE).map_err(err)?;
    match plot {
        Plot::LogLog(p) => loglog(root, p),
        Plot::Marked(p) => marked(root, &p.title, &p.xlabel, &p.hist, &p.markers, None),
        Plot::Scan(p) => scan(root, p),
        Plot::Randomized(p) => randomized(root, p),
        Plot::Mp(p) => marked(
            root,
            &p.title,
            "eigenvalue",
            &p.hist,
            &p.markers,
            Some(&p.curve),
        ),
        Plot::Series(s) => series(root, s, false),
        Plot::Deltas(s) => series(root, s, true),
        Plot::AlphaHist(h) => marked(root, "alpha histogram", "alpha", h, &[], None),
        Plot::Scatter(s) => scatter(root, s),
        Plot::Overlay(o) => overlay(root, o),
    }?;
    root.present().map_err(err)
}

fn title_style<'a>() -> TextStyle<'a> {
    (FAMILY, 17).into_font().into()
}

fn range(lo: f64, hi: f64, log: bool) -> (f64, f64) {
    if log {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo / 2.0, hi * 2.0)
        };
        (lo / 1.5, hi * 1.5)
    } else if hi > lo {
        let pad = (hi - lo) * 0.04;
        (lo - pad, hi + pad)
    } else {
        (lo - 0.5, hi + 0.5)
    }
}

fn min_max(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        })
}

fn loglog<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &LogLogEsd) -> DrawResult {
    let h = &p.hist;
    let (x0, x1) = range(h.edges[0], h.edges[h.edges.len() - 1], true);
    let (y0, y1) = min_max(
        h.density
            .iter()
            .copied()
            .filter(|&d| d > 0.0)
            .chain(p.fit_line.iter().map(|q| q.1).filter(|&d| d > 0.0)),
    );
    let (y0, y1) = range(y0, y1, true);
    let mut chart = ChartBuilder::on(root)
        .caption(&p.title, title_style())
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
    chart
        .draw_series(
            h.density
                .iter()
                .enumerate()
                .filter(|(_, d)| **d > 0.0)
                .map(|(i, d)| {
                    Rectangle::new(
                        [(h.edges[i], y0), (h.edges[i + 1], *d)],
                        BLUE.mix(0.45).filled(),
                    )
                }),
        )
        .map_err(err)?
        .label("ESD")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BLUE.mix(0.45).filled()));
    if !p.fit_line.is_empty() {
        chart
            .draw_series(DashedLineSeries::new(
                p.fit_line.iter().copied(),
                8,
                5,
                RED.stroke_width(2),
            ))
            .map_err(err)?
            .label("power-law fit")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED.stroke_width(2)));
    }
    if let Some(xm) = p.xmin {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(xm, y0), (xm, y1)],
                GREEN.stroke_width(2),
            )))
            .map_err(err)?
            .label("xmin")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], GREEN.stroke_width(2)));
    }
    legend(&mut chart)
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> DrawResult {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .label_font((FAMILY, 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)
}

const MARKER_COLORS: [RGBColor; 3] = [GREEN, RED, GREY];

fn marked<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    xlabel: &str,
    h: &Histogram,
    markers: &[(String, f64)],
    curve: Option<&[(f64, f64)]>,
) -> DrawResult {
    let (x0, x1) = min_max(
        h.edges
            .iter()
            .copied()
            .chain(markers.iter().map(|m| m.1))
            .chain(curve.unwrap_or(&[]).iter().map(|c| c.0)),
    );
    let (x0, x1) = range(x0, x1, false);
    let (_, y1) = min_max(
        h.density
            .iter()
            .copied()
            .chain(curve.unwrap_or(&[]).iter().map(|c| c.1)),
    );
    let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
    let mut chart = ChartBuilder::on(root)
        .caption(title, title_style())
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, 0.0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc(xlabel)
        .y_desc("density")
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&|v| fmt_num(*v))
        .label_style((FAMILY, 13))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(h.density.iter().enumerate().map(|(i, d)| {
            Rectangle::new(
                [(h.edges[i], 0.0), (h.edges[i + 1], *d)],
                BLUE.mix(0.45).filled(),
            )
        }))
        .map_err(err)?
        .label("density")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BLUE.mix(0.45).filled()));
    if let Some(c) = curve {
        chart
            .draw_series(LineSeries::new(c.iter().copied(), RED.stroke_width(2)))
            .map_err(err)?
            .label("Marchenko-Pastur")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED.stroke_width(2)));
    }
    for (k, (name, x)) in markers.iter().enumerate() {
        let color = MARKER_COLORS[k % MARKER_COLORS.len()];
        chart
            .draw_series(DashedLineSeries::new(
                [(*x, 0.0), (*x, y1)],
                6,
                4,
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("{name} = {}", fmt_num(*x)))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart)
}

fn scan<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &ScanCurve) -> DrawResult {
    let root = root.titled(&p.title, title_style()).map_err(err)?;
    let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 / 2);
    let (x0, x1) = min_max(p.xmin.iter().copied().filter(|&x| x > 0.0));
    let (x0, x1) = range(x0, x1, true);
    let chosen = p.chosen.map(|i| (p.xmin[i], p.d[i], p.alpha[i]));
    // alpha explodes for the last few candidates: cap the axis at 3x the chosen alpha (>= 10).
    let (a0, a1) = min_max(p.alpha.iter().copied());
    let cap = chosen.map_or(10.0, |c| (3.0 * c.2).max(10.0));
    let (a0, a1) = range(a0.min(cap), a1.min(cap), false);
    for (area, ys, name, (y0, y1)) in [
        (&top, &p.d, "KS distance D", (0.0, 1.02)),
        (&bottom, &p.alpha, "alpha", (a0, a1)),
    ] {
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .x_desc("candidate xmin")
            .y_desc(name)
            .x_label_formatter(&|v| fmt_num(*v))
            .y_label_formatter(&|v| fmt_num(*v))
            .label_style((FAMILY, 13))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                p.xmin
                    .iter()
                    .zip(ys.iter())
                    .map(|(&x, &y)| (x, y.clamp(y0, y1))),
                BLUE.stroke_width(2),
            ))
            .map_err(err)?
            .label(name)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE.stroke_width(2)));
        if let Some((cx, _, _)) = chosen {
            chart
                .draw_series(DashedLineSeries::new(
                    [(cx, y0), (cx, y1)],
                    6,
                    4,
                    GREEN.stroke_width(2),
                ))
                .map_err(err)?
                .label(format!("chosen xmin = {}", fmt_num(cx)))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], GREEN.stroke_width(2))
                });
        }
        legend(&mut chart)?;
    }
    Ok(())
}

fn two_hists<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    xlabel: &str,
    hists: [(&str, &Histogram); 2],
    markers: &[(String, f64)],
    log_x: bool,
) -> DrawResult {
    let edges = &hists[0].1.edges;
    let (x0, x1) = range(edges[0], edges[edges.len() - 1], log_x);
    let (_, y1) = min_max(hists.iter().flat_map(|h| h.1.density.iter().copied()));
    let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
    let mut chart = ChartBuilder::on(root)
        .caption(title, title_style())
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, 0.0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc(xlabel)
        .y_desc("density")
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&|v| fmt_num(*v))
        .label_style((FAMILY, 13))
        .draw()
        .map_err(err)?;
    for ((name, h), color) in hists.iter().zip([BLUE, ORANGE]) {
        chart
            .draw_series(h.density.iter().enumerate().map(|(i, d)| {
                Rectangle::new(
                    [(h.edges[i], 0.0), (h.edges[i + 1], *d)],
                    color.mix(0.4).filled(),
                )
            }))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.mix(0.4).filled())
            });
    }
    for (k, (name, x)) in markers.iter().enumerate() {
        let color = MARKER_COLORS[k % MARKER_COLORS.len()];
        chart
            .draw_series(DashedLineSeries::new(
                [(*x, 0.0), (*x, y1)],
                6,
                4,
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("{name} = {}", fmt_num(*x)))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart)
}

fn randomized<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &RandomizedOverlay,
) -> DrawResult {
    two_hists(
        root,
        &p.title,
        "log10 eigenvalue",
        [("ESD", &p.real), ("randomized ESD", &p.random)],
        &p.markers,
        false,
    )
}

fn overlay<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, o: &EsdOverlay) -> DrawResult {
    // Log-spaced bins drawn on log10 coordinates keep the two ESDs' tails readable.
    let to_log = |h: &Histogram| Histogram {
        edges: h.edges.iter().map(|e| e.log10()).collect(),
        ..h.clone()
    };
    let (a, b) = (to_log(&o.hists[0]), to_log(&o.hists[1]));
    two_hists(
        root,
        &o.title,
        "log10 eigenvalue",
        [(&o.names[0], &a), (&o.names[1], &b)],
        &[],
        false,
    )
}

fn series<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Series, bars: bool) -> DrawResult {
    let (x0, x1) = min_max(s.points.iter().map(|p| p.0 as f64));
    let (x0, x1) = if x0.is_finite() { (x0, x1) } else { (0.0, 1.0) };
    let (y0, y1) = min_max(
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.bands.iter().map(|b| b.1))
            .chain(bars.then_some(0.0)),
    );
    let (y0, y1) = if y0.is_finite() {
        range(y0, y1, false)
    } else {
        (0.0, 1.0)
    };
    let mut chart = ChartBuilder::on(root)
        .caption(&s.title, title_style())
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((x0 - 0.5)..(x1 + 0.5), y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc("layer (checkpoint order)")
        .y_desc(s.ylabel.as_str())
        .x_label_formatter(&|v| {
            // Rows are integers: label only integral ticks.
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
    if let [(_, lo), (_, hi)] = s.bands.as_slice() {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0 - 0.5, *lo), (x1 + 0.5, *hi)],
                GREEN.mix(0.08).filled(),
            )))
            .map_err(err)?;
    }
    for (k, (name, y)) in s.bands.iter().enumerate() {
        let color = [RED, ORANGE][k % 2];
        chart
            .draw_series(DashedLineSeries::new(
                [(x0 - 0.5, *y), (x1 + 0.5, *y)],
                6,
                4,
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    if bars {
        let w = 0.4;
        chart
            .draw_series(s.points.iter().map(|&(i, v)| {
                let color = if v >= 0.0 { BLUE } else { ORANGE };
                Rectangle::new([(i as f64 - w, 0.0), (i as f64 + w, v)], color.filled())
            }))
            .map_err(err)?;
    } else {
        chart
            .draw_series(LineSeries::new(
                s.points.iter().map(|&(i, v)| (i as f64, v)),
                BLUE.mix(0.5).stroke_width(1),
            ))
            .map_err(err)?;
        chart
            .draw_series(
                s.points
                    .iter()
                    .map(|&(i, v)| Circle::new((i as f64, v), 3, BLUE.filled())),
            )
            .map_err(err)?
            .label(s.ylabel.as_str())
            .legend(|(x, y)| Circle::new((x + 8, y), 3, BLUE.filled()));
    }
    legend(&mut chart)
}

fn scatter<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Scatter) -> DrawResult {
    let (lo, hi) = min_max(s.points.iter().flat_map(|p| [p.0, p.1]));
    let (lo, hi) = if lo.is_finite() {
        range(lo, hi, false)
    } else {
        (0.0, 1.0)
    };
    let mut chart = ChartBuilder::on(root)
        .caption(&s.title, title_style())
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc(s.xlabel.as_str())
        .y_desc(s.ylabel.as_str())
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&|v| fmt_num(*v))
        .label_style((FAMILY, 13))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(DashedLineSeries::new(
            [(lo, lo), (hi, hi)],
            6,
            4,
            GREY.stroke_width(1),
        ))
        .map_err(err)?
        .label("A = B")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], GREY.stroke_width(1)));
    chart
        .draw_series(
            s.points
                .iter()
                .map(|&p| Circle::new(p, 4, BLUE.mix(0.7).filled())),
        )
        .map_err(err)?
        .label("layers")
        .legend(|(x, y)| Circle::new((x + 8, y), 4, BLUE.filled()));
    legend(&mut chart)
}

/// Draws `plot` as a standalone SVG document.
pub fn to_svg(plot: &Plot) -> std::result::Result<String, String> {
    let size = plot_size(plot);
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        draw(&root, plot)?;
    }
    Ok(s)
}

/// Draws `plot` and encodes it as an 8-bit RGB PNG.
pub fn to_png(plot: &Plot) -> std::result::Result<Vec<u8>, String> {
    let (w, h) = plot_size(plot);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(&root, plot)?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(&buf).map_err(err)?;
    }
    Ok(out)
}
