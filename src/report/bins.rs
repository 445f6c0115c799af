//! Histogram binning shared by every ESD plot: log-spaced and linear bin edges, counts, and
//! densities (count / (total * width), so a histogram and a probability density can share
//! one axis).

use serde::Serialize;

/// A histogram: `edges.len() == counts.len() + 1`; `density[i] = counts[i] / (total * width_i)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    /// Bin edges, ascending.
    pub edges: Vec<f64>,
    /// Number of values in each bin (the last bin includes its right edge).
    pub counts: Vec<u64>,
    /// Counts normalised by `total` and the bin width.
    pub density: Vec<f64>,
    /// The number of values the density is normalised by.
    pub total: u64,
}

/// Number of bins for `n` values: twice the cube root (Rice rule), clamped to 10..=100.
pub fn rice_bins(n: usize) -> usize {
    ((2.0 * (n as f64).cbrt()).round() as usize).clamp(10, 100)
}

/// `nbins + 1` edges spaced evenly from `lo` to `hi` (hi > lo; equal bounds are widened).
pub fn linear_edges(lo: f64, hi: f64, nbins: usize) -> Vec<f64> {
    let (lo, hi) = widen(lo, hi);
    let nbins = nbins.max(1);
    (0..=nbins)
        .map(|i| {
            if i == nbins {
                hi
            } else {
                lo + (hi - lo) * i as f64 / nbins as f64
            }
        })
        .collect()
}

/// `nbins + 1` edges spaced evenly in log10 from `lo` to `hi` (both > 0).
pub fn log_edges(lo: f64, hi: f64, nbins: usize) -> Vec<f64> {
    let (a, b) = widen(lo.log10(), hi.log10());
    let mut e: Vec<f64> = linear_edges(a, b, nbins)
        .into_iter()
        .map(|v| 10f64.powf(v))
        .collect();
    // Keep the exact data range at the ends (powf of log10 may round off by an ulp).
    if hi > lo {
        e[0] = lo;
        let k = e.len() - 1;
        e[k] = hi;
    }
    e
}

fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if hi > lo {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 0.5 } else { lo.abs() * 0.05 };
        (lo - pad, hi + pad)
    }
}

/// Counts `values` into the bins given by `edges` (values outside are ignored; the last bin is
/// closed) and normalises by `total` values.
pub fn histogram(values: &[f64], edges: Vec<f64>, total: u64) -> Histogram {
    let nb = edges.len().saturating_sub(1);
    let mut counts = vec![0u64; nb];
    if nb > 0 {
        let (lo, hi) = (edges[0], edges[nb]);
        for &v in values {
            if !(v >= lo && v <= hi) {
                continue;
            }
            // First edge strictly greater than v, minus one; clamp v == hi into the last bin.
            let k = edges.partition_point(|&e| e <= v);
            let bin = k.saturating_sub(1).min(nb - 1);
            counts[bin] += 1;
        }
    }
    let density = counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let w = edges[i + 1] - edges[i];
            if total == 0 || w <= 0.0 {
                0.0
            } else {
                c as f64 / (total as f64 * w)
            }
        })
        .collect();
    Histogram {
        edges,
        counts,
        density,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_edges_are_geometric() {
        let e = log_edges(0.01, 100.0, 4);
        assert_eq!(e.len(), 5);
        for w in e.windows(2) {
            assert!((w[1] / w[0] - 10.0).abs() < 1e-9);
        }
    }

    #[test]
    fn counts_every_value_once_and_density_integrates_to_one() {
        let v: Vec<f64> = (1..=1000).map(|i| i as f64 / 10.0).collect();
        let h = histogram(&v, linear_edges(0.1, 100.0, 37), v.len() as u64);
        assert_eq!(h.counts.iter().sum::<u64>(), 1000);
        let area: f64 = h
            .density
            .iter()
            .zip(h.edges.windows(2))
            .map(|(d, w)| d * (w[1] - w[0]))
            .sum();
        assert!((area - 1.0).abs() < 1e-12);
        let hl = histogram(&v, log_edges(0.1, 100.0, 20), v.len() as u64);
        assert_eq!(hl.counts.iter().sum::<u64>(), 1000);
    }

    #[test]
    fn values_on_edges_go_to_the_right_bin() {
        let h = histogram(&[0.0, 1.0, 2.0, 3.0], linear_edges(0.0, 3.0, 3), 4);
        assert_eq!(h.counts, vec![1, 1, 2]);
    }

    #[test]
    fn degenerate_range_is_widened() {
        let h = histogram(&[2.0, 2.0], linear_edges(2.0, 2.0, 4), 2);
        assert_eq!(h.counts.iter().sum::<u64>(), 2);
        assert!(h.edges[0] < 2.0 && h.edges[4] > 2.0);
    }
}
