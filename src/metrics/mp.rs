//! Marchenko-Pastur fit of the bulk of an ESD (METRICS.md section 4, "Marchenko-Pastur fit";
//! Martin & Mahoney, JMLR 2021, section 3: the bulk of a random-like layer follows the MP law
//! of variance sigma^2 and aspect ratio Q, its edge separates the bulk from the spikes).
//!
//! As WeightWatcher 0.7.6 (`mp_fit` / `fit_density_with_range` / `resid_mp`): the spectrum is
//! rescaled to mean 1; a linear-kernel density estimate (bandwidth 0.1) is taken on 1000
//! points of `[0, max x + 0.5]`; sigma is searched on the grid `0.05 s0, 0.06 s0, ... < 2 s0`
//! (`s0` = the sigma whose bulk edge is `max x`) minimising the squared distance between the
//! MP density and the estimate, then polished with Nelder-Mead (scipy's `fmin`). For square
//! matrices (Q = 1) the quarter-circle law of the singular values is fitted instead, as the
//! reference tool does.
//!
//! The density estimate does not depend on sigma, so it is computed once, and on sorted
//! values each of its points only visits the eigenvalues within one bandwidth (binary search):
//! milliseconds per layer instead of the reference's seconds.

use super::nelder_mead::{NelderMead, fmin};
use crate::result::MpFit;

/// Bandwidth of the kernel density estimate (rescaled units).
pub const MP_BANDWIDTH: f64 = 0.1;
/// Points of the density estimate.
const KDE_POINTS: usize = 1000;
/// Estimate values below this are dropped from the residual (WeightWatcher's "hack").
const DENSITY_FLOOR: f64 = 0.01;
/// Residual of a sigma whose MP edges do not fit the data.
const BAD_RESIDUAL: f64 = 1000.0;

/// The linear-kernel density estimate of `x` (ascending) at `points`, as scikit-learn's
/// `KernelDensity(kernel='linear', bandwidth=h)`: `(1/(n h)) sum max(0, 1 - |t - x_i|/h)`.
pub(super) fn linear_kde(x: &[f64], points: &[f64], h: f64) -> Vec<f64> {
    let n = x.len() as f64;
    points
        .iter()
        .map(|&t| {
            let lo = x.partition_point(|&v| v <= t - h);
            let hi = x.partition_point(|&v| v < t + h);
            let s: f64 = x[lo..hi]
                .iter()
                .map(|&v| {
                    let d = (t - v).abs();
                    if d < h { 1.0 - d / h } else { 0.0 }
                })
                .sum();
            s / h / n
        })
        .collect()
}

/// `numpy.linspace(start, stop, num)` (num >= 2).
pub(super) fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    v[num - 1] = stop;
    v
}

/// `numpy.arange(start, stop, step)` for floats (numpy fills `start + i * delta` with
/// `delta = (start + step) - start`).
pub(super) fn arange(start: f64, stop: f64, step: f64) -> Vec<f64> {
    let len = ((stop - start) / step).ceil();
    if len.is_nan() || len <= 0.0 {
        return Vec::new();
    }
    let len = len as usize;
    let second = start + step;
    let delta = second - start;
    (0..len)
        .map(|i| match i {
            0 => start,
            1 => second,
            _ => start + i as f64 * delta,
        })
        .collect()
}

/// The sigma-independent part of the residual: density estimate on the kept points.
struct Target {
    /// Abscissae where the estimate exceeds the floor.
    x: Vec<f64>,
    /// The estimate there.
    y: Vec<f64>,
    /// First abscissa of the estimate's maximum (among kept points).
    peak: f64,
    /// Largest kept abscissa.
    x_max: f64,
    /// Quarter-circle law (Q = 1) instead of MP.
    quarter_circle: bool,
    q: f64,
}

impl Target {
    fn new(to_fit: &[f64], q: f64, quarter_circle: bool) -> Self {
        let max = to_fit.last().copied().unwrap_or(0.0);
        let xde = linspace(0.0, max + 0.5, KDE_POINTS);
        let yde = linear_kde(to_fit, &xde, MP_BANDWIDTH);
        let (x, y): (Vec<f64>, Vec<f64>) = xde
            .iter()
            .zip(&yde)
            .filter(|(_, y)| **y > DENSITY_FLOOR)
            .map(|(x, y)| (*x, *y))
            .unzip();
        let ymax = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let peak = x
            .iter()
            .zip(&y)
            .find(|(_, y)| **y == ymax)
            .map_or(f64::NAN, |(x, _)| *x);
        let x_max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Target {
            x,
            y,
            peak,
            x_max,
            quarter_circle,
            q,
        }
    }

