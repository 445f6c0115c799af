//! What a heavy-tailed penalty costs a training step (issue 12), in one process run:
//!
//! 1. the penalised / plain step-time ratio (median over the steps) of every penalty on the
//!    784-300-100-10 MLP (or LeNet-5), mnist10k rows 0-7999, batch 64, SGD momentum 0.9, lr 0.05, one
//!    epoch per run, with the default refresh policy (`--spectrum-every auto`) or a fixed one;
//! 2. with `--solvers`, the refresh's own cost per layer shape: full `dsyevd` (eigenvalues and
//!    vectors) against the partial `dsyevr` for the top half of the spectrum (what weighted
//!    alpha and the power-law prior use) and warm Lanczos for the top pair (stable rank,
//!    spectral norm, Frechet), with the largest eigenvalue error of each route.
//!
//! `cargo run --release --example bench_penalties -- [--device cpu|lavapipe] [--every auto|N]
//!  [--epochs E] [--samples N] [--data FILE] [--solvers] [--only a,b] [--hold|--current]
//!  [--threads T] [--model mlp|lenet5]`
//!  (`--samples`: the first N training rows only, for slow devices such as lavapipe;
//!  `--only`: penalties whose name contains one of the words; `--hold`: the backend holds the
//!  penalty product between refreshes, `--current`: it forms the product with the current
//!  weights at every step, neither: the default policy; `--threads`: OpenBLAS threads, default 1).
//!
//! Each penalised run is compared with a plain run made just before it (same process), so a
//! change of the machine's load between runs moves both. "hand-over ms": the training
//! thread's read-back, hand-over and waiting per refresh. Besides wall time it prints the
//! ratio of the training thread's CPU time (whole run, from
//! `/proc/thread-self/stat`; with one OpenBLAS thread every product runs on it), which leaves
//! out the time spent waiting for a core on a shared machine, and of the whole process (every
//! thread: the refresh worker and the thread that forms full-rank penalty products beside the
//! passes). Under `taskset -c 0` (one core) the products stay on the training thread.
//! `--model lenet5`: LeNet-5 (penalty on every weight, convolutions in the slice view).

use std::path::PathBuf;
use std::time::Instant;

use htdiag::regularize::lanczos::top_pair_lanczos;
use htdiag::regularize::spectral::{PowerOptions, decompose};
use htdiag::regularize::{
    FrechetParams, Penalty, PowerLawParams, PriorExponent, Regularizer, SpectralNormParams,
    StableRankParams, WeightedAlphaParams,
};
use htdiag::train::experiment::run_one;
use htdiag::train::net::Arch;
use htdiag::train::{
    Dataset, DeviceChoice, History, Mlp, Net, RefreshPolicy, SpectrumEvery, TrainConfig,
};

fn penalties() -> Vec<Regularizer> {
    vec![
        Regularizer::new(Penalty::WeightedAlpha(WeightedAlphaParams::default()), 1e-3),
        Regularizer::new(Penalty::StableRank(StableRankParams::default()), 1e-3),
        Regularizer::new(
            Penalty::PowerLawPrior(PowerLawParams {
                exponent: PriorExponent::Fixed(2.0),
            }),
            1e-4,
        ),
        Regularizer::new(Penalty::FrechetPrior(FrechetParams::default()), 1e-3),
        Regularizer::new(Penalty::SpectralNorm(SpectralNormParams::default()), 1e-3),
        Regularizer::new(Penalty::WeightDecay, 5e-4),
    ]
}

struct Opts {
    device: DeviceChoice,
    every: SpectrumEvery,
    epochs: usize,
    data: PathBuf,
    solvers: bool,
    samples: Option<usize>,
    only: Vec<String>,
    hold: Option<bool>,
    threads: usize,
    lenet: bool,
}

