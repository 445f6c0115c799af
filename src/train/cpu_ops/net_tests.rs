//! Whole-network gradient checks of [`super::CpuNet`]: the backward of small ResNet, VGG-BN
//! and LeNet-style networks (residual additions with downsample branches, batch norm in
//! train mode, max/average/adaptive pooling, grouped convolutions, flatten) against central
//! finite differences of the mean cross-entropy (directional, one random direction per
//! parameter tensor); and dropout's
//! train/eval semantics.

use super::CpuNet;
use super::testing::rand_vec;
use crate::train::cpu::softmax_xent_row;
use crate::train::net::arch::resnet::ResNetSpec;
use crate::train::net::builder::{Builder, ConvSpec};
use crate::train::net::{Arch, Net, Op};

/// Mean cross-entropy of a train-mode forward (f64 over f32 logits); leaves the logit
/// gradient in place for a backward.
fn loss(cpu: &mut CpuNet, x: &[f32], y: &[usize]) -> f64 {
    let b = y.len();
    cpu.input_mut()[..x.len()].copy_from_slice(x);
    cpu.forward(b, true).unwrap();
    let c = cpu.classes();
    let z = cpu.output(b).to_vec();
    let mut dz = vec![0.0f32; b * c];
    let mut l = 0.0;
    for (r, &yr) in y.iter().enumerate().take(b) {
        let rows = r * c..(r + 1) * c;
        l += softmax_xent_row(&z[rows.clone()], yr, 1.0 / b as f32, &mut dz[rows]).0 as f64;
    }
    cpu.output_grad_mut(b).copy_from_slice(&dz);
    l / b as f64
}

fn check_net(net: &Net, b: usize) {
    let mut cpu = CpuNet::new(net, b, 0).unwrap();
    let x = rand_vec(b * cpu.input_len(), 21);
    let y: Vec<usize> = (0..b).map(|i| i % cpu.classes()).collect();
    loss(&mut cpu, &x, &y);
    cpu.backward(b).unwrap();
    let grads: Vec<Vec<f32>> = cpu.params.iter().map(|p| p.grad.clone()).collect();
    // Directional derivatives, one random direction per tensor: the f32 forward's rounding
    // and the ReLU/max kinks average out over the tensor, the check still covers every entry.
    // Small steps: batch norm puts many pre-activations next to the ReLU kink.
    let eps = 3e-4f32;
    let mut bad = Vec::new();
    for (p, g) in grads.iter().enumerate() {
        let d = rand_vec(g.len(), 100 + p as u64);
        let w0 = cpu.params[p].w.clone();
        let shifted = |s: f32| -> Vec<f32> { w0.iter().zip(&d).map(|(w, d)| w + s * d).collect() };
        cpu.params[p].w = shifted(eps);
        let up = loss(&mut cpu, &x, &y);
        cpu.params[p].w = shifted(-eps);
        let down = loss(&mut cpu, &x, &y);
        cpu.params[p].w = w0;
        let fd = (up - down) / (2.0 * eps as f64);
        let gd: f64 = g.iter().zip(&d).map(|(a, b)| *a as f64 * *b as f64).sum();
        let norm = |v: &[f32]| v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        let tol = 2e-2 * norm(g) * norm(&d) + 2e-4;
        if (fd - gd).abs() > tol {
            bad.push(format!(
                "{}: analytic {gd} vs finite difference {fd} (tolerance {tol})",
                net.params[p].name
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn resnet_backward_matches_fd() {
    let arch: Arch = "resnet10-cifar-w2".parse().unwrap();
    check_net(&arch.fresh([1, 16, 16], 3, 1).unwrap(), 4);
    // Bottleneck blocks (two stages, a downsample in each), ImageNet stem with max-pool.
    let spec = ResNetSpec {
        bottleneck: true,
        blocks: vec![1, 2],
        width: 2,
        cifar: false,
    };
    check_net(
        &Arch::ResNet(Some(spec)).fresh([3, 16, 16], 3, 2).unwrap(),
        4,
    );
}

#[test]
fn vgg_bn_backward_matches_fd() {
    let arch: Arch = "vgg-bn:3,M,4,4,M/5".parse().unwrap();
    check_net(&arch.fresh([2, 8, 8], 3, 3).unwrap(), 4);
}

#[test]
fn pools_groups_and_bias_free_convs_match_fd() {
    let mut b = Builder::fresh(4, "test", [2, 9, 9]);
    let spec = |out_c, k, stride, pad, groups, bias| ConvSpec {
        out_c,
        k,
        stride,
        pad,
        groups,
        bias,
    };
    let mut x = b.conv(0, "c1", spec(4, 3, 1, 1, 2, true)).unwrap();
    x = b.bn(x, "bn").unwrap();
    x = b.op(Op::Relu, x, None).unwrap();
    x = b
        .op(
            Op::AvgPool2d {
                k: [3, 3],
                stride: [2, 2],
                padding: [1, 1],
            },
            x,
            None,
        )
        .unwrap();
    x = b.conv(x, "dw", spec(4, 3, 1, 1, 4, false)).unwrap();
    let y = b
        .op(
            Op::MaxPool2d {
                k: [2, 2],
                stride: [1, 1],
                padding: [0, 0],
            },
            x,
            None,
        )
        .unwrap();
    x = b
        .op(Op::AdaptiveAvgPool2d { out: [3, 2] }, y, None)
        .unwrap();
    x = b.op(Op::Flatten, x, None).unwrap();
    x = b.op(Op::Dropout { p: 0.0 }, x, None).unwrap();
    b.linear(x, "fc", 3, true).unwrap();
    check_net(&b.finish().unwrap(), 3);
}

#[test]
fn dropout_masks_in_train_identity_in_eval() {
    let mut b = Builder::fresh(5, "test", [40, 1, 1]);
    let x = b.op(Op::Dropout { p: 0.5 }, 0, None).unwrap();
    b.linear(x, "fc", 2, false).unwrap();
    let net = b.finish().unwrap();
    let mut cpu = CpuNet::new(&net, 2, 9).unwrap();
    let input = rand_vec(80, 6);
    cpu.input_mut().copy_from_slice(&input);
    cpu.forward(2, false).unwrap();
    let eval = cpu.output(2).to_vec();
    // Eval: the Linear of the raw input.
    let w = &net.params[0].data;
    let direct: f32 = (0..40).map(|j| w[j] * input[j]).sum();
    assert!((eval[0] - direct).abs() < 1e-5);
    cpu.forward(2, true).unwrap();
    cpu.output_grad_mut(2)
        .copy_from_slice(&[1.0, 0.0, 0.0, 0.0]);
    cpu.backward(2).unwrap();
    // dW[0, j] = mask_j x_j for sample 0: each input kept (x 2) or dropped.
    let g = &cpu.params[0].grad;
    let (mut kept, mut dropped) = (0, 0);
    for j in 0..40 {
        if g[j] == 0.0 {
            dropped += 1;
        } else {
            assert!((g[j] - 2.0 * input[j]).abs() < 1e-6);
            kept += 1;
        }
    }
    assert!(
        kept > 5 && dropped > 5,
        "{kept} kept, {dropped} dropped of 40 at p = 0.5"
    );
}
