// Softmax cross-entropy, one invocation per row of logits z (rows x classes):
//   loss_r = max + ln(sum exp(z - max)) - z[y],
//   dz[r, j] = (softmax_j - [j == y]) * scale   (scale = 1 / batch),
//   correct_r = [argmax == y] (first maximum on ties).
// Labels are gathered through the same index buffer as the batch's inputs.

struct Params {
    rows: u32,
    classes: u32,
    scale: f32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> dz: array<f32>;
@group(0) @binding(5) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> row_correct: array<u32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * 64u;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.classes;
    let y = labels[idx[r]];
    var m = z[base];
    var arg = 0u;
    for (var j = 1u; j < p.classes; j = j + 1u) {
        let v = z[base + j];
        if (v > m) {
            m = v;
            arg = j;
        }
    }
    var s = 0.0;
    for (var j = 0u; j < p.classes; j = j + 1u) {
        s = s + exp(z[base + j] - m);
    }
    row_loss[r] = m + log(s) - z[base + y];
    row_correct[r] = select(0u, 1u, arg == y);
    for (var j = 0u; j < p.classes; j = j + 1u) {
        let prob = exp(z[base + j] - m) / s;
        dz[base + j] = (prob - select(0.0, 1.0, j == y)) * p.scale;
    }
}
