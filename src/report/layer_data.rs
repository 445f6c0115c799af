//! The data of every per-layer plot, as pure functions of one [`LayerResult`]: histogram bins
//! and densities, the fitted power-law line, the xmin/xmax markers, the KS-distance scan, the
//! randomized ESD and the Marchenko-Pastur density. Nothing here touches a checkpoint or
//! recomputes a spectrum; the drawing code (plotters for PNG/SVG, the page's script for the
//! HTML report) only draws what these structs hold, and the tests check them against the result.
//!
//! The plots follow WeightWatcher's (Martin & Mahoney, JMLR 2021, arXiv:1810.01075): the
//! log-log ESD with the fitted power law (Clauset, Shalizi & Newman, SIAM Review 2009,
//! arXiv:0706.1062), the linear and log-linear ESDs, and the Marchenko-Pastur bulk.

use serde::Serialize;

use super::bins::{self, Histogram};
pub use super::num::fmt_num;
use super::scan::ScanPoint;
use crate::result::LayerResult;

/// Eigenvalues at or below this are left out of logarithmic plots: the fit's own threshold
/// (METRICS.md section 3).
pub const LOG_THRESHOLD: f64 = crate::fit::EVALS_THRESH;

/// Fewest log-spaced bars the log-log ESD gives the fitted tail [xmin, xmax], so the fit can
/// be judged against several bars (Rice's rule over the whole range can put a small tail in
/// one bar).
pub const TAIL_BARS: usize = 8;

/// Most bins of the log-log ESD (a tail that is a tiny fraction of the log range would ask
/// for more).
pub const MAX_LOG_BINS: usize = 300;

/// Most points kept on the CCDF (evenly by rank; the first and last are always kept).
pub const CCDF_POINTS: usize = 400;

/// Points on the fitted power-law line.
pub const FIT_LINE_POINTS: usize = 64;

/// Points on the Marchenko-Pastur density curve.
pub const MP_CURVE_POINTS: usize = 120;

/// Default cap on the KS-scan points kept for a plot (the chosen candidate is always kept):
/// the scan's own sampling.
pub const SCAN_MAX_POINTS: usize = super::scan::SCAN_POINTS;

/// All plots of one layer; a plot is absent when the result has nothing to show in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerPlots {
    /// Row label: the tensor name, with `[slice k]` for a conv slice.
    pub label: String,
    /// File-name stem for this row's PNGs (see [`file_stem`]).
    pub stem: String,
    /// The row's anchor in the HTML page (`plot-` + [`anchor`]).
    pub anchor: String,
    /// Log-log ESD with the fitted power law.
    pub loglog: Option<LogLogEsd>,
    /// Empirical CCDF with the fitted power law (Clauset et al. 2009, fig. 1 style).
    pub ccdf: Option<Ccdf>,
    /// ESD on a linear axis, xmin and xmax marked.
    pub linear: Option<MarkedHistogram>,
    /// ESD of log10(lambda), log10(xmin) and log10(xmax) marked.
    pub loglin: Option<MarkedHistogram>,
    /// KS distance D and alpha as functions of the candidate xmin.
    pub scan: Option<ScanCurve>,
    /// Randomized ESD over the real one (with `--randomize`).
    pub randomized: Option<RandomizedOverlay>,
    /// Marchenko-Pastur density over the bulk (with `--mp-fit`).
    pub mp: Option<MpOverlay>,
}

/// The log-log ESD: density histogram on log-spaced bins of the eigenvalues above
/// [`LOG_THRESHOLD`], and the fitted power-law density
/// `p(x) = (tail / total) (alpha - 1) / xmin (x / xmin)^-alpha` on [xmin, xmax], scaled by the
/// fraction of eigenvalues in the tail so that it lies on the histogram.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLogEsd {
    /// Plot title: name, alpha, D, xmin, sigma.
    pub title: String,
    /// Density histogram (normalised by all eigenvalues above the threshold).
    pub hist: Histogram,
    /// Fitted power-law density, `(x, p(x))`, log-spaced x; empty when the fit failed.
    pub fit_line: Vec<(f64, f64)>,
    /// Eigenvalues >= xmin (the tail the line is scaled to).
    pub tail: u64,
    /// Vertical marker at xmin (absent when the fit failed).
    pub xmin: Option<f64>,
}

