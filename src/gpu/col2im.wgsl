// Backward of im2col.wgsl: the input gradient of a convolution from the gradient of its
// unfolded input, dcol ((c * kh * kw) x (batch * oh * ow), row-major, = W_g^T dY_g per group):
//   dx[b, ci, y, x] = sum over (ki, kj) with oy = (y + ph - ki) / sh and ox = (x + pw - kj) / sw
//                     exact and inside the output of dcol[(ci * kh + ki) * kw + kj, (b * oh + oy) * ow + ox].
// A gather, one invocation per input element (no atomics: deterministic, the same sum order on
// every device). `acc` = 1 adds to dx (a value read by several layers, e.g. a residual block's
// input), 0 overwrites it.
// (Uniform `p`, covering() and window(): window.wgsl, prepended by kernels.rs.)

@group(0) @binding(1) var<storage, read> dcol: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.batch * p.c * p.h * p.w) {
        return;
    }
    let xx = i % p.w;
    let y = (i / p.w) % p.h;
    let ci = (i / (p.w * p.h)) % p.c;
    let b = i / (p.w * p.h * p.c);
    let ncols = p.batch * p.oh * p.ow;
    var s = 0.0;
    for (var ki = 0u; ki < p.kh; ki = ki + 1u) {
        let ty = i32(y + p.ph) - i32(ki);
        if (ty < 0 || ty % i32(p.sh) != 0) {
            continue;
        }
        let oy = u32(ty) / p.sh;
        if (oy >= p.oh) {
            continue;
        }
        for (var kj = 0u; kj < p.kw; kj = kj + 1u) {
            let tx = i32(xx + p.pw) - i32(kj);
            if (tx < 0 || tx % i32(p.sw) != 0) {
                continue;
            }
            let ox = u32(tx) / p.sw;
            if (ox >= p.ow) {
                continue;
            }
            let r = (ci * p.kh + ki) * p.kw + kj;
            s = s + dcol[r * ncols + (b * p.oh + oy) * p.ow + ox];
        }
    }
    if (p.acc != 0u) {
        s = s + dx[i];
    }
    dx[i] = s;
}
