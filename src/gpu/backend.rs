//! The wgpu training backend. Everything is allocated when the backend is created: data sets,
//! parameters, optimizer state, activations, gradients, penalty matrices, one uniform buffer
//! per dispatch and every bind group. A step then writes the batch's indices (a few hundred
//! bytes) and the optimizer's scalars, records one compute pass and submits it; nothing is
//! read back until the trainer asks for statistics, an evaluation, a weight matrix (spectrum
//! refresh) or the final model.

use bytemuck::{Pod, Zeroable};

use super::context::GpuContext;
use super::kernels::{Kernel, Pipelines, grid_1d, width};
use crate::error::{Error, Result};
use crate::train::backend::{
    Backend, Eval, GramSide, Optimizer, PenaltySpectrum, Split, StepParams, check_fit,
};
use crate::train::cpu::adam_corrections;
use crate::train::data::Dataset;
use crate::train::model::Mlp;
use crate::train::net::Net;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    flags: u32,
    alpha: f32,
    beta: f32,
    pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct OptParams {
    lr: f32,
    weight_decay: f32,
    momentum: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bc1: f32,
    bc2: f32,
}

/// A matrix dimension that is either the batch size or fixed.
#[derive(Debug, Clone, Copy)]
enum Dim {
    Batch,
    Fixed(u32),
}

impl Dim {
    fn at(self, b: u32) -> u32 {
        match self {
            Dim::Batch => b,
            Dim::Fixed(v) => v,
        }
    }
}

/// How a dispatch's parameters and workgroup counts follow from the batch size.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Matmul {
        m: Dim,
        n: Dim,
        k: Dim,
        flags: u32,
        alpha: f32,
        beta: f32,
    },
    /// `[rows = b, cols, extra, 0]`, one invocation per element.
    Rows { cols: u32, extra: u32 },
    /// `[b * cols, 0, 0, 0]`, one invocation per element.
    Elems { cols: u32 },
    /// `[b, classes, bits(1/b), 0]`, one invocation per row.
    Loss { classes: u32 },
    /// `[b, cols, 0, 0]`, one invocation per column.
    Columns { cols: u32 },
    /// Parameters written by the caller; one invocation.
    Reduce,
    /// Shared optimizer uniform; `len` invocations.
    Optim { len: u32 },
    /// `[n, 0, 0, 0]`, n * n invocations.
    Square { n: u32 },
}

struct Op {
    kernel: Kernel,
    bind: wgpu::BindGroup,
    params: Option<wgpu::Buffer>,
    shape: Shape,
    enabled: bool,
}

impl Op {
    fn param_bytes(&self, b: u32) -> Option<Vec<u8>> {
        let p4 = |v: [u32; 4]| Some(bytemuck::cast_slice(&v).to_vec());
        match self.shape {
            Shape::Matmul {
                m,
                n,
                k,
                flags,
                alpha,
                beta,
            } => Some(
                bytemuck::bytes_of(&MatmulParams {
                    m: m.at(b),
                    n: n.at(b),
                    k: k.at(b),
                    flags,
                    alpha,
                    beta,
                    pad: [0; 2],
                })
                .to_vec(),
            ),
            Shape::Rows { cols, extra } => p4([b, cols, extra, 0]),
            Shape::Elems { cols } => p4([b * cols, 0, 0, 0]),
            Shape::Loss { classes } => p4([b, classes, (1.0 / b as f32).to_bits(), 0]),
            Shape::Columns { cols } => p4([b, cols, 0, 0]),
            Shape::Square { n } => p4([n, 0, 0, 0]),
            Shape::Reduce | Shape::Optim { .. } => None,
        }
    }

    fn groups(&self, b: u32) -> (u32, u32) {
        let w = width(self.kernel);
        match self.shape {
            Shape::Matmul { m, n, .. } => (n.at(b).div_ceil(32), m.at(b).div_ceil(32)),
            Shape::Rows { cols, .. } | Shape::Elems { cols } => {
                grid_1d(b as usize * cols as usize, w)
            }
            Shape::Loss { .. } => grid_1d(b as usize, w),
            Shape::Columns { cols } => (cols.div_ceil(w), 1),
            Shape::Reduce => (1, 1),
            Shape::Optim { len } => grid_1d(len as usize, w),
            Shape::Square { n } => grid_1d(n as usize * n as usize, w),
        }
    }
}

