// BatchNorm2d forward with the statistics of bn_stats.wgsl (batch statistics in training,
// running statistics in evaluation): y = (x - mean_c) * invstd_c * gamma_c + beta_c.
// One invocation per element of the NCHW tensor (batch x c x hw).

struct Params {
    batch: u32,
    c: u32,
    hw: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.batch * p.c * p.hw) {
        return;
    }
    let ch = (i / p.hw) % p.c;
    y[i] = (x[i] - stats[ch]) * stats[p.c + ch] * gamma[ch] + beta[ch];
}
