//! A network ([`Net`]) as kernel dispatches: every value of the
//! graph gets an activation and a gradient buffer for the largest batch, every layer its
//! forward (training and evaluation variants) and backward dispatches. Layer semantics are
//! PyTorch's (see the headers of the `.wgsl` files); the backward pass visits nodes in reverse
//! and overwrites a value's gradient at its first writer and adds at the others (a residual
//! block's input feeds two branches).

use super::dispatch::{Dispatch, Mm, Recorder};
use super::kernels::Kernel;
use crate::error::{Error, Result};
use crate::train::dropout;
use crate::train::net::{BufferData, Net, Op};

/// Device buffers of one parameter: value, gradient, two optimizer states.
pub struct ParamBufs {
    /// Values (PyTorch layout).
    pub w: wgpu::Buffer,
    /// Gradient of the current step.
    pub g: wgpu::Buffer,
    /// Momentum / Adam first moment.
    pub s1: wgpu::Buffer,
    /// Adam second moment.
    pub s2: wgpu::Buffer,
}

/// Every device buffer of a network.
pub struct Tensors {
    /// Activations per value (a flatten's output is its input's buffer).
    pub acts: Vec<wgpu::Buffer>,
    /// Gradients per value (value 0, the input, gets a placeholder).
    pub grads: Vec<wgpu::Buffer>,
    /// The value whose gradient buffer a value uses (itself, or a flatten's input).
    grad_id: Vec<usize>,
    /// Parameters, as [`Net::params`].
    pub params: Vec<ParamBufs>,
    /// F32 buffers of [`Net::buffers`] (running statistics), `None` for integer ones.
    pub running: Vec<Option<wgpu::Buffer>>,
    /// Per node: batch-norm statistics (mean, invstd) or max-pool argmax.
    aux: Vec<Option<wgpu::Buffer>>,
    col: wgpu::Buffer,
    dcol: wgpu::Buffer,
    tmp: wgpu::Buffer,
    dummy_r: wgpu::Buffer,
    dummy_rw: wgpu::Buffer,
}

/// Usage of every storage buffer: kernels read and write them, the host uploads and reads back.
pub const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

/// A zeroed storage buffer of `len` f32 (at least one).
pub fn storage(dev: &wgpu::Device, label: &str, len: usize) -> wgpu::Buffer {
    dev.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (len.max(1) * 4) as u64,
        usage: STORAGE,
        mapped_at_creation: false,
    })
}

fn numel(s: [usize; 3]) -> usize {
    s[0] * s[1] * s[2]
}

impl Tensors {
    /// Allocates and uploads everything for batches of up to `mb` samples (`input_grad`: with
    /// a gradient buffer for the network's input too).
    pub fn new(
        ctx: &super::GpuContext,
        net: &Net,
        shapes: &[[usize; 3]],
        mb: usize,
        input_grad: bool,
    ) -> Result<Tensors> {
        let dev = &ctx.device;
        let upload = |label: &str, data: &[f32]| {
            let b = storage(dev, label, data.len());
            ctx.queue.write_buffer(&b, 0, bytemuck::cast_slice(data));
            b
        };
        let mut consumers = vec![0usize; shapes.len()];
        for n in &net.nodes {
            for &v in &n.inputs {
                consumers[v] += 1;
            }
        }
        if let Some(v) = (1..shapes.len() - 1).find(|&v| consumers[v] == 0) {
            return Err(Error::InvalidArgument(format!(
                "value {v} (output of node {}, {}) is never used",
                v - 1,
                net.nodes[v - 1].op.kind()
            )));
        }
        let mut acts: Vec<wgpu::Buffer> = Vec::new();
        let mut grads: Vec<wgpu::Buffer> = Vec::new();
        let mut grad_id = Vec::new();
        for (v, &s) in shapes.iter().enumerate() {
            let alias = (v > 0 && matches!(net.nodes[v - 1].op, Op::Flatten))
                .then(|| net.nodes[v - 1].inputs[0]);
            match alias {
                Some(src) => {
                    acts.push(acts[src].clone());
                    if (src > 0 || input_grad) && consumers[src] == 1 {
                        grads.push(grads[src].clone());
                        grad_id.push(grad_id[src]);
                    } else {
                        grads.push(storage(dev, "grad", mb * numel(s)));
                        grad_id.push(v);
                    }
                }
                None => {
                    acts.push(storage(dev, "act", mb * numel(s)));
                    let len = if v == 0 && !input_grad {
                        1
                    } else {
                        mb * numel(s)
                    };
                    grads.push(storage(dev, "grad", len));
                    grad_id.push(v);
                }
            }
        }
        let params = net
            .params
            .iter()
            .map(|p| ParamBufs {
                w: upload(&p.name, &p.data),
                g: storage(dev, "param_grad", p.data.len()),
                s1: storage(dev, "state1", p.data.len()),
                s2: storage(dev, "state2", p.data.len()),
            })
            .collect();
        let running = net
            .buffers
            .iter()
            .map(|b| match &b.data {
                BufferData::F32(d) => Some(upload(&b.name, d)),
                BufferData::I64(_) => None,
            })
            .collect();
        let (mut col, mut tmp) = (1usize, 1usize);
        let mut aux = Vec::new();
        for (i, n) in net.nodes.iter().enumerate() {
            let (x, y) = (shapes[n.inputs[0]], shapes[i + 1]);
            aux.push(match n.op {
                Op::Conv2d { kh, kw, .. } => {
                    col = col.max(x[0] * kh * kw * mb * y[1] * y[2]);
                    tmp = tmp.max(mb * numel(y));
                    None
                }
                Op::BatchNorm2d { .. } => Some(storage(dev, "bn_stats", 2 * x[0])),
                Op::MaxPool2d { .. } => Some(storage(dev, "argmax", mb * numel(y))),
                _ => None,
            });
        }
        Ok(Tensors {
            acts,
            grads,
            grad_id,
            params,
            running,
            aux,
            col: storage(dev, "col", col),
            dcol: storage(dev, "dcol", col),
            tmp: storage(dev, "conv_tmp", tmp),
            dummy_r: storage(dev, "unused", 1),
            dummy_rw: storage(dev, "unused", 1),
        })
    }
}

