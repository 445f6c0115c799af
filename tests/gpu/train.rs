//! The wgpu backend against the CPU reference: same initial weights, same batches, one epoch
//! on 2,000 MNIST digits. Runs on any wgpu adapter, software ones included (Mesa lavapipe in
//! CI). Without any adapter the tests say so and pass, unless HTDIAG_REQUIRE_GPU=1.

use crate::gpu_common;
use crate::penalty_common;

use gpu_common::gpu;
use htdiag::gpu::GpuBackend;
use htdiag::train::backend::{GramSide, PenaltySpectrum};
use htdiag::train::net::Net;
use htdiag::train::{Backend, CpuBackend, Dataset, Mlp, Optimizer, StepParams, TrainConfig, train};

fn data() -> Dataset {
    Dataset::load(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/mnist2k.safetensors"
        )),
        None,
    )
    .unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-12)
}

fn one_epoch(opt: Optimizer, lr: f32, weight_decay: f32) {
    let Some(ctx) = gpu() else { return };
    eprintln!("adapter: {}", ctx.describe());
    let d = data();
    let model = Mlp::init(&[784, 300, 100, 10], 0).unwrap();
    let shapes: Vec<(usize, usize)> = model
        .layers
        .iter()
        .map(|l| (l.as_linear().out_dim, l.as_linear().in_dim))
        .collect();
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 64,
        lr,
        weight_decay,
        optimizer: opt,
        seed: 7,
        refresh: 1.into(),
        ..TrainConfig::default()
    };
    let mut cpu = CpuBackend::new(&model, d.clone(), Some(d.head(500)), opt, 64).unwrap();
    let mut gpu = GpuBackend::new(
        ctx,
        &Net::from_mlp(&model),
        d.clone(),
        Some(d.head(500)),
        opt,
        64,
        0,
    )
    .unwrap();
    let hc = train(&mut cpu, &shapes, d.len(), true, &cfg, None, &mut |_| {}).unwrap();
    let hg = train(&mut gpu, &shapes, d.len(), true, &cfg, None, &mut |_| {}).unwrap();
    // 2000 / 64: 31 full batches and a partial one of 16 (exercises the batch-size change).
    assert_eq!(hc.step_losses.len(), 32);
    for (s, (a, b)) in hc.step_losses.iter().zip(&hg.step_losses).enumerate() {
        assert!(
            rel(*a as f64, *b as f64) < 1e-4,
            "step {s}: cpu {a} gpu {b}"
        );
    }
    assert!(
        hc.step_losses[31] < 0.7 * hc.step_losses[0],
        "{:?}",
        hc.step_losses
    );
    let (ec, eg) = (&hc.epochs[0], &hg.epochs[0]);
    assert!(rel(ec.train_loss, eg.train_loss) < 1e-4);
    let (tc, tg) = (ec.test.unwrap(), eg.test.unwrap());
    assert!(rel(tc.loss, tg.loss) < 1e-4, "{tc:?} {tg:?}");
    assert!((tc.accuracy - tg.accuracy).abs() <= 2.0 / 500.0);
    let (mut mc, mut mg) = (model.clone(), model.clone());
    cpu.read_model(&mut mc).unwrap();
    gpu.read_model(&mut mg).unwrap();
    let mut worst = 0.0f32;
    for (lc, lg) in mc.layers.iter().zip(&mg.layers) {
        let (lc, lg) = (lc.as_linear(), lg.as_linear());
        for (a, b) in lc
            .weight
            .iter()
            .zip(&lg.weight)
            .chain(lc.bias.iter().zip(&lg.bias))
        {
            worst = worst.max((a - b).abs());
        }
    }
    eprintln!(
        "max |w_cpu - w_gpu| = {worst:e}; epoch seconds cpu {:.2} gpu {:.2}",
        ec.seconds, eg.seconds
    );
    assert!(worst < 1e-3, "{worst}");
    assert_ne!(mc, model, "the weights moved");
}