struct LayerBufs {
    out: u32,
    inp: u32,
    w: wgpu::Buffer,
    b: wgpu::Buffer,
    side: GramSide,
    n: u32,
    v: wgpu::Buffer,
    g: wgpu::Buffer,
    /// Index of this layer's penalty-assembly op in `train_ops`.
    penalty_op: usize,
    /// The two ops that form M = V diag(g) V^T at a refresh.
    form_m: [Op; 2],
}

/// Training backend on a wgpu device.
pub struct GpuBackend {
    ctx: GpuContext,
    pipes: Pipelines,
    max_batch: u32,
    cur_b: u32,
    layers: Vec<LayerBufs>,
    train_ops: Vec<Op>,
    /// Evaluation ops for the training set and the test set (gather, forward, loss, reduce).
    eval_ops: [Vec<Op>; 2],
    idx_train: wgpu::Buffer,
    idx_eval: wgpu::Buffer,
    opt_buf: wgpu::Buffer,
    stats: wgpu::Buffer,
    eval_slot: u32,
    staging: wgpu::Buffer,
    staging_size: u64,
    opt: Optimizer,
    n_train: usize,
    n_test: Option<usize>,
}

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

impl GpuBackend {
    /// Uploads the model, the data sets and creates every pipeline, buffer and bind group.
    pub fn new(
        ctx: GpuContext,
        model: &Mlp,
        train: Dataset,
        test: Option<Dataset>,
        opt: Optimizer,
        max_batch: usize,
    ) -> Result<GpuBackend> {
        check_fit(model, &train, test.as_ref())?;
        let dev = &ctx.device;
        let limits = dev.limits();
        for (what, d) in
            std::iter::once(("training", &train)).chain(test.as_ref().map(|t| ("test", t)))
        {
            let bytes = (d.x.len() * 4) as u64;
            if bytes > limits.max_storage_buffer_binding_size || bytes > limits.max_buffer_size {
                return Err(Error::InvalidArgument(format!(
                    "{what} data ({bytes} bytes) exceeds the device's largest storage buffer ({} bytes); \
                     use --device cpu or fewer samples",
                    limits.max_storage_buffer_binding_size
                )));
            }
        }
        let pipes = Pipelines::new(dev);
        let dims = model.dims();
        let nl = model.layers.len();
        let mb = max_batch.max(1) as u32;
        let storage = |label: &str, bytes: usize| {
            dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: (bytes.max(4) as u64).next_multiple_of(4),
                usage: STORAGE,
                mapped_at_creation: false,
            })
        };
        let upload = |label: &str, data: &[u8]| {
            let buf = storage(label, data.len());
            ctx.queue.write_buffer(&buf, 0, data);
            buf
        };
        let uniform = |bytes: usize| {
            dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("params"),
                size: bytes.max(16) as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let make_op = |kernel: Kernel,
                       shape: Shape,
                       bufs: &[&wgpu::Buffer],
                       opt_buf: Option<&wgpu::Buffer>| {
            let params = match shape {
                Shape::Optim { .. } => None,
                Shape::Matmul { .. } => Some(uniform(32)),
                _ => Some(uniform(16)),
            };
            let first = params
                .as_ref()
                .or(opt_buf)
                .expect("optimizer ops get the shared uniform");
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: first.as_entire_binding(),
            }];
            for (i, b) in bufs.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: b.as_entire_binding(),
                });
            }
            let bind = dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipes.get(kernel).get_bind_group_layout(0),
                entries: &entries,
            });
            Op {
                kernel,
                bind,
                params,
                shape,
                enabled: true,
            }
        };

        // Data.
        let train_x = upload("train_x", bytemuck::cast_slice(&train.x));
        let train_y = upload("train_y", bytemuck::cast_slice(&train.y));
        let (test_x, test_y) = match &test {
            Some(t) => (
                upload("test_x", bytemuck::cast_slice(&t.x)),
                upload("test_y", bytemuck::cast_slice(&t.y)),
            ),
            None => (storage("test_x", 4), storage("test_y", 4)),
        };
        let idx_train = storage("idx_train", mb as usize * 4);
        let idx_eval = storage("idx_eval", mb as usize * 4);
        let acts: Vec<wgpu::Buffer> = dims
            .iter()
            .map(|&d| storage("act", mb as usize * d * 4))
            .collect();
        let dzs: Vec<wgpu::Buffer> = dims[1..]
            .iter()
            .map(|&d| storage("dz", mb as usize * d * 4))
            .collect();
        let row_loss = storage("row_loss", mb as usize * 4);
        let row_correct = storage("row_correct", mb as usize * 4);
        let eval_slot = train.len() as u32;
        let stats = storage("stats", (train.len() + 1) * 8);
        let opt_buf = uniform(std::mem::size_of::<OptParams>());

        struct Params {
            w: wgpu::Buffer,
            b: wgpu::Buffer,
            gw: wgpu::Buffer,
            gb: wgpu::Buffer,
            state: [wgpu::Buffer; 4],
        }
        let mut params = Vec::new();
        for l in &model.layers {
            let l = l.as_linear();
            let wl = l.weight.len() * 4;
            let bl = l.bias.len() * 4;
            params.push(Params {
                w: upload("w", bytemuck::cast_slice(&l.weight)),
                b: upload("b", bytemuck::cast_slice(&l.bias)),
                gw: storage("gw", wl),
                gb: storage("gb", bl),
                state: [
                    storage("m1w", wl),
                    storage("m2w", wl),
                    storage("m1b", bl),
                    storage("m2b", bl),
                ],
            });
        }

        // Forward ops (shared by training and evaluation), given the gather op in front.
        let forward = |ops: &mut Vec<Op>| {
            for l in 0..nl {
                let (din, dout) = (dims[l] as u32, dims[l + 1] as u32);
                ops.push(make_op(
                    Kernel::Matmul,
                    Shape::Matmul {
                        m: Dim::Batch,
                        n: Dim::Fixed(dout),
                        k: Dim::Fixed(din),
                        flags: 2,
                        alpha: 1.0,
                        beta: 0.0,
                    },
                    &[&acts[l], &params[l].w, &acts[l + 1]],
                    None,
                ));
                ops.push(make_op(
                    Kernel::BiasAct,
                    Shape::Rows {
                        cols: dout,
                        extra: (l + 1 < nl) as u32,
                    },
                    &[&params[l].b, &acts[l + 1]],
                    None,
                ));
            }
        };
        let classes = dims[nl] as u32;
        let d0 = dims[0] as u32;
        let eval_set = |x: &wgpu::Buffer, y: &wgpu::Buffer| {
            let mut ops = vec![make_op(
                Kernel::Gather,
                Shape::Rows { cols: d0, extra: 0 },
                &[x, &idx_eval, &acts[0]],
                None,
            )];
            forward(&mut ops);
            ops.push(make_op(
                Kernel::SoftmaxXent,
                Shape::Loss { classes },
                &[
                    &acts[nl],
                    y,
                    &idx_eval,
                    &dzs[nl - 1],
                    &row_loss,
                    &row_correct,
                ],
                None,
            ));
            ops.push(make_op(
                Kernel::ReduceStats,
                Shape::Reduce,
                &[&row_loss, &row_correct, &stats],
                None,
            ));
            ops
        };
        let eval_ops = [eval_set(&train_x, &train_y), eval_set(&test_x, &test_y)];

        let mut ops = vec![make_op(
            Kernel::Gather,
            Shape::Rows { cols: d0, extra: 0 },
            &[&train_x, &idx_train, &acts[0]],
            None,
        )];
        forward(&mut ops);
        ops.push(make_op(
            Kernel::SoftmaxXent,
            Shape::Loss { classes },
            &[
                &acts[nl],
                &train_y,
                &idx_train,
                &dzs[nl - 1],
                &row_loss,
                &row_correct,
            ],
            None,
        ));
        ops.push(make_op(
            Kernel::ReduceStats,
            Shape::Reduce,
            &[&row_loss, &row_correct, &stats],
            None,
        ));
        let mut layers: Vec<Option<LayerBufs>> = (0..nl).map(|_| None).collect();
        for l in (0..nl).rev() {
            let (din, dout) = (dims[l] as u32, dims[l + 1] as u32);
            let p = &params[l];
            ops.push(make_op(
                Kernel::Matmul,
                Shape::Matmul {
                    m: Dim::Fixed(dout),
                    n: Dim::Fixed(din),
                    k: Dim::Batch,
                    flags: 1,
                    alpha: 1.0,
                    beta: 0.0,
                },
                &[&dzs[l], &acts[l], &p.gw],
                None,
            ));
            ops.push(make_op(
                Kernel::ColumnSum,
                Shape::Columns { cols: dout },
                &[&dzs[l], &p.gb],
                None,
            ));
            if l > 0 {
                ops.push(make_op(
                    Kernel::Matmul,
                    Shape::Matmul {
                        m: Dim::Batch,
                        n: Dim::Fixed(din),
                        k: Dim::Fixed(dout),
                        flags: 0,
                        alpha: 1.0,
                        beta: 0.0,
                    },
                    &[&dzs[l], &p.w, &dzs[l - 1]],
                    None,
                ));
                ops.push(make_op(
                    Kernel::ReluBackward,
                    Shape::Elems { cols: din },
                    &[&acts[l], &dzs[l - 1]],
                    None,
                ));
            }
            // Penalty: gradient += c * W M (Right) or c * M W (Left), M = V diag(g) V^T.
            let (side, n) = if dout < din {
                (GramSide::Left, dout)
            } else {
                (GramSide::Right, din)
            };
            let v = storage("pen_v", (n * n) as usize * 4);
            let g = storage("pen_g", n as usize * 4);
            let vg = storage("pen_vg", (n * n) as usize * 4);
            let m = storage("pen_m", (n * n) as usize * 4);
            let (a_buf, b_buf, k) = match side {
                GramSide::Right => (&p.w, &m, din),
                GramSide::Left => (&m, &p.w, dout),
            };
            let mut pen = make_op(
                Kernel::Matmul,
                Shape::Matmul {
                    m: Dim::Fixed(dout),
                    n: Dim::Fixed(din),
                    k: Dim::Fixed(k),
                    flags: 0,
                    alpha: 0.0,
                    beta: 1.0,
                },
                &[a_buf, b_buf, &p.gw],
                None,
            );
            pen.enabled = false;
            let penalty_op = ops.len();
            ops.push(pen);
            let form_m = [
                make_op(
                    Kernel::PenaltyScale,
                    Shape::Square { n },
                    &[&v, &g, &vg],
                    None,
                ),
                make_op(
                    Kernel::Matmul,
                    Shape::Matmul {
                        m: Dim::Fixed(n),
                        n: Dim::Fixed(n),
                        k: Dim::Fixed(n),
                        flags: 2,
                        alpha: 1.0,
                        beta: 0.0,
                    },
                    &[&vg, &v, &m],
                    None,
                ),
            ];
            layers[l] = Some(LayerBufs {
                out: dout,
                inp: din,
                w: p.w.clone(),
                b: p.b.clone(),
                side,
                n,
                v,
                g,
                penalty_op,
                form_m,
            });
        }
        for (l, p) in params.iter().enumerate() {
            let trainable_bias = model.layers[l].as_linear().bias_name.is_some();
            let targets: Vec<(&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer)> =
                if trainable_bias {
                    vec![
                        (&p.w, &p.gw, &p.state[0], &p.state[1]),
                        (&p.b, &p.gb, &p.state[2], &p.state[3]),
                    ]
                } else {
                    vec![(&p.w, &p.gw, &p.state[0], &p.state[1])]
                };
            for (w, gr, s1, s2) in targets {
                let len = (w.size() / 4) as u32;
                ops.push(match opt {
                    Optimizer::Sgd { .. } => make_op(
                        Kernel::Sgd,
                        Shape::Optim { len },
                        &[gr, w, s1],
                        Some(&opt_buf),
                    ),
                    Optimizer::Adam { .. } => make_op(
                        Kernel::Adam,
                        Shape::Optim { len },
                        &[gr, w, s1, s2],
                        Some(&opt_buf),
                    ),
                });
            }
        }
        let staging_size = params
            .iter()
            .map(|p| p.w.size().max(p.b.size()))
            .chain([stats.size()])
            .max()
            .unwrap_or(16);
        let staging = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: staging_size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let n_test = test.as_ref().map(|t| t.len());
        let mut me = GpuBackend {
            layers: layers
                .into_iter()
                .map(|l| l.expect("every layer built"))
                .collect(),
            train_ops: ops,
            eval_ops,
            idx_train,
            idx_eval,
            opt_buf,
            stats,
            eval_slot,
            staging,
            staging_size,
            opt,
            n_train: train.len(),
            n_test,
            max_batch: mb,
            cur_b: 0,
            pipes,
            ctx,
        };
        for l in &me.layers {
            for op in &l.form_m {
                me.write_params(op, 0);
            }
        }
        me.set_batch(mb);
        Ok(me)
    }

    fn write_params(&self, op: &Op, b: u32) {
        if let (Some(buf), Some(bytes)) = (&op.params, op.param_bytes(b)) {
            self.ctx.queue.write_buffer(buf, 0, &bytes);
        }
    }

    /// Rewrites the parameters of every batch-dependent dispatch (only when the batch size
    /// changes: the last, partial batch of an epoch, or evaluation).
    fn set_batch(&mut self, b: u32) {
        if b == self.cur_b {
            return;
        }
        for op in self.train_ops.iter().chain(self.eval_ops.iter().flatten()) {
            self.write_params(op, b);
        }
        self.cur_b = b;
    }

    fn run_ops(&self, ops: &[Op], b: u32) {
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for op in ops.iter().filter(|o| o.enabled) {
                let (x, y) = op.groups(b);
                pass.set_pipeline(self.pipes.get(op.kernel));
                pass.set_bind_group(0, &op.bind, &[]);
                pass.dispatch_workgroups(x, y, 1);
            }
        }
        self.ctx.queue.submit([enc.finish()]);
    }

    fn write_reduce(&self, ops: &[Op], rows: u32, slot: u32, mode: u32) {
        if let Some(op) = ops.iter().find(|o| o.kernel == Kernel::ReduceStats)
            && let Some(buf) = &op.params
        {
            self.ctx
                .queue
                .write_buffer(buf, 0, bytemuck::cast_slice(&[rows, slot, mode, 0u32]));
        }
    }

    /// Copies the first `bytes` of `src` back to the host.
    fn read(&self, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        if bytes > self.staging_size {
            return Err(Error::InvalidArgument(format!(
                "read of {bytes} bytes exceeds the staging buffer"
            )));
        }
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(src, 0, &self.staging, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        let slice = self.staging.slice(0..bytes);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.ctx
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Numerical(format!("wgpu: {e}")))?;
        rx.recv()
            .map_err(|e| Error::Numerical(format!("wgpu map: {e}")))?
            .map_err(|e| Error::Numerical(format!("wgpu map: {e}")))?;
        let out = slice
            .get_mapped_range()
            .map_err(|e| Error::Numerical(format!("wgpu map: {e:?}")))?
            .to_vec();
        self.staging.unmap();
        Ok(out)
    }

    fn read_f32(&self, src: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        Ok(bytemuck::pod_collect_to_vec(
            &self.read(src, (len * 4) as u64)?,
        ))
    }
}

