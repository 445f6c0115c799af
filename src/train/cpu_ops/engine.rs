//! [`CpuNet`]: a [`Net`] run on the CPU, forward (train or eval mode) and backward, one kernel
//! per layer kind from this module's siblings. Every value (activation) and its gradient has
//! a buffer sized for the largest batch; gradients of values read by several nodes (residual
//! branches) accumulate.

use super::batchnorm::{BatchNorm, BnParams};
use super::conv::Conv;
use super::optim::ParamState;
use super::pool::{Axis, Pool};
use crate::error::{Error, Result};
use crate::train::cpu::gemm;
use crate::train::dropout;
use crate::train::net::{BufferData, Net, Op};

/// Per-node kernel with its precomputed geometry.
#[derive(Debug, Clone)]
enum Kernel {
    Conv(Conv),
    Bn(BatchNorm),
    MaxPool(Pool),
    AvgPool(Pool),
    Plain,
}

/// What a node keeps from its train-mode forward for the backward.
#[derive(Debug, Clone, Default)]
struct Saved {
    xhat: Vec<f32>,
    inv_std: Vec<f32>,
    arg: Vec<u32>,
    mask: Vec<f32>,
}

/// A network held on the CPU with its parameter states and activation buffers.
pub struct CpuNet {
    /// The structure (and, until [`CpuNet::write_back`], the initial parameter values).
    pub net: Net,
    /// Parameter values, gradients and optimizer state, indexed like `net.params`.
    pub params: Vec<ParamState>,
    kernels: Vec<Kernel>,
    sizes: Vec<usize>,
    vals: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    saved: Vec<Saved>,
    scratch: Vec<f32>,
    max_batch: usize,
    /// Run seed and optimizer step of the dropout masks ([`dropout::mask_seed`]).
    seed: u64,
    step: u64,
    trained_mode: bool,
}

fn f32_buffer(net: &mut Net, i: usize) -> Result<&mut Vec<f32>> {
    let name = net.buffers[i].name.clone();
    match &mut net.buffers[i].data {
        BufferData::F32(v) => Ok(v),
        BufferData::I64(_) => Err(Error::InvalidArgument(format!(
            "buffer '{name}' is an integer tensor where running statistics are expected"
        ))),
    }
}

impl CpuNet {
    /// Checks `net` and allocates buffers for batches of up to `max_batch` samples; `seed`
    /// seeds the dropout masks. `trainable[p]`: whether parameter `p` is moved by the
    /// optimizer.
    pub fn new(net: &Net, max_batch: usize, seed: u64) -> Result<CpuNet> {
        let shapes = net.shapes()?;
        let max_batch = max_batch.max(1);
        let mut kernels = Vec::with_capacity(net.nodes.len());
        for (i, node) in net.nodes.iter().enumerate() {
            let x = shapes[node.inputs[0]];
            let y = shapes[i + 1];
            kernels.push(match &node.op {
                Op::Conv2d {
                    in_c,
                    out_c,
                    kh,
                    kw,
                    stride,
                    padding,
                    groups,
                    ..
                } => Kernel::Conv(Conv {
                    in_c: *in_c,
                    out_c: *out_c,
                    h: x[1],
                    w: x[2],
                    oh: y[1],
                    ow: y[2],
                    k: [*kh, *kw],
                    stride: *stride,
                    pad: *padding,
                    groups: *groups,
                }),
                Op::BatchNorm2d {
                    eps,
                    momentum,
                    running_mean,
                    running_var,
                    ..
                } => {
                    for &b in [running_mean, running_var] {
                        if !matches!(net.buffers[b].data, BufferData::F32(_)) {
                            return Err(Error::InvalidArgument(format!(
                                "buffer '{}' must hold floats",
                                net.buffers[b].name
                            )));
                        }
                    }
                    Kernel::Bn(BatchNorm {
                        c: x[0],
                        hw: x[1] * x[2],
                        eps: *eps,
                        momentum: *momentum,
                    })
                }
                Op::MaxPool2d { k, stride, padding } | Op::AvgPool2d { k, stride, padding } => {
                    let p = Pool {
                        c: x[0],
                        h: x[1],
                        w: x[2],
                        rows: Axis::fixed(x[1], k[0], stride[0], padding[0]),
                        cols: Axis::fixed(x[2], k[1], stride[1], padding[1]),
                    };
                    if matches!(node.op, Op::MaxPool2d { .. }) {
                        Kernel::MaxPool(p)
                    } else {
                        Kernel::AvgPool(p)
                    }
                }
                Op::AdaptiveAvgPool2d { out } => Kernel::AvgPool(Pool {
                    c: x[0],
                    h: x[1],
                    w: x[2],
                    rows: Axis::adaptive(x[1], out[0]),
                    cols: Axis::adaptive(x[2], out[1]),
                }),
                _ => Kernel::Plain,
            });
        }
        let sizes: Vec<usize> = shapes.iter().map(|s| s[0] * s[1] * s[2]).collect();
        let params = net
            .params
            .iter()
            .map(|p| ParamState::new(p.data.clone(), true))
            .collect();
        Ok(CpuNet {
            net: net.clone(),
            params,
            kernels,
            vals: sizes.iter().map(|&n| vec![0.0; n * max_batch]).collect(),
            grads: sizes.iter().map(|&n| vec![0.0; n * max_batch]).collect(),
            saved: vec![Saved::default(); net.nodes.len()],
            sizes,
            scratch: Vec::new(),
            max_batch,
            seed,
            step: 0,
            trained_mode: false,
        })
    }

