//! Unit tests of the fit against a direct transcription of the definitions.

use super::*;

/// Deterministic Pareto sample with density exponent `a`: exact quantiles
/// `x_k = (1 - (k - 0.5)/n)^(-1/(a-1))`, ascending.
fn pareto(n: usize, a: f64) -> Vec<f64> {
    (1..=n)
        .map(|k| (1.0 - (k as f64 - 0.5) / n as f64).powf(-1.0 / (a - 1.0)))
        .collect()
}

/// A direct O(n^2) transcription of METRICS.md section 3 (plain sums and powf, as
/// WeightWatcher's `WWFit` computes them), returning (i, alpha, D) of the winner.
fn naive(x: &[f64], window: Option<(f64, f64)>) -> Option<(usize, f64, f64)> {
    let n = x.len();
    let mut best: Option<(usize, f64, f64)> = None;
    for i in 0..n - 1 {
        if !in_window(x[i], window) {
            continue;
        }
        let m = (n - i) as f64;
        let s: f64 = x[i..].iter().map(|v| v.ln()).sum::<f64>() - m * x[i].ln();
        let alpha = 1.0 + m / s;
        let d = if alpha > 1.0 && alpha.is_finite() {
            x[i..]
                .iter()
                .enumerate()
                .map(|(k, v)| (1.0 - (v / x[i]).powf(1.0 - alpha) - k as f64 / m).abs())
                .fold(0.0, f64::max)
        } else {
            1.0
        };
        if best.is_none_or(|b| d < b.2) {
            best = Some((i, alpha, d));
        }
    }
    best
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// Pseudo-random but reproducible values (a simple LCG), a heavy-ish tail plus a bulk.
fn spectrum(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            if u < 0.7 {
                4.0 * u
            } else {
                (1.0 - u).powf(-0.8)
            }
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn matches_naive_definition() {
    for (n, seed) in [(25, 1), (60, 2), (300, 3), (1000, 4)] {
        let x = spectrum(n, seed);
        let fit = fit_power_law(&x, &FitOptions::default());
        let (i, alpha, d) = naive(&x, None).unwrap();
        assert_eq!(fit.xmin, x[i], "n={n}");
        assert!(rel(fit.alpha, alpha) < 1e-10, "{} vs {alpha}", fit.alpha);
        assert!(rel(fit.d, d) < 1e-10, "{} vs {d}", fit.d);
        assert_eq!(fit.num_pl_spikes, (n - i) as i64);
        assert_eq!(fit.xmax, x[n - 1]);
        assert!(rel(fit.sigma, (alpha - 1.0) / ((n - i) as f64).sqrt()) < 1e-10);
    }
}

#[test]
fn duplicates_and_ties() {
    // Rounded values: many equal eigenvalues, equal candidates, possibly equal D.
    let x: Vec<f64> = spectrum(600, 21)
        .iter()
        .map(|v| (v * 20.0).round() / 20.0 + 0.05)
        .collect();
    let fit = fit_power_law(&x, &FitOptions::default());
    let (i, alpha, d) = naive(&x, None).unwrap();
    assert_eq!(fit.xmin, x[i]);
    assert!(rel(fit.alpha, alpha) < 1e-10 && rel(fit.d, d) < 1e-10);
    assert_eq!(
        fit.num_pl_spikes,
        x.iter().filter(|&&v| v >= x[i]).count() as i64
    );
}

#[test]
fn scan_curves_match_naive() {
    let x = spectrum(200, 7);
    let c = scan(&x);
    assert_eq!(c.len(), 199);
    let (i, _, d) = naive(&x, None).unwrap();
    let (bi, bd) =
        c.iter().enumerate().fold(
            (0, f64::INFINITY),
            |b, (k, c)| if c.d < b.1 { (k, c.d) } else { b },
        );
    assert_eq!(bi, i);
    assert!(rel(bd, d) < 1e-10);
    assert_eq!(c[0].xmin, x[0]);
}

#[test]
fn xmin_window_restricts_candidates() {
    let x = spectrum(400, 11);
    let w = Some((1.0, 3.0));
    let opts = FitOptions {
        xmin_window: w,
        ..FitOptions::default()
    };
    let fit = fit_power_law(&x, &opts);
    let (i, alpha, _) = naive(&x, w).unwrap();
    assert!(fit.xmin >= 1.0 && fit.xmin <= 3.0);
    assert_eq!(fit.xmin, x[i]);
    assert!(rel(fit.alpha, alpha) < 1e-10);
}

#[test]
fn threshold_and_spike_count() {
    // Zeros and tiny values are not fitted but the tail count is over all eigenvalues.
    let mut x = vec![0.0, 1e-9, 1e-6];
    x.extend(pareto(100, 3.0));
    let fit = fit_power_law(&x, &FitOptions::default());
    let ref_fit = fit_power_law(&x[3..], &FitOptions::default());
    assert_eq!(fit.alpha, ref_fit.alpha);
    assert_eq!(fit.num_pl_spikes, ref_fit.num_pl_spikes);
    // Unsorted input is sorted first.
    let mut y = x.clone();
    y.reverse();
    assert_eq!(fit_power_law(&y, &FitOptions::default()), fit);
}

#[test]
fn recovers_pareto_exponent() {
    // Exact quantiles: the MLE with xmin at the minimum tends to the true exponent.
    for a in [1.5, 2.0, 2.5, 3.5, 5.0] {
        for n in [200, 2000] {
            let fit = fit_power_law(&pareto(n, a), &FitOptions::default());
            let tol = if n == 200 { 0.08 } else { 0.02 };
            assert!((fit.alpha - a).abs() < tol * a, "a={a} n={n}: {fit:?}");
            assert!(fit.d < 0.05, "a={a} n={n}: {fit:?}");
        }
    }
}

#[test]
fn failures() {
    for x in [vec![], vec![1.0], vec![0.0; 10], vec![1e-7, 2.0]] {
        let f = fit_power_law(&x, &FitOptions::default());
        assert_eq!(f.alpha, -1.0, "{x:?}");
        assert_eq!(
            (f.d, f.sigma, f.xmin, f.num_pl_spikes),
            (-1.0, -1.0, -1.0, -1)
        );
    }
    let f = fit_power_law(&[1.0, f64::NAN, 2.0], &FitOptions::default());
    assert!(!f.is_valid());
    // All values equal: alpha is infinite for every candidate, no valid fit.
    assert!(!fit_power_law(&[2.0; 30], &FitOptions::default()).is_valid());
    // Small-N needs a tail of 8.
    assert!(!fit_power_law(&pareto(7, 2.5), &FitOptions::default()).is_valid());
    assert!(fit_power_law(&pareto(8, 2.5), &FitOptions::default()).is_valid());
    // Two values are enough for the old rule.
    let old = FitOptions {
        small_n: SmallN::Ww0755,
        ..FitOptions::default()
    };
    assert!(fit_power_law(&[1.0, 2.0], &old).is_valid());
}

#[test]
fn small_n_rule() {
    let x = pareto(15, 2.5);
    let f = fit_power_law(&x, &FitOptions::default());
    // Brute force over m >= 8 with alpha = 1 + (m-1)/s.
    let mut best = (f64::INFINITY, 0usize, 0.0);
    for i in 0..=15 - 8 {
        let m = (15 - i) as f64;
        let s: f64 = x[i..].iter().map(|v| (v / x[i]).ln()).sum();
        let a = 1.0 + (m - 1.0) / s;
        let d = x[i..]
            .iter()
            .enumerate()
            .map(|(k, v)| (1.0 - (v / x[i]).powf(1.0 - a) - k as f64 / m).abs())
            .fold(0.0, f64::max);
        if d < best.0 {
            best = (d, i, a);
        }
    }
    assert_eq!(f.xmin, x[best.1]);
    assert!(rel(f.alpha, best.2) < 1e-12 && rel(f.d, best.0) < 1e-12);
}

#[test]
fn median_estimator() {
    let x = spectrum(101, 5);
    let opts = FitOptions {
        method: FitMethod::Median,
        ..FitOptions::default()
    };
    let f = fit_power_law(&x, &opts);
    let i = 50;
    let m = 51.0;
    let s: f64 = x[i..].iter().map(|v| (v / x[i]).ln()).sum();
    assert_eq!(f.xmin, x[i]);
    assert!(rel(f.alpha, 1.0 + m / s) < 1e-12);
    assert_eq!(f.num_pl_spikes, 51);
    assert!(rel(f.sigma, (f.alpha - 1.0) / m.sqrt()) < 1e-12);
}

#[test]
fn clip_xmax_removes_fingers() {
    // A clean Pareto tail (alpha 2.5) plus three huge outliers: the plain scan locks onto the
    // outliers, the clipped fit finds the tail again.
    let mut x = pareto(400, 2.5);
    x.extend([500.0, 900.0, 2000.0]);
    let plain = fit_power_law(&x, &FitOptions::default());
    let opts = FitOptions {
        fix_fingers: FixFingers::ClipXmax,
        ..FitOptions::default()
    };
    let f = fit_power_law(&x, &opts);
    assert_eq!(f.raw_alpha, Some(plain.alpha));
    if plain.alpha > 3.6 {
        assert!(f.alpha + 1.0 < plain.alpha, "{plain:?} {f:?}");
        assert!(f.num_fingers.unwrap() >= 1);
    } else {
        assert_eq!(f.num_fingers, Some(0));
    }
    // Without fingers nothing changes but the extra columns.
    let y = pareto(400, 2.5);
    let g = fit_power_law(&y, &opts);
    let p = fit_power_law(&y, &FitOptions::default());
    assert_eq!((g.alpha, g.xmin, g.num_fingers), (p.alpha, p.xmin, Some(0)));
}

#[test]
fn parallel_path_matches_naive() {
    for (n, seed) in [(1500, 9), (3000, 10)] {
        let x = spectrum(n, seed);
        let par = powerlaw::fit_impl(&x, None, true);
        let seq = powerlaw::fit_impl(&x, None, false);
        assert_eq!(par, seq);
        let full = scan(&x);
        let best = full
            .iter()
            .fold(full[0], |b, c| if c.d < b.d { *c } else { b });
        assert_eq!(
            (seq.xmin, seq.alpha, seq.d),
            (best.xmin, best.alpha, best.d)
        );
    }
}

#[test]
fn failure_reasons() {
    let d = FitOptions::default();
    assert_eq!(failure_reason(&pareto(50, 2.5), &d), None);
    let r = failure_reason(&[0.0, 0.0, 3.0], &d).unwrap();
    assert!(r.contains("only 1 eigenvalue"), "{r}");
    let r = failure_reason(&pareto(7, 2.5), &d).unwrap();
    assert!(r.contains("small-N") && r.contains("tail of 8"), "{r}");
    let r = failure_reason(&[2.0; 30], &d).unwrap();
    assert!(r.contains("finite alpha"), "{r}");
    let r = failure_reason(&[1.0, f64::INFINITY], &d).unwrap();
    assert!(r.contains("non-finite"), "{r}");
}

#[test]
fn sampled_scan_is_a_subset_of_the_full_scan() {
    let x = spectrum(300, 13);
    let full = scan(&x);
    let part = scan_sampled(&x, 50);
    assert_eq!(part.len(), 50);
    assert_eq!(part[0], full[0]);
    assert_eq!(part[49], full[full.len() - 1]);
    for c in &part {
        assert!(full.contains(c));
    }
    assert_eq!(scan_sampled(&x, 10_000), full);
    assert_eq!(scan_sampled(&x, 1), vec![full[0]]);
    assert!(scan_sampled(&x, 0).is_empty());
    assert!(scan(&[1.0]).is_empty());
}