fn opts() -> Result<Opts, Box<dyn std::error::Error>> {
    let mut o = Opts {
        device: DeviceChoice::Cpu,
        every: SpectrumEvery::Auto,
        epochs: 1,
        data: "/work/shared/data/mnist10k.safetensors".into(),
        solvers: false,
        samples: None,
        only: Vec::new(),
        hold: None,
        threads: 1,
        lenet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--device" => {
                o.device = match val()?.as_str() {
                    "lavapipe" => DeviceChoice::SoftwareGpu,
                    d => d.parse()?,
                }
            }
            "--every" => o.every = val()?.parse()?,
            "--epochs" => o.epochs = val()?.parse()?,
            "--data" => o.data = val()?.into(),
            "--solvers" => o.solvers = true,
            "--hold" => o.hold = Some(true),
            "--current" => o.hold = Some(false),
            "--threads" => o.threads = val()?.parse()?,
            "--model" => {
                o.lenet = match val()?.as_str() {
                    "mlp" => false,
                    "lenet5" => true,
                    m => return Err(format!("--model {m}: mlp or lenet5").into()),
                }
            }
            "--samples" => o.samples = Some(val()?.parse()?),
            "--only" => o.only = val()?.split(',').map(String::from).collect(),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(o)
}

/// CPU seconds of the calling thread so far (utime + stime of `/proc/thread-self/stat`, in
/// clock ticks of 10 ms).
fn thread_cpu() -> f64 {
    cpu_seconds("/proc/thread-self/stat")
}

/// CPU seconds of the whole process so far, every thread (refresh worker, penalty-product
/// thread) included.
fn process_cpu() -> f64 {
    cpu_seconds("/proc/self/stat")
}

/// utime + stime of a `stat` file, in seconds (clock ticks of 10 ms).
fn cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = opts()?;
    htdiag::spectrum::openblas::set_num_threads(o.threads);
    if o.solvers {
        solvers()?;
    }
    let (mut tr, te) = Dataset::load(&o.data, None)?.split(0.2, None)?;
    if let Some(n) = o.samples {
        tr = tr.head(n);
    }
    let model = match o.lenet {
        true => Arch::LeNet5.fresh([1, 28, 28], 10, 0)?,
        false => Net::from_mlp(&Mlp::init(&[784, 300, 100, 10], 0)?),
    };
    let cfg = TrainConfig {
        epochs: o.epochs,
        refresh: RefreshPolicy {
            every: o.every,
            max_lag: None,
            hold: o.hold,
        },
        ..TrainConfig::default()
    };
    // One run with its thread and process CPU seconds.
    let measure = |reg: Option<Regularizer>| -> htdiag::Result<(History, f64, f64)> {
        let (c0, p0) = (thread_cpu(), process_cpu());
        let run = run_one(
            "run",
            o.device,
            &model,
            &tr,
            &te,
            &cfg,
            reg,
            false,
            &mut |_| {},
        )?
        .1;
        Ok((run.history, thread_cpu() - c0, process_cpu() - p0))
    };
    // Every penalised run is compared with a plain run made just before it, so that a
    // change of the machine's load between runs moves both.
    let (first, _, _) = measure(None)?;
    println!(
        "{} samples, {} epoch(s), device {}, --spectrum-every {}, penalty product: {}, cores: {}",
        tr.len(),
        o.epochs,
        first.backend,
        o.every,
        match o.hold {
            None => "default policy",
            Some(true) => "held",
            Some(false) => "current weights",
        },
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );
    println!(
        "{:<16} {:>5} {:>8} {:>9} {:>7} {:>7} {:>7} {:>9} {:>9} {:>7} {:>10} {:>13} {:>22}",
        "penalty",
        "held",
        "plain ms",
        "median ms",
        "ratio",
        "mean",
        "cpu",
        "proc cpu",
        "refreshes",
        "max lag",
        "intervals",
        "hand-over ms",
        "worker ms/refresh/layer"
    );
    for reg in penalties() {
        if !o.only.is_empty()
            && !o
                .only
                .iter()
                .any(|w| reg.penalty.name().contains(w.as_str()))
        {
            continue;
        }
        let (plain, base_cpu, base_proc) = measure(None)?;
        let (h, cpu, proc) = measure(Some(reg))?;
        let f = h.refresh.clone().unwrap_or_default();
        let layers: Vec<String> = f
            .layer_seconds
            .iter()
            .map(|s| format!("{:.1}", 1e3 * s))
            .collect();
        let ks: Vec<usize> = f.intervals.iter().map(|s| s.interval).collect();
        println!(
            "{:<16} {:>5} {:>8.2} {:>9.2} {:>6.2}x {:>6.2}x {:>6.2}x {:>8.2}x {:>9} {:>7} {:>10} {:>13.2} {:>22}",
            reg.penalty.name(),
            if f.held { "yes" } else { "no" },
            1e3 * plain.median_step_seconds,
            1e3 * h.median_step_seconds,
            h.median_step_seconds / plain.median_step_seconds,
            h.seconds_per_step / plain.seconds_per_step,
            cpu / base_cpu,
            proc / base_proc,
            f.refreshes,
            f.max_lag,
            format!(
                "{}-{}",
                ks.iter().min().unwrap_or(&0),
                ks.iter().max().unwrap_or(&0)
            ),
            1e3 * (f.handoff_seconds + f.wait_seconds) / f.refreshes.max(1) as f64,
            layers.join(" / ")
        );
    }
    Ok(())
}

