// Shared entry of the pooling forward kernels (max_pool.wgsl, avg_pool.wgsl), prepended to
// each after window.wgsl by kernels.rs (WGSL has no includes): the input and output bindings
// and one invocation per output element y[b, c, oy, ox], whose value the kernel's own file
// computes in pool(i, ox, oy, plane) (plane = b * c + channel).

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.batch * p.c * p.oh * p.ow) {
        return;
    }
    y[i] = pool(i, i % p.ow, (i / p.ow) % p.oh, i / (p.ow * p.oh));
}
