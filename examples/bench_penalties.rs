//! Per-step cost of each penalty's value and gradient at MLP layer sizes (the trainer calls
//! `value_and_grad` once per layer per step): eigen route vs power iteration, cold vs warm.
//!
//! `cargo run --release --example bench_penalties`

use std::time::Instant;

use htdiag::regularize::spectral::{self, PowerOptions};
use htdiag::regularize::{
    FrechetParams, LayerState, Penalty, PowerLawParams, SpectralNormParams, StableRankParams,
    TopRoute, WeightedAlphaParams,
};

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

fn main() -> htdiag::Result<()> {
    let penalties = [
        Penalty::WeightedAlpha(WeightedAlphaParams::default()),
        Penalty::StableRank(StableRankParams::default()),
        Penalty::StableRank(StableRankParams {
            route: TopRoute::Eigen,
        }),
        Penalty::PowerLawPrior(PowerLawParams::default()),
        Penalty::FrechetPrior(FrechetParams::default()),
        Penalty::WeightDecay,
        Penalty::SpectralNorm(SpectralNormParams::default()),
    ];
    println!(
        "{:>10} {:>24} {:>12} {:>12}",
        "shape", "penalty", "cold ms", "warm ms"
    );
    for (rows, cols) in [(300, 784), (100, 300), (10, 100), (1024, 1024)] {
        let w = matrix(rows, cols, 7);
        // A small perturbation, as one optimiser step would make.
        let w2: Vec<f64> = w
            .iter()
            .enumerate()
            .map(|(i, x)| x * (1.0 + 1e-3 * ((i % 7) as f64 - 3.0)))
            .collect();
        for p in &penalties {
            let mut state = LayerState::new(&w, rows, cols)?;
            let t = Instant::now();
            p.value_and_grad(&w, rows, cols, &mut state)?;
            let cold = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let reps = 5;
            for _ in 0..reps {
                let mut st = state.clone();
                p.value_and_grad(&w2, rows, cols, &mut st)?;
            }
            let warm = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
            let name = match p.top_route() {
                Some(_) => format!("{} (power)", p.name()),
                None => p.name().to_string(),
            };
            println!(
                "{:>10} {:>24} {:>12.2} {:>12.2}",
                format!("{rows}x{cols}"),
                name,
                cold,
                warm
            );
        }
        let top = spectral::top_pair(&w, rows, cols, None, &PowerOptions::default())?;
        let warm =
            spectral::top_pair(&w2, rows, cols, Some(&top.vector), &PowerOptions::default())?;
        println!(
            "{:>10} power iterations: cold {} (fell back: {}), warm {} (fell back: {})",
            format!("{rows}x{cols}"),
            top.iterations,
            top.fell_back,
            warm.iterations,
            warm.fell_back
        );
    }
    Ok(())
}
