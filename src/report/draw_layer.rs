//! The per-layer plots drawn with plotters (log-log ESD, CCDF, linear histograms, KS scan,
//! randomized and MP overlays, the compare page's ESD overlay), each on a frame of
//! [`super::draw`].

use plotters::coord::Shift;
use plotters::prelude::*;

use super::bins::Histogram;
use super::compare_data::EsdOverlay;
use super::draw::{
    AxisSpec, BLUE, DrawResult, GREEN, GREY, Key, MARKER_COLORS, ORANGE, RED, Swatch, axes, err,
    frame, min_max, range,
};
use super::layer_data::{Ccdf, LogLogEsd, RandomizedOverlay, ScanCurve};
use super::num::fmt_num;

/// Log-log ESD: density bars, the fitted power law (dashed), xmin.
pub fn loglog<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &LogLogEsd) -> DrawResult {
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
    let keys = fit_keys(Key::new("ESD", Swatch::Bar(BLUE)), &p.fit_line, p.xmin);
    let area = frame(root, &p.title, &keys)?;
    let mut chart = axes(
        &area,
        (x0..x1).log_scale(),
        (y0..y1).log_scale(),
        &AxisSpec::new("eigenvalue", "density"),
    )?;
    draw_bars(&mut chart, &h.edges, &h.density, y0, BLUE.mix(0.45))?;
    draw_fit(&mut chart, &p.fit_line, p.xmin, (y0, y1))
}

/// CCDF on log-log axes: the empirical points, the fitted power law (dashed), xmin.
pub fn ccdf<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &Ccdf) -> DrawResult {
    let (x0, x1) = min_max(p.points.iter().map(|q| q.0));
    let (x0, x1) = range(x0, x1, true);
    let (y0, _) = min_max(
        p.points
            .iter()
            .chain(p.fit_line.iter())
            .map(|q| q.1)
            .filter(|&v| v > 0.0),
    );
    let (y0, y1) = (y0 / 1.5, 1.5);
    let keys = fit_keys(
        Key::new("P(X >= x), data", Swatch::Dot(BLUE)),
        &p.fit_line,
        p.xmin,
    );
    let area = frame(root, &p.title, &keys)?;
    let mut chart = axes(
        &area,
        (x0..x1).log_scale(),
        (y0..y1).log_scale(),
        &AxisSpec::new("eigenvalue x", "P(X >= x)"),
    )?;
    chart
        .draw_series(
            p.points
                .iter()
                .map(|&q| Circle::new(q, 2, BLUE.mix(0.8).filled())),
        )
        .map_err(err)?;
    draw_fit(&mut chart, &p.fit_line, p.xmin, (y0, y1))
}

/// The legend of a plot with a fitted power law: `data`'s own key, then the fit (dashed) and
/// xmin when they exist.
fn fit_keys(data: Key, fit_line: &[(f64, f64)], xmin: Option<f64>) -> Vec<Key> {
    let mut keys = vec![data];
    if !fit_line.is_empty() {
        keys.push(Key::new("power-law fit", Swatch::Dashed(RED)));
    }
    if let Some(xm) = xmin {
        keys.push(Key::new(
            format!("xmin = {}", fmt_num(xm)),
            Swatch::Line(GREEN),
        ));
    }
    keys
}

/// Draws what [`fit_keys`] announces: xmin as a vertical line across `y0..y1`, then the
/// fitted power law, dashed.
fn draw_fit<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<DB, Cartesian2d<X, Y>>,
    fit_line: &[(f64, f64)],
    xmin: Option<f64>,
    (y0, y1): (f64, f64),
) -> DrawResult {
    if let Some(xm) = xmin {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(xm, y0), (xm, y1)],
                GREEN.stroke_width(2),
            )))
            .map_err(err)?;
    }
    if !fit_line.is_empty() {
        chart
            .draw_series(DashedLineSeries::new(
                fit_line.iter().copied(),
                8,
                5,
                RED.stroke_width(2),
            ))
            .map_err(err)?;
    }
    Ok(())
}

/// Histogram bars: bar `i` spans `edges[i]..edges[i + 1]` from `base` up to `heights[i]`;
/// empty bars are not drawn (a log axis has no 0).
fn draw_bars<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<DB, Cartesian2d<X, Y>>,
    edges: &[f64],
    heights: &[f64],
    base: f64,
    color: RGBAColor,
) -> DrawResult {
    chart
        .draw_series(
            heights
                .iter()
                .enumerate()
                .filter(|(_, h)| **h > 0.0)
                .map(|(i, h)| {
                    Rectangle::new([(edges[i], base), (edges[i + 1], *h)], color.filled())
                }),
        )
        .map_err(err)?;
    Ok(())
}

