// Backward of avg_pool.wgsl (same modes and windows): each input element gathers
// dy / divisor from every output whose window covers it. One invocation per input element;
// `acc` = 1 adds to dx.

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
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

// Same windows as avg_pool.wgsl: [start, end) clipped to [0, n), and the divisor part.
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

// Outputs whose window may cover v: a superset, checked exactly with window().
fn candidates(v: u32, on: u32, k: u32, s: u32, pad: u32) -> vec2<u32> {
    if (p.mode == 1u) {
        return vec2<u32>(0u, on);
    }
    let t = i32(v + pad) - i32(k) + 1;
    var lo = 0u;
    if (t > 0) {
        lo = (u32(t) + s - 1u) / s;
    }
    return vec2<u32>(lo, min((v + pad) / s + 1u, on));
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.batch * p.c * p.h * p.w) {
        return;
    }
    let xx = i % p.w;
    let yy = (i / p.w) % p.h;
    let plane = i / (p.w * p.h);
    let ry = candidates(yy, p.oh, p.kh, p.sh, p.ph);
    let rx = candidates(xx, p.ow, p.kw, p.sw, p.pw);
    var s = 0.0;
    for (var oy = ry.x; oy < ry.y; oy = oy + 1u) {
        let wy = window(oy, p.h, p.oh, p.kh, p.sh, p.ph);
        if (yy < wy.x || yy >= wy.y) {
            continue;
        }
        for (var ox = rx.x; ox < rx.y; ox = ox + 1u) {
            let wx = window(ox, p.w, p.ow, p.kw, p.sw, p.pw);
            if (xx < wx.x || xx >= wx.y) {
                continue;
            }
            s = s + dy[(plane * p.oh + oy) * p.ow + ox] / f32(wy.z * wx.z);
        }
    }
    if (p.acc != 0u) {
        s = s + dx[i];
    }
    dx[i] = s;
}
