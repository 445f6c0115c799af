//! `torch.nn.Conv2d` on the CPU: cross-correlation with zero padding, stride and channel
//! groups, through im2col and one single-precision GEMM per group for the whole batch
//! (`Y_g = W_g cols_g`, `cols_g` is `(in/groups kh kw) x (batch oh ow)`).
//! Backward: `dW_g = dY_g cols_g^T`, `db = sum dY`, `dcols = W_g^T dY_g` scattered back
//! (col2im, accumulating into `dx`).

use crate::train::cpu::gemm;

/// Geometry of one convolution applied to `[in_c, h, w]` samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv {
    /// Input channels.
    pub in_c: usize,
    /// Output channels.
    pub out_c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Kernel (h, w).
    pub k: [usize; 2],
    /// Stride (h, w).
    pub stride: [usize; 2],
    /// Zero padding (h, w).
    pub pad: [usize; 2],
    /// Channel groups.
    pub groups: usize,
}

/// One kernel tap of one sample, as [`Conv::taps`] hands it over.
#[derive(Debug, Clone, Copy)]
struct Tap {
    /// Start of the tap's `oh * ow` columns for this sample in the column matrix.
    col: usize,
    /// Start of the sample's input channel plane (`h * w` floats).
    plane: usize,
    /// Kernel offset (row, column) of the tap.
    k: [usize; 2],
    /// Output rows `[lo, hi)` whose tap lands inside the input.
    rows: (usize, usize),
    /// Output columns `[lo, hi)` whose tap lands inside the input.
    cols: (usize, usize),
}

impl Conv {
    /// Rows of a group's column matrix: `in_c / groups * kh * kw`.
    pub fn kdim(&self) -> usize {
        self.in_c / self.groups * self.k[0] * self.k[1]
    }

    /// Scratch floats `forward`/`backward` need for batch `b` (columns + one GEMM output).
    pub fn scratch_len(&self, b: usize) -> usize {
        let cols = b * self.oh * self.ow;
        self.kdim() * cols + self.out_c / self.groups * cols
    }

    /// Input range `[lo, hi)` of output positions along one axis whose tap `t` lands inside
    /// the input: `o * s + t - p` in `[0, n)`.
    fn valid(n: usize, on: usize, s: usize, t: usize, p: usize) -> (usize, usize) {
        // o * s + t >= p  and  o * s + t < n + p
        let lo = if t >= p { 0 } else { (p - t).div_ceil(s) };
        let hi = if n + p > t {
            (n + p - t).div_ceil(s).min(on)
        } else {
            0
        };
        (lo.min(hi), hi)
    }

    /// Calls `f` once per kernel tap of group `g` and sample of the batch: the tap's row of
    /// the column matrix and the sample's input channel plane, as [`Tap`] offsets. The one
    /// walk [`Self::im2col`] and its adjoint [`Self::col2im`] share.
    fn taps(&self, b: usize, g: usize, mut f: impl FnMut(Tap)) {
        let (hw, p) = (self.h * self.w, self.oh * self.ow);
        let cin_g = self.in_c / self.groups;
        let [kh, kw] = self.k;
        for ci in 0..cin_g {
            for ki in 0..kh {
                let rows = Self::valid(self.h, self.oh, self.stride[0], ki, self.pad[0]);
                for kj in 0..kw {
                    let cols = Self::valid(self.w, self.ow, self.stride[1], kj, self.pad[1]);
                    for n in 0..b {
                        f(Tap {
                            col: (((ci * kh + ki) * kw + kj) * b + n) * p,
                            plane: (n * self.in_c + g * cin_g + ci) * hw,
                            k: [ki, kj],
                            rows,
                            cols,
                        });
                    }
                }
            }
        }
    }

    /// Fills `cols` (`kdim x b*oh*ow`) with group `g`'s patches of the batch `x`.
    fn im2col(&self, x: &[f32], b: usize, g: usize, cols: &mut [f32]) {
        let (hw, p) = (self.h * self.w, self.oh * self.ow);
        self.taps(b, g, |t| {
            let src = &x[t.plane..][..hw];
            let dst = &mut cols[t.col..][..p];
            let ((ylo, yhi), (xlo, xhi)) = (t.rows, t.cols);
            for oy in 0..self.oh {
                let d = &mut dst[oy * self.ow..(oy + 1) * self.ow];
                if oy < ylo || oy >= yhi || xlo >= xhi {
                    d.fill(0.0);
                    continue;
                }
                let iy = oy * self.stride[0] + t.k[0] - self.pad[0];
                let srow = &src[iy * self.w..(iy + 1) * self.w];
                d[..xlo].fill(0.0);
                d[xhi..].fill(0.0);
                let sx = self.stride[1];
                for (ox, v) in d.iter_mut().enumerate().take(xhi).skip(xlo) {
                    *v = srow[ox * sx + t.k[1] - self.pad[1]];
                }
            }
        });
    }

