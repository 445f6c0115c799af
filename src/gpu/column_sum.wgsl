// Bias gradient: out[j] = sum over rows of d[r, j], rows summed in order.

struct Params {
    rows: u32,
    cols: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> d: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if (j >= p.cols) {
        return;
    }
    var s = 0.0;
    for (var r = 0u; r < p.rows; r = r + 1u) {
        s = s + d[r * p.cols + j];
    }
    out[j] = s;
}
