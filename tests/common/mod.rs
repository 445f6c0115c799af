//! Helpers shared by the integration tests. A test binary that uses them declares
//! `#[path = "../common/mod.rs"] mod common;` in its `main.rs` (tests/cli), its modules
//! `use crate::common;`; not every binary uses every helper.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The `htdiag` binary built for this test run.
pub fn htdiag() -> Command {
    Command::new(env!("CARGO_BIN_EXE_htdiag"))
}

/// A file under `tests/data/`.
pub fn test_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Writes a CIFAR-10 binary folder: 5 training batches of `per_batch` records and a test
/// batch of `test` records. Record `k` of batch `b` has label `(b + k) % 10` and pixel
/// `(c, i, j)` equal to `(label + 3c + 5i + 7j) % 256`. Returns the labels (train, test).
pub fn write_cifar10(dir: &std::path::Path, per_batch: usize, test: usize) -> (Vec<u8>, Vec<u8>) {
    let record = |label: u8| {
        let mut r = vec![label];
        for c in 0..3 {
            for i in 0..32 {
                for j in 0..32 {
                    r.push(((label as usize + 3 * c + 5 * i + 7 * j) % 256) as u8);
                }
            }
        }
        r
    };
    let mut labels = (Vec::new(), Vec::new());
    std::fs::create_dir_all(dir).unwrap();
    for b in 0..6 {
        let n = if b < 5 { per_batch } else { test };
        let mut bytes = Vec::new();
        for k in 0..n {
            let l = ((b + k) % 10) as u8;
            bytes.extend(record(l));
            if b < 5 { &mut labels.0 } else { &mut labels.1 }.push(l);
        }
        let name = if b < 5 {
            format!("data_batch_{}.bin", b + 1)
        } else {
            "test_batch.bin".into()
        };
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    labels
}
