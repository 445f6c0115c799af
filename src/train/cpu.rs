//! The CPU reference backend: any [`Net`] through [`CpuNet`] (layer kernels in
//! [`super::cpu_ops`]); for an MLP the same f32 step as the wgpu backend (see
//! [`super::backend`]), with matrix products through single-precision BLAS (`sgemm`, system
//! OpenBLAS). All buffers are allocated once, for the largest batch.

use super::backend::{
    Backend, Eval, GramSide, Optimizer, PenaltySpectrum, SlicePenalty, Split, StepParams,
};
use super::cpu_ops::CpuNet;
use super::cpu_penalty::{CpuPenalties, view_rows};
use super::data::Dataset;
use super::model::Mlp;
use super::net::{Net, WeightView};
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
/// `(softmax - onehot) * scale` into `dz`. Same formula as `gpu/softmax_xent.wgsl`.
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

/// Adam's bias corrections `1 - beta^t`, computed in f64 and rounded once (both backends).
pub fn adam_corrections(beta1: f32, beta2: f32, t: u64) -> (f32, f32) {
    let t = t.max(1) as i32;
    (
        (1.0 - (beta1 as f64).powi(t)) as f32,
        (1.0 - (beta2 as f64).powi(t)) as f32,
    )
}

/// CPU reference backend: any [`Net`] through [`CpuNet`].
pub struct CpuBackend {
    net: CpuNet,
    /// Penalty terms of the penalised weights.
    pen: CpuPenalties,
    opt: Optimizer,
    train: Dataset,
    test: Option<Dataset>,
    stats: Vec<(f32, u32)>,
    /// Run seed: dropout masks and the training set's augmentation.
    seed: u64,
}

impl CpuBackend {
    /// An MLP backend (see [`CpuBackend::from_net`]).
    pub fn new(
        model: &Mlp,
        train: Dataset,
        test: Option<Dataset>,
        opt: Optimizer,
        max_batch: usize,
    ) -> Result<CpuBackend> {
        Self::from_net(&Net::from_mlp(model), train, test, opt, max_batch, 0)
    }

    /// Takes the network's parameters; `max_batch` bounds the batch size of steps and
    /// evaluation chunks; `seed` seeds dropout masks and augmentation.
    pub fn from_net(
        net: &Net,
        train: Dataset,
        test: Option<Dataset>,
        opt: Optimizer,
        max_batch: usize,
        seed: u64,
    ) -> Result<CpuBackend> {
        let cpu = CpuNet::new(net, max_batch, seed)?;
        super::backend::check_fit_dims(cpu.input_len(), cpu.classes(), &train, test.as_ref())?;
        let penalised: Vec<(usize, WeightView)> = net
            .penalised_weights(false)
            .into_iter()
            .map(|p| (p.param, p.view))
            .collect();
        Ok(CpuBackend {
            pen: CpuPenalties::new(penalised),
            net: cpu,
            stats: Vec::new(),
            opt,
            train,
            test,
            seed,
        })
    }

    fn load_rows(&mut self, data: Split, rows: &[u32]) {
        let d = self.net.input_len();
        let src = match data {
            Split::Train => &self.train,
            Split::Test => self.test.as_ref().expect("checked by caller"),
        };
        let input = self.net.input_mut();
        for (r, &i) in rows.iter().enumerate() {
            input[r * d..(r + 1) * d].copy_from_slice(src.row(i as usize));
        }
    }

    fn split_len(&self, split: Split) -> Result<usize> {
        match split {
            Split::Train => Ok(self.train.len()),
            Split::Test => match &self.test {
                Some(t) => Ok(t.len()),
                None => Err(Error::InvalidArgument("no test set registered".into())),
            },
        }
    }

    /// Eval-mode forward of rows `start..start + b` of a data set.
    fn forward_rows(&mut self, split: Split, start: usize, b: usize) -> Result<()> {
        let rows: Vec<u32> = (start as u32..(start + b) as u32).collect();
        self.load_rows(split, &rows);
        self.net.forward(b, false)
    }