#[test]
fn sgd_epoch_matches_cpu() {
    one_epoch(Optimizer::Sgd { momentum: 0.9 }, 0.05, 0.0);
}

#[test]
fn adam_epoch_with_weight_decay_matches_cpu() {
    one_epoch(
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
        1e-3,
        1e-4,
    );
}

/// The penalty assembly on the device, `c W V diag(g) V^T` (or `c U diag(g) U^T W`), against
/// an f64 computation of the same product: one SGD step with lr = 1 and momentum 0, with and
/// without the penalty; the difference of the weights is the penalty gradient.
#[test]
fn penalty_gradient_on_device_matches_reference() {
    let Some(_) = gpu() else { return };
    let d = data().head(64);
    let model = Mlp::init(&[784, 30, 50, 10], 3).unwrap();
    let opt = Optimizer::Sgd { momentum: 0.0 };
    let p = StepParams {
        lr: 1.0,
        weight_decay: 0.0,
        t: 1,
        epoch: 0,
    };
    let batch: Vec<u32> = (0..64).collect();
    let mut plain = GpuBackend::new(
        gpu().unwrap(),
        &Net::from_mlp(&model),
        d.clone(),
        None,
        opt,
        64,
        0,
    )
    .unwrap();
    let mut pen = GpuBackend::new(
        gpu().unwrap(),
        &Net::from_mlp(&model),
        d.clone(),
        None,
        opt,
        64,
        0,
    )
    .unwrap();
    let mut refs = Vec::new();
    for (l, layer) in model.layers.iter().enumerate() {
        let lin = layer.as_linear();
        let dec =
            htdiag::train::spectral::decompose_f32(&lin.weight, lin.out_dim, lin.in_dim).unwrap();
        // Row-major eigenvectors (column k belongs to eigenvalue k), as a backend gets them.
        let s = htdiag::train::spectral::penalty_spectrum(&dec, &vec![0.0; dec.n], 1.0);
        let evals = &dec.evals;
        // g of the stable rank R = sum(lambda) / lambda_max, an independent closed form.
        let n = s.n;
        let lmax = evals[n - 1];
        let sum: f64 = evals.iter().sum();
        let mut g = vec![1.0 / lmax; n];
        g[n - 1] = 1.0 / lmax - sum / (lmax * lmax);
        let coef = 2.0 * 0.3;
        pen.set_penalty(
            l,
            Some(&PenaltySpectrum {
                side: s.side,
                n,
                vectors: s.vectors.clone(),
                g: g.iter().map(|&v| v as f32).collect(),
                coef: coef as f32,
                hold: false,
            }),
        )
        .unwrap();
        // Reference in f64: M = V diag(g) V^T, then W M or M W.
        let (o, i) = (lin.out_dim, lin.in_dim);
        let mut m = vec![0.0f64; n * n];
        for a in 0..n {
            for b in 0..n {
                m[a * n + b] = (0..n)
                    .map(|k| s.vectors[a * n + k] as f64 * g[k] * s.vectors[b * n + k] as f64)
                    .sum();
            }
        }
        let w: Vec<f64> = lin.weight.iter().map(|&v| v as f64).collect();
        let mut grad = vec![0.0f64; o * i];
        for r in 0..o {
            for c in 0..i {
                grad[r * i + c] = coef
                    * match s.side {
                        GramSide::Right => (0..i).map(|k| w[r * i + k] * m[k * i + c]).sum::<f64>(),
                        GramSide::Left => (0..o).map(|k| m[r * o + k] * w[k * i + c]).sum::<f64>(),
                    };
            }
        }
        assert_eq!(
            s.side,
            if o < i {
                GramSide::Left
            } else {
                GramSide::Right
            }
        );
        refs.push(grad);
    }
    plain.train_step(&batch, 0, &p).unwrap();
    pen.train_step(&batch, 0, &p).unwrap();
    for (l, want) in refs.iter().enumerate() {
        let a = plain.read_weight(l).unwrap();
        let b = pen.read_weight(l).unwrap();
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 1e-4, "layer {l}: gradient too small to test");
        for (k, g) in want.iter().enumerate() {
            let got = (a[k] - b[k]) as f64;
            assert!(
                (got - g).abs() < 1e-4 * scale + 1e-6,
                "layer {l} [{k}]: device {got} reference {g}"
            );
        }
    }
}

