//! The wgpu training backend for any [`Net`] (an MLP is the Linear/ReLU special case).
//! Everything is allocated when the backend is created: data sets, parameters, optimizer
//! state, activations and gradients of every value, penalty matrices, one uniform buffer per
//! dispatch and every bind group ([`super::graph`], [`super::penalty`]). A step then writes the
//! batch's indices, the optimizer's scalars (and dropout seeds), records one compute pass and
//! submits it; nothing is read back until the trainer asks for statistics, an evaluation,
//! logits, a weight (spectrum refresh) or the final network.

use bytemuck::{Pod, Zeroable};

use super::context::GpuContext;
use super::dispatch::{Dispatch, Recorder, run};
use super::graph::{self, DropoutSlot, Tensors, storage};
use super::kernels::{Kernel, Pipelines};
use super::penalty::{MatrixPenalty, SlicesPenalty};
use crate::error::{Error, Result};
use crate::train::backend::{
    Backend, Eval, Optimizer, PenaltySpectrum, SlicePenalty, Split, StepParams, check_fit_dims,
};
use crate::train::cpu::adam_corrections;
use crate::train::data::Dataset;
use crate::train::dropout;
use crate::train::net::{BufferData, Net, Op, WeightView};

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

/// Dispatches that evaluate one data set: gather, eval-mode forward (shared), loss, reduce.
struct EvalSet {
    gather: Dispatch,
    loss: [Dispatch; 2],
}

/// Penalty dispatches of one penalised weight.
struct Penalised {
    param: usize,
    matrix: MatrixPenalty,
    slices: Option<SlicesPenalty>,
}

/// Training backend on a wgpu device.
pub struct GpuBackend {
    ctx: GpuContext,
    pipes: Pipelines,
    s: State,
}

/// Everything but the device: buffers, dispatch lists and counters.
struct State {
    net: Net,
    t: Tensors,
    max_batch: u32,
    cur_b: u32,
    gather: Dispatch,
    forward: Vec<Dispatch>,
    loss: [Dispatch; 2],
    backward: Vec<Dispatch>,
    dropout: (Vec<DropoutSlot>, Vec<DropoutSlot>),
    penalties: Vec<Penalised>,
    optimizer: Vec<Dispatch>,
    eval_forward: Vec<Dispatch>,
    eval_sets: [EvalSet; 2],
    idx_train: wgpu::Buffer,
    idx_eval: wgpu::Buffer,
    opt_buf: wgpu::Buffer,
    stats: wgpu::Buffer,
    eval_slot: u32,
    opt: Optimizer,
    n_train: usize,
    n_test: Option<usize>,
    classes: usize,
    /// Train steps taken (batch norm's `num_batches_tracked`).
    steps: u64,
    /// Run seed of the dropout masks and the augmentation.
    seed: u64,
    /// The training set, kept on the host when it is augmented: each step's batch is then
    /// gathered and augmented on the CPU (as the CPU backend does) and uploaded as the input.
    augmented: Option<Dataset>,
}