impl Backend for GpuBackend {
    fn name(&self) -> String {
        format!("wgpu: {}", self.ctx.describe())
    }

    fn train_step(&mut self, batch: &[u32], slot: usize, p: &StepParams) -> Result<()> {
        let b = batch.len() as u32;
        if b == 0 || b > self.max_batch || slot >= self.eval_slot as usize {
            return Err(Error::InvalidArgument(format!(
                "batch of {b} (maximum {}) in slot {slot}",
                self.max_batch
            )));
        }
        if let Some(&bad) = batch.iter().find(|&&i| i as usize >= self.n_train) {
            return Err(Error::InvalidArgument(format!("sample {bad} out of range")));
        }
        let q = &self.ctx.queue;
        q.write_buffer(&self.idx_train, 0, bytemuck::cast_slice(batch));
        let o = match self.opt {
            Optimizer::Sgd { momentum } => OptParams {
                lr: p.lr,
                weight_decay: p.weight_decay,
                momentum,
                beta1: 0.0,
                beta2: 0.0,
                eps: 0.0,
                bc1: 1.0,
                bc2: 1.0,
            },
            Optimizer::Adam { beta1, beta2, eps } => {
                let (bc1, bc2) = adam_corrections(beta1, beta2, p.t);
                OptParams {
                    lr: p.lr,
                    weight_decay: p.weight_decay,
                    momentum: 0.0,
                    beta1,
                    beta2,
                    eps,
                    bc1,
                    bc2,
                }
            }
        };
        q.write_buffer(&self.opt_buf, 0, bytemuck::bytes_of(&o));
        self.set_batch(b);
        self.write_reduce(&self.train_ops, b, slot as u32, 0);
        self.run_ops(&self.train_ops, b);
        Ok(())
    }

