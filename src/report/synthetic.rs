//! Synthetic analysis results for tests, benchmarks of the report, and demos: each row's
//! spectrum is a seeded sample (a uniform bulk plus a Pareto tail of known exponent), and every
//! number derived from it (fit, metrics, summary) is computed from that sample by the
//! definitions of METRICS.md, so plots drawn from it can be checked against the result.

use super::scan::scan_points;
use crate::result::{
    AnalysisResult, LayerResult, LayerStatus, LayerTimings, LayerType, MpFit, PowerLawFit,
    RandomizedEsd, RunTimings, SkippedTensor, SpectralMetrics, Summary,
};

/// A small deterministic generator (SplitMix64, Steele et al. 2014), so the samples do not
/// depend on a random-number crate's version.
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits in (0, 1].
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// Options of a synthetic row.
#[derive(Debug, Clone)]
pub struct SyntheticLayer {
    /// Tensor name.
    pub name: String,
    /// Number of eigenvalues (M).
    pub m: usize,
    /// Aspect ratio N / M.
    pub q: f64,
    /// Exponent of the Pareto tail density (> 1).
    pub tail_alpha: f64,
    /// Seed of the sample.
    pub seed: u64,
    /// Also fill an MP fit.
    pub with_mp: bool,
    /// Also fill a randomized ESD.
    pub with_randomized: bool,
}

