//! The CPU reference backend: the same f32 step as the wgpu backend (see [`super::backend`]),
//! with matrix products through single-precision BLAS (`sgemm`, system OpenBLAS). All buffers
//! are allocated once, for the largest batch.

use super::backend::{Backend, Eval, Optimizer, PenaltySpectrum, Split, StepParams};
use super::data::Dataset;
use super::model::Mlp;
use super::spectral::Assembly;
use crate::error::{Error, Result};

/// Row-major `C (m x n) = alpha op(A) op(B) + beta C`, `op(A)` is `m x k`. `ta`: A is stored
/// `k x m`; `tb`: B is stored `n x k`.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    ta: bool,
    tb: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
) {
    if m == 0 || n == 0 {
        return;
    }
    let lda = if ta { m } else { k }.max(1);
    let ldb = if tb { k } else { n }.max(1);
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
    let t = |x: bool| if x { b'T' } else { b'N' };
    unsafe {
        blas::sgemm(
            t(tb),
            t(ta),
            n as i32,
            m as i32,
            k as i32,
            alpha,
            b,
            ldb as i32,
            a,
            lda as i32,
            beta,
            c,
            n as i32,
        );
    }
}

/// Softmax cross-entropy of one row of logits: returns (loss, argmax) and writes
/// `(softmax - onehot) * scale` into `dz`. Same formula as `loss.wgsl`.
pub fn softmax_xent_row(z: &[f32], y: usize, scale: f32, dz: &mut [f32]) -> (f32, usize) {
    let mut m = z[0];
    let mut arg = 0;
    for (j, &v) in z.iter().enumerate() {
        if v > m {
            m = v;
            arg = j;
        }
    }
    let mut s = 0.0f32;
    for &v in z {
        s += (v - m).exp();
    }
    let loss = m + s.ln() - z[y];
    for (j, d) in dz.iter_mut().enumerate() {
        let p = (z[j] - m).exp() / s;
        *d = (p - if j == y { 1.0 } else { 0.0 }) * scale;
    }
    (loss, arg)
}

struct Param {
    w: Vec<f32>,
    grad: Vec<f32>,
    m1: Vec<f32>,
    m2: Vec<f32>,
    trainable: bool,
}

impl Param {
    fn new(w: Vec<f32>, trainable: bool) -> Param {
        let n = w.len();
        Param {
            w,
            grad: vec![0.0; n],
            m1: vec![0.0; n],
            m2: vec![0.0; n],
            trainable,
        }
    }

    fn update(&mut self, opt: Optimizer, p: &StepParams) {
        if !self.trainable {
            return;
        }
        match opt {
            Optimizer::Sgd { momentum } => {
                for i in 0..self.w.len() {
                    let g = self.grad[i] + p.weight_decay * self.w[i];
                    let v = momentum * self.m1[i] + g;
                    self.m1[i] = v;
                    self.w[i] -= p.lr * v;
                }
            }
            Optimizer::Adam { beta1, beta2, eps } => {
                let (bc1, bc2) = adam_corrections(beta1, beta2, p.t);
                for i in 0..self.w.len() {
                    let g = self.grad[i] + p.weight_decay * self.w[i];
                    let m = beta1 * self.m1[i] + (1.0 - beta1) * g;
                    let v = beta2 * self.m2[i] + (1.0 - beta2) * g * g;
                    self.m1[i] = m;
                    self.m2[i] = v;
                    self.w[i] -= p.lr * (m / bc1) / ((v / bc2).sqrt() + eps);
                }
            }
        }
    }
}

/// Adam's bias corrections `1 - beta^t`, computed in f64 and rounded once (both backends).
pub fn adam_corrections(beta1: f32, beta2: f32, t: u64) -> (f32, f32) {
    let t = t.max(1) as i32;
    (
        (1.0 - (beta1 as f64).powi(t)) as f32,
        (1.0 - (beta2 as f64).powi(t)) as f32,
    )
}

