//! The wgpu compute backend (Vulkan, Metal, DX12): the training step of
//! [`crate::train::backend`] as WGSL kernels. Kernels live in `.wgsl` files beside
//! [`kernels`], which compiles each once into a pipeline; [`backend`] creates every buffer and
//! bind group once when a run starts, records one compute pass per step and reads results back
//! only when asked (epoch statistics, evaluation, spectrum refreshes, the final weights).

pub mod backend;
pub mod context;
pub mod kernels;

pub use backend::GpuBackend;
pub use context::GpuContext;