/// Uniform words of a windowed layer: batch, input c h w, output h w, kernel, stride, padding,
/// mode and accumulate flag (window.wgsl's layout).
fn window_words(b: u32, x: [usize; 3], y: [usize; 3], k: [usize; 6], extra: [u32; 2]) -> Vec<u32> {
    let mut w = vec![
        b,
        x[0] as u32,
        x[1] as u32,
        x[2] as u32,
        y[1] as u32,
        y[2] as u32,
    ];
    w.extend(k.iter().map(|&v| v as u32));
    w.extend([extra[0], extra[1], 0, 0]);
    w
}

/// Unfolds a convolution's input `xa` (shape `x`, output shape `y`) into `t.col`.
fn im2col(
    rec: &Recorder,
    t: &Tensors,
    xa: &wgpu::Buffer,
    x: [usize; 3],
    y: [usize; 3],
    geo: [usize; 6],
) -> Dispatch {
    let count = x[0] * geo[0] * geo[1] * y[1] * y[2];
    rec.elems(
        Kernel::Im2col,
        &[xa, &t.col],
        move |b| count * b as usize,
        move |b| window_words(b, x, y, geo, [0, 0]),
    )
}

/// Where a dropout dispatch sits in its list, and which node it belongs to.
pub struct DropoutSlot {
    /// Index in the dispatch list.
    pub index: usize,
    /// Node index.
    pub node: usize,
}

