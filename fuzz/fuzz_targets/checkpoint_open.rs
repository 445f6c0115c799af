//! libFuzzer target: arbitrary bytes as a safetensors file, a shard index, or both, through
//! `Checkpoint::open`, tensor access and planning (see `check.rs`).
//!
//! ```text
//! cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run checkpoint_open corpus/checkpoint_open
//! ```
#![no_main]

#[path = "../check.rs"]
mod check;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static DIR: std::path::PathBuf = check::scratch_dir();
    }
    DIR.with(|d| check::check(d, data));
});
