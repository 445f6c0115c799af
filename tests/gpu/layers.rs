//! Every layer kind of the wgpu backend, forward and backward, against independent CPU
//! computations written here: direct loops in f64 for convolution (stride, padding, groups,
//! depthwise, bias), pooling (PyTorch's first-maximum tie rule, count_include_pad, adaptive
//! windows), Linear, ReLU and the residual add; central finite differences of an f64 forward
//! for batch norm's backward; mask properties for dropout. Small sizes: lavapipe in CI.

use crate::gpu_common;

use gpu_common::{gpu, max_rel, values};
use htdiag::gpu::{Probe, ProbeResult};
use htdiag::train::net::{Buffer, BufferData, Net, Node, Op, Param};

fn param(name: &str, shape: &[usize], seed: u64) -> Param {
    let n = shape.iter().product();
    Param {
        name: name.into(),
        shape: shape.to_vec(),
        data: values(n, seed),
    }
}

/// A chain of nodes, each reading the previous value.
fn chain(input: [usize; 3], ops: Vec<Op>, params: Vec<Param>, buffers: Vec<Buffer>) -> Net {
    Net {
        input,
        nodes: ops
            .into_iter()
            .enumerate()
            .map(|(i, op)| Node {
                op,
                inputs: vec![i],
            })
            .collect(),
        params,
        buffers,
    }
}

/// Probes `net` on a batch of `b` with deterministic x and dy; returns (x, dy, result).
fn probe(net: &Net, b: usize, train: bool) -> Option<(Vec<f32>, Vec<f32>, ProbeResult)> {
    let ctx = gpu()?;
    let s = net.shapes().unwrap();
    let out = s[s.len() - 1];
    let x = values(b * net.input_len(), 11);
    let dy = values(b * out[0] * out[1] * out[2], 12);
    let mut p = Probe::new(ctx, net, b).unwrap();
    let r = p.run(&x, &dy, train, 1).unwrap();
    Some((x, dy, r))
}

fn close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    let e = max_rel(got, want);
    assert!(e < tol, "{what}: max relative error {e:e}");
}

struct Conv {
    c: usize,
    o: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
    g: usize,
}

/// Direct convolution (cross-correlation, zero padding, groups) and its three gradients, f64.
#[allow(clippy::type_complexity)]
fn conv_ref(
    cv: &Conv,
    b: usize,
    hw: [usize; 2],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let [h, wd] = hw;
    let oh = (h + 2 * cv.p[0] - cv.k[0]) / cv.s[0] + 1;
    let ow = (wd + 2 * cv.p[1] - cv.k[1]) / cv.s[1] + 1;
    let (cg, og) = (cv.c / cv.g, cv.o / cv.g);
    let mut y = vec![0.0f64; b * cv.o * oh * ow];
    let mut dx = vec![0.0f64; x.len()];
    let mut dw = vec![0.0f64; w.len()];
    let mut db = vec![0.0f64; cv.o];
    for n in 0..b {
        for o in 0..cv.o {
            let grp = o / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let yi = ((n * cv.o + o) * oh + oy) * ow + ox;
                    let mut acc = bias.map_or(0.0, |bb| bb[o] as f64);
                    let g = dy[yi] as f64;
                    db[o] += g;
                    for cl in 0..cg {
                        let ci = grp * cg + cl;
                        for ki in 0..cv.k[0] {
                            let iy = (oy * cv.s[0] + ki) as isize - cv.p[0] as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kj in 0..cv.k[1] {
                                let ix = (ox * cv.s[1] + kj) as isize - cv.p[1] as isize;
                                if ix < 0 || ix >= wd as isize {
                                    continue;
                                }
                                let xi = ((n * cv.c + ci) * h + iy as usize) * wd + ix as usize;
                                let wi = ((o * cg + cl) * cv.k[0] + ki) * cv.k[1] + kj;
                                acc += x[xi] as f64 * w[wi] as f64;
                                dx[xi] += g * w[wi] as f64;
                                dw[wi] += g * x[xi] as f64;
                            }
                        }
                    }
                    y[yi] = acc;
                }
            }
        }
    }
    let f = |v: Vec<f64>| v.into_iter().map(|a| a as f32).collect::<Vec<f32>>();
    (f(y), f(dx), f(dw), f(db))
}