fn marker_keys(markers: &[(String, f64)]) -> Vec<Key> {
    markers
        .iter()
        .enumerate()
        .map(|(k, (name, x))| {
            Key::new(
                format!("{name} = {}", fmt_num(*x)),
                Swatch::Dashed(MARKER_COLORS[k % MARKER_COLORS.len()]),
            )
        })
        .collect()
}

fn draw_markers<DB: DrawingBackend, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<DB, Cartesian2d<X, Y>>,
    markers: &[(String, f64)],
    y1: f64,
) -> DrawResult {
    for (k, (_, x)) in markers.iter().enumerate() {
        let color = MARKER_COLORS[k % MARKER_COLORS.len()];
        chart
            .draw_series(DashedLineSeries::new(
                [(*x, 0.0), (*x, y1)],
                6,
                4,
                color.stroke_width(2),
            ))
            .map_err(err)?;
    }
    Ok(())
}

/// A density histogram on linear axes with vertical markers and an optional curve (MP).
pub fn marked<DB: DrawingBackend>(
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
    let mut keys = vec![Key::new("density", Swatch::Bar(BLUE))];
    if curve.is_some() {
        keys.push(Key::new("Marchenko-Pastur", Swatch::Line(RED)));
    }
    keys.extend(marker_keys(markers));
    let area = frame(root, title, &keys)?;
    let mut chart = axes(&area, x0..x1, 0.0..y1, &AxisSpec::new(xlabel, "density"))?;
    draw_bars(&mut chart, &h.edges, &h.density, 0.0, BLUE.mix(0.45))?;
    if let Some(c) = curve {
        chart
            .draw_series(LineSeries::new(c.iter().copied(), RED.stroke_width(2)))
            .map_err(err)?;
    }
    draw_markers(&mut chart, markers, y1)
}