impl GpuBackend {
    /// Uploads the network and the data sets, compiles the kernels and creates every buffer,
    /// dispatch and bind group (`seed`: dropout masks and augmentation).
    pub fn new(
        ctx: GpuContext,
        net: &Net,
        train: Dataset,
        test: Option<Dataset>,
        opt: Optimizer,
        max_batch: usize,
        seed: u64,
    ) -> Result<GpuBackend> {
        let shapes = net.shapes()?;
        let classes = net.classes()?;
        check_fit_dims(net.input_len(), classes, &train, test.as_ref())?;
        let limits = ctx.device.limits();
        for (what, d) in
            std::iter::once(("training", &train)).chain(test.as_ref().map(|t| ("test", t)))
        {
            let bytes = (d.x.len() * 4) as u64;
            if bytes > limits.max_storage_buffer_binding_size || bytes > limits.max_buffer_size {
                return Err(Error::InvalidArgument(format!(
                    "{what} data ({bytes} bytes) exceeds the device's largest storage buffer \
                     ({} bytes); train on the CPU or on fewer samples",
                    limits.max_storage_buffer_binding_size
                )));
            }
        }
        let pipes = Pipelines::new(&ctx)?;
        let mb = max_batch.max(1);
        let s = ctx.scoped("allocating the network", || {
            Self::build(
                &ctx, &pipes, net, &shapes, train, test, opt, mb, classes, seed,
            )
        })??;
        let mut me = GpuBackend { ctx, pipes, s };
        me.set_batch(mb as u32);
        me.ctx.check()?;
        Ok(me)
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        ctx: &GpuContext,
        pipes: &Pipelines,
        net: &Net,
        shapes: &[[usize; 3]],
        train: Dataset,
        test: Option<Dataset>,
        opt: Optimizer,
        mb: usize,
        classes: usize,
        seed: u64,
    ) -> Result<State> {
        let dev = &ctx.device;
        let rec = Recorder { ctx, pipes };
        let t = Tensors::new(ctx, net, shapes, mb, false)?;
        let upload = |label: &str, data: &[u8]| {
            let buf = storage(dev, label, data.len().div_ceil(4));
            ctx.queue.write_buffer(&buf, 0, data);
            buf
        };
        let train_x = upload("train_x", bytemuck::cast_slice(&train.x));
        let train_y = upload("train_y", bytemuck::cast_slice(&train.y));
        let (test_x, test_y) = match &test {
            Some(d) => (
                upload("test_x", bytemuck::cast_slice(&d.x)),
                upload("test_y", bytemuck::cast_slice(&d.y)),
            ),
            None => (storage(dev, "test_x", 1), storage(dev, "test_y", 1)),
        };
        let idx_train = storage(dev, "idx_train", mb);
        let idx_eval = storage(dev, "idx_eval", mb);
        let row_loss = storage(dev, "row_loss", mb);
        let row_correct = storage(dev, "row_correct", mb);
        let eval_slot = train.len() as u32;
        let stats = storage(dev, "stats", (train.len() + 1) * 2);
        let opt_buf = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("optimizer"),
            size: std::mem::size_of::<OptParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let d0 = net.input_len() as u32;
        let last = shapes.len() - 1;
        let gather = |x: &wgpu::Buffer, idx: &wgpu::Buffer| {
            rec.elems(
                Kernel::Gather,
                &[x, idx, &t.acts[0]],
                move |b| b as usize * d0 as usize,
                move |b| vec![b, d0, 0, 0],
            )
        };
        let cls = classes as u32;
        let loss = |y: &wgpu::Buffer, idx: &wgpu::Buffer| {
            [
                rec.elems(
                    Kernel::SoftmaxXent,
                    &[
                        &t.acts[last],
                        y,
                        idx,
                        &t.grads[last],
                        &row_loss,
                        &row_correct,
                    ],
                    |b| b as usize,
                    move |b| vec![b, cls, (1.0 / b as f32).to_bits(), 0],
                ),
                // Rows, slot and mode are written per call (write_reduce).
                rec.op(
                    Kernel::ReduceStats,
                    &[&row_loss, &row_correct, &stats],
                    Box::new(|_: u32| (Vec::new(), [1, 1, 1])),
                ),
            ]
        };
        let (forward, drop_f) = graph::forward(&rec, net, shapes, &t, true);
        let (backward, drop_b) = graph::backward(&rec, net, shapes, &t, false);
        let (eval_forward, _) = graph::forward(&rec, net, shapes, &t, false);
        let penalties = net
            .penalised_weights(false)
            .iter()
            .map(|pw| {
                let p = &t.params[pw.param];
                let (matrix, slices) = match pw.view {
                    WeightView::Dense { out, inp } => {
                        (MatrixPenalty::new(&rec, &p.w, &p.g, out, inp), None)
                    }
                    WeightView::ConvSlices { out, inp, kh, kw } => (
                        MatrixPenalty::new(&rec, &p.w, &p.g, out, inp * kh * kw),
                        Some(SlicesPenalty::new(&rec, &p.w, &p.g, [out, inp, kh, kw])),
                    ),
                    WeightView::ConvFlatten { out, inp_khkw } => {
                        (MatrixPenalty::new(&rec, &p.w, &p.g, out, inp_khkw), None)
                    }
                };
                Penalised {
                    param: pw.param,
                    matrix,
                    slices,
                }
            })
            .collect();
        let optimizer = t
            .params
            .iter()
            .map(|p| {
                let len = (p.w.size() / 4) as usize;
                let grid = Box::new(move |_: u32| {
                    let (x, y) = super::kernels::grid_1d(len, 256);
                    (Vec::new(), [x, y, 1])
                });
                match opt {
                    Optimizer::Sgd { .. } => {
                        rec.shared(Kernel::Sgd, &opt_buf, &[&p.g, &p.w, &p.s1], grid)
                    }
                    Optimizer::Adam { .. } => {
                        rec.shared(Kernel::Adam, &opt_buf, &[&p.g, &p.w, &p.s1, &p.s2], grid)
                    }
                }
            })
            .collect();
        Ok(State {
            net: net.clone(),
            max_batch: mb as u32,
            cur_b: 0,
            gather: gather(&train_x, &idx_train),
            forward,
            loss: loss(&train_y, &idx_train),
            backward,
            dropout: (drop_f, drop_b),
            penalties,
            optimizer,
            eval_forward,
            eval_sets: [
                EvalSet {
                    gather: gather(&train_x, &idx_eval),
                    loss: loss(&train_y, &idx_eval),
                },
                EvalSet {
                    gather: gather(&test_x, &idx_eval),
                    loss: loss(&test_y, &idx_eval),
                },
            ],
            t,
            idx_train,
            idx_eval,
            opt_buf,
            stats,
            eval_slot,
            opt,
            n_train: train.len(),
            n_test: test.as_ref().map(|d| d.len()),
            classes,
            steps: 0,
            seed,
            augmented: train.augment.is_some().then_some(train),
        })
    }
}