fn check_conv(cv: Conv, hw: [usize; 2], bias: bool) {
    let ws = [cv.o, cv.c / cv.g, cv.k[0], cv.k[1]];
    let mut params = vec![param("conv.weight", &ws, 3)];
    if bias {
        params.push(param("conv.bias", &[cv.o], 4));
    }
    // Flatten keeps the output as the network's last value (a vector per sample).
    let net = chain(
        [cv.c, hw[0], hw[1]],
        vec![
            Op::Conv2d {
                weight: 0,
                bias: bias.then_some(1),
                in_c: cv.c,
                out_c: cv.o,
                kh: cv.k[0],
                kw: cv.k[1],
                stride: cv.s,
                padding: cv.p,
                groups: cv.g,
            },
            Op::Flatten,
        ],
        params.clone(),
        vec![],
    );
    let b = 3;
    let Some((x, dy, r)) = probe(&net, b, true) else {
        return;
    };
    let (y, dx, dw, db) = conv_ref(
        &cv,
        b,
        hw,
        &x,
        &params[0].data,
        bias.then(|| params[1].data.as_slice()),
        &dy,
    );
    close("conv forward", &r.output, &y, 1e-5);
    close("conv input gradient", &r.input_grad, &dx, 1e-5);
    close("conv weight gradient", &r.param_grads[0], &dw, 1e-5);
    if bias {
        close("conv bias gradient", &r.param_grads[1], &db, 1e-5);
    }
}

#[test]
fn conv2d_stride_padding_bias() {
    let cv = Conv {
        c: 3,
        o: 5,
        k: [3, 3],
        s: [2, 2],
        p: [1, 1],
        g: 1,
    };
    check_conv(cv, [7, 6], true);
}

#[test]
fn conv2d_groups_rectangular_kernel() {
    let cv = Conv {
        c: 4,
        o: 6,
        k: [2, 3],
        s: [1, 2],
        p: [0, 1],
        g: 2,
    };
    check_conv(cv, [5, 7], true);
}

#[test]
fn conv2d_depthwise_without_bias() {
    let cv = Conv {
        c: 4,
        o: 4,
        k: [3, 3],
        s: [1, 1],
        p: [1, 1],
        g: 4,
    };
    check_conv(cv, [6, 5], false);
}

#[test]
fn conv2d_pointwise_stride_two() {
    // The 1x1 stride-2 downsample convolution of a residual block.
    let cv = Conv {
        c: 3,
        o: 4,
        k: [1, 1],
        s: [2, 2],
        p: [0, 0],
        g: 1,
    };
    check_conv(cv, [6, 6], false);
}

/// f64 batch norm in training mode: output and (mean, biased var) per channel.
fn bn_forward(x: &[f64], b: usize, c: usize, hw: usize, g: &[f64], beta: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    let n = (b * hw) as f64;
    for ch in 0..c {
        let at = |i: usize| (i / hw * c + ch) * hw + i % hw;
        let mean = (0..b * hw).map(|i| x[at(i)]).sum::<f64>() / n;
        let var = (0..b * hw).map(|i| (x[at(i)] - mean).powi(2)).sum::<f64>() / n;
        for i in 0..b * hw {
            y[at(i)] = (x[at(i)] - mean) / (var + 1e-5).sqrt() * g[ch] + beta[ch];
        }
    }
    y
}

fn bn_net(c: usize, hw: [usize; 2]) -> Net {
    let mut gamma = param("bn.weight", &[c], 5);
    for v in &mut gamma.data {
        *v += 1.5;
    }
    let buffers = vec![
        Buffer {
            name: "bn.running_mean".into(),
            shape: vec![c],
            data: BufferData::F32(values(c, 6)),
        },
        Buffer {
            name: "bn.running_var".into(),
            shape: vec![c],
            data: BufferData::F32(values(c, 7).iter().map(|v| v + 1.5).collect()),
        },
        Buffer {
            name: "bn.num_batches_tracked".into(),
            shape: vec![],
            data: BufferData::I64(vec![3]),
        },
    ];
    chain(
        [c, hw[0], hw[1]],
        vec![
            Op::BatchNorm2d {
                weight: 0,
                bias: 1,
                running_mean: 0,
                running_var: 1,
                num_batches_tracked: Some(2),
                eps: 1e-5,
                momentum: 0.1,
            },
            Op::Flatten,
        ],
        vec![gamma, param("bn.bias", &[c], 8)],
        buffers,
    )
}