    /// Sum of squared residuals for `sigma` (WeightWatcher's `resid_mp(..., allresid=False)`).
    fn residual(&self, sigma: f64) -> f64 {
        if self.quarter_circle {
            let c = 1.0 / (std::f64::consts::PI * sigma * sigma);
            return self
                .x
                .iter()
                .zip(&self.y)
                .map(|(&x, &y)| {
                    let v = c * (4.0 - x * x).sqrt();
                    let v = if v.is_nan() { 0.0 } else { v };
                    (v - y) * (v - y)
                })
                .sum();
        }
        let q = self.q;
        let y_ratio = 1.0 / q;
        let b = (sigma * (1.0 + (1.0 / q).sqrt())).powi(2);
        let a = (sigma * (1.0 - (1.0 / q).sqrt())).powi(2);
        if b < self.peak || b > self.x_max || a > self.peak {
            return BAD_RESIDUAL * BAD_RESIDUAL * self.x.len() as f64;
        }
        let two_pi = 2.0 * std::f64::consts::PI;
        self.x
            .iter()
            .zip(&self.y)
            .map(|(&x, &y)| {
                let v = (1.0 / (two_pi * sigma * sigma * x * y_ratio)) * ((b - x) * (x - a)).sqrt();
                let v = if v.is_nan() {
                    0.0
                } else if v.is_infinite() {
                    f64::MAX.copysign(v)
                } else {
                    v
                };
                (v - y) * (v - y)
            })
            .sum()
    }
}

/// Marchenko-Pastur fit of a row's eigenvalues (`evals` ascending, after conv scaling; `n`,
/// `m` the dimensions N >= M of one matrix, so Q = N/M).
///
/// Returns NaN fields for an empty or all-zero spectrum; never panics.
pub fn mp_fit(evals: &[f64], n: usize, m: usize) -> MpFit {
    let nan = MpFit {
        sigma_mp: f64::NAN,
        num_spikes: 0,
        mp_softrank: f64::NAN,
        bulk_max: f64::NAN,
        bulk_min: f64::NAN,
        w_scale: f64::NAN,
    };
    let sum: f64 = evals.iter().sum();
    if evals.is_empty() || !sum.is_finite() || sum <= 0.0 || m == 0 {
        return nan;
    }
    let mut sorted = evals.to_vec();
    sorted.sort_by(f64::total_cmp);
    let q = n as f64 / m as f64;

    let w_scale = (sorted.len() as f64).sqrt() / sum.sqrt();
    let s2 = w_scale * w_scale;
    let to_plot: Vec<f64> = sorted.iter().map(|&l| s2 * l).collect();
    let lambda_max = to_plot[to_plot.len() - 1];

    let quarter_circle = q == 1.0;
    let to_fit: Vec<f64> = if quarter_circle {
        to_plot.iter().map(|v| v.max(0.0).sqrt()).collect()
    } else {
        to_plot.clone()
    };
    let target = Target::new(&to_fit, q, quarter_circle);

    // Grid search (scipy `brute` over `slice(0.05 s0, 2 s0, 0.01 s0)`), first minimum.
    let s0 = (lambda_max / (1.0 + 1.0 / q.sqrt()).powi(2)).sqrt();
    let grid = arange(0.05 * s0, 2.0 * s0, 0.01 * s0);
    let mut best = (f64::INFINITY, f64::NAN);
    for &s in &grid {
        let r = target.residual(s);
        if r < best.0 {
            best = (r, s);
        }
    }
    // Polish (brute's `finish=fmin`).
    let sigma = if best.1.is_finite() {
        fmin(|p| target.residual(p[0]), &[best.1], &NelderMead::default()).0[0]
    } else {
        f64::NAN
    };

    let bulk_max = (sigma * (1.0 + 1.0 / q.sqrt())).powi(2);
    let bulk_min = (sigma * (1.0 - 1.0 / q.sqrt())).powi(2);
    let tw = 1.0 / q.sqrt() * bulk_max.powf(2.0 / 3.0) * (m as f64).powf(-2.0 / 3.0);
    let edge = bulk_max + tw.sqrt();
    let num_spikes = to_plot.len() - to_plot.partition_point(|&v| v <= edge);
    MpFit {
        sigma_mp: sigma,
        num_spikes: num_spikes as i64,
        mp_softrank: bulk_max / lambda_max,
        bulk_max: bulk_max / s2,
        bulk_min: bulk_min / s2,
        w_scale,
    }
}
