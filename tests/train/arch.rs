//! Architecture rules on real and synthetic checkpoints: refusals naming the first missing,
//! extra or mis-shaped tensor; VGG pooling inferred from shapes (including torchvision's 7x7
//! average pool and dropout); fresh networks written under PyTorch's names with batch-norm
//! buffers (`num_batches_tracked` as I64) that training advances.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use htdiag::train::net::arch::vgg::{Item, VggSpec};
use htdiag::train::net::{Arch, BufferData, Tensors};
use htdiag::train::{Backend, CpuBackend, Dataset, Optimizer, StepParams};
use safetensors::tensor::{Dtype, TensorView};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cnn")
        .join(name)
}

/// Writes `tensors` (F32, or I64 for integer buffers) as safetensors.
fn write(path: &Path, t: &BTreeMap<String, (Vec<usize>, BufferData)>) {
    let bytes: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = t
        .iter()
        .map(|(n, (s, d))| match d {
            BufferData::F32(v) => (
                n.clone(),
                s.clone(),
                Dtype::F32,
                bytemuck::cast_slice(v).to_vec(),
            ),
            BufferData::I64(v) => (
                n.clone(),
                s.clone(),
                Dtype::I64,
                bytemuck::cast_slice(v).to_vec(),
            ),
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, s, dt, b)| (n.clone(), TensorView::new(*dt, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, BufferData)> {
    Tensors::read(path)
        .unwrap()
        .map
        .into_iter()
        .map(|(k, v)| (k, (v.shape, v.data)))
        .collect()
}

fn load_err(arch: &str, t: &BTreeMap<String, (Vec<usize>, BufferData)>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.safetensors");
    write(&p, t);
    let a: Arch = arch.parse().unwrap();
    a.load(&p, 784, None).unwrap_err().to_string()
}

#[test]
fn refusals_name_the_first_mismatch() {
    let lenet = tensors(&fixture("lenet5-s0.safetensors"));
    let mut t = lenet.clone();
    t.remove("conv2.weight");
    let e = load_err("lenet5", &t);
    assert!(e.contains("missing tensor 'conv2.weight'"), "{e}");
    let mut t = lenet.clone();
    t.insert(
        "fc4.weight".into(),
        (vec![10, 10], BufferData::F32(vec![0.0; 100])),
    );
    let e = load_err("lenet5", &t);
    assert!(
        e.contains("fc4.weight") && e.contains("extra tensor"),
        "{e}"
    );
    let mut t = lenet.clone();
    t.insert(
        "fc2.weight".into(),
        (vec![84, 121], BufferData::F32(vec![0.0; 84 * 121])),
    );
    let e = load_err("lenet5", &t);
    assert!(e.contains("fc2.weight") && e.contains("[84, 120]"), "{e}");
    // A ResNet read as a VGG, a LeNet as a ResNet.
    let e = load_err("vgg", &tensors(&fixture("resnet10-s0.safetensors")));
    assert!(e.contains("features.0.weight"), "{e}");
    let e = load_err("resnet", &lenet);
    assert!(e.contains("conv1.weight") && e.contains("kernel 5"), "{e}");
    // The ResNet without one batch-norm buffer; with the wrong depth named.
    let mut t = tensors(&fixture("resnet10-s0.safetensors"));
    t.remove("layer2.0.bn1.running_var");
    let e = load_err("resnet", &t);
    assert!(
        e.contains("missing tensor 'layer2.0.bn1.running_var'"),
        "{e}"
    );
    let e = load_err(
        "resnet18-cifar-w16",
        &tensors(&fixture("resnet10-s0.safetensors")),
    );
    assert!(e.contains("layer1.1.conv1.weight"), "{e}");
    // An input whose shape cannot be inferred.
    let a: Arch = "lenet5".parse().unwrap();
    let e = a
        .load(&fixture("lenet5-s0.safetensors"), 785, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("give the input shape C,H,W"), "{e}");
}

#[test]
fn vgg_with_torchvision_avgpool_and_dropout_round_trips() {
    let spec = VggSpec {
        cfg: vec![
            Item::Conv(4),
            Item::Pool,
            Item::Conv(6),
            Item::Conv(6),
            Item::Pool,
        ],
        bn: true,
        avgpool7: true,
        hidden: vec![12, 12],
        dropout: true,
    };
    let net = Arch::Vgg(Some(spec)).fresh([3, 20, 20], 5, 3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v.safetensors");
    net.save(&p, "vgg").unwrap();
    let back = Arch::Vgg(None).load(&p, 1200, Some([3, 20, 20])).unwrap();
    assert_eq!(back, net);
    // Names as torchvision's: conv 0, BN 1, ReLU 2, pool 3, conv 4, BN 5, ..., classifier
    // Linear 0, 3, 6 (ReLU + Dropout between).
    let names: Vec<&str> = net.params.iter().map(|p| p.name.as_str()).collect();
    for n in [
        "features.0.weight",
        "features.1.bias",
        "features.4.weight",
        "features.7.weight",
        "classifier.3.weight",
        "classifier.6.bias",
    ] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }
    assert_eq!(net.params.last().unwrap().shape, vec![5]);
}

#[test]
fn fresh_resnet_has_pytorch_names_and_buffers_that_training_advances() {
    let net: htdiag::train::Net = "resnet10-cifar-w4"
        .parse::<Arch>()
        .unwrap()
        .fresh([1, 12, 12], 3, 7)
        .unwrap();
    let bn = net
        .params
        .iter()
        .find(|p| p.name == "layer2.0.downsample.1.weight")
        .unwrap();
    assert!(bn.data.iter().all(|&v| v == 1.0));
    let conv = net
        .params
        .iter()
        .find(|p| p.name == "layer1.0.conv1.weight")
        .unwrap();
    let bound = 1.0 / ((4 * 9) as f32).sqrt();
    assert!(conv.data.iter().all(|v| v.abs() <= bound));
    let n = 40;
    let data = Dataset::new(
        (0..n * 144)
            .map(|i| ((i * 37) % 101) as f32 / 101.0)
            .collect(),
        (0..n as u32).map(|i| i % 3).collect(),
        144,
    )
    .unwrap();
    let mut b = CpuBackend::from_net(
        &net,
        data.clone(),
        None,
        Optimizer::Sgd { momentum: 0.9 },
        8,
        0,
    )
    .unwrap();
    let p = StepParams {
        lr: 0.01,
        weight_decay: 0.0,
        t: 1,
        epoch: 0,
    };
    for s in 0..3u32 {
        b.train_step(&(s * 8..s * 8 + 8).collect::<Vec<_>>(), s as usize, &p)
            .unwrap();
    }
    let mut out = net.clone();
    b.read_net(&mut out).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.safetensors");
    out.save(&path, "resnet").unwrap();
    let t = Tensors::read(&path).unwrap();
    let nbt = &t.map["layer3.0.bn2.num_batches_tracked"];
    assert_eq!(
        (nbt.shape.clone(), nbt.data.clone()),
        (vec![], BufferData::I64(vec![3]))
    );
    let BufferData::F32(rv) = &t.map["bn1.running_var"].data else {
        panic!("f32")
    };
    assert!(
        rv.iter().all(|&v| v != 1.0),
        "running variance moved: {rv:?}"
    );
    // The file raw header says I64, as torch writes it.
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        st.tensor("bn1.num_batches_tracked").unwrap().dtype(),
        Dtype::I64
    );
    // And reads back as a ResNet with the same structure.
    assert_eq!(Arch::ResNet(None).load(&path, 144, None).unwrap(), out);
}
