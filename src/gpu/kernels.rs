//! The WGSL kernels, compiled once per device into compute pipelines. Bind-group layouts come
//! from the shaders themselves (`layout: None`); every binding a shader declares is used.

use super::context::GpuContext;
use crate::error::Result;

/// A sliding-window kernel: window.wgsl (shared uniform layout and window arithmetic; WGSL
/// has no includes) followed by the kernel's own file.
macro_rules! windowed {
    ($file:literal) => {
        concat!(include_str!("window.wgsl"), include_str!($file))
    };
}

/// A pooling forward kernel: window.wgsl, then pool.wgsl (bindings x, y and the entry point,
/// one invocation per output element), then the kernel's own `pool()`.
macro_rules! pooling {
    ($file:literal) => {
        concat!(
            include_str!("window.wgsl"),
            include_str!("pool.wgsl"),
            include_str!($file)
        )
    };
}

/// A per-element BatchNorm kernel: bn_elementwise.wgsl (uniform, input x and the entry point)
/// followed by the kernel's own `bn()`.
macro_rules! bn_elementwise {
    ($file:literal) => {
        concat!(include_str!("bn_elementwise.wgsl"), include_str!($file))
    };
}

/// Source of every kernel, by name (also used by the naga validation test).
pub const SOURCES: &[(&str, &str)] = &[
    ("matmul", include_str!("matmul.wgsl")),
    ("gather", include_str!("gather.wgsl")),
    ("bias_act", include_str!("bias_act.wgsl")),
    ("relu_backward", include_str!("relu_backward.wgsl")),
    ("softmax_xent", include_str!("softmax_xent.wgsl")),
    ("reduce_stats", include_str!("reduce_stats.wgsl")),
    ("column_sum", include_str!("column_sum.wgsl")),
    ("sgd", include_str!("sgd.wgsl")),
    ("adam", include_str!("adam.wgsl")),
    ("penalty_scale", include_str!("penalty_scale.wgsl")),
    ("im2col", windowed!("im2col.wgsl")),
    ("col2im", windowed!("col2im.wgsl")),
    ("conv_layout", include_str!("conv_layout.wgsl")),
    ("bn_stats", include_str!("bn_stats.wgsl")),
    ("channel_sums", include_str!("channel_sums.wgsl")),
    ("bn_apply", bn_elementwise!("bn_apply.wgsl")),
    ("bn_backward", bn_elementwise!("bn_backward.wgsl")),
    ("elementwise", include_str!("elementwise.wgsl")),
    ("max_pool", pooling!("max_pool.wgsl")),
    ("max_pool_backward", windowed!("max_pool_backward.wgsl")),
    ("avg_pool", pooling!("avg_pool.wgsl")),
    ("avg_pool_backward", windowed!("avg_pool_backward.wgsl")),
    ("conv_slices", include_str!("conv_slices.wgsl")),
];

/// One kernel: index into [`SOURCES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Register-blocked matrix product (8 x 8 workgroups of 4 x 4 blocks).
    Matmul = 0,
    /// Batch gather from the device-resident data set.
    Gather = 1,
    /// Bias + optional ReLU.
    BiasAct = 2,
    /// ReLU backward mask.
    ReluBackward = 3,
    /// Softmax cross-entropy per row.
    SoftmaxXent = 4,
    /// Loss / accuracy reduction.
    ReduceStats = 5,
    /// Bias gradient.
    ColumnSum = 6,
    /// SGD with momentum.
    Sgd = 7,
    /// Adam.
    Adam = 8,
    /// V diag(g).
    PenaltyScale = 9,
    /// Convolution input unfolded into columns.
    Im2col = 10,
    /// Columns folded back into an input gradient.
    Col2im = 11,
    /// NCHW <-> channel-major product layout, conv bias.
    ConvLayout = 12,
    /// BatchNorm statistics (one workgroup per channel).
    BnStats = 13,
    /// Per-channel gradient sums (one workgroup per channel).
    ChannelSums = 14,
    /// BatchNorm normalisation.
    BnApply = 15,
    /// BatchNorm input gradient.
    BnBackward = 16,
    /// ReLU, residual add, dropout and gradient accumulation.
    Elementwise = 17,
    /// Max pooling with argmax.
    MaxPool = 18,
    /// Max pooling backward.
    MaxPoolBackward = 19,
    /// Average pooling (fixed and adaptive windows).
    AvgPool = 20,
    /// Average pooling backward.
    AvgPoolBackward = 21,
    /// Convolution weight <-> kh*kw slices (penalty).
    ConvSlices = 22,
}

/// Workgroup width of the one-dimensional kernels (by kernel).
pub fn width(k: Kernel) -> u32 {
    match k {
        Kernel::Matmul => 8,
        Kernel::SoftmaxXent | Kernel::ColumnSum | Kernel::BnStats | Kernel::ChannelSums => 64,
        Kernel::ReduceStats => 1,
        _ => 256,
    }
}

/// All pipelines of one device.
pub struct Pipelines {
    pipelines: Vec<wgpu::ComputePipeline>,
}

impl Pipelines {
    /// Compiles every kernel.
    pub fn new(ctx: &GpuContext) -> Result<Pipelines> {
        let pipelines = SOURCES
            .iter()
            .map(|(name, src)| compile(ctx, name, src))
            .collect::<Result<_>>()?;
        Ok(Pipelines { pipelines })
    }

    /// The pipeline of `k`.
    pub fn get(&self, k: Kernel) -> &wgpu::ComputePipeline {
        &self.pipelines[k as usize]
    }
}

/// Workgroup counts covering `n` invocations of a one-dimensional kernel of width `w`,
/// spread over x and y when they exceed the 65,535 limit (the kernels linearise x + y).
pub fn grid_1d(n: usize, w: u32) -> (u32, u32) {
    let groups = n.div_ceil(w as usize).max(1);
    if groups <= 65_535 {
        (groups as u32, 1)
    } else {
        // Kernels compute i = gid.x + gid.y * nwg.x * width, so x must hold full rows.
        let y = groups.div_ceil(65_535);
        (groups.div_ceil(y) as u32, y as u32)
    }
}

/// Compiles one WGSL compute shader (entry point `main`) into a pipeline; a shader wgpu
/// rejects is an [`crate::Error::Gpu`] naming it, not a panic.
pub fn compile(ctx: &GpuContext, name: &str, src: &str) -> Result<wgpu::ComputePipeline> {
    ctx.scoped(&format!("compiling kernel '{name}'"), || {
        let module = ctx
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(std::borrow::Cow::Borrowed(src)),
            });
        ctx.device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            })
    })
}
