// MaxPool2d forward (PyTorch semantics: floor output size, padding counts as -infinity), the
// value of output element i = y[b, c, oy, ox]; the window is scanned row by row and the FIRST
// maximum wins ties (strict >), as PyTorch does; its position in the input plane
// (row * w + col) goes to `arg` for the backward pass (max_pool_backward.wgsl).
// (Uniform `p`, covering() and window(): window.wgsl; bindings x, y and the entry point that
// calls pool(): pool.wgsl; both prepended by kernels.rs.)

@group(0) @binding(3) var<storage, read_write> arg: array<u32>;

fn pool(i: u32, ox: u32, oy: u32, plane: u32) -> f32 {
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
    arg[i] = best_at;
    return best;
}
