//! CPU kernels of the network IR ([`crate::train::net`]), one file per layer kind, with the
//! PyTorch semantics (tests/data/cnn/README.md), and the [`engine::CpuNet`] that runs a whole
//! network forward and backward. Every backward is tested against central finite differences
//! of an f64 evaluation of the layer's definition.

pub mod batchnorm;
pub mod conv;
pub mod engine;
#[cfg(test)]
mod net_tests;
pub mod optim;
pub mod pool;
#[cfg(test)]
pub(crate) mod testing;

pub use engine::CpuNet;
