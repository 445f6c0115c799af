// Backward of avg_pool.wgsl (same modes and windows): each input element gathers
// dy / divisor from every output whose window covers it. One invocation per input element;
// `acc` = 1 adds to dx.
// (Uniform `p`, covering() and window(): window.wgsl, prepended by kernels.rs.)

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

// Outputs whose window may cover v: a superset, checked exactly with window().
fn candidates(v: u32, on: u32, k: u32, s: u32, pad: u32) -> vec2<u32> {
    if (p.mode == 1u) {
        return vec2<u32>(0u, on);
    }
    return covering(v, k, s, pad, on);
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
