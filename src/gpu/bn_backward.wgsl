// BatchNorm2d backward in training mode (batch statistics), with n = batch * hw values per
// channel, xhat = (x - mean) * invstd and the channel sums of channel_sums.wgsl
// (sum_dy = d beta, sum_dyx = d gamma):
//   dx = gamma * invstd * (dy - sum_dy / n - xhat * sum_dyx / n).
// `acc` = 1 adds to dx instead of overwriting it. One invocation per element.

struct Params {
    batch: u32,
    c: u32,
    hw: u32,
    acc: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> sum_dy: array<f32>;
@group(0) @binding(6) var<storage, read> sum_dyx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.batch * p.c * p.hw) {
        return;
    }
    let ch = (i / p.hw) % p.c;
    let n = f32(p.batch * p.hw);
    let invstd = stats[p.c + ch];
    let xhat = (x[i] - stats[ch]) * invstd;
    var v = gamma[ch] * invstd * (dy[i] - sum_dy[ch] / n - xhat * sum_dyx[ch] / n);
    if (p.acc != 0u) {
        v = v + dx[i];
    }
    dx[i] = v;
}
