//! # htdiag
//!
//! Diagnoses trained neural networks through the eigenvalue spectra of their weight matrices
//! (heavy-tailed self-regularization, Martin & Mahoney, JMLR 2021, arXiv:1810.01075), with
//! results that match WeightWatcher 0.7.6, and fine-tunes them with heavy-tailed penalties.
//!
//! The modules follow the pipeline: [`checkpoint`] (safetensors files and shards) ->
//! [`matrices`] (tensors to strided matrices) -> [`spectrum`] (eigenvalues) -> [`fit`]
//! (power-law fit) -> [`metrics`] (per-layer metrics) -> [`analyze`] (the whole run) ->
//! [`result`] (the canonical result) -> [`allocate`] (AlphaPruning / TempBalance / AlphaDecay
//! decisions from it) -> [`report`] (views of it).

// Keep BLAS/LAPACK linked through the system OpenBLAS.
extern crate lapack_src as _;

pub mod allocate;
pub mod analyze;
pub mod checkpoint;
pub mod compare;
pub mod error;
pub mod fit;
pub mod gpu;
pub mod matrices;
pub mod metrics;
pub mod outdir;
pub mod plan;
pub mod regularize;
pub mod report;
pub mod result;
pub mod shard;
pub mod spectrum;
pub mod train;
pub mod util;

pub use error::{Error, Result};
