//! `htdiag allocate` as a user runs it: TempBalance / AlphaDecay on the shipped demo MLP,
//! AlphaPruning on a small transformer-shaped checkpoint, from a checkpoint and from a saved
//! result, with every output; the numbers are recomputed here from the result JSON with the
//! formulas of ALLOCATION.md.

use std::path::Path;
use std::process::Command;

use safetensors::tensor::{Dtype, TensorView};
use serde_json::Value;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/mnist-mlp.safetensors");

fn htdiag(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The median estimator in their float32 pipeline, from the f64 eigenvalues of the result.
fn alpha_mid_f32(evals: &[f64]) -> f64 {
    let l: Vec<f32> = evals
        .iter()
        .map(|&v| {
            let s = v.sqrt() as f32;
            s * s
        })
        .collect();
    let i = l.len() / 2;
    let n = (l.len() - i) as f32;
    let sum = l[i..].iter().rev().fold(0.0f64, |s, v| s + v.ln() as f64) as f32;
    (1.0f32 + n / (sum - n * l[i].ln())) as f64
}

#[test]
fn tempbalance_and_alphadecay_on_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (ok, table, err) = htdiag(&[
        "allocate",
        DEMO,
        "--method",
        "tempbalance",
        "--lr",
        "0.1",
        "--json",
        &p("a.json"),
        "--csv",
        &p("a.csv"),
        "--result",
        &p("r.json"),
        "--report",
        &p("r.html"),
    ]);
    assert!(ok, "{err}");
    // fc1 is the first layer and fc3 the last: only fc2 is scheduled, and with one layer
    // numpy's interp([a], [a, a], [lo, hi]) is hi.
    assert!(
        table.contains("left alone: fc1.weight (first layer"),
        "{table}"
    );
    assert!(
        table.contains("left alone: fc3.weight (last layer"),
        "{table}"
    );
    let a = json(Path::new(&p("a.json")));
    assert_eq!(a["method"], "tempbalance");
    assert_eq!(a["settings"]["metric"], "alpha_mid");
    let layers = a["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["name"], "fc2.weight");
    assert_eq!(layers[0]["value"].as_f64().unwrap(), 0.15000000000000002);
    // The alpha is the float32 median estimate of fc2's eigenvalues (rules: no threshold).
    let r = htdiag::report::load::read_result(Path::new(&p("r.json"))).unwrap();
    assert_eq!(r.options["rules"], "tempbalance");
    let fc2 = r.layers.iter().find(|l| l.name == "fc2.weight").unwrap();
    assert_eq!(fc2.eigenvalues.len(), 100);
    assert_eq!(
        layers[0]["alpha"].as_f64().unwrap(),
        alpha_mid_f32(&fc2.eigenvalues)
    );
    let csv = std::fs::read_to_string(p("a.csv")).unwrap();
    assert!(csv.starts_with("name,module,alpha,score,value,params"));
    assert!(csv.contains("fc2.weight,fc2,"));
    let html = std::fs::read_to_string(p("r.html")).unwrap();
    assert!(html.contains("id=\"allocation\"") && html.contains("class=\"alloc-chart\""));

    // AlphaDecay from the saved result, sqrt map: one layer gets sqrt(a)/sqrt(a) * 1 * wd.
    let (ok, _, err) = htdiag(&[
        "allocate",
        &p("r.json"),
        "--method",
        "alphadecay",
        "--wd",
        "5e-4",
        "--map",
        "sqrt",
        "--json",
        &p("d.json"),
        "-q",
    ]);
    assert!(ok, "{err}");
    let d = json(Path::new(&p("d.json")));
    assert_eq!(d["layers"][0]["alpha"], layers[0]["alpha"]);
    let s = alpha_mid_f32(&fc2.eigenvalues).sqrt();
    assert_eq!(
        d["layers"][0]["value"].as_f64().unwrap(),
        s / s * 1.0 * 5e-4
    );
    assert_eq!(d["settings"]["ratios"], serde_json::json!([0.666, 3.0]));

    // AlphaPruning needs transformer blocks: the MLP has none, and the error says so.
    let (ok, _, err) = htdiag(&[
        "allocate",
        DEMO,
        "--method",
        "alphapruning",
        "--sparsity",
        "0.5",
    ]);
    assert!(!ok);
    assert!(err.contains("inside blocks"), "{err}");
    let (ok, _, err) = htdiag(&["allocate", DEMO, "--method", "tempbalance"]);
    assert!(!ok && err.contains("--lr"), "{err}");
}

/// Deterministic pseudo-random weights with a per-tensor heavy tail.
fn weights(rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..rows * cols)
        .flat_map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            let v = (u - 0.5) * (1.0 + 3.0 * (seed as f64 * 0.37).sin().abs()) / (0.05 + u).sqrt();
            (v as f32).to_le_bytes()
        })
        .collect()
}