/// The KS scan: D and alpha against the candidate xmin, the chosen xmin, the fit's own point,
/// and the rule that chose xmin when it is not this scan.
pub fn scan<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, p: &ScanCurve) -> DrawResult {
    let (x0, x1) = min_max(p.xmin.iter().copied().filter(|&x| x > 0.0));
    let (x0, x1) = range(x0, x1, true);
    let chosen = p.chosen.map(|i| (p.xmin[i], p.d[i], p.alpha[i]));
    // alpha explodes for the last few candidates: cap the axis at 3x the fit's alpha (>= 10).
    let (a0, a1) = min_max(p.alpha.iter().copied());
    let fit_alpha = p.fit_point.map(|f| f.2).or(chosen.map(|c| c.2));
    let cap = fit_alpha.map_or(10.0, |a| (3.0 * a).max(10.0));
    let (a0, a1) = range(
        a0.min(cap).min(fit_alpha.unwrap_or(cap)),
        a1.min(cap),
        false,
    );
    let mut keys = vec![Key::new("scan (every candidate xmin)", Swatch::Line(BLUE))];
    if let Some((cx, _, _)) = chosen {
        keys.push(Key::new(
            format!("xmin = {}", fmt_num(cx)),
            Swatch::Dashed(GREEN),
        ));
    }
    if let Some((_, d, a)) = p.fit_point {
        keys.push(Key::new(
            format!("the fit: D = {}, alpha = {}", fmt_num(d), fmt_num(a)),
            Swatch::Dot(RED),
        ));
    }
    if let Some(rule) = &p.rule {
        keys.push(Key::new(rule.clone(), Swatch::Note));
    }
    let area = frame(root, &p.title, &keys)?;
    let (top, bottom) = area.split_vertically(area.dim_in_pixel().1 / 2);
    for (part, ys, name, (y0, y1), fit_y) in [
        (
            &top,
            &p.d,
            "KS distance D",
            (0.0, 1.02),
            p.fit_point.map(|f| f.1),
        ),
        (
            &bottom,
            &p.alpha,
            "alpha",
            (a0, a1),
            p.fit_point.map(|f| f.2),
        ),
    ] {
        let mut chart = axes(
            part,
            (x0..x1).log_scale(),
            y0..y1,
            &AxisSpec::new("candidate xmin", name),
        )?;
        chart
            .draw_series(LineSeries::new(
                p.xmin
                    .iter()
                    .zip(ys.iter())
                    .map(|(&x, &y)| (x, y.clamp(y0, y1))),
                BLUE.stroke_width(2),
            ))
            .map_err(err)?;
        if let Some((cx, _, _)) = chosen {
            chart
                .draw_series(DashedLineSeries::new(
                    [(cx, y0), (cx, y1)],
                    6,
                    4,
                    GREEN.stroke_width(2),
                ))
                .map_err(err)?;
        }
        if let (Some((fx, _, _)), Some(fy)) = (p.fit_point, fit_y) {
            chart
                .draw_series(std::iter::once(Circle::new(
                    (fx, fy.clamp(y0, y1)),
                    5,
                    RED.filled(),
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Two density histograms on shared edges (and markers).
fn two_hists<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    xlabel: &str,
    hists: [(&str, &Histogram); 2],
    markers: &[(String, f64)],
) -> DrawResult {
    let edges = &hists[0].1.edges;
    let (x0, x1) = range(edges[0], edges[edges.len() - 1], false);
    let (_, y1) = min_max(hists.iter().flat_map(|h| h.1.density.iter().copied()));
    let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
    let mut keys: Vec<Key> = hists
        .iter()
        .zip([BLUE, ORANGE])
        .map(|((name, _), c)| Key::new(*name, Swatch::Bar(c)))
        .collect();
    keys.extend(marker_keys(markers));
    let area = frame(root, title, &keys)?;
    let mut chart = axes(&area, x0..x1, 0.0..y1, &AxisSpec::new(xlabel, "density"))?;
    for ((_, h), color) in hists.iter().zip([BLUE, ORANGE]) {
        draw_bars(&mut chart, &h.edges, &h.density, 0.0, color.mix(0.4))?;
    }
    draw_markers(&mut chart, markers, y1)
}

/// The randomized ESD over the real one.
pub fn randomized<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &RandomizedOverlay,
) -> DrawResult {
    two_hists(
        root,
        &p.title,
        "log10 eigenvalue",
        [("ESD", &p.real), ("randomized ESD", &p.random)],
        &p.markers,
    )
}

/// The compare page's overlay: both ESDs on log-spaced bins drawn over log10 coordinates, and
/// each side's fitted power law.
pub fn overlay<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, o: &EsdOverlay) -> DrawResult {
    let to_log = |h: &Histogram| Histogram {
        edges: h.edges.iter().map(|e| e.log10()).collect(),
        ..h.clone()
    };
    let (a, b) = (to_log(&o.hists[0]), to_log(&o.hists[1]));
    let edges = &a.edges;
    let (x0, x1) = range(edges[0], edges[edges.len() - 1], false);
    // Densities per unit of log10(x): count / (total * width in log10).
    let dens = |h: &Histogram| -> Vec<f64> {
        h.counts
            .iter()
            .zip(h.edges.windows(2))
            .map(|(&c, w)| c as f64 / (h.total.max(1) as f64 * (w[1] - w[0])))
            .collect()
    };
    let (da, db) = (dens(&a), dens(&b));
    let lines: Vec<Vec<(f64, f64)>> = o
        .fit_lines
        .iter()
        .map(|l| l.iter().map(|&(x, y)| (x.log10(), y)).collect())
        .collect();
    let (_, y1) = min_max(
        da.iter()
            .chain(db.iter())
            .copied()
            .chain(lines.iter().flatten().map(|q| q.1)),
    );
    let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
    let colors = [BLUE, ORANGE];
    let mut keys: Vec<Key> = o
        .names
        .iter()
        .zip(colors)
        .map(|(n, c)| Key::new(n.clone(), Swatch::Bar(c)))
        .collect();
    for (k, l) in lines.iter().enumerate() {
        if !l.is_empty() {
            keys.push(Key::new(
                format!("fit of {}", o.names[k]),
                Swatch::Dashed([RED, GREY][k]),
            ));
        }
    }
    let area = frame(root, &o.title, &keys)?;
    let mut chart = axes(
        &area,
        x0..x1,
        0.0..y1,
        &AxisSpec::new("log10 eigenvalue", "density per log10 unit"),
    )?;
    for ((h, d), color) in [(&a, &da), (&b, &db)].into_iter().zip(colors) {
        draw_bars(&mut chart, &h.edges, d, 0.0, color.mix(0.4))?;
    }
    for (k, l) in lines.iter().enumerate() {
        chart
            .draw_series(DashedLineSeries::new(
                l.iter().map(|&(x, y)| (x, y.min(y1))),
                8,
                5,
                [RED, GREY][k].stroke_width(2),
            ))
            .map_err(err)?;
    }
    Ok(())
}
