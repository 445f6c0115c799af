//! Finding a wgpu adapter and opening a device on it, and turning the device's failures into
//! [`Error::Gpu`]: wgpu's default reaction to a validation error, an out-of-memory error or a
//! lost device is a panic; here work that can fail runs inside error scopes
//! ([`GpuContext::scoped`]), anything outside a scope lands in an uncaptured-error handler,
//! and a lost device is remembered, all reported by [`GpuContext::check`].

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// An open wgpu device and its queue.
pub struct GpuContext {
    /// The logical device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Adapter description (name, backend, device type).
    pub info: wgpu::AdapterInfo,
    /// First error wgpu reported outside an error scope, or the device-lost reason.
    failure: Arc<Mutex<Option<String>>>,
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
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| Error::Gpu(format!("cannot open a device on {}: {e}", info.name)))?;
        let failure = Arc::new(Mutex::new(None));
        let slot = failure.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| record(&slot, e.to_string())));
        let slot = failure.clone();
        device.set_device_lost_callback(move |reason, msg| {
            record(&slot, format!("device lost ({reason:?}): {msg}"))
        });
        Ok(Some(GpuContext {
            device,
            queue,
            info,
            failure,
        }))
    }

    /// Runs `f` inside validation and out-of-memory error scopes: an error wgpu raises while
    /// `f` records or submits work becomes [`Error::Gpu`] naming `what`.
    pub fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let errors = [
            pollster::block_on(validation.pop()),
            pollster::block_on(oom.pop()),
        ];
        if let Some(e) = errors.into_iter().flatten().next() {
            return Err(Error::Gpu(format!("{what}: {e}")));
        }
        self.check()?;
        Ok(out)
    }

    /// The first error recorded outside a scope (or a lost device), as [`Error::Gpu`].
    pub fn check(&self) -> Result<()> {
        let failure = self
            .failure
            .lock()
            .map_err(|_| Error::Gpu("error state poisoned".into()))?;
        match failure.as_ref() {
            Some(msg) => Err(Error::Gpu(msg.clone())),
            None => Ok(()),
        }
    }

    /// Copies the first `len` f32 of `src` back to the host (through a staging buffer made for
    /// the call: read-backs happen at refreshes and evaluations, not every step).
    pub fn read_f32(&self, src: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        let bytes = (len * 4) as u64;
        if bytes > src.size() {
            return Err(Error::InvalidArgument(format!(
                "read of {bytes} bytes from a buffer of {}",
                src.size()
            )));
        }
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let staging = self.scoped("reading back", || {
            let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("staging"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut enc = self.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(src, 0, &staging, 0, bytes);
            self.queue.submit([enc.finish()]);
            staging
        })?;
        let slice = staging.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        let failed = |e: String| Error::Gpu(format!("read-back: {e}"));
        rx.recv()
            .map_err(|e| failed(e.to_string()))?
            .map_err(|e| failed(e.to_string()))?;
        let out = bytemuck::pod_collect_to_vec(
            &slice
                .get_mapped_range()
                .map_err(|e| failed(format!("{e:?}")))?,
        );
        staging.unmap();
        self.check()?;
        Ok(out)
    }

    /// Uploads `data` into a new storage buffer (at least 4 bytes).
    pub fn upload(&self, label: &str, data: &[f32]) -> wgpu::Buffer {
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (data.len().max(1) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        self.queue.write_buffer(&buf, 0, bytemuck::cast_slice(data));
        buf
    }

    /// "name (backend, type)".
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }
}

/// Keeps the first failure: later ones are usually its consequences.
fn record(slot: &Mutex<Option<String>>, msg: String) {
    if let Ok(mut s) = slot.lock()
        && s.is_none()
    {
        *s = Some(msg);
    }
}
