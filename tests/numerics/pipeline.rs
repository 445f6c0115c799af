//! The whole `analyze` pipeline against WeightWatcher: the synthetic checkpoint (every
//! column of WeightWatcher 0.7.7's `details`), the 0.7.6 vectors written into a real
//! safetensors file, layer-level bad input, and thread-count independence.

use std::collections::HashMap;
use std::path::Path;

use htdiag::analyze::{AnalyzeOptions, Silent, analyze};
use htdiag::checkpoint::Checkpoint;
use htdiag::result::{AnalysisResult, LayerResult, LayerStatus};
use safetensors::tensor::{Dtype, TensorView};
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn run(path: &Path, opts: &AnalyzeOptions) -> AnalysisResult {
    let ckpt = Checkpoint::open(path).expect("open");
    analyze(&ckpt, opts, &Silent, None).expect("analyze")
}

fn rel_close(what: &str, got: f64, want: f64, tol: f64) {
    let err = (got - want).abs() / want.abs().max(1e-300);
    assert!(
        err <= tol || (got - want).abs() < 1e-12,
        "{what}: got {got}, want {want} (rel err {err:e})"
    );
}

/// Every metric of `row` by WeightWatcher's column name.
fn columns(row: &LayerResult) -> HashMap<&'static str, f64> {
    let f = row.fit.expect("fit");
    let m = row.metrics.as_ref().expect("metrics");
    HashMap::from([
        ("N", row.n as f64),
        ("M", row.m as f64),
        ("Q", row.q),
        ("rf", row.rf as f64),
        ("num_evals", row.num_evals as f64),
        ("alpha", f.alpha),
        ("xmin", f.xmin),
        ("xmax", f.xmax),
        ("D", f.d),
        ("sigma", f.sigma),
        ("num_pl_spikes", f.num_pl_spikes as f64),
        ("norm", m.norm),
        ("log_norm", m.log_norm),
        ("spectral_norm", m.spectral_norm),
        ("lambda_max", m.lambda_max),
        ("log_spectral_norm", m.log_spectral_norm),
        ("alpha_weighted", m.alpha_weighted),
        ("log_alpha_norm", m.log_alpha_norm),
        ("stable_rank", m.stable_rank),
        ("matrix_rank", m.matrix_rank as f64),
        ("entropy", m.entropy),
        ("sv_max", m.sv_max),
        ("sv_min", m.sv_min),
        ("rank_loss", m.rank_loss as f64),
        ("weak_rank_loss", m.weak_rank_loss as f64),
    ])
}

const INTEGER_COLUMNS: [&str; 8] = [
    "N",
    "M",
    "rf",
    "num_evals",
    "num_pl_spikes",
    "matrix_rank",
    "rank_loss",
    "weak_rank_loss",
];

#[test]
fn synthetic_checkpoint_matches_weightwatcher_details() {
    let result = run(
        &Path::new(DATA).join("synthetic-model.safetensors"),
        &AnalyzeOptions::default(),
    );
    let csv = std::fs::read_to_string(Path::new(DATA).join("synthetic-model_ww-0.7.7_details.csv"))
        .unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut seen = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let get = |c: &str| cells[header.iter().position(|h| *h == c).unwrap()];
        let name = format!("{}.weight", get("name"));
        let row = result
            .layers
            .iter()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("{name} not analysed"));
        assert_eq!(row.status, LayerStatus::Success, "{name}");
        assert_eq!(row.layer_type.as_str(), get("layer_type"), "{name}");
        let ours = columns(row);
        for (col, got) in &ours {
            // sv_min of conv layers differs on purpose (true minimum over slices).
            if *col == "sv_min" && row.rf > 1 {
                continue;
            }
            let want: f64 = get(col).parse().unwrap();
            if INTEGER_COLUMNS.contains(col) {
                assert_eq!(*got, want, "{name} {col}");
            } else {
                rel_close(&format!("{name} {col}"), *got, want, 1e-6);
            }
        }
        assert_eq!(
            row.metrics.as_ref().unwrap().warning,
            get("warning"),
            "{name}"
        );
        seen += 1;
    }
    assert_eq!(seen, 20);
    assert_eq!(result.layers.len(), 20, "exactly WeightWatcher's 20 rows");
    assert_eq!(result.skipped.len(), 19);
    assert!(result.skipped.iter().all(|s| !s.reason.is_empty()));
    // The true minimum singular value over slices is never above WeightWatcher's max-of-minima.
    let conv = result
        .layers
        .iter()
        .find(|l| l.name == "conv.0.weight")
        .unwrap();
    assert!(conv.metrics.as_ref().unwrap().sv_min <= 0.11888598817723997 + 1e-12);
}

