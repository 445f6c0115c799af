//! `torch.nn.BatchNorm2d` on the CPU. Train mode normalises with the batch mean and the
//! *biased* batch variance over (batch, h, w) and updates the running statistics with
//! momentum `m`: `running = (1 - m) running + m stat`, the variance term *unbiased*
//! (`var * N / (N - 1)`); eval mode normalises with the running statistics. Channel sums are
//! accumulated in f64.

/// One batch-norm layer over `c` channels of `hw` positions each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNorm {
    /// Channels.
    pub c: usize,
    /// Positions per channel (h * w).
    pub hw: usize,
    /// Denominator guard.
    pub eps: f32,
    /// Running-statistics momentum.
    pub momentum: f32,
}

/// Per-channel tensors of the layer.
pub struct BnParams<'a> {
    /// Scale.
    pub gamma: &'a [f32],
    /// Shift.
    pub beta: &'a [f32],
}

impl BatchNorm {
    /// Train-mode forward: writes `y`, the normalised input `xhat` and `1 / sqrt(var + eps)`
    /// per channel (both kept for the backward), and updates the running statistics.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_train(
        &self,
        x: &[f32],
        b: usize,
        p: &BnParams<'_>,
        y: &mut [f32],
        xhat: &mut [f32],
        inv_std: &mut [f32],
        running_mean: &mut [f32],
        running_var: &mut [f32],
    ) {
        let (c, hw) = (self.c, self.hw);
        let n = (b * hw) as f64;
        for ch in 0..c {
            let rows = (0..b).map(|i| &x[(i * c + ch) * hw..][..hw]);
            let mean = rows.clone().flatten().map(|&v| v as f64).sum::<f64>() / n;
            let var = rows
                .flatten()
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / n;
            let is = 1.0 / (var + self.eps as f64).sqrt();
            inv_std[ch] = is as f32;
            let (g, bt) = (p.gamma[ch], p.beta[ch]);
            for i in 0..b {
                let o = (i * c + ch) * hw;
                for j in o..o + hw {
                    let h = ((x[j] as f64 - mean) * is) as f32;
                    xhat[j] = h;
                    y[j] = g * h + bt;
                }
            }
            let m = self.momentum;
            let unbiased = if n > 1.0 { var * n / (n - 1.0) } else { var };
            running_mean[ch] = (1.0 - m) * running_mean[ch] + m * mean as f32;
            running_var[ch] = (1.0 - m) * running_var[ch] + m * unbiased as f32;
        }
    }

    /// Eval-mode forward with the running statistics.
    pub fn forward_eval(
        &self,
        x: &[f32],
        b: usize,
        p: &BnParams<'_>,
        running_mean: &[f32],
        running_var: &[f32],
        y: &mut [f32],
    ) {
        let (c, hw) = (self.c, self.hw);
        for ch in 0..c {
            let is = 1.0 / (running_var[ch] + self.eps).sqrt();
            let (mu, g, bt) = (running_mean[ch], p.gamma[ch], p.beta[ch]);
            for i in 0..b {
                let o = (i * c + ch) * hw;
                for j in o..o + hw {
                    y[j] = (x[j] - mu) * is * g + bt;
                }
            }
        }
    }

    /// Train-mode backward: `dgamma`, `dbeta` overwritten, `dx` added to.
    #[allow(clippy::too_many_arguments)]
    pub fn backward_train(
        &self,
        b: usize,
        gamma: &[f32],
        xhat: &[f32],
        inv_std: &[f32],
        dy: &[f32],
        dgamma: &mut [f32],
        dbeta: &mut [f32],
        dx: Option<&mut [f32]>,
    ) {
        let (c, hw) = (self.c, self.hw);
        let n = (b * hw) as f64;
        let mut dx = dx;
        for ch in 0..c {
            let (mut sb, mut sg) = (0.0f64, 0.0f64);
            for i in 0..b {
                let o = (i * c + ch) * hw;
                for j in o..o + hw {
                    sb += dy[j] as f64;
                    sg += dy[j] as f64 * xhat[j] as f64;
                }
            }
            dbeta[ch] = sb as f32;
            dgamma[ch] = sg as f32;
            if let Some(dx) = dx.as_deref_mut() {
                let k = gamma[ch] as f64 * inv_std[ch] as f64;
                let (mb, mg) = (sb / n, sg / n);
                for i in 0..b {
                    let o = (i * c + ch) * hw;
                    for j in o..o + hw {
                        dx[j] += (k * (dy[j] as f64 - mb - xhat[j] as f64 * mg)) as f32;
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

    /// Train-mode batch norm in f64 (the definition), `sum(r * y)`.
    fn loss(bn: &BatchNorm, x: &[f32], b: usize, g: &[f32], bt: &[f32], r: &[f32]) -> f64 {
        let (c, hw) = (bn.c, bn.hw);
        let mut l = 0.0;
        for ch in 0..c {
            let idx: Vec<usize> = (0..b)
                .flat_map(|i| (0..hw).map(move |j| (i * c + ch) * hw + j))
                .collect();
            let n = idx.len() as f64;
            let mean = idx.iter().map(|&j| x[j] as f64).sum::<f64>() / n;
            let var = idx
                .iter()
                .map(|&j| (x[j] as f64 - mean).powi(2))
                .sum::<f64>()
                / n;
            for &j in &idx {
                let y = (x[j] as f64 - mean) / (var + bn.eps as f64).sqrt() * g[ch] as f64
                    + bt[ch] as f64;
                l += y * r[j] as f64;
            }
        }
        l
    }

    #[test]
    fn train_backward_matches_fd_and_running_stats() {
        let bn = BatchNorm {
            c: 3,
            hw: 4,
            eps: 1e-5,
            momentum: 0.1,
        };
        let b = 3;
        let x: Vec<f32> = rand_vec(b * 12, 7).iter().map(|v| 2.0 * v + 0.5).collect();
        let g = rand_vec(3, 8);
        let bt = rand_vec(3, 9);
        let r = rand_vec(x.len(), 10);
        let (mut y, mut xhat) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let mut is = vec![0.0; 3];
        let (mut rm, mut rv) = (vec![0.5f32; 3], vec![2.0f32; 3]);
        let p = BnParams {
            gamma: &g,
            beta: &bt,
        };
        bn.forward_train(&x, b, &p, &mut y, &mut xhat, &mut is, &mut rm, &mut rv);
        let l: f64 = y.iter().zip(&r).map(|(y, r)| *y as f64 * *r as f64).sum();
        assert!((l - loss(&bn, &x, b, &g, &bt, &r)).abs() < 1e-5);
        // Running statistics of channel 0: (1 - m) old + m (mean, unbiased var).
        let v0: Vec<f64> = (0..b)
            .flat_map(|i| x[i * 12..i * 12 + 4].iter().map(|&v| v as f64))
            .collect();
        let mean = v0.iter().sum::<f64>() / 12.0;
        let uvar = v0.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 11.0;
        assert!((rm[0] as f64 - (0.9 * 0.5 + 0.1 * mean)).abs() < 1e-6);
        assert!((rv[0] as f64 - (0.9 * 2.0 + 0.1 * uvar)).abs() < 1e-6);
        let (mut dg, mut db, mut dx) = (vec![0.0; 3], vec![0.0; 3], vec![0.0; x.len()]);
        bn.backward_train(b, &g, &xhat, &is, &r, &mut dg, &mut db, Some(&mut dx));
        check_grad("bn dx", &x, &dx, 1e-3, |v| loss(&bn, v, b, &g, &bt, &r));
        check_grad("bn dgamma", &g, &dg, 1e-3, |v| loss(&bn, &x, b, v, &bt, &r));
        check_grad("bn dbeta", &bt, &db, 1e-3, |v| loss(&bn, &x, b, &g, v, &r));
    }

    #[test]
    fn eval_uses_running_stats() {
        let bn = BatchNorm {
            c: 2,
            hw: 1,
            eps: 1e-5,
            momentum: 0.1,
        };
        let p = BnParams {
            gamma: &[2.0, 1.0],
            beta: &[0.5, -1.0],
        };
        let mut y = vec![0.0; 2];
        bn.forward_eval(&[3.0, 1.0], 1, &p, &[1.0, 0.0], &[4.0, 1.0], &mut y);
        assert!((y[0] - (2.0 / (4.0f32 + 1e-5).sqrt() * 2.0 + 0.5)).abs() < 1e-6);
        assert!((y[1] - (1.0 / (1.0f32 + 1e-5).sqrt() - 1.0)).abs() < 1e-6);
    }
}
