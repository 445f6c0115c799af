//! The canonical result of an analysis. Every output format (terminal table, JSON, CSV, HTML,
//! PNG) is a view of [`AnalysisResult`]; nothing downstream recomputes a spectrum.
//!
//! Field names follow WeightWatcher's `details` columns (see `spec/METRICS.md`, section 6) so a
//! pandas user can put our CSV next to WeightWatcher's frame.

use serde::{Deserialize, Serialize};

pub mod columns;

/// JSON has no NaN or infinity: serde_json writes them as `null`. Reading `null` back as NaN
/// keeps a result with an undefined metric (e.g. log_norm of an all-zero matrix) loadable.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A number that may be infinite: the median estimator's alpha is +inf on a tail of equal
/// eigenvalues (ALLOCATION.md section 2), and JSON has no infinity. Infinities are written as
/// the strings `"inf"` / `"-inf"` (NaN as `null`) and read back as such, so an allocation read
/// from a saved result sees what a fresh analysis sees.
pub(crate) fn inf_as_string<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    match *v {
        x if x.is_finite() => s.serialize_f64(x),
        x if x == f64::INFINITY => s.serialize_str("inf"),
        x if x == f64::NEG_INFINITY => s.serialize_str("-inf"),
        _ => s.serialize_none(),
    }
}

/// Reads what [`inf_as_string`] writes (numbers, `null`, `"inf"`, `"-inf"`, `"nan"`).
pub(crate) fn inf_from_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText {
        Num(f64),
        Text(String),
    }
    match Option::<NumOrText>::deserialize(d)? {
        None => Ok(f64::NAN),
        Some(NumOrText::Num(x)) => Ok(x),
        Some(NumOrText::Text(t)) => match t.as_str() {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            other => Err(serde::de::Error::custom(format!(
                "expected a number, \"inf\", \"-inf\" or null, found {other:?}"
            ))),
        },
    }
}

/// Version of the JSON layout written by [`AnalysisResult`]. Bumped on incompatible changes.
pub const RESULT_FORMAT_VERSION: u32 = 1;

/// How a tensor became matrices (METRICS.md section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerType {
    /// A rank-2 tensor used as it is.
    Dense,
    /// A rank-4 (out, in, kh, kw) tensor, cut into kh*kw slices.
    Conv2d,
    /// The update `dW = s B A` of a LoRA adapter's module, analysed from its factors (its
    /// nonzero eigenvalues only; see [`AdapterInfo`]).
    Lora,
}

impl LayerType {
    /// The name used in tables and CSV (`dense`, `conv2d`).
    pub fn as_str(self) -> &'static str {
        match self {
            LayerType::Dense => "dense",
            LayerType::Conv2d => "conv2d",
            LayerType::Lora => "lora",
        }
    }
}

/// Outcome of one analysed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerStatus {
    /// Spectrum and fit computed.
    Success,
    /// Spectrum computed, but the power-law fit had no valid candidate (alpha = -1).
    Failed,
    /// The layer could not be analysed (NaN/Inf weights, eigensolver failure, ...);
    /// `message` says why. The metrics are absent.
    Error,
}

impl LayerStatus {
    /// The name used in tables and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerStatus::Success => "success",
            LayerStatus::Failed => "failed",
            LayerStatus::Error => "error",
        }
    }
}

/// Result of a power-law fit to one ESD (METRICS.md section 3). Failed fits hold -1 in every
/// field, as WeightWatcher does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerLawFit {
    /// Power-law exponent of the ESD's tail (+inf for the median estimator on a tail of equal
    /// eigenvalues; written `"inf"` in JSON).
    #[serde(serialize_with = "inf_as_string", deserialize_with = "inf_from_string")]
    pub alpha: f64,
    /// Lower cut-off of the tail.
    #[serde(deserialize_with = "nan_if_null")]
    pub xmin: f64,
    /// Largest eigenvalue used in the fit.
    #[serde(deserialize_with = "nan_if_null")]
    pub xmax: f64,
    /// Kolmogorov-Smirnov distance of the fit.
    #[serde(rename = "D")]
    #[serde(deserialize_with = "nan_if_null")]
    pub d: f64,
    /// Standard error of alpha.
    #[serde(deserialize_with = "nan_if_null")]
    pub sigma: f64,
    /// Number of eigenvalues >= xmin.
    pub num_pl_spikes: i64,
    /// alpha before `fix_fingers = clip_xmax` dropped the largest eigenvalues (when used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_alpha: Option<f64>,
    /// Number of eigenvalues dropped as "fingers" (when clip_xmax is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_fingers: Option<i64>,
}

