//! Synthetic analysis results for tests, benchmarks of the report, and demos: each row's
//! spectrum is a seeded sample (a uniform bulk plus a Pareto tail of known exponent), and every
//! number derived from it (fit, metrics, MP fit, randomized-ESD metrics, summary) is computed
//! from that sample by the library's own [`crate::fit`] and [`crate::metrics`], so plots drawn
//! from it can be checked against the result. Only the "randomized" spectrum is modelled (a
//! uniform bulk at the same mean) since there is no weight matrix to shuffle.

use crate::fit::{FitOptions, fit_power_law};
use crate::metrics::{layer_metrics, mp_fit, randomized, summary};
use crate::result::{
    AnalysisResult, LayerResult, LayerStatus, LayerTimings, LayerType, RunTimings, SkippedTensor,
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

/// One synthetic row.
pub fn layer(layer_id: usize, opts: &SyntheticLayer) -> LayerResult {
    let evals = sample_spectrum(opts.m, opts.tail_alpha, opts.seed);
    let n = (opts.m as f64 * opts.q).round() as usize;
    let fit = fit_power_law(&evals, &FitOptions::default());
    let metrics = layer_metrics(&evals, &[&evals], n, &fit);
    let status = if fit.is_valid() {
        LayerStatus::Success
    } else {
        LayerStatus::Failed
    };
    let mp = opts.with_mp.then(|| mp_fit(&evals, n, opts.m));
    let randomized = opts.with_randomized.then(|| {
        // A shuffled heavy-tailed matrix loses its tail: model that as a uniform bulk at the
        // same mean eigenvalue.
        let mut rng = SplitMix(opts.seed ^ 0xABCD);
        let mean = metrics.norm / evals.len() as f64;
        let mut r: Vec<f64> = (0..evals.len())
            .map(|_| mean * 2.0 * rng.next_f64())
            .collect();
        r.sort_by(f64::total_cmp);
        randomized(&evals, &r)
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
        adapter: None,
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
    let summary = summary(&layers, skipped.len());
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
