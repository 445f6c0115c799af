//! Times `htdiag::analyze::analyze` on a synthetic checkpoint with BERT-base shapes and
//! compares it with the eigensolver alone; measures peak resident memory, and shows that it
//! does not grow with the number of layers (README, "Performance").
//!
//! ```text
//! cargo run --release --example bench_analyze -- [--blocks B] [--threads T] [--mp-fit] [--reps N]
//! cargo run --release --example bench_analyze -- --write DIR [--blocks B]   # checkpoint only
//! ```
//! The checkpoint (f32, Student-t weights with 3 degrees of freedom, scale 0.02: heavy-tailed,
//! so the power-law fits find a tail) holds B transformer blocks (default 12) of 4 x 768x768
//! attention matrices, a 3072x768 and a 768x3072 MLP matrix, plus a 30522x768 word embedding:
//! 434 MiB for 12 blocks. It is written tensor by tensor into a temp folder and measured for
//! B and for 2B blocks, each in a fresh child process (so neither the generator's memory nor
//! the other run counts in its peak RSS, which is `VmHWM` from `/proc/self/status`).
//!
//! Reported: wall time of `analyze`; the per-row sums of load / eigen / fit / rest from
//! `RunTimings` (sums over rows that ran in parallel, so they add up to about workers x wall);
//! the eigensolver alone (the same matrices, already in memory, through `Lapack::eigenvalues`
//! on the same number of workers, biggest first, single-threaded BLAS); the ratio of the two
//! walls (target <= 1.3); peak RSS.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rayon::prelude::*;

use htdiag::analyze::{AnalyzeOptions, Silent, analyze, effective_threads, row_cost};
use htdiag::checkpoint::Checkpoint;
use htdiag::plan::plan;
use htdiag::spectrum::{Eigensolver, Lapack, openblas};

/// Tensor names and shapes of a BERT-base-shaped encoder with `blocks` blocks.
fn bert_tensors(blocks: usize) -> Vec<(String, [usize; 2])> {
    let mut t = vec![(
        "bert.embeddings.word_embeddings.weight".to_string(),
        [30522, 768],
    )];
    for b in 0..blocks {
        let p = format!("bert.encoder.layer.{b}");
        for q in ["query", "key", "value"] {
            t.push((format!("{p}.attention.self.{q}.weight"), [768, 768]));
        }
        t.push((format!("{p}.attention.output.dense.weight"), [768, 768]));
        t.push((format!("{p}.intermediate.dense.weight"), [3072, 768]));
        t.push((format!("{p}.output.dense.weight"), [768, 3072]));
    }
    t
}

/// Student-t (3 degrees of freedom) values scaled by 0.02, from a xorshift64* stream.
fn student_t(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut normals = move || {
        let (u, v) = (uniform(), uniform());
        let r = (-2.0 * u.ln()).sqrt();
        let t = std::f64::consts::TAU * v;
        (r * t.cos(), r * t.sin())
    };
    (0..n)
        .map(|_| {
            let (z, a) = normals();
            let (b, c) = normals();
            let chi2 = a * a + b * b + c * c;
            (0.02 * z / (chi2 / 3.0).sqrt()) as f32
        })
        .collect()
}

/// Writes a safetensors file tensor by tensor (only one tensor in memory at a time).
fn write_checkpoint(path: &Path, blocks: usize) -> std::io::Result<u64> {
    let tensors = bert_tensors(blocks);
    let mut header = String::from("{");
    let mut offset = 0usize;
    for (i, (name, [r, c])) in tensors.iter().enumerate() {
        let end = offset + r * c * 4;
        if i > 0 {
            header.push(',');
        }
        header.push_str(&format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{r},{c}],\"data_offsets\":[{offset},{end}]}}"
        ));
        offset = end;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let tmp = path.with_extension("tmp");
    let mut f = BufWriter::new(std::fs::File::create(&tmp)?);
    f.write_all(&(header.len() as u64).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    for (i, (_, [r, c])) in tensors.iter().enumerate() {
        let v = student_t(r * c, 1000 + i as u64);
        f.write_all(bytemuck::cast_slice(&v))?;
    }
    f.into_inner()?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(offset as u64)
}

