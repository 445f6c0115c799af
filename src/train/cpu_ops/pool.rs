//! Pooling on the CPU: `torch.nn.MaxPool2d` (implicit -inf padding, floor mode; ties go to
//! the first maximum in row-major window order, as PyTorch's CPU kernel), `torch.nn.AvgPool2d`
//! (floor mode, `count_include_pad=True`: the divisor counts padded cells inside the padded
//! input) and `torch.nn.AdaptiveAvgPool2d` (cell `i` of `o` covers
//! `floor(i n / o) .. ceil((i + 1) n / o)`). All three are separable window tables per axis.

/// One axis of a pooling: for each output position the input range `[lo, hi)` and the count
/// the average divides by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    /// `(lo, hi, count)` per output position.
    pub win: Vec<(usize, usize, usize)>,
}

impl Axis {
    /// Fixed windows of size `k`, stride `s`, padding `p` on an axis of `n` (floor mode).
    pub fn fixed(n: usize, k: usize, s: usize, p: usize) -> Axis {
        let out = (n + 2 * p - k) / s + 1;
        Axis {
            win: (0..out)
                .map(|o| {
                    let start = (o * s) as isize - p as isize;
                    let end = (start + k as isize).min((n + p) as isize);
                    let count = (end - start) as usize;
                    (start.max(0) as usize, (end.min(n as isize)) as usize, count)
                })
                .collect(),
        }
    }

    /// Adaptive windows: `out` cells over an axis of `n`.
    pub fn adaptive(n: usize, out: usize) -> Axis {
        Axis {
            win: (0..out)
                .map(|i| {
                    let lo = i * n / out;
                    let hi = ((i + 1) * n).div_ceil(out);
                    (lo, hi, hi - lo)
                })
                .collect(),
        }
    }
}

/// A 2-D pooling over `c` channels of an `h x w` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Rows.
    pub rows: Axis,
    /// Columns.
    pub cols: Axis,
}

impl Pool {
    fn oh(&self) -> usize {
        self.rows.win.len()
    }

    fn ow(&self) -> usize {
        self.cols.win.len()
    }

    /// Max pooling of `b` samples; `arg` receives the flat input index of every maximum.
    pub fn max_forward(&self, x: &[f32], b: usize, y: &mut [f32], arg: &mut [u32]) {
        let (hw, ohw) = (self.h * self.w, self.oh() * self.ow());
        for plane in 0..b * self.c {
            let src = &x[plane * hw..(plane + 1) * hw];
            for (oy, &(ylo, yhi, _)) in self.rows.win.iter().enumerate() {
                for (ox, &(xlo, xhi, _)) in self.cols.win.iter().enumerate() {
                    let mut best = f32::NEG_INFINITY;
                    let mut at = ylo * self.w + xlo;
                    for iy in ylo..yhi {
                        for ix in xlo..xhi {
                            let v = src[iy * self.w + ix];
                            if v > best || v.is_nan() {
                                best = v;
                                at = iy * self.w + ix;
                            }
                        }
                    }
                    let o = plane * ohw + oy * self.ow() + ox;
                    y[o] = best;
                    arg[o] = (plane * hw + at) as u32;
                }
            }
        }
    }

    /// Adds `dy` to `dx` at the recorded maxima.
    pub fn max_backward(&self, b: usize, dy: &[f32], arg: &[u32], dx: &mut [f32]) {
        let n = b * self.c * self.oh() * self.ow();
        for (d, &a) in dy[..n].iter().zip(&arg[..n]) {
            dx[a as usize] += d;
        }
    }

    /// Average pooling (fixed or adaptive windows) of `b` samples.
    pub fn avg_forward(&self, x: &[f32], b: usize, y: &mut [f32]) {
        let (hw, ohw) = (self.h * self.w, self.oh() * self.ow());
        for plane in 0..b * self.c {
            let src = &x[plane * hw..(plane + 1) * hw];
            for (oy, &(ylo, yhi, ch)) in self.rows.win.iter().enumerate() {
                for (ox, &(xlo, xhi, cw)) in self.cols.win.iter().enumerate() {
                    let mut s = 0.0f32;
                    for iy in ylo..yhi {
                        for v in &src[iy * self.w + xlo..iy * self.w + xhi] {
                            s += v;
                        }
                    }
                    y[plane * ohw + oy * self.ow() + ox] = s / (ch * cw) as f32;
                }
            }
        }
    }

