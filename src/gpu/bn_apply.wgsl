// BatchNorm2d forward with the statistics of bn_stats.wgsl (batch statistics in training,
// running statistics in evaluation): y = (x - mean_c) * invstd_c * gamma_c + beta_c.
// (Uniform `p`, binding x and the entry point that calls bn() per element:
// bn_elementwise.wgsl, prepended by kernels.rs.)

@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

fn bn(i: u32, ch: u32) {
    y[i] = (x[i] - stats[ch]) * stats[p.c + ch] * gamma[ch] + beta[ch];
}
