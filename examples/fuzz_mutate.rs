//! A std-only mutation fuzzer for the fuzz targets' property (`fuzz/check.rs`), for machines
//! without cargo-fuzz / nightly: random byte-level mutations of the committed corpus
//! (bit flips, interesting integers written over 1/2/4/8 bytes, chunk deletion, duplication
//! and truncation, splices of two inputs), each run through the same check as the libFuzzer
//! target. Not coverage-guided, so it complements rather than replaces `cargo fuzz run`.
//!
//! ```text
//! cargo run --release --example fuzz_mutate -- torch_open 600    # target, seconds
//! ```
//! Targets: `checkpoint_open`, `torch_open`, `gguf_open`, `lora_config`. An input that breaks the property
//! is written to `fuzz/regressions/<target>/` (replayed by `tests/numerics/fuzz_corpus.rs`).

#[path = "../fuzz/check.rs"]
mod check;

use std::path::Path;
use std::time::{Duration, Instant};

/// xorshift64* stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    1 << 32,
    1 << 40,
    u64::MAX,
    i64::MAX as u64,
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..1 + rng.below(6) {
        let len = input.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let width = [1, 2, 4, 8][rng.below(4)];
                let v = INTERESTING[rng.below(INTERESTING.len())].to_le_bytes();
                let at = rng.below(len);
                for (k, b) in v.iter().take(width).enumerate() {
                    if let Some(x) = input.get_mut(at + k) {
                        *x = *b;
                    }
                }
            }
            2 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                input.drain(a..b);
            }
            3 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let chunk = input[a..b].to_vec();
                let at = rng.below(len);
                input.splice(at..at, chunk);
            }
            4 => input.truncate(rng.below(len + 1)),
            5 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            _ => {
                let at = rng.below(len + 1);
                input.insert(at, rng.next() as u8);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let target = args.first().map(String::as_str).unwrap_or("torch_open");
    let secs: u64 = args
        .get(1)
        .map(|s| s.parse().expect("seconds"))
        .unwrap_or(60);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(root.join("corpus").join(target))
        .expect("corpus folder")
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| std::fs::read(e.path()).expect("corpus file"))
        .collect();
    corpus.sort();
    assert!(!corpus.is_empty(), "empty corpus for {target}");
    let scratch = check::scratch_dir();
    let run = |data: &[u8]| match target {
        "torch_open" => check::check_file(&scratch, "model.pt", data),
        "gguf_open" => check::check_file(&scratch, "model.gguf", data),
        "lora_config" => check::check_adapter_config(&scratch, data),
        _ => check::check(&scratch, data),
    };
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ secs);
    let (start, limit) = (Instant::now(), Duration::from_secs(secs));
    let (mut execs, mut crashes) = (0u64, 0u64);
    while start.elapsed() < limit {
        let mut input = corpus[rng.below(corpus.len())].clone();
        let other = corpus[rng.below(corpus.len())].clone();
        mutate(&mut rng, &mut input, &other);
        execs += 1;
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&input))).is_err() {
            crashes += 1;
            let dir = root.join("regressions").join(target);
            std::fs::create_dir_all(&dir).expect("regressions folder");
            let name = format!("crash-{:016x}", htdiag::outdir::fnv64(&input));
            std::fs::write(dir.join(&name), &input).expect("write crash");
            eprintln!("property broken: fuzz/regressions/{target}/{name}");
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!(
        "{target}: {execs} executions in {:.0} s ({:.0}/s), {crashes} property failures, \
         corpus {} files",
        start.elapsed().as_secs_f64(),
        execs as f64 / start.elapsed().as_secs_f64(),
        corpus.len()
    );
}
