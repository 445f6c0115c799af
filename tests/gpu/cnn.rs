//! Convolutional networks on the wgpu backend: PyTorch's own evaluation of the three
//! torch-trained checkpoints of tests/data/cnn reproduced on the device; whole LeNet-5, VGG-BN
//! and ResNet-10 training steps against the CPU backend (one test body, run on both); the
//! penalty's conv-slice assembly against an f64 reference; device failures as typed errors.

use crate::gpu_common;

use gpu_common::{gpu, values};
use std::path::{Path, PathBuf};

use htdiag::gpu::{GpuBackend, Probe};
use htdiag::train::backend::{GramSide, PenaltySpectrum, SlicePenalty};
use htdiag::train::data::Augment;
use htdiag::train::net::arch::vgg::{Item, VggSpec};
use htdiag::train::net::{Arch, BufferData, Net, Node, Op, Param};
use htdiag::train::spectral::decompose_f32;
use htdiag::train::{Backend, CpuBackend, Dataset, Optimizer, Split, StepParams};

fn cnn_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cnn")
}

/// The 2,000 test digits of the conformance protocol (rows 8000-9999 of mnist10k).
fn test_digits() -> Dataset {
    Dataset::load(&cnn_dir().join("mnist-test2k.safetensors"), None).unwrap()
}

fn checkpoint(stem: &str, arch: &str, dim: usize) -> Net {
    let arch: Arch = arch.parse().unwrap();
    arch.load(&cnn_dir().join(format!("{stem}.safetensors")), dim, None)
        .unwrap()
}

/// Torch's own numbers (make_cnn_fixtures.py) on the device: logits of the first 16 test
/// digits within 1e-4, the train-mode (batch statistics) loss of the first 64 within 1e-5
/// relative and, with `full`, the eval-mode test loss over all 2,000 digits within 1e-5
/// relative and the accuracy exactly.
fn conformance(stem: &str, arch: &str, full: bool) {
    let Some(ctx) = gpu() else { return };
    let test = test_digits();
    let net = checkpoint(stem, arch, test.dim);
    let text = std::fs::read_to_string(cnn_dir().join(format!("{stem}.json"))).unwrap();
    let want: serde_json::Value = serde_json::from_str(&text).unwrap();
    let opt = Optimizer::Sgd { momentum: 0.9 };
    let mut b = GpuBackend::new(ctx, &net, test.head(64), Some(test.clone()), opt, 64, 0).unwrap();
    if full {
        let e = b.evaluate(Split::Test).unwrap();
        let loss = want["test_loss"].as_f64().unwrap();
        assert!(
            ((e.loss - loss) / loss).abs() < 1e-5,
            "{stem}: loss {} vs torch {loss}",
            e.loss
        );
        let acc = want["test_accuracy"].as_f64().unwrap();
        assert_eq!(
            (e.accuracy * 2000.0).round(),
            (acc * 2000.0).round(),
            "{stem}: accuracy"
        );
    }
    let logits = b.logits(Split::Test, 16).unwrap();
    let mut worst = 0.0f64;
    for (r, row) in want["logits_first16_test"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for (j, v) in row.as_array().unwrap().iter().enumerate() {
            worst = worst.max((logits[r * 10 + j] as f64 - v.as_f64().unwrap()).abs());
        }
    }
    assert!(
        worst < 1e-4,
        "{stem}: logits differ from torch's by {worst}"
    );
    // Train mode (batch statistics of these 64 digits): mean cross-entropy of the probe's logits.
    let x = test.head(64).x;
    let z = Probe::new(gpu().unwrap(), &net, 64)
        .unwrap()
        .run(&x, &vec![0.0; 640], true, 0)
        .unwrap()
        .output;
    let tm: f64 = (0..64)
        .map(|r| {
            let row: Vec<f64> = z[r * 10..r * 10 + 10].iter().map(|&v| v as f64).collect();
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            lse - row[test.y[r] as usize]
        })
        .sum::<f64>()
        / 64.0;
    let want_tm = want["train_mode_loss_first64_test"].as_f64().unwrap();
    assert!(
        ((tm - want_tm) / want_tm).abs() < 1e-5,
        "{stem}: train-mode loss {tm} vs {want_tm}"
    );
}

#[test]
fn lenet5_checkpoint_matches_torch_on_device() {
    conformance("lenet5-s0", "lenet5", true);
}

#[test]
fn vgg_bn_checkpoint_logits_match_torch_on_device() {
    conformance("vgg-bn-s0", "vgg", false);
}

#[test]
fn resnet10_checkpoint_logits_match_torch_on_device() {
    conformance("resnet10-s0", "resnet", false);
}

