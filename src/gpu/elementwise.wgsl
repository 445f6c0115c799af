// Element-wise layers of the network graph, forward and backward, one invocation per element
// (n elements). `acc` = 1 adds the result to `out` (a value read by several nodes: the input of
// a residual block receives the gradient of both branches), 0 overwrites it.
//   mode 0  ReLU forward:        out = max(a, 0)
//   mode 1  ReLU backward:       out (+)= b * [a > 0]          (a = the ReLU's output, b = dy)
//   mode 2  residual add:        out = a + b
//   mode 3  gradient pass-on:    out (+)= a                    (both inputs of an add)
//   mode 4  dropout forward:     out = a * keep_i / (1 - p)
//   mode 5  dropout backward:    out (+)= a * keep_i / (1 - p)
//   mode 6  scaled pass-on:      out (+)= a * b[0]             (b: one scale, set on the device)
// Dropout keeps element i when pcg(i + pcg(seed)) >= threshold = p * 2^32, with `pcg` the
// PCG-RXS-M-XS hash of Jarzynski & Olano (JCGT 2020) and `seed` a fresh u32 per step
// (htdiag::train::dropout::keep is the same function on the host).

struct Params {
    n: u32,
    mode: u32,
    acc: u32,
    seed: u32,
    threshold: u32,
    scale: f32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn keep(i: u32) -> f32 {
    return select(0.0, p.scale, pcg(i + pcg(p.seed)) >= p.threshold);
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) {
        return;
    }
    var v = 0.0;
    switch p.mode {
        case 0u: {
            v = max(a[i], 0.0);
        }
        case 1u: {
            v = select(0.0, b[i], a[i] > 0.0);
        }
        case 2u: {
            v = a[i] + b[i];
        }
        case 4u, 5u: {
            v = a[i] * keep(i);
        }
        case 6u: {
            v = a[i] * b[0];
        }
        default: {
            v = a[i];
        }
    }
    if (p.acc != 0u) {
        v = v + out[i];
    }
    out[i] = v;
}