#[test]
fn batchnorm_train_forward_backward_and_running_stats() {
    let (b, c, hw) = (4, 3, [3, 5]);
    let net = bn_net(c, hw);
    let Some((x, dy, r)) = probe(&net, b, true) else {
        return;
    };
    let n = hw[0] * hw[1];
    let f = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
    let (xd, g, beta) = (f(&x), f(&net.params[0].data), f(&net.params[1].data));
    let y = bn_forward(&xd, b, c, n, &g, &beta);
    close(
        "bn forward",
        &r.output,
        &y.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        1e-5,
    );
    // Gradients of L = sum(y * dy) by central differences of the f64 forward.
    let loss = |x: &[f64], g: &[f64], beta: &[f64]| -> f64 {
        bn_forward(x, b, c, n, g, beta)
            .iter()
            .zip(&dy)
            .map(|(a, &d)| a * d as f64)
            .sum()
    };
    let h = 1e-6;
    let fd = |v: &[f64], which: usize| -> Vec<f32> {
        (0..v.len())
            .map(|i| {
                let (mut up, mut dn) = (v.to_vec(), v.to_vec());
                up[i] += h;
                dn[i] -= h;
                let l = |a: &[f64]| match which {
                    0 => loss(a, &g, &beta),
                    1 => loss(&xd, a, &beta),
                    _ => loss(&xd, &g, a),
                };
                ((l(&up) - l(&dn)) / (2.0 * h)) as f32
            })
            .collect()
    };
    close("bn input gradient", &r.input_grad, &fd(&xd, 0), 1e-4);
    close("bn gamma gradient", &r.param_grads[0], &fd(&g, 1), 1e-4);
    close("bn beta gradient", &r.param_grads[1], &fd(&beta, 2), 1e-4);
    // Running statistics: momentum 0.1, unbiased variance.
    let (rm0, rv0) = match (&net.buffers[0].data, &net.buffers[1].data) {
        (BufferData::F32(m), BufferData::F32(v)) => (m.clone(), v.clone()),
        _ => unreachable!(),
    };
    for (ch, (&m0, &v0)) in rm0.iter().zip(&rv0).enumerate() {
        let vals: Vec<f64> = (0..b * n)
            .map(|i| xd[(i / n * c + ch) * n + i % n])
            .collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let var_u = vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (vals.len() - 1) as f64;
        let rm = r.running[0].as_ref().unwrap()[ch] as f64;
        let rv = r.running[1].as_ref().unwrap()[ch] as f64;
        assert!(
            (rm - (0.9 * m0 as f64 + 0.1 * mean)).abs() < 1e-6,
            "running mean {ch}"
        );
        assert!(
            (rv - (0.9 * v0 as f64 + 0.1 * var_u)).abs() < 1e-6,
            "running var {ch}"
        );
    }
    assert!(
        r.running[2].is_none(),
        "num_batches_tracked stays on the host"
    );
}

#[test]
fn batchnorm_eval_uses_running_stats() {
    let (b, c, hw) = (2, 3, [2, 3]);
    let net = bn_net(c, hw);
    let Some((x, _, r)) = probe(&net, b, false) else {
        return;
    };
    let (rm, rv) = match (&net.buffers[0].data, &net.buffers[1].data) {
        (BufferData::F32(m), BufferData::F32(v)) => (m.clone(), v.clone()),
        _ => unreachable!(),
    };
    let n = hw[0] * hw[1];
    let want: Vec<f32> = (0..x.len())
        .map(|i| {
            let ch = (i / n) % c;
            let xh = (x[i] as f64 - rm[ch] as f64) / (rv[ch] as f64 + 1e-5).sqrt();
            (xh * net.params[0].data[ch] as f64 + net.params[1].data[ch] as f64) as f32
        })
        .collect();
    close("bn eval", &r.output, &want, 1e-6);
    // Evaluation leaves the running statistics alone.
    assert_eq!(r.running[0].as_deref(), Some(rm.as_slice()));
    assert_eq!(r.running[1].as_deref(), Some(rv.as_slice()));
}

