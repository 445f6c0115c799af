//! Times the power-law fit (default Clauset scan), the full D(xmin) scan and the
//! Marchenko-Pastur fit on synthetic spectra: an MP-like bulk plus a Pareto tail,
//! n = 768 .. 15000.
//!
//! `cargo run --release --example bench_fit`

use std::time::Instant;

use htdiag::fit::{FitOptions, fit_power_law, scan, scan_sampled};
use htdiag::metrics::mp_fit;

fn spectrum(n: usize, seed: u64, tail_alpha: f64) -> Vec<f64> {
    let mut s = seed;
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            if u < 0.9 {
                // bulk on (0, 4)
                4.0 * (u / 0.9).powi(2)
            } else {
                4.0 * ((1.0 - u) / 0.1).powf(-1.0 / (tail_alpha - 1.0))
            }
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

fn best_of<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = f();
    for _ in 0..reps {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, out)
}

fn main() {
    println!("threads: {}", rayon::current_num_threads());
    println!(
        "{:>6} {:>6} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "n", "a", "fit_ms", "scan_ms", "scan500_ms", "mp_fit_ms", "alpha", "spikes"
    );
    for n in [768usize, 2048, 4608, 8192, 15000] {
        for a in [2.0, 3.5, 6.0] {
            let x = spectrum(n, n as u64 + 17, a);
            let (tf, fit) = best_of(5, || fit_power_law(&x, &FitOptions::default()));
            let (ts, _) = best_of(2, || scan(&x));
            let (t5, _) = best_of(3, || scan_sampled(&x, 500));
            let (tm, _) = best_of(3, || mp_fit(&x, 2 * n, n));
            println!(
                "{n:>6} {a:>6} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>8.3} {:>8}",
                tf * 1e3,
                ts * 1e3,
                t5 * 1e3,
                tm * 1e3,
                fit.alpha,
                fit.num_pl_spikes
            );
        }
    }
}
