// Adam (Kingma & Ba, ICLR 2015) with coupled weight decay (torch.optim.Adam's weight_decay):
//   g = grad + wd * w;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   w = w - lr * (m / bc1) / (sqrt(v / bc2) + eps),  bc_i = 1 - b_i^t (computed on the host).

struct Opt {
    lr: f32,
    weight_decay: f32,
    momentum: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bc1: f32,
    bc2: f32,
}

@group(0) @binding(0) var<uniform> o: Opt;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= arrayLength(&w)) {
        return;
    }
    let g = grad[i] + o.weight_decay * w[i];
    let m = o.beta1 * m1[i] + (1.0 - o.beta1) * g;
    let v = o.beta2 * m2[i] + (1.0 - o.beta2) * g * g;
    m1[i] = m;
    m2[i] = v;
    w[i] = w[i] - o.lr * (m / o.bc1) / (sqrt(v / o.bc2) + o.eps);
}