    /// Adds the average pooling's adjoint of `dy` to `dx`.
    pub fn avg_backward(&self, b: usize, dy: &[f32], dx: &mut [f32]) {
        let (hw, ohw) = (self.h * self.w, self.oh() * self.ow());
        for plane in 0..b * self.c {
            let dst = &mut dx[plane * hw..(plane + 1) * hw];
            for (oy, &(ylo, yhi, ch)) in self.rows.win.iter().enumerate() {
                for (ox, &(xlo, xhi, cw)) in self.cols.win.iter().enumerate() {
                    let g = dy[plane * ohw + oy * self.ow() + ox] / (ch * cw) as f32;
                    for iy in ylo..yhi {
                        for d in &mut dst[iy * self.w + xlo..iy * self.w + xhi] {
                            *d += g;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::cpu_ops::testing::{check_grad, rand_vec};

    #[test]
    fn window_tables() {
        // torch: AdaptiveAvgPool2d(3) on 7 -> [0,3), [2,5), [4,7).
        assert_eq!(
            Axis::adaptive(7, 3).win,
            vec![(0, 3, 3), (2, 5, 3), (4, 7, 3)]
        );
        // 1 -> 7 repeats the single cell.
        assert_eq!(Axis::adaptive(1, 7).win.len(), 7);
        assert!(Axis::adaptive(1, 7).win.iter().all(|&w| w == (0, 1, 1)));
        // AvgPool2d(3, stride 2, padding 1) on 5: windows [-1,2) [1,4) [3,6) -> count 3 each.
        assert_eq!(
            Axis::fixed(5, 3, 2, 1).win,
            vec![(0, 2, 3), (1, 4, 3), (3, 5, 3)]
        );
        // MaxPool 2x2 stride 2 floor on 7 -> 3 outputs.
        assert_eq!(Axis::fixed(7, 2, 2, 0).win.len(), 3);
    }

    fn pools() -> Vec<Pool> {
        vec![
            Pool {
                c: 2,
                h: 7,
                w: 6,
                rows: Axis::fixed(7, 2, 2, 0),
                cols: Axis::fixed(6, 2, 2, 0),
            },
            Pool {
                c: 2,
                h: 5,
                w: 5,
                rows: Axis::fixed(5, 3, 2, 1),
                cols: Axis::fixed(5, 3, 2, 1),
            },
            Pool {
                c: 3,
                h: 5,
                w: 4,
                rows: Axis::adaptive(5, 3),
                cols: Axis::adaptive(4, 1),
            },
        ]
    }

    #[test]
    fn max_and_avg_backward_match_fd() {
        for p in pools() {
            let b = 2;
            // Distinct values at least 0.01 apart (no near-ties for the max).
            let r0 = rand_vec(b * p.c * p.h * p.w, 11);
            let mut order: Vec<usize> = (0..r0.len()).collect();
            order.sort_by(|&i, &j| r0[i].total_cmp(&r0[j]));
            let mut x = vec![0.0f32; r0.len()];
            for (rank, &i) in order.iter().enumerate() {
                x[i] = rank as f32 * 0.01 - 0.5;
            }
            let ny = b * p.c * p.oh() * p.ow();
            let r = rand_vec(ny, 12);
            let (mut y, mut arg) = (vec![0.0; ny], vec![0u32; ny]);
            let mut dx = vec![0.0; x.len()];
            p.avg_forward(&x, b, &mut y);
            p.avg_backward(b, &r, &mut dx);
            let loss_avg = |v: &[f32]| {
                let mut y = vec![0.0; ny];
                p.avg_forward(v, b, &mut y);
                y.iter()
                    .zip(&r)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum::<f64>()
            };
            check_grad("avg dx", &x, &dx, 0.25, loss_avg);
            // Max: compare against the definition (f64) and finite differences (small eps,
            // random inputs have no ties).
            p.max_forward(&x, b, &mut y, &mut arg);
            for (plane, chunk) in y.chunks(p.oh() * p.ow()).enumerate() {
                for (o, &v) in chunk.iter().enumerate() {
                    let (ylo, yhi, _) = p.rows.win[o / p.ow()];
                    let (xlo, xhi, _) = p.cols.win[o % p.ow()];
                    let m = (ylo..yhi)
                        .flat_map(|iy| (xlo..xhi).map(move |ix| (iy, ix)))
                        .map(|(iy, ix)| x[plane * p.h * p.w + iy * p.w + ix])
                        .fold(f32::NEG_INFINITY, f32::max);
                    assert_eq!(v, m);
                }
            }
            dx.fill(0.0);
            p.max_backward(b, &r, &arg, &mut dx);
            let loss_max = |v: &[f32]| {
                let (mut y, mut a) = (vec![0.0; ny], vec![0u32; ny]);
                p.max_forward(v, b, &mut y, &mut a);
                y.iter()
                    .zip(&r)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum::<f64>()
            };
            check_grad("max dx", &x, &dx, 1e-3, loss_max);
        }
    }
}
