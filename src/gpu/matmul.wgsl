// Matrix product, row-major: C (m x n) = alpha * op(A) op(B) + beta * C.
// op(A) is m x k: A is stored m x k, or k x m when bit 0 of `flags` is set (transposed).
// op(B) is k x n: B is stored k x n, or n x k when bit 1 of `flags` is set.
// The forward pass uses A B^T, the weight gradient A^T B, the input gradient A B, and the
// penalty assembly A B with beta = 1 (accumulate into the gradient).
//
// Register blocking: each invocation computes a 4 x 4 block of C (a workgroup of 8 x 8
// invocations covers 32 x 32), reading A and B straight from memory through the caches. No
// workgroup memory and no barriers: software Vulkan drivers (lavapipe) run barrier-heavy
// kernels very slowly, and the 16 multiply-adds per 8 loads keep real GPUs busy enough for the
// layer sizes htdiag trains. The sum over k runs in increasing k for every element.
//
// Batched: workgroup z selects one of several independent products whose operands start
// `sa`, `sb`, `sc` elements after the previous one's (the groups of a grouped convolution, the
// kh*kw slices of a convolution's penalty; 0 for a single product).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    flags: u32,
    alpha: f32,
    beta: f32,
    sa: u32,
    sb: u32,
    sc: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn load_a(oa: u32, i: u32, kk: u32) -> f32 {
    if (i >= p.m) {
        return 0.0;
    }
    if ((p.flags & 1u) != 0u) {
        return a[oa + kk * p.m + i];
    }
    return a[oa + i * p.k + kk];
}

fn load_b(ob: u32, kk: u32, j: u32) -> f32 {
    if (j >= p.n) {
        return 0.0;
    }
    if ((p.flags & 2u) != 0u) {
        return b[ob + j * p.k + kk];
    }
    return b[ob + kk * p.n + j];
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 4u;
    let col0 = gid.x * 4u;
    if (row0 >= p.m || col0 >= p.n) {
        return;
    }
    let oa = gid.z * p.sa;
    let ob = gid.z * p.sb;
    let oc = gid.z * p.sc;
    var acc: array<vec4<f32>, 4>;
    for (var kk = 0u; kk < p.k; kk = kk + 1u) {
        let av = vec4<f32>(load_a(oa, row0, kk), load_a(oa, row0 + 1u, kk), load_a(oa, row0 + 2u, kk), load_a(oa, row0 + 3u, kk));
        let bv = vec4<f32>(load_b(ob, kk, col0), load_b(ob, kk, col0 + 1u), load_b(ob, kk, col0 + 2u), load_b(ob, kk, col0 + 3u));
        acc[0] = acc[0] + av.x * bv;
        acc[1] = acc[1] + av.y * bv;
        acc[2] = acc[2] + av.z * bv;
        acc[3] = acc[3] + av.w * bv;
    }
    for (var r = 0u; r < 4u; r = r + 1u) {
        let row = row0 + r;
        if (row < p.m) {
            for (var q = 0u; q < 4u; q = q + 1u) {
                let col = col0 + q;
                if (col < p.n) {
                    let idx = oc + row * p.n + col;
                    var v = p.alpha * acc[r][q];
                    if (p.beta != 0.0) {
                        v = v + p.beta * c[idx];
                    }
                    c[idx] = v;
                }
            }
        }
    }
}
