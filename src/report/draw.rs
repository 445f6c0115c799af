//! Drawing of the plot data with plotters, onto any backend: SVG for the HTML pages, RGB
//! bitmaps (encoded as PNG) for `--png-dir`. These functions only draw what the data structs
//! of [`super::layer_data`] and [`super::model_data`] hold; they compute nothing of substance.
//!
//! Every chart is built by one frame builder: the title (cut at the front when too long, so
//! the numbers at its end stay), the legend in a row under it (never over the data), then the
//! axes with tick labels from [`super::num::fmt_tick`]. The plot kinds themselves are in
//! [`super::draw_layer`] (per-layer plots) and [`super::draw_model`] (model and compare plots).

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::bins::Histogram;
use super::compare_data::{EsdOverlay, Scatter};
use super::draw_layer as layer;
use super::draw_model as model;
use super::font::{FAMILY, ensure_registered};
use super::layer_data::{
    Ccdf, LogLogEsd, MarkedHistogram, MpOverlay, RandomizedOverlay, ScanCurve,
};
use super::model_data::Series;
use super::num::fmt_tick;

/// What a drawing routine returns: plotters' error, as text.
pub type DrawResult = std::result::Result<(), String>;

/// Pixel positions of drawn data points, `(index, x, y)` (index: the row of a per-layer
/// series, the matched row of a scatter), so a page can put hover titles and links on them.
pub type Hotspots = Vec<(usize, i32, i32)>;