/// Forward dispatches of every node; `train` selects batch statistics and dropout masks.
pub fn forward(
    rec: &Recorder,
    net: &Net,
    shapes: &[[usize; 3]],
    t: &Tensors,
    train: bool,
) -> (Vec<Dispatch>, Vec<DropoutSlot>) {
    let mut ops = Vec::new();
    let mut drop = Vec::new();
    for (i, n) in net.nodes.iter().enumerate() {
        let (x, y) = (shapes[n.inputs[0]], shapes[i + 1]);
        let (xa, ya) = (&t.acts[n.inputs[0]], &t.acts[i + 1]);
        let (nx, ny) = (numel(x), numel(y));
        match n.op {
            Op::Conv2d {
                weight,
                bias,
                out_c,
                kh,
                kw,
                stride,
                padding,
                groups,
                ..
            } => {
                let geo = [kh, kw, stride[0], stride[1], padding[0], padding[1]];
                let rows = x[0] * kh * kw;
                let p = y[1] * y[2];
                ops.push(im2col(rec, t, xa, x, y, geo));
                let (g, ocg, kg) = (
                    groups as u32,
                    (out_c / groups) as u32,
                    (rows / groups) as u32,
                );
                ops.push(rec.matmul(&t.params[weight].w, &t.col, &t.tmp, move |b| {
                    let nn = b * p as u32;
                    Mm {
                        strides: [ocg * kg, kg * nn, ocg * nn],
                        count: g,
                        ..Mm::single(ocg, nn, kg, 0, 0.0)
                    }
                }));
                let bias_buf = bias.map(|bi| &t.params[bi].w).unwrap_or(&t.dummy_r);
                let has_bias = bias.is_some() as u32;
                ops.push(rec.elems(
                    Kernel::ConvLayout,
                    &[&t.tmp, bias_buf, ya],
                    move |b| b as usize * ny,
                    move |b| vec![b, out_c as u32, p as u32, 1, has_bias, 0, 0, 0],
                ));
            }
            Op::BatchNorm2d {
                weight,
                bias,
                running_mean,
                running_var,
                eps,
                momentum,
                ..
            } => {
                let stats = t.aux[i].as_ref().expect("bn stats allocated");
                let (rm, rv) = (running(t, running_mean), running(t, running_var));
                let (c, hw) = (x[0] as u32, (x[1] * x[2]) as u32);
                let mode = if train { 0 } else { 1 };
                ops.push(rec.op(
                    Kernel::BnStats,
                    &[xa, stats, rm, rv],
                    Box::new(move |b| {
                        let w = vec![b, c, hw, mode, eps.to_bits(), momentum.to_bits(), 0, 0];
                        (w, [c, 1, 1])
                    }),
                ));
                ops.push(rec.elems(
                    Kernel::BnApply,
                    &[xa, stats, &t.params[weight].w, &t.params[bias].w, ya],
                    move |b| b as usize * nx,
                    move |b| vec![b, c, hw, 0],
                ));
            }
            Op::Relu => ops.push(elementwise(rec, [xa, xa, ya], nx, 0, false)),
            Op::Add => {
                let xb = &t.acts[n.inputs[1]];
                ops.push(elementwise(rec, [xa, xb, ya], nx, 2, false));
            }
            Op::Dropout { p } => {
                if train && p > 0.0 {
                    drop.push(DropoutSlot {
                        index: ops.len(),
                        node: i,
                    });
                    ops.push(dropout(rec, [xa, xa, ya], nx, p, 4, false));
                } else {
                    ops.push(elementwise(rec, [xa, xa, ya], nx, 3, false));
                }
            }
            Op::MaxPool2d { k, stride, padding } => {
                let geo = [k[0], k[1], stride[0], stride[1], padding[0], padding[1]];
                let arg = t.aux[i].as_ref().expect("argmax allocated");
                ops.push(rec.elems(
                    Kernel::MaxPool,
                    &[xa, ya, arg],
                    move |b| b as usize * ny,
                    move |b| window_words(b, x, y, geo, [0, 0]),
                ));
            }
            Op::AvgPool2d { .. } | Op::AdaptiveAvgPool2d { .. } => {
                let (geo, mode) = pool_geometry(&n.op);
                ops.push(rec.elems(
                    Kernel::AvgPool,
                    &[xa, ya],
                    move |b| b as usize * ny,
                    move |b| window_words(b, x, y, geo, [mode, 0]),
                ));
            }
            Op::Flatten => {}
            Op::Linear {
                weight,
                bias,
                in_f,
                out_f,
            } => {
                let (fi, fo) = (in_f as u32, out_f as u32);
                ops.push(rec.matmul(xa, &t.params[weight].w, ya, move |b| {
                    Mm::single(b, fo, fi, 2, 0.0)
                }));
                if let Some(bi) = bias {
                    ops.push(rec.elems(
                        Kernel::BiasAct,
                        &[&t.params[bi].w, ya],
                        move |b| b as usize * out_f,
                        move |b| vec![b, fo, 0, 0],
                    ));
                }
            }
        }
    }
    (ops, drop)
}

fn running(t: &Tensors, b: usize) -> &wgpu::Buffer {
    t.running[b]
        .as_ref()
        .expect("running statistics are f32 buffers")
}

/// Window (kh, kw, sh, sw, ph, pw) and avg_pool.wgsl mode of a pooling op.
fn pool_geometry(op: &Op) -> ([usize; 6], u32) {
    match *op {
        Op::AvgPool2d { k, stride, padding } | Op::MaxPool2d { k, stride, padding } => (
            [k[0], k[1], stride[0], stride[1], padding[0], padding[1]],
            0,
        ),
        _ => ([0, 0, 1, 1, 0, 0], 1),
    }
}

