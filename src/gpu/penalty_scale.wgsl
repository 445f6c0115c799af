// First half of the penalty gradient assembly dR/dW = 2 mu W V diag(g) V^T (REGULARIZATION.md):
// scales column i of the eigenvector matrix V (n x n, row-major) by g_i = dR/d lambda_i.
// matmul.wgsl then forms M = (V diag g) V^T once per spectrum refresh, and at every step adds
// c * W M (or c * M W when the eigenvectors are those of W W^T) to the weight gradient.
// `count` matrices are stored one after the other (the kh*kw slices W[:, :, i, j] of a
// convolution, `regularize::MatrixView::ConvSlices`), each with its own n values of g.

struct Params {
    n: u32,
    count: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> vg: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let nn = p.n * p.n;
    if (i >= nn * p.count) {
        return;
    }
    vg[i] = v[i] * g[(i / nn) * p.n + i % p.n];
}
