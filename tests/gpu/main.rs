//! The wgpu backend against the CPU reference: every WGSL shader validated with naga (no GPU
//! needed), every layer kind, whole CNN and MLP training steps and penalties. Without a wgpu
//! adapter the device tests print "SKIPPED" and pass, unless HTDIAG_REQUIRE_GPU=1. Run one
//! module with `cargo test --test gpu layers::`.

#[path = "../gpu_common/mod.rs"]
mod gpu_common;
#[path = "../penalty_common/mod.rs"]
mod penalty_common;

mod cnn;
mod layers;
mod shaders;
mod train;