/// One drawable plot, borrowed from the plot data.
#[derive(Debug, Clone, Copy)]
pub enum Plot<'a> {
    /// Log-log ESD with the fitted power law.
    LogLog(&'a LogLogEsd),
    /// CCDF with the fitted power law.
    Ccdf(&'a Ccdf),
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

/// Pixel size of a plot: per-layer plots 800x500, the scan 800x680, per-layer series 1000x600
/// (room for the layer names under the axis), other model plots 1000x500.
pub fn plot_size(plot: &Plot) -> (u32, u32) {
    match plot {
        Plot::Scan(_) => (800, 680),
        Plot::Series(_) | Plot::Deltas(_) => (1000, 600),
        Plot::Scatter(_) | Plot::AlphaHist(_) => (1000, 500),
        _ => (800, 500),
    }
}

pub(super) const BLUE: RGBColor = RGBColor(31, 119, 180);
pub(super) const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub(super) const GREEN: RGBColor = RGBColor(44, 160, 44);
pub(super) const RED: RGBColor = RGBColor(214, 39, 40);
pub(super) const GREY: RGBColor = RGBColor(120, 120, 120);
/// Colours of vertical markers, in marker order.
pub(super) const MARKER_COLORS: [RGBColor; 3] = [GREEN, RED, GREY];

pub(super) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Draws `plot` on `root` (the whole area); data-point positions go to `hot`.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &Plot,
    hot: &mut Hotspots,
) -> DrawResult {
    ensure_registered();
    root.fill(&WHITE).map_err(err)?;
    match plot {
        Plot::LogLog(p) => layer::loglog(root, p),
        Plot::Ccdf(p) => layer::ccdf(root, p),
        Plot::Marked(p) => layer::marked(root, &p.title, &p.xlabel, &p.hist, &p.markers, None),
        Plot::Scan(p) => layer::scan(root, p),
        Plot::Randomized(p) => layer::randomized(root, p),
        Plot::Mp(p) => layer::marked(
            root,
            &p.title,
            "eigenvalue",
            &p.hist,
            &p.markers,
            Some(&p.curve),
        ),
        Plot::Series(s) => model::series(root, s, false, hot),
        Plot::Deltas(s) => model::series(root, s, true, hot),
        Plot::AlphaHist(h) => layer::marked(root, "alpha histogram", "alpha", h, &[], None),
        Plot::Scatter(s) => model::scatter(root, s, hot),
        Plot::Overlay(o) => layer::overlay(root, o),
    }?;
    root.present().map_err(err)
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
pub enum Swatch {
    /// A filled box (histogram bars).
    Bar(RGBColor),
    /// A solid line.
    Line(RGBColor),
    /// A dashed line (fits, markers).
    Dashed(RGBColor),
    /// A dot (points).
    Dot(RGBColor),
    /// No symbol: a note in the legend.
    Note,
}

/// A legend entry.
#[derive(Debug, Clone)]
pub struct Key {
    /// Text.
    pub label: String,
    /// Symbol.
    pub swatch: Swatch,
}

impl Key {
    /// A legend entry.
    pub fn new(label: impl Into<String>, swatch: Swatch) -> Self {
        Key {
            label: label.into(),
            swatch,
        }
    }
}

/// Title size in pixels.
const TITLE_PX: u32 = 16;
/// Legend text size in pixels.
const LEGEND_PX: u32 = 13;
/// Height of one legend row.
const LEGEND_ROW: u32 = 18;
/// Tick label size in pixels.
pub(super) const TICK_PX: u32 = 13;

/// `text` cut at the front (with a leading `…`) until it fits `width` pixels in `style`.
pub(super) fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    width: u32,
) -> String {
    let fits = |t: &str| {
        area.estimate_text_size(t, style)
            .is_ok_and(|s| s.0 <= width)
    };
    if fits(text) {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut lo, mut hi) = (1, chars.len());
    // Smallest cut that fits (binary search on the number of characters dropped).
    while lo < hi {
        let mid = (lo + hi) / 2;
        let t: String = std::iter::once('…')
            .chain(chars[mid..].iter().copied())
            .collect();
        if fits(&t) { hi = mid } else { lo = mid + 1 }
    }
    std::iter::once('…')
        .chain(chars[lo.min(chars.len())..].iter().copied())
        .collect()
}

/// The frame of every chart: the title on top (cut at the front to fit), the legend in rows
/// under it, outside the data area; returns the area left for the chart.
pub fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    keys: &[Key],
) -> Result<DrawingArea<DB, Shift>, String> {
    let (w, _) = root.dim_in_pixel();
    let tstyle: TextStyle = (FAMILY, TITLE_PX).into_font().into();
    let shown = fit_text(root, title, &tstyle, w.saturating_sub(24));
    let (head, body) = root.split_vertically(TITLE_PX + 12);
    head.draw_text(
        &shown,
        &tstyle.pos(Pos::new(HPos::Center, VPos::Center)),
        (w as i32 / 2, (TITLE_PX as i32 + 12) / 2),
    )
    .map_err(err)?;
    if keys.is_empty() {
        return Ok(body);
    }
    let lstyle: TextStyle = (FAMILY, LEGEND_PX).into_font().into();
    // Lay the entries out left to right, wrapping into rows.
    let mut rows: Vec<Vec<(&Key, u32)>> = vec![Vec::new()];
    let mut x = 0;
    for k in keys {
        let tw = body
            .estimate_text_size(&k.label, &lstyle)
            .map_or(8 * k.label.len() as u32, |s| s.0);
        let item = 22 + tw + 18;
        if x + item > w.saturating_sub(80) && x > 0 {
            rows.push(Vec::new());
            x = 0;
        }
        if let Some(r) = rows.last_mut() {
            r.push((k, x));
        }
        x += item;
    }
    let (legend, rest) = body.split_vertically(LEGEND_ROW * rows.len() as u32 + 4);
    for (r, row) in rows.iter().enumerate() {
        let width: u32 = row.last().map_or(0, |(k, x)| {
            x + 22
                + legend
                    .estimate_text_size(&k.label, &lstyle)
                    .map_or(0, |s| s.0)
        });
        let x0 = (w.saturating_sub(width) / 2) as i32;
        let yc = (r as u32 * LEGEND_ROW + LEGEND_ROW / 2) as i32;
        for (k, x) in row {
            let x = x0 + *x as i32;
            swatch(&legend, k.swatch, x, yc)?;
            legend
                .draw_text(
                    &k.label,
                    &lstyle.pos(Pos::new(HPos::Left, VPos::Center)),
                    (x + 22, yc),
                )
                .map_err(err)?;
        }
    }
    Ok(rest)
}

