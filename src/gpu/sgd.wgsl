// SGD with momentum and coupled weight decay (PyTorch's torch.optim.SGD, dampening 0):
//   g = grad + wd * w;  v = momentum * v + g;  w = w - lr * v.

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
@group(0) @binding(3) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= arrayLength(&w)) {
        return;
    }
    let g = grad[i] + o.weight_decay * w[i];
    let vel = o.momentum * v[i] + g;
    v[i] = vel;
    w[i] = w[i] - o.lr * vel;
}
