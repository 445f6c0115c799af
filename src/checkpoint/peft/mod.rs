//! PEFT LoRA adapters: a folder holding `adapter_config.json` and `adapter_model.safetensors`
//! (or `adapter_model.bin`, a PyTorch pickle), or one of those files given directly with the
//! config beside it.
//!
//! [`Adapter::open`] reads the config ([`config`]), opens the weights as any checkpoint, and
//! pairs the factors of every adapted module ([`names`]). A module whose factors do not fit
//! together (a missing B, shapes that do not chain, a rank other than the config's) becomes a
//! [`BadModule`] with a reason naming the file and tensors: one bad module does not sink the
//! analysis of the others.

pub mod config;
pub mod names;
mod pair;

use super::{Checkpoint, OpenOptions};
use crate::error::{Error, Result};
pub use config::{LoraConfig, ModuleScale};
use std::path::{Path, PathBuf};

/// File name of a PEFT adapter's configuration.
pub const CONFIG_FILE: &str = "adapter_config.json";
/// Weight files PEFT writes, in order of preference.
pub const WEIGHT_FILES: [&str; 2] = ["adapter_model.safetensors", "adapter_model.bin"];

/// How a module's update is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoraKind {
    /// `nn.Linear` (or GPT-2's `Conv1D` with `fan_in_fan_out`): `dW = s B A`, `[out, in]`.
    Linear,
    /// `nn.Embedding`: `dW = s (B A)^T`, `[num_embeddings, embedding_dim]`.
    Embedding,
    /// `nn.Conv2d`: A is `[r, in, kh, kw]`, B `[out, r, 1, 1]`, and kernel slice `(i, j)` of
    /// the update is `s B A[:, :, i, j]`.
    Conv2d {
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
    },
}

/// One adapted module whose factors fit together.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraModule {
    /// Row name: the module relative to the base model (with the adapter name in brackets
    /// when the file holds several adapters).
    pub name: String,
    /// The module relative to the base model (`model.layers.0.self_attn.q_proj`).
    pub module: String,
    /// Layout of the update.
    pub kind: LoraKind,
    /// Index of the A factor in the adapter checkpoint (also the row's `layer_id`).
    pub a: usize,
    /// Index of the B factor.
    pub b: usize,
    /// Rows of B (`out`, or `embedding_dim` for an embedding).
    pub out: usize,
    /// Columns of A (`in`, or `num_embeddings`).
    pub inp: usize,
    /// Rank, alpha and scale from the config.
    pub scale: ModuleScale,
}

/// A module that cannot be analysed, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadModule {
    /// Position of its first tensor in the checkpoint.
    pub layer_id: usize,
    /// Row name (as [`LoraModule::name`]).
    pub name: String,
    /// Dtype of that tensor.
    pub dtype: String,
    /// Shape of that tensor.
    pub shape: Vec<usize>,
    /// The reason, naming the file and the tensors.
    pub reason: String,
}

/// An opened LoRA adapter.
#[derive(Debug)]
pub struct Adapter {
    /// Its configuration.
    pub config: LoraConfig,
    /// Its weights.
    pub checkpoint: Checkpoint,
    /// Modules whose update is analysed, in checkpoint order of their A factor.
    pub modules: Vec<LoraModule>,
    /// Modules that are not.
    pub bad: Vec<BadModule>,
    /// For every tensor of the checkpoint, whether it belongs to a LoRA module (a factor or a
    /// DoRA magnitude); the others are planned like any checkpoint tensor.
    pub is_lora: Vec<bool>,
}

/// The config and weight file of the adapter at `path`, or `None` when `path` is not one: a
/// folder holding `adapter_config.json`, or a file named `adapter_model.*`. A folder or file
/// that looks like an adapter but lacks its config or weights is an error.
pub fn find(path: &Path) -> Result<Option<(PathBuf, PathBuf)>> {
    let missing_config = |p: &Path| Error::Format {
        path: p.to_path_buf(),
        reason: format!(
            "a PEFT adapter without its {CONFIG_FILE} (expected at {}): the rank and scale \
             of the update are in that file",
            p.with_file_name(CONFIG_FILE).display()
        ),
    };
    if path.is_dir() {
        let cfg = path.join(CONFIG_FILE);
        let weights = WEIGHT_FILES
            .iter()
            .map(|f| path.join(f))
            .find(|p| p.is_file());
        return match (cfg.is_file(), weights) {
            (true, Some(w)) => Ok(Some((cfg, w))),
            (true, None) => Err(Error::Format {
                path: path.to_path_buf(),
                reason: format!(
                    "holds {CONFIG_FILE} but neither {} nor {}",
                    WEIGHT_FILES[0], WEIGHT_FILES[1]
                ),
            }),
            (false, Some(w)) => Err(missing_config(&w)),
            (false, None) => Ok(None),
        };
    }
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("adapter_model."));
    if !named {
        return Ok(None);
    }
    let cfg = path.with_file_name(CONFIG_FILE);
    if !cfg.is_file() {
        return Err(missing_config(path));
    }
    Ok(Some((cfg, path.to_path_buf())))
}

impl Adapter {
    /// Opens the adapter whose config and weights [`find`] returned.
    pub fn open(config: &Path, weights: &Path, opts: &OpenOptions) -> Result<Self> {
        let config = LoraConfig::read(config)?;
        let checkpoint = Checkpoint::open_with(weights, opts)?;
        let paired = pair::pair(&checkpoint, &config);
        if paired.modules.is_empty() && paired.bad.is_empty() {
            return Err(Error::Format {
                path: weights.to_path_buf(),
                reason: format!(
                    "no LoRA factors (tensors named '<module>.lora_A.weight' / \
                     '<module>.lora_B.weight') among its {} tensors",
                    checkpoint.tensors().len()
                ),
            });
        }
        Ok(Adapter {
            config,
            checkpoint,
            modules: paired.modules,
            bad: paired.bad,
            is_lora: paired.is_lora,
        })
    }
}
