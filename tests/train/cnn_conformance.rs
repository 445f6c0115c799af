//! The CPU path reproduces PyTorch's own evaluation of three torch-trained CNN checkpoints
//! (tests/data/cnn, written by make_cnn_fixtures.py): logits of the first 16 test digits
//! within 1e-4, test loss within 1e-5 relative, accuracy exact, and the train-mode
//! (batch-statistics) loss of the first 64 test digits.

use std::path::{Path, PathBuf};

use htdiag::train::net::{Arch, Net};
use htdiag::train::{Backend, CpuBackend, Dataset, Optimizer, Split};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cnn")
}

fn test_set() -> Dataset {
    Dataset::load(&data_dir().join("mnist-test2k.safetensors"), None).unwrap()
}

fn reference(stem: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(data_dir().join(format!("{stem}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn backend(net: &Net, test: Dataset) -> CpuBackend {
    let train = test.head(64);
    CpuBackend::from_net(
        net,
        train,
        Some(test),
        Optimizer::Sgd { momentum: 0.9 },
        64,
        0,
    )
    .unwrap()
}

fn check(stem: &str, arch: &str) {
    let test = test_set();
    let arch: Arch = arch.parse().unwrap();
    let path = data_dir().join(format!("{stem}.safetensors"));
    let net = arch.load(&path, test.dim, None).unwrap();
    assert_eq!(net.input, [1, 28, 28]);
    let want = reference(stem);
    assert_eq!(
        net.num_params() as u64,
        want["params"].as_u64().unwrap(),
        "{stem}"
    );
    let mut b = backend(&net, test);
    let e = b.evaluate(Split::Test).unwrap();
    let (loss, acc) = (
        want["test_loss"].as_f64().unwrap(),
        want["test_accuracy"].as_f64().unwrap(),
    );
    assert!(
        ((e.loss - loss) / loss).abs() < 1e-5,
        "{stem}: loss {} vs torch {loss}",
        e.loss
    );
    // torch reports accuracy as an f32 mean: compare counts.
    assert_eq!(
        (e.accuracy * 2000.0).round(),
        (acc * 2000.0).round(),
        "{stem}: accuracy"
    );
    let logits = b.logits(Split::Test, 16).unwrap();
    let rows = want["logits_first16_test"].as_array().unwrap();
    let mut worst = 0.0f64;
    for (r, row) in rows.iter().enumerate() {
        for (j, v) in row.as_array().unwrap().iter().enumerate() {
            worst = worst.max((logits[r * 10 + j] as f64 - v.as_f64().unwrap()).abs());
        }
    }
    assert!(worst < 1e-4, "{stem}: logits differ by {worst}");
    let tm = b.train_mode_loss(Split::Test, 64).unwrap();
    let want_tm = want["train_mode_loss_first64_test"].as_f64().unwrap();
    assert!(
        ((tm - want_tm) / want_tm).abs() < 1e-5,
        "{stem}: train-mode loss {tm} vs {want_tm}"
    );
}

#[test]
fn lenet5_matches_torch() {
    check("lenet5-s0", "lenet5");
}

#[test]
fn vgg_bn_matches_torch() {
    check("vgg-bn-s0", "vgg");
}

#[test]
fn vgg_bn_with_cfg_string_matches_torch() {
    check("vgg-bn-s0", "vgg-bn:16,M,32,M,64,64,M");
}

#[test]
fn resnet10_matches_torch() {
    check("resnet10-s0", "resnet");
    check("resnet10-s0", "resnet10-cifar-w16");
}