    /// Train-mode mean loss of the first `n` rows of a data set as one batch (batch-norm
    /// statistics of those rows), without a step. Running statistics are updated as in
    /// PyTorch's train-mode forward.
    pub fn train_mode_loss(&mut self, split: Split, n: usize) -> Result<f64> {
        let n = n.min(self.split_len(split)?);
        let rows: Vec<u32> = (0..n as u32).collect();
        self.load_rows(split, &rows);
        self.net.forward(n, true)?;
        let labels = self.labels(split);
        let c = self.net.classes();
        let mut dz = vec![0.0f32; c];
        let out = self.net.output(n);
        let mut loss = 0.0f64;
        for r in 0..n {
            loss += softmax_xent_row(&out[r * c..(r + 1) * c], labels[r] as usize, 0.0, &mut dz).0
                as f64;
        }
        Ok(loss / n.max(1) as f64)
    }

    fn labels(&self, split: Split) -> &[u32] {
        match split {
            Split::Train => &self.train.y,
            Split::Test => &self.test.as_ref().expect("checked").y,
        }
    }
}

/// The train-mode forward and backward passes of one batch (augmented as epoch `p.epoch`
/// sees it): parameter gradients of the mean cross-entropy; returns the batch's mean loss and
/// number of correct predictions (the loss summed in row order in f32).
fn forward_backward(
    net: &mut CpuNet,
    train: &Dataset,
    seed: u64,
    batch: &[u32],
    p: &StepParams,
) -> Result<(f32, u32)> {
    let b = batch.len();
    let d = net.input_len();
    train.gather_into(batch, seed, p.epoch, &mut net.input_mut()[..b * d]);
    net.set_step(p.t);
    net.forward(b, true)?;
    let classes = net.classes();
    let z = net.output(b).to_vec();
    let mut dz = vec![0.0f32; b * classes];
    let (mut loss_sum, mut correct) = (0.0f32, 0u32);
    for (r, &i) in batch.iter().enumerate() {
        let y = train.y[i as usize] as usize;
        let rows = r * classes..(r + 1) * classes;
        let (loss, arg) = softmax_xent_row(&z[rows.clone()], y, 1.0 / b as f32, &mut dz[rows]);
        loss_sum += loss;
        correct += (arg == y) as u32;
    }
    net.output_grad_mut(b).copy_from_slice(&dz);
    net.backward(b)?;
    Ok((loss_sum / b as f32, correct))
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        "cpu (f32, OpenBLAS sgemm)".into()
    }

    fn train_step(&mut self, batch: &[u32], slot: usize, p: &StepParams) -> Result<()> {
        let b = batch.len();
        if b == 0 || b > self.net.max_batch() {
            return Err(Error::InvalidArgument(format!(
                "batch of {b} (maximum {})",
                self.net.max_batch()
            )));
        }
        if let Some(&bad) = batch.iter().find(|&&i| i as usize >= self.train.len()) {
            return Err(Error::InvalidArgument(format!("sample {bad} out of range")));
        }
        // The penalty products that run beside the passes read the weights as they are now.
        let offload = self.pen.begin(&self.net.params);
        let (net, pen, train) = (&mut self.net, &mut self.pen, &self.train);
        let stats = std::thread::scope(|s| -> Result<(f32, u32)> {
            let worker = offload.then(|| s.spawn(|| pen.products()));
            let stats = forward_backward(net, train, self.seed, batch, p);
            if let Some(h) = worker {
                h.join().map_err(|_| {
                    Error::Numerical("the penalty product thread panicked".into())
                })??;
            }
            stats
        })?;
        if self.stats.len() <= slot {
            self.stats.resize(slot + 1, (0.0, 0));
        }
        self.stats[slot] = stats;
        self.pen.finish(&mut self.net.params, offload)?;
        for ps in &mut self.net.params {
            ps.update(self.opt, p);
        }
        Ok(())
    }

    fn take_step_stats(&mut self, steps: usize) -> Result<Vec<(f32, u32)>> {
        let mut out = std::mem::take(&mut self.stats);
        out.resize(steps, (0.0, 0));
        Ok(out)
    }

    fn evaluate(&mut self, split: Split) -> Result<Eval> {
        let n = self.split_len(split)?;
        let classes = self.net.classes();
        let (mut loss, mut correct) = (0.0f64, 0usize);
        let mut dz = vec![0.0f32; classes];
        let mut start = 0;
        while start < n {
            let b = self.net.max_batch().min(n - start);
            self.forward_rows(split, start, b)?;
            let labels = self.labels(split);
            let out = self.net.output(b);
            for r in 0..b {
                let y = labels[start + r] as usize;
                let (l, arg) =
                    softmax_xent_row(&out[r * classes..(r + 1) * classes], y, 0.0, &mut dz);
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

    fn set_penalty(&mut self, weight: usize, spectrum: Option<&PenaltySpectrum>) -> Result<()> {
        let (p, view) = self.pen.penalised(weight)?;
        let assembly = match spectrum {
            None => None,
            Some(ps) => {
                let rows = view_rows(view);
                let cols = self.net.params[p].w.len() / rows;
                let want = match ps.side {
                    GramSide::Right => cols,
                    GramSide::Left => rows,
                };
                if ps.n != want || ps.vectors.len() != ps.n * ps.n || ps.g.len() != ps.n {
                    return Err(Error::InvalidArgument(format!(
                        "penalty spectrum of order {} ({:?}) for '{}' seen as {rows} x {cols}",
                        ps.n, ps.side, self.net.net.params[p].name
                    )));
                }
                Some(Assembly::new(ps)?)
            }
        };
        self.pen.set_dense(weight, assembly);
        Ok(())
    }

    fn set_slice_penalties(&mut self, weight: usize, slices: &[SlicePenalty]) -> Result<()> {
        let (p, view) = self.pen.penalised(weight)?;
        let WeightView::ConvSlices { out, inp, kh, kw } = view else {
            if slices.is_empty() {
                return Ok(());
            }
            return Err(Error::InvalidArgument(format!(
                "'{}' is not a convolution weight: no slice penalties",
                self.net.net.params[p].name
            )));
        };
        let mut set = Vec::with_capacity(slices.len());
        for s in slices {
            let ps = &s.spectrum;
            let want = match ps.side {
                GramSide::Right => inp,
                GramSide::Left => out,
            };
            if s.slice.0 >= kh
                || s.slice.1 >= kw
                || ps.n != want
                || ps.vectors.len() != ps.n * ps.n
                || ps.g.len() != ps.n
            {
                return Err(Error::InvalidArgument(format!(
                    "slice {:?} penalty of order {} ({:?}) for '{}' of shape [{out}, {inp}, {kh}, {kw}]",
                    s.slice, ps.n, ps.side, self.net.net.params[p].name
                )));
            }
            set.push((s.slice, ps.clone()));
        }
        self.pen.set_slices(weight, set);
        Ok(())
    }

    fn read_net(&mut self, net: &mut Net) -> Result<()> {
        self.net.write_back(net)
    }

    fn read_weight(&mut self, weight: usize) -> Result<Vec<f32>> {
        let (p, _) = self.pen.penalised(weight)?;
        Ok(self.net.params[p].w.clone())
    }

    fn logits(&mut self, split: Split, n: usize) -> Result<Vec<f32>> {
        let n = n.min(self.split_len(split)?);
        let mut out = Vec::with_capacity(n * self.net.classes());
        let mut start = 0;
        while start < n {
            let b = self.net.max_batch().min(n - start);
            self.forward_rows(split, start, b)?;
            out.extend_from_slice(self.net.output(b));
            start += b;
        }
        Ok(out)
    }
}
