//! `htdiag regularize` end to end on the CPU path: two runs from one checkpoint with the same
//! seed and data order, both checkpoints, the JSON with curves and before/after spectra, and
//! the report pages.

use std::process::Command;

fn data() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/mnist2k.safetensors"
    )
    .to_string()
}

#[test]
fn regularize_writes_both_runs_json_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init.safetensors");
    let m = htdiag::train::Mlp::init(&[784, 120, 60, 10], 4).unwrap();
    m.save(&init).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .arg("regularize")
        .arg(&init)
        .args([
            "--data",
            &data(),
            "--limit",
            "800",
            "--epochs",
            "2",
            "--device",
            "cpu",
        ])
        .args([
            "--penalty",
            "weighted-alpha",
            "--mu",
            "0.02",
            "--baseline",
            "spectral-norm",
        ])
        .args([
            "--baseline-mu",
            "0.001",
            "--report",
            "--quiet",
            "--seed",
            "3",
        ])
        .arg("--out-dir")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("fc1.weight"), "{stdout}");
    for f in [
        "baseline.safetensors",
        "regularized.safetensors",
        "regularize.json",
        "compare.html",
        "training.html",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("regularize.json")).unwrap()).unwrap();
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let sl = |r: usize| -> Vec<f64> {
        runs[r]["history"]["step_losses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (a, b) = (sl(0), sl(1));
    // 640 training samples, batch 64: 10 steps per epoch, 2 epochs.
    assert_eq!(a.len(), 20);
    assert_eq!(b.len(), 20);
    // Same initial weights and first batch: the first loss is identical; the penalties then
    // make the runs differ.
    assert_eq!(a[0], b[0]);
    assert_ne!(a[19], b[19]);
    assert_eq!(j["baseline"]["kind"], "spectral-norm");
    assert_eq!(j["regularizer"]["penalty"]["kind"], "weighted_alpha");
    let ep = &runs[1]["history"]["epochs"][0];
    assert!(ep["penalty_value"].as_f64().unwrap().is_finite());
    assert!(ep["test"]["accuracy"].as_f64().unwrap() > 0.3);
    // fc1 (120 x 784): analysed before and after both runs; the penalty moved its spectrum.
    let l0 = &j["layers"][0];
    assert_eq!(l0["name"], "fc1.weight");
    let lm = |k: &str| l0[k]["lambda_max"].as_f64().unwrap();
    assert!(lm("before") > 0.0 && lm("baseline") > 0.0 && lm("regularized") > 0.0);
    assert_ne!(lm("baseline"), lm("regularized"));
    assert_eq!(j["analyses"].as_array().unwrap().len(), 3);
    let page = std::fs::read_to_string(out.join("training.html")).unwrap();
    assert!(page.contains("<svg") && page.contains("test accuracy"));
    let r = htdiag::train::Mlp::load(&out.join("regularized.safetensors")).unwrap();
    assert_eq!(
        r.layers[2].as_linear().bias_name.as_deref(),
        Some("fc3.bias")
    );
}

#[test]
fn regularize_rejects_unknown_penalty_and_non_mlp() {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init.safetensors");
    htdiag::train::Mlp::init(&[784, 10], 0)
        .unwrap()
        .save(&init)
        .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .arg("regularize")
        .arg(&init)
        .args(["--data", &data(), "--penalty", "l7", "--mu", "1"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown penalty 'l7'"));
    let o = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .arg("regularize")
        .arg(data())
        .args(["--data", &data(), "--penalty", "stable-rank", "--mu", "1"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("not a multilayer perceptron") || e.contains("not an MLP"),
        "{e}"
    );
}
