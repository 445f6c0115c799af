//! The training loop, shared by every backend: seeded data order, batches, spectrum refreshes
//! for a heavy-tailed penalty ([`super::refresh`], on a worker thread), per-epoch evaluation
//! and timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::backend::{Backend, Eval, Optimizer, Split, StepParams};
use super::data::epoch_order;
pub use super::penalty::SpectralPenalty;
use super::refresh::{RefreshPolicy, RefreshRecord, Refresher};
use super::refresh_worker::with_worker;
use super::spectral::widen;
use crate::error::{Error, Result};
use crate::regularize::MatrixView;

/// A flag another thread (a Ctrl-C handler) sets to stop a run between two steps; the run
/// then returns [`Error::Interrupted`] and writes nothing.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(pub Option<Arc<AtomicBool>>);

impl CancelToken {
    fn is_set(&self) -> bool {
        self.0.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
    }
}

impl PartialEq for CancelToken {
    /// Tokens never make two configurations differ.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

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
    /// Spectrum refreshes of the penalty: interval (`auto` by default, 1 = exact gradient at
    /// every step) and lag bound.
    pub refresh: RefreshPolicy,
    /// Stops the run between steps when set.
    #[serde(skip)]
    pub cancel: CancelToken,
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
            refresh: RefreshPolicy::default(),
            cancel: CancelToken::default(),
        }
    }
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
    /// Of which: the training thread's share of spectrum refreshes (read-back, hand-over,
    /// waiting for the worker; the decomposition itself runs on the worker thread).
    pub penalty_refresh_seconds: f64,
    /// `mu_e * sum_l R_l`, averaged over the refreshes handed over in the epoch (the latest
    /// one when none was; absent without a penalty).
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
    /// Wall seconds per step of the training thread, all costs included (mean over the run).
    pub seconds_per_step: f64,
    /// Median over the steps of the training thread's wall seconds per step, including each
    /// step's refresh work.
    pub median_step_seconds: f64,
    /// What the spectrum refreshes did (absent without a penalty).
    pub refresh: Option<RefreshRecord>,
}

/// Runs `cfg.epochs` epochs over `n_train` samples on `backend`. `shapes[l]` is penalised
/// weight l's `(out, in)`; `penalty` (if any) regularizes every one, its spectra refreshed on a
/// worker thread that is joined before this returns. `has_test`: evaluate the test set before
/// the first step (epoch 0) and after every epoch.
pub fn train(
    backend: &mut dyn Backend,
    shapes: &[(usize, usize)],
    n_train: usize,
    has_test: bool,
    cfg: &TrainConfig,
    penalty: Option<&mut dyn SpectralPenalty>,
    on: &mut dyn FnMut(Progress<'_>),
) -> Result<History> {
    let targets: Vec<PenaltyTarget> = shapes
        .iter()
        .enumerate()
        .map(|(weight, &(out, inp))| PenaltyTarget {
            weight,
            view: MatrixView::Dense { out, inp },
        })
        .collect();
    train_targets(backend, &targets, n_train, has_test, cfg, penalty, on)
}

/// One penalised weight of a backend: its index among the backend's penalised weights and
/// the matrices the penalty sees in it (a Linear weight; a convolution's kernel slices,
/// pooled, or its `out x (in kh kw)` flattening).
#[derive(Debug, Clone, PartialEq)]
pub struct PenaltyTarget {
    /// Index of the weight in the backend's penalised weights.
    pub weight: usize,
    /// How the penalty sees it.
    pub view: MatrixView,
}

/// [`train`] with the penalty on a subset of the backend's penalised weights, each seen
/// through its own view; the penalty's layer `l` is `targets[l]`.
pub fn train_targets(
    backend: &mut dyn Backend,
    targets: &[PenaltyTarget],
    n_train: usize,
    has_test: bool,
    cfg: &TrainConfig,
    penalty: Option<&mut dyn SpectralPenalty>,
    on: &mut dyn FnMut(Progress<'_>),
) -> Result<History> {
    if cfg.batch_size == 0 || n_train == 0 {
        return Err(Error::InvalidArgument(
            "batch size and training set must be non-empty".into(),
        ));
    }
    let Some(p) = penalty else {
        return run_steps(backend, n_train, has_test, cfg, None, on);
    };
    let views: Vec<MatrixView> = targets.iter().map(|t| t.view).collect();
    let weights: Vec<(usize, bool)> = targets
        .iter()
        .map(|t| (t.weight, matches!(t.view, MatrixView::ConvSlices { .. })))
        .collect();
    for (l, t) in targets.iter().enumerate() {
        let w = widen(&backend.read_weight(t.weight)?)?;
        p.start(l, &t.view.pooled_eigenvalues(&w)?)?;
    }
    let p: &dyn SpectralPenalty = &*p;
    with_worker(p, &views, |link| {
        let policy = RefreshPolicy {
            hold: Some(cfg.refresh.holds(p.full_rank_product())),
            ..cfg.refresh
        };
        let mut r = Refresher::new(policy, link, weights);
        let mut hist = run_steps(backend, n_train, has_test, cfg, Some((p, &mut r)), on)?;
        hist.refresh = Some(r.finish());
        Ok(hist)
    })
}

/// The epochs and steps of [`train`], with the penalty's refresher if there is one.
fn run_steps(
    backend: &mut dyn Backend,
    n_train: usize,
    has_test: bool,
    cfg: &TrainConfig,
    mut penalty: Option<(&dyn SpectralPenalty, &mut Refresher)>,
    on: &mut dyn FnMut(Progress<'_>),
) -> Result<History> {
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
        seconds_per_step: 0.0,
        median_step_seconds: 0.0,
        refresh: None,
    };
    if let Some(e) = &hist.start {
        on(Progress::Start(e));
    }
    let mut step_secs = Vec::with_capacity(steps * cfg.epochs);
    let mut t = 0u64;
    for epoch in 0..cfg.epochs {
        let order = epoch_order(n_train, cfg.seed, epoch);
        let start = Instant::now();
        let mu = penalty.as_ref().map(|(p, _)| p.weight(epoch));
        for s in 0..steps {
            if cfg.cancel.is_set() {
                return Err(Error::Interrupted);
            }
            let s0 = Instant::now();
            if let (Some((_, r)), Some(mu)) = (penalty.as_mut(), mu) {
                r.before_step(backend, t, epoch, mu)?;
            }
            let s1 = Instant::now();
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
                epoch,
            };
            backend.train_step(&batch, s, &p)?;
            if let Some((_, r)) = penalty.as_mut() {
                r.step_done(s1.elapsed().as_secs_f64());
            }
            step_secs.push(s0.elapsed().as_secs_f64());
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
        let (refresh_secs, value) = match penalty.as_mut() {
            Some((_, r)) => r.take_epoch(),
            None => (0.0, 0.0),
        };
        hist.epochs.push(EpochRecord {
            epoch: epoch + 1,
            train_loss: loss / n_train as f64,
            train_accuracy: correct as f64 / n_train as f64,
            test,
            seconds,
            penalty_refresh_seconds: refresh_secs,
            penalty_value: mu.map(|_| value),
            mu,
        });
        on(Progress::Epoch(hist.epochs.last().expect("pushed")));
    }
    let total: f64 = hist.epochs.iter().map(|e| e.seconds).sum();
    hist.seconds_per_step = total / step_secs.len().max(1) as f64;
    step_secs.sort_by(f64::total_cmp);
    hist.median_step_seconds = step_secs.get(step_secs.len() / 2).copied().unwrap_or(0.0);
    Ok(hist)
}