impl PowerLawFit {
    /// The sentinel WeightWatcher reports for a fit without a valid candidate.
    pub fn failed(xmax: f64) -> Self {
        PowerLawFit {
            alpha: -1.0,
            xmin: -1.0,
            xmax,
            d: -1.0,
            sigma: -1.0,
            num_pl_spikes: -1,
            raw_alpha: None,
            num_fingers: None,
        }
    }

    /// Whether the fit found a tail.
    pub fn is_valid(&self) -> bool {
        self.alpha > 0.0
    }
}

/// Spectral metrics of one row (METRICS.md section 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectralMetrics {
    /// Sum of eigenvalues (squared Frobenius norm).
    #[serde(deserialize_with = "nan_if_null")]
    pub norm: f64,
    /// log10(norm).
    #[serde(deserialize_with = "nan_if_null")]
    pub log_norm: f64,
    /// Largest eigenvalue (squared largest singular value).
    #[serde(deserialize_with = "nan_if_null")]
    pub lambda_max: f64,
    /// Same as lambda_max (WeightWatcher reports both).
    #[serde(deserialize_with = "nan_if_null")]
    pub spectral_norm: f64,
    /// log10(lambda_max).
    #[serde(deserialize_with = "nan_if_null")]
    pub log_spectral_norm: f64,
    /// alpha * log10(lambda_max).
    #[serde(deserialize_with = "nan_if_null")]
    pub alpha_weighted: f64,
    /// log10(sum of lambda^alpha).
    #[serde(deserialize_with = "nan_if_null")]
    pub log_alpha_norm: f64,
    /// norm / lambda_max.
    #[serde(deserialize_with = "nan_if_null")]
    pub stable_rank: f64,
    /// Numerical rank.
    pub matrix_rank: i64,
    /// Normalised spectral entropy.
    #[serde(deserialize_with = "nan_if_null")]
    pub entropy: f64,
    /// Largest singular value.
    #[serde(deserialize_with = "nan_if_null")]
    pub sv_max: f64,
    /// Smallest singular value (true minimum over slices).
    #[serde(deserialize_with = "nan_if_null")]
    pub sv_min: f64,
    /// Singular values at or below the rank tolerance, summed over slices.
    pub rank_loss: i64,
    /// Eigenvalues below 1e-6.
    pub weak_rank_loss: i64,
    /// "over-trained", "under-trained" or "".
    pub warning: String,
}

/// Marchenko-Pastur fit of the bulk (option `--mp-fit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MpFit {
    /// Fitted MP sigma (on the mean-1 rescaled spectrum).
    #[serde(deserialize_with = "nan_if_null")]
    pub sigma_mp: f64,
    /// Eigenvalues beyond the bulk edge plus the Tracy-Widom margin.
    pub num_spikes: i64,
    /// bulk_max / max x (rescaled units).
    #[serde(deserialize_with = "nan_if_null")]
    pub mp_softrank: f64,
    /// Upper bulk edge in original units.
    #[serde(deserialize_with = "nan_if_null")]
    pub bulk_max: f64,
    /// Lower bulk edge in original units.
    #[serde(deserialize_with = "nan_if_null")]
    pub bulk_min: f64,
    /// Scale applied to W to make the mean eigenvalue 1.
    #[serde(rename = "W_scale")]
    #[serde(deserialize_with = "nan_if_null")]
    pub w_scale: f64,
}

