//! Recorded kernel dispatches: a pipeline, a bind group and a uniform buffer created once, and
//! a rule giving the uniform's words and the workgroup grid for a batch size. A training step
//! rewrites uniforms only when the batch size changes (the last, partial batch of an epoch, or
//! evaluation), then replays a list of dispatches in one compute pass.

use super::context::GpuContext;
use super::kernels::{Kernel, Pipelines, grid_1d, width};
use crate::error::Result;

/// Uniform words and workgroup grid `(x, y, z)` of a dispatch, for batch size `b`.
pub type Rule = Box<dyn Fn(u32) -> (Vec<u32>, [u32; 3])>;

/// One kernel launch.
pub struct Dispatch {
    /// Which kernel.
    pub kernel: Kernel,
    bind: wgpu::BindGroup,
    /// Its own uniform, or `None` for dispatches reading a shared one (the optimizer's).
    uniform: Option<wgpu::Buffer>,
    /// Parameters and grid as a function of the batch size.
    pub rule: Rule,
    /// Disabled dispatches are skipped (a penalty not set).
    pub enabled: bool,
}

impl Dispatch {
    /// Writes the uniform for batch size `b`.
    pub fn write(&self, ctx: &GpuContext, b: u32) {
        self.write_words(ctx, &(self.rule)(b).0);
    }

    /// Writes explicit uniform words (a per-step dropout seed).
    pub fn write_words(&self, ctx: &GpuContext, words: &[u32]) {
        if let Some(u) = &self.uniform
            && !words.is_empty()
        {
            ctx.queue.write_buffer(u, 0, bytemuck::cast_slice(words));
        }
    }
}

/// Creates dispatches: uniform buffers of 64 bytes (every kernel's parameters fit) and bind
/// groups whose binding 0 is the uniform and 1.. the given storage buffers.
pub struct Recorder<'a> {
    /// The device.
    pub ctx: &'a GpuContext,
    /// Its pipelines.
    pub pipes: &'a Pipelines,
}

impl Recorder<'_> {
    /// A dispatch of `kernel` over `bufs` with `rule`.
    pub fn op(&self, kernel: Kernel, bufs: &[&wgpu::Buffer], rule: Rule) -> Dispatch {
        let uniform = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("params"),
            size: 64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut d = self.shared(kernel, &uniform, bufs, rule);
        d.uniform = Some(uniform);
        d
    }

    /// A dispatch whose binding 0 is the caller's `uniform` (written by the caller).
    pub fn shared(
        &self,
        kernel: Kernel,
        uniform: &wgpu::Buffer,
        bufs: &[&wgpu::Buffer],
        rule: Rule,
    ) -> Dispatch {
        let dev = &self.ctx.device;
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }];
        for (i, b) in bufs.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.as_entire_binding(),
            });
        }
        let bind = dev.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.pipes.get(kernel).get_bind_group_layout(0),
            entries: &entries,
        });
        Dispatch {
            kernel,
            bind,
            uniform: None,
            rule,
            enabled: true,
        }
    }

    /// A one-dimensional kernel of `count(b)` invocations whose uniform is `words(b)`.
    pub fn elems(
        &self,
        kernel: Kernel,
        bufs: &[&wgpu::Buffer],
        count: impl Fn(u32) -> usize + 'static,
        words: impl Fn(u32) -> Vec<u32> + 'static,
    ) -> Dispatch {
        let w = width(kernel);
        self.op(
            kernel,
            bufs,
            Box::new(move |b| {
                let (x, y) = grid_1d(count(b), w);
                (words(b), [x, y, 1])
            }),
        )
    }
}

/// Parameters of one (batched) matrix product for matmul.wgsl, see its header.
#[derive(Debug, Clone, Copy)]
pub struct Mm {
    /// Rows of the result.
    pub m: u32,
    /// Columns of the result.
    pub n: u32,
    /// Inner dimension.
    pub k: u32,
    /// Bit 0: A stored transposed; bit 1: B stored transposed.
    pub flags: u32,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the previous result (0 overwrites, 1 accumulates).
    pub beta: f32,
    /// Offsets between the `count` products of A, B, C.
    pub strides: [u32; 3],
    /// Number of products (workgroup z).
    pub count: u32,
}

impl Mm {
    /// A single product.
    pub fn single(m: u32, n: u32, k: u32, flags: u32, beta: f32) -> Mm {
        Mm {
            m,
            n,
            k,
            flags,
            alpha: 1.0,
            beta,
            strides: [0; 3],
            count: 1,
        }
    }

    /// Uniform words and grid.
    pub fn words(&self) -> (Vec<u32>, [u32; 3]) {
        let s = self.strides;
        (
            vec![
                self.m,
                self.n,
                self.k,
                self.flags,
                self.alpha.to_bits(),
                self.beta.to_bits(),
                s[0],
                s[1],
                s[2],
                0,
                0,
                0,
            ],
            [self.n.div_ceil(32), self.m.div_ceil(32), self.count],
        )
    }
}

impl Recorder<'_> {
    /// A matrix product `C = alpha op(A) op(B) + beta C` whose shape follows the batch size.
    pub fn matmul(
        &self,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        c: &wgpu::Buffer,
        shape: impl Fn(u32) -> Mm + 'static,
    ) -> Dispatch {
        self.op(
            Kernel::Matmul,
            &[a, b, c],
            Box::new(move |bs| shape(bs).words()),
        )
    }
}

/// Records the enabled dispatches of `lists`, in order, into one compute pass with `b` as the
/// batch size for the grids, and submits it inside an error scope.
pub fn run(ctx: &GpuContext, pipes: &Pipelines, lists: &[&[Dispatch]], b: u32) -> Result<()> {
    ctx.scoped("running kernels", || {
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for op in lists.iter().flat_map(|l| l.iter()).filter(|o| o.enabled) {
                let (_, [x, y, z]) = (op.rule)(b);
                if x == 0 || y == 0 || z == 0 {
                    continue;
                }
                pass.set_pipeline(pipes.get(op.kernel));
                pass.set_bind_group(0, &op.bind, &[]);
                pass.dispatch_workgroups(x, y, z);
            }
        }
        ctx.queue.submit([enc.finish()]);
    })
}