/// CPU reference backend.
pub struct CpuBackend {
    dims: Vec<usize>,
    weights: Vec<Param>,
    biases: Vec<Param>,
    opt: Optimizer,
    train: Dataset,
    test: Option<Dataset>,
    max_batch: usize,
    /// Activations a[0..=L] (a[0] is the input batch), each max_batch x dims[l].
    acts: Vec<Vec<f32>>,
    /// dz for layers 0..L, each max_batch x dims[l+1].
    dz: Vec<Vec<f32>>,
    penalty: Vec<Option<Assembly>>,
    stats: Vec<(f32, u32)>,
}

impl CpuBackend {
    /// Takes the model's parameters; `max_batch` bounds the batch size of steps and
    /// evaluation chunks.
    pub fn new(
        model: &Mlp,
        train: Dataset,
        test: Option<Dataset>,
        opt: Optimizer,
        max_batch: usize,
    ) -> Result<CpuBackend> {
        super::backend::check_fit(model, &train, test.as_ref())?;
        let dims = model.dims();
        let max_batch = max_batch.max(1);
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for l in &model.layers {
            let l = l.as_linear();
            weights.push(Param::new(l.weight.clone(), true));
            biases.push(Param::new(l.bias.clone(), l.bias_name.is_some()));
        }
        Ok(CpuBackend {
            acts: dims.iter().map(|&d| vec![0.0; max_batch * d]).collect(),
            dz: dims[1..]
                .iter()
                .map(|&d| vec![0.0; max_batch * d])
                .collect(),
            penalty: vec![None; model.layers.len()],
            stats: Vec::new(),
            dims,
            weights,
            biases,
            opt,
            train,
            test,
            max_batch,
        })
    }

    /// Forward pass of `b` rows already in `acts[0]`.
    fn forward(&mut self, b: usize) {
        let nl = self.weights.len();
        for l in 0..nl {
            let (din, dout) = (self.dims[l], self.dims[l + 1]);
            let (lo, hi) = self.acts.split_at_mut(l + 1);
            let (x, out) = (&lo[l][..b * din], &mut hi[0][..b * dout]);
            let bias = &self.biases[l].w;
            for r in 0..b {
                out[r * dout..(r + 1) * dout].copy_from_slice(bias);
            }
            gemm(
                false,
                true,
                b,
                dout,
                din,
                1.0,
                x,
                &self.weights[l].w,
                1.0,
                out,
            );
            if l + 1 < nl {
                for v in out.iter_mut() {
                    *v = v.max(0.0);
                }
            }
        }
    }

    fn load_rows(&mut self, data: Split, rows: &[u32]) {
        let d = self.dims[0];
        let src = match data {
            Split::Train => &self.train,
            Split::Test => self.test.as_ref().expect("checked by caller"),
        };
        for (r, &i) in rows.iter().enumerate() {
            self.acts[0][r * d..(r + 1) * d].copy_from_slice(src.row(i as usize));
        }
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        "cpu (f32, OpenBLAS sgemm)".into()
    }