/// The empirical complementary CDF `P(X >= x)` of the eigenvalues above [`LOG_THRESHOLD`] on
/// log-log axes, with the fitted power law `P(X >= x) = (m/n) (x / xmin)^(1 - alpha)` over
/// the tail (m eigenvalues >= xmin of n): the plot on which Clauset, Shalizi & Newman (SIAM
/// Review 2009, fig. 1) judge a fit, since it needs no binning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ccdf {
    /// Plot title.
    pub title: String,
    /// `(x, P(X >= x))` at the eigenvalues, ascending (thinned to [`CCDF_POINTS`]).
    pub points: Vec<(f64, f64)>,
    /// The fitted line on [xmin, xmax]; empty when the fit failed.
    pub fit_line: Vec<(f64, f64)>,
    /// Vertical marker at xmin (absent when the fit failed).
    pub xmin: Option<f64>,
}

/// A density histogram with labelled vertical markers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkedHistogram {
    /// Plot title.
    pub title: String,
    /// x axis label.
    pub xlabel: String,
    /// Density histogram.
    pub hist: Histogram,
    /// `(label, x)` markers.
    pub markers: Vec<(String, f64)>,
}

/// The fit's candidate scan: for each candidate xmin, the KS distance D and alpha.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanCurve {
    /// Plot title.
    pub title: String,
    /// Candidate xmin values, ascending (a subset when the layer has many candidates).
    pub xmin: Vec<f64>,
    /// KS distance per candidate.
    pub d: Vec<f64>,
    /// alpha per candidate.
    pub alpha: Vec<f64>,
    /// Index (into the vectors above) of the chosen candidate, when the fit succeeded.
    pub chosen: Option<usize>,
    /// Number of candidates before thinning.
    pub candidates: usize,
    /// The fit's own `(xmin, D, alpha)` as stored in the result, marked on the plot: it lies
    /// on the curve for a plain Clauset fit, off it when another rule chose xmin.
    pub fit_point: Option<(f64, f64, f64)>,
    /// Which rule chose xmin, when it is not the plain scan drawn (small-N rule, median).
    pub rule: Option<String>,
}

/// The randomized ESD over the real one: densities of log10(lambda) on shared bins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RandomizedOverlay {
    /// Plot title.
    pub title: String,
    /// Histogram of log10 of the real eigenvalues.
    pub real: Histogram,
    /// Histogram of log10 of the randomized eigenvalues, same edges.
    pub random: Histogram,
    /// `(label, log10 x)` markers: largest randomized and largest real eigenvalue.
    pub markers: Vec<(String, f64)>,
}

/// The Marchenko-Pastur density over the linear ESD, in the layer's own units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MpOverlay {
    /// Plot title.
    pub title: String,
    /// Density histogram of all eigenvalues.
    pub hist: Histogram,
    /// MP density `(lambda, rho(lambda))` on [bulk_min, bulk_max].
    pub curve: Vec<(f64, f64)>,
    /// `(label, x)` markers at the bulk edges.
    pub markers: Vec<(String, f64)>,
}

/// The label of a row: its tensor name, plus the slice for per-slice conv rows.
pub fn row_label(layer: &LayerResult) -> String {
    match layer.slice_id {
        Some(s) => format!("{} [slice {s}]", layer.name),
        None => layer.name.clone(),
    }
}

/// The row's id in links: `L{layer_id:04}`, plus `s{slice}` for a conv slice (the prefix of
/// its PNG names, so `report.html#plot-L0012` and `L0012_..._esd_loglog.png` name one row).
pub fn anchor(layer: &LayerResult) -> String {
    match layer.slice_id {
        Some(s) => format!("L{:04}s{s}", layer.layer_id),
        None => format!("L{:04}", layer.layer_id),
    }
}

/// File-name stem of a row's PNGs: `L{layer_id:04}[s{slice}]_{name}` with every character
/// other than `[A-Za-z0-9._-]` replaced by `_` and the name cut to 80 characters. The layer id
/// keeps names unique and in checkpoint order.
pub fn file_stem(layer: &LayerResult) -> String {
    let name: String = layer
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    format!("{}_{name}", anchor(layer))
}

/// Builds every plot of one row. `scan` is the fit's candidate scan of this row's eigenvalues
/// (see [`super::scan::scan_points`]); pass `None` to leave the scan plot out.
pub fn layer_plots(layer: &LayerResult, scan: Option<&[ScanPoint]>) -> LayerPlots {
    let label = row_label(layer);
    let fit = layer.fit.filter(|f| f.is_valid());
    let scan = scan.and_then(|s| scan_curve(s, fit.map(|f| f.xmin), &label, SCAN_MAX_POINTS));
    LayerPlots {
        stem: file_stem(layer),
        anchor: anchor(layer),
        loglog: loglog(layer, &label),
        ccdf: ccdf(layer, &label),
        linear: linear(layer, &label),
        loglin: loglin(layer, &label),
        scan: scan.map(|c| ScanCurve {
            fit_point: fit.map(|f| (f.xmin, f.d, f.alpha)),
            ..c
        }),
        randomized: randomized(layer, &label),
        mp: mp(layer, &label),
        label,
    }
}

