// MaxPool2d forward (PyTorch semantics: floor output size, padding counts as -infinity).
// One invocation per output element y[b, c, oy, ox]; the window is scanned row by row and the
// FIRST maximum wins ties (strict >), as PyTorch does; its position in the input plane
// (row * w + col) goes to `arg` for the backward pass (max_pool_backward.wgsl).
// (Uniform `p`, covering() and window(): window.wgsl, prepended by kernels.rs.)

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.batch * p.c * p.oh * p.ow) {
        return;
    }
    let ox = i % p.ow;
    let oy = (i / p.ow) % p.oh;
    let plane = i / (p.ow * p.oh);
    let base = plane * p.h * p.w;
    let y0 = i32(oy * p.sh) - i32(p.ph);
    let x0 = i32(ox * p.sw) - i32(p.pw);
    var best = -3.4028235e38;
    var best_at = 0xffffffffu;
    for (var ki = 0u; ki < p.kh; ki = ki + 1u) {
        let yy = y0 + i32(ki);
        if (yy < 0 || yy >= i32(p.h)) {
            continue;
        }
        for (var kj = 0u; kj < p.kw; kj = kj + 1u) {
            let xx = x0 + i32(kj);
            if (xx < 0 || xx >= i32(p.w)) {
                continue;
            }
            let at = u32(yy) * p.w + u32(xx);
            let v = x[base + at];
            if (best_at == 0xffffffffu || v > best) {
                best = v;
                best_at = at;
            }
        }
    }
    y[i] = best;
    arg[i] = best_at;
}
