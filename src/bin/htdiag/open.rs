//! Opening a checkpoint for a subcommand: `--key` for nested PyTorch checkpoints, and the
//! library's notes (which key was used, GGUF dequantization) on stderr.

use htdiag::checkpoint::{Checkpoint, OpenOptions};
use std::path::Path;

/// Opens `path`; prints the checkpoint's notes unless `quiet`.
pub fn open_checkpoint(path: &Path, key: Option<&str>, quiet: bool) -> anyhow::Result<Checkpoint> {
    let opts = OpenOptions {
        key: key.map(str::to_string),
    };
    let ckpt = Checkpoint::open_with(path, &opts)?;
    if !quiet {
        for n in ckpt.notes() {
            eprintln!("htdiag: note: {n}");
        }
    }
    Ok(ckpt)
}
