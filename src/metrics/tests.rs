//! Unit tests of the metrics against closed forms and direct computations.

use super::*;
use crate::fit::{FitOptions, fit_power_law};
use crate::matrices::MatrixRef;
use crate::result::{LayerResult, LayerStatus, LayerTimings, LayerType, PowerLawFit};
use crate::spectrum::{Eigensolver, Lapack};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// 6 x 4 matrix with singular values `s` (orthonormal columns from a Householder reflection).
fn with_singular_values(s: &[f64; 4]) -> Vec<f64> {
    let (rows, cols) = (6usize, 4usize);
    let v = [0.2, -0.4, 0.1, 0.6, 0.3, -0.5];
    let nv: f64 = v.iter().map(|x| x * x).sum();
    let mut w = vec![0.0; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            let h = if i == j { 1.0 } else { 0.0 } - 2.0 * v[i] * v[j] / nv;
            w[i * cols + j] = h * s[j];
        }
    }
    w
}

#[test]
fn metrics_of_known_singular_values() {
    let s = [3.0, 2.0, 0.5, 0.0];
    let w = with_singular_values(&s);
    let e = Lapack::default()
        .eigenvalues(&MatrixRef::from_f64(&w, 6, 4))
        .unwrap();
    let fit = PowerLawFit {
        alpha: 2.5,
        ..PowerLawFit::failed(9.0)
    };
    let m = layer_metrics(&e, &[&e], 6, &fit);
    let lam = [9.0, 4.0, 0.25, 0.0];
    let norm: f64 = lam.iter().sum();
    assert!(rel(m.norm, norm) < 1e-12);
    assert!(rel(m.log_norm, norm.log10()) < 1e-12);
    assert!(rel(m.lambda_max, 9.0) < 1e-12 && m.spectral_norm == m.lambda_max);
    assert!(rel(m.stable_rank, norm / 9.0) < 1e-12);
    assert!(rel(m.sv_max, 3.0) < 1e-12);
    assert!(m.sv_min < 1e-7);
    assert_eq!(m.matrix_rank, 3);
    assert_eq!(m.rank_loss, 1);
    assert_eq!(m.weak_rank_loss, 1);
    assert!(rel(m.alpha_weighted, 2.5 * 9f64.log10()) < 1e-12);
    let lan: f64 = lam.iter().map(|l: &f64| l.powf(2.5)).sum();
    assert!(rel(m.log_alpha_norm, lan.log10()) < 1e-10);
    let h: f64 = lam
        .iter()
        .map(|l| {
            let p = l / norm + 1e-10;
            -p * p.ln()
        })
        .sum();
    assert!(rel(m.entropy, h / (3.0f64 + 1e-10).ln()) < 1e-9);
    assert_eq!(m.warning, "");
}

#[test]
fn entropy_of_flat_spectrum_is_one() {
    let e = vec![2.0; 50];
    let m = layer_metrics(&e, &[&e], 80, &PowerLawFit::failed(2.0));
    assert!((m.entropy - 1.0).abs() < 1e-6, "{}", m.entropy);
    assert_eq!(m.matrix_rank, 50);
    assert!(m.alpha_weighted.is_nan() && m.log_alpha_norm.is_nan());
    assert_eq!(m.warning, "failed");
}

#[test]
fn per_slice_rank_loss_and_true_sv_min() {
    // Two slices: one full rank, one with an exact zero singular value.
    let a = vec![1.0, 4.0, 9.0];
    let b = vec![0.0, 1e-3, 16.0];
    let pooled = pool(&[&a, &b]);
    assert_eq!(pooled, vec![0.0, 1e-3, 1.0, 4.0, 9.0, 16.0]);
    let fit = fit_power_law(&pooled, &FitOptions::default());
    let m = layer_metrics(&pooled, &[&a, &b], 10, &fit);
    assert_eq!(m.rank_loss, 1);
    assert_eq!(m.sv_min, 0.0);
    assert_eq!(m.sv_max, 4.0);
    assert_eq!(m.num_evals_check(), 6);
}

trait Count {
    fn num_evals_check(&self) -> usize;
}
impl Count for crate::result::SpectralMetrics {
    fn num_evals_check(&self) -> usize {
        (self.matrix_rank + self.rank_loss) as usize
    }
}

