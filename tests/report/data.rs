//! The plots' data checked against the result it comes from: bins, densities, the fitted
//! power-law line, the markers, the KS scan, the randomized and MP overlays, and the
//! model-level series. Every expectation is recomputed here independently from the result.

use htdiag::report::layer_data::{self, LOG_THRESHOLD, layer_plots, mp_density};
use htdiag::report::model_data::model_plots;
use htdiag::report::scan::scan_points;
use htdiag::report::synthetic::{self, SyntheticLayer};
use htdiag::result::LayerResult;

fn layer(m: usize, q: f64, tail_alpha: f64, seed: u64) -> LayerResult {
    synthetic::layer(
        3,
        &SyntheticLayer {
            name: "blocks.3.attn.weight".into(),
            m,
            q,
            tail_alpha,
            seed,
            with_mp: true,
            with_randomized: true,
        },
    )
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// Counts values in [lo, hi) (closed on the last bin) by a plain loop.
fn count_in(values: &[f64], lo: f64, hi: f64, last: bool) -> u64 {
    values
        .iter()
        .filter(|&&v| v >= lo && (v < hi || (last && v == hi)))
        .count() as u64
}

#[test]
fn loglog_bins_cover_the_positive_spectrum_and_match_direct_counts() {
    let l = layer(300, 2.0, 3.0, 7);
    let p = layer_data::loglog(&l, "x").unwrap();
    let pos: Vec<f64> = l
        .eigenvalues
        .iter()
        .copied()
        .filter(|&v| v > LOG_THRESHOLD)
        .collect();
    let h = &p.hist;
    assert_eq!(h.edges[0], pos[0]);
    assert_eq!(*h.edges.last().unwrap(), *pos.last().unwrap());
    let ratio = h.edges[1] / h.edges[0];
    for w in h.edges.windows(2) {
        assert!(rel(w[1] / w[0], ratio) < 1e-9, "bins are not log-spaced");
    }
    assert_eq!(h.total, pos.len() as u64);
    let nb = h.counts.len();
    for i in 0..nb {
        let c = count_in(&pos, h.edges[i], h.edges[i + 1], i == nb - 1);
        assert_eq!(h.counts[i], c, "bin {i}");
        let d = c as f64 / (pos.len() as f64 * (h.edges[i + 1] - h.edges[i]));
        assert!(rel(h.density[i], d) < 1e-12 || (d == 0.0 && h.density[i] == 0.0));
    }
}

#[test]
fn fitted_line_is_the_power_law_of_the_fit_scaled_to_the_tail() {
    let l = layer(400, 1.5, 2.6, 11);
    let fit = l.fit.unwrap();
    assert!(fit.is_valid());
    let p = layer_data::loglog(&l, "x").unwrap();
    let n = l.eigenvalues.iter().filter(|&&v| v > LOG_THRESHOLD).count() as f64;
    assert_eq!(p.tail as i64, fit.num_pl_spikes);
    assert_eq!(p.xmin, Some(fit.xmin));
    let first = p.fit_line[0];
    let last = *p.fit_line.last().unwrap();
    assert_eq!(first.0, fit.xmin);
    assert!(rel(last.0, fit.xmax) < 1e-12);
    // p(xmin) = (tail/n) (alpha-1)/xmin.
    let p0 = p.tail as f64 / n * (fit.alpha - 1.0) / fit.xmin;
    assert!(rel(first.1, p0) < 1e-12);
    // Slope -alpha in log-log between any two points.
    for w in p.fit_line.windows(2) {
        let slope = (w[1].1.ln() - w[0].1.ln()) / (w[1].0.ln() - w[0].0.ln());
        assert!((slope + fit.alpha).abs() < 1e-9, "slope {slope}");
    }
    // The line's mass on [xmin, xmax] (closed form) against the fraction of eigenvalues in the
    // tail: equal up to the mass the power law puts beyond xmax.
    let line_mass = p.tail as f64 / n * (1.0 - (fit.xmax / fit.xmin).powf(1.0 - fit.alpha));
    let data_mass = l.eigenvalues.iter().filter(|&&v| v >= fit.xmin).count() as f64 / n;
    assert!(
        line_mass <= data_mass + 1e-12 && line_mass > 0.9 * data_mass,
        "{line_mass} vs {data_mass}"
    );
    // Title carries the fit's numbers.
    for v in [fit.alpha, fit.d, fit.xmin, fit.sigma] {
        assert!(
            p.title.contains(&layer_data::fmt_num(v)),
            "{} lacks {v}",
            p.title
        );
    }
}

#[test]
fn linear_and_loglinear_histograms_mark_xmin_and_xmax() {
    let l = layer(250, 1.0, 3.5, 5);
    let fit = l.fit.unwrap();
    let lin = layer_data::linear(&l, "x").unwrap();
    assert_eq!(
        lin.hist.counts.iter().sum::<u64>(),
        l.eigenvalues.len() as u64
    );
    assert_eq!(lin.hist.edges[0], l.eigenvalues[0]);
    assert_eq!(
        *lin.hist.edges.last().unwrap(),
        *l.eigenvalues.last().unwrap()
    );
    let w = lin.hist.edges[1] - lin.hist.edges[0];
    for e in lin.hist.edges.windows(2) {
        assert!(rel(e[1] - e[0], w) < 1e-6, "bins are not evenly spaced");
    }
    assert_eq!(
        lin.markers,
        vec![
            ("xmin".to_string(), fit.xmin),
            ("xmax".to_string(), fit.xmax)
        ]
    );
    let ll = layer_data::loglin(&l, "x").unwrap();
    assert_eq!(ll.markers[0].1, fit.xmin.log10());
    assert_eq!(ll.markers[1].1, fit.xmax.log10());
    assert_eq!(ll.hist.edges[0], l.eigenvalues[0].log10());
    assert_eq!(
        ll.hist.counts.iter().sum::<u64>(),
        l.eigenvalues.len() as u64
    );
}

#[test]
fn scan_curve_is_the_fit_scan_and_marks_the_chosen_minimum() {
    let l = layer(1500, 1.0, 2.8, 3);
    let fit = l.fit.unwrap();
    let scan = scan_points(&l.eigenvalues, l.fit.as_ref());
    let plots = layer_plots(&l, Some(&scan));
    let s = plots.scan.unwrap();
    assert_eq!(s.candidates, scan.len());
    assert!(s.xmin.len() <= layer_data::SCAN_MAX_POINTS + 2);
    let c = s.chosen.expect("chosen candidate kept");
    assert_eq!(s.xmin[c], fit.xmin);
    assert_eq!(s.d[c], fit.d);
    assert_eq!(s.alpha[c], fit.alpha);
    let dmin = scan.iter().map(|p| p.d).fold(f64::INFINITY, f64::min);
    assert_eq!(s.d[c], dmin, "chosen D is the scan's minimum");
    // Every kept point is a candidate of the scan, in order.
    let mut j = 0;
    for (k, x) in s.xmin.iter().enumerate() {
        while !(scan[j].xmin == *x && scan[j].d == s.d[k]) {
            j += 1;
        }
    }
    assert_eq!(s.xmin[0], scan[0].xmin);
    assert_eq!(*s.xmin.last().unwrap(), scan.last().unwrap().xmin);
    // The sampled points are exact: the same (xmin, alpha, D) as the full scan.
    let full = htdiag::fit::scan(&l.eigenvalues);
    assert!(scan.len() < full.len(), "1500 eigenvalues are sampled");
    for p in &scan {
        let q = full
            .iter()
            .find(|q| q.xmin == p.xmin && (q.d - p.d).abs() < 1e-12)
            .unwrap_or_else(|| panic!("{p:?} not in the full scan"));
        assert!((q.alpha - p.alpha).abs() < 1e-9 * q.alpha);
    }
}

#[test]
fn randomized_overlay_uses_both_spectra_on_shared_bins() {
    let l = layer(200, 2.0, 2.5, 9);
    let r = l.randomized.as_ref().unwrap();
    let o = layer_data::randomized(&l, "x").unwrap();
    assert_eq!(o.real.edges, o.random.edges);
    let pos = |v: &[f64]| v.iter().filter(|&&x| x > LOG_THRESHOLD).count() as u64;
    assert_eq!(o.real.counts.iter().sum::<u64>(), pos(&l.eigenvalues));
    assert_eq!(
        o.random.counts.iter().sum::<u64>(),
        pos(&r.rand_eigenvalues)
    );
    assert_eq!(o.markers[0].1, r.max_rand_eval.log10());
    assert_eq!(
        o.markers[1].1,
        l.metrics.as_ref().unwrap().lambda_max.log10()
    );
}

#[test]
fn mp_curve_spans_the_bulk_and_is_a_density_with_the_fitted_variance() {
    let l = layer(300, 2.5, 3.0, 13);
    let mp = l.mp.as_ref().unwrap();
    let o = layer_data::mp(&l, "x").unwrap();
    assert!(rel(o.curve[0].0, mp.bulk_min) < 1e-12);
    assert!(rel(o.curve.last().unwrap().0, mp.bulk_max) < 1e-12);
    // Trapezoid integrals over the curve: mass 1, mean sigma^2 / W_scale^2 (MP's mean).
    let (mut mass, mut mean) = (0.0, 0.0);
    for w in o.curve.windows(2) {
        let h = w[1].0 - w[0].0;
        mass += h * (w[0].1 + w[1].1) / 2.0;
        mean += h * (w[0].0 * w[0].1 + w[1].0 * w[1].1) / 2.0;
    }
    assert!((mass - 1.0).abs() < 0.02, "mass {mass}");
    let expect_mean = mp.sigma_mp.powi(2) / mp.w_scale.powi(2);
    assert!(
        rel(mean, expect_mean) < 0.02,
        "mean {mean} vs {expect_mean}"
    );
    // Each point is W^2 rho(lambda W^2) from the closed form.
    let s2 = mp.w_scale * mp.w_scale;
    let (x, y) = o.curve[57];
    assert!(rel(y, s2 * mp_density(x * s2, l.q, mp.sigma_mp)) < 1e-12);
    assert_eq!(o.markers[0].1, mp.bulk_min);
    assert_eq!(o.markers[1].1, mp.bulk_max);
}

#[test]
fn failed_fits_and_error_rows_draw_no_fit() {
    let mut l = layer(50, 1.0, 3.0, 1);
    l.fit = Some(htdiag::result::PowerLawFit::failed(
        *l.eigenvalues.last().unwrap(),
    ));
    let p = layer_plots(&l, None);
    let ll = p.loglog.unwrap();
    assert!(ll.fit_line.is_empty() && ll.xmin.is_none());
    assert!(p.linear.unwrap().markers.is_empty());
    assert!(p.scan.is_none());
    l.eigenvalues.clear();
    l.randomized = None;
    l.mp = None;
    let p = layer_plots(&l, Some(&[]));
    assert!(p.loglog.is_none() && p.linear.is_none() && p.loglin.is_none() && p.scan.is_none());
}

#[test]
fn model_series_follow_the_rows_in_checkpoint_order() {
    let r = synthetic::model(40, 5);
    let m = model_plots(&r);
    let valid: Vec<(usize, f64)> = r
        .layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.fit.filter(|f| f.is_valid()).map(|f| (i, f.alpha)))
        .collect();
    assert_eq!(m.alpha.points, valid);
    assert_eq!(
        m.alpha.bands.iter().map(|b| b.1).collect::<Vec<_>>(),
        vec![2.0, 6.0]
    );
    let h = m.alpha_hist.unwrap();
    assert_eq!(h.counts.iter().sum::<u64>(), valid.len() as u64);
    let sr: Vec<(usize, f64)> = r
        .layers
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.metrics.as_ref().map(|m| (i, m.stable_rank)))
        .collect();
    assert_eq!(m.stable_rank.points, sr);
    for &(i, v) in &m.alpha_weighted.points {
        assert_eq!(v, r.layers[i].metrics.as_ref().unwrap().alpha_weighted);
    }
    assert_eq!(m.labels.len(), r.layers.len());
    // The error row (last) has no point anywhere.
    let last = r.layers.len() - 1;
    assert!(m.stable_rank.points.iter().all(|p| p.0 != last));
}