fn positive(evals: &[f64]) -> Vec<f64> {
    evals
        .iter()
        .copied()
        .filter(|&x| x > LOG_THRESHOLD && x.is_finite())
        .collect()
}

/// The log-log ESD (see [`LogLogEsd`]); `None` with fewer than 2 eigenvalues above the threshold.
pub fn loglog(layer: &LayerResult, label: &str) -> Option<LogLogEsd> {
    let x = positive(&layer.eigenvalues);
    if x.len() < 2 {
        return None;
    }
    let (lo, hi) = min_max(&x);
    let total = x.len() as u64;
    let fit = layer.fit.filter(|f| f.is_valid());
    let nbins = loglog_bins(x.len(), lo, hi, fit.map(|f| f.xmin));
    let hist = bins::histogram(&x, bins::log_edges(lo, hi, nbins), total);
    let (fit_line, tail, xmin, title) = match fit {
        Some(f) => {
            let tail = x.iter().filter(|&&v| v >= f.xmin).count() as u64;
            let xmax = hi.max(f.xmin);
            let c = tail as f64 / total as f64 * (f.alpha - 1.0) / f.xmin;
            let line = bins::log_edges(f.xmin, xmax, FIT_LINE_POINTS - 1)
                .into_iter()
                .map(|v| (v, c * (v / f.xmin).powf(-f.alpha)))
                .collect();
            let title = format!(
                "{label}: alpha={}, D={}, xmin={}, sigma={}",
                fmt_num(f.alpha),
                fmt_num(f.d),
                fmt_num(f.xmin),
                fmt_num(f.sigma)
            );
            (line, tail, Some(f.xmin), title)
        }
        None => (
            Vec::new(),
            0,
            None,
            format!("{label}: power-law fit failed"),
        ),
    };
    Some(LogLogEsd {
        title,
        hist,
        fit_line,
        tail,
        xmin,
    })
}

/// Bins of the log-log ESD: Rice's rule, raised so that the tail [xmin, hi] spans at least
/// [`TAIL_BARS`] log-spaced bins, at most [`MAX_LOG_BINS`].
pub fn loglog_bins(n: usize, lo: f64, hi: f64, xmin: Option<f64>) -> usize {
    let rice = bins::rice_bins(n);
    let tail = match xmin {
        Some(xm) if xm > lo && hi > xm => {
            let share = (hi / xm).ln() / (hi / lo).ln();
            (TAIL_BARS as f64 / share).ceil() as usize
        }
        _ => 0,
    };
    rice.max(tail).min(MAX_LOG_BINS)
}

/// The CCDF plot (see [`Ccdf`]); `None` with fewer than 2 eigenvalues above the threshold.
pub fn ccdf(layer: &LayerResult, label: &str) -> Option<Ccdf> {
    let mut x = positive(&layer.eigenvalues);
    if x.len() < 2 {
        return None;
    }
    x.sort_by(f64::total_cmp);
    let n = x.len();
    let stride = n.div_ceil(CCDF_POINTS).max(1);
    let mut keep: Vec<usize> = (0..n).step_by(stride).collect();
    if keep.last() != Some(&(n - 1)) {
        keep.push(n - 1);
    }
    // P(X >= x_i) = (n - i) / n for the i-th smallest (ties share the first rank's value).
    let points = keep
        .iter()
        .map(|&i| {
            let first = x.partition_point(|&v| v < x[i]);
            (x[i], (n - first) as f64 / n as f64)
        })
        .collect();
    let fit = layer.fit.filter(|f| f.is_valid());
    let (fit_line, xmin, title) = match fit {
        Some(f) => {
            let m = n - x.partition_point(|&v| v < f.xmin);
            let c = m as f64 / n as f64;
            let line = bins::log_edges(f.xmin, x[n - 1].max(f.xmin), FIT_LINE_POINTS - 1)
                .into_iter()
                .map(|v| (v, c * (v / f.xmin).powf(1.0 - f.alpha)))
                .collect();
            let title = format!(
                "{label}: CCDF, alpha={}, {m} of {n} in the tail",
                fmt_num(f.alpha)
            );
            (line, Some(f.xmin), title)
        }
        None => (Vec::new(), None, format!("{label}: CCDF (fit failed)")),
    };
    Some(Ccdf {
        title,
        points,
        fit_line,
        xmin,
    })
}

