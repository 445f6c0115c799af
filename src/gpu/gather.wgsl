// Gathers a batch from the device-resident data set: out[r, :] = data[idx[r], :].
// One invocation per output element; the linear index spans a 2-D grid of 256-wide
// workgroups so that large batches fit the 65,535-workgroup limit per dimension.

struct Params {
    rows: u32,
    cols: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.rows * p.cols) {
        return;
    }
    let r = i / p.cols;
    let j = i % p.cols;
    out[i] = data[idx[r] * p.cols + j];
}
