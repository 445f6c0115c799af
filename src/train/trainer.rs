//! The training loop, shared by every backend: seeded data order, batches, spectrum refreshes
//! for a heavy-tailed penalty, per-epoch evaluation and timing.

use std::time::Instant;

use super::backend::{Backend, Eval, Optimizer, PenaltySpectrum, Split, StepParams};
use super::data::epoch_order;
use super::spectral::decompose;
use crate::error::{Error, Result};

/// Hyper-parameters of a run. Two runs with equal configs see the same batches in the same
/// order (the order depends only on `seed` and the epoch).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per step (the last step of an epoch takes the remainder).
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f32,
    /// Coupled L2 weight decay.
    pub weight_decay: f32,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Seed of the data order (and of the initialisation when training from scratch).
    pub seed: u64,
    /// Steps between spectrum refreshes of the penalty (1 = exact gradient at every step).
    pub spectrum_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 15,
            batch_size: 64,
            lr: 0.05,
            weight_decay: 0.0,
            optimizer: Optimizer::Sgd { momentum: 0.9 },
            seed: 0,
            spectrum_every: 1,
        }
    }
}

/// A penalty on the eigenvalues of each regularized layer, as the trainer sees it.
pub trait SpectralPenalty {
    /// Short description for logs and the JSON.
    fn describe(&self) -> String;
    /// Called once before the first step with every layer's initial eigenvalues (ascending),
    /// for defaults fixed at the start of training (e.g. the Frechet scale).
    fn start(&mut self, layer: usize, eigenvalues: &[f64]) -> Result<()>;
    /// The weighted layer penalty `mu_e * max(0, R - t)` and its spectral coefficients
    /// `g = mu_e [R > t] dR/d lambda` at epoch `epoch` (0-based) for the eigenvalues
    /// `eigenvalues` (ascending); decay schedule and threshold included.
    fn spectral(&self, layer: usize, eigenvalues: &[f64], epoch: usize) -> Result<(f64, Vec<f64>)>;
    /// The weight `mu_e` at epoch `epoch` after any decay; 0 switches the penalty off.
    fn weight(&self, epoch: usize) -> f64;
}

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps (running, as the weights moved).
    pub train_loss: f64,
    /// Training accuracy over the epoch's steps.
    pub train_accuracy: f64,
    /// Held-out loss and accuracy after the epoch.
    pub test: Option<Eval>,
    /// Wall seconds of the epoch's steps (without evaluation).
    pub seconds: f64,
    /// Of which: spectrum refreshes (read-back, eigendecomposition, g, upload).
    pub penalty_refresh_seconds: f64,
    /// `mu_e * sum_l R_l`, averaged over the epoch's refreshes (absent without a penalty).
    pub penalty_value: Option<f64>,
    /// The multiplier used in this epoch.
    pub mu: Option<f64>,
}

/// Progress events for a bar or a log.
#[derive(Debug)]
pub enum Progress<'a> {
    /// A step finished (1-based `step` of `steps` in 1-based `epoch`).
    Step {
        /// Epoch.
        epoch: usize,
        /// Step within the epoch.
        step: usize,
        /// Steps per epoch.
        steps: usize,
    },
    /// An epoch finished.
    Epoch(&'a EpochRecord),
    /// The starting model's held-out evaluation (epoch 0), before the first step.
    Start(&'a Eval),
}

/// Everything a run produced besides the weights.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct History {
    /// Backend that computed it.
    pub backend: String,
    /// Held-out loss and accuracy of the starting model (epoch 0), before any step.
    #[serde(default)]
    pub start: Option<Eval>,
    /// Per epoch.
    pub epochs: Vec<EpochRecord>,
    /// Mean loss of every step, in order.
    pub step_losses: Vec<f32>,
}