#[test]
fn warnings() {
    let mk = |alpha| PowerLawFit {
        alpha,
        xmin: 1.0,
        ..PowerLawFit::failed(1.0)
    };
    assert_eq!(warning(&mk(1.5)), "over-trained");
    assert_eq!(warning(&mk(2.0)), "");
    assert_eq!(warning(&mk(6.0)), "");
    assert_eq!(warning(&mk(6.5)), "under-trained");
    assert_eq!(warning(&PowerLawFit::failed(1.0)), "failed");
}

#[test]
fn nelder_mead_minimises() {
    let (x, f) = fmin(
        |p| (p[0] - 3.0).powi(2) + 1.0,
        &[1.0],
        &NelderMead::default(),
    );
    assert!((x[0] - 3.0).abs() < 1e-3 && (f - 1.0).abs() < 1e-6, "{x:?}");
    let tight = NelderMead {
        xtol: 1e-10,
        ftol: 1e-12,
        max_iter: Some(2000),
        max_fun: Some(4000),
    };
    let rosen = |p: &[f64]| 100.0 * (p[1] - p[0] * p[0]).powi(2) + (1.0 - p[0]).powi(2);
    let (x, f) = fmin(rosen, &[-1.2, 1.0], &tight);
    assert!(
        (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4 && f < 1e-8,
        "{x:?}"
    );
    // Starting at 0 uses the absolute step.
    let (x, _) = fmin(|p| (p[0] - 0.01).powi(2), &[0.0], &NelderMead::default());
    assert!((x[0] - 0.01).abs() < 1e-4);
}

#[test]
fn numpy_grids() {
    use super::mp::{arange, linspace};
    let g = arange(0.05, 2.0, 0.01);
    assert_eq!(g.len(), 195);
    assert_eq!(g[0], 0.05);
    let l = linspace(0.0, 3.5, 1000);
    assert_eq!(l.len(), 1000);
    assert_eq!(l[999], 3.5);
    assert!(rel(l[500], 3.5 * 500.0 / 999.0) < 1e-15);
}

#[test]
fn kde_matches_direct_sum() {
    use super::mp::linear_kde;
    let x: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64 / 40.0).collect();
    let mut xs = x.clone();
    xs.sort_by(f64::total_cmp);
    let pts: Vec<f64> = (0..300).map(|i| i as f64 * 0.01).collect();
    let h = 0.1f64;
    let got = linear_kde(&xs, &pts, h);
    for (t, g) in pts.iter().zip(&got) {
        let want: f64 = x
            .iter()
            .map(|v: &f64| (1.0 - (t - v).abs() / h).max(0.0))
            .sum::<f64>()
            / (x.len() as f64 * h);
        assert!((g - want).abs() < 1e-12, "{t}: {g} vs {want}");
    }
    // A density: integrates to ~1.
    let pts: Vec<f64> = (0..4000).map(|i| -0.5 + i as f64 * 0.001).collect();
    let area: f64 = linear_kde(&xs, &pts, h).iter().sum::<f64>() * 0.001;
    assert!((area - 1.0).abs() < 1e-3, "{area}");
}

/// Gaussian matrix from a seeded generator (Box-Muller on ChaCha8).
fn gaussian(rows: usize, cols: usize, seed: u64) -> Vec<f64> {
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::{Rng, SeedableRng};
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut u = || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (0..rows * cols)
        .map(|_| (-2.0 * u().ln()).sqrt() * (2.0 * std::f64::consts::PI * u()).cos())
        .collect()
}

