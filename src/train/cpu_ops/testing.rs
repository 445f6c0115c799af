//! Helpers of the layer tests: seeded inputs and a central finite-difference check.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

use crate::train::model::unit_f32;

/// `n` values uniform in `[-1, 1)`, deterministic in `seed`.
pub fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| 2.0 * unit_f32(&mut rng) - 1.0).collect()
}

/// Asserts that `grad` is the gradient of `f` at `x`: every coordinate against the central
/// difference `(f(x + eps e_i) - f(x - eps e_i)) / 2 eps`, tolerance relative to the largest
/// gradient entry.
pub fn check_grad(name: &str, x: &[f32], grad: &[f32], eps: f32, mut f: impl FnMut(&[f32]) -> f64) {
    assert_eq!(x.len(), grad.len(), "{name}");
    let scale = grad.iter().fold(1e-3f32, |m, g| m.max(g.abs())) as f64;
    let mut v = x.to_vec();
    for i in 0..x.len() {
        v[i] = x[i] + eps;
        let up = f(&v);
        v[i] = x[i] - eps;
        let down = f(&v);
        v[i] = x[i];
        let fd = (up - down) / (2.0 * eps as f64);
        assert!(
            (fd - grad[i] as f64).abs() <= 2e-3 * scale,
            "{name}[{i}]: analytic {} vs finite difference {fd}",
            grad[i]
        );
    }
}