#[test]
fn a_small_tail_gets_several_log_bars() {
    let mut l = layer(300, 2.0, 3.0, 7);
    // A tail of the 9 largest eigenvalues, as on a layer where Rice's rule put them in one bar.
    let n = l.eigenvalues.len();
    let mut fit = l.fit.unwrap();
    fit.xmin = l.eigenvalues[n - 9];
    l.fit = Some(fit);
    let p = layer_data::loglog(&l, "x").unwrap();
    let h = &p.hist;
    let tail_bins = h.edges.windows(2).filter(|w| w[1] > fit.xmin).count();
    assert!(
        tail_bins >= layer_data::TAIL_BARS,
        "{tail_bins} bins over the tail"
    );
    let nonempty: u64 = h
        .edges
        .windows(2)
        .zip(&h.counts)
        .filter(|(w, c)| w[0] >= fit.xmin && **c > 0)
        .count() as u64;
    assert!(nonempty >= 3, "the 9 tail values fill {nonempty} bars");
    assert!(h.counts.len() <= layer_data::MAX_LOG_BINS);
    // Bin count from the closed form: ceil(TAIL_BARS * log(hi/lo) / log(hi/xmin)).
    let (lo, hi) = (h.edges[0], *h.edges.last().unwrap());
    let want = (layer_data::TAIL_BARS as f64 * (hi / lo).ln() / (hi / fit.xmin).ln()).ceil();
    assert_eq!(
        h.counts.len(),
        (want as usize).max(htdiag::report::bins::rice_bins(n))
    );
}

