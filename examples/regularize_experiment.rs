//! The README's regularize-and-compare tables: a model trained from PyTorch-default
//! initialisation on mnist10k (rows 0-7999 train, 8000-9999 test), the same initial weights
//! and data order per seed, one run per regularization, test accuracy mean and std over the
//! seeds, mean alpha per layer, and wall time per epoch (SGD momentum 0.9, lr 0.05, batch 64,
//! CPU path).
//!
//! ```text
//! cargo run --release --example regularize_experiment -- [DATA] [EPOCHS] [SEEDS] [EVERY]
//!     [MODEL] [ONLY] [--sweep N] [--max-lag K] [--hold | --current]
//! ```
//!
//! Defaults: /work/shared/data/mnist10k.safetensors, 15 epochs, 3 seeds, spectrum refresh
//! `auto` (or a step count; 1 = exact gradient at every step), MODEL `mlp` (784-300-100-10)
//! or `lenet5` (penalty on every weight, convolutions in WeightWatcher's slice view). ONLY:
//! comma-separated words, runs only the regularizations whose name contains one of them.
//!
//! `--max-lag K` bounds how many steps a spectrum may lag behind the weights (the trainer's
//! default: 0 with a numeric EVERY, the interval with `auto`). `--hold`: the backend forms the
//! penalty product once per refresh and holds it (`--hold-penalty-gradient`); `--current`: with
//! the current weights at every step; neither: the trainer's default (`RefreshPolicy::holds`).
//!
//! `--sweep N` chooses each regularization's coefficient first: N epochs, seed 0, training on
//! rows 0-6999 and scoring on rows 7000-7999 (never the test rows), over the grid listed in
//! `conditions`; the best validation accuracy wins (ties: the smaller coefficient). Without it
//! the middle value of each grid is used.

use std::path::Path;

use htdiag::regularize::{
    FrechetParams, Penalty, PowerLawParams, PriorExponent, Regularizer, SpectralNormParams,
    StableRankParams, WeightedAlphaParams,
};
use htdiag::train::experiment::{analyze_file, run_one};
use htdiag::train::net::Arch;
use htdiag::train::{Dataset, DeviceChoice, Mlp, Net, RefreshPolicy, SpectrumEvery, TrainConfig};

type Boxed = Box<dyn std::error::Error>;

/// A regularization and the grid its coefficient is chosen from.
struct Condition {
    name: &'static str,
    grid: &'static [f32],
    /// (optimizer weight decay, penalty) for coefficient `c`.
    make: fn(f32) -> (f32, Option<Regularizer>),
}

fn penalty(p: Penalty, mu: f32) -> (f32, Option<Regularizer>) {
    (0.0, Some(Regularizer::new(p, mu as f64)))
}

fn conditions() -> Vec<Condition> {
    const MU: &[f32] = &[1e-4, 1e-3, 1e-2];
    vec![
        Condition {
            name: "none",
            grid: &[0.0],
            make: |_| (0.0, None),
        },
        Condition {
            name: "weight decay",
            grid: &[1e-4, 5e-4, 5e-3],
            make: |c| (c, None),
        },
        Condition {
            name: "spectral norm",
            grid: MU,
            make: |c| penalty(Penalty::SpectralNorm(SpectralNormParams::default()), c),
        },
        Condition {
            name: "weighted alpha",
            grid: MU,
            make: |c| penalty(Penalty::WeightedAlpha(WeightedAlphaParams::default()), c),
        },
        Condition {
            name: "stable rank",
            grid: MU,
            make: |c| penalty(Penalty::StableRank(StableRankParams::default()), c),
        },
        Condition {
            name: "power-law prior a=2",
            grid: &[1e-5, 1e-4, 1e-3],
            make: |c| {
                let p = PowerLawParams {
                    exponent: PriorExponent::Fixed(2.0),
                };
                penalty(Penalty::PowerLawPrior(p), c)
            },
        },
        Condition {
            name: "Frechet prior",
            grid: MU,
            make: |c| penalty(Penalty::FrechetPrior(FrechetParams::default()), c),
        },
    ]
}

/// Command-line settings.
struct Settings {
    data: String,
    epochs: usize,
    seeds: u64,
    every: SpectrumEvery,
    lenet: bool,
    only: Vec<String>,
    sweep: usize,
    max_lag: Option<usize>,
    hold: Option<bool>,
}

fn settings() -> Result<Settings, Boxed> {
    let mut pos = Vec::new();
    let mut sweep = 0;
    let mut max_lag = None;
    let mut hold = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--sweep" {
            sweep = args.next().ok_or("--sweep needs an epoch count")?.parse()?;
        } else if a == "--hold" {
            hold = Some(true);
        } else if a == "--current" {
            hold = Some(false);
        } else if a == "--max-lag" {
            max_lag = Some(args.next().ok_or("--max-lag needs a step count")?.parse()?);
        } else {
            pos.push(a);
        }
    }
    let get = |i: usize| pos.get(i).cloned();
    Ok(Settings {
        data: get(0).unwrap_or("/work/shared/data/mnist10k.safetensors".into()),
        epochs: get(1).map_or(Ok(15), |s| s.parse())?,
        seeds: get(2).map_or(Ok(3), |s| s.parse())?,
        every: get(3).map_or(Ok(SpectrumEvery::Auto), |s| s.parse())?,
        lenet: get(4).is_some_and(|m| m == "lenet5"),
        only: get(5).map_or(Vec::new(), |s| s.split(',').map(String::from).collect()),
        sweep,
        max_lag,
        hold,
    })
}