/// Writes the two tensors of the conformance README (f32, from their formulas).
fn write_vectors_model(path: &Path) {
    let dense: Vec<f32> = (0..64)
        .flat_map(|i| {
            (0..32).map(move |j| {
                ((0.37 * ((i + 1) * (j + 1)) as f64).sin() + 0.01 * (i as f64 - j as f64)) as f32
            })
        })
        .collect();
    let mut conv = Vec::with_capacity(16 * 8 * 9);
    for a in 0..16 {
        for b in 0..8 {
            for c in 0..3 {
                for d in 0..3 {
                    let (a, b, c, d) = (a as f64, b as f64, c as f64, d as f64);
                    let v = (0.11 * (a + 1.0) * (b + 2.0) + 0.7 * c - 0.3 * d + 0.05 * a * d).cos();
                    conv.push(v as f32);
                }
            }
        }
    }
    let db: Vec<u8> = dense.iter().flat_map(|x| x.to_le_bytes()).collect();
    let cb: Vec<u8> = conv.iter().flat_map(|x| x.to_le_bytes()).collect();
    let tensors = vec![
        (
            "dense.weight",
            TensorView::new(Dtype::F32, vec![64, 32], &db).unwrap(),
        ),
        (
            "conv.weight",
            TensorView::new(Dtype::F32, vec![16, 8, 3, 3], &cb).unwrap(),
        ),
    ];
    safetensors::serialize_to_file(tensors, None, path).unwrap();
}

