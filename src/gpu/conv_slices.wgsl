// The WeightWatcher view of a convolution weight W [out, inp, kh, kw] as its kh * kw slices
// W[:, :, i, j] (out x inp each; `regularize::MatrixView::ConvSlices`), for the penalty gradient:
//   mode 0 (gather):       dst[s, o, c] = src[o, c, s]          (s = i * kw + j)
//   mode 1 (scatter-add):  dst[o, c, s] += coef * src[s, o, c]  (each slice's penalty product
//                          back into the weight gradient).
// One invocation per element of W (kk = kh * kw slices).

struct Params {
    out: u32,
    inp: u32,
    kk: u32,
    mode: u32,
    coef: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.out * p.inp * p.kk) {
        return;
    }
    // i enumerates W in its stored order (o, c, s).
    let s = i % p.kk;
    let oc = i / p.kk;
    let sliced = s * p.out * p.inp + oc;
    if (p.mode == 0u) {
        dst[sliced] = src[i];
    } else {
        dst[i] = dst[i] + p.coef * src[sliced];
    }
}
