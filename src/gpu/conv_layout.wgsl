// Converts between the layout of a convolution's matrix product, "CNHW" (c rows of
// batch * hw columns: out = W_g col_g, see im2col.wgsl), and PyTorch's NCHW:
//   mode 0:  dst[ci, b, s] = src[b, ci, s]                 (output gradient into the product layout)
//   mode 1:  dst[b, ci, s] = src[ci, b, s] + bias[ci]      (product into the layer's output;
//            bias only when has_bias = 1).
// One invocation per element.

struct Params {
    batch: u32,
    c: u32,
    hw: u32,
    mode: u32,
    has_bias: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.batch * p.c * p.hw) {
        return;
    }
    // i enumerates the NCHW element (b, ci, s).
    let s = i % p.hw;
    let ci = (i / p.hw) % p.c;
    let b = i / (p.hw * p.c);
    let j = (ci * p.batch + b) * p.hw + s;
    if (p.mode == 0u) {
        dst[j] = src[i];
    } else {
        var v = src[j];
        if (p.has_bias != 0u) {
            v = v + bias[ci];
        }
        dst[i] = v;
    }
}
