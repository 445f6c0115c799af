//! `htdiag evaluate`, `train --arch lenet5` and `regularize --arch lenet5` end to end on the
//! CPU path, checked against torch's numbers (tests/data/cnn) and the library.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cnn(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cnn")
        .join(name)
}

fn htdiag(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn evaluate_reproduces_torch_on_lenet5() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("e.json");
    let ck = cnn("lenet5-s0.safetensors");
    let data = cnn("mnist-test2k.safetensors");
    htdiag(&[
        "evaluate",
        ck.to_str().unwrap(),
        "--arch",
        "lenet5",
        "--data",
        data.to_str().unwrap(),
        "--logits",
        "3",
        "--device",
        "cpu",
        "--json",
        j.to_str().unwrap(),
    ]);
    let (got, want) = (json(&j), json(&cnn("lenet5-s0.json")));
    let (l, wl) = (
        got["loss"].as_f64().unwrap(),
        want["test_loss"].as_f64().unwrap(),
    );
    assert!(((l - wl) / wl).abs() < 1e-5, "{l} vs {wl}");
    assert_eq!(got["samples"], 2000);
    assert_eq!(got["input_shape"], serde_json::json!([1, 28, 28]));
    for r in 0..3 {
        for c in 0..10 {
            let a = got["logits"][r][c].as_f64().unwrap();
            let b = want["logits_first16_test"][r][c].as_f64().unwrap();
            assert!((a - b).abs() < 1e-4, "logit [{r}][{c}] {a} vs {b}");
        }
    }
    // Rows: the second half only.
    let j2 = dir.path().join("e2.json");
    htdiag(&[
        "evaluate",
        ck.to_str().unwrap(),
        "--arch",
        "lenet5",
        "--data",
        data.to_str().unwrap(),
        "--rows",
        "1000..",
        "--device",
        "cpu",
        "--json",
        j2.to_str().unwrap(),
    ]);
    assert_eq!(json(&j2)["samples"], 1000);
    // A wrong architecture is refused naming the tensor.
    let out = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args([
            "evaluate",
            ck.to_str().unwrap(),
            "--arch",
            "resnet",
            "--data",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("conv1.weight"));
}

#[test]
fn train_lenet5_then_regularize_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/mnist2k.safetensors"
    );
    let out = dir.path().join("lenet.safetensors");
    let hist = dir.path().join("h.json");
    htdiag(&[
        "train",
        "--arch",
        "lenet5",
        "--data",
        data,
        "--limit",
        "2000",
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--json",
        hist.to_str().unwrap(),
    ]);
    let h = json(&hist);
    assert_eq!(h["history"]["epochs"].as_array().unwrap().len(), 2);
    let start = h["history"]["start"]["accuracy"].as_f64().unwrap();
    let end = h["history"]["epochs"][1]["test"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(
        start < 0.3 && end > start + 0.2,
        "accuracy {start} -> {end}"
    );
    let t = htdiag::train::net::Tensors::read(&out).unwrap();
    let names: Vec<&String> = t.map.keys().collect();
    assert_eq!(
        names,
        [
            "conv1.bias",
            "conv1.weight",
            "conv2.bias",
            "conv2.weight",
            "fc1.bias",
            "fc1.weight",
            "fc2.bias",
            "fc2.weight",
            "fc3.bias",
            "fc3.weight"
        ]
    );
    // The trained file evaluates (through the library) to the history's last test numbers.
    let rdir = dir.path().join("reg");
    let o = htdiag(&[
        "regularize",
        out.to_str().unwrap(),
        "--arch",
        "lenet5",
        "--penalty",
        "weighted-alpha",
        "--mu",
        "0.01",
        "--data",
        data,
        "--limit",
        "2000",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--quiet",
        "--conv-matrix",
        "flatten",
        "--spectrum-every",
        "5",
        "--out-dir",
        rdir.to_str().unwrap(),
    ]);
    let _ = o;
    let r = json(&rdir.join("regularize.json"));
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    // Epoch 0 of both runs is the trained checkpoint's evaluation on the same test rows.
    let s0 = runs[0]["history"]["start"]["loss"].as_f64().unwrap();
    let s1 = runs[1]["history"]["start"]["loss"].as_f64().unwrap();
    let trained = h["history"]["epochs"][1]["test"]["loss"].as_f64().unwrap();
    assert!(
        (s0 - trained).abs() < 1e-6 && (s1 - trained).abs() < 1e-6,
        "{s0} {s1} {trained}"
    );
    assert_eq!(r["layers"].as_array().unwrap().len(), 5);
    assert!(
        runs[1]["history"]["epochs"][0]["penalty_value"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(rdir.join("regularized.safetensors").exists());
}

#[test]
fn samples_of_no_square_shape_ask_for_input_shape() {
    // 785 features: no square image of 1 or 3 channels.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.safetensors");
    let x = vec![0u8; 4 * 785 * 4];
    let y = vec![0u8, 1, 2, 3];
    let tensors = [
        (
            "x",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![4, 785], &x)
                .unwrap(),
        ),
        (
            "y",
            safetensors::tensor::TensorView::new(safetensors::Dtype::U8, vec![4], &y).unwrap(),
        ),
    ];
    safetensors::serialize_to_file(tensors, None, &data).unwrap();
    let ck = cnn("lenet5-s0.safetensors");
    let (d, c) = (data.to_str().unwrap(), ck.to_str().unwrap());
    let out = dir.path().join("m.safetensors");
    let out = out.to_str().unwrap();
    for args in [
        vec![
            "train", "--arch", "lenet5", "--data", d, "--epochs", "1", "--out", out,
        ],
        vec![
            "evaluate", c, "--arch", "lenet5", "--data", d, "--device", "cpu",
        ],
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_htdiag"))
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?}");
        assert!(
            err.contains("cannot infer the image shape of 785-feature samples")
                && err.contains("(--input-shape C,H,W)"),
            "{args:?}: {err}"
        );
    }
}