    fn take_step_stats(&mut self, steps: usize) -> Result<Vec<(f32, u32)>> {
        let steps = steps.min(self.eval_slot as usize);
        let raw = self.read_f32(&self.stats, 2 * steps)?;
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.clear_buffer(&self.stats, 0, None);
        self.ctx.queue.submit([enc.finish()]);
        Ok(raw.chunks_exact(2).map(|c| (c[0], c[1] as u32)).collect())
    }

    fn evaluate(&mut self, split: Split) -> Result<Eval> {
        let (which, n) = match split {
            Split::Train => (0, self.n_train),
            Split::Test => match self.n_test {
                Some(n) => (1, n),
                None => return Err(Error::InvalidArgument("no test set registered".into())),
            },
        };
        let off = self.eval_slot as u64 * 8;
        self.ctx.queue.write_buffer(&self.stats, off, &[0u8; 8]);
        let mut start = 0usize;
        while start < n {
            let b = (self.max_batch as usize).min(n - start) as u32;
            let rows: Vec<u32> = (start as u32..start as u32 + b).collect();
            self.ctx
                .queue
                .write_buffer(&self.idx_eval, 0, bytemuck::cast_slice(&rows));
            self.set_batch(b);
            self.write_reduce(&self.eval_ops[which], b, self.eval_slot, 1);
            self.run_ops(&self.eval_ops[which], b);
            start += b as usize;
        }
        let all = self.read_f32(&self.stats, self.eval_slot as usize * 2 + 2)?;
        let (loss, hits) = (all[all.len() - 2] as f64, all[all.len() - 1] as f64);
        Ok(Eval {
            loss: loss / n.max(1) as f64,
            accuracy: hits / n.max(1) as f64,
        })
    }