    /// Largest batch.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Features per sample of the input.
    pub fn input_len(&self) -> usize {
        self.sizes[0]
    }

    /// Outputs per sample.
    pub fn classes(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }

    /// The input buffer, `max_batch x input_len`, to be filled before [`CpuNet::forward`].
    pub fn input_mut(&mut self) -> &mut [f32] {
        &mut self.vals[0]
    }

    /// The logits of the last forward, `b x classes`.
    pub fn output(&self, b: usize) -> &[f32] {
        &self.vals[self.vals.len() - 1][..b * self.classes()]
    }

    /// The gradient of the loss w.r.t. the logits, to be filled before [`CpuNet::backward`].
    pub fn output_grad_mut(&mut self, b: usize) -> &mut [f32] {
        let c = self.classes();
        let last = self.grads.len() - 1;
        &mut self.grads[last][..b * c]
    }

    /// Sets the optimizer step whose dropout masks the next train-mode forward draws: the masks
    /// are those the wgpu backend draws at the same step of a run with the same seed.
    pub fn set_step(&mut self, t: u64) {
        self.step = t;
    }

    /// Forward pass of `b` samples already in the input buffer. `train`: batch statistics
    /// (and running-statistics updates) in batch norm, random masks in dropout.
    pub fn forward(&mut self, b: usize, train: bool) -> Result<()> {
        if b == 0 || b > self.max_batch {
            return Err(Error::InvalidArgument(format!(
                "batch of {b} (maximum {})",
                self.max_batch
            )));
        }
        self.trained_mode = train;
        for i in 0..self.net.nodes.len() {
            let node = self.net.nodes[i].clone();
            let (lo, hi) = self.vals.split_at_mut(i + 1);
            let x = &lo[node.inputs[0]][..b * self.sizes[node.inputs[0]]];
            let y = &mut hi[0][..b * self.sizes[i + 1]];
            let saved = &mut self.saved[i];
            let ps = &self.params;
            match (&node.op, &self.kernels[i]) {
                (Op::Conv2d { weight, bias, .. }, Kernel::Conv(c)) => {
                    let bias = bias.map(|p| &ps[p].w[..]);
                    c.forward(x, b, &ps[*weight].w, bias, y, &mut self.scratch);
                }
                (
                    Op::BatchNorm2d {
                        weight,
                        bias,
                        running_mean,
                        running_var,
                        num_batches_tracked,
                        ..
                    },
                    Kernel::Bn(bn),
                ) => {
                    let p = BnParams {
                        gamma: &ps[*weight].w,
                        beta: &ps[*bias].w,
                    };
                    if train {
                        if b * bn.hw < 2 {
                            return Err(Error::InvalidArgument(format!(
                                "batch norm (node {i}) in train mode needs more than one value per channel, got a batch of {b}"
                            )));
                        }
                        saved.xhat.resize(b * self.sizes[i + 1], 0.0);
                        saved.inv_std.resize(bn.c, 0.0);
                        let mut rm = std::mem::take(f32_buffer(&mut self.net, *running_mean)?);
                        let rv = f32_buffer(&mut self.net, *running_var)?;
                        bn.forward_train(
                            x,
                            b,
                            &p,
                            y,
                            &mut saved.xhat,
                            &mut saved.inv_std,
                            &mut rm,
                            rv,
                        );
                        *f32_buffer(&mut self.net, *running_mean)? = rm;
                        if let Some(t) = num_batches_tracked
                            && let BufferData::I64(v) = &mut self.net.buffers[*t].data
                            && let Some(c) = v.first_mut()
                        {
                            *c += 1;
                        }
                    } else {
                        let rm = f32_buffer(&mut self.net, *running_mean)?.clone();
                        let rv = f32_buffer(&mut self.net, *running_var)?;
                        bn.forward_eval(x, b, &p, &rm, rv, y);
                    }
                }
                (Op::Relu, _) => {
                    for (o, &v) in y.iter_mut().zip(x) {
                        *o = v.max(0.0);
                    }
                }
                (Op::MaxPool2d { .. }, Kernel::MaxPool(p)) => {
                    saved.arg.resize(y.len(), 0);
                    p.max_forward(x, b, y, &mut saved.arg);
                }
                (Op::AvgPool2d { .. } | Op::AdaptiveAvgPool2d { .. }, Kernel::AvgPool(p)) => {
                    p.avg_forward(x, b, y);
                }
                (Op::Flatten, _) => y.copy_from_slice(x),
                (Op::Dropout { p }, _) => {
                    if train && *p > 0.0 {
                        let scale = 1.0 / (1.0 - p);
                        let s = dropout::mask_seed(self.seed, self.step, i);
                        saved.mask.clear();
                        saved.mask.extend(
                            (0..y.len() as u32)
                                .map(|e| if dropout::keep(s, e, *p) { scale } else { 0.0 }),
                        );
                        for ((o, &v), &m) in y.iter_mut().zip(x).zip(&saved.mask) {
                            *o = v * m;
                        }
                    } else {
                        saved.mask.clear();
                        y.copy_from_slice(x);
                    }
                }
                (
                    Op::Linear {
                        weight,
                        bias,
                        in_f,
                        out_f,
                    },
                    _,
                ) => {
                    match bias {
                        Some(bp) => {
                            for r in 0..b {
                                y[r * out_f..(r + 1) * out_f].copy_from_slice(&ps[*bp].w);
                            }
                        }
                        None => y.fill(0.0),
                    }
                    gemm(
                        false,
                        true,
                        b,
                        *out_f,
                        *in_f,
                        1.0,
                        x,
                        &ps[*weight].w,
                        1.0,
                        y,
                    );
                }
                (Op::Add, _) => {
                    let x2 = &lo[node.inputs[1]][..b * self.sizes[node.inputs[1]]];
                    for ((o, &u), &v) in y.iter_mut().zip(x).zip(x2) {
                        *o = u + v;
                    }
                }
                (op, _) => unreachable!("kernel table built from the same op: {}", op.kind()),
            }
        }
        Ok(())
    }