/// VmHWM (peak resident set) of this process in MiB.
fn vm_hwm_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The child's job: analyse `path`, then time the eigensolver alone on the same matrices.
fn measure(path: &Path, threads: usize, mp_fit: bool, reps: usize) -> htdiag::Result<()> {
    let before = vm_hwm_mib();
    let ckpt = Checkpoint::open(path)?;
    let opts = AnalyzeOptions {
        threads,
        mp_fit,
        ..AnalyzeOptions::default()
    };
    let mut best: Option<htdiag::result::AnalysisResult> = None;
    for _ in 0..reps.max(1) {
        let r = analyze(&ckpt, &opts, &Silent, None)?;
        if best
            .as_ref()
            .is_none_or(|b| r.timings.wall < b.timings.wall)
        {
            best = Some(r);
        }
    }
    let r = best.expect("at least one run");
    let peak = vm_hwm_mib();
    let t = &r.timings;
    let ok = r.layers.iter().filter(|l| l.fit.is_some()).count();
    let alphas: Vec<f64> = r
        .layers
        .iter()
        .filter_map(|l| l.fit.map(|f| f.alpha))
        .filter(|a| *a > 0.0)
        .collect();
    let mean_alpha = alphas.iter().sum::<f64>() / alphas.len().max(1) as f64;

    // Eigensolver alone: same rows, bytes copied into memory first, same worker count.
    let planned = plan(ckpt.tensors(), &opts.plan).layers;
    let mut owned: Vec<(Vec<u8>, &htdiag::plan::PlannedLayer)> = planned
        .iter()
        .map(|p| Ok((ckpt.tensor_bytes(p.layer_id)?.to_vec(), p)))
        .collect::<htdiag::Result<_>>()?;
    // Biggest first, by the same cost estimate the pipeline schedules with.
    owned.sort_by(|a, b| row_cost(b.1).total_cmp(&row_cost(a.1)));
    let workers = effective_threads(threads);
    openblas::set_num_threads(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .expect("thread pool");
    let solver = Lapack::default();
    let mut eig_wall = f64::INFINITY;
    let mut eig_sum = 0.0;
    for _ in 0..reps.max(1) {
        let t0 = Instant::now();
        let per: Vec<f64> = pool.install(|| {
            owned
                .par_iter()
                .with_max_len(1)
                .map(|(bytes, p)| {
                    let t = Instant::now();
                    for m in p.matrices(bytes).expect("planned") {
                        std::hint::black_box(solver.eigenvalues(&m).expect("eigenvalues"));
                    }
                    t.elapsed().as_secs_f64()
                })
                .collect()
        });
        let w = t0.elapsed().as_secs_f64();
        if w < eig_wall {
            eig_wall = w;
            eig_sum = per.iter().sum();
        }
    }
    println!(
        "  rows {:3} (fits {ok}, mean alpha {mean_alpha:.3}), {} worker(s), OpenBLAS {}",
        r.layers.len(),
        t.threads,
        openblas::core_name()
    );
    println!(
        "  analyze wall {:7.3} s | per-row sums: load {:.3}  eigen {:.3}  fit {:.3}  rest {:.3}",
        t.wall, t.load, t.eigen, t.fit, t.rest
    );
    println!("  eigensolver alone: wall {eig_wall:7.3} s (per-matrix sum {eig_sum:.3} s)");
    println!(
        "  ratio analyze / eigensolver alone = {:.3}  (target <= 1.3)",
        t.wall / eig_wall
    );
    println!("  peak RSS (VmHWM) {peak:.0} MiB during analyze (at start: {before:.0} MiB)");
    Ok(())
}

struct Opts {
    blocks: usize,
    threads: usize,
    reps: usize,
    mp_fit: bool,
    write: Option<PathBuf>,
    measure: Option<PathBuf>,
}

fn parse() -> Opts {
    let mut o = Opts {
        blocks: 12,
        threads: 0,
        reps: 1,
        mp_fit: false,
        write: None,
        measure: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        let num = |s: String| s.parse::<usize>().expect("a number");
        match a.as_str() {
            "--blocks" => o.blocks = num(val("--blocks")),
            "--threads" => o.threads = num(val("--threads")),
            "--reps" => o.reps = num(val("--reps")),
            "--mp-fit" => o.mp_fit = true,
            "--write" => o.write = Some(val("--write").into()),
            "--measure" => o.measure = Some(val("--measure").into()),
            other => panic!("unknown argument {other} (see the doc comment of bench_analyze.rs)"),
        }
    }
    o
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = parse();
    if let Some(p) = &o.measure {
        measure(p, o.threads, o.mp_fit, o.reps)?;
        return Ok(());
    }
    if let Some(dir) = &o.write {
        std::fs::create_dir_all(dir)?;
        let p = dir.join("model.safetensors");
        let bytes = write_checkpoint(&p, o.blocks)?;
        println!(
            "wrote {} ({:.0} MiB)",
            p.display(),
            bytes as f64 / 1048576.0
        );
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    for blocks in [o.blocks, 2 * o.blocks] {
        let p = dir.path().join(format!("bert-{blocks}.safetensors"));
        let t = Instant::now();
        let bytes = write_checkpoint(&p, blocks)?;
        println!(
            "{blocks} blocks ({} matrices, {:.0} MiB f32; written in {:.1} s){}:",
            6 * blocks + 1,
            bytes as f64 / 1048576.0,
            t.elapsed().as_secs_f64(),
            if o.mp_fit { ", mp_fit" } else { "" }
        );
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("--measure")
            .arg(&p)
            .args(["--threads", &o.threads.to_string()])
            .args(["--reps", &o.reps.to_string()]);
        if o.mp_fit {
            cmd.arg("--mp-fit");
        }
        let status = cmd.status()?;
        if !status.success() {
            return Err(format!("measuring child failed: {status}").into());
        }
        std::fs::remove_file(&p)?;
    }
    Ok(())
}