#[test]
fn alphapruning_on_a_transformer_shaped_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = vec![(
        "model.embed_tokens.weight".into(),
        vec![200, 32],
        weights(200, 32, 1),
    )];
    let mut seed = 2;
    for b in 0..3 {
        for (name, r, c) in [
            ("q_proj", 32, 32),
            ("up_proj", 64, 32),
            ("down_proj", 32, 64),
        ] {
            data.push((
                format!("model.layers.{b}.{name}.weight"),
                vec![r, c],
                weights(r, c, seed),
            ));
            seed += 1;
        }
        data.push((
            format!("model.layers.{b}.norm.weight"),
            vec![32],
            weights(1, 32, 99),
        ));
    }
    let tensors: Vec<(String, TensorView<'_>)> = data
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let ckpt = p("tiny.safetensors");
    safetensors::serialize_to_file(tensors, None, Path::new(&ckpt)).unwrap();

    let (ok, table, err) = htdiag(&[
        "allocate",
        &ckpt,
        "--method",
        "alphapruning",
        "--sparsity",
        "0.7",
        "--epsilon",
        "0.3",
        "--json",
        &p("s.json"),
        "--result",
        &p("r.json"),
    ]);
    assert!(ok, "{err}");
    assert!(
        table.contains("parameter-weighted mean sparsity"),
        "{table}"
    );
    let s = json(Path::new(&p("s.json")));
    assert_eq!(s["settings"]["metric"], "alpha_peak");
    let layers = s["layers"].as_array().unwrap();
    assert_eq!(
        layers.len(),
        9,
        "3 blocks x 3 Linear layers; embeddings and norms left out"
    );
    // Recompute section 4 (block-wise) from the alphas in the JSON.
    let alpha: Vec<f64> = layers
        .iter()
        .map(|l| l["alpha"].as_f64().unwrap())
        .collect();
    let n: Vec<f64> = layers
        .iter()
        .map(|l| l["params"].as_f64().unwrap())
        .collect();
    let block_mean: Vec<f64> = (0..9)
        .map(|k| {
            let b = k / 3;
            (alpha[3 * b] + alpha[3 * b + 1] + alpha[3 * b + 2]) / 3.0
        })
        .collect();
    let (lo, hi) = block_mean
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let r: Vec<f64> = block_mean
        .iter()
        .map(|m| (m - lo) / (hi - lo) * 0.6 + 0.7)
        .collect();
    let total: f64 = n.iter().sum();
    let scaler =
        ((total as f32) * 0.7f32) as f64 / n.iter().zip(&r).map(|(n, r)| n * r).sum::<f64>();
    for (l, r) in layers.iter().zip(&r) {
        let v = l["value"].as_f64().unwrap();
        assert!((v - r * scaler).abs() < 1e-14, "{v} vs {}", r * scaler);
    }
    let mean = layers
        .iter()
        .zip(&n)
        .map(|(l, n)| l["value"].as_f64().unwrap() * n)
        .sum::<f64>()
        / total;
    assert!((mean - 0.7).abs() < 1e-7, "{mean}");
    assert!((s["mean_sparsity"].as_f64().unwrap() - mean).abs() < 1e-15);
    // The analysis followed AlphaPruning's rules: blocks only, peak fit, float32.
    let res = htdiag::report::load::read_result(Path::new(&p("r.json"))).unwrap();
    assert_eq!(res.options["fit"], "peak");
    assert_eq!(res.options["precision"], "f32");
    assert_eq!(res.layers.len(), 9);

    // Analyses AlphaPruning cannot use: the library names what is missing, the command line
    // adds the analyze flag that provides it.
    let refused = |analyze_args: &[&str], name: &str| {
        let mut a = vec!["analyze", ckpt.as_str(), "-q", "--json", name];
        a.extend_from_slice(analyze_args);
        let (ok, _, err) = htdiag(&a);
        assert!(ok, "{err}");
        let (ok, _, err) = htdiag(&[
            "allocate",
            name,
            "--method",
            "alphapruning",
            "--sparsity",
            "0.7",
        ]);
        assert!(!ok);
        err
    };
    let err = refused(&[], &p("clauset.json"));
    assert!(
        err.contains("with the peak fit") && err.contains("(analyse with --fit peak)"),
        "{err}"
    );
    // up_proj (64 x 32) and down_proj exceed max_n 40: skipped, though AlphaPruning counts them.
    let err = refused(&["--fit", "peak", "--max-n", "40"], &p("small.json"));
    assert!(
        err.contains("model.layers.0.up_proj.weight")
            && err.contains("the alphapruning layer rules")
            && err.contains("(analyse with --rules alphapruning)"),
        "{err}"
    );
}

