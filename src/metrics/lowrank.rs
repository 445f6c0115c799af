//! Metrics for LoRA rows: the effective rank of a spectrum and the count of new top
//! directions of a merged weight.

use crate::result::NewDirections;
use crate::spectrum::LeftVectors;

/// Cosine below which a top direction of the merged weight counts as new.
pub const NEW_DIRECTION_COSINE: f64 = 0.5;

/// Effective rank `exp(H(p))`, `p_i = lambda_i / sum lambda` over the positive eigenvalues
/// (Roy & Vetterli, "The effective rank: a measure of effective dimensionality", EUSIPCO
/// 2007, on the eigenvalues of `W^T W`): `k` for `k` equal eigenvalues, 1 for one dominant
/// direction. NaN when no eigenvalue is positive.
pub fn effective_rank(evals: &[f64]) -> f64 {
    let total: f64 = evals.iter().filter(|&&l| l > 0.0).sum();
    if total <= 0.0 || !total.is_finite() {
        return f64::NAN;
    }
    let h: f64 = evals
        .iter()
        .filter(|&&l| l > 0.0)
        .map(|&l| {
            let p = l / total;
            -p * p.ln()
        })
        .sum();
    h.exp()
}

/// How many of `merged`'s directions (all that it holds, largest first) have a largest
/// |cosine| below `threshold` with every direction of `base` (see [`NewDirections`]).
pub fn new_directions(merged: &LeftVectors, base: &LeftVectors, threshold: f64) -> NewDirections {
    let k = merged.sigma.len();
    let max_cosines: Vec<f64> = (0..k)
        .map(|i| {
            let u = merged.vector(i);
            (0..base.sigma.len())
                .map(|j| {
                    let v = base.vector(j);
                    u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>().abs()
                })
                .fold(0.0, f64::max)
        })
        .collect();
    NewDirections {
        k,
        threshold,
        count: max_cosines.iter().filter(|&&c| c < threshold).count(),
        max_cosines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_rank_of_flat_and_peaked_spectra() {
        assert!((effective_rank(&[2.0, 2.0, 2.0, 0.0]) - 3.0).abs() < 1e-12);
        assert!((effective_rank(&[5.0]) - 1.0).abs() < 1e-12);
        // p = (1/4, 3/4): exp(-(1/4 ln 1/4 + 3/4 ln 3/4)).
        let want = (-(0.25f64 * 0.25f64.ln() + 0.75 * 0.75f64.ln())).exp();
        assert!((effective_rank(&[1.0, 3.0]) - want).abs() < 1e-12);
        assert!(effective_rank(&[0.0, 0.0]).is_nan());
    }

    #[test]
    fn counts_directions_far_from_the_base() {
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let base = LeftVectors {
            dim: 3,
            sigma: vec![2.0, 1.0],
            u: vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        };
        // e1 (cos 1), (e2 + e3)/sqrt2 (cos 0.707 with e2), e3 (cos 0): one new direction.
        let merged = LeftVectors {
            dim: 3,
            sigma: vec![3.0, 2.0, 1.0],
            u: vec![1.0, 0.0, 0.0, 0.0, s, s, 0.0, 0.0, 1.0],
        };
        let nd = new_directions(&merged, &base, NEW_DIRECTION_COSINE);
        assert_eq!((nd.k, nd.count), (3, 1));
        assert!((nd.max_cosines[1] - s).abs() < 1e-15 && nd.max_cosines[2] == 0.0);
    }
}
