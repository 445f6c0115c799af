// MaxPool2d backward: each input element receives the gradient of every output whose recorded
// maximum (max_pool.wgsl's `arg`) it is. A gather over the outputs whose window covers the
// element, one invocation per input element (deterministic, no atomics). `acc` = 1 adds to dx.
// (Uniform `p`, covering() and window(): window.wgsl, prepended by kernels.rs.)

@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> arg: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.batch * p.c * p.h * p.w) {
        return;
    }
    let at = i % (p.h * p.w);
    let plane = i / (p.h * p.w);
    let xx = at % p.w;
    let yy = at / p.w;
    let ry = covering(yy, p.kh, p.sh, p.ph, p.oh);
    let rx = covering(xx, p.kw, p.sw, p.pw, p.ow);
    var s = 0.0;
    for (var oy = ry.x; oy < ry.y; oy = oy + 1u) {
        for (var ox = rx.x; ox < rx.y; ox = ox + 1u) {
            let o = (plane * p.oh + oy) * p.ow + ox;
            if (arg[o] == at) {
                s = s + dy[o];
            }
        }
    }
    if (p.acc != 0u) {
        s = s + dx[i];
    }
    dx[i] = s;
}