    /// Adds the columns `cols` of group `g` back onto `dx` (the adjoint of [`Self::im2col`]).
    fn col2im(&self, cols: &[f32], b: usize, g: usize, dx: &mut [f32]) {
        let (hw, p) = (self.h * self.w, self.oh * self.ow);
        self.taps(b, g, |t| {
            let dst = &mut dx[t.plane..][..hw];
            let src = &cols[t.col..][..p];
            let ((ylo, yhi), (xlo, xhi)) = (t.rows, t.cols);
            for oy in ylo..yhi {
                let iy = oy * self.stride[0] + t.k[0] - self.pad[0];
                let drow = &mut dst[iy * self.w..(iy + 1) * self.w];
                let s = &src[oy * self.ow..(oy + 1) * self.ow];
                for ox in xlo..xhi {
                    drow[ox * self.stride[1] + t.k[1] - self.pad[1]] += s[ox];
                }
            }
        });
    }

    /// `y = conv(x, w) + bias` for a batch of `b` samples (`y` is overwritten).
    pub fn forward(
        &self,
        x: &[f32],
        b: usize,
        w: &[f32],
        bias: Option<&[f32]>,
        y: &mut [f32],
        scratch: &mut Vec<f32>,
    ) {
        let (p, k, cout_g) = (self.oh * self.ow, self.kdim(), self.out_c / self.groups);
        let bp = b * p;
        scratch.resize(self.scratch_len(b), 0.0);
        let (cols, tmp) = scratch.split_at_mut(k * bp);
        for g in 0..self.groups {
            self.im2col(x, b, g, cols);
            let wg = &w[g * cout_g * k..(g + 1) * cout_g * k];
            gemm(
                false,
                false,
                cout_g,
                bp,
                k,
                1.0,
                wg,
                cols,
                0.0,
                &mut tmp[..cout_g * bp],
            );
            for o in 0..cout_g {
                let c = g * cout_g + o;
                let add = bias.map_or(0.0, |bv| bv[c]);
                for n in 0..b {
                    let dst = &mut y[(n * self.out_c + c) * p..][..p];
                    let src = &tmp[o * bp + n * p..][..p];
                    for (d, s) in dst.iter_mut().zip(src) {
                        *d = s + add;
                    }
                }
            }
        }
    }