/// The 2,000-digit test loss and accuracy of VGG-BN and ResNet-10 on the device: minutes on
/// lavapipe, so outside the default run; scripts/gpu_check.sh runs it on a real GPU
/// (`cargo test --test gpu cnn:: -- --include-ignored`).
#[test]
#[ignore = "minutes on a software GPU; run by scripts/gpu_check.sh"]
fn vgg_resnet_test_loss_matches_torch_on_device() {
    conformance("vgg-bn-s0", "vgg", true);
    conformance("resnet10-s0", "resnet", true);
}

/// What a few training steps leave: per-step losses, eval-mode logits of 8 test digits, every
/// parameter and buffer.
struct Trace {
    losses: Vec<f32>,
    logits: Vec<f32>,
    net: Net,
}

/// The test body every backend runs: `steps` SGD steps (momentum 0.9, lr 0.05) on fixed
/// batches of 16, then evaluation.
fn steps(b: &mut dyn Backend, net: &Net, steps: usize) -> Trace {
    for s in 0..steps {
        let batch: Vec<u32> = (0..16).map(|i| ((s * 16 + i) * 7 % 96) as u32).collect();
        let p = StepParams {
            lr: 0.05,
            weight_decay: 1e-4,
            t: s as u64 + 1,
            epoch: s,
        };
        b.train_step(&batch, s, &p).unwrap();
    }
    let losses = b
        .take_step_stats(steps)
        .unwrap()
        .iter()
        .map(|s| s.0)
        .collect();
    let logits = b.logits(Split::Test, 8).unwrap();
    let mut out = net.clone();
    b.read_net(&mut out).unwrap();
    Trace {
        losses,
        logits,
        net: out,
    }
}

/// A whole network's training steps on the device against the CPU backend.
fn device_matches_cpu(stem: &str, arch: &str, n_steps: usize) {
    let digits = test_digits();
    let net = checkpoint(stem, arch, digits.dim);
    same_steps(stem, &net, digits.head(96), n_steps);
}

/// `n_steps` steps of `net` on `train` (96 samples, the first 8 test digits for evaluation),
/// on the CPU and on the device, agree; returns the CPU trace.
fn same_steps(stem: &str, net: &Net, train: Dataset, n_steps: usize) -> Option<Trace> {
    let ctx = gpu()?;
    let test = test_digits().head(8);
    let opt = Optimizer::Sgd { momentum: 0.9 };
    let mut cpu = CpuBackend::from_net(net, train.clone(), Some(test.clone()), opt, 16, 0).unwrap();
    let mut dev = GpuBackend::new(ctx, net, train, Some(test), opt, 16, 0).unwrap();
    let (c, g) = (steps(&mut cpu, net, n_steps), steps(&mut dev, net, n_steps));
    for (s, (a, b)) in c.losses.iter().zip(&g.losses).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(1.0),
            "{stem} step {s}: cpu {a} gpu {b}"
        );
    }
    assert!(c.losses.len() == n_steps && c.losses.iter().all(|l| l.is_finite()));
    let worst = c
        .logits
        .iter()
        .zip(&g.logits)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst < 1e-3,
        "{stem}: logits after training differ by {worst}"
    );
    for (pc, pg) in c.net.params.iter().zip(&g.net.params) {
        let moved = pc
            .data
            .iter()
            .zip(&net.params.iter().find(|p| p.name == pc.name).unwrap().data);
        let step = moved.fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        let diff = pc
            .data
            .iter()
            .zip(&pg.data)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            diff <= 1e-2 * step + 1e-6,
            "{stem} {}: moved {step}, cpu-gpu {diff}",
            pc.name
        );
    }
    for (bc, bg) in c.net.buffers.iter().zip(&g.net.buffers) {
        match (&bc.data, &bg.data) {
            (BufferData::F32(a), BufferData::F32(b)) => {
                let diff = a
                    .iter()
                    .zip(b)
                    .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(diff < 1e-4, "{stem} {}: {diff}", bc.name);
            }
            (a, b) => assert_eq!(a, b, "{stem} {}", bc.name),
        }
    }
    Some(c)
}

/// Dropout masks and augmented batches are functions of (seed, step, element) and (seed,
/// epoch, sample) that both backends share: a VGG with dropout in its classifier, trained on
/// randomly cropped and flipped digits, takes the same steps on the device as on the CPU, and
/// the augmentation does change what is trained on.
#[test]
fn dropout_and_augmentation_steps_match_cpu() {
    let spec = VggSpec {
        cfg: vec![Item::Conv(4), Item::Pool, Item::Conv(6), Item::Pool],
        bn: true,
        avgpool7: false,
        hidden: vec![24],
        dropout: true,
    };
    let net = Arch::Vgg(Some(spec)).fresh([1, 28, 28], 10, 3).unwrap();
    let mut train = test_digits().head(96);
    train.shape = Some([1, 28, 28]);
    let plain = train.clone();
    train.augment = Some(Augment::parse("crop:3,flip").unwrap());
    let Some(aug) = same_steps("vgg+dropout+augment", &net, train, 3) else {
        return;
    };
    let opt = Optimizer::Sgd { momentum: 0.9 };
    let test = test_digits().head(8);
    let mut cpu = CpuBackend::from_net(&net, plain, Some(test), opt, 16, 0).unwrap();
    let unaugmented = steps(&mut cpu, &net, 3);
    for (s, (a, u)) in aug.losses.iter().zip(&unaugmented.losses).enumerate() {
        assert_ne!(a, u, "step {s}: augmentation changed nothing");
    }
}

