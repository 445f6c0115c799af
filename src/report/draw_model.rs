//! The model-level plots drawn with plotters: a metric per layer (points, or bars for the
//! compare page's deltas) with the layers' names under the x axis, and alpha of A against B.
//! Both report where their points landed ([`Hotspots`]) so a page can add hover titles and
//! links to the layers' plots.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::compare_data::Scatter;
use super::draw::{
    AxisSpec, BLUE, DrawResult, GREEN, GREY, Hotspots, Key, ORANGE, RED, Swatch, TICK_PX, axes,
    err, fit_text, frame, min_max, range,
};
use super::font::FAMILY;
use super::model_data::Series;

/// Pixels per layer name under the axis (names closer than this are thinned to every k-th).
const NAME_PITCH: u32 = 14;
/// Longest layer name under the axis, in pixels (longer ones are cut at the front).
const NAME_WIDTH: u32 = 150;

/// The name of a row as shown under the axis: without a trailing `.weight`.
fn axis_name(name: &str) -> &str {
    name.strip_suffix(".weight").unwrap_or(name)
}

/// A metric per layer: points (or bars, for deltas), reference lines, layer names under the
/// x axis (every k-th when they do not all fit), in the result's row order.
pub fn series<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Series,
    bars: bool,
    hot: &mut Hotspots,
) -> DrawResult {
    let n = s.names.len().max(1);
    let (x0, x1) = (-0.5, n as f64 - 0.5);
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
    let mut keys = Vec::new();
    if !bars {
        keys.push(Key::new(s.ylabel.as_str(), Swatch::Dot(BLUE)));
    }
    for (k, (name, _)) in s.bands.iter().enumerate() {
        keys.push(Key::new(
            name.as_str(),
            Swatch::Dashed([RED, ORANGE][k % 2]),
        ));
    }
    let area = frame(root, &s.title, &keys)?;
    let (w, _) = area.dim_in_pixel();
    // Every k-th name, so that names are at least NAME_PITCH pixels apart.
    let room = w.saturating_sub(100).max(1);
    let step = (n as u32 * NAME_PITCH).div_ceil(room).max(1) as usize;
    let style: TextStyle = (FAMILY, TICK_PX - 2).into_font().into();
    // The label area fits the longest name shown (at most NAME_WIDTH).
    let longest = (0..s.names.len())
        .step_by(step)
        .filter_map(|i| area.estimate_text_size(axis_name(&s.names[i]), &style).ok())
        .map(|sz| sz.0)
        .max()
        .unwrap_or(0)
        .min(NAME_WIDTH);
    let no_ticks = |_: &f64| String::new();
    let xdesc = if step > 1 {
        format!("layer (every {step}th name shown)")
    } else {
        "layer".to_string()
    };
    let spec = AxisSpec {
        xdesc: &xdesc,
        ydesc: s.ylabel.as_str(),
        x_area: longest + 40,
        x_format: Some(&no_ticks),
        x_labels: 0,
    };
    let mut chart = axes(&area, x0..x1, y0..y1, &spec)?;
    // Layer names under the axis, rotated to read downwards.
    let down = style
        .transform(FontTransform::Rotate90)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let (base_x, base_y) = area.get_base_pixel();
    for i in (0..s.names.len()).step_by(step) {
        let (px, py) = chart.backend_coord(&(i as f64, y0));
        let name = fit_text(&area, axis_name(&s.names[i]), &style, NAME_WIDTH);
        area.draw_text(&name, &down, (px - base_x, py - base_y + 6))
            .map_err(err)?;
    }
    if let [(_, lo), (_, hi)] = s.bands.as_slice() {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, *lo), (x1, *hi)],
                GREEN.mix(0.08).filled(),
            )))
            .map_err(err)?;
    }
    for (k, (_, y)) in s.bands.iter().enumerate() {
        chart
            .draw_series(DashedLineSeries::new(
                [(x0, *y), (x1, *y)],
                6,
                4,
                [RED, ORANGE][k % 2].stroke_width(2),
            ))
            .map_err(err)?;
    }
    if bars {
        let bw = 0.4;
        chart
            .draw_series(s.points.iter().map(|&(i, v)| {
                let color = if v >= 0.0 { BLUE } else { ORANGE };
                Rectangle::new([(i as f64 - bw, 0.0), (i as f64 + bw, v)], color.filled())
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
            .map_err(err)?;
    }
    for &(i, v) in &s.points {
        let (px, py) = chart.backend_coord(&(i as f64, v));
        hot.push((i, px, py));
    }
    Ok(())
}

/// alpha of A against alpha of B, with the diagonal A = B.
pub fn scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Scatter,
    hot: &mut Hotspots,
) -> DrawResult {
    let (lo, hi) = min_max(s.points.iter().flat_map(|p| [p.1, p.2]));
    let (lo, hi) = if lo.is_finite() {
        range(lo, hi, false)
    } else {
        (0.0, 1.0)
    };
    let keys = [
        Key::new("layers", Swatch::Dot(BLUE)),
        Key::new("A = B (unchanged)", Swatch::Dashed(GREY)),
    ];
    let area = frame(root, &s.title, &keys)?;
    let mut chart = axes(
        &area,
        lo..hi,
        lo..hi,
        &AxisSpec::new(s.xlabel.as_str(), s.ylabel.as_str()),
    )?;
    chart
        .draw_series(DashedLineSeries::new(
            [(lo, lo), (hi, hi)],
            6,
            4,
            GREY.stroke_width(1),
        ))
        .map_err(err)?;
    chart
        .draw_series(
            s.points
                .iter()
                .map(|&(_, a, b)| Circle::new((a, b), 4, BLUE.mix(0.7).filled())),
        )
        .map_err(err)?;
    for &(i, a, b) in &s.points {
        let (px, py) = chart.backend_coord(&(a, b));
        hot.push((i, px, py));
    }
    Ok(())
}
