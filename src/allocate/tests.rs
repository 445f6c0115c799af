//! Hand-computed allocations (ALLOCATION.md sections 4 to 7) on small synthetic results.

use super::*;
use crate::result::{
    LayerStatus, LayerTimings, PowerLawFit, SkippedTensor, SpectralMetrics, Summary,
};

fn metrics() -> SpectralMetrics {
    SpectralMetrics {
        norm: 1.0,
        log_norm: 0.0,
        lambda_max: 1.0,
        spectral_norm: 1.0,
        log_spectral_norm: 0.0,
        alpha_weighted: 0.0,
        log_alpha_norm: 0.0,
        stable_rank: 1.0,
        matrix_rank: 1,
        entropy: 0.5,
        sv_max: 1.0,
        sv_min: 0.0,
        rank_loss: 0,
        weak_rank_loss: 0,
        warning: String::new(),
    }
}

fn row(id: usize, name: &str, shape: &[usize], alpha: f64) -> LayerResult {
    let conv = shape.len() == 4;
    let m = if conv {
        shape[0].min(shape[1]) * shape[2] * shape[3]
    } else {
        shape[0].min(shape[1])
    };
    let mut fit = PowerLawFit::failed(1.0);
    fit.alpha = alpha;
    LayerResult {
        layer_id: id,
        name: name.into(),
        layer_type: if conv {
            LayerType::Conv2d
        } else {
            LayerType::Dense
        },
        slice_id: None,
        dtype: "F32".into(),
        shape: shape.to_vec(),
        n: shape[0].max(shape[1]),
        m: shape[0].min(shape[1]),
        q: 1.0,
        rf: 1,
        status: LayerStatus::Success,
        message: None,
        num_evals: m,
        fit: Some(fit),
        metrics: Some(metrics()),
        mp: None,
        randomized: None,
        eigenvalues: Vec::new(),
        timings: LayerTimings::default(),
        adapter: None,
    }
}

fn skipped(id: usize, name: &str, shape: &[usize], reason: &str) -> SkippedTensor {
    SkippedTensor {
        layer_id: id,
        name: name.into(),
        dtype: "F32".into(),
        shape: shape.to_vec(),
        reason: reason.into(),
    }
}

fn result(layers: Vec<LayerResult>, skipped: Vec<SkippedTensor>, fit: &str) -> AnalysisResult {
    AnalysisResult {
        format_version: crate::result::RESULT_FORMAT_VERSION,
        htdiag_version: "test".into(),
        source: "test.safetensors".into(),
        options: serde_json::json!({ "fit": fit }),
        layers,
        skipped,
        summary: Summary::default(),
        timings: Default::default(),
    }
}

fn pruning(sparsity: f64, epsilon: f64, mapping: Mapping, clip: bool) -> Method {
    Method::AlphaPruning(PruningOptions {
        sparsity,
        epsilon,
        mapping,
        clip,
        block_regex: default_block_regex(),
    })
}

/// Three Linear layers in two blocks, plus an embedding and a head outside the blocks.
fn llm(alphas: [f64; 3]) -> AnalysisResult {
    result(
        vec![
            row(0, "model.embed_tokens.weight", &[50, 8], 9.0),
            row(1, "model.layers.0.a.weight", &[10, 10], alphas[0]),
            row(2, "model.layers.0.b.weight", &[10, 30], alphas[1]),
            row(3, "model.layers.1.a.weight", &[20, 30], alphas[2]),
            row(4, "lm_head.weight", &[50, 8], 9.0),
        ],
        vec![skipped(
            5,
            "model.layers.0.norm.weight",
            &[10],
            "rank-1 tensor",
        )],
        "peak",
    )
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn alphapruning_layer_wise_by_hand() {
    let r = llm([2.0, 4.0, 3.0]);
    let a = allocate(
        &r,
        &pruning(0.5, 0.3, Mapping::Layer, false),
        Metric::AlphaPeak,
    )
    .unwrap();
    let names: Vec<&str> = a.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "model.layers.0.a.weight",
            "model.layers.0.b.weight",
            "model.layers.1.a.weight"
        ]
    );
    assert_eq!(a.excluded.len(), 2);
    // r = 0.7, 1.3, 1.0; n = 100, 300, 600; sum n r = 1060; total = 0.5 * 1000 = 500.
    let want = [
        0.7 * 500.0 / 1060.0,
        1.3 * 500.0 / 1060.0,
        1.0 * 500.0 / 1060.0,
    ];
    for (l, w) in a.layers.iter().zip(want) {
        assert!(rel(l.value, w) < 1e-15, "{} vs {w}", l.value);
    }
    assert_eq!(a.layers[2].params, 600);
    assert_eq!(a.layers[0].block.as_deref(), Some("model.layers.0"));
    assert!(rel(a.mean_sparsity.unwrap(), 0.5) < 1e-15);
    assert!(a.warnings.is_empty());
}