/// Window outputs of one axis: (start, end) clipped, for a fixed or adaptive pool.
fn windows(n: usize, k: usize, s: usize, p: usize, adaptive: Option<usize>) -> Vec<(usize, usize)> {
    match adaptive {
        Some(on) => (0..on)
            .map(|o| (o * n / on, ((o + 1) * n).div_ceil(on)))
            .collect(),
        None => {
            let on = (n + 2 * p - k) / s + 1;
            (0..on)
                .map(|o| {
                    let a = (o * s) as isize - p as isize;
                    (a.max(0) as usize, ((a + k as isize) as usize).min(n))
                })
                .collect()
        }
    }
}

/// Max pooling: the FIRST maximum in row-major window order takes the gradient.
fn max_pool_ref(
    x: &[f32],
    planes: usize,
    hw: [usize; 2],
    wy: &[(usize, usize)],
    wx: &[(usize, usize)],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let (mut y, mut dx) = (Vec::new(), vec![0.0f32; x.len()]);
    for pl in 0..planes {
        for &(y0, y1) in wy {
            for &(x0, x1) in wx {
                let mut best = (f32::NEG_INFINITY, usize::MAX);
                for r in y0..y1 {
                    for c in x0..x1 {
                        let i = (pl * hw[0] + r) * hw[1] + c;
                        if best.1 == usize::MAX || x[i] > best.0 {
                            best = (x[i], i);
                        }
                    }
                }
                dx[best.1] += dy[y.len()];
                y.push(best.0);
            }
        }
    }
    (y, dx)
}

#[test]
fn max_pool_first_maximum_wins_ties() {
    let (b, c, hw) = (2, 3, [7, 6]);
    for (k, s, p) in [(2, 2, 0), (3, 2, 1)] {
        let net = chain(
            [c, hw[0], hw[1]],
            vec![
                Op::MaxPool2d {
                    k: [k, k],
                    stride: [s, s],
                    padding: [p, p],
                },
                Op::Flatten,
            ],
            vec![],
            vec![],
        );
        let Some(ctx) = gpu() else { return };
        // Values on a coarse grid: many ties inside a window.
        let x: Vec<f32> = values(b * c * hw[0] * hw[1], 21)
            .iter()
            .map(|v| (v * 2.0).round())
            .collect();
        let (wy, wx) = (windows(hw[0], k, s, p, None), windows(hw[1], k, s, p, None));
        let dy = values(b * c * wy.len() * wx.len(), 22);
        let (y, dx) = max_pool_ref(&x, b * c, hw, &wy, &wx, &dy);
        let r = Probe::new(ctx, &net, b)
            .unwrap()
            .run(&x, &dy, true, 0)
            .unwrap();
        assert_eq!(r.output, y, "max pool k{k} s{s} p{p} forward");
        close(
            &format!("max pool k{k} s{s} p{p} backward"),
            &r.input_grad,
            &dx,
            1e-6,
        );
    }
}

fn avg_pool_check(
    op: Op,
    hw: [usize; 2],
    wy: Vec<(usize, usize)>,
    wx: Vec<(usize, usize)>,
    divisor: Option<usize>,
) {
    let (b, c) = (2, 3);
    let net = chain([c, hw[0], hw[1]], vec![op, Op::Flatten], vec![], vec![]);
    let Some((x, dy, r)) = probe(&net, b, true) else {
        return;
    };
    let (mut y, mut dx) = (Vec::new(), vec![0.0f64; x.len()]);
    for pl in 0..b * c {
        for &(y0, y1) in &wy {
            for &(x0, x1) in &wx {
                let div = divisor.unwrap_or((y1 - y0) * (x1 - x0)) as f64;
                let g = dy[y.len()] as f64;
                let mut s = 0.0f64;
                for rr in y0..y1 {
                    for cc in x0..x1 {
                        let i = (pl * hw[0] + rr) * hw[1] + cc;
                        s += x[i] as f64;
                        dx[i] += g / div;
                    }
                }
                y.push((s / div) as f32);
            }
        }
    }
    close("avg pool forward", &r.output, &y, 1e-6);
    close(
        "avg pool backward",
        &r.input_grad,
        &dx.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        1e-6,
    );
}

#[test]
fn avg_pool_counts_padding() {
    // count_include_pad: every window divides by k*k, padded cells included.
    let hw = [7, 6];
    avg_pool_check(
        Op::AvgPool2d {
            k: [3, 3],
            stride: [2, 2],
            padding: [1, 1],
        },
        hw,
        windows(hw[0], 3, 2, 1, None),
        windows(hw[1], 3, 2, 1, None),
        Some(9),
    );
}