/// Randomized-ESD comparison (option `--randomize`): "correlation traps".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomizedEsd {
    /// Largest eigenvalue of the entry-shuffled matrix.
    #[serde(deserialize_with = "nan_if_null")]
    pub max_rand_eval: f64,
    /// Jensen-Shannon distance between the sorted spectra normalised to sum 1.
    #[serde(deserialize_with = "nan_if_null")]
    pub rand_distance: f64,
    /// max_rand_eval / lambda_max.
    #[serde(deserialize_with = "nan_if_null")]
    pub ww_softrank: f64,
    /// lambda_max - max_rand_eval.
    #[serde(deserialize_with = "nan_if_null")]
    pub ww_maxdist: f64,
    /// Original eigenvalues beyond the randomized bulk edge.
    pub rand_num_spikes: i64,
    /// The randomized spectrum itself, ascending (for overlay plots).
    pub rand_eigenvalues: Vec<f64>,
}

/// One analysed row: a dense layer, a pooled conv layer, or one conv slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerResult {
    /// Stable id: position of the tensor in checkpoint order (index order for shards),
    /// counting every tensor, analysed or skipped, from 0.
    pub layer_id: usize,
    /// Tensor name as in the checkpoint.
    pub name: String,
    /// Kind of layer.
    pub layer_type: LayerType,
    /// Kernel position `i*kw + j` when conv slices are analysed one by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice_id: Option<usize>,
    /// Storage dtype of the tensor ("F32", "BF16", ...).
    pub dtype: String,
    /// Tensor shape as stored.
    pub shape: Vec<usize>,
    /// Larger dimension of one matrix.
    #[serde(rename = "N")]
    pub n: usize,
    /// Smaller dimension of one matrix.
    #[serde(rename = "M")]
    pub m: usize,
    /// N / M.
    #[serde(rename = "Q")]
    #[serde(deserialize_with = "nan_if_null")]
    pub q: f64,
    /// Receptive field: number of slices pooled into this row.
    pub rf: usize,
    /// Outcome.
    pub status: LayerStatus,
    /// Why the status is not `success`, if it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Number of eigenvalues (M * rf when pooled).
    pub num_evals: usize,
    /// Power-law fit (absent with status `error`, and for a LoRA row with fewer than
    /// `min_evals` eigenvalues, where `message` says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<PowerLawFit>,
    /// Metrics (absent only with status `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<SpectralMetrics>,
    /// Marchenko-Pastur fit, with `--mp-fit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp: Option<MpFit>,
    /// Randomized ESD, with `--randomize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub randomized: Option<RandomizedEsd>,
    /// All eigenvalues of the row, ascending, after conv scaling.
    pub eigenvalues: Vec<f64>,
    /// Seconds spent on this row, by phase.
    pub timings: LayerTimings,
    /// For a LoRA update row (`layer_type` lora) and for a merged `W0 + dW` row: the module,
    /// its rank and scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterInfo>,
}

/// What a row has to do with a LoRA adapter (`htdiag analyze ADAPTER [--base BASE]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterInfo {
    /// The adapted module, relative to the base model (`model.layers.0.self_attn.q_proj`).
    pub module: String,
    /// Rank r of the module (the config's `r` or its `rank_pattern`).
    pub rank: usize,
    /// Its `lora_alpha` (or `alpha_pattern`).
    pub lora_alpha: f64,
    /// The scale s of `dW = s B A`: `lora_alpha / r`, or `lora_alpha / sqrt(r)` (rsLoRA).
    pub scale: f64,
    /// Whether the row is the merged weight `W0 + dW` (else it is the update `dW`).
    pub merged: bool,
    /// Effective rank `exp(H(p))`, `p_i = lambda_i / sum lambda` over the row's positive
    /// eigenvalues (Roy & Vetterli, EUSIPCO 2007).
    #[serde(deserialize_with = "nan_if_null")]
    pub effective_rank: f64,
    /// With a base: how many of the merged weight's top singular directions are new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_directions: Option<NewDirections>,
}

/// The top left singular vectors of `W0 + dW` that no left singular vector of `W0` resembles:
/// `max_j |<u_i(W0 + dW), u_j(W0)>| < threshold` over all left singular vectors `u_j` of `W0`
/// (the "intruder dimensions" of Shuttleworth et al., "LoRA vs Full Fine-tuning: An Illusion
/// of Equivalence", 2024).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDirections {
    /// Top directions of the merged weight examined (the module's rank r).
    pub k: usize,
    /// Cosine below which a direction counts as new (0.5).
    pub threshold: f64,
    /// How many of the k are new.
    pub count: usize,
    /// For each of the k directions, largest first, its largest |cosine| with W0's.
    pub max_cosines: Vec<f64>,
}