fn fit_markers(layer: &LayerResult, map: impl Fn(f64) -> f64) -> Vec<(String, f64)> {
    match layer.fit.filter(|f| f.is_valid()) {
        Some(f) => vec![("xmin".into(), map(f.xmin)), ("xmax".into(), map(f.xmax))],
        None => Vec::new(),
    }
}

/// The ESD on a linear axis with xmin and xmax marked; `None` without eigenvalues.
pub fn linear(layer: &LayerResult, label: &str) -> Option<MarkedHistogram> {
    let x: Vec<f64> = layer
        .eigenvalues
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    marked(
        x,
        layer,
        format!("{label}: ESD (linear)"),
        "eigenvalue",
        |v| v,
    )
}

/// The ESD of log10(lambda) (eigenvalues above [`LOG_THRESHOLD`]) with log10(xmin) and
/// log10(xmax) marked; `None` without such eigenvalues.
pub fn loglin(layer: &LayerResult, label: &str) -> Option<MarkedHistogram> {
    let x: Vec<f64> = positive(&layer.eigenvalues)
        .into_iter()
        .map(f64::log10)
        .collect();
    marked(
        x,
        layer,
        format!("{label}: ESD (log10 eigenvalue)"),
        "log10 eigenvalue",
        f64::log10,
    )
}

/// A linear-binned histogram of `x` with the fit's xmin/xmax mapped by `map` as markers;
/// `None` when `x` is empty.
fn marked(
    x: Vec<f64>,
    layer: &LayerResult,
    title: String,
    xlabel: &str,
    map: fn(f64) -> f64,
) -> Option<MarkedHistogram> {
    if x.is_empty() {
        return None;
    }
    let (lo, hi) = min_max(&x);
    let hist = bins::histogram(
        &x,
        bins::linear_edges(lo, hi, bins::rice_bins(x.len())),
        x.len() as u64,
    );
    Some(MarkedHistogram {
        title,
        xlabel: xlabel.into(),
        hist,
        markers: fit_markers(layer, map),
    })
}

/// Thins a candidate scan to at most `max_points` (evenly by index, always keeping the first,
/// the last and the chosen candidate) and marks the chosen one. `None` when the scan is empty.
pub fn scan_curve(
    scan: &[ScanPoint],
    chosen_xmin: Option<f64>,
    label: &str,
    max_points: usize,
) -> Option<ScanCurve> {
    if scan.is_empty() {
        return None;
    }
    let n = scan.len();
    // The chosen candidate is the first one at the fit's xmin with the smallest D among equal
    // xmins (duplicates are kept as candidates, METRICS.md section 3).
    let chosen_full = chosen_xmin.and_then(|xm| {
        scan.iter()
            .enumerate()
            .filter(|(_, p)| p.xmin == xm)
            .min_by(|a, b| a.1.d.total_cmp(&b.1.d))
            .map(|(i, _)| i)
    });
    let stride = n.div_ceil(max_points.max(2)).max(1);
    let mut keep: Vec<usize> = (0..n).step_by(stride).collect();
    if keep.last() != Some(&(n - 1)) {
        keep.push(n - 1);
    }
    if let Some(c) = chosen_full
        && let Err(pos) = keep.binary_search(&c)
    {
        keep.insert(pos, c);
    }
    let chosen = chosen_full.and_then(|c| keep.binary_search(&c).ok());
    Some(ScanCurve {
        title: format!("{label}: KS distance and alpha vs xmin"),
        xmin: keep.iter().map(|&i| scan[i].xmin).collect(),
        d: keep.iter().map(|&i| scan[i].d).collect(),
        alpha: keep.iter().map(|&i| scan[i].alpha).collect(),
        chosen,
        candidates: n,
        fit_point: None,
        rule: None,
    })
}

/// Which rule chose a row's xmin when it is not the plain KS scan that the scan plot draws:
/// `options` is the result's `options` object (`fit`, `small_n`), `layer` the row.
pub fn xmin_rule(options: &serde_json::Value, layer: &LayerResult) -> Option<String> {
    let text = |k: &str| options.get(k).and_then(|v| v.as_str()).unwrap_or("");
    if text("fit") == "median" {
        return Some("xmin = median eigenvalue (fit median): not the KS minimum".into());
    }
    let fitted = positive(&layer.eigenvalues).len();
    if fitted < crate::fit::SMALL_N_LIMIT && text("small_n") != "ww0755" {
        return Some(format!(
            "{fitted} eigenvalues < {}: xmin chosen by WeightWatcher 0.7.6's small-N rule; \
             the curve is the plain scan",
            crate::fit::SMALL_N_LIMIT
        ));
    }
    None
}