#[test]
fn ccdf_points_and_fitted_line() {
    let l = layer(400, 1.5, 2.6, 11);
    let fit = l.fit.unwrap();
    let c = layer_data::ccdf(&l, "x").unwrap();
    let pos: Vec<f64> = l
        .eigenvalues
        .iter()
        .copied()
        .filter(|&v| v > LOG_THRESHOLD)
        .collect();
    let n = pos.len() as f64;
    for &(x, p) in &c.points {
        let direct = pos.iter().filter(|&&v| v >= x).count() as f64 / n;
        assert!(rel(p, direct) < 1e-12, "P(X >= {x}) = {p}, direct {direct}");
    }
    assert_eq!(c.points[0].1, 1.0);
    assert_eq!(c.xmin, Some(fit.xmin));
    let m = pos.iter().filter(|&&v| v >= fit.xmin).count() as f64;
    let (x0, y0) = c.fit_line[0];
    assert_eq!(x0, fit.xmin);
    assert!(rel(y0, m / n) < 1e-12);
    for w in c.fit_line.windows(2) {
        let slope = (w[1].1.ln() - w[0].1.ln()) / (w[1].0.ln() - w[0].0.ln());
        assert!((slope - (1.0 - fit.alpha)).abs() < 1e-9, "slope {slope}");
    }
}

#[test]
fn scan_of_a_small_n_fit_names_the_rule_and_marks_the_fit() {
    let mut r = synthetic::model(3, 5);
    r.options = serde_json::json!({"fit": "clauset", "small_n": "ww076"});
    let small = layer(12, 2.0, 2.5, 3);
    let fit = small.fit.unwrap();
    assert!(fit.is_valid());
    let p = layer_data::plots_of(&r, &small);
    let s = p.scan.unwrap();
    assert_eq!(s.fit_point, Some((fit.xmin, fit.d, fit.alpha)));
    assert!(
        s.rule.as_deref().unwrap().contains("small-N rule"),
        "{:?}",
        s.rule
    );
    // A large layer is fitted by the plain scan: no note.
    let big = &r.layers[0];
    assert_eq!(layer_data::plots_of(&r, big).scan.unwrap().rule, None);
    // With the median estimator the note says so.
    r.options["fit"] = serde_json::json!("median");
    let note = layer_data::plots_of(&r, big).scan.unwrap().rule.unwrap();
    assert!(note.contains("median"), "{note}");
}
