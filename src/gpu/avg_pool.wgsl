// Average pooling forward, PyTorch semantics, one invocation per output element:
//   mode 0, AvgPool2d (floor output size, count_include_pad = true): window rows
//     [oy * sh - ph, oy * sh - ph + kh) clipped to the image, divided by kh * kw;
//   mode 1, AdaptiveAvgPool2d: rows [floor(oy * h / oh), ceil((oy + 1) * h / oh)), columns
//     alike, divided by the window's own size.
// (Uniform `p`, covering() and window(): window.wgsl, prepended by kernels.rs.)

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.batch * p.c * p.oh * p.ow) {
        return;
    }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let plane = i / (p.ow * p.oh);
    let wy = window(oy, p.h, p.oh, p.kh, p.sh, p.ph);
    let wx = window(ox, p.w, p.ow, p.kw, p.sw, p.pw);
    var s = 0.0;
    for (var yy = wy.x; yy < wy.y; yy = yy + 1u) {
        for (var xx = wx.x; xx < wx.y; xx = xx + 1u) {
            s = s + x[(plane * p.h + yy) * p.w + xx];
        }
    }
    y[i] = s / f32(wy.z * wx.z);
}
