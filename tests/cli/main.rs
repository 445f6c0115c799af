//! `htdiag` as a user runs it: each module drives the built binary through one subcommand
//! (analyze, allocate, train and its data flags, evaluate/train/regularize on CNNs,
//! regularize, resumable and sharded `analyze --out`) and checks its files and messages.
//!
//! The integration tests are grouped by theme into a few binaries (issue 15): each binary
//! links the library and wgpu once, where one binary per file spent seconds of link time
//! each. Run one module with `cargo test --test cli analyze::`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../../examples/gen_llm.rs"]
#[allow(dead_code)]
mod gen_llm;

mod allocate;
mod analyze;
mod cnn;
mod data;
mod regularize;
mod resume_kill;
mod shard_merge;
mod train;
