// Per-channel sums of an NCHW gradient dy (batch x c x hw), one workgroup per channel:
//   sum_dy[c]   = sum over (b, s) of dy[b, c, s]            (a convolution's bias gradient,
//                                                            BatchNorm's d beta);
//   sum_dyx[c]  = sum of dy * (x - mean_c) * invstd_c        (BatchNorm's d gamma; mode 1 only,
//                 mean and invstd from bn_stats.wgsl's stats buffer).
// Strided partial sums in a fixed order, then a tree in workgroup memory (deterministic).

struct Params {
    batch: u32,
    c: u32,
    hw: u32,
    mode: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> sum_dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> sum_dyx: array<f32>;

var<workgroup> part: array<vec2<f32>, 64>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let ch = wid.x;
    let t = lid.x;
    let n = p.batch * p.hw;
    var s = vec2<f32>(0.0, 0.0);
    if (p.mode == 0u) {
        for (var j = t; j < n; j = j + 64u) {
            s.x = s.x + dy[((j / p.hw) * p.c + ch) * p.hw + j % p.hw];
        }
    } else {
        let mean = stats[ch];
        let invstd = stats[p.c + ch];
        for (var j = t; j < n; j = j + 64u) {
            let k = ((j / p.hw) * p.c + ch) * p.hw + j % p.hw;
            s = s + vec2<f32>(dy[k], dy[k] * (x[k] - mean) * invstd);
        }
    }
    part[t] = s;
    for (var half = 32u; half > 0u; half = half / 2u) {
        workgroupBarrier();
        if (t < half) {
            part[t] = part[t] + part[t + half];
        }
    }
    if (t == 0u) {
        sum_dy[ch] = part[0].x;
        if (p.mode == 1u) {
            sum_dyx[ch] = part[0].y;
        }
    }
}
