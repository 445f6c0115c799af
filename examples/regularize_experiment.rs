//! The README's regularize-and-compare table: 784-300-100-10 on mnist10k (rows 0-7999 train,
//! 8000-9999 test), the same initial weights and data order per seed, one run per
//! regularization, test accuracy mean and std over the seeds, mean alpha per layer, and wall
//! time per epoch.
//!
//! `cargo run --release --example regularize_experiment -- [DATA] [EPOCHS] [SEEDS] [EVERY]
//! [MODEL] [ONLY]` (defaults: /work/shared/data/mnist10k.safetensors, 5 epochs, 3 seeds,
//! spectrum refresh every 1 step — EVERY may be `auto` —, MODEL `mlp`; `lenet5` runs LeNet-5
//! from PyTorch-default initialisation with the penalty on every weight, convolutions in
//! WeightWatcher's slice view; ONLY: comma-separated words, runs only the regularizations
//! whose label contains one of them), on the CPU path.

use std::path::Path;

use htdiag::regularize::{
    FrechetParams, Penalty, PowerLawParams, PriorExponent, Regularizer, SpectralNormParams,
    StableRankParams, WeightedAlphaParams,
};
use htdiag::train::experiment::{analyze_file, run_one};
use htdiag::train::net::Arch;
use htdiag::train::{Dataset, DeviceChoice, Mlp, Net, RefreshPolicy, SpectrumEvery, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let data = args
        .get(1)
        .cloned()
        .unwrap_or("/work/shared/data/mnist10k.safetensors".into());
    let epochs: usize = args.get(2).map_or(Ok(5), |s| s.parse())?;
    let seeds: u64 = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let every: SpectrumEvery = args
        .get(4)
        .map_or(Ok(SpectrumEvery::Steps(1)), |s| s.parse())?;
    let lenet = args.get(5).is_some_and(|m| m == "lenet5");
    let only: Vec<&str> = args.get(6).map_or(Vec::new(), |s| s.split(',').collect());
    let make = |seed: u64| -> Result<Net, htdiag::Error> {
        if lenet {
            Arch::LeNet5.fresh([1, 28, 28], 10, seed)
        } else {
            Ok(Net::from_mlp(&Mlp::init(&[784, 300, 100, 10], seed)?))
        }
    };
    let names: Vec<String> = {
        let n = make(0)?;
        n.penalised_weights(true)
            .iter()
            .map(|p| n.params[p.param].name.clone())
            .collect()
    };
    let all = Dataset::load(Path::new(&data), None)?;
    let (tr, te) = all.split(0.2, None)?;
    // (label, optimizer weight decay, penalty)
    let conditions: Vec<(&str, f32, Option<Regularizer>)> = vec![
        ("none", 0.0, None),
        ("weight decay 5e-4", 5e-4, None),
        (
            "spectral norm mu=1e-3",
            0.0,
            Some(Regularizer::new(
                Penalty::SpectralNorm(SpectralNormParams::default()),
                1e-3,
            )),
        ),
        (
            "weighted alpha mu=1e-3",
            0.0,
            Some(Regularizer::new(
                Penalty::WeightedAlpha(WeightedAlphaParams::default()),
                1e-3,
            )),
        ),
        (
            "stable rank mu=1e-3",
            0.0,
            Some(Regularizer::new(
                Penalty::StableRank(StableRankParams::default()),
                1e-3,
            )),
        ),
        (
            "power-law prior a=2 mu=1e-4",
            0.0,
            Some(Regularizer::new(
                Penalty::PowerLawPrior(PowerLawParams {
                    exponent: PriorExponent::Fixed(2.0),
                }),
                1e-4,
            )),
        ),
        (
            "Frechet prior mu=1e-3",
            0.0,
            Some(Regularizer::new(
                Penalty::FrechetPrior(FrechetParams::default()),
                1e-3,
            )),
        ),
    ];
    let dir = tempfile_dir()?;
    println!(
        "| regularization | test accuracy % (mean ± std, {seeds} seeds) | mean alpha {} | s/epoch |",
        names
            .iter()
            .map(|n| n.trim_end_matches(".weight"))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!("|---|---|---|---|");
    for (label, wd, reg) in &conditions {
        if !only.is_empty() && !only.iter().any(|w| label.contains(w)) {
            continue;
        }
        let mut accs = Vec::new();
        let mut alphas = vec![Vec::new(); names.len()];
        let mut secs = Vec::new();
        for seed in 0..seeds {
            let model = make(seed)?;
            let cfg = TrainConfig {
                epochs,
                seed,
                weight_decay: *wd,
                refresh: RefreshPolicy {
                    every,
                    ..RefreshPolicy::default()
                },
                ..TrainConfig::default()
            };
            let (m, run) = run_one(
                label,
                DeviceChoice::Cpu,
                &model,
                &tr,
                &te,
                &cfg,
                *reg,
                false,
                &mut |_| {},
            )?;
            let p = dir.join(format!("m{seed}.safetensors"));
            m.save(&p, "experiment")?;
            let a = analyze_file(&p)?;
            for (l, name) in names.iter().enumerate() {
                if let Some(x) = a
                    .layers
                    .iter()
                    .find(|r| &r.name == name)
                    .and_then(|r| r.fit)
                {
                    alphas[l].push(x.alpha);
                }
            }
            accs.push(100.0 * run.final_test.map_or(f64::NAN, |t| t.accuracy));
            secs.push(run.seconds_per_epoch);
            eprintln!(
                "{label} seed {seed}: {:.2}% {:.2} s/epoch",
                accs[accs.len() - 1],
                run.seconds_per_epoch
            );
        }
        let (m, s) = mean_std(&accs);
        let al: Vec<String> = alphas
            .iter()
            .map(|v| {
                if v.is_empty() {
                    "-".into()
                } else {
                    format!("{:.2}", mean_std(v).0)
                }
            })
            .collect();
        println!(
            "| {label} | {m:.2} ± {s:.2} | {} | {:.2} |",
            al.join(" / "),
            mean_std(&secs).0
        );
    }
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

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("htdiag-regexp-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
