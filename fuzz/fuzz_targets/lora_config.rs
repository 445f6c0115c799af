//! libFuzzer target: arbitrary bytes as a PEFT `adapter_config.json` beside a fixed, valid
//! `adapter_model.safetensors`, through `Adapter::open` and the adapter analysis (see
//! `check.rs`).
//!
//! ```text
//! cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run lora_config corpus/lora_config
//! ```
#![no_main]

#[path = "../check.rs"]
mod check;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static DIR: std::path::PathBuf = check::scratch_dir();
    }
    DIR.with(|d| check::check_adapter_config(d, data));
});
