//! Times `htdiag::analyze::analyze` on the same weights stored as safetensors, as PyTorch
//! checkpoints (torch.save zip and legacy formats) and as GGUF (Q8_0, Q4_K) next to their
//! dequantized safetensors twins (README, "PyTorch and GGUF checkpoints").
//!
//! ```text
//! python3 scripts/make_format_fixtures.py --bench /tmp/fmtbench 2   # needs numpy + gguf
//! cargo run --release --example bench_formats -- /tmp/fmtbench [--reps N] [--threads T]
//! ```
//! Each file is analysed `reps` times (default 3) after one warm-up (so every file is in the
//! page cache); the best wall time is reported, with the sum over rows of the load time
//! (reading, gathering and dequantizing the tensors) and its share of the per-row totals.
//! Ratios: each PyTorch file against `model.safetensors`, each GGUF file against its
//! `_reference.safetensors` (the same values in f32).

use htdiag::analyze::{AnalyzeOptions, Silent, analyze};
use htdiag::checkpoint::Checkpoint;
use std::path::Path;
use std::time::Instant;

/// Best wall time, load-time sum and per-row total of `reps` analyses of `path`.
fn time(path: &Path, opts: &AnalyzeOptions, reps: usize) -> (f64, f64, f64) {
    let ckpt = Checkpoint::open(path).unwrap_or_else(|e| panic!("{e}"));
    let _ = analyze(&ckpt, opts, &Silent, None).expect("warm-up");
    let mut best = (f64::INFINITY, 0.0, 0.0);
    for _ in 0..reps {
        let t = Instant::now();
        let r = analyze(&ckpt, opts, &Silent, None).expect("analysis");
        let wall = t.elapsed().as_secs_f64();
        if wall < best.0 {
            let rows = r.timings.load + r.timings.eigen + r.timings.fit + r.timings.rest;
            best = (wall, r.timings.load, rows);
        }
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(args.first().map(String::as_str).unwrap_or("/tmp/fmtbench"));
    let flag = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.parse().expect("a number"))
            .unwrap_or(default)
    };
    let reps = flag("--reps", 3);
    let opts = AnalyzeOptions {
        threads: flag("--threads", 0),
        ..AnalyzeOptions::default()
    };
    let pairs = [
        ("model_zip.bin", "model.safetensors"),
        ("model_legacy.bin", "model.safetensors"),
        ("model_q8_0.gguf", "model_q8_0_reference.safetensors"),
        ("model_q4_k.gguf", "model_q4_k_reference.safetensors"),
    ];
    println!(
        "{:<36} {:>9} {:>9} {:>10}   {:<34} {:>9} {:>7}",
        "file", "wall s", "load s", "load share", "baseline", "wall s", "ratio"
    );
    for (file, base) in pairs {
        let (w, load, rows) = time(&dir.join(file), &opts, reps);
        let (bw, _, _) = time(&dir.join(base), &opts, reps);
        println!(
            "{file:<36} {w:>9.3} {load:>9.3} {:>9.1}%   {base:<34} {bw:>9.3} {:>7.3}",
            100.0 * load / rows,
            w / bw
        );
    }
}