impl GpuBackend {
    /// Every dispatch of the backend (for uniform rewrites).
    fn all_dispatches(&self) -> impl Iterator<Item = &Dispatch> {
        let s = &self.s;
        std::iter::once(&s.gather)
            .chain(&s.forward)
            .chain(&s.loss)
            .chain(&s.backward)
            .chain(&s.optimizer)
            .chain(&s.eval_forward)
            .chain(
                s.eval_sets
                    .iter()
                    .flat_map(|e| std::iter::once(&e.gather).chain(&e.loss)),
            )
    }

    /// Rewrites the parameters of every batch-dependent dispatch (only when the batch size
    /// changes: the last, partial batch of an epoch, or evaluation).
    fn set_batch(&mut self, b: u32) {
        if b == self.s.cur_b {
            return;
        }
        for d in self.all_dispatches() {
            d.write(&self.ctx, b);
        }
        self.s.cur_b = b;
    }

    fn write_reduce(&self, reduce: &Dispatch, rows: u32, slot: u32, mode: u32) {
        reduce.write_words(&self.ctx, &[rows, slot, mode, 0]);
    }

    fn read_f32(&self, src: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        self.ctx.read_f32(src, len)
    }

    /// Runs the eval-mode forward pass over rows `start..start + b` of a data set, with the
    /// loss added to the evaluation slot.
    fn eval_chunk(&mut self, which: usize, start: usize, b: u32) -> Result<()> {
        let rows: Vec<u32> = (start as u32..start as u32 + b).collect();
        self.ctx
            .queue
            .write_buffer(&self.s.idx_eval, 0, bytemuck::cast_slice(&rows));
        self.set_batch(b);
        let set = &self.s.eval_sets[which];
        self.write_reduce(&set.loss[1], b, self.s.eval_slot, 1);
        run(
            &self.ctx,
            &self.pipes,
            &[
                std::slice::from_ref(&set.gather),
                &self.s.eval_forward[..],
                &set.loss[..],
            ],
            b,
        )
    }

