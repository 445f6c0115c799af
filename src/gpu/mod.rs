//! The wgpu compute backend (Vulkan, Metal, DX12): the training step of
//! [`crate::train::backend`] for any network of [`crate::train::net`] as WGSL kernels. Kernels
//! live in `.wgsl` files beside [`kernels`], which compiles each once into a pipeline;
//! [`graph`] turns a network into dispatches (convolution as im2col + matrix product, batch
//! norm, pooling, element-wise layers, Linear, softmax cross-entropy), [`penalty`] adds the
//! spectral penalty's gradient, and [`backend`] creates every buffer and bind group once when a
//! run starts, records one compute pass per step and reads results back only when asked.
//! Device failures are [`crate::Error::Gpu`] ([`context`]), never panics.
//!
//! Dependencies are one-way: this module implements [`crate::train::Backend`]; `train` never
//! names `gpu`: [`open`] implements its `OpenBackend` for the `--device` choice.

pub mod backend;
pub mod context;
pub mod dispatch;
pub mod graph;
pub mod kernels;
pub mod open;
pub mod penalty;
pub mod probe;

pub use backend::GpuBackend;
pub use context::GpuContext;
pub use probe::{Probe, ProbeResult};
