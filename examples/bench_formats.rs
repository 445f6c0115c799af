//! Times `htdiag::analyze::analyze` on the same weights stored as safetensors, as PyTorch
//! checkpoints (torch.save zip and legacy formats) and as GGUF (Q8_0, Q4_K) next to their
//! dequantized safetensors twins (README, "PyTorch and GGUF checkpoints").
//!
//! ```text
//! python3 scripts/make_format_fixtures.py --bench /tmp/fmtbench 2   # needs numpy + gguf
//! cargo run --release --example bench_formats -- /tmp/fmtbench [--reps N] [--threads T]
//! ```
//! Each pair (a file and its baseline) is analysed alternately, `reps` rounds (default 5) after
//! one warm-up of each (so both are in the page cache), the order swapped every round (ABBA)
//! so that a drift of the machine's load hits both sides alike. Per analysis it records the
//! process CPU time (user + system, from `/proc/self/stat`: on a machine shared with other jobs
//! it leaves out the waiting for a core), the minor page faults, and the result's own stage
//! sums: load (reading, gathering and dequantizing the tensors) and the rest (Gram,
//! eigensolver, fit, metrics). Reported are medians over the rounds, the median and range of the
//! per-round CPU ratio file / baseline, and how the median excess splits into load and the
//! rest. A first, control row analyses `model.safetensors` against itself: its ratio range is
//! the spread of identical work on the machine at the time. Baselines: `model.safetensors` for the PyTorch files, each GGUF file's
//! `_reference.safetensors` (the same values in f32, analysed to the same numbers).

use htdiag::analyze::{AnalyzeOptions, Silent, analyze};
use htdiag::checkpoint::Checkpoint;
use std::path::Path;

/// `/proc/self/stat` fields after the command name: minor faults (index 7), user and system
/// CPU clock ticks of 1/100 s (11, 12).
fn proc_stat() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    ((field(11) + field(12)) / 100.0, field(7))
}

/// One analysis: CPU seconds, minor faults, load seconds, other stages' seconds.
#[derive(Clone, Copy)]
struct Run {
    cpu: f64,
    faults: f64,
    load: f64,
    rest: f64,
}

fn run(ckpt: &Checkpoint, opts: &AnalyzeOptions) -> Run {
    let (c0, f0) = proc_stat();
    let r = analyze(ckpt, opts, &Silent, None).expect("analysis");
    let (c1, f1) = proc_stat();
    let t = &r.timings;
    Run {
        cpu: c1 - c0,
        faults: f1 - f0,
        load: t.load,
        rest: t.eigen + t.fit + t.rest,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// `reps` interleaved rounds of `file` and `base` (ABBA order), after a warm-up of each.
fn rounds(file: &Path, base: &Path, opts: &AnalyzeOptions, reps: usize) -> Vec<(Run, Run)> {
    let open = |p: &Path| Checkpoint::open(p).unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (open(file), open(base));
    run(&a, opts);
    run(&b, opts);
    (0..reps)
        .map(|i| {
            if i % 2 == 0 {
                let x = run(&a, opts);
                (x, run(&b, opts))
            } else {
                let y = run(&b, opts);
                (run(&a, opts), y)
            }
        })
        .collect()
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
    // The first pair is a control: the same file against itself shows the spread of
    // identical work on this machine.
    let pairs = [
        ("model.safetensors", "model.safetensors"),
        ("model_zip.bin", "model.safetensors"),
        ("model_legacy.bin", "model.safetensors"),
        ("model_q8_0.gguf", "model_q8_0_reference.safetensors"),
        ("model_q4_k.gguf", "model_q4_k_reference.safetensors"),
    ];
    println!(
        "{:<18} {:>6} {:>6} {:>7}   {:<34} {:>6} {:>7}   {:>6} {:>13}   {:>6} {:>6}",
        "file",
        "cpu s",
        "load s",
        "faults",
        "baseline",
        "cpu s",
        "faults",
        "ratio",
        "ratio range",
        "load+",
        "rest+"
    );
    for (file, base) in pairs {
        let r = rounds(&dir.join(file), &dir.join(base), &opts, reps);
        let med = |f: &dyn Fn(&(Run, Run)) -> f64| median(r.iter().map(f).collect());
        let ratios: Vec<f64> = r.iter().map(|(a, b)| a.cpu / b.cpu).collect();
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(0.0, f64::max);
        let base_cpu = med(&|(_, b)| b.cpu);
        println!(
            "{file:<18} {:>6.2} {:>6.3} {:>7.0}   {base:<34} {:>6.2} {:>7.0}   {:>6.3} {:>6.3}-{:<6.3}   {:>5.1}% {:>5.1}%",
            med(&|(a, _)| a.cpu),
            med(&|(a, _)| a.load),
            med(&|(a, _)| a.faults),
            base_cpu,
            med(&|(_, b)| b.faults),
            median(ratios.clone()),
            lo,
            hi,
            100.0 * med(&|(a, b)| a.load - b.load) / base_cpu,
            100.0 * med(&|(a, b)| a.rest - b.rest) / base_cpu,
        );
    }
}
