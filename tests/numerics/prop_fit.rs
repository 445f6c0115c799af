//! Property tests of the power-law fit (proptest): invariances a correct estimator must have.
//!
//! - Scale: alpha, D, sigma and the number of tail eigenvalues do not change when every
//!   eigenvalue is multiplied by a constant `c` (all staying above the fit threshold): the
//!   Clauset estimator depends on `x / xmin` only and the KS distance on ranks. The fit takes
//!   logarithms of the eigenvalues themselves (`ln(c x) = ln c + ln x` rounds differently), so
//!   agreement is to rounding: 1e-12 relative for powers of two (exact scaling of the input,
//!   every estimator) and 1e-9 for any `c` (the Clauset default); xmin and xmax scale by `c`.
//! - Order: the fit of a permutation of the eigenvalues equals the fit of the sorted ones.

use htdiag::fit::{FitMethod, FitOptions, FixFingers, fit_power_law};
use htdiag::result::PowerLawFit;
use proptest::prelude::*;

/// `n` eigenvalues with a Pareto(mu) tail above 1 (scaled by >= 2^-10 or 1e-2 they stay far
/// above the fit threshold 1e-5), from a
/// seeded xorshift so proptest shrinks over (seed, n, mu).
fn spectrum(seed: u64, n: usize, mu: f64) -> Vec<f64> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            u.powf(-1.0 / mu)
        })
        .collect()
}

fn opts(method: u8) -> FitOptions {
    match method % 3 {
        0 => FitOptions::default(),
        1 => FitOptions {
            method: FitMethod::Median,
            ..FitOptions::default()
        },
        _ => FitOptions {
            fix_fingers: FixFingers::ClipXmax,
            ..FitOptions::default()
        },
    }
}

fn close_to(a: f64, b: f64, tol: f64) -> bool {
    a == b || (a - b).abs() <= tol * a.abs().max(b.abs())
}

fn close(a: f64, b: f64) -> bool {
    close_to(a, b, 1e-9)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn power_of_two_scaling_keeps_the_fit(
        seed in any::<u64>(), n in 5usize..300, mu in 1.2f64..6.0, k in -10i32..20, m in 0u8..3,
    ) {
        let ev = spectrum(seed, n, mu);
        let c = 2f64.powi(k);
        let scaled: Vec<f64> = ev.iter().map(|x| x * c).collect();
        let (a, b) = (fit_power_law(&ev, &opts(m)), fit_power_law(&scaled, &opts(m)));
        let t = 1e-12;
        prop_assert!(close_to(a.alpha, b.alpha, t), "alpha {} vs {}", a.alpha, b.alpha);
        prop_assert!(close_to(a.d, b.d, t), "D {} vs {}", a.d, b.d);
        prop_assert!(close_to(a.sigma, b.sigma, t), "sigma {} vs {}", a.sigma, b.sigma);
        prop_assert_eq!(a.num_pl_spikes, b.num_pl_spikes);
        if a.is_valid() {
            prop_assert_eq!((a.xmin * c).to_bits(), b.xmin.to_bits());
            prop_assert_eq!((a.xmax * c).to_bits(), b.xmax.to_bits());
        }
    }

    #[test]
    fn any_scaling_keeps_alpha_and_d(
        seed in any::<u64>(), n in 5usize..300, mu in 1.2f64..6.0, c in 1e-2f64..1e3,
    ) {
        let ev = spectrum(seed, n, mu);
        let scaled: Vec<f64> = ev.iter().map(|x| x * c).collect();
        let o = FitOptions::default();
        let (a, b): (PowerLawFit, PowerLawFit) = (fit_power_law(&ev, &o), fit_power_law(&scaled, &o));
        prop_assert_eq!(a.num_pl_spikes, b.num_pl_spikes, "tail size");
        prop_assert!(close(a.alpha, b.alpha), "alpha {} vs {}", a.alpha, b.alpha);
        prop_assert!(close(a.d, b.d), "D {} vs {}", a.d, b.d);
    }

    #[test]
    fn order_of_eigenvalues_does_not_matter(
        seed in any::<u64>(), n in 2usize..300, mu in 1.2f64..6.0, shuffle in any::<u64>(), m in 0u8..3,
    ) {
        let mut ev = spectrum(seed, n, mu);
        let mut s = shuffle | 1;
        for i in (1..ev.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ev.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut sorted = ev.clone();
        sorted.sort_by(f64::total_cmp);
        let (a, b) = (fit_power_law(&ev, &opts(m)), fit_power_law(&sorted, &opts(m)));
        prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}