#[test]
fn mp_fit_of_random_matrix() {
    // A Gaussian 400 x 100 matrix: the rescaled ESD is MP with sigma = 1 and Q = 4, no spikes.
    let (n, m) = (400, 100);
    let w = gaussian(n, m, 3);
    let e = Lapack::default()
        .eigenvalues(&MatrixRef::from_f64(&w, n, m))
        .unwrap();
    let mp = mp_fit(&e, n, m);
    assert!((mp.sigma_mp - 1.0).abs() < 0.1, "{mp:?}");
    assert_eq!(mp.num_spikes, 0, "{mp:?}");
    // Bulk edges in original units: sigma_w^2 * N * (1 +- 1/sqrt(Q))^2 with sigma_w = 1.
    assert!(rel(mp.bulk_max, n as f64 * 1.5f64.powi(2)) < 0.15, "{mp:?}");
    assert!(mp.mp_softrank > 0.8 && mp.mp_softrank < 1.2, "{mp:?}");
    // A strong rank-one spike is counted.
    let mut w2 = w.clone();
    for i in 0..n {
        for j in 0..m {
            w2[i * m + j] += 0.3 * ((i % 7) as f64 - 3.0) * ((j % 5) as f64 - 2.0);
        }
    }
    let e2 = Lapack::default()
        .eigenvalues(&MatrixRef::from_f64(&w2, n, m))
        .unwrap();
    let mp2 = mp_fit(&e2, n, m);
    assert!(mp2.num_spikes >= 1, "{mp2:?}");
    // Degenerate input does not panic.
    assert!(mp_fit(&[], 4, 2).sigma_mp.is_nan());
    assert!(mp_fit(&[0.0, 0.0], 4, 2).sigma_mp.is_nan());
}

#[test]
fn shuffle_is_a_seeded_permutation() {
    let w: Vec<f64> = (0..60).map(|i| i as f64).collect();
    let m = MatrixRef::from_f64(&w, 6, 10);
    let a = shuffle_entries(&m, 42);
    let b = shuffle_entries(&m, 42);
    let c = shuffle_entries(&m, 43);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, w);
    let mut s = a.clone();
    s.sort_by(f64::total_cmp);
    assert_eq!(s, w);
    // Roughly uniform: over many seeds each position sees many values.
    let mut first = std::collections::HashSet::new();
    for seed in 0..200 {
        first.insert(shuffle_entries(&m, seed)[0] as i64);
    }
    assert!(first.len() > 40, "{}", first.len());
}

#[test]
fn randomized_comparison() {
    use super::randomize::jensen_shannon_distance;
    let e = vec![1.0, 2.0, 3.0, 10.0];
    let r = vec![2.0, 2.0, 3.0, 5.0];
    let out = randomized(&e, &r);
    assert_eq!(out.max_rand_eval, 5.0);
    assert_eq!(out.ww_softrank, 0.5);
    assert_eq!(out.ww_maxdist, 5.0);
    assert_eq!(out.rand_num_spikes, 1);
    assert_eq!(out.rand_eigenvalues, r);
    // Direct JSD with p = e/16, q = r/12.
    let (p, q): (Vec<f64>, Vec<f64>) = (
        e.iter().map(|v| v / 16.0).collect(),
        r.iter().map(|v| v / 12.0).collect(),
    );
    let mut js = 0.0;
    for (a, b) in p.iter().zip(&q) {
        let m = (a + b) / 2.0;
        js += 0.5 * (a * (a / m).ln() + b * (b / m).ln());
    }
    assert!(rel(out.rand_distance, js.sqrt()) < 1e-12);
    assert_eq!(jensen_shannon_distance(&e, &e), 0.0);
    assert!(jensen_shannon_distance(&e, &r[..3]).is_nan());
    // Shuffling a rank-one matrix destroys its single large eigenvalue.
    let (n, m) = (60, 30);
    let w: Vec<f64> = (0..n * m)
        .map(|k| ((k / m) as f64 + 1.0) * ((k % m) as f64 + 1.0) / 100.0)
        .collect();
    let mr = MatrixRef::from_f64(&w, n, m);
    let ev = Lapack::default().eigenvalues(&mr).unwrap();
    let sh = shuffle_entries(&mr, 7);
    let rv = Lapack::default()
        .eigenvalues(&MatrixRef::from_f64(&sh, n, m))
        .unwrap();
    let out = randomized(&ev, &rv);
    assert!(rel(rv.iter().sum(), ev.iter().sum()) < 1e-10);
    assert!(out.ww_softrank < 0.9 && out.rand_num_spikes == 1, "{out:?}");
}

