//! Safetensors checkpoints: one file, a folder with `model.safetensors.index.json`, or a folder
//! of `*.safetensors` files; memory-mapped, one tensor read at a time.

pub mod dtype;
