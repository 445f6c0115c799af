//! Training and fine-tuning of small models with (optionally) a heavy-tailed penalty on the
//! spectra of their weight matrices (REGULARIZATION.md).
//!
//! [`model`] (MLPs in safetensors) + [`data`] (safetensors / IDX / CIFAR data sets) feed a
//! [`backend::Backend`] — the CPU reference [`cpu::CpuBackend`] or the wgpu backend in
//! the `gpu` module — driven by the loop in [`trainer`]; [`refresh`] keeps the penalty's
//! spectra fresh from a worker thread, through the f32 edge [`spectral`] of
//! [`crate::regularize::spectral`]. Networks of any layer kind are [`net::Net`]s.

pub mod backend;
pub mod cpu;
pub mod cpu_ops;
pub mod cpu_penalty;
pub mod data;
pub mod device;
pub mod dropout;
pub mod experiment;
pub mod model;
pub mod net;
pub mod penalty;
pub mod refresh;
pub mod refresh_worker;
pub mod spectral;
pub mod trainer;

pub use backend::{Backend, Eval, Optimizer, SlicePenalty, Split, StepParams};
pub use cpu::CpuBackend;
pub use data::Dataset;
pub use device::{DeviceChoice, open_backend, open_net_backend};
pub use model::{Layer, Linear, Mlp};
pub use net::Net;
pub use refresh::{RefreshPolicy, SpectrumEvery};
pub use trainer::{
    CancelToken, EpochRecord, History, PenaltyTarget, Progress, SpectralPenalty, TrainConfig,
    train, train_targets,
};
