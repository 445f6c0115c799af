//! One forward and one backward pass of a network on the device, on inputs and output
//! gradients the caller gives, with everything read back: the output, the input's gradient,
//! every parameter's gradient and the running statistics. The same dispatches as the training
//! backend ([`super::graph`]); this is how each layer kind is tested against an independent
//! computation (tests/gpu/layers.rs), and a tool for gradient checks.

use super::context::GpuContext;
use super::dispatch::{Dispatch, Recorder, run};
use super::graph::{self, DropoutSlot, Tensors};
use super::kernels::Pipelines;
use crate::error::{Error, Result};
use crate::train::net::Net;

/// A network ready for probing with batches of a fixed size.
pub struct Probe {
    ctx: GpuContext,
    pipes: Pipelines,
    net: Net,
    batch: u32,
    t: Tensors,
    forward: [(Vec<Dispatch>, Vec<DropoutSlot>); 2],
    backward: (Vec<Dispatch>, Vec<DropoutSlot>),
}

/// What one probe returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// The last value, `batch x numel`.
    pub output: Vec<f32>,
    /// Gradient of the input, `batch x numel(input)`.
    pub input_grad: Vec<f32>,
    /// Gradient of every parameter, as [`Net::params`].
    pub param_grads: Vec<Vec<f32>>,
    /// Running statistics after the pass, as [`Net::buffers`] (`None` for integer buffers).
    pub running: Vec<Option<Vec<f32>>>,
}

impl Probe {
    /// Builds the dispatches of `net` for batches of `batch` samples.
    pub fn new(ctx: GpuContext, net: &Net, batch: usize) -> Result<Probe> {
        let shapes = net.shapes()?;
        let pipes = Pipelines::new(&ctx)?;
        let rec = Recorder {
            ctx: &ctx,
            pipes: &pipes,
        };
        let t = Tensors::new(&ctx, net, &shapes, batch.max(1), true)?;
        let forward = [
            graph::forward(&rec, net, &shapes, &t, false),
            graph::forward(&rec, net, &shapes, &t, true),
        ];
        let backward = graph::backward(&rec, net, &shapes, &t, true);
        let b = batch.max(1) as u32;
        for d in forward.iter().chain([&backward]).flat_map(|l| &l.0) {
            d.write(&ctx, b);
        }
        ctx.check()?;
        Ok(Probe {
            ctx,
            pipes,
            net: net.clone(),
            batch: b,
            t,
            forward,
            backward,
        })
    }

    /// Runs forward on `x` (train or eval mode; `step` seeds dropout masks as the training
    /// step of that number of a run seeded 0 would) and, in train mode, backward from the
    /// output gradient `dy`.
    pub fn run(&mut self, x: &[f32], dy: &[f32], train: bool, step: u64) -> Result<ProbeResult> {
        let b = self.batch as usize;
        let last = self.t.acts.len() - 1;
        let out_len = (self.t.acts[last].size() / 4) as usize;
        let in_len = b * self.net.input_len();
        if x.len() != in_len || dy.len() != out_len {
            return Err(Error::InvalidArgument(format!(
                "probe of a batch of {b}: {} inputs (expected {in_len}), {} output gradients \
                 (expected {out_len})",
                x.len(),
                dy.len()
            )));
        }
        let q = &self.ctx.queue;
        q.write_buffer(&self.t.acts[0], 0, bytemuck::cast_slice(x));
        q.write_buffer(&self.t.grads[last], 0, bytemuck::cast_slice(dy));
        let fwd = &self.forward[train as usize];
        for (list, slots) in [(&fwd.0, &fwd.1), (&self.backward.0, &self.backward.1)] {
            for s in slots {
                let mut words = (list[s.index].rule)(self.batch).0;
                words[3] = crate::train::dropout::mask_seed(0, step, s.node);
                list[s.index].write_words(&self.ctx, &words);
            }
        }
        let backward: &[Dispatch] = if train { &self.backward.0 } else { &[] };
        run(&self.ctx, &self.pipes, &[&fwd.0[..], backward], self.batch)?;
        let read = |buf: &wgpu::Buffer, len: usize| self.ctx.read_f32(buf, len);
        Ok(ProbeResult {
            output: read(&self.t.acts[last], out_len)?,
            input_grad: if train {
                read(&self.t.grads[0], in_len)?
            } else {
                Vec::new()
            },
            param_grads: self
                .t
                .params
                .iter()
                .zip(&self.net.params)
                .map(|(p, np)| read(&p.g, np.data.len()))
                .collect::<Result<_>>()?,
            running: self
                .t
                .running
                .iter()
                .map(|r| {
                    r.as_ref()
                        .map(|buf| read(buf, (buf.size() / 4) as usize))
                        .transpose()
                })
                .collect::<Result<_>>()?,
        })
    }
}