#[test]
fn adaptive_avg_pool_general_and_global() {
    let hw = [7, 5];
    for out in [[3, 2], [1, 1]] {
        avg_pool_check(
            Op::AdaptiveAvgPool2d { out },
            hw,
            windows(hw[0], 0, 1, 0, Some(out[0])),
            windows(hw[1], 0, 1, 0, Some(out[1])),
            None,
        );
    }
}

#[test]
fn linear_forward_backward() {
    let (b, fi, fo) = (5, 7, 4);
    let params = vec![
        param("fc.weight", &[fo, fi], 31),
        param("fc.bias", &[fo], 32),
    ];
    let net = chain(
        [fi, 1, 1],
        vec![Op::Linear {
            weight: 0,
            bias: Some(1),
            in_f: fi,
            out_f: fo,
        }],
        params.clone(),
        vec![],
    );
    let Some((x, dy, r)) = probe(&net, b, true) else {
        return;
    };
    let (w, bias) = (&params[0].data, &params[1].data);
    let (mut y, mut dx, mut dw, mut db) = (
        vec![0f32; b * fo],
        vec![0f32; b * fi],
        vec![0f32; fo * fi],
        vec![0f32; fo],
    );
    for n in 0..b {
        for o in 0..fo {
            let g = dy[n * fo + o];
            y[n * fo + o] = bias[o] + (0..fi).map(|i| x[n * fi + i] * w[o * fi + i]).sum::<f32>();
            db[o] += g;
            for i in 0..fi {
                dx[n * fi + i] += g * w[o * fi + i];
                dw[o * fi + i] += g * x[n * fi + i];
            }
        }
    }
    close("linear forward", &r.output, &y, 1e-5);
    close("linear input gradient", &r.input_grad, &dx, 1e-5);
    close("linear weight gradient", &r.param_grads[0], &dw, 1e-5);
    close("linear bias gradient", &r.param_grads[1], &db, 1e-5);
}

#[test]
fn relu_and_residual_add_accumulate_gradients() {
    // y = relu(x) + x: the input's gradient is the sum of both branches, dy [x > 0] + dy.
    let net = Net {
        input: [6, 1, 1],
        nodes: vec![
            Node {
                op: Op::Relu,
                inputs: vec![0],
            },
            Node {
                op: Op::Add,
                inputs: vec![1, 0],
            },
        ],
        params: vec![],
        buffers: vec![],
    };
    let Some((x, dy, r)) = probe(&net, 3, true) else {
        return;
    };
    let y: Vec<f32> = x.iter().map(|&v| v.max(0.0) + v).collect();
    let dx: Vec<f32> = x
        .iter()
        .zip(&dy)
        .map(|(&v, &g)| if v > 0.0 { 2.0 * g } else { g })
        .collect();
    close("relu + add forward", &r.output, &y, 1e-6);
    close("relu + add backward", &r.input_grad, &dx, 1e-6);
}

#[test]
fn dropout_masks_and_scales_consistently() {
    let p = 0.3f32;
    let n = 4096;
    let net = chain([n, 1, 1], vec![Op::Dropout { p }], vec![], vec![]);
    let Some((x, dy, r)) = probe(&net, 2, true) else {
        return;
    };
    let scale = 1.0 / (1.0 - p);
    let mut dropped = 0;
    for (i, (&xi, &gi)) in x.iter().zip(&dy).enumerate() {
        let keep =
            htdiag::train::dropout::keep(htdiag::train::dropout::mask_seed(0, 1, 0), i as u32, p);
        let (want_y, want_dx) = if keep {
            (xi * scale, gi * scale)
        } else {
            (0.0, 0.0)
        };
        dropped += (!keep) as usize;
        assert!(
            (r.output[i] - want_y).abs() <= 1e-6 * want_y.abs().max(1.0),
            "y[{i}]"
        );
        assert!(
            (r.input_grad[i] - want_dx).abs() <= 1e-6 * want_dx.abs().max(1.0),
            "dx[{i}]"
        );
    }
    let rate = dropped as f64 / x.len() as f64;
    assert!((rate - p as f64).abs() < 0.02, "drop rate {rate}");
    // Eval mode: identity.
    let Some(ctx) = gpu() else { return };
    let e = Probe::new(ctx, &net, 2)
        .unwrap()
        .run(&x, &dy, false, 1)
        .unwrap();
    assert_eq!(e.output, x);
}
