// Adds the bias to every row of z (rows x cols) and, when `relu` is 1, applies ReLU in place.
// The ReLU mask of the backward pass is read back from the output (a > 0).

struct Params {
    rows: u32,
    cols: u32,
    relu: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> z: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.rows * p.cols) {
        return;
    }
    var v = z[i] + bias[i % p.cols];
    if (p.relu != 0u) {
        v = max(v, 0.0);
    }
    z[i] = v;
}