    fn split(&self, split: Split) -> Result<(usize, usize)> {
        match split {
            Split::Train => Ok((0, self.s.n_train)),
            Split::Test => match self.s.n_test {
                Some(n) => Ok((1, n)),
                None => Err(Error::InvalidArgument("no test set registered".into())),
            },
        }
    }

    fn penalised(&self, weight: usize) -> Result<&Penalised> {
        self.s.penalties.get(weight).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "no penalised weight {weight} (the network has {})",
                self.s.penalties.len()
            ))
        })
    }
}

impl Backend for GpuBackend {
    fn name(&self) -> String {
        format!("wgpu: {}", self.ctx.describe())
    }

    fn train_step(&mut self, batch: &[u32], slot: usize, p: &StepParams) -> Result<()> {
        let b = batch.len() as u32;
        if b == 0 || b > self.s.max_batch || slot >= self.s.eval_slot as usize {
            return Err(Error::InvalidArgument(format!(
                "batch of {b} (maximum {}) in slot {slot}",
                self.s.max_batch
            )));
        }
        if let Some(&bad) = batch.iter().find(|&&i| i as usize >= self.s.n_train) {
            return Err(Error::InvalidArgument(format!("sample {bad} out of range")));
        }
        let q = &self.ctx.queue;
        q.write_buffer(&self.s.idx_train, 0, bytemuck::cast_slice(batch));
        if let Some(d) = &self.s.augmented {
            let mut x = vec![0.0f32; batch.len() * d.dim];
            d.gather_into(batch, self.s.seed, p.epoch, &mut x);
            q.write_buffer(&self.s.t.acts[0], 0, bytemuck::cast_slice(&x));
        }
        let o = match self.s.opt {
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
        q.write_buffer(&self.s.opt_buf, 0, bytemuck::bytes_of(&o));
        self.set_batch(b);
        let s = &self.s;
        for (slots, list) in [(&s.dropout.0, &s.forward), (&s.dropout.1, &s.backward)] {
            for d in slots {
                let op = &list[d.index];
                let mut words = (op.rule)(b).0;
                words[3] = dropout::mask_seed(s.seed, p.t, d.node);
                op.write_words(&self.ctx, &words);
            }
        }
        self.write_reduce(&s.loss[1], b, slot as u32, 0);
        let pen: Vec<&Dispatch> = s
            .penalties
            .iter()
            .flat_map(|pe| {
                pe.matrix
                    .steps()
                    .chain(pe.slices.iter().flat_map(|sp| &sp.step))
            })
            .collect();
        let gather = match s.augmented {
            Some(_) => &[][..],
            None => std::slice::from_ref(&s.gather),
        };
        let mut enc_lists: Vec<&[Dispatch]> =
            vec![gather, &s.forward[..], &s.loss[..], &s.backward[..]];
        for d in &pen {
            enc_lists.push(std::slice::from_ref(*d));
        }
        enc_lists.push(&s.optimizer[..]);
        run(&self.ctx, &self.pipes, &enc_lists, b)?;
        self.s.steps += 1;
        Ok(())
    }

    fn take_step_stats(&mut self, steps: usize) -> Result<Vec<(f32, u32)>> {
        let steps = steps.min(self.s.eval_slot as usize);
        let raw = self.read_f32(&self.s.stats, 2 * steps)?;
        self.ctx.scoped("clearing statistics", || {
            let mut enc = self.ctx.device.create_command_encoder(&Default::default());
            enc.clear_buffer(&self.s.stats, 0, None);
            self.ctx.queue.submit([enc.finish()]);
        })?;
        Ok(raw.chunks_exact(2).map(|c| (c[0], c[1] as u32)).collect())
    }

    fn evaluate(&mut self, split: Split) -> Result<Eval> {
        let (which, n) = self.split(split)?;
        let off = self.s.eval_slot as u64 * 8;
        self.ctx.queue.write_buffer(&self.s.stats, off, &[0u8; 8]);
        let mut start = 0usize;
        while start < n {
            let b = (self.s.max_batch as usize).min(n - start) as u32;
            self.eval_chunk(which, start, b)?;
            start += b as usize;
        }
        let all = self.read_f32(&self.s.stats, self.s.eval_slot as usize * 2 + 2)?;
        let (loss, hits) = (all[all.len() - 2] as f64, all[all.len() - 1] as f64);
        Ok(Eval {
            loss: loss / n.max(1) as f64,
            accuracy: hits / n.max(1) as f64,
        })
    }

    fn logits(&mut self, split: Split, n: usize) -> Result<Vec<f32>> {
        let (which, total) = self.split(split)?;
        if n > total {
            return Err(Error::InvalidArgument(format!(
                "logits of {n} samples requested from a set of {total}"
            )));
        }
        let last = self.s.t.acts.len() - 1;
        let mut out = Vec::with_capacity(n * self.s.classes);
        let mut start = 0usize;
        while start < n {
            let b = (self.s.max_batch as usize).min(n - start) as u32;
            self.eval_chunk(which, start, b)?;
            out.extend(self.read_f32(&self.s.t.acts[last], b as usize * self.s.classes)?);
            start += b as usize;
        }
        Ok(out)
    }

    fn set_penalty(&mut self, weight: usize, spectrum: Option<&PenaltySpectrum>) -> Result<()> {
        let name = self.s.net.params[self.penalised(weight)?.param]
            .name
            .clone();
        let rec = Recorder {
            ctx: &self.ctx,
            pipes: &self.pipes,
        };
        let pe = &mut self.s.penalties[weight];
        if let Some(sp) = &mut pe.slices {
            sp.set(&rec, &[], &name)?;
        }
        pe.matrix.set(&rec, spectrum, &name)
    }

    fn set_slice_penalties(&mut self, weight: usize, slices: &[SlicePenalty]) -> Result<()> {
        let name = self.s.net.params[self.penalised(weight)?.param]
            .name
            .clone();
        let rec = Recorder {
            ctx: &self.ctx,
            pipes: &self.pipes,
        };
        let pe = &mut self.s.penalties[weight];
        let Some(sp) = &mut pe.slices else {
            return Err(Error::InvalidArgument(format!(
                "'{name}' is not a convolution weight: it has no slices"
            )));
        };
        pe.matrix.set(&rec, None, &name)?;
        sp.set(&rec, slices, &name)
    }

    fn read_net(&mut self, net: &mut Net) -> Result<()> {
        if net.params.len() != self.s.net.params.len()
            || net.buffers.len() != self.s.net.buffers.len()
        {
            return Err(Error::InvalidArgument(
                "read-back into a network of another shape".into(),
            ));
        }
        for (i, p) in net.params.iter_mut().enumerate() {
            p.data = self.read_f32(&self.s.t.params[i].w, self.s.net.params[i].data.len())?;
        }
        let tracked: Vec<usize> = self
            .s
            .net
            .nodes
            .iter()
            .filter_map(|n| match n.op {
                Op::BatchNorm2d {
                    num_batches_tracked: Some(b),
                    ..
                } => Some(b),
                _ => None,
            })
            .collect();
        for (i, b) in net.buffers.iter_mut().enumerate() {
            b.data = match (&self.s.net.buffers[i].data, &self.s.t.running[i]) {
                (BufferData::F32(d), Some(buf)) => BufferData::F32(self.read_f32(buf, d.len())?),
                (BufferData::I64(d), _) => BufferData::I64(
                    d.iter()
                        .map(|&v| {
                            if tracked.contains(&i) {
                                v + self.s.steps as i64
                            } else {
                                v
                            }
                        })
                        .collect(),
                ),
                (BufferData::F32(d), None) => BufferData::F32(d.clone()),
            };
        }
        Ok(())
    }

    fn read_weight(&mut self, weight: usize) -> Result<Vec<f32>> {
        let param = self.penalised(weight)?.param;
        self.read_f32(
            &self.s.t.params[param].w,
            self.s.net.params[param].data.len(),
        )
    }
}