    /// Gradients of a batch: `dw` and `db` are overwritten, `dx` (if wanted) is added to.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[f32],
        b: usize,
        w: &[f32],
        dy: &[f32],
        dw: &mut [f32],
        mut db: Option<&mut [f32]>,
        mut dx: Option<&mut [f32]>,
        scratch: &mut Vec<f32>,
    ) {
        let (p, k, cout_g) = (self.oh * self.ow, self.kdim(), self.out_c / self.groups);
        let bp = b * p;
        scratch.resize(self.scratch_len(b), 0.0);
        let (cols, dtmp) = scratch.split_at_mut(k * bp);
        let dtmp = &mut dtmp[..cout_g * bp];
        for g in 0..self.groups {
            for o in 0..cout_g {
                let c = g * cout_g + o;
                let mut sum = 0.0f64;
                for n in 0..b {
                    let src = &dy[(n * self.out_c + c) * p..][..p];
                    dtmp[o * bp + n * p..][..p].copy_from_slice(src);
                    sum += src.iter().map(|&v| v as f64).sum::<f64>();
                }
                if let Some(db) = db.as_deref_mut() {
                    db[c] = sum as f32;
                }
            }
            self.im2col(x, b, g, cols);
            let dwg = &mut dw[g * cout_g * k..(g + 1) * cout_g * k];
            gemm(false, true, cout_g, k, bp, 1.0, dtmp, cols, 0.0, dwg);
            if let Some(dx) = dx.as_deref_mut() {
                let wg = &w[g * cout_g * k..(g + 1) * cout_g * k];
                gemm(true, false, k, bp, cout_g, 1.0, wg, dtmp, 0.0, cols);
                self.col2im(cols, b, g, dx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::cpu_ops::testing::{check_grad, rand_vec};

    /// Direct (six-loop) convolution in f64, the definition.
    fn direct(c: &Conv, x: &[f32], b: usize, w: &[f32], bias: Option<&[f32]>) -> Vec<f64> {
        let (cin_g, cout_g) = (c.in_c / c.groups, c.out_c / c.groups);
        let mut y = vec![0.0f64; b * c.out_c * c.oh * c.ow];
        for n in 0..b {
            for co in 0..c.out_c {
                let g = co / cout_g;
                for oy in 0..c.oh {
                    for ox in 0..c.ow {
                        let mut s = bias.map_or(0.0, |bv| bv[co] as f64);
                        for ci in 0..cin_g {
                            for ki in 0..c.k[0] {
                                for kj in 0..c.k[1] {
                                    let iy = (oy * c.stride[0] + ki) as isize - c.pad[0] as isize;
                                    let ix = (ox * c.stride[1] + kj) as isize - c.pad[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= c.h as isize || ix >= c.w as isize
                                    {
                                        continue;
                                    }
                                    let xi = ((n * c.in_c + g * cin_g + ci) * c.h + iy as usize)
                                        * c.w
                                        + ix as usize;
                                    let wi = ((co * cin_g + ci) * c.k[0] + ki) * c.k[1] + kj;
                                    s += x[xi] as f64 * w[wi] as f64;
                                }
                            }
                        }
                        y[((n * c.out_c + co) * c.oh + oy) * c.ow + ox] = s;
                    }
                }
            }
        }
        y
    }

    #[allow(clippy::too_many_arguments)]
    fn geom(
        in_c: usize,
        out_c: usize,
        h: usize,
        w: usize,
        k: usize,
        s: usize,
        p: usize,
        g: usize,
    ) -> Conv {
        let o = |n: usize| (n + 2 * p - k) / s + 1;
        Conv {
            in_c,
            out_c,
            h,
            w,
            oh: o(h),
            ow: o(w),
            k: [k, k],
            stride: [s, s],
            pad: [p, p],
            groups: g,
        }
    }

    #[test]
    fn forward_matches_direct_and_backward_matches_fd() {
        for (c, with_bias) in [
            (geom(3, 4, 7, 6, 3, 1, 1, 1), true),
            (geom(4, 6, 8, 7, 3, 2, 1, 2), false),
            (geom(4, 4, 6, 6, 3, 1, 1, 4), true), // depthwise
            (geom(2, 3, 9, 9, 5, 2, 2, 1), true),
            (geom(3, 5, 5, 5, 1, 2, 0, 1), false),
        ] {
            let b = 2;
            let x = rand_vec(b * c.in_c * c.h * c.w, 1);
            let w = rand_vec(c.out_c * c.kdim(), 2);
            let bias = with_bias.then(|| rand_vec(c.out_c, 3));
            let mut y = vec![0.0; b * c.out_c * c.oh * c.ow];
            let mut s = Vec::new();
            c.forward(&x, b, &w, bias.as_deref(), &mut y, &mut s);
            let want = direct(&c, &x, b, &w, bias.as_deref());
            for (a, e) in y.iter().zip(&want) {
                assert!((*a as f64 - e).abs() < 1e-5, "{c:?}: {a} vs {e}");
            }
            // Gradients of L = sum(r * y).
            let r = rand_vec(y.len(), 4);
            let mut dw = vec![0.0; w.len()];
            let mut db = vec![0.0; c.out_c];
            let mut dx = vec![0.0; x.len()];
            c.backward(&x, b, &w, &r, &mut dw, Some(&mut db), Some(&mut dx), &mut s);
            let loss = |x: &[f32], w: &[f32], bias: Option<&[f32]>| -> f64 {
                direct(&c, x, b, w, bias)
                    .iter()
                    .zip(&r)
                    .map(|(y, r)| y * *r as f64)
                    .sum()
            };
            check_grad("conv dx", &x, &dx, 0.5, |v| loss(v, &w, bias.as_deref()));
            check_grad("conv dw", &w, &dw, 0.5, |v| loss(&x, v, bias.as_deref()));
            if let Some(bv) = &bias {
                check_grad("conv db", bv, &db, 0.5, |v| loss(&x, &w, Some(v)));
            }
        }
    }
}
