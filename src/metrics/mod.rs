//! Per-layer spectral metrics (METRICS.md section 4), the optional Marchenko-Pastur fit and
//! randomized-ESD comparison, and the model summary (section 5).
//!
//! The metrics are those of Martin & Mahoney, "Implicit self-regularization in deep neural
//! networks: evidence from random matrix theory and implications for learning", JMLR 22
//! (2021) (norms, stable rank, matrix rank and entropy, the MP bulk), and of Martin, Peng &
//! Mahoney, "Predicting trends in the quality of state-of-the-art neural networks without
//! access to training or testing data", Nature Communications 12 (2021) (`alpha_weighted`,
//! `log_alpha_norm`). Definitions follow WeightWatcher 0.7.6, with the documented fixes
//! (true `sv_min`, failed fits labelled "failed").

mod layer;
mod lowrank;
mod mp;
mod nelder_mead;
mod randomize;
mod summary;

pub use layer::{layer_metrics, pool, warning};
pub use lowrank::{NEW_DIRECTION_COSINE, effective_rank, new_directions};
pub use mp::{MP_BANDWIDTH, mp_fit};
pub use nelder_mead::{NelderMead, fmin};
pub use randomize::{randomized, shuffle_entries};
pub use summary::{low_confidence, summary};

#[cfg(test)]
mod tests;
