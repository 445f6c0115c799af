// BatchNorm2d backward in training mode (batch statistics), with n = batch * hw values per
// channel, xhat = (x - mean) * invstd and the channel sums of channel_sums.wgsl
// (sum_dy = d beta, sum_dyx = d gamma):
//   dx = gamma * invstd * (dy - sum_dy / n - xhat * sum_dyx / n).
// `acc` = 1 adds to dx instead of overwriting it. (Uniform `p`, binding x and the entry
// point that calls bn() per element: bn_elementwise.wgsl, prepended by kernels.rs.)

@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> sum_dy: array<f32>;
@group(0) @binding(6) var<storage, read> sum_dyx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;

fn bn(i: u32, ch: u32) {
    let n = f32(p.batch * p.hw);
    let invstd = stats[p.c + ch];
    let xhat = (x[i] - stats[ch]) * invstd;
    var v = gamma[ch] * invstd * (dy[i] - sum_dy[ch] / n - xhat * sum_dyx[ch] / n);
    if (p.acc != 0u) {
        v = v + dx[i];
    }
    dx[i] = v;
}
