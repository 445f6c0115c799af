//! libFuzzer target: arbitrary bytes as a GGUF file (`model.gguf`) through
//! `Checkpoint::open`, tensor access (dequantization included) and planning (see `check.rs`).
//!
//! ```text
//! cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run gguf_open corpus/gguf_open
//! ```
#![no_main]

#[path = "../check.rs"]
mod check;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static DIR: std::path::PathBuf = check::scratch_dir();
    }
    DIR.with(|d| check::check_file(d, "model.gguf", data));
});
