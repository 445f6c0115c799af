// BatchNorm2d statistics (Ioffe & Szegedy 2015, PyTorch's semantics), one workgroup per channel:
//   mode 0 (training): mean and biased variance of x[:, c, :, :] over batch * hw values,
//     stats[c] = mean, stats[C + c] = 1 / sqrt(var + eps); the running statistics move by
//     momentum with the unbiased variance: rm = (1 - m) rm + m mean,
//     rv = (1 - m) rv + m var * n / (n - 1);
//   mode 1 (evaluation): stats from the running statistics, which stay unchanged.
// The 64 invocations sum strided slices in a fixed order, then a tree in workgroup memory:
// deterministic; the variance is a second pass over (x - mean)^2 (no cancellation).

struct Params {
    batch: u32,
    c: u32,
    hw: u32,
    mode: u32,
    eps: f32,
    momentum: f32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_var: array<f32>;

var<workgroup> part: array<f32, 64>;

fn tree(t: u32) -> f32 {
    for (var half = 32u; half > 0u; half = half / 2u) {
        workgroupBarrier();
        if (t < half) {
            part[t] = part[t] + part[t + half];
        }
    }
    workgroupBarrier();
    let total = part[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let ch = wid.x;
    let t = lid.x;
    if (p.mode == 1u) {
        if (t == 0u) {
            stats[ch] = running_mean[ch];
            stats[p.c + ch] = 1.0 / sqrt(running_var[ch] + p.eps);
        }
        return;
    }
    let n = p.batch * p.hw;
    var s = 0.0;
    for (var j = t; j < n; j = j + 64u) {
        s = s + x[((j / p.hw) * p.c + ch) * p.hw + j % p.hw];
    }
    part[t] = s;
    let mean = tree(t) / f32(n);
    var q = 0.0;
    for (var j = t; j < n; j = j + 64u) {
        let d = x[((j / p.hw) * p.c + ch) * p.hw + j % p.hw] - mean;
        q = q + d * d;
    }
    part[t] = q;
    let var_b = tree(t) / f32(n);
    if (t == 0u) {
        stats[ch] = mean;
        stats[p.c + ch] = 1.0 / sqrt(var_b + p.eps);
        let unbiased = var_b * f32(n) / f32(max(n, 2u) - 1u);
        running_mean[ch] = (1.0 - p.momentum) * running_mean[ch] + p.momentum * mean;
        running_var[ch] = (1.0 - p.momentum) * running_var[ch] + p.momentum * unbiased;
    }
}