/// An elementwise.wgsl dispatch over `n` elements per sample.
fn elementwise(
    rec: &Recorder,
    bufs: [&wgpu::Buffer; 3],
    n: usize,
    mode: u32,
    acc: bool,
) -> Dispatch {
    rec.elems(
        Kernel::Elementwise,
        &bufs,
        move |b| b as usize * n,
        move |b| vec![b * n as u32, mode, acc as u32, 0, 0, 0, 0, 0],
    )
}

/// A dropout dispatch (mode 4 forward, 5 backward); its seed word is rewritten every step.
fn dropout(
    rec: &Recorder,
    bufs: [&wgpu::Buffer; 3],
    n: usize,
    p: f32,
    mode: u32,
    acc: bool,
) -> Dispatch {
    let threshold = dropout::threshold(p);
    let scale = 1.0 / (1.0 - p);
    rec.elems(
        Kernel::Elementwise,
        &bufs,
        move |b| b as usize * n,
        move |b| {
            vec![
                b * n as u32,
                mode,
                acc as u32,
                0,
                threshold,
                scale.to_bits(),
                0,
                0,
            ]
        },
    )
}

/// Backward dispatches, nodes in reverse; the loss kernel has written the last value's
/// gradient. Parameter gradients are overwritten every step; the input's gradient is computed
/// only with `input_grad` (and buffers from [`Tensors::new`] with it).
pub fn backward(
    rec: &Recorder,
    net: &Net,
    shapes: &[[usize; 3]],
    t: &Tensors,
    input_grad: bool,
) -> (Vec<Dispatch>, Vec<DropoutSlot>) {
    let mut ops = Vec::new();
    let mut drop = Vec::new();
    let mut written = vec![false; shapes.len()];
    // Accumulate into value v's gradient? (and mark it written).
    let mut acc_for = |v: usize| {
        let id = t.grad_id[v];
        std::mem::replace(&mut written[id], true)
    };
    for (i, n) in net.nodes.iter().enumerate().rev() {
        let v0 = n.inputs[0];
        let (x, y) = (shapes[v0], shapes[i + 1]);
        let (xa, ya, dy) = (&t.acts[v0], &t.acts[i + 1], &t.grads[i + 1]);
        let (nx, ny) = (numel(x), numel(y));
        let needs = v0 != 0 || input_grad;
        match n.op {
            Op::Conv2d {
                weight,
                bias,
                out_c,
                kh,
                kw,
                stride,
                padding,
                groups,
                ..
            } => {
                let geo = [kh, kw, stride[0], stride[1], padding[0], padding[1]];
                let rows = x[0] * kh * kw;
                let p = y[1] * y[2];
                let (oc, pu) = (out_c as u32, p as u32);
                ops.push(rec.elems(
                    Kernel::ConvLayout,
                    &[dy, &t.dummy_r, &t.tmp],
                    move |b| b as usize * ny,
                    move |b| vec![b, oc, pu, 0, 0, 0, 0, 0],
                ));
                ops.push(im2col(rec, t, xa, x, y, geo));
                let (g, ocg, kg) = (
                    groups as u32,
                    (out_c / groups) as u32,
                    (rows / groups) as u32,
                );
                let pw = &t.params[weight];
                ops.push(rec.matmul(&t.tmp, &t.col, &pw.g, move |b| {
                    let nn = b * pu;
                    Mm {
                        strides: [ocg * nn, kg * nn, ocg * kg],
                        count: g,
                        ..Mm::single(ocg, kg, nn, 2, 0.0)
                    }
                }));
                if let Some(bi) = bias {
                    ops.push(channel_sum(rec, t, dy, &t.params[bi].g, y));
                }
                if needs {
                    ops.push(rec.matmul(&pw.w, &t.tmp, &t.dcol, move |b| {
                        let nn = b * pu;
                        Mm {
                            strides: [ocg * kg, ocg * nn, kg * nn],
                            count: g,
                            ..Mm::single(kg, nn, ocg, 1, 0.0)
                        }
                    }));
                    let acc = acc_for(v0) as u32;
                    ops.push(rec.elems(
                        Kernel::Col2im,
                        &[&t.dcol, &t.grads[v0]],
                        move |b| b as usize * nx,
                        move |b| window_words(b, x, y, geo, [0, acc]),
                    ));
                }
            }
            Op::BatchNorm2d { weight, bias, .. } => {
                let stats = t.aux[i].as_ref().expect("bn stats allocated");
                let (c, hw) = (x[0] as u32, (x[1] * x[2]) as u32);
                let (gg, gb) = (&t.params[weight].g, &t.params[bias].g);
                ops.push(rec.op(
                    Kernel::ChannelSums,
                    &[dy, xa, stats, gb, gg],
                    Box::new(move |b| (vec![b, c, hw, 1], [c, 1, 1])),
                ));
                if needs {
                    let acc = acc_for(v0) as u32;
                    ops.push(rec.elems(
                        Kernel::BnBackward,
                        &[xa, dy, stats, &t.params[weight].w, gb, gg, &t.grads[v0]],
                        move |b| b as usize * nx,
                        move |b| vec![b, c, hw, acc],
                    ));
                }
            }
            Op::Relu if needs => {
                let acc = acc_for(v0);
                ops.push(elementwise(rec, [ya, dy, &t.grads[v0]], nx, 1, acc));
            }
            Op::Add => {
                for &v in &n.inputs {
                    if v != 0 || input_grad {
                        let acc = acc_for(v);
                        ops.push(elementwise(rec, [dy, dy, &t.grads[v]], nx, 3, acc));
                    }
                }
            }
            Op::Dropout { p } if needs => {
                let acc = acc_for(v0);
                if p > 0.0 {
                    drop.push(DropoutSlot {
                        index: ops.len(),
                        node: i,
                    });
                    ops.push(dropout(rec, [dy, dy, &t.grads[v0]], nx, p, 5, acc));
                } else {
                    ops.push(elementwise(rec, [dy, dy, &t.grads[v0]], nx, 3, acc));
                }
            }
            Op::MaxPool2d { k, stride, padding } if needs => {
                let geo = [k[0], k[1], stride[0], stride[1], padding[0], padding[1]];
                let arg = t.aux[i].as_ref().expect("argmax allocated");
                let acc = acc_for(v0) as u32;
                ops.push(rec.elems(
                    Kernel::MaxPoolBackward,
                    &[dy, arg, &t.grads[v0]],
                    move |b| b as usize * nx,
                    move |b| window_words(b, x, y, geo, [0, acc]),
                ));
            }
            Op::AvgPool2d { .. } | Op::AdaptiveAvgPool2d { .. } if needs => {
                let (geo, mode) = pool_geometry(&n.op);
                let acc = acc_for(v0) as u32;
                ops.push(rec.elems(
                    Kernel::AvgPoolBackward,
                    &[dy, &t.grads[v0]],
                    move |b| b as usize * nx,
                    move |b| window_words(b, x, y, geo, [mode, acc]),
                ));
            }
            Op::Flatten if needs => {
                if t.grad_id[i + 1] == t.grad_id[v0] {
                    acc_for(v0);
                } else {
                    let acc = acc_for(v0);
                    ops.push(elementwise(rec, [dy, dy, &t.grads[v0]], nx, 3, acc));
                }
            }
            Op::Linear {
                weight,
                bias,
                in_f,
                out_f,
            } => {
                let (fi, fo) = (in_f as u32, out_f as u32);
                let pw = &t.params[weight];
                ops.push(rec.matmul(dy, xa, &pw.g, move |b| Mm::single(fo, fi, b, 1, 0.0)));
                if let Some(bi) = bias {
                    ops.push(rec.op(
                        Kernel::ColumnSum,
                        &[dy, &t.params[bi].g],
                        Box::new(move |b| (vec![b, fo, 0, 0], [fo.div_ceil(64), 1, 1])),
                    ));
                }
                if needs {
                    let beta = if acc_for(v0) { 1.0 } else { 0.0 };
                    ops.push(rec.matmul(dy, &pw.w, &t.grads[v0], move |b| {
                        Mm::single(b, fi, fo, 0, beta)
                    }));
                }
            }
            _ => {}
        }
    }
    (ops, drop)
}

/// Per-channel sum of an NCHW gradient (a convolution's bias gradient).
fn channel_sum(
    rec: &Recorder,
    t: &Tensors,
    dy: &wgpu::Buffer,
    out: &wgpu::Buffer,
    y: [usize; 3],
) -> Dispatch {
    let (c, hw) = (y[0] as u32, (y[1] * y[2]) as u32);
    rec.op(
        Kernel::ChannelSums,
        &[dy, &t.dummy_r, &t.dummy_r, out, &t.dummy_rw],
        Box::new(move |b| (vec![b, c, hw, 0], [c, 1, 1])),
    )
}
