//! The layer rules of AlphaPruning and TempBalance as one option set (`--rules`), so that an
//! analysis sees exactly the layers their code sees (ALLOCATION.md section 1):
//!
//! - every Linear and Conv2d weight (rank-2 and rank-4 `*.weight` tensors), no size limits,
//!   no skipping, eigenvalues not thresholded (their default `filter_zeros=False`), conv
//!   slices pooled and scaled by sqrt(0.5) (htdiag's default conv handling already is theirs);
//! - AlphaPruning analyses the transformer blocks only (`model.layers`, section 7's block
//!   names), with its default metric `alpha_peak` ([`FitMethod::Peak`]) in float32;
//! - TempBalance analyses the whole network with the median estimator, in the weights' dtype
//!   (float32 during training: [`Precision::F32`]).
//!
//! A checkpoint stores no module types, so "Linear" is read from the tensor's rank and name:
//! embeddings (rank 2 like a Linear weight) are recognised by name ([`EMBEDDING_PATTERN`]).

use regex::Regex;

use super::AnalyzeOptions;
use crate::fit::{FitMethod, FixFingers, Precision};

/// Section 7: a layer belongs to block `B` when its name matches this pattern (capture 1 is
/// `B`): LLaMA `model.layers.N.`, BERT `encoder.layer.N.`, GPT-2 `transformer.h.N.`, ViT
/// `blocks.N.`.
pub const BLOCK_PATTERN: &str = r"^(.*?\.(layers?|h|blocks?)\.\d+)\.";

/// Names of embedding tables, which are rank 2 but not Linear layers (`nn.Embedding`).
pub const EMBEDDING_PATTERN: &str = r"(?i)(embed|(^|\.)wte\.|(^|\.)wpe\.)";

/// Whose layer rules to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// AlphaPruning (`lib/esd_utils.py`, `net_esd_estimator` over `model.layers`).
    AlphaPruning,
    /// TempBalance (`tempbalance.py`, `net_esd_estimator` over the whole net).
    TempBalance,
}

impl Rules {
    /// The name used on the command line and in the options JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Rules::AlphaPruning => "alphapruning",
            Rules::TempBalance => "tempbalance",
        }
    }

    /// Sets the plan and fit options to these rules, their fit method and float32 included (a
    /// caller may override those afterwards). AlphaPruning's block filter replaces any `layers`
    /// filter; TempBalance keeps one already set (it narrows the whole-network list).
    pub fn apply(self, opts: &mut AnalyzeOptions) {
        let p = &mut opts.plan;
        p.min_evals = 1;
        p.max_evals = usize::MAX;
        p.max_n = usize::MAX;
        p.per_slice = false;
        p.conv_scaling = true;
        let f = &mut opts.fit;
        f.threshold = f64::NEG_INFINITY;
        f.fix_fingers = FixFingers::None;
        f.xmin_window = None;
        f.precision = Precision::F32;
        let re = |s: &str| Regex::new(s).ok();
        match self {
            Rules::AlphaPruning => {
                p.layers = re(&format!(r"{BLOCK_PATTERN}(.*\.)?weight$"));
                p.exclude = None;
                f.method = FitMethod::Peak;
            }
            Rules::TempBalance => {
                if p.layers.is_none() {
                    p.layers = re(r"(^|\.)weight$");
                }
                p.exclude = re(EMBEDDING_PATTERN);
                f.method = FitMethod::Median;
            }
        }
        opts.rules = Some(self);
    }
}
