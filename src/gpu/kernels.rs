//! The WGSL kernels, compiled once per device into compute pipelines. Bind-group layouts come
//! from the shaders themselves (`layout: None`); every binding a shader declares is used.

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
}

/// Workgroup width of the one-dimensional kernels (by kernel).
pub fn width(k: Kernel) -> u32 {
    match k {
        Kernel::Matmul => 8,
        Kernel::SoftmaxXent | Kernel::ColumnSum => 64,
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
    pub fn new(device: &wgpu::Device) -> Pipelines {
        let pipelines = SOURCES
            .iter()
            .map(|(name, src)| {
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(std::borrow::Cow::Borrowed(src)),
                });
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(name),
                    layout: None,
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })
            .collect();
        Pipelines { pipelines }
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
