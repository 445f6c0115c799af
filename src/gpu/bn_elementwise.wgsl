// Shared head of the per-element BatchNorm2d kernels (bn_apply.wgsl, bn_backward.wgsl),
// prepended to each by kernels.rs (WGSL has no includes): the uniform (batch, channels c,
// spatial size hw = h * w, and the backward pass's accumulate flag, 0 for bn_apply), the
// input x, and the entry point: one invocation per element i of the NCHW tensor
// (batch x c x hw), handed with its channel to the kernel's own bn(i, ch).

struct Params {
    batch: u32,
    c: u32,
    hw: u32,
    acc: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.batch * p.c * p.hw) {
        return;
    }
    bn(i, (i / p.hw) % p.c);
}
