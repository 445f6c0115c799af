//! Shared helpers of the GPU tests: opening any wgpu adapter (lavapipe in CI), skipping with
//! "SKIPPED" when there is none unless HTDIAG_REQUIRE_GPU=1, deterministic test data.

#![allow(dead_code)]

use htdiag::gpu::GpuContext;

/// Any wgpu adapter, software ones included; `None` (test skipped) without one.
pub fn gpu() -> Option<GpuContext> {
    let ctx = GpuContext::open(true).expect("wgpu device");
    if ctx.is_none() {
        if std::env::var("HTDIAG_REQUIRE_GPU").as_deref() == Ok("1") {
            panic!("HTDIAG_REQUIRE_GPU=1 but wgpu found no adapter (install mesa-vulkan-drivers)");
        }
        eprintln!(
            "SKIPPED: no wgpu adapter on this machine (set HTDIAG_REQUIRE_GPU=1 to fail instead)"
        );
    }
    ctx
}

/// `n` values in [-1, 1) from a fixed linear congruential sequence.
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Largest |a - b| relative to the largest |b| (at least 1).
pub fn max_rel(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}
