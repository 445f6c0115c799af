//! Regularize-and-compare (REGULARIZATION.md, "Fine-tuning and comparison protocol"): the same
//! fine-tuning run twice from one checkpoint, with identical seed, data order and
//! hyper-parameters, once as the baseline (no regularization, weight decay, or spectral-norm
//! regularization) and once with a heavy-tailed penalty; then every layer's spectrum before
//! and after, through the analyze pipeline.

use std::path::Path;

use serde::Serialize;

use super::backend::Eval;
use super::data::Dataset;
use super::device::{DeviceChoice, open_net_backend};
use super::net::Net;
use super::penalty::LayerPenalties;
use super::trainer::{
    History, PenaltyTarget, Progress, SpectralPenalty, TrainConfig, train_targets,
};
use crate::error::Result;
use crate::regularize::{Penalty, Regularizer, SpectralNormParams};
use crate::result::AnalysisResult;

/// The run the penalty is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Baseline {
    /// The same run without any regularization.
    None,
    /// Coupled L2 weight decay in the optimizer (`g += wd * w` on every parameter, as
    /// PyTorch's `weight_decay`), strength `wd`.
    WeightDecay {
        /// The decay coefficient.
        wd: f32,
    },
    /// Spectral-norm regularization `mu * sum_l sigma_max(W_l)^2` (Yoshida & Miyato 2017),
    /// through the same spectrum-refresh path as the heavy-tailed penalties.
    SpectralNorm {
        /// Its weight.
        mu: f64,
    },
}

impl std::fmt::Display for Baseline {
    /// As the command line spells it: `none`, `weight-decay (wd = 0.0005)`,
    /// `spectral-norm (mu = 0.001)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Baseline::None => write!(f, "none"),
            Baseline::WeightDecay { wd } => write!(f, "weight-decay (wd = {wd})"),
            Baseline::SpectralNorm { mu } => write!(f, "spectral-norm (mu = {mu})"),
        }
    }
}

/// One run's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// "baseline" or "regularized".
    pub name: String,
    /// What regularized it.
    pub regularization: String,
    /// Curves and timings.
    pub history: History,
    /// Held-out loss and accuracy at the end.
    pub final_test: Option<Eval>,
    /// Mean wall seconds per epoch (training steps only).
    pub seconds_per_epoch: f64,
    /// Share of the step time spent in spectrum refreshes (read-back, eigendecomposition,
    /// g, upload); the assembly on the device is inside the remaining step time.
    pub refresh_share: f64,
}

/// Spectral numbers of one layer in one model (from the analysis).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LayerNumbers {
    /// Power-law exponent (-1 when the fit failed).
    pub alpha: f64,
    /// alpha * log10(lambda_max).
    pub alpha_weighted: f64,
    /// ||W||_F^2 / ||W||_2^2.
    pub stable_rank: f64,
    /// Largest eigenvalue of W^T W.
    pub lambda_max: f64,
}

/// The analysed number a penalty acts on, read from a layer's [`LayerNumbers`]: what to
/// watch before and after a run (`htdiag regularize`'s summary prints it per layer).
#[derive(Debug, Clone, Copy)]
pub struct PenaltyMetric {
    /// Its name as the summary prints it (`stable_rank`).
    pub name: &'static str,
    /// Its value in one model; `None` where it does not exist (a failed power-law fit).
    pub of: fn(&LayerNumbers) -> Option<f64>,
}

/// alpha, or `None` for a failed fit (alpha -1 in [`LayerNumbers`]).
fn fitted_alpha(v: &LayerNumbers) -> Option<f64> {
    (v.alpha >= 0.0).then_some(v.alpha)
}

/// The power-law exponent alpha: the number every heavy-tailed penalty is about.
pub const ALPHA_METRIC: PenaltyMetric = PenaltyMetric {
    name: "alpha",
    of: fitted_alpha,
};