/// Where the time of one row went, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerTimings {
    /// Reading and widening the tensor.
    #[serde(deserialize_with = "nan_if_null")]
    pub load: f64,
    /// Gram matrix and eigensolver.
    #[serde(deserialize_with = "nan_if_null")]
    pub eigen: f64,
    /// Power-law fit.
    #[serde(deserialize_with = "nan_if_null")]
    pub fit: f64,
    /// Metrics, MP fit, randomization.
    #[serde(deserialize_with = "nan_if_null")]
    pub rest: f64,
}

/// A tensor that was not analysed, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedTensor {
    /// Position of the tensor in checkpoint order (same numbering as `LayerResult::layer_id`).
    pub layer_id: usize,
    /// Tensor name.
    pub name: String,
    /// Storage dtype.
    pub dtype: String,
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// Human-readable reason ("rank 1 tensor", "M*rf = 2 < min_evals 8", ...).
    pub reason: String,
}

/// Model-level means over analysed rows (METRICS.md section 5). Rows whose fit failed are left
/// out of the alpha-based means and counted in `failed_fits`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Mean log_norm.
    pub log_norm: Option<f64>,
    /// Mean alpha over successful fits.
    pub alpha: Option<f64>,
    /// Mean alpha_weighted over successful fits.
    pub alpha_weighted: Option<f64>,
    /// Mean log_alpha_norm over successful fits.
    pub log_alpha_norm: Option<f64>,
    /// Mean log_spectral_norm.
    pub log_spectral_norm: Option<f64>,
    /// Mean stable_rank.
    pub stable_rank: Option<f64>,
    /// Mean mp_softrank (when MP fits were computed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mp_softrank: Option<f64>,
    /// Rows analysed (status success or failed).
    pub num_layers: usize,
    /// Rows whose fit failed (excluded from alpha means).
    pub failed_fits: usize,
    /// Rows with status `error`.
    pub errors: usize,
    /// Tensors skipped.
    pub skipped: usize,
    /// Rows with warning "over-trained", low-confidence rows left out.
    pub over_trained: usize,
    /// Rows with warning "under-trained", low-confidence rows left out.
    pub under_trained: usize,
    /// Rows whose fit rests on too few eigenvalues to read alpha (fewer than 20, or a
    /// depthwise convolution), as the metrics stage decides.
    #[serde(default)]
    pub low_confidence: usize,
}

/// Wall-clock totals of a run, in seconds (sums of per-row phases, and the whole run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTimings {
    /// Sum of per-row load times.
    #[serde(deserialize_with = "nan_if_null")]
    pub load: f64,
    /// Sum of per-row eigensolver times.
    #[serde(deserialize_with = "nan_if_null")]
    pub eigen: f64,
    /// Sum of per-row fit times.
    #[serde(deserialize_with = "nan_if_null")]
    pub fit: f64,
    /// Sum of per-row remaining times.
    #[serde(deserialize_with = "nan_if_null")]
    pub rest: f64,
    /// Wall-clock time of the whole analysis.
    #[serde(deserialize_with = "nan_if_null")]
    pub wall: f64,
    /// Worker threads used.
    pub threads: usize,
}

/// The canonical result of `htdiag analyze`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisResult {
    /// Layout version of this JSON ([`RESULT_FORMAT_VERSION`]).
    pub format_version: u32,
    /// htdiag version that produced it.
    pub htdiag_version: String,
    /// The checkpoint path as given.
    pub source: String,
    /// Options used (free-form, for provenance and for resuming/merging).
    pub options: serde_json::Value,
    /// Analysed rows, in layer_id order (then slice_id).
    pub layers: Vec<LayerResult>,
    /// Tensors not analysed, in layer_id order.
    pub skipped: Vec<SkippedTensor>,
    /// Model-level means.
    pub summary: Summary,
    /// Timing totals (not part of equality checks between runs: see `outdir::same_results`).
    pub timings: RunTimings,
}