#[test]
fn alphapruning_block_means_by_hand() {
    // Block 0 mean (2 + 4)/2 = 3, block 1: 5. Scores 3, 3, 5 -> r = 0.8, 0.8, 1.2 (eps 0.2).
    let r = llm([2.0, 4.0, 5.0]);
    let a = allocate(
        &r,
        &pruning(0.6, 0.2, Mapping::Block, false),
        Metric::AlphaPeak,
    )
    .unwrap();
    let scores: Vec<f64> = a.layers.iter().map(|l| l.score.unwrap()).collect();
    assert_eq!(scores, [3.0, 3.0, 5.0]);
    // sum n r = 100 * 0.8 + 300 * 0.8 + 600 * 1.2 = 1040; total = f32(1000) * f32(0.6).
    let total = (1000.0f32 * 0.6f32) as f64;
    let want = [
        0.8 * total / 1040.0,
        0.8 * total / 1040.0,
        1.2 * total / 1040.0,
    ];
    for (l, w) in a.layers.iter().zip(want) {
        assert!(rel(l.value, w) < 1e-15, "{} vs {w}", l.value);
    }
    // The alpha column keeps each layer's own metric.
    assert_eq!(a.layers[1].alpha, 4.0);
    // Equal block means everywhere: their min-max map divides by zero.
    let e = allocate(
        &llm([2.0, 4.0, 3.0]),
        &pruning(0.6, 0.2, Mapping::Block, false),
        Metric::AlphaPeak,
    );
    assert!(e.unwrap_err().to_string().contains("NaN"));
}

#[test]
fn mean_sparsity_is_their_float32_total() {
    // LLaMA-7B's block Linear parameters: f32(6476005376) * f32(0.7) in f32 / n
    // = 0.69999995256335 (numpy: np.float32(np.float32(n) * np.float32(0.7)) / n).
    let n = 6_476_005_376u64;
    assert_eq!(sparsity::float32_total(n, 0.7) / n as f64, 0.69999995256335);
    // The identity on an irregular model: sum n_l s_l / sum n_l = float32 total / sum n_l.
    let params: Vec<u64> = (0..40).map(|i| 4096 * (1000 + 37 * i * i)).collect();
    let scores: Vec<f64> = (0..40)
        .map(|i| 2.0 + ((i * 7919) % 97) as f64 / 31.0)
        .collect();
    let r = sparsity::unscaled_ratios(&scores, 0.3).unwrap();
    let s = sparsity::scale(&r, &params, 0.7);
    let total: u64 = params.iter().sum();
    let mean = s
        .iter()
        .zip(&params)
        .map(|(s, &n)| s * n as f64)
        .sum::<f64>()
        / total as f64;
    let want = sparsity::float32_total(total, 0.7) / total as f64;
    assert!(rel(mean, want) < 1e-14, "{mean} vs {want}");
    // Higher alpha, higher sparsity.
    let hi = (0..40)
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
        .unwrap();
    assert!(s.iter().all(|&v| v <= s[hi]));
}

#[test]
fn alphapruning_above_one_is_kept_and_warned_or_clipped() {
    let r = llm([1.0, 1.0, 9.0]);
    // eps 0.9, S 0.9: the big layer gets r = 1.9, scaled above 1.
    let a = allocate(
        &r,
        &pruning(0.9, 0.9, Mapping::Layer, false),
        Metric::AlphaPeak,
    )
    .unwrap();
    assert!(a.layers[2].value > 1.0);
    assert!(a.warnings[0].contains("above 1"), "{:?}", a.warnings);
    assert!(rel(a.mean_sparsity.unwrap(), 0.9) < 1e-7);
    let c = allocate(
        &r,
        &pruning(0.9, 0.9, Mapping::Layer, true),
        Metric::AlphaPeak,
    )
    .unwrap();
    assert_eq!(c.layers[2].value, 1.0);
    assert_eq!(c.layers[0].value, a.layers[0].value);
    assert!(c.mean_sparsity.unwrap() < 0.9);
}

