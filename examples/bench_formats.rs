//! Times `htdiag::analyze::analyze` on the same weights stored as safetensors, as PyTorch
//! checkpoints (torch.save zip and legacy formats) and as GGUF (Q8_0, Q4_K) next to their
//! dequantized safetensors twins (README, "PyTorch and GGUF checkpoints").
//!
//! ```text
//! python3 scripts/make_format_fixtures.py --bench /tmp/fmtbench 2   # needs numpy + gguf
//! cargo run --release --example bench_formats -- /tmp/fmtbench [--reps N] [--threads T]
//! ```
//! Each file is analysed `reps` times (default 3) after one warm-up (so every file is in the
//! page cache); reported are the best wall time, the best process CPU time (user + system,
//! from `/proc/self/stat`: on a machine shared with other jobs it leaves out the waiting for a
//! core), and the sum over rows of the load time (reading, gathering and dequantizing the
//! tensors) with its share of the per-row totals. Ratios (of CPU times): each PyTorch file
//! against `model.safetensors`, each GGUF file against its `_reference.safetensors` (the same
//! values in f32).

use htdiag::analyze::{AnalyzeOptions, Silent, analyze};
use htdiag::checkpoint::Checkpoint;
use std::path::Path;
use std::time::Instant;

/// User + system CPU seconds of this process so far (`/proc/self/stat` fields 14 and 15, in
/// clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0
}

/// Best wall time, best CPU time, load-time sum and per-row total of `reps` analyses.
fn time(path: &Path, opts: &AnalyzeOptions, reps: usize) -> (f64, f64, f64, f64) {
    let ckpt = Checkpoint::open(path).unwrap_or_else(|e| panic!("{e}"));
    let _ = analyze(&ckpt, opts, &Silent, None).expect("warm-up");
    let mut best = (f64::INFINITY, f64::INFINITY, 0.0, 0.0);
    for _ in 0..reps {
        let (t, c) = (Instant::now(), cpu_seconds());
        let r = analyze(&ckpt, opts, &Silent, None).expect("analysis");
        let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
        best.1 = best.1.min(cpu);
        if wall < best.0 {
            let rows = r.timings.load + r.timings.eigen + r.timings.fit + r.timings.rest;
            best = (wall, best.1, r.timings.load, rows);
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
        "{:<18} {:>7} {:>7} {:>7} {:>6}   {:<34} {:>7} {:>7} {:>9}",
        "file", "wall s", "cpu s", "load s", "load%", "baseline", "wall s", "cpu s", "cpu ratio"
    );
    for (file, base) in pairs {
        let (w, c, load, rows) = time(&dir.join(file), &opts, reps);
        let (bw, bc, _, _) = time(&dir.join(base), &opts, reps);
        println!(
            "{file:<18} {w:>7.2} {c:>7.2} {load:>7.2} {:>5.1}%   {base:<34} {bw:>7.2} {bc:>7.2} {:>9.3}",
            100.0 * load / rows,
            c / bc
        );
    }
}
