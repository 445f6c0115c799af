//! `htdiag train` end to end on 2,000 real MNIST digits, on the CPU path.

use std::process::Command;

fn data() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/mnist2k.safetensors"
    )
    .to_string()
}

#[test]
fn train_from_scratch_writes_checkpoint_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let json = dir.path().join("h.json");
    let st = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args([
            "train",
            "--arch",
            "784-64-10",
            "--device",
            "cpu",
            "--epochs",
            "3",
            "--quiet",
        ])
        .args(["--data", &data(), "--test-fraction", "0.25", "--seed", "1"])
        .arg("--out")
        .arg(&out)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let m = htdiag::train::Mlp::load(&out).unwrap();
    assert_eq!(m.arch_string(), "784-64-10");
    assert_eq!(m.layers[0].as_linear().weight_name, "fc1.weight");
    let h: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let epochs = h["history"]["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 3);
    let acc = epochs[2]["test"]["accuracy"].as_f64().unwrap();
    // 1,500 training digits, 3 epochs: a working MLP is well above 80 %.
    assert!(acc > 0.80, "test accuracy {acc}");
    let l0 = epochs[0]["train_loss"].as_f64().unwrap();
    let l2 = epochs[2]["train_loss"].as_f64().unwrap();
    assert!(l2 < l0, "{l0} -> {l2}");

    // Continue from the checkpoint: names kept, same architecture.
    let out2 = dir.path().join("m2.safetensors");
    let st = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args([
            "train",
            "--device",
            "cpu",
            "--epochs",
            "1",
            "--quiet",
            "--data",
            &data(),
        ])
        .arg("--init")
        .arg(&out)
        .arg("--out")
        .arg(&out2)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let m2 = htdiag::train::Mlp::load(&out2).unwrap();
    assert_eq!(m2.arch_string(), "784-64-10");
    assert_ne!(m2, m);
}

#[test]
fn clear_errors() {
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_htdiag"))
            .arg("train")
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = run(&["--arch", "100-10", "--device", "cpu", "--data", &data()]);
    assert!(
        e.contains("784 features") && e.contains("expects 100"),
        "{e}"
    );
    let e = run(&["--arch", "784-x-10", "--data", &data()]);
    assert!(e.contains("architecture"), "{e}");
    let e = run(&["--arch", "784-10", "--data", "/nonexistent.safetensors"]);
    assert!(e.contains("/nonexistent.safetensors"), "{e}");
    let e = run(&["--arch", "784-10", "--device", "tpu", "--data", &data()]);
    assert!(e.contains("software-gpu"), "{e}");
    // A data file that is not one says so (not "invalid checkpoint").
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file at all").unwrap();
    let e = run(&["--arch", "784-10", "--data", junk.to_str().unwrap()]);
    assert!(
        e.contains("junk.safetensors") && e.contains("invalid data file"),
        "{e}"
    );
    assert!(!e.contains("checkpoint"), "{e}");
    // An output that cannot be written is refused before the data is read or any training.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let out = file.join("m.safetensors");
    let e = run(&[
        "--arch",
        "784-10",
        "--device",
        "cpu",
        "--data",
        junk.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        e.contains("--out") && e.contains("cannot write there"),
        "{e}"
    );
    assert!(
        !e.contains("invalid data file"),
        "checked after the data: {e}"
    );
}

/// `--device auto` enumerates the GPU adapters; on a machine without XDG_RUNTIME_DIR the
/// Vulkan loader's window-system probe must not print "XDG_RUNTIME_DIR is invalid" on a run
/// that succeeds.
#[test]
fn device_auto_is_quiet_about_the_window_system() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let o = Command::new(env!("CARGO_BIN_EXE_htdiag"))
        .args([
            "train",
            "--arch",
            "784-16-10",
            "--epochs",
            "1",
            "--limit",
            "200",
        ])
        .args(["--device", "auto", "--quiet", "--data", &data(), "--out"])
        .arg(&out)
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{e}");
    assert!(out.is_file());
    assert!(!e.contains("XDG_RUNTIME_DIR"), "{e}");
}
