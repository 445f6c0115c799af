//! Choosing where a run computes: `auto` (a hardware GPU through wgpu if there is one, else
//! the CPU), `gpu` (a hardware GPU or an error), `software-gpu` (any wgpu adapter, including
//! software Vulkan drivers such as Mesa's lavapipe/llvmpipe — slower than the CPU path, so only
//! on request, e.g. in CI) or `cpu`.

use super::backend::{Backend, Optimizer};
#[cfg(doc)]
use super::cpu::CpuBackend;
use super::data::Dataset;
use super::model::Mlp;
use super::net::Net;
use crate::error::{Error, Result};

/// The `--device` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceChoice {
    /// Hardware GPU if any, else CPU.
    Auto,
    /// Hardware GPU, or an error.
    Gpu,
    /// Any wgpu adapter, software rasterizers included.
    SoftwareGpu,
    /// The CPU reference path.
    Cpu,
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "gpu" => Ok(DeviceChoice::Gpu),
            "software-gpu" => Ok(DeviceChoice::SoftwareGpu),
            "cpu" => Ok(DeviceChoice::Cpu),
            other => Err(Error::InvalidArgument(format!(
                "device '{other}': expected auto, gpu, software-gpu or cpu"
            ))),
        }
    }
}

/// Opens a training backend on a device. `train` declares it and never names the GPU code:
/// the implementation for [`DeviceChoice`] lives in the `gpu` module (`open.rs`) (it needs both the wgpu
/// backend and [`CpuBackend`]), so the module dependency stays one-way, gpu -> train.
pub trait OpenBackend {
    /// Builds the backend holding network `net` and the data sets (`seed`: dropout masks and
    /// augmentation).
    fn open(
        &self,
        net: &Net,
        train: Dataset,
        test: Option<Dataset>,
        opt: Optimizer,
        max_batch: usize,
        seed: u64,
    ) -> Result<Box<dyn Backend>>;
}

/// Builds the backend for `choice`, holding `model`'s parameters and the data sets.
pub fn open_backend(
    choice: DeviceChoice,
    model: &Mlp,
    train: Dataset,
    test: Option<Dataset>,
    opt: Optimizer,
    max_batch: usize,
) -> Result<Box<dyn Backend>> {
    choice.open(&Net::from_mlp(model), train, test, opt, max_batch, 0)
}

/// Builds the backend for `choice` holding network `net` (`seed`: dropout masks and
/// augmentation).
pub fn open_net_backend(
    choice: DeviceChoice,
    net: &Net,
    train: Dataset,
    test: Option<Dataset>,
    opt: Optimizer,
    max_batch: usize,
    seed: u64,
) -> Result<Box<dyn Backend>> {
    choice.open(net, train, test, opt, max_batch, seed)
}