fn row(status: LayerStatus, alpha: f64, log_norm: f64, mp: Option<f64>) -> LayerResult {
    let fit = PowerLawFit {
        alpha,
        xmin: 1.0,
        ..PowerLawFit::failed(1.0)
    };
    let e = vec![1.0, 2.0, 4.0];
    let mut metrics = layer_metrics(&e, &[&e], 4, &fit);
    metrics.log_norm = log_norm;
    LayerResult {
        layer_id: 0,
        name: "t".into(),
        layer_type: LayerType::Dense,
        slice_id: None,
        dtype: "F32".into(),
        shape: vec![4, 3],
        n: 4,
        m: 3,
        q: 4.0 / 3.0,
        rf: 1,
        status,
        message: None,
        // The count a confident fit needs (the metrics above come from three values; the
        // summary reads only this count, see summary_leaves_low_confidence_rows_out).
        num_evals: crate::fit::SMALL_N_LIMIT,
        fit: (status != LayerStatus::Error).then_some(fit),
        metrics: (status != LayerStatus::Error).then_some(metrics),
        mp: mp.map(|s| crate::result::MpFit {
            sigma_mp: 1.0,
            num_spikes: 0,
            mp_softrank: s,
            bulk_max: 1.0,
            bulk_min: 0.1,
            w_scale: 1.0,
        }),
        randomized: None,
        eigenvalues: e,
        timings: LayerTimings::default(),
        adapter: None,
    }
}

#[test]
fn summary_excludes_failed_fits() {
    let rows = vec![
        row(LayerStatus::Success, 3.0, 1.0, Some(0.5)),
        row(LayerStatus::Success, 1.5, 2.0, None),
        row(LayerStatus::Failed, -1.0, 3.0, Some(0.7)),
        row(LayerStatus::Error, -1.0, 100.0, None),
    ];
    let s = summary(&rows, 5);
    assert_eq!(s.num_layers, 3);
    assert_eq!(s.failed_fits, 1);
    assert_eq!(s.errors, 1);
    assert_eq!(s.skipped, 5);
    assert_eq!(s.alpha, Some(2.25));
    assert_eq!(s.log_norm, Some(2.0));
    assert!((s.mp_softrank.unwrap() - 0.6).abs() < 1e-15);
    let aw = (3.0 * 4f64.log10() + 1.5 * 4f64.log10()) / 2.0;
    assert!(rel(s.alpha_weighted.unwrap(), aw) < 1e-12);
    assert_eq!((s.over_trained, s.under_trained), (1, 0));
    let empty = summary(&[], 0);
    assert_eq!(empty.alpha, None);
    assert_eq!(empty.num_layers, 0);
}

/// Fits on fewer than 20 eigenvalues and depthwise convolutions keep WeightWatcher's row
/// warning but are counted as low-confidence, not over- or under-trained; they still enter
/// the means.
#[test]
fn summary_leaves_low_confidence_rows_out() {
    let over = row(LayerStatus::Success, 1.5, 1.0, None);
    let mut small = row(LayerStatus::Success, 1.2, 1.0, None);
    small.num_evals = crate::fit::SMALL_N_LIMIT - 1;
    let mut depthwise = row(LayerStatus::Success, 7.0, 1.0, None);
    depthwise.layer_type = LayerType::Conv2d;
    depthwise.shape = vec![32, 1, 3, 3];
    depthwise.num_evals = 32;
    let mut failed_small = row(LayerStatus::Failed, -1.0, 1.0, None);
    failed_small.num_evals = 5;
    for r in [&over, &small] {
        assert_eq!(r.metrics.as_ref().unwrap().warning, "over-trained");
    }
    assert_eq!(depthwise.metrics.as_ref().unwrap().warning, "under-trained");
    assert!(!low_confidence(&over) && low_confidence(&small) && low_confidence(&depthwise));
    assert!(
        !low_confidence(&failed_small),
        "a failed fit is 'failed', not low-confidence"
    );
    let s = summary(&[over, small, depthwise, failed_small], 0);
    assert_eq!(
        (s.over_trained, s.under_trained, s.low_confidence),
        (1, 0, 2)
    );
    assert_eq!(s.alpha, Some((1.5 + 1.2 + 7.0) / 3.0));
}
