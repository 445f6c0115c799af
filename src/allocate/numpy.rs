//! The few numpy routines the allocation formulas of TempBalance, AlphaDecay and AlphaPruning
//! go through, with numpy's own operation order so the results agree to the last bit:
//! `np.sum` (pairwise summation), `np.mean` and `np.interp` on two points.

/// numpy's unrolled pairwise summation block (`PW_BLOCKSIZE`).
const BLOCK: usize = 128;

/// `np.sum` of a contiguous float64 array: numpy's pairwise summation (sequential below 8
/// values, eight accumulators up to 128, halves above), started from 0.
pub fn sum(a: &[f64]) -> f64 {
    0.0 + pairwise(a)
}

fn pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut r = 0.0;
        for &x in a {
            r += x;
        }
        r
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[i..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(&a[..n2]) + pairwise(&a[n2..])
    }
}

/// `np.mean` of a float64 array: the pairwise sum divided by the count (NaN when empty).
pub fn mean(a: &[f64]) -> f64 {
    sum(a) / a.len() as f64
}

/// `np.interp(x, [x0, x1], [y0, y1])` for `x0 <= x1`: `y0` left of `x0`, `y1` from `x1` on
/// (so every point gets `y1` when `x0 == x1`), `y0` at `x0`, else
/// `slope * (x - x0) + y0` with `slope = (y1 - y0) / (x1 - x0)`; if that is NaN numpy tries
/// `slope * (x - x1) + y1`, then `y0` when `y0 == y1`. NaN stays NaN.
pub fn interp2(x: f64, (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > x1 {
        return y1;
    }
    if x < x0 {
        return y0;
    }
    // numpy's search returns the last j with xp[j] <= x: 1 when x >= x1 (x == x1 here).
    if x >= x1 {
        return y1;
    }
    if x == x0 {
        return y0;
    }
    let slope = (y1 - y0) / (x1 - x0);
    let mut r = slope * (x - x0) + y0;
    if r.is_nan() {
        r = slope * (x - x1) + y1;
        if r.is_nan() && y0 == y1 {
            r = y0;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_groups_like_numpy() {
        // 1e16 + 1 + 1 + ... loses every 1 sequentially; pairwise groups the ones first.
        let mut a = vec![1e16];
        a.extend(std::iter::repeat_n(1.0, 15));
        // 16 values: accumulators r0 = 1e16 + 1, r1..r7 = 2; ((r0 + r1) + ...) keeps 14.
        let r0 = 1e16 + 1.0;
        let want = ((r0 + 2.0) + (2.0 + 2.0)) + ((2.0 + 2.0) + (2.0 + 2.0));
        assert_eq!(sum(&a), want);
        let seq = a.iter().fold(0.0, |s, x| s + x);
        assert_eq!(seq, 1e16); // every 1 lost in order: grouping matters
        assert_ne!(sum(&a), seq);
        // Below 8 values: sequential.
        assert_eq!(sum(&[0.1, 0.2, 0.3]), (0.1 + 0.2) + 0.3);
        assert_eq!(mean(&[1.0, 2.0, 4.0]), 7.0 / 3.0);
        // Above 128: split at n/2 rounded down to a multiple of 8 (300 -> 144 + 156).
        let b: Vec<f64> = (0..300).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        assert_eq!(sum(&b), pairwise(&b[..144]) + pairwise(&b[144..]));
    }

    #[test]
    fn interp_endpoints_and_ties() {
        let lr = 0.1;
        let (lo, hi) = (0.5 * lr, 1.5 * lr);
        assert_eq!(hi, 0.15000000000000002);
        assert_eq!(interp2(2.0, (2.0, 6.0), (lo, hi)), lo);
        assert_eq!(interp2(6.0, (2.0, 6.0), (lo, hi)), hi);
        let mid = interp2(3.0, (2.0, 6.0), (lo, hi));
        assert_eq!(mid, (hi - lo) / 4.0 * 1.0 + lo);
        // All scores equal: numpy returns the right value for every point.
        assert_eq!(interp2(4.0, (4.0, 4.0), (lo, hi)), hi);
        // An infinite maximum: finite scores get the left value (slope 0), inf the right.
        assert_eq!(interp2(3.0, (2.0, f64::INFINITY), (lo, hi)), lo);
        assert_eq!(interp2(f64::INFINITY, (2.0, f64::INFINITY), (lo, hi)), hi);
        assert!(interp2(f64::NAN, (2.0, 6.0), (lo, hi)).is_nan());
    }
}