/// `alpha * log10(lambda_max)` (none for a failed fit).
pub const ALPHA_WEIGHTED_METRIC: PenaltyMetric = PenaltyMetric {
    name: "alpha_weighted",
    of: |v| fitted_alpha(v).map(|_| v.alpha_weighted),
};

/// `||W||_F^2 / lambda_max`.
pub const STABLE_RANK_METRIC: PenaltyMetric = PenaltyMetric {
    name: "stable_rank",
    of: |v| Some(v.stable_rank),
};

/// The largest eigenvalue, `sigma_max^2`.
pub const LAMBDA_MAX_METRIC: PenaltyMetric = PenaltyMetric {
    name: "lambda_max",
    of: |v| Some(v.lambda_max),
};

/// `||W||_F^2`, the eigenvalue sum (`stable_rank * lambda_max`).
pub const FROBENIUS_METRIC: PenaltyMetric = PenaltyMetric {
    name: "||W||_F^2",
    of: |v| Some(v.stable_rank * v.lambda_max),
};

impl PenaltyMetric {
    /// The number `penalty` acts on: `alpha_weighted` for weighted-alpha, `stable_rank` for
    /// stable-rank, alpha for the power-law prior (a prior on the tail exponent), `lambda_max`
    /// for the Frechet prior (a prior on lambda_max) and spectral-norm (sigma_max^2), and
    /// `||W||_F^2` for weight-decay.
    pub fn of_penalty(penalty: &Penalty) -> PenaltyMetric {
        match penalty {
            Penalty::WeightedAlpha(_) => ALPHA_WEIGHTED_METRIC,
            Penalty::StableRank(_) => STABLE_RANK_METRIC,
            Penalty::PowerLawPrior(_) => ALPHA_METRIC,
            Penalty::FrechetPrior(_) | Penalty::SpectralNorm(_) => LAMBDA_MAX_METRIC,
            Penalty::WeightDecay => FROBENIUS_METRIC,
        }
    }

    /// The columns of a per-layer table for `penalty`: its own metric first, then alpha,
    /// alpha_weighted and stable_rank (each once).
    pub fn columns(penalty: &Penalty) -> Vec<PenaltyMetric> {
        let mut v = vec![Self::of_penalty(penalty)];
        for m in [ALPHA_METRIC, ALPHA_WEIGHTED_METRIC, STABLE_RANK_METRIC] {
            if v.iter().all(|x| x.name != m.name) {
                v.push(m);
            }
        }
        v
    }
}

/// Before/after numbers of one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerChange {
    /// Tensor name.
    pub name: String,
    /// Before fine-tuning.
    pub before: Option<LayerNumbers>,
    /// After the baseline run.
    pub baseline: Option<LayerNumbers>,
    /// After the penalised run.
    pub regularized: Option<LayerNumbers>,
}

/// Everything `htdiag regularize` writes to its JSON.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    /// htdiag version.
    pub htdiag_version: String,
    /// The starting checkpoint.
    pub source: String,
    /// Architecture.
    pub arch: String,
    /// Shared hyper-parameters (seed, data order, optimizer...).
    pub config: TrainConfig,
    /// Training / test samples.
    pub samples: (usize, usize),
    /// The heavy-tailed penalty.
    pub regularizer: Regularizer,
    /// The comparison run.
    pub baseline: Baseline,
    /// Baseline run, then regularized run.
    pub runs: Vec<RunReport>,
    /// Seconds per step of the regularized run over the baseline's, minus one (same device,
    /// same process, all costs included; the goal of the default policy is <= 0.25).
    pub penalty_overhead: f64,
    /// Per layer, before and after.
    pub layers: Vec<LayerChange>,
    /// The full analyses (before, after baseline, after penalty).
    pub analyses: Vec<AnalysisResult>,
}

