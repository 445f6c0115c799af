//! The "peak xmin" estimator: AlphaPruning's default metric `alpha_peak` (`fix_fingers =
//! 'xmin_peak'`, Lu et al., NeurIPS 2024) and TempBalance's `pl_fitting = "fix-finger"`, as
//! ALLOCATION.md section 3 states it from their code, quirks included:
//!
//! ```text
//! h = log10(lambda); counts = 100-bin histogram of h over [min h, max h] (torch.histc)
//! p = 10^(left edge of the first bin with the largest count), edges = linspace(min, max, 101)
//! lower = log10(0.95 p)   (a log10 value compared with raw eigenvalues: their bug, kept)
//! upper = 1.5 p
//! candidates c = 0..N-2: skip while lambda[c] < lower, stop at the first lambda[c] > upper;
//!   alpha_c, D_c as the median estimator with i = c (D_c = 1 unless alpha_c > 1)
//! the first c with the smallest D wins; skipped candidates keep alpha 0 and D 1
//! ```
//!
//! Failures their code does not survive are reported as such: N = 1 (an empty candidate list:
//! `argmin` of nothing) and a zero eigenvalue (`log10(0) = -inf`: `torch.histc` refuses the
//! range). When every candidate is skipped or has alpha <= 1, their `argmin` over all-ones
//! picks candidate 0 and reports its alpha (0 when skipped): such rows are `failed` here with
//! that value named in the reason.

use super::median::{alpha_at, ks_at, tail_log_sums};
use super::real::{Precision, Real, f32_eigenvalues};
use super::success;
use crate::result::PowerLawFit;

/// Number of histogram bins (their `bins=100`).
pub const BINS: usize = 100;

/// `torch.histc(h, BINS, min, max)` of values inside `[min, max]`: bin
/// `trunc((x - min) * BINS / (max - min))` in `R`, the value `max` (or anything rounding to
/// bin `BINS`) in the last bin. Equal `min` and `max` widen the range to `[min - 1, max + 1]`
/// as torch does, which puts every value in bin 50.
pub fn histc<R: Real>(h: &[R], min: R, max: R) -> Vec<u64> {
    let mut counts = vec![0u64; BINS];
    let (lo, hi) = if min == max {
        (R::of(min.wide() - 1.0), R::of(max.wide() + 1.0))
    } else {
        (min, max)
    };
    let width = hi - lo;
    let bins = R::of(BINS as f64);
    for &x in h {
        if !(x >= lo && x <= hi) {
            continue;
        }
        let pos = ((x - lo) * bins / width).wide().trunc() as usize;
        counts[pos.min(BINS - 1)] += 1;
    }
    counts
}

/// `torch.linspace(start, end, steps)` on the CPU, in `R`: `start + step * k` for the first
/// half, `end - step * (steps - 1 - k)` for the second, `step = (end - start) / (steps - 1)`.
pub fn linspace<R: Real>(start: R, end: R, steps: usize) -> Vec<R> {
    let step = (end - start) / R::of((steps - 1) as f64);
    let half = steps / 2;
    (0..steps)
        .map(|k| {
            if k < half {
                start + step * R::of(k as f64)
            } else {
                end - step * R::of((steps - 1 - k) as f64)
            }
        })
        .collect()
}

/// The peak window `(lower, upper)` of ascending positive `x`: `p = 10^edge[first argmax]`,
/// `lower = log10(0.95 p)`, `upper = 1.5 p`, all in `R`.
pub fn window<R: Real>(x: &[R]) -> (R, R) {
    let h: Vec<R> = x.iter().map(|v| v.log10()).collect();
    let (min, max) = (h[0], h[h.len() - 1]);
    let counts = histc(&h, min, max);
    let edges = linspace(min, max, BINS + 1);
    let mut ih = 0;
    for (k, &c) in counts.iter().enumerate() {
        if c > counts[ih] {
            ih = k;
        }
    }
    let p = R::of(10.0).powf(edges[ih]);
    ((R::of(0.95) * p).log10(), R::of(1.5) * p)
}

/// The scan of section 3 over ascending positive `x` (`N >= 2`): `(alpha, D, c)` of the
/// first candidate with the smallest D, with their defaults for skipped candidates.
fn scan<R: Real>(x: &[R]) -> (R, R, usize) {
    let (lower, upper) = window(x);
    let logs: Vec<R> = x.iter().map(|v| v.ln()).collect();
    let sums = tail_log_sums(&logs);
    let (zero, one) = (R::of(0.0), R::of(1.0));
    // (D, alpha, index) of the best candidate so far; candidate 0 starts as "skipped".
    let mut best = (one, zero, 0usize);
    let mut first_alpha = None;
    for c in 0..x.len() - 1 {
        if x[c] < lower {
            continue;
        }
        if x[c] > upper {
            break;
        }
        let alpha = alpha_at(&logs[..], &sums, c);
        if c == 0 {
            first_alpha = Some(alpha);
        }
        if alpha.partial_cmp(&one) != Some(std::cmp::Ordering::Greater) {
            continue; // D = 1: never better than the best (which is <= 1).
        }
        // A later candidate wins only with a strictly smaller D, so the scan may stop as
        // soon as this one's running maximum reaches the best.
        let d = ks_at(x, c, alpha, best.0);
        if d < best.0 {
            best = (d, alpha, c);
        }
    }
    if best.0 == one && best.2 == 0 {
        // No candidate beat D = 1: argmin over all-ones Ds picks candidate 0.
        best.1 = first_alpha.unwrap_or(zero);
    }
    (best.1, best.0, best.2)
}

/// The fit in `R`, or why there is none.
fn fit_in<R: Real>(x: &[R]) -> Result<PowerLawFit, String> {
    let n = x.len();
    if n == 0 {
        return Err("no eigenvalues to fit".into());
    }
    if n == 1 {
        return Err(
            "peak estimator: N = 1 leaves no candidate xmin (AlphaPruning's code \
                    fails on this layer)"
                .into(),
        );
    }
    if x[0].wide() <= 0.0 {
        return Err(
            "peak estimator: a zero eigenvalue has log10 = -inf, so the log10 \
                    histogram has no finite range (torch.histc fails on this layer)"
                .into(),
        );
    }
    let (alpha, d, c) = scan(x);
    if alpha.partial_cmp(&R::of(1.0)) != Some(std::cmp::Ordering::Greater) {
        return Err(format!(
            "peak estimator: no candidate in the peak window has alpha > 1; their code \
             reports alpha = {} for this layer",
            alpha.wide()
        ));
    }
    let mut f = success(alpha.wide(), x[c].wide(), x[n - 1].wide(), d.wide(), n - c);
    f.num_pl_spikes = (n - x.partition_point(|v| *v < x[c])) as i64;
    Ok(f)
}

/// Peak-xmin fit of ascending data `x` in the given precision.
pub(super) fn fit(x: &[f64], precision: Precision) -> Result<PowerLawFit, String> {
    match precision {
        Precision::F64 => fit_in(x),
        Precision::F32 => fit_in(&f32_eigenvalues(x)),
    }
}