fn vectors() -> Value {
    let text =
        std::fs::read_to_string(Path::new(DATA).join("weightwatcher-0.7.6-vectors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn conformance_vectors_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vectors.safetensors");
    write_vectors_model(&path);
    let v = vectors();

    let opts = AnalyzeOptions {
        mp_fit: true,
        ..AnalyzeOptions::default()
    };
    let pooled = run(&path, &opts);
    for want in v["V_dense_conv_pooled"].as_array().unwrap() {
        let name = format!("{}.weight", want["name"].as_str().unwrap());
        let row = pooled.layers.iter().find(|l| l.name == name).unwrap();
        let ours = columns(row);
        for (col, w) in want.as_object().unwrap() {
            let Some(got) = ours.get(col.as_str()) else {
                continue;
            };
            if col == "sv_min" && row.rf > 1 {
                continue;
            }
            let w = w.as_f64().unwrap();
            if INTEGER_COLUMNS.contains(&col.as_str()) {
                assert_eq!(*got, w, "{name} {col}");
            } else {
                rel_close(&format!("{name} {col}"), *got, w, 1e-6);
            }
        }
        assert_eq!(
            row.metrics.as_ref().unwrap().warning,
            want["warning"].as_str().unwrap()
        );
    }
    for want in v["V_mpfit"].as_array().unwrap() {
        let name = format!("{}.weight", want["name"].as_str().unwrap());
        let mp = pooled
            .layers
            .iter()
            .find(|l| l.name == name)
            .unwrap()
            .mp
            .clone()
            .unwrap();
        assert_eq!(
            mp.num_spikes,
            want["num_spikes"].as_i64().unwrap(),
            "{name}"
        );
        for (col, got) in [
            ("sigma_mp", mp.sigma_mp),
            ("mp_softrank", mp.mp_softrank),
            ("bulk_max", mp.bulk_max),
            ("bulk_min", mp.bulk_min),
            ("W_scale", mp.w_scale),
        ] {
            rel_close(
                &format!("{name} {col}"),
                got,
                want[col].as_f64().unwrap(),
                1e-6,
            );
        }
    }

    let mut opts = AnalyzeOptions::default();
    opts.plan.per_slice = true;
    let sliced = run(&path, &opts);
    let conv: Vec<&LayerResult> = sliced
        .layers
        .iter()
        .filter(|l| l.name == "conv.weight")
        .collect();
    let want = v["V_conv_unpooled"].as_array().unwrap();
    assert_eq!(conv.len(), want.len());
    for w in want {
        let sid = w["slice_id"].as_u64().unwrap() as usize;
        let row = conv.iter().find(|l| l.slice_id == Some(sid)).unwrap();
        let ours = columns(row);
        for (col, wv) in w.as_object().unwrap() {
            if col == "slice_id" {
                continue;
            }
            let got = ours[col.as_str()];
            if INTEGER_COLUMNS.contains(&col.as_str()) {
                assert_eq!(got, wv.as_f64().unwrap(), "slice {sid} {col}");
            } else {
                rel_close(
                    &format!("slice {sid} {col}"),
                    got,
                    wv.as_f64().unwrap(),
                    1e-6,
                );
            }
        }
    }
}

#[test]
fn layer_level_trouble_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    let good: Vec<f32> = (0..40 * 20)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let mut nan = good.clone();
    nan[7 * 20 + 3] = f32::NAN;
    let mut inf = good.clone();
    inf[5] = f32::INFINITY;
    let zero = vec![0f32; 40 * 20];
    let wide: Vec<f32> = (0..64).map(|i| i as f32).collect();
    let bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let (g, n, i, z, w) = (
        bytes(&good),
        bytes(&nan),
        bytes(&inf),
        bytes(&zero),
        bytes(&wide),
    );
    let tensors = vec![
        (
            "a.good",
            TensorView::new(Dtype::F32, vec![40, 20], &g).unwrap(),
        ),
        (
            "b.nan",
            TensorView::new(Dtype::F32, vec![40, 20], &n).unwrap(),
        ),
        (
            "c.inf",
            TensorView::new(Dtype::F32, vec![40, 20], &i).unwrap(),
        ),
        (
            "d.zero",
            TensorView::new(Dtype::F32, vec![40, 20], &z).unwrap(),
        ),
        (
            "e.one_by_n",
            TensorView::new(Dtype::F32, vec![1, 64], &w).unwrap(),
        ),
    ];
    safetensors::serialize_to_file(tensors, None, &path).unwrap();

    let mut opts = AnalyzeOptions::default();
    opts.plan.min_evals = 1; // let the 1 x 64 matrix through to the fit
    let r = run(&path, &opts);
    let by = |name: &str| r.layers.iter().find(|l| l.name == name).unwrap();
    assert_eq!(by("a.good").status, LayerStatus::Success);
    let nan_row = by("b.nan");
    assert_eq!(nan_row.status, LayerStatus::Error);
    assert!(
        nan_row.message.as_ref().unwrap().contains("[7, 3]"),
        "{:?}",
        nan_row.message
    );
    assert_eq!(by("c.inf").status, LayerStatus::Error);
    let zero_row = by("d.zero");
    assert_eq!(zero_row.status, LayerStatus::Failed);
    assert!(zero_row.message.as_ref().unwrap().contains("zero"));
    assert_eq!(zero_row.fit.unwrap().alpha, -1.0);
    // 1 x N: a single eigenvalue, ||w||^2; no tail to fit, but no panic and a finite norm.
    let one = by("e.one_by_n");
    assert_eq!(one.num_evals, 1);
    assert_eq!(one.status, LayerStatus::Failed);
    let want: f64 = (0..64).map(|i| (i * i) as f64).sum();
    rel_close("1xN norm", one.metrics.as_ref().unwrap().norm, want, 1e-12);
    assert_eq!(r.summary.errors, 2);
    assert_eq!(r.summary.failed_fits, 2);

    // With default filters the 1 x N matrix is skipped, with its reason.
    let r = run(&path, &AnalyzeOptions::default());
    let s = r.skipped.iter().find(|s| s.name == "e.one_by_n").unwrap();
    assert!(s.reason.contains("min_evals"), "{}", s.reason);

    // The JSON of a result with NaN metrics reads back.
    let json = htdiag::report::json::to_json(&r).unwrap();
    let jp = dir.path().join("r.json");
    std::fs::write(&jp, json).unwrap();
    let back = htdiag::report::load::read_result(&jp).unwrap();
    assert_eq!(back.layers.len(), r.layers.len());
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let path = Path::new(DATA).join("synthetic-model.safetensors");
    let mut opts = AnalyzeOptions {
        threads: 1,
        randomize: Some(3),
        mp_fit: true,
        ..AnalyzeOptions::default()
    };
    let one = run(&path, &opts);
    opts.threads = 3;
    let three = run(&path, &opts);
    let strip = |r: &AnalysisResult| -> Vec<LayerResult> {
        r.layers
            .iter()
            .cloned()
            .map(|mut l| {
                l.timings = Default::default();
                l
            })
            .collect()
    };
    assert_eq!(strip(&one), strip(&three));
    assert_eq!(one.summary, three.summary);
    // CSV is a pure view: identical too.
    let (mut a, mut b) = (one.clone(), three.clone());
    a.layers = strip(&one);
    b.layers = strip(&three);
    assert_eq!(
        htdiag::report::csv::to_csv(&a),
        htdiag::report::csv::to_csv(&b)
    );
}