fn matrix(rows: usize, cols: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..rows * cols)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) / (rows as f64).sqrt()
        })
        .collect()
}

/// Median seconds of `reps` calls of `f`.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

/// Top `k` eigenpairs of the symmetric `n x n` matrix `a` (upper triangle, column-major) by
/// LAPACK `dsyevr` with an index range.
fn top_dsyevr(a: &[f64], n: usize, k: usize) -> Vec<f64> {
    let mut a = a.to_vec();
    let ni = n as i32;
    let (mut m, mut info) = (0i32, 0i32);
    let mut w = vec![0.0; n];
    let mut z = vec![0.0; n * k];
    let mut isuppz = vec![0i32; 2 * k.max(1)];
    let (mut work, mut iwork) = (vec![0.0; 1], vec![0i32; 1]);
    for query in [true, false] {
        let (lw, liw) = if query {
            (-1, -1)
        } else {
            (work.len() as i32, iwork.len() as i32)
        };
        // SAFETY: a is n x n, z is n x k (ld n), w has n values, isuppz 2k; lwork/liwork are
        // the queried sizes (or -1 for the query).
        unsafe {
            lapack::dsyevr(
                b'V',
                b'I',
                b'U',
                ni,
                &mut a,
                ni,
                0.0,
                0.0,
                ni - k as i32 + 1,
                ni,
                0.0,
                &mut m,
                &mut w,
                &mut z,
                ni,
                &mut isuppz,
                &mut work,
                lw,
                &mut iwork,
                liw,
                &mut info,
            );
        }
        if query {
            work = vec![0.0; work[0] as usize];
            iwork = vec![0; iwork[0] as usize];
        }
    }
    assert_eq!(info, 0, "dsyevr failed");
    w.truncate(m as usize);
    w
}

/// Refresh routes per layer shape: time and largest relative eigenvalue error.
fn solvers() -> htdiag::Result<()> {
    println!(
        "{:>9} {:>14} {:>20} {:>14} {:>16}",
        "shape", "dsyevd ms", "dsyevr top-half ms", "rel err", "Lanczos warm ms"
    );
    for (rows, cols) in [(300, 784), (100, 300), (10, 100)] {
        let w = matrix(rows, cols, 7);
        let n = rows.min(cols);
        let full = decompose(&w, rows, cols)?;
        let t_full = time(7, || {
            decompose(&w, rows, cols).unwrap();
        });
        let (g, _) =
            htdiag::spectrum::gram_upper(&htdiag::matrices::MatrixRef::from_f64(&w, rows, cols));
        let gram_time = time(7, || {
            htdiag::spectrum::gram_upper(&htdiag::matrices::MatrixRef::from_f64(&w, rows, cols));
        });
        let k = n - n / 2;
        let top = top_dsyevr(&g, n, k);
        let t_top = gram_time
            + time(7, || {
                top_dsyevr(&g, n, k);
            });
        let err = top
            .iter()
            .zip(&full.evals[n - k..])
            .map(|(a, b)| (a - b).abs() / b.abs().max(1e-300))
            .fold(0.0f64, f64::max);
        let warm = top_pair_lanczos(&w, rows, cols, None, &PowerOptions::default())?;
        let w2: Vec<f64> = w.iter().map(|x| x * 1.001).collect();
        let t_lz = time(7, || {
            top_pair_lanczos(
                &w2,
                rows,
                cols,
                Some(&warm.vector),
                &PowerOptions::default(),
            )
            .unwrap();
        });
        println!(
            "{:>9} {:>14.2} {:>20.2} {:>14.1e} {:>16.2}",
            format!("{rows}x{cols}"),
            1e3 * t_full,
            1e3 * t_top,
            err,
            1e3 * t_lz
        );
    }
    Ok(())
}