/// Layer numbers of a row of an analysis.
pub fn layer_numbers(r: &AnalysisResult, name: &str) -> Option<LayerNumbers> {
    let l = r.layers.iter().find(|l| l.name == name)?;
    let m = l.metrics.as_ref()?;
    Some(LayerNumbers {
        alpha: l.fit.map_or(-1.0, |f| f.alpha),
        alpha_weighted: m.alpha_weighted,
        stable_rank: m.stable_rank,
        lambda_max: m.lambda_max,
    })
}

/// The weights the penalty acts on, each through its view: Linear weights as they are;
/// convolutions in WeightWatcher's slice view (pooled, halved eigenvalues, gradient to every
/// slice) or, with `flatten`, as one `out x (in kh kw)` matrix; depthwise convolutions are
/// left out (their slices have one eigenvalue each), as `analyze` leaves them out.
pub fn penalty_targets(net: &Net, flatten: bool) -> Vec<PenaltyTarget> {
    net.penalised_weights(flatten)
        .into_iter()
        .enumerate()
        .filter(|(_, p)| !p.depthwise)
        .map(|(weight, p)| PenaltyTarget {
            weight,
            view: p.view,
        })
        .collect()
}

/// Runs one fine-tuning run from `model` (penalty on [`penalty_targets`]). Returns the
/// trained network and its report.
#[allow(clippy::too_many_arguments)]
pub fn run_one(
    name: &str,
    device: DeviceChoice,
    model: &Net,
    train_set: &Dataset,
    test_set: &Dataset,
    cfg: &TrainConfig,
    penalty: Option<Regularizer>,
    conv_flatten: bool,
    on: &mut dyn FnMut(Progress<'_>),
) -> Result<(Net, RunReport)> {
    let has_test = !test_set.is_empty();
    let mut backend = open_net_backend(
        device,
        model,
        train_set.clone(),
        has_test.then(|| test_set.clone()),
        cfg.optimizer,
        cfg.batch_size,
        cfg.seed,
    )?;
    let mut pen = match penalty {
        Some(r) => Some(LayerPenalties::new(r)?),
        None => None,
    };
    let history = train_targets(
        backend.as_mut(),
        &penalty_targets(model, conv_flatten),
        train_set.len(),
        has_test,
        cfg,
        pen.as_mut().map(|p| p as &mut dyn SpectralPenalty),
        on,
    )?;
    let mut out = model.clone();
    backend.read_net(&mut out)?;
    let secs: f64 = history.epochs.iter().map(|e| e.seconds).sum();
    let refresh: f64 = history
        .epochs
        .iter()
        .map(|e| e.penalty_refresh_seconds)
        .sum();
    let regularization = match (&pen, cfg.weight_decay) {
        (Some(p), _) => p.describe(),
        (None, wd) if wd > 0.0 => format!("weight-decay (wd = {wd})"),
        _ => "none".into(),
    };
    let report = RunReport {
        name: name.into(),
        regularization,
        final_test: history.epochs.last().and_then(|e| e.test),
        seconds_per_epoch: secs / history.epochs.len().max(1) as f64,
        refresh_share: if secs > 0.0 { refresh / secs } else { 0.0 },
        history,
    };
    Ok((out, report))
}

/// The baseline run's config and penalty.
pub fn baseline_setup(b: Baseline, cfg: &TrainConfig) -> (TrainConfig, Option<Regularizer>) {
    let mut c = cfg.clone();
    match b {
        Baseline::None => (c, None),
        Baseline::WeightDecay { wd } => {
            c.weight_decay += wd;
            (c, None)
        }
        Baseline::SpectralNorm { mu } => (
            c,
            Some(Regularizer::new(
                Penalty::SpectralNorm(SpectralNormParams::default()),
                mu,
            )),
        ),
    }
}

/// Analyses a saved checkpoint with the default (WeightWatcher) options.
pub fn analyze_file(path: &Path) -> Result<AnalysisResult> {
    let ckpt = crate::checkpoint::Checkpoint::open(path)?;
    crate::analyze::analyze(
        &ckpt,
        &crate::analyze::AnalyzeOptions::default(),
        &crate::analyze::Silent,
        None,
    )
}