/// Every plot of row `layer` of `result`: the fit's candidate scan computed from the stored
/// eigenvalues, and the rule that chose xmin noted on it.
pub fn plots_of(result: &crate::result::AnalysisResult, layer: &LayerResult) -> LayerPlots {
    let scan = super::scan::scan_points(&layer.eigenvalues, layer.fit.as_ref());
    let mut p = layer_plots(layer, Some(&scan));
    if let Some(s) = p.scan.as_mut() {
        s.rule = xmin_rule(&result.options, layer);
    }
    p
}

/// The randomized ESD over the real one (log10 densities on shared bins), when the result
/// holds a randomized spectrum.
pub fn randomized(layer: &LayerResult, label: &str) -> Option<RandomizedOverlay> {
    let r = layer.randomized.as_ref()?;
    let real: Vec<f64> = positive(&layer.eigenvalues)
        .into_iter()
        .map(f64::log10)
        .collect();
    let rand: Vec<f64> = positive(&r.rand_eigenvalues)
        .into_iter()
        .map(f64::log10)
        .collect();
    if real.is_empty() || rand.is_empty() {
        return None;
    }
    let (a0, a1) = min_max(&real);
    let (b0, b1) = min_max(&rand);
    let edges = bins::linear_edges(
        a0.min(b0),
        a1.max(b1),
        bins::rice_bins(real.len().max(rand.len())),
    );
    let mut markers = vec![("max rand".to_string(), r.max_rand_eval.log10())];
    if let Some(m) = &layer.metrics {
        markers.push(("lambda_max".to_string(), m.lambda_max.log10()));
    }
    markers.retain(|(_, v)| v.is_finite());
    Some(RandomizedOverlay {
        title: format!(
            "{label}: randomized ESD (rand_distance={})",
            fmt_num(r.rand_distance)
        ),
        real: bins::histogram(&real, edges.clone(), real.len() as u64),
        random: bins::histogram(&rand, edges, rand.len() as u64),
        markers,
    })
}

/// Marchenko-Pastur density for aspect ratio `q = N/M >= 1` and element variance `sigma^2`:
/// `rho(x) = q / (2 pi sigma^2 x) sqrt((x+ - x)(x - x-))` on `x± = sigma^2 (1 ± 1/sqrt q)^2`
/// (Marchenko & Pastur 1967; the normalisation WeightWatcher uses for the mean-1 ESD).
pub fn mp_density(x: f64, q: f64, sigma: f64) -> f64 {
    let s2 = sigma * sigma;
    let lo = s2 * (1.0 - 1.0 / q.sqrt()).powi(2);
    let hi = s2 * (1.0 + 1.0 / q.sqrt()).powi(2);
    if x <= lo || x >= hi || x <= 0.0 {
        return 0.0;
    }
    q / (2.0 * std::f64::consts::PI * s2 * x) * ((hi - x) * (x - lo)).sqrt()
}

/// The MP density over the linear ESD, when the result holds an MP fit. The fit lives on the
/// mean-1 spectrum `x = lambda * W_scale^2`, so in the layer's units
/// `rho_lambda(lambda) = W_scale^2 rho_x(lambda W_scale^2)`.
pub fn mp(layer: &LayerResult, label: &str) -> Option<MpOverlay> {
    let fit = layer.mp.as_ref()?;
    let x: Vec<f64> = layer
        .eigenvalues
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let usable = fit.w_scale > 0.0 && layer.q >= 1.0;
    if x.is_empty() || !usable {
        return None;
    }
    let (lo, hi) = min_max(&x);
    let hist = bins::histogram(
        &x,
        bins::linear_edges(lo, hi, bins::rice_bins(x.len())),
        x.len() as u64,
    );
    let s2 = fit.w_scale * fit.w_scale;
    let (b0, b1) = (fit.bulk_min, fit.bulk_max);
    let curve = (0..MP_CURVE_POINTS)
        .map(|i| {
            let l = b0 + (b1 - b0) * i as f64 / (MP_CURVE_POINTS - 1) as f64;
            (l, s2 * mp_density(l * s2, layer.q, fit.sigma_mp))
        })
        .collect();
    Some(MpOverlay {
        title: format!(
            "{label}: Marchenko-Pastur fit (sigma={}, spikes={})",
            fmt_num(fit.sigma_mp),
            fit.num_spikes
        ),
        hist,
        curve,
        markers: vec![("bulk_min".into(), b0), ("bulk_max".into(), b1)],
    })
}

fn min_max(x: &[f64]) -> (f64, f64) {
    x.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        })
}
