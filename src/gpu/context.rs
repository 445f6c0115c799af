//! Finding a wgpu adapter and opening a device on it.

use crate::error::{Error, Result};

/// An open wgpu device and its queue.
pub struct GpuContext {
    /// The logical device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Adapter description (name, backend, device type).
    pub info: wgpu::AdapterInfo,
}

/// Whether an adapter is a software rasterizer (lavapipe/llvmpipe, WARP, SwiftShader).
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    info.device_type == wgpu::DeviceType::Cpu
}

fn rank(info: &wgpu::AdapterInfo) -> u8 {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Descriptions of every adapter wgpu can see.
pub fn list_adapters() -> Vec<wgpu::AdapterInfo> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|a| a.get_info())
        .collect()
}

impl GpuContext {
    /// Opens the best adapter: discrete, then integrated, virtual, other GPUs; software
    /// adapters only with `allow_software`. `Ok(None)` when there is no suitable adapter.
    pub fn open(allow_software: bool) -> Result<Option<GpuContext>> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let mut adapters: Vec<wgpu::Adapter> =
            pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
                .into_iter()
                .filter(|a| allow_software || !is_software(&a.get_info()))
                .collect();
        adapters.sort_by_key(|a| rank(&a.get_info()));
        let Some(adapter) = adapters.into_iter().next() else {
            return Ok(None);
        };
        let info = adapter.get_info();
        // Ask for the adapter's own limits so large data sets fit in one storage buffer.
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("htdiag"),
            required_features: wgpu::Features::empty(),
            required_limits: limits,
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc)).map_err(|e| {
            Error::Numerical(format!("wgpu: cannot open a device on {}: {e}", info.name))
        })?;
        Ok(Some(GpuContext {
            device,
            queue,
            info,
        }))
    }

    /// "name (backend, type)".
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }
}
