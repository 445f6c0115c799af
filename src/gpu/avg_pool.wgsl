// Average pooling forward, PyTorch semantics, the value of output element i:
//   mode 0, AvgPool2d (floor output size, count_include_pad = true): window rows
//     [oy * sh - ph, oy * sh - ph + kh) clipped to the image, divided by kh * kw;
//   mode 1, AdaptiveAvgPool2d: rows [floor(oy * h / oh), ceil((oy + 1) * h / oh)), columns
//     alike, divided by the window's own size.
// (Uniform `p`, covering() and window(): window.wgsl; bindings x, y and the entry point that
// calls pool(): pool.wgsl; both prepended by kernels.rs.)

fn pool(i: u32, ox: u32, oy: u32, plane: u32) -> f32 {
    let wy = window(oy, p.h, p.oh, p.kh, p.sh, p.ph);
    let wx = window(ox, p.w, p.ow, p.kw, p.sw, p.pw);
    var s = 0.0;
    for (var yy = wy.x; yy < wy.y; yy = yy + 1u) {
        for (var xx = wx.x; xx < wx.y; xx = xx + 1u) {
            s = s + x[(plane * p.h + yy) * p.w + xx];
        }
    }
    return s / f32(wy.z * wx.z);
}
