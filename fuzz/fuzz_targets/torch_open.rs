//! libFuzzer target: arbitrary bytes as a PyTorch checkpoint (`model.pt`: a torch.save zip
//! archive or a legacy pickle, recognised by the first bytes) through `Checkpoint::open`,
//! tensor access and planning (see `check.rs`).
//!
//! ```text
//! cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run torch_open corpus/torch_open
//! ```
#![no_main]

#[path = "../check.rs"]
mod check;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static DIR: std::path::PathBuf = check::scratch_dir();
    }
    DIR.with(|d| check::check_file(d, "model.pt", data));
});