#[test]
fn alpha_inf_is_reported_through_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    // b.weight is 2 x 5: N = 2 eigenvalues, so the median fit's tail is one value: alpha = inf.
    let data = [
        ("a.weight", vec![30, 30], weights(30, 30, 1)),
        ("b.weight", vec![2, 5], weights(2, 5, 2)),
        ("c.weight", vec![40, 30], weights(40, 30, 3)),
        ("d.weight", vec![10, 40], weights(10, 40, 4)),
    ];
    let tensors: Vec<(&str, TensorView<'_>)> = data
        .iter()
        .map(|(n, s, b)| (*n, TensorView::new(Dtype::F32, s.clone(), b).unwrap()))
        .collect();
    let ckpt = p("inf.safetensors");
    safetensors::serialize_to_file(tensors, None, Path::new(&ckpt)).unwrap();
    let (ok, table, err) = htdiag(&[
        "analyze",
        &ckpt,
        "--rules",
        "tempbalance",
        "--json",
        &p("r.json"),
        "--csv",
        &p("r.csv"),
        "--report",
        &p("r.html"),
    ]);
    assert!(ok, "{err}");
    assert!(table.contains(" inf "), "{table}");
    let r = json(Path::new(&p("r.json")));
    assert_eq!(r["layers"][1]["fit"]["alpha"], "inf");
    assert_eq!(r["layers"][1]["fit"]["D"].as_f64().unwrap(), 0.0);
    assert!(
        std::fs::read_to_string(p("r.csv"))
            .unwrap()
            .contains(",b.weight,dense,,5,2,2.5,1,success,2,inf,")
    );
    assert!(Path::new(&p("r.html")).exists());
    // TempBalance from the saved result: inf is the maximum, so b gets the top rate and c
    // (finite) the bottom one, as numpy's interp does.
    let (ok, _, err) = htdiag(&[
        "allocate",
        &p("r.json"),
        "--method",
        "tempbalance",
        "--lr",
        "0.1",
        "--min-evals",
        "1",
        "--json",
        &p("a.json"),
        "-q",
    ]);
    assert!(ok, "{err}");
    assert!(err.contains("alpha_mid = inf"), "{err}");
    let a = json(Path::new(&p("a.json")));
    assert_eq!(a["layers"][0]["alpha"], "inf");
    assert_eq!(
        a["layers"][0]["value"].as_f64().unwrap(),
        0.15000000000000002
    );
    assert_eq!(a["layers"][1]["value"].as_f64().unwrap(), 0.05);
}
