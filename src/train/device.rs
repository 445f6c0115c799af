//! Choosing where a run computes: `auto` (a hardware GPU through wgpu if there is one, else
//! the CPU), `gpu` (a hardware GPU or an error), `software-gpu` (any wgpu adapter, including
//! software Vulkan drivers such as Mesa's lavapipe/llvmpipe — slower than the CPU path, so only
//! on request, e.g. in CI) or `cpu`.

use super::backend::{Backend, Optimizer};
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

/// Builds the backend for `choice`, holding `model`'s parameters and the data sets.
pub fn open_backend(
    choice: DeviceChoice,
    model: &Mlp,
    train: Dataset,
    test: Option<Dataset>,
    opt: Optimizer,
    max_batch: usize,
) -> Result<Box<dyn Backend>> {
    open_net_backend(
        choice,
        &Net::from_mlp(model),
        train,
        test,
        opt,
        max_batch,
        0,
    )
}

/// Builds the backend for `choice` holding network `net` (`seed`: dropout masks). The wgpu
/// backend runs Linear/ReLU chains; other networks run on the CPU backend (`auto` falls back
/// to it, `gpu` is refused with a message).
pub fn open_net_backend(
    choice: DeviceChoice,
    net: &Net,
    train: Dataset,
    test: Option<Dataset>,
    opt: Optimizer,
    max_batch: usize,
    seed: u64,
) -> Result<Box<dyn Backend>> {
    let mlp = net.to_mlp().ok();
    let ctx = match (choice, &mlp) {
        (DeviceChoice::Cpu, _) | (DeviceChoice::Auto, None) => None,
        (DeviceChoice::Gpu | DeviceChoice::SoftwareGpu, None) => {
            return Err(Error::InvalidArgument(
                "the wgpu backend runs Linear/ReLU networks only so far: use --device cpu for                  convolutional networks"
                    .into(),
            ));
        }
        (DeviceChoice::Auto, Some(_)) => crate::gpu::GpuContext::open(false)?,
        (DeviceChoice::Gpu, Some(_)) => {
            Some(crate::gpu::GpuContext::open(false)?.ok_or_else(|| {
                Error::InvalidArgument(
                    "no hardware GPU adapter found through wgpu (Vulkan/Metal/DX12); \
                 use --device software-gpu for a software driver or --device cpu"
                        .into(),
                )
            })?)
        }
        (DeviceChoice::SoftwareGpu, Some(_)) => {
            Some(crate::gpu::GpuContext::open(true)?.ok_or_else(|| {
                Error::InvalidArgument("no wgpu adapter at all, not even a software one".into())
            })?)
        }
    };
    Ok(match (ctx, mlp) {
        (Some(ctx), Some(model)) => Box::new(crate::gpu::GpuBackend::new(
            ctx, &model, train, test, opt, max_batch,
        )?),
        _ => Box::new(CpuBackend::from_net(
            net, train, test, opt, max_batch, seed,
        )?),
    })
}
