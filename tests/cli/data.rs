//! The data flags of `htdiag train` end to end: a CIFAR-10 binary folder (written here in
//! CIFAR's format) trains with its own test batch as the test set, normalised per channel;
//! bad flags give clear errors.

use crate::common;

use common::{htdiag, write_cifar10};

#[test]
fn trains_on_a_cifar10_folder() {
    let dir = tempfile::tempdir().unwrap();
    let cifar = dir.path().join("cifar-10-batches-bin");
    let (train, test) = write_cifar10(&cifar, 4, 3);
    assert_eq!((train.len(), test.len()), (20, 3));
    let json = dir.path().join("h.json");
    let o = htdiag()
        .args([
            "train",
            "--arch",
            "3072-8-10",
            "--device",
            "cpu",
            "--epochs",
            "1",
        ])
        .args(["--batch-size", "5", "--normalize", "cifar10", "--data"])
        .arg(&cifar)
        .arg("--out")
        .arg(dir.path().join("m.safetensors"))
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("on 20 samples"), "{stderr}");
    let h: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let e = &h["history"]["epochs"][0];
    // 3 test images: the accuracy is a multiple of 1/3.
    let acc = e["test"]["accuracy"].as_f64().unwrap();
    assert!(((acc * 3.0).round() - acc * 3.0).abs() < 1e-9, "{acc}");
    // 20 samples, batch 5: 4 steps.
    assert_eq!(h["history"]["step_losses"].as_array().unwrap().len(), 4);
}

/// `--augment` is applied: the same seed gives the same model twice, and a different one than
/// training without augmentation.
#[test]
fn augmentation_is_applied_and_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let cifar = dir.path().join("c");
    write_cifar10(&cifar, 4, 2);
    let train = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let o = htdiag()
            .args(["train", "--arch", "3072-6-10", "--device", "cpu", "-q"])
            .args([
                "--epochs",
                "2",
                "--batch-size",
                "4",
                "--seed",
                "5",
                "--data",
            ])
            .arg(&cifar)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let bytes = std::fs::read(&out).unwrap();
        let t = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        t.tensor("fc1.weight").unwrap().data().to_vec()
    };
    let a = train("a.safetensors", &["--augment", "crop:4,flip"]);
    let b = train("b.safetensors", &["--augment", "crop:4,flip"]);
    let plain = train("p.safetensors", &[]);
    assert_eq!(a, b, "same seed, same augmentation: same weights");
    assert_ne!(a, plain, "augmentation changed nothing");
}

#[test]
fn bad_data_flags_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let cifar = dir.path().join("c");
    write_cifar10(&cifar, 1, 1);
    let run = |extra: &[&str]| {
        let o = htdiag()
            .args([
                "train",
                "--arch",
                "3072-4-10",
                "--device",
                "cpu",
                "--epochs",
                "1",
                "-q",
            ])
            .arg("--data")
            .arg(&cifar)
            .arg("--out")
            .arg(dir.path().join("m.safetensors"))
            .args(extra)
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = run(&["--normalize", "0.5,0.5/0.2,0.2"]);
    assert!(e.contains("--normalize") && e.contains("2 channels"), "{e}");
    let e = run(&["--augment", "rotate"]);
    assert!(e.contains("--augment") && e.contains("crop:"), "{e}");
    std::fs::remove_file(cifar.join("data_batch_3.bin")).unwrap();
    let e = run(&[]);
    assert!(e.contains("data_batch_3.bin"), "{e}");
    let flat = common::test_data("mnist2k.safetensors");
    let o = htdiag()
        .args([
            "train", "--arch", "784-4-10", "--device", "cpu", "--epochs", "1", "-q",
        ])
        .arg("--data")
        .arg(&flat)
        .args(["--augment", "flip", "--out"])
        .arg(dir.path().join("m.safetensors"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("image data"), "{e}");
}
