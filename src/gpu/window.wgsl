// Shared head of the sliding-window kernels (im2col, col2im, max_pool, avg_pool and their
// backward passes), prepended to each by kernels.rs: the uniform layout (batch, input
// c x h x w, output oh x ow, window kh x kw, stride, padding, a mode and an accumulate flag)
// and the window arithmetic. PyTorch's conventions: floor output size, zero (or -inf) padding.

struct Params {
    batch: u32,
    c: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    mode: u32,
    acc: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Outputs o with o * s - pad <= v < o * s - pad + k (the windows covering input index v),
// as [lo, hi) clipped to [0, n).
fn covering(v: u32, k: u32, s: u32, pad: u32, n: u32) -> vec2<u32> {
    let t = i32(v + pad) - i32(k) + 1;
    var lo = 0u;
    if (t > 0) {
        lo = (u32(t) + s - 1u) / s;
    }
    return vec2<u32>(lo, min((v + pad) / s + 1u, n));
}

// Average pooling's window of output o along one axis (avg_pool.wgsl's modes): [start, end)
// clipped to [0, n), and the divisor part (k for AvgPool2d's count_include_pad, the window's
// own size for AdaptiveAvgPool2d).
fn window(o: u32, n: u32, on: u32, k: u32, s: u32, pad: u32) -> vec3<u32> {
    if (p.mode == 1u) {
        let a = (o * n) / on;
        let b = ((o + 1u) * n + on - 1u) / on;
        return vec3<u32>(a, b, b - a);
    }
    let a = i32(o * s) - i32(pad);
    let b = min(a + i32(k), i32(n));
    return vec3<u32>(u32(max(a, 0)), u32(max(b, 0)), k);
}