    fn train_step(&mut self, batch: &[u32], slot: usize, p: &StepParams) -> Result<()> {
        let b = batch.len();
        if b == 0 || b > self.max_batch {
            return Err(Error::InvalidArgument(format!(
                "batch of {b} (maximum {})",
                self.max_batch
            )));
        }
        self.load_rows(Split::Train, batch);
        self.forward(b);
        let nl = self.weights.len();
        let classes = self.dims[nl];
        // Loss and dz of the last layer; the batch loss is summed in row order in f32.
        let mut loss_sum = 0.0f32;
        let mut correct = 0u32;
        for (r, &i) in batch.iter().enumerate() {
            let y = self.train.y[i as usize] as usize;
            let z = &self.acts[nl][r * classes..(r + 1) * classes];
            let dz = &mut self.dz[nl - 1][r * classes..(r + 1) * classes];
            let (loss, arg) = softmax_xent_row(z, y, 1.0 / b as f32, dz);
            loss_sum += loss;
            correct += (arg == y) as u32;
        }
        if self.stats.len() <= slot {
            self.stats.resize(slot + 1, (0.0, 0));
        }
        self.stats[slot] = (loss_sum / b as f32, correct);
        // Backward.
        for l in (0..nl).rev() {
            let (din, dout) = (self.dims[l], self.dims[l + 1]);
            let dz = &self.dz[l][..b * dout];
            gemm(
                true,
                false,
                dout,
                din,
                b,
                1.0,
                dz,
                &self.acts[l][..b * din],
                0.0,
                &mut self.weights[l].grad,
            );
            let gb = &mut self.biases[l].grad;
            gb.fill(0.0);
            for r in 0..b {
                for (g, &d) in gb.iter_mut().zip(&dz[r * dout..(r + 1) * dout]) {
                    *g += d;
                }
            }
            if l > 0 {
                let (lo, hi) = self.dz.split_at_mut(l);
                let prev = &mut lo[l - 1][..b * din];
                gemm(
                    false,
                    false,
                    b,
                    din,
                    dout,
                    1.0,
                    &hi[0][..b * dout],
                    &self.weights[l].w,
                    0.0,
                    prev,
                );
                for (d, &a) in prev.iter_mut().zip(&self.acts[l][..b * din]) {
                    if a <= 0.0 {
                        *d = 0.0;
                    }
                }
            }
            if let Some(a) = &mut self.penalty[l] {
                let Param { w, grad, .. } = &mut self.weights[l];
                a.add_gradient(w, dout, din, grad)?;
            }
        }
        for l in 0..nl {
            self.weights[l].update(self.opt, p);
            self.biases[l].update(self.opt, p);
        }
        Ok(())
    }

    fn take_step_stats(&mut self, steps: usize) -> Result<Vec<(f32, u32)>> {
        let mut out = std::mem::take(&mut self.stats);
        out.resize(steps, (0.0, 0));
        Ok(out)
    }

    fn evaluate(&mut self, split: Split) -> Result<Eval> {
        let n = match split {
            Split::Train => self.train.len(),
            Split::Test => match &self.test {
                Some(t) => t.len(),
                None => return Err(Error::InvalidArgument("no test set registered".into())),
            },
        };
        let nl = self.weights.len();
        let classes = self.dims[nl];
        let (mut loss, mut correct) = (0.0f64, 0usize);
        let mut dz = vec![0.0f32; classes];
        let mut start = 0;
        while start < n {
            let b = self.max_batch.min(n - start);
            let rows: Vec<u32> = (start as u32..(start + b) as u32).collect();
            self.load_rows(split, &rows);
            self.forward(b);
            let labels = match split {
                Split::Train => &self.train.y,
                Split::Test => &self.test.as_ref().expect("checked").y,
            };
            for r in 0..b {
                let y = labels[start + r] as usize;
                let z = &self.acts[nl][r * classes..(r + 1) * classes];
                let (l, arg) = softmax_xent_row(z, y, 0.0, &mut dz);
                loss += l as f64;
                correct += (arg == y) as usize;
            }
            start += b;
        }
        Ok(Eval {
            loss: loss / n.max(1) as f64,
            accuracy: correct as f64 / n.max(1) as f64,
        })
    }

    fn set_penalty(&mut self, layer: usize, spectrum: Option<&PenaltySpectrum>) -> Result<()> {
        let slot = self
            .penalty
            .get_mut(layer)
            .ok_or_else(|| Error::InvalidArgument(format!("no layer {layer}")))?;
        *slot = match spectrum {
            None => None,
            Some(ps) => Some(Assembly::new(ps)?),
        };
        Ok(())
    }

    fn read_model(&mut self, model: &mut Mlp) -> Result<()> {
        for (l, layer) in model.layers.iter_mut().enumerate() {
            let lin = layer.as_linear_mut();
            lin.weight.copy_from_slice(&self.weights[l].w);
            lin.bias.copy_from_slice(&self.biases[l].w);
        }
        Ok(())
    }

    fn read_weight(&mut self, layer: usize) -> Result<Vec<f32>> {
        Ok(self.weights[layer].w.clone())
    }
}