/// Ascending synthetic spectrum: 60% uniform on [0.02, 1), 40% Pareto(alpha) above 1.
pub fn sample_spectrum(m: usize, tail_alpha: f64, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix(seed ^ 0x5EED);
    let n_tail = (m * 2) / 5;
    let mut v: Vec<f64> = (0..m)
        .map(|i| {
            let u = rng.next_f64();
            if i < n_tail {
                u.powf(-1.0 / (tail_alpha - 1.0))
            } else {
                0.02 + 0.98 * (1.0 - u)
            }
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The default power-law fit of METRICS.md section 3 on an ascending spectrum: the first
/// candidate with the smallest D.
pub fn fit_spectrum(evals: &[f64]) -> PowerLawFit {
    let xmax = evals.last().copied().unwrap_or(-1.0);
    let scan = scan_points(evals);
    let mut best: Option<(usize, f64)> = None;
    for (i, p) in scan.iter().enumerate() {
        if best.is_none_or(|(_, d)| p.d < d) {
            best = Some((i, p.d));
        }
    }
    match best {
        Some((i, _)) if scan[i].alpha > 1.0 && scan[i].d < 1.0 => {
            let p = scan[i];
            let m = evals.iter().filter(|&&v| v >= p.xmin).count();
            PowerLawFit {
                alpha: p.alpha,
                xmin: p.xmin,
                xmax,
                d: p.d,
                sigma: (p.alpha - 1.0) / (m as f64).sqrt(),
                num_pl_spikes: m as i64,
                raw_alpha: None,
                num_fingers: None,
            }
        }
        _ => PowerLawFit::failed(xmax),
    }
}

/// Metrics of METRICS.md section 4 from an ascending spectrum and its fit.
pub fn metrics_of(evals: &[f64], n: usize, fit: &PowerLawFit) -> SpectralMetrics {
    let norm: f64 = evals.iter().sum();
    let lmax = evals.last().copied().unwrap_or(0.0);
    let smax = lmax.sqrt();
    let tol = smax * n as f64 * f64::EPSILON;
    let rank = evals.iter().filter(|&&l| l.sqrt() > tol).count() as i64;
    let entropy = {
        let h: f64 = evals
            .iter()
            .map(|l| {
                let p = l / norm + 1e-10;
                -p * p.ln()
            })
            .sum();
        h / (rank as f64 + 1e-10).ln()
    };
    let alpha = fit.alpha;
    let warning = if !fit.is_valid() {
        ""
    } else if alpha < 2.0 {
        "over-trained"
    } else if alpha > 6.0 {
        "under-trained"
    } else {
        ""
    };
    SpectralMetrics {
        norm,
        log_norm: norm.log10(),
        lambda_max: lmax,
        spectral_norm: lmax,
        log_spectral_norm: lmax.log10(),
        alpha_weighted: alpha * lmax.log10(),
        log_alpha_norm: evals.iter().map(|l| l.powf(alpha)).sum::<f64>().log10(),
        stable_rank: norm / lmax,
        matrix_rank: rank,
        entropy,
        sv_max: smax,
        sv_min: evals.first().copied().unwrap_or(0.0).sqrt(),
        rank_loss: evals.len() as i64 - rank,
        weak_rank_loss: evals.iter().filter(|&&l| l < 1e-6).count() as i64,
        warning: warning.into(),
    }
}

/// One synthetic row.
pub fn layer(layer_id: usize, opts: &SyntheticLayer) -> LayerResult {
    let evals = sample_spectrum(opts.m, opts.tail_alpha, opts.seed);
    let n = (opts.m as f64 * opts.q).round() as usize;
    let fit = fit_spectrum(&evals);
    let metrics = metrics_of(&evals, n, &fit);
    let status = if fit.is_valid() {
        LayerStatus::Success
    } else {
        LayerStatus::Failed
    };
    let mp = opts.with_mp.then(|| {
        let w_scale = (evals.len() as f64 / metrics.norm).sqrt();
        let sigma_mp = 0.9;
        let e = |sign: f64| sigma_mp * sigma_mp * (1.0 + sign / opts.q.sqrt()).powi(2);
        let s2 = w_scale * w_scale;
        MpFit {
            sigma_mp,
            num_spikes: evals.iter().filter(|&&l| l * s2 > e(1.0)).count() as i64,
            mp_softrank: e(1.0) / (metrics.lambda_max * s2),
            bulk_max: e(1.0) / s2,
            bulk_min: e(-1.0) / s2,
            w_scale,
        }
    });
    let randomized = opts.with_randomized.then(|| {
        // A shuffled heavy-tailed matrix loses its tail: model that as a uniform bulk.
        let mut rng = SplitMix(opts.seed ^ 0xABCD);
        let mean = metrics.norm / evals.len() as f64;
        let mut r: Vec<f64> = (0..evals.len())
            .map(|_| mean * 2.0 * rng.next_f64())
            .collect();
        r.sort_by(f64::total_cmp);
        let max_rand = *r.last().unwrap_or(&0.0);
        RandomizedEsd {
            max_rand_eval: max_rand,
            rand_distance: 0.25,
            ww_softrank: max_rand / metrics.lambda_max,
            ww_maxdist: metrics.lambda_max - max_rand,
            rand_num_spikes: evals.iter().filter(|&&l| l > max_rand).count() as i64,
            rand_eigenvalues: r,
        }
    });
    LayerResult {
        layer_id,
        name: opts.name.clone(),
        layer_type: LayerType::Dense,
        slice_id: None,
        dtype: "F32".into(),
        shape: vec![n, opts.m],
        n,
        m: opts.m,
        q: opts.q,
        rf: 1,
        status,
        message: (!fit.is_valid()).then(|| "power-law fit failed".to_string()),
        num_evals: evals.len(),
        fit: Some(fit),
        metrics: Some(metrics),
        mp,
        randomized,
        eigenvalues: evals,
        timings: LayerTimings::default(),
    }
}

/// Model-level means (METRICS.md section 5) of the rows and skip list.
pub fn summarize(layers: &[LayerResult], skipped: usize) -> Summary {
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let analysed: Vec<&LayerResult> = layers
        .iter()
        .filter(|l| l.status != LayerStatus::Error)
        .collect();
    let fitted: Vec<&LayerResult> = analysed
        .iter()
        .copied()
        .filter(|l| l.fit.is_some_and(|f| f.is_valid()))
        .collect();
    let m = |ls: &[&LayerResult], f: fn(&SpectralMetrics) -> f64| {
        mean(
            ls.iter()
                .filter_map(|l| l.metrics.as_ref().map(f))
                .collect(),
        )
    };
    let warn = |w: &str| {
        layers
            .iter()
            .filter(|l| l.metrics.as_ref().is_some_and(|m| m.warning == w))
            .count()
    };
    let mps: Vec<f64> = layers
        .iter()
        .filter_map(|l| l.mp.as_ref().map(|m| m.mp_softrank))
        .collect();
    Summary {
        log_norm: m(&analysed, |x| x.log_norm),
        alpha: mean(
            fitted
                .iter()
                .filter_map(|l| l.fit.map(|f| f.alpha))
                .collect(),
        ),
        alpha_weighted: m(&fitted, |x| x.alpha_weighted),
        log_alpha_norm: m(&fitted, |x| x.log_alpha_norm),
        log_spectral_norm: m(&analysed, |x| x.log_spectral_norm),
        stable_rank: m(&analysed, |x| x.stable_rank),
        mp_softrank: mean(mps),
        num_layers: analysed.len(),
        failed_fits: analysed.len() - fitted.len(),
        errors: layers.len() - analysed.len(),
        skipped,
        over_trained: warn("over-trained"),
        under_trained: warn("under-trained"),
    }
}

/// A synthetic model of `n_layers` rows (sizes 40..200 eigenvalues, tail exponents 1.6..7.5,
/// so both warnings occur), every third row with an MP fit and a randomized ESD, plus one
/// skipped bias vector.
pub fn model(n_layers: usize, seed: u64) -> AnalysisResult {
    let mut layers: Vec<LayerResult> = (0..n_layers)
        .map(|i| {
            let k = (i as u64).wrapping_mul(2654435761).wrapping_add(seed) % 1000;
            layer(
                i + 1,
                &SyntheticLayer {
                    name: format!("model.layers.{i}.mlp.weight"),
                    m: 40 + (k as usize % 161),
                    q: 1.0 + (k % 7) as f64 * 0.5,
                    tail_alpha: 1.6 + (k % 60) as f64 / 10.0,
                    seed: seed.wrapping_add(i as u64 * 7919),
                    with_mp: i % 3 == 0,
                    with_randomized: i % 3 == 0,
                },
            )
        })
        .collect();
    if let Some(last) = layers.last_mut()
        && n_layers > 2
    {
        // One row whose analysis failed, as real runs have them.
        last.status = LayerStatus::Error;
        last.message = Some("non-finite weights (NaN at index 17)".into());
        last.fit = None;
        last.metrics = None;
        last.mp = None;
        last.randomized = None;
        last.eigenvalues.clear();
        last.num_evals = 0;
    }
    let skipped = vec![SkippedTensor {
        layer_id: 0,
        name: "model.embed.bias".into(),
        dtype: "F32".into(),
        shape: vec![64],
        reason: "rank 1 tensor".into(),
    }];
    let summary = summarize(&layers, skipped.len());
    AnalysisResult {
        format_version: crate::result::RESULT_FORMAT_VERSION,
        htdiag_version: env!("CARGO_PKG_VERSION").into(),
        source: format!("synthetic:{n_layers}:{seed}"),
        options: serde_json::json!({"synthetic": true}),
        layers,
        skipped,
        summary,
        timings: RunTimings::default(),
    }
}
