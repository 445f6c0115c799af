//! Opening the backend a `--device` choice asks for: `auto` (a hardware GPU through wgpu if
//! there is one, else the CPU), `gpu` (a hardware GPU or an error), `software-gpu` (any wgpu
//! adapter, software Vulkan drivers such as Mesa's lavapipe included: slower than the CPU
//! path, so only on request, e.g. in CI) or `cpu`. Implements
//! [`crate::train::device::OpenBackend`] here, beside the GPU code, so that `train` does not
//! depend on `gpu`.

use super::{GpuBackend, GpuContext};
use crate::error::{Error, Result};
use crate::train::CpuBackend;
use crate::train::backend::{Backend, Optimizer};
use crate::train::data::Dataset;
use crate::train::device::{DeviceChoice, OpenBackend};
use crate::train::net::Net;

impl OpenBackend for DeviceChoice {
    fn open(
        &self,
        net: &Net,
        train: Dataset,
        test: Option<Dataset>,
        opt: Optimizer,
        max_batch: usize,
        seed: u64,
    ) -> Result<Box<dyn Backend>> {
        let ctx = match self {
            DeviceChoice::Cpu => None,
            DeviceChoice::Auto => GpuContext::open(false)?,
            DeviceChoice::Gpu => Some(GpuContext::open(false)?.ok_or_else(|| {
                Error::InvalidArgument(
                    "no hardware GPU adapter found through wgpu (Vulkan/Metal/DX12); \
                     a software driver or the CPU can run it instead"
                        .into(),
                )
            })?),
            DeviceChoice::SoftwareGpu => Some(GpuContext::open(true)?.ok_or_else(|| {
                Error::InvalidArgument("no wgpu adapter at all, not even a software one".into())
            })?),
        };
        Ok(match ctx {
            Some(ctx) => Box::new(GpuBackend::new(
                ctx, net, train, test, opt, max_batch, seed,
            )?),
            None => Box::new(CpuBackend::from_net(
                net, train, test, opt, max_batch, seed,
            )?),
        })
    }
}
