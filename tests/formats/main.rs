//! Checkpoint formats: safetensors files, shard indexes and folders, broken files, GGUF,
//! PyTorch zip and legacy pickles, and PEFT LoRA adapters, read and analysed through the
//! library. Run one module with `cargo test --test formats torch::`.

mod bad_input;
mod checkpoint;
mod gguf;
mod lora;
mod torch;