/// The device's penalty gradients against the CPU reference penalties (every penalty).
#[test]
fn device_penalty_gradients_match_cpu_reference() {
    if gpu().is_none() {
        return;
    }
    for reg in penalty_common::regularizers() {
        penalty_common::check(&reg, &mut |model, data| {
            Box::new(
                GpuBackend::new(
                    gpu().unwrap(),
                    &Net::from_mlp(model),
                    data,
                    None,
                    Optimizer::Sgd { momentum: 0.0 },
                    64,
                    0,
                )
                .unwrap(),
            )
        });
    }
}

/// The held penalty product (`--hold-penalty-gradient`) on the device: formed once from the
/// weights the first step starts with and added unchanged at later steps, as the CPU backend
/// does. Three SGD steps with momentum and a half-spectrum penalty (weighted alpha's shape,
/// the full-rank product) end at the CPU backend's weights, and away from those of the
/// current-weights product.
#[test]
fn held_penalty_product_on_device_matches_cpu() {
    let Some(_) = gpu() else { return };
    let d = data().head(192);
    let model = Mlp::init(&[784, 40, 24, 10], 5).unwrap();
    let opt = Optimizer::Sgd { momentum: 0.9 };
    let spectra: Vec<PenaltySpectrum> = model
        .layers
        .iter()
        .map(|layer| {
            let lin = layer.as_linear();
            let dec = htdiag::train::spectral::decompose_f32(&lin.weight, lin.out_dim, lin.in_dim)
                .unwrap();
            let g: Vec<f64> = (0..dec.n)
                .map(|i| {
                    if i >= dec.n / 2 {
                        4.0 / (1.0 + dec.evals[i])
                    } else {
                        0.0
                    }
                })
                .collect();
            htdiag::train::spectral::penalty_spectrum(&dec, &g, 2.0)
        })
        .collect();
    let run = |backend: &mut dyn Backend, hold: bool| -> Vec<Vec<f32>> {
        for (l, s) in spectra.iter().enumerate() {
            let ps = PenaltySpectrum { hold, ..s.clone() };
            backend.set_penalty(l, Some(&ps)).unwrap();
        }
        for t in 0..3u32 {
            let batch: Vec<u32> = (64 * t..64 * (t + 1)).collect();
            let p = StepParams {
                lr: 0.05,
                weight_decay: 0.0,
                t: t as u64 + 1,
                epoch: 0,
            };
            backend.train_step(&batch, t as usize, &p).unwrap();
        }
        (0..spectra.len())
            .map(|l| backend.read_weight(l).unwrap())
            .collect()
    };
    let net = Net::from_mlp(&model);
    let gpu_backend =
        || GpuBackend::new(gpu().unwrap(), &net, d.clone(), None, opt, 64, 0).unwrap();
    let held_gpu = run(&mut gpu_backend(), true);
    let current_gpu = run(&mut gpu_backend(), false);
    let mut cpu = CpuBackend::new(&model, d.clone(), None, opt, 64).unwrap();
    let held_cpu = run(&mut cpu, true);
    let max_diff = |a: &[Vec<f32>], b: &[Vec<f32>]| {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    let scale = held_cpu
        .iter()
        .flatten()
        .fold(0.0f32, |m, x| m.max(x.abs()));
    let agree = max_diff(&held_gpu, &held_cpu);
    let apart = max_diff(&held_gpu, &current_gpu);
    assert!(
        agree < 1e-5 * scale.max(1.0) + 1e-6,
        "device {agree}, scale {scale}"
    );
    assert!(
        apart > 100.0 * agree.max(1e-7),
        "held and current products: {apart} vs {agree}"
    );
}
