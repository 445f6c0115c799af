//! Hand-computed cases of the median and peak estimators (ALLOCATION.md sections 2 and 3).

use super::*;

fn no_threshold(method: FitMethod, precision: Precision) -> FitOptions {
    FitOptions {
        method,
        precision,
        threshold: f64::NEG_INFINITY,
        ..FitOptions::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-14 * a.abs().max(b.abs())
}

#[test]
fn median_index_is_the_upper_median_and_the_tail_includes_xmin() {
    let opts = no_threshold(FitMethod::Median, Precision::F64);
    // N = 5: i = 2, xmin = 4, tail (4, 8, 16), sum ln = 9 ln 2, n ln xmin = 6 ln 2.
    let f = fit_power_law(&[1.0, 2.0, 4.0, 8.0, 16.0], &opts);
    let ln2 = 2f64.ln();
    assert_eq!(f.xmin, 4.0);
    assert!(close(f.alpha, 1.0 + 1.0 / ln2), "{f:?}");
    // D at k = 1: |1 - 2^(-1/ln 2) - 1/3| = 1 - 1/e - 1/3 (k = 2 gives 1 - e^-2 - 2/3).
    assert!(close(f.d, 1.0 - (-1f64).exp() - 1.0 / 3.0), "{f:?}");
    assert_eq!(f.num_pl_spikes, 3);
    // N = 4: i = 2 (not 1), tail (4, 8): alpha = 1 + 2 / ln 2, D = 1/2 - e^-2.
    let f = fit_power_law(&[1.0, 2.0, 4.0, 8.0], &opts);
    assert_eq!(f.xmin, 4.0);
    assert!(close(f.alpha, 1.0 + 2.0 / ln2), "{f:?}");
    assert!(close(f.d, 0.5 - (-2f64).exp()), "{f:?}");
}

#[test]
fn median_alpha_inf_for_n_1_2_and_equal_tails() {
    let opts = no_threshold(FitMethod::Median, Precision::F64);
    for x in [&[3.0][..], &[1.0, 3.0][..]] {
        let f = fit_power_law(x, &opts);
        assert_eq!(f.alpha, f64::INFINITY, "{x:?}");
        assert_eq!(f.d, 0.0);
        assert_eq!(f.xmin, x[x.len() - 1]);
        assert!(f.is_valid());
    }
    // A tail of equal values: denominator 0, alpha = inf; their D formula then gives
    // |1 - 1^(-inf) - k/n| = k/n, max (n - 1)/n = 1/2 for n = 2.
    let f = fit_power_law(&[0.5, 0.7, 1.0, 1.0], &opts);
    assert_eq!(f.alpha, f64::INFINITY);
    assert_eq!(f.d, 0.5);
    assert_eq!(failure_reason(&[1.0, 3.0], &opts), None);
    // Same in float32.
    let f = fit_power_law(
        &[1.0, 3.0],
        &no_threshold(FitMethod::Median, Precision::F32),
    );
    assert_eq!(f.alpha, f64::INFINITY);
}

#[test]
fn median_zero_eigenvalues() {
    let opts = no_threshold(FitMethod::Median, Precision::F64);
    // A zero below the median does not matter (it is not in the tail).
    let f = fit_power_law(&[0.0, 1.0, 2.0, 4.0], &opts);
    assert!(close(f.alpha, 1.0 + 2.0 / 2f64.ln()));
    // A zero xmin: NaN in their code, failed here with the reason.
    let x = [0.0, 0.0, 0.0, 1.0];
    assert!(!fit_power_law(&x, &opts).is_valid());
    let why = failure_reason(&x, &opts).unwrap();
    assert!(why.contains("xmin = lambda[2] = 0"), "{why}");
    // With htdiag's default threshold the zeros are gone: N = 1 -> alpha = inf.
    let f = fit_power_law(
        &x,
        &FitOptions {
            method: FitMethod::Median,
            ..FitOptions::default()
        },
    );
    assert_eq!(f.alpha, f64::INFINITY);
}

#[test]
fn median_f32_is_their_float32_arithmetic() {
    let x = [0.3f64, 1.7, 2.9, 5.3, 11.1];
    let f = fit_power_law(&x, &no_threshold(FitMethod::Median, Precision::F32));
    // Their pipeline by hand: sigma = float32(sqrt(lambda)), lambda32 = sigma * sigma.
    let l: Vec<f32> = x
        .iter()
        .map(|&v| {
            let s = v.sqrt() as f32;
            s * s
        })
        .collect();
    let logs: Vec<f32> = l[2..].iter().map(|v| v.ln()).collect();
    let sum = (logs[2] as f64 + logs[1] as f64 + logs[0] as f64) as f32;
    let alpha = 1.0f32 + 3.0f32 / (sum - 3.0f32 * logs[0]);
    assert_eq!(f.alpha, alpha as f64);
    assert_eq!(f.xmin, l[2] as f64);
    let d = (0..3)
        .map(|k| (1.0f32 - (l[2 + k] / l[2]).powf(1.0 - alpha) - k as f32 / 3.0f32).abs())
        .fold(0.0f32, f32::max);
    assert_eq!(f.d, d as f64);
}

#[test]
fn histc_bins_ties_and_degenerate_range() {
    // trunc((x - min) * 100 / (max - min)); max -> bin 99.
    let c = histc(&[0.0f64, 0.5, 0.999, 1.0], 0.0, 1.0);
    assert_eq!((c[0], c[50], c[99]), (1, 1, 2));
    assert_eq!(c.iter().sum::<u64>(), 4);
    // min == max: torch widens to [min - 1, max + 1]: every value in bin 50.
    let c = histc(&[2.0f32, 2.0, 2.0], 2.0, 2.0);
    assert_eq!(c[50], 3);
    // linspace: exact endpoints, second half counted from the end.
    let e = linspace(0.0f32, 1.0, 101);
    assert_eq!((e[0], e[100]), (0.0, 1.0));
    assert_eq!(e[50], 1.0f32 - 0.01f32 * 50.0);
    assert_eq!(e[10], 0.01f32 * 10.0);
}

#[test]
fn peak_window_takes_the_first_of_tied_bins() {
    // log10 values 0 .. 1: three values in bin 10 and three in bin 50 (a tie): the first wins.
    let mut h = vec![0.0f64, 0.101, 0.102, 0.103, 0.501, 0.502, 0.503, 1.0];
    let x: Vec<f64> = h.iter().map(|v| 10f64.powf(*v)).collect();
    let (lo, hi) = peak_window(&x);
    let edge = linspace(0.0f64, 1.0, 101)[10];
    let p = 10f64.powf(edge);
    assert_eq!((lo, hi), ((0.95 * p).log10(), 1.5 * p));
    // One more value in bin 50 moves the peak there.
    h.insert(7, 0.504);
    let x: Vec<f64> = h.iter().map(|v| 10f64.powf(*v)).collect();
    let p = 10f64.powf(linspace(0.0f64, 1.0, 101)[50]);
    assert_eq!(peak_window(&x).1, 1.5 * p);
}

/// Section 3's scan, written out plainly over a given candidate set (brute force).
fn brute(x: &[f64], candidates: impl Iterator<Item = usize>) -> (f64, f64, usize) {
    let mut best = (1.0, 0.0, 0usize);
    for c in candidates {
        let n = (x.len() - c) as f64;
        let s: f64 = x[c..].iter().map(|v| v.ln()).sum::<f64>() - n * x[c].ln();
        let a = 1.0 + n / s;
        if a > 1.0 {
            let d = (0..x.len() - c)
                .map(|k| (1.0 - (x[c + k] / x[c]).powf(1.0 - a) - k as f64 / n).abs())
                .fold(0.0, f64::max);
            if d < best.0 {
                best = (d, a, c);
            }
        }
    }
    best
}

#[test]
fn peak_log10_lower_bound_active_and_inactive() {
    let x = [1.0, 1.5, 100.0, 100.5, 101.0, 120.0, 1000.0];
    // log10 range [0, 3]; bin 66 (2.0, 2.002, 2.004) is the peak: p = 10^1.98 = 95.5, so
    // lower = log10(0.95 p) = 1.958 skips the eigenvalues 1 and 1.5, upper = 143.
    let (lo, hi) = peak_window(&x);
    assert!(
        (lo - 1.9577).abs() < 1e-3 && (hi - 143.2).abs() < 0.1,
        "{lo} {hi}"
    );
    let opts = no_threshold(FitMethod::Peak, Precision::F64);
    let f = fit_power_law(&x, &opts);
    let (d, a, c) = brute(&x, 2..6);
    assert_eq!((f.xmin, f.num_pl_spikes), (x[c], (x.len() - c) as i64));
    assert!(close(f.alpha, a) && close(f.d, d), "{f:?} vs {a} {d}");
    assert!(c >= 2);
    // Divided by 1000, p < 1/0.95: lower = log10(0.0907) < 0 skips nothing, upper = 0.143
    // still stops before 1.0: candidates 0..=5.
    let y: Vec<f64> = x.iter().map(|v| v / 1000.0).collect();
    let (lo, _) = peak_window(&y);
    assert!(lo < 0.0);
    let f = fit_power_law(&y, &opts);
    let (d, a, c) = brute(&y, 0..6);
    assert_eq!(f.xmin, y[c]);
    assert!(close(f.alpha, a) && close(f.d, d), "{f:?} vs {a} {d}");
}

#[test]
fn peak_small_and_degenerate_spectra() {
    let opts = no_threshold(FitMethod::Peak, Precision::F64);
    // N = 2 (1, 10): bins 0 and 99 tie, p = 1, the one candidate is 1:
    // alpha = 1 + 2/ln 10, D = 1/2 - e^-2.
    let f = fit_power_law(&[1.0, 10.0], &opts);
    assert!(close(f.alpha, 1.0 + 2.0 / 10f64.ln()), "{f:?}");
    assert!(close(f.d, 0.5 - (-2f64).exp()), "{f:?}");
    // N = 1 and a zero eigenvalue: failed, with their code's failure named.
    assert!(!fit_power_law(&[4.0], &opts).is_valid());
    let why = failure_reason(&[4.0], &opts).unwrap();
    assert!(why.contains("N = 1"), "{why}");
    let z = [0.0, 1.0, 2.0, 3.0];
    assert!(!fit_power_law(&z, &opts).is_valid());
    assert!(
        failure_reason(&z, &opts)
            .unwrap()
            .contains("zero eigenvalue")
    );
    // Equal eigenvalues: every candidate's alpha is inf and D_c = (n_c - 1)/n_c, smallest for
    // the last candidate (c = 2, n = 2).
    let f = fit_power_law(&[1.0; 4], &opts);
    assert_eq!((f.alpha, f.d, f.num_pl_spikes), (f64::INFINITY, 0.5, 4));
}

#[test]
fn peak_f32_and_f64_agree_on_well_separated_spectra() {
    let x: Vec<f64> = (1..=300).map(|i| 0.01 * (i as f64).powf(1.7)).collect();
    let a = fit_power_law(&x, &no_threshold(FitMethod::Peak, Precision::F64));
    let b = fit_power_law(&x, &no_threshold(FitMethod::Peak, Precision::F32));
    assert!(a.is_valid() && b.is_valid());
    assert!((a.alpha - b.alpha).abs() < 1e-4 * a.alpha, "{a:?} {b:?}");
    // f32 results are f32 values.
    assert_eq!(b.alpha, (b.alpha as f32) as f64);
    // The brute force over the window's candidates.
    let (lo, hi) = peak_window(&x);
    let cands: Vec<usize> = (0..x.len() - 1)
        .take_while(|&c| x[c] <= hi)
        .filter(|&c| x[c] >= lo)
        .collect();
    let (d2, a2, c2) = brute(&x, cands.into_iter());
    assert_eq!(a.xmin, x[c2]);
    // (The sums run in another order: agreement to rounding.)
    assert!(
        (a.alpha - a2).abs() < 1e-12 * a2 && (a.d - d2).abs() < 1e-12,
        "{a:?} {a2} {d2}"
    );
}
