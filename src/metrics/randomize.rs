//! Randomized ESD ("correlation traps", Martin & Mahoney, JMLR 2021, section 5.4; the
//! WeightWatcher `randomize=True` option): shuffling the entries of W destroys its
//! correlations but keeps its entry distribution, so the randomized spectrum is what the
//! layer would look like without learned structure. Eigenvalues of the original beyond the
//! randomized bulk, and a large distance between the two spectra, point at learned (or
//! trapped) correlations. Unlike WeightWatcher, the shuffle is seeded: results repeat.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::matrices::MatrixRef;
use crate::result::RandomizedEsd;

/// The entries of `w`, row-major as f64, shuffled by a Fisher-Yates pass driven by
/// `ChaCha8Rng::seed_from_u64(seed)`. The index draw is implemented here (Lemire's
/// multiply-and-reject on `next_u64`) so the permutation for a seed does not change with the
/// `rand` version. The result has `w.rows x w.cols` layout, ready for
/// `MatrixRef::from_f64(&v, w.rows, w.cols)`.
pub fn shuffle_entries(w: &MatrixRef<'_>, seed: u64) -> Vec<f64> {
    let mut v = w.to_vec();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in (1..v.len()).rev() {
        let j = below(&mut rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
    v
}

/// Uniform integer in `0..bound` (`bound >= 1`), unbiased (Lemire 2019).
fn below(rng: &mut ChaCha8Rng, bound: u64) -> u64 {
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let m = (rng.next_u64() as u128) * (bound as u128);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

/// Jensen-Shannon distance (natural log) between two non-negative vectors of equal length,
/// each normalised to sum 1 (scipy's `jensenshannon`). NaN when lengths differ or a vector
/// sums to zero.
pub(super) fn jensen_shannon_distance(p: &[f64], q: &[f64]) -> f64 {
    let sp: f64 = p.iter().sum();
    let sq: f64 = q.iter().sum();
    let positive = |s: f64| s.is_finite() && s > 0.0;
    if p.len() != q.len() || !positive(sp) || !positive(sq) {
        return f64::NAN;
    }
    let kl = |a: f64, m: f64| if a > 0.0 { a * (a / m).ln() } else { 0.0 };
    let mut div = 0.0;
    for (&a, &b) in p.iter().zip(q) {
        let (a, b) = (a.max(0.0) / sp, b.max(0.0) / sq);
        let m = 0.5 * (a + b);
        div += 0.5 * (kl(a, m) + kl(b, m));
    }
    div.max(0.0).sqrt()
}

/// Compares a row's eigenvalues with those of its entry-shuffled matrix (both ascending,
/// same scaling): `max_rand_eval`; `rand_distance`, the Jensen-Shannon distance between the
/// two sorted spectra normalised to sum 1; `ww_softrank = max_rand_eval / lambda_max`;
/// `ww_maxdist = lambda_max - max_rand_eval`; `rand_num_spikes` = original eigenvalues above
/// `max_rand_eval` (the randomized bulk edge).
pub fn randomized(evals: &[f64], rand_evals: &[f64]) -> RandomizedEsd {
    let lambda_max = evals.iter().copied().fold(f64::NAN, f64::max);
    let max_rand_eval = rand_evals.iter().copied().fold(f64::NAN, f64::max);
    let mut sorted_rand = rand_evals.to_vec();
    sorted_rand.sort_by(f64::total_cmp);
    let mut sorted = evals.to_vec();
    sorted.sort_by(f64::total_cmp);
    RandomizedEsd {
        max_rand_eval,
        rand_distance: jensen_shannon_distance(&sorted, &sorted_rand),
        ww_softrank: max_rand_eval / lambda_max,
        ww_maxdist: lambda_max - max_rand_eval,
        rand_num_spikes: evals.iter().filter(|&&l| l > max_rand_eval).count() as i64,
        rand_eigenvalues: sorted_rand,
    }
}