/// Runs `cfg.epochs` epochs over `n_train` samples on `backend`. `shapes[l]` is penalised
/// weight l's `(out, in)`; `penalty` (if any) regularizes every one. `has_test`: evaluate the
/// test set before the first step (epoch 0) and after every epoch.
pub fn train(
    backend: &mut dyn Backend,
    shapes: &[(usize, usize)],
    n_train: usize,
    has_test: bool,
    cfg: &TrainConfig,
    penalty: Option<&mut dyn SpectralPenalty>,
    on: &mut dyn FnMut(Progress<'_>),
) -> Result<History> {
    let targets: Vec<(usize, (usize, usize))> = shapes.iter().copied().enumerate().collect();
    train_targets(backend, &targets, n_train, has_test, cfg, penalty, on)
}

/// [`train`] with the penalty on a subset of the backend's penalised weights: `targets` lists
/// `(weight index, (rows, cols))`; the penalty's layer `l` is `targets[l]` (e.g. a CNN's
/// Linear weights while its convolutions wait for the slice view of issue 12, or every
/// weight in the `out x (in kh kw)` view).
pub fn train_targets(
    backend: &mut dyn Backend,
    targets: &[(usize, (usize, usize))],
    n_train: usize,
    has_test: bool,
    cfg: &TrainConfig,
    mut penalty: Option<&mut dyn SpectralPenalty>,
    on: &mut dyn FnMut(Progress<'_>),
) -> Result<History> {
    if cfg.batch_size == 0 || n_train == 0 {
        return Err(Error::InvalidArgument(
            "batch size and training set must be non-empty".into(),
        ));
    }
    let every = cfg.spectrum_every.max(1);
    if let Some(p) = penalty.as_deref_mut() {
        for (l, &(w, (o, i))) in targets.iter().enumerate() {
            let s = decompose(&backend.read_weight(w)?, o, i)?;
            p.start(l, &s.eigenvalues)?;
        }
    }
    let steps = n_train.div_ceil(cfg.batch_size);
    let mut hist = History {
        backend: backend.name(),
        start: if has_test {
            Some(backend.evaluate(Split::Test)?)
        } else {
            None
        },
        epochs: Vec::new(),
        step_losses: Vec::new(),
    };
    if let Some(e) = &hist.start {
        on(Progress::Start(e));
    }
    let mut t = 0u64;
    for epoch in 0..cfg.epochs {
        let order = epoch_order(n_train, cfg.seed, epoch);
        let start = Instant::now();
        let mut refresh_secs = 0.0;
        let (mut pen_sum, mut pen_count) = (0.0, 0usize);
        let mu = penalty.as_deref().map(|p| p.weight(epoch));
        for s in 0..steps {
            if let (Some(p), Some(mu)) = (penalty.as_deref(), mu)
                && (t as usize).is_multiple_of(every)
            {
                let r0 = Instant::now();
                pen_sum += refresh(backend, targets, p, mu, epoch)?;
                pen_count += 1;
                refresh_secs += r0.elapsed().as_secs_f64();
            }
            t += 1;
            let batch: Vec<u32> = order
                [s * cfg.batch_size..((s + 1) * cfg.batch_size).min(n_train)]
                .iter()
                .map(|&i| i as u32)
                .collect();
            let p = StepParams {
                lr: cfg.lr,
                weight_decay: cfg.weight_decay,
                t,
            };
            backend.train_step(&batch, s, &p)?;
            on(Progress::Step {
                epoch: epoch + 1,
                step: s + 1,
                steps,
            });
        }
        let stats = backend.take_step_stats(steps)?;
        let seconds = start.elapsed().as_secs_f64();
        let (mut loss, mut correct) = (0.0f64, 0u64);
        for (s, &(l, c)) in stats.iter().enumerate() {
            let b = cfg.batch_size.min(n_train - s * cfg.batch_size);
            loss += l as f64 * b as f64;
            correct += c as u64;
            hist.step_losses.push(l);
        }
        if !loss.is_finite() {
            return Err(Error::Numerical(format!(
                "training loss became {loss} in epoch {}: lower the learning rate or mu",
                epoch + 1
            )));
        }
        let test = if has_test {
            Some(backend.evaluate(Split::Test)?)
        } else {
            None
        };
        hist.epochs.push(EpochRecord {
            epoch: epoch + 1,
            train_loss: loss / n_train as f64,
            train_accuracy: correct as f64 / n_train as f64,
            test,
            seconds,
            penalty_refresh_seconds: refresh_secs,
            penalty_value: mu.map(|_| {
                if pen_count > 0 {
                    pen_sum / pen_count as f64
                } else {
                    0.0
                }
            }),
            mu,
        });
        on(Progress::Epoch(hist.epochs.last().expect("pushed")));
    }
    Ok(hist)
}

/// Recomputes every layer's spectrum and hands (V, g) to the backend; returns the weighted
/// penalty summed over layers.
fn refresh(
    backend: &mut dyn Backend,
    targets: &[(usize, (usize, usize))],
    p: &dyn SpectralPenalty,
    mu: f64,
    epoch: usize,
) -> Result<f64> {
    let mut total = 0.0;
    for (l, &(w, (o, i))) in targets.iter().enumerate() {
        if mu == 0.0 {
            backend.set_penalty(w, None)?;
            continue;
        }
        let s = decompose(&backend.read_weight(w)?, o, i)?;
        let (r, g) = p.spectral(l, &s.eigenvalues, epoch)?;
        total += r;
        let ps = PenaltySpectrum {
            side: s.side,
            n: s.n,
            vectors: s.vectors.iter().map(|&v| v as f32).collect(),
            g: g.iter().map(|&v| v as f32).collect(),
            coef: 2.0,
        };
        backend.set_penalty(w, Some(&ps))?;
    }
    Ok(total)
}
