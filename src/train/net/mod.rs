//! Convolutional (and fully connected) networks as one IR ([`ir::Net`]) that every backend
//! runs: PyTorch layer semantics, tensor names of the checkpoint kept. An [`crate::train::Mlp`]
//! is the special case of a Linear/ReLU chain ([`mlp`]); [`arch`] builds the named families
//! from checkpoints or fresh, through [`builder`]; [`io`] reads and writes safetensors.

pub mod arch;
pub mod builder;
pub mod io;
pub mod ir;
pub mod mlp;

pub use arch::{Arch, infer_input};
pub use io::Tensors;
pub use ir::{Buffer, BufferData, Net, Node, Op, Param, PenalisedWeight, WeightView};