    fn set_penalty(&mut self, layer: usize, spectrum: Option<&PenaltySpectrum>) -> Result<()> {
        let lb = self
            .layers
            .get(layer)
            .ok_or_else(|| Error::InvalidArgument(format!("no layer {layer}")))?;
        let op_idx = lb.penalty_op;
        match spectrum {
            None => self.train_ops[op_idx].enabled = false,
            Some(ps) => {
                if ps.n as u32 != lb.n
                    || ps.side != lb.side
                    || ps.vectors.len() != ps.n * ps.n
                    || ps.g.len() != ps.n
                {
                    return Err(Error::InvalidArgument(format!(
                        "penalty spectrum of order {} ({:?}) for layer {layer} of order {} ({:?})",
                        ps.n, ps.side, lb.n, lb.side
                    )));
                }
                let q = &self.ctx.queue;
                q.write_buffer(&lb.v, 0, bytemuck::cast_slice(&ps.vectors));
                q.write_buffer(&lb.g, 0, bytemuck::cast_slice(&ps.g));
                self.run_ops(&lb.form_m, 0);
                let op = &mut self.train_ops[op_idx];
                if let Shape::Matmul { alpha, .. } = &mut op.shape {
                    *alpha = ps.coef;
                }
                op.enabled = true;
                let op = &self.train_ops[op_idx];
                self.write_params(op, self.cur_b);
            }
        }
        Ok(())
    }

    fn read_net(&mut self, net: &mut Net) -> Result<()> {
        let mut model = net.to_mlp()?;
        for (l, layer) in model.layers.iter_mut().enumerate() {
            let lin = layer.as_linear_mut();
            let lb = &self.layers[l];
            lin.weight = self.read_f32(&lb.w, (lb.out * lb.inp) as usize)?;
            lin.bias = self.read_f32(&lb.b, lb.out as usize)?;
        }
        *net = Net::from_mlp(&model);
        Ok(())
    }

    fn read_weight(&mut self, layer: usize) -> Result<Vec<f32>> {
        let lb = self
            .layers
            .get(layer)
            .ok_or_else(|| Error::InvalidArgument(format!("no layer {layer}")))?;
        self.read_f32(&lb.w, (lb.out * lb.inp) as usize)
    }
}