#[test]
fn alphapruning_refuses_wrong_fit_failed_layers_and_missing_layers() {
    let r = llm([2.0, 4.0, 3.0]);
    let mut clauset = r.clone();
    clauset.options = serde_json::json!({ "fit": "clauset" });
    let e = allocate(
        &clauset,
        &pruning(0.5, 0.3, Mapping::Layer, false),
        Metric::AlphaPeak,
    );
    assert!(e.unwrap_err().to_string().contains("with the peak fit"));
    let mut failed = r.clone();
    failed.layers[2].fit = Some(PowerLawFit::failed(1.0));
    failed.layers[2].message = Some("power-law fit failed: N = 1".into());
    let e = allocate(
        &failed,
        &pruning(0.5, 0.3, Mapping::Layer, false),
        Metric::AlphaPeak,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("model.layers.0.b.weight") && e.contains("N = 1"),
        "{e}"
    );
    let mut missing = r;
    missing.skipped.push(skipped(
        6,
        "model.layers.1.b.weight",
        &[20, 60000],
        "N = 60000 > max_n 50000",
    ));
    let e = allocate(
        &missing,
        &pruning(0.5, 0.3, Mapping::Layer, false),
        Metric::AlphaPeak,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("model.layers.1.b.weight") && e.contains("the alphapruning layer rules"),
        "{e}"
    );
}

/// A CNN: first conv, three convs (one with a batch norm), one small conv, the head.
fn cnn(alphas: [f64; 3]) -> AnalysisResult {
    result(
        vec![
            row(0, "conv1.weight", &[64, 3, 3, 3], 3.0),
            row(1, "layer1.0.conv1.weight", &[64, 64, 3, 3], alphas[0]),
            row(6, "layer1.0.conv2.weight", &[64, 64, 3, 3], alphas[1]),
            row(7, "layer1.0.small.weight", &[4, 4, 3, 3], 3.0),
            row(8, "layer2.0.conv1.weight", &[64, 64, 1, 1], alphas[2]),
            row(9, "fc.weight", &[10, 64], 3.0),
        ],
        vec![
            skipped(2, "layer1.0.bn1.weight", &[64], "rank-1 tensor"),
            skipped(3, "layer1.0.bn1.bias", &[64], "rank-1 tensor"),
            skipped(4, "layer1.0.bn1.running_mean", &[64], "rank-1 tensor"),
            skipped(5, "layer1.0.bn1.running_var", &[64], "rank-1 tensor"),
            skipped(10, "fc.bias", &[10], "rank-1 tensor"),
        ],
        "median",
    )
}

fn schedule(base: f64, ratios: (f64, f64), map: Map) -> ScheduleOptions {
    ScheduleOptions {
        base,
        ratios,
        map,
        min_evals: 50,
    }
}

#[test]
fn tempbalance_exclusions_linear_map_and_batchnorm() {
    let r = cnn([2.0, 4.0, 3.0]);
    let m = Method::TempBalance(schedule(0.1, (0.5, 1.5), Map::Linear));
    let a = allocate(&r, &m, Metric::AlphaMid).unwrap();
    let excluded: Vec<&str> = a.excluded.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        excluded,
        ["conv1.weight", "fc.weight", "layer1.0.small.weight"]
    );
    assert!(a.excluded[2].reason.contains("36 eigenvalues < 50"));
    let got: Vec<(&str, f64)> = a
        .layers
        .iter()
        .map(|l| (l.name.as_str(), l.value))
        .collect();
    let (lo, hi) = (0.5 * 0.1, 1.5 * 0.1);
    assert_eq!(hi, 0.15000000000000002);
    // alpha 2 -> lo, 4 -> hi, 3 -> slope * (3 - 2) + lo with slope = (hi - lo) / 2.
    let mid = (hi - lo) / (4.0 - 2.0) * (3.0 - 2.0) + lo;
    assert_eq!(
        got,
        [
            ("layer1.0.conv1.weight", lo),
            ("layer1.0.bn1.weight", lo),
            ("layer1.0.conv2.weight", hi),
            ("layer2.0.conv1.weight", mid)
        ]
    );
    let bn = &a.layers[1];
    assert_eq!(bn.module, "layer1.0.bn1");
    assert_eq!(bn.inherits.as_deref(), Some("layer1.0.conv1.weight"));
    assert_eq!(bn.params, 128);
}