fn swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: Swatch,
    x: i32,
    y: i32,
) -> DrawResult {
    let r = match s {
        Swatch::Bar(c) => area.draw(&Rectangle::new(
            [(x, y - 5), (x + 16, y + 5)],
            c.mix(0.45).filled(),
        )),
        Swatch::Line(c) => area.draw(&PathElement::new(
            vec![(x, y), (x + 16, y)],
            c.stroke_width(2),
        )),
        Swatch::Dashed(c) => area
            .draw(&PathElement::new(
                vec![(x, y), (x + 6, y)],
                c.stroke_width(2),
            ))
            .and_then(|()| {
                area.draw(&PathElement::new(
                    vec![(x + 10, y), (x + 16, y)],
                    c.stroke_width(2),
                ))
            }),
        Swatch::Dot(c) => area.draw(&Circle::new((x + 8, y), 4, c.filled())),
        Swatch::Note => Ok(()),
    };
    r.map_err(err)
}

/// Axis settings of [`axes`].
pub struct AxisSpec<'a> {
    /// x axis description.
    pub xdesc: &'a str,
    /// y axis description.
    pub ydesc: &'a str,
    /// Height of the x label area (more for rotated names).
    pub x_area: u32,
    /// Custom x tick labels (`None`: [`fmt_tick`]); `x_labels` ticks are asked for.
    pub x_format: Option<&'a dyn Fn(&f64) -> String>,
    /// Ticks asked for on x.
    pub x_labels: usize,
}

impl<'a> AxisSpec<'a> {
    /// Plain axes with these descriptions.
    pub fn new(xdesc: &'a str, ydesc: &'a str) -> Self {
        AxisSpec {
            xdesc,
            ydesc,
            x_area: 40,
            x_format: None,
            x_labels: 10,
        }
    }
}

/// The chart on `area` (from [`frame`]) with its mesh: light grid, described axes, tick
/// labels with the fewest digits that tell them apart.
#[allow(clippy::type_complexity)] // plotters' own chart type
pub fn axes<'a, DB, X, Y>(
    area: &'a DrawingArea<DB, Shift>,
    x: X,
    y: Y,
    spec: &AxisSpec,
) -> Result<ChartContext<'a, DB, Cartesian2d<X::CoordDescType, Y::CoordDescType>>, String>
where
    DB: DrawingBackend + 'a,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .margin(10)
        .margin_top(4)
        .x_label_area_size(spec.x_area)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    let xr = chart.x_range();
    let yr = chart.y_range();
    let (xspan, yspan) = (xr.end - xr.start, yr.end - yr.start);
    let xf = |v: &f64| fmt_tick(*v, xspan);
    let yf = |v: &f64| fmt_tick(*v, yspan);
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc(spec.xdesc)
        .y_desc(spec.ydesc)
        .x_labels(spec.x_labels)
        .x_label_formatter(spec.x_format.unwrap_or(&xf))
        .y_label_formatter(&yf)
        .label_style((FAMILY, TICK_PX))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// Pads a data range for display: log ranges by a factor 1.5, linear ones by 4 %.
pub(super) fn range(lo: f64, hi: f64, log: bool) -> (f64, f64) {
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

/// Smallest and largest finite value.
pub(super) fn min_max(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        })
}

/// Draws `plot` as a standalone SVG document.
pub fn to_svg(plot: &Plot) -> std::result::Result<String, String> {
    to_svg_with_points(plot).map(|(s, _)| s)
}

/// Draws `plot` as SVG and returns the pixel positions of its data points too.
pub fn to_svg_with_points(plot: &Plot) -> std::result::Result<(String, Hotspots), String> {
    let size = plot_size(plot);
    let mut s = String::new();
    let mut hot = Hotspots::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        draw(&root, plot, &mut hot)?;
    }
    Ok((s, hot))
}

/// Draws `plot` and encodes it as an 8-bit RGB PNG.
pub fn to_png(plot: &Plot) -> std::result::Result<Vec<u8>, String> {
    let (w, h) = plot_size(plot);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(&root, plot, &mut Hotspots::new())?;
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