impl Settings {
    fn model(&self, seed: u64) -> Result<Net, htdiag::Error> {
        if self.lenet {
            Arch::LeNet5.fresh([1, 28, 28], 10, seed)
        } else {
            Ok(Net::from_mlp(&Mlp::init(&[784, 300, 100, 10], seed)?))
        }
    }

    fn config(&self, epochs: usize, seed: u64, wd: f32) -> TrainConfig {
        TrainConfig {
            epochs,
            seed,
            weight_decay: wd,
            refresh: RefreshPolicy {
                every: self.every,
                max_lag: self.max_lag,
                hold: self.hold,
            },
            ..TrainConfig::default()
        }
    }
}

/// Trains one model; returns it, its test accuracy in % and its seconds per epoch.
fn train(
    s: &Settings,
    c: &Condition,
    coef: f32,
    epochs: usize,
    seed: u64,
    (tr, te): (&Dataset, &Dataset),
) -> Result<(Net, f64, f64), Boxed> {
    let (wd, reg) = (c.make)(coef);
    let cfg = s.config(epochs, seed, wd);
    let model = s.model(seed)?;
    let (m, run) = run_one(
        c.name,
        DeviceChoice::Cpu,
        &model,
        tr,
        te,
        &cfg,
        reg,
        false,
        &mut |_| {},
    )?;
    let acc = 100.0 * run.final_test.map_or(f64::NAN, |t| t.accuracy);
    Ok((m, acc, run.seconds_per_epoch))
}

/// The coefficient of `c` with the best validation accuracy after `s.sweep` epochs.
fn sweep(s: &Settings, c: &Condition, tr: &Dataset) -> Result<f32, Boxed> {
    if c.grid.len() == 1 || s.sweep == 0 {
        return Ok(c.grid[c.grid.len() / 2]);
    }
    let (fit, val) = tr.split(0.125, None)?;
    let mut best = (f64::NEG_INFINITY, c.grid[0]);
    for &coef in c.grid {
        // A coefficient that makes training diverge is a result of the sweep, not a failure.
        let acc = match train(s, c, coef, s.sweep, 0, (&fit, &val)) {
            Ok((_, acc, _)) => acc,
            Err(e) if e.to_string().contains("diverged") => f64::NAN,
            Err(e) => return Err(e),
        };
        let shown = match acc.is_nan() {
            true => "diverged".to_string(),
            false => format!("{acc:.2}"),
        };
        eprintln!("sweep {} {coef:e}: validation {shown}", c.name);
        println!("| sweep | {} | {coef:e} | {shown} |", c.name);
        if acc > best.0 {
            best = (acc, coef);
        }
    }
    Ok(best.1)
}

fn main() -> Result<(), Boxed> {
    let s = settings()?;
    let names: Vec<String> = {
        let n = s.model(0)?;
        n.penalised_weights(true)
            .iter()
            .map(|p| n.params[p.param].name.clone())
            .collect()
    };
    let all = Dataset::load(Path::new(&s.data), None)?;
    let (tr, te) = all.split(0.2, None)?;
    let run: Vec<Condition> = conditions()
        .into_iter()
        .filter(|c| s.only.is_empty() || s.only.iter().any(|w| c.name.contains(w.as_str())))
        .collect();
    let mut chosen = Vec::new();
    if s.sweep > 0 {
        println!("| sweep | regularization | coefficient | validation accuracy % |");
        println!("|---|---|---|---|");
    }
    for c in &run {
        chosen.push(sweep(&s, c, &tr)?);
    }
    let dir = std::env::temp_dir().join(format!("htdiag-regexp-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let short: Vec<&str> = names
        .iter()
        .map(|n| n.trim_end_matches(".weight"))
        .collect();
    println!(
        "\n| regularization | coefficient | test accuracy % (mean ± std, {} seeds) | mean alpha {} | s/epoch |",
        s.seeds,
        short.join(" / ")
    );
    println!("|---|---|---|---|---|");
    for (c, &coef) in run.iter().zip(&chosen) {
        let mut accs = Vec::new();
        let mut alphas = vec![Vec::new(); names.len()];
        let mut secs = Vec::new();
        let mut diverged = 0;
        for seed in 0..s.seeds {
            let (m, acc, sec) = match train(&s, c, coef, s.epochs, seed, (&tr, &te)) {
                Ok(r) => r,
                Err(e) if e.to_string().contains("diverged") => {
                    eprintln!("{} seed {seed}: diverged", c.name);
                    diverged += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let p = dir.join(format!("m{seed}.safetensors"));
            m.save(&p, "experiment")?;
            let a = analyze_file(&p)?;
            for (l, name) in names.iter().enumerate() {
                let fit = a
                    .layers
                    .iter()
                    .find(|r| &r.name == name)
                    .and_then(|r| r.fit);
                if let Some(x) = fit {
                    alphas[l].push(x.alpha);
                }
            }
            accs.push(acc);
            secs.push(sec);
            eprintln!("{} seed {seed}: {acc:.2}% {sec:.2} s/epoch", c.name);
        }
        let (m, sd) = mean_std(&accs);
        let note = match diverged {
            0 => String::new(),
            k => format!(" ({k} of {} seeds diverged)", s.seeds),
        };
        let al: Vec<String> = alphas
            .iter()
            .map(|v| match v.is_empty() {
                true => "-".into(),
                false => format!("{:.2}", mean_std(v).0),
            })
            .collect();
        let coef = if c.grid.len() == 1 {
            "-".into()
        } else {
            format!("{coef:e}")
        };
        println!(
            "| {} | {coef} | {m:.2} ± {sd:.2}{note} | {} | {:.2} |",
            c.name,
            al.join(" / "),
            mean_std(&secs).0
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}
