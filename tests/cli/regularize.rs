//! `htdiag regularize` end to end on the CPU path: two runs from one checkpoint with the same
//! seed and data order, both checkpoints, the JSON with curves and before/after spectra, and
//! the report pages.

use std::process::Command;

use crate::common;

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
    // Weighted alpha under the automatic interval holds its full-rank product by default.
    assert!(
        stdout.contains("penalty product held between refreshes"),
        "{stdout}"
    );
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

/// Largest eigenvalue of `W^T W` for a row-major `rows x cols` W, by power iteration (an
/// independent check of the analysis' lambda_max).
fn lambda_max(w: &[f32], rows: usize, cols: usize) -> f64 {
    let mut v = vec![1.0f64; cols];
    let mut lambda = 0.0;
    for _ in 0..500 {
        let wv: Vec<f64> = (0..rows)
            .map(|r| (0..cols).map(|c| w[r * cols + c] as f64 * v[c]).sum())
            .collect();
        let u: Vec<f64> = (0..cols)
            .map(|c| (0..rows).map(|r| w[r * cols + c] as f64 * wv[r]).sum())
            .collect();
        lambda = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        v = u.iter().map(|x| x / lambda).collect();
    }
    lambda
}

/// The summary speaks the flags' language (`baseline: none`, `stable-rank`), prints the
/// chosen penalty's metric per layer (stable rank for stable-rank, checked against
/// ||W||_F^2 / lambda_max computed here) and alpha; a second run into the now non-empty
/// --out-dir is refused before any training unless --force.
#[test]
fn regularize_prints_the_penalty_metric_and_refuses_a_non_empty_out_dir() {
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init.safetensors");
    let m = htdiag::train::Mlp::init(&[784, 24, 10], 5).unwrap();
    m.save(&init).unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        common::htdiag()
            .arg("regularize")
            .arg(&init)
            .arg("--data")
            .arg(common::test_data("mnist2k.safetensors"))
            .args(["--limit", "300", "--epochs", "1", "--device", "cpu"])
            .args(["--penalty", "stable-rank", "--mu", "0.01", "--out-dir"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("baseline: none") && stderr.contains("penalty: stable-rank"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("None") && !stdout.contains("None"),
        "{stderr}{stdout}"
    );
    assert!(stdout.contains("stable-rank (mu = 0.01)"), "{stdout}");
    assert!(!stdout.contains("stable_rank (mu"), "{stdout}");
    assert!(
        stdout.contains("stable_rank per layer") && stdout.contains("alpha per layer"),
        "{stdout}"
    );
    // fc1's stable rank before fine-tuning: ||W||_F^2 / lambda_max of the initial weights.
    let w = &m.layers[0].as_linear().weight;
    let frob2: f64 = w.iter().map(|&x| x as f64 * x as f64).sum();
    let want = frob2 / lambda_max(w, 24, 784);
    let table = stdout.split("stable_rank per layer").nth(1).unwrap();
    let row = table.lines().find(|l| l.starts_with("fc1.weight")).unwrap();
    let before: f64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!((before - want).abs() < 2e-3, "{before} vs {want}: {row}");
    // Not the alpha column: alpha of fc1 is printed in the alpha block.
    let alpha_block = stdout.split("alpha per layer").nth(1).unwrap();
    assert!(alpha_block.lines().any(|l| l.starts_with("fc1.weight")));

    // The folder now holds the first run's files: refused up front, nothing rewritten.
    let json = out.join("regularize.json");
    let before_bytes = std::fs::read(&json).unwrap();
    let o = run(&[]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        e.contains("--out-dir")
            && e.contains(&out.display().to_string())
            && e.contains("not empty")
            && e.contains("--force"),
        "{e}"
    );
    assert!(!e.contains("fine-tuning"), "refused after starting: {e}");
    assert_eq!(std::fs::read(&json).unwrap(), before_bytes);
    let o = run(&["--force", "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // A folder that cannot be made (its parent is a plain file) is refused up front too.
    let o = common::htdiag()
        .arg("regularize")
        .arg(&init)
        .arg("--data")
        .arg(common::test_data("mnist2k.safetensors"))
        .args(["--penalty", "stable-rank", "--mu", "0.01", "--out-dir"])
        .arg(init.join("sub"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        e.contains("--out-dir") && e.contains("is not a folder"),
        "{e}"
    );
    assert!(!e.contains("fine-tuning"), "{e}");
}