    /// Backward pass of the last (train-mode) forward of `b` samples, from the logit gradient
    /// in [`CpuNet::output_grad_mut`]. Parameter gradients are overwritten.
    pub fn backward(&mut self, b: usize) -> Result<()> {
        if !self.trained_mode {
            return Err(Error::InvalidArgument(
                "backward needs a train-mode forward".into(),
            ));
        }
        let last = self.grads.len() - 1;
        for (v, g) in self.grads[..last].iter_mut().enumerate() {
            g[..b * self.sizes[v]].fill(0.0);
        }
        for i in (0..self.net.nodes.len()).rev() {
            let node = self.net.nodes[i].clone();
            let (lo, hi) = self.grads.split_at_mut(i + 1);
            let dy = &hi[0][..b * self.sizes[i + 1]];
            let xi = node.inputs[0];
            let x = &self.vals[xi][..b * self.sizes[xi]];
            let y = &self.vals[i + 1][..b * self.sizes[i + 1]];
            // The input's gradient is not needed.
            let dx = if xi == 0 {
                None
            } else {
                Some(&mut lo[xi][..b * self.sizes[xi]])
            };
            let saved = &self.saved[i];
            let ps = &mut self.params;
            match (&node.op, &self.kernels[i]) {
                (Op::Conv2d { weight, bias, .. }, Kernel::Conv(c)) => {
                    let (w, mut dw) = (
                        std::mem::take(&mut ps[*weight].w),
                        std::mem::take(&mut ps[*weight].grad),
                    );
                    let mut db = bias.map(|p| std::mem::take(&mut ps[p].grad));
                    c.backward(
                        x,
                        b,
                        &w,
                        dy,
                        &mut dw,
                        db.as_deref_mut(),
                        dx,
                        &mut self.scratch,
                    );
                    ps[*weight].w = w;
                    ps[*weight].grad = dw;
                    if let (Some(p), Some(db)) = (bias, db) {
                        ps[*p].grad = db;
                    }
                }
                (Op::BatchNorm2d { weight, bias, .. }, Kernel::Bn(bn)) => {
                    let mut dg = std::mem::take(&mut ps[*weight].grad);
                    let mut dbeta = std::mem::take(&mut ps[*bias].grad);
                    bn.backward_train(
                        b,
                        &ps[*weight].w,
                        &saved.xhat,
                        &saved.inv_std,
                        dy,
                        &mut dg,
                        &mut dbeta,
                        dx,
                    );
                    ps[*weight].grad = dg;
                    ps[*bias].grad = dbeta;
                }
                (Op::Relu, _) => {
                    if let Some(dx) = dx {
                        for ((d, &g), &o) in dx.iter_mut().zip(dy).zip(y) {
                            if o > 0.0 {
                                *d += g;
                            }
                        }
                    }
                }
                (Op::MaxPool2d { .. }, Kernel::MaxPool(p)) => {
                    if let Some(dx) = dx {
                        // Arguments are flat indices into the batch's input.
                        p.max_backward(b, dy, &saved.arg, dx);
                    }
                }
                (Op::AvgPool2d { .. } | Op::AdaptiveAvgPool2d { .. }, Kernel::AvgPool(p)) => {
                    if let Some(dx) = dx {
                        p.avg_backward(b, dy, dx);
                    }
                }
                (Op::Flatten, _) => {
                    if let Some(dx) = dx {
                        for (d, &g) in dx.iter_mut().zip(dy) {
                            *d += g;
                        }
                    }
                }
                (Op::Dropout { .. }, _) => {
                    if let Some(dx) = dx {
                        if saved.mask.is_empty() {
                            for (d, &g) in dx.iter_mut().zip(dy) {
                                *d += g;
                            }
                        } else {
                            for ((d, &g), &m) in dx.iter_mut().zip(dy).zip(&saved.mask) {
                                *d += g * m;
                            }
                        }
                    }
                }
                (
                    Op::Linear {
                        weight,
                        bias,
                        in_f,
                        out_f,
                    },
                    _,
                ) => {
                    gemm(
                        true,
                        false,
                        *out_f,
                        *in_f,
                        b,
                        1.0,
                        dy,
                        x,
                        0.0,
                        &mut ps[*weight].grad,
                    );
                    if let Some(bp) = bias {
                        let gb = &mut ps[*bp].grad;
                        gb.fill(0.0);
                        for r in 0..b {
                            for (g, &d) in gb.iter_mut().zip(&dy[r * out_f..(r + 1) * out_f]) {
                                *g += d;
                            }
                        }
                    }
                    if let Some(dx) = dx {
                        gemm(
                            false,
                            false,
                            b,
                            *in_f,
                            *out_f,
                            1.0,
                            dy,
                            &ps[*weight].w,
                            1.0,
                            dx,
                        );
                    }
                }
                (Op::Add, _) => {
                    let dy = dy.to_vec();
                    for &v in &node.inputs {
                        if v == 0 {
                            continue;
                        }
                        for (d, &g) in lo[v][..b * self.sizes[v]].iter_mut().zip(&dy) {
                            *d += g;
                        }
                    }
                }
                (op, _) => unreachable!("kernel table built from the same op: {}", op.kind()),
            }
        }
        Ok(())
    }

    /// Copies the current parameter values (and the buffers) into `net`, which must have the
    /// same structure.
    pub fn write_back(&self, net: &mut Net) -> Result<()> {
        if net.params.len() != self.params.len() || net.buffers.len() != self.net.buffers.len() {
            return Err(Error::InvalidArgument(
                "network to read into has a different structure".into(),
            ));
        }
        for (p, s) in net.params.iter_mut().zip(&self.params) {
            if p.data.len() != s.w.len() {
                return Err(Error::InvalidArgument(format!(
                    "parameter '{}' has {} values, the backend holds {}",
                    p.name,
                    p.data.len(),
                    s.w.len()
                )));
            }
            p.data.copy_from_slice(&s.w);
        }
        net.buffers.clone_from(&self.net.buffers);
        Ok(())
    }
}