#[test]
fn lenet5_steps_match_cpu() {
    device_matches_cpu("lenet5-s0", "lenet5", 3);
}

#[test]
fn vgg_bn_steps_match_cpu() {
    device_matches_cpu("vgg-bn-s0", "vgg", 3);
}

#[test]
fn resnet10_steps_match_cpu() {
    device_matches_cpu("resnet10-s0", "resnet", 2);
}

fn mnist(n: usize) -> Dataset {
    Dataset::load(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/mnist2k.safetensors"
        )),
        None,
    )
    .unwrap()
    .head(n)
}

fn param(name: &str, shape: &[usize], seed: u64, scale: f32) -> Param {
    Param {
        name: name.into(),
        shape: shape.to_vec(),
        data: values(shape.iter().product(), seed)
            .iter()
            .map(|v| v * scale)
            .collect(),
    }
}

/// conv 1->4 3x3 pad 1, ReLU, conv 4->6 3x3 (slices 6x4: Right), ReLU, conv 6->3 2x2 stride 2
/// (slices 3x6: Left), flatten, Linear 3*12*12 -> 10.
fn small_cnn() -> Net {
    let conv = |w: usize, b: usize, i: usize, o: usize, k: usize, s: usize, p: usize| Op::Conv2d {
        weight: w,
        bias: Some(b),
        in_c: i,
        out_c: o,
        kh: k,
        kw: k,
        stride: [s, s],
        padding: [p, p],
        groups: 1,
    };
    let ops = vec![
        conv(0, 1, 1, 4, 3, 1, 1),
        Op::Relu,
        conv(2, 3, 4, 6, 3, 1, 0),
        Op::Relu,
        conv(4, 5, 6, 3, 2, 2, 0),
        Op::Flatten,
        Op::Linear {
            weight: 6,
            bias: Some(7),
            in_f: 3 * 13 * 13,
            out_f: 10,
        },
    ];
    Net {
        input: [1, 28, 28],
        nodes: ops
            .into_iter()
            .enumerate()
            .map(|(i, op)| Node {
                op,
                inputs: vec![i],
            })
            .collect(),
        params: vec![
            param("c1.weight", &[4, 1, 3, 3], 1, 0.5),
            param("c1.bias", &[4], 2, 0.1),
            param("c2.weight", &[6, 4, 3, 3], 3, 0.3),
            param("c2.bias", &[6], 4, 0.1),
            param("c3.weight", &[3, 6, 2, 2], 5, 0.3),
            param("c3.bias", &[3], 6, 0.1),
            param("fc.weight", &[10, 507], 7, 0.05),
            param("fc.bias", &[10], 8, 0.1),
        ],
        buffers: vec![],
    }
}

