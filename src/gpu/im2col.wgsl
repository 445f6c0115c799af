// Convolution as a matrix product (Chellapilla et al. 2006): unfolds the NCHW input x
// (batch x c x h x w) into col, (c * kh * kw) rows by (batch * oh * ow) columns, row-major:
//   col[(ci * kh + ki) * kw + kj, (b * oh + oy) * ow + ox] = x[b, ci, oy*sh - ph + ki, ox*sw - pw + kj]
// with zeros outside the image (PyTorch's zero padding, cross-correlation without a kernel
// flip). The rows of one convolution group are contiguous, so the forward product of group g is
// W_g (out/g x K) times rows [g K, (g+1) K) of col, K = c/g * kh * kw (matmul.wgsl, batched
// over groups), and the weight gradient is dY_g col_g^T.
// One invocation per element of col.
// (Uniform `p`, covering() and window(): window.wgsl, prepended by kernels.rs.)

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> col: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let ncols = p.batch * p.oh * p.ow;
    if (i >= p.c * p.kh * p.kw * ncols) {
        return;
    }
    let r = i / ncols;
    let n = i % ncols;
    let kj = r % p.kw;
    let ki = (r / p.kw) % p.kh;
    let ci = r / (p.kw * p.kh);
    let ox = n % p.ow;
    let oy = (n / p.ow) % p.oh;
    let b = n / (p.ow * p.oh);
    // Signed coordinates: padding may place the window outside the image.
    let y = i32(oy * p.sh + ki) - i32(p.ph);
    let xx = i32(ox * p.sw + kj) - i32(p.pw);
    var v = 0.0;
    if (y >= 0 && y < i32(p.h) && xx >= 0 && xx < i32(p.w)) {
        v = x[((b * p.c + ci) * p.h + u32(y)) * p.w + u32(xx)];
    }
    col[i] = v;
}