#[test]
fn tempbalance_sqrt_log2_step_by_hand() {
    let s = [4.0, 16.0, 1.0, 9.0];
    let lr = 0.1;
    // sqrt: (2, 4, 1, 3) / 10 * 4 * lr.
    let v = layer_values_of(&s, lr, Map::Sqrt);
    assert_eq!(
        v,
        [
            2.0 / 10.0 * 4.0 * lr,
            4.0 / 10.0 * 4.0 * lr,
            1.0 / 10.0 * 4.0 * lr,
            3.0 / 10.0 * 4.0 * lr
        ]
    );
    // log2: (2, 4, 0, log2 9) / (6 + log2 9) * 4 * lr.
    let t = 6.0 + 9f64.log2();
    let v = layer_values_of(&s, lr, Map::Log2);
    assert_eq!(v[1], 4.0 / t * 4.0 * lr);
    assert_eq!(v[2], 0.0);
    // step: ranks (1, 3, 0, 2) -> lr * (0.5 + 1.0 * r / 4).
    let v = layer_values_of(&s, lr, Map::Step);
    let step = |r: f64| lr * (0.5 + (1.5 - 0.5) * r / 4.0);
    assert_eq!(v, [step(1.0), step(3.0), step(0.0), step(2.0)]);
    // linear with one layer (min == max): numpy's interp returns the right end.
    assert_eq!(
        layer_values_of(&[3.0], lr, Map::Linear),
        [0.15000000000000002]
    );
}

fn layer_values_of(s: &[f64], lr: f64, map: Map) -> Vec<f64> {
    schedule::layer_values(s, lr, (0.5, 1.5), map)
}

#[test]
fn alphadecay_and_inf_alpha() {
    let r = cnn([2.0, f64::INFINITY, 3.0]);
    let m = Method::AlphaDecay(schedule(5e-4, (0.666, 3.0), Map::Linear));
    let a = allocate(&r, &m, Metric::AlphaMid).unwrap();
    // alpha = inf is the max: numpy's interp gives it the top value and every finite layer
    // the bottom one (slope (hi - lo) / inf = 0).
    let vals: Vec<f64> = a.layers.iter().map(|l| l.value).collect();
    let (lo, hi) = (0.666 * 5e-4, 3.0 * 5e-4);
    assert_eq!(vals, [lo, lo, hi, lo]);
    assert!(a.warnings[0].contains("inf"), "{:?}", a.warnings);
    // JSON keeps the infinity.
    let text = output::to_json(&a).unwrap();
    assert!(text.contains("\"alpha\": \"inf\""), "{text}");
    let back: Allocation = serde_json::from_str(&text).unwrap();
    assert_eq!(back, a);
    assert_eq!(a.settings["map"], "linear");
    let csv = output::to_csv(&a);
    assert_eq!(csv.lines().count(), 1 + 4);
    assert!(
        csv.lines()
            .nth(2)
            .unwrap()
            .starts_with("layer1.0.bn1.weight,layer1.0.bn1,2.0,,")
    );
}

#[test]
fn inf_alpha_round_trips_through_the_result_json() {
    let r = cnn([2.0, f64::INFINITY, 3.0]);
    let text = serde_json::to_string(&r).unwrap();
    let back: AnalysisResult = serde_json::from_str(&text).unwrap();
    assert_eq!(back.layers[2].fit.unwrap().alpha, f64::INFINITY);
    assert_eq!(back.layers[1].fit.unwrap().alpha, 2.0);
}

#[test]
fn table_names_the_mean_and_warnings() {
    let a = allocate(
        &llm([1.0, 1.0, 9.0]),
        &pruning(0.9, 0.9, Mapping::Layer, false),
        Metric::AlphaPeak,
    )
    .unwrap();
    let t = output::render_table(&a);
    assert!(t.contains("parameter-weighted mean sparsity"), "{t}");
    assert!(t.contains("warning:") && t.contains("above 1"), "{t}");
    assert!(t.contains("left alone: lm_head.weight"), "{t}");
}