/// The slice penalty `dW[:, :, i, j] += c W_ij V diag(g) V^T` (or `c U diag(g) U^T W_ij`) on the
/// device, against the same product in f64: one SGD step (lr 1, momentum 0) with and without
/// the penalty; the weights' difference is the penalty gradient.
#[test]
fn conv_slice_penalty_matches_f64_reference() {
    let Some(ctx) = gpu() else { return };
    let net = small_cnn();
    let d = mnist(8);
    let opt = Optimizer::Sgd { momentum: 0.0 };
    let step = StepParams {
        lr: 1.0,
        weight_decay: 0.0,
        t: 1,
        epoch: 0,
    };
    let mut plain = GpuBackend::new(ctx, &net, d.clone(), None, opt, 8, 0).unwrap();
    let mut pen = GpuBackend::new(gpu().unwrap(), &net, d, None, opt, 8, 0).unwrap();
    let coef = 0.6f64;
    let mut sides = Vec::new();
    // Penalised weights 1 (c2) and 2 (c3): slices 6x4 (Right) and 3x6 (Left).
    for (pw, pi) in [(1usize, 2usize), (2, 4)] {
        let p = &net.params[pi];
        let [out, inp, kh, kw] = [p.shape[0], p.shape[1], p.shape[2], p.shape[3]];
        let mut slices = Vec::new();
        let mut want = vec![0.0f64; p.data.len()];
        for i in 0..kh {
            for j in 0..kw {
                // Skip one slice: it must get no penalty at all.
                if (i, j) == (1, 0) {
                    continue;
                }
                let at = |o: usize, c: usize| ((o * inp + c) * kh + i) * kw + j;
                let w: Vec<f32> = (0..out * inp)
                    .map(|k| p.data[at(k / inp, k % inp)])
                    .collect();
                let s = decompose_f32(&w, out, inp).unwrap();
                let n = s.n;
                // Row-major eigenvectors (column k belongs to eigenvalue k), as a backend gets them.
                let vectors: Vec<f64> = (0..n * n).map(|x| s.vecs[(x % n) * n + x / n]).collect();
                // g of the stable rank sum(lambda) / lambda_max, a closed form.
                let lmax = s.evals[n - 1];
                let sum: f64 = s.evals.iter().sum();
                let mut g = vec![1.0 / lmax; n];
                g[n - 1] = 1.0 / lmax - sum / (lmax * lmax);
                let m = |a: usize, b: usize| -> f64 {
                    (0..n)
                        .map(|k| vectors[a * n + k] * g[k] * vectors[b * n + k])
                        .sum()
                };
                for o in 0..out {
                    for c in 0..inp {
                        want[at(o, c)] = coef
                            * match s.side {
                                GramSide::Right => (0..inp)
                                    .map(|k| w[o * inp + k] as f64 * m(k, c))
                                    .sum::<f64>(),
                                GramSide::Left => (0..out)
                                    .map(|k| m(o, k) * w[k * inp + c] as f64)
                                    .sum::<f64>(),
                            };
                    }
                }
                sides.push(s.side);
                slices.push(SlicePenalty {
                    slice: (i, j),
                    spectrum: PenaltySpectrum {
                        side: s.side,
                        n,
                        vectors: vectors.iter().map(|&v| v as f32).collect(),
                        g: g.iter().map(|&v| v as f32).collect(),
                        coef: coef as f32,
                        hold: false,
                    },
                });
            }
        }
        pen.set_slice_penalties(pw, &slices).unwrap();
        plain
            .train_step(&(0..8).collect::<Vec<u32>>(), 0, &step)
            .unwrap();
        pen.train_step(&(0..8).collect::<Vec<u32>>(), 0, &step)
            .unwrap();
        let (a, b) = (plain.read_weight(pw).unwrap(), pen.read_weight(pw).unwrap());
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 1e-3, "penalty too small to test");
        for (k, g) in want.iter().enumerate() {
            let got = (a[k] - b[k]) as f64;
            assert!(
                (got - g).abs() <= 2e-4 * scale,
                "weight {pw} element {k}: device {got}, reference {g}"
            );
        }
        // Cleared, the backend steps as a fresh one from the same weights does.
        pen.set_slice_penalties(pw, &[]).unwrap();
        let mut now = net.clone();
        pen.read_net(&mut now).unwrap();
        let mut fresh = GpuBackend::new(gpu().unwrap(), &now, mnist(8), None, opt, 8, 0).unwrap();
        pen.train_step(&(0..8).collect::<Vec<u32>>(), 0, &step)
            .unwrap();
        fresh
            .train_step(&(0..8).collect::<Vec<u32>>(), 0, &step)
            .unwrap();
        let (a1, b1) = (fresh.read_weight(pw).unwrap(), pen.read_weight(pw).unwrap());
        let worst = a1
            .iter()
            .zip(&b1)
            .fold(0.0f32, |m, (u, v)| m.max((u - v).abs()));
        assert!(worst < 1e-5, "after clearing: {worst}");
        // Re-sync the two backends' weights for the next weight: restart both.
        plain = GpuBackend::new(gpu().unwrap(), &net, mnist(8), None, opt, 8, 0).unwrap();
        pen = GpuBackend::new(gpu().unwrap(), &net, mnist(8), None, opt, 8, 0).unwrap();
    }
    assert!(sides.contains(&GramSide::Right) && sides.contains(&GramSide::Left));
}

/// A shader the device rejects is a typed error naming it, not a panic.
#[test]
fn invalid_shader_is_a_gpu_error() {
    let Some(ctx) = gpu() else { return };
    let bad = "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }";
    match htdiag::gpu::kernels::compile(&ctx, "broken", bad) {
        Err(htdiag::Error::Gpu(msg)) => assert!(msg.contains("broken"), "{msg}"),
        Err(e) => panic!("wrong error kind: {e}"),
        Ok(_) => panic!("an invalid shader compiled"),
    }
    // The device is still usable afterwards.
    assert!(ctx.check().is_ok());
    assert!(htdiag::gpu::kernels::Pipelines::new(&ctx).is_ok());
}
