//! The wgpu instance, adapter, device and queue, created once and shared (Arc) by engines and
//! tests. Device creation is slow on software adapters, so callers keep one per process.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};

/// One adapter as the user sees it in `--device` listings.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AdapterSummary {
    /// the adapter's name as the driver reports it
    pub name: String,
    /// the backend (Vulkan, Metal, Dx12, Gl, ...) as its Debug text
    pub backend: String,
    /// the device type (DiscreteGpu, IntegratedGpu, Cpu, ...) as its Debug text
    pub device_type: String,
}

/// The wgpu instance, adapter, device and queue of one GPU, created once per run and shared.
pub struct GpuContext {
    /// the wgpu instance the adapter came from
    pub instance: wgpu::Instance,
    /// the chosen adapter
    pub adapter: wgpu::Adapter,
    /// the device every buffer and pipeline is created on
    pub device: wgpu::Device,
    /// the device's queue, for writes and submissions
    pub queue: wgpu::Queue,
    /// the adapter's name, backend and type
    pub info: wgpu::AdapterInfo,
    /// The device's limits (the adapter's own, requested in full).
    pub limits: wgpu::Limits,
    /// Errors no error scope caught, kept so the next check turns them into Error::Gpu.
    uncaptured: Arc<Mutex<Vec<String>>>,
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn summary(info: &wgpu::AdapterInfo) -> AdapterSummary {
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
    }
}

/// Lower is better: hardware first, then software; native APIs before GL.
fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let backend = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (kind, backend)
}

impl GpuContext {
    /// Every adapter wgpu finds (honouring WGPU_BACKEND and friends).
    pub fn adapters() -> Vec<AdapterSummary> {
        Self::adapter_infos().iter().map(summary).collect()
    }

    /// wgpu's description of every adapter, in [`GpuContext::adapters`]' order.
    pub fn adapter_infos() -> Vec<wgpu::AdapterInfo> {
        let inst = instance();
        let adapters = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
        adapters.iter().map(|a| a.get_info()).collect()
    }

    /// Whether wgpu finds a hardware GPU (discrete, integrated or virtual): what `auto` needs.
    pub fn has_hardware_adapter() -> bool {
        let inst = instance();
        let adapters = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
        adapters.iter().any(|a| rank(&a.get_info()).0 <= 2)
    }

    /// The best adapter with a device on it. `allow_software = false` (auto mode) accepts only
    /// discrete, integrated or virtual GPUs; `true` (`--device gpu`) also takes CPU adapters such
    /// as lavapipe. `Ok(None)` when no adapter qualifies; `Err` when one does but its device fails.
    pub fn request(allow_software: bool) -> Result<Option<Arc<GpuContext>>> {
        let inst = instance();
        let mut adapters = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
        adapters.retain(|a| {
            let t = a.get_info().device_type;
            matches!(t, wgpu::DeviceType::DiscreteGpu | wgpu::DeviceType::IntegratedGpu | wgpu::DeviceType::VirtualGpu)
                || (allow_software && t == wgpu::DeviceType::Cpu)
        });
        adapters.sort_by_key(|a| rank(&a.get_info()));
        let Some(adapter) = adapters.into_iter().next() else {
            return Ok(None);
        };
        Self::open(inst, adapter).map(Some)
    }

    /// The adapter of index `n` in [`GpuContext::adapters`]' order (what `wgpu-mlp devices`
    /// numbers), of any type, with a device on it; `Ok(None)` when there are not `n + 1` adapters.
    pub fn request_index(n: usize) -> Result<Option<Arc<GpuContext>>> {
        let inst = instance();
        let adapters = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
        match adapters.into_iter().nth(n) {
            Some(adapter) => Self::open(inst, adapter).map(Some),
            None => Ok(None),
        }
    }

    fn open(inst: wgpu::Instance, adapter: wgpu::Adapter) -> Result<Arc<GpuContext>> {
        let info = adapter.get_info();
        let desc = wgpu::DeviceDescriptor {
            label: Some("wgpu-mlp"),
            // timestamps only for `bench`'s per-kernel times; never required
            required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
            required_limits: adapter.limits(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| Error::Gpu(format!("cannot open a device on {}: {e}", info.name)))?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let limits = device.limits();
        Ok(Arc::new(GpuContext { instance: inst, adapter, device, queue, info, limits, uncaptured }))
    }

    /// "llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, Cpu)"
    pub fn describe(&self) -> String {
        format!("{} ({:?}, {:?})", self.info.name, self.info.backend, self.info.device_type)
    }

    /// This adapter as an `AdapterSummary` (name, backend, device type).
    pub fn summary(&self) -> AdapterSummary {
        summary(&self.info)
    }

    /// Runs `f` inside validation and out-of-memory error scopes; any error (or one reported
    /// outside a scope meanwhile) becomes Error::Gpu naming `what`.
    pub fn scoped<R>(&self, what: &str, f: impl FnOnce() -> R) -> Result<R> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let val = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let r = f();
        let v = pollster::block_on(val.pop());
        let o = pollster::block_on(oom.pop());
        if let Some(e) = v.or(o) {
            return Err(Error::Gpu(format!("{what}: {e}")));
        }
        self.check(what)?;
        Ok(r)
    }

    /// Fails with the first error reported outside any scope since the last check.
    pub fn check(&self, what: &str) -> Result<()> {
        let mut v = self.uncaptured.lock().map_err(|_| Error::Gpu("error log poisoned".into()))?;
        if v.is_empty() {
            return Ok(());
        }
        let msg = v.join("; ");
        v.clear();
        Err(Error::Gpu(format!("{what}: {msg}")))
    }

    /// Blocks until the queue is idle.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        Ok(())
    }

    /// Copies `parts` (buffer, byte offset, bytes; multiples of 4) into one staging buffer and maps
    /// it: one readback. Each part comes back as 32-bit words, so casting it to f32 or u32 can
    /// never meet a misaligned (or empty, dangling) byte vector.
    pub fn read_back(&self, parts: &[(&wgpu::Buffer, u64, u64)]) -> Result<Vec<Vec<u32>>> {
        let total: u64 = parts.iter().map(|p| p.2).sum();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: total.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.scoped("reading back", || {
            let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
            let mut at = 0;
            for &(buf, off, size) in parts {
                if size > 0 {
                    enc.copy_buffer_to_buffer(buf, off, &staging, at, size);
                }
                at += size;
            }
            self.queue.submit([enc.finish()]);
        })?;
        let (sink, mapped) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = sink.send(r);
        });
        if let Err(e) = self.wait_for_callback(&mapped)? {
            return Err(Error::Gpu(format!("mapping the readback buffer: {e}")));
        }
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Gpu(format!("reading the readback buffer: {e}")))?
            .to_vec();
        staging.unmap();
        self.check("reading back")?;
        let mut out = Vec::with_capacity(parts.len());
        let mut at = 0usize;
        for p in parts {
            out.push(bytemuck::pod_collect_to_vec(&bytes[at..at + p.2 as usize]));
            at += p.2 as usize;
        }
        Ok(out)
    }

    /// Waits for a map callback that reports into `rx`. When several threads share the device,
    /// another thread's poll can retire our submission and run our callback a moment after our own
    /// poll has returned, so one poll is not enough: poll again until the callback has run.
    pub fn wait_for_callback<T>(&self, rx: &std::sync::mpsc::Receiver<T>) -> Result<T> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        loop {
            self.wait()?;
            match rx.recv_timeout(std::time::Duration::from_millis(5)) {
                Ok(v) => return Ok(v),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::Gpu("the readback callback was dropped unrun".into()))
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if std::time::Instant::now() > deadline => {
                    return Err(Error::Gpu("the readback buffer was never mapped (waited 10 minutes)".into()))
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

/// Mesa's Vulkan and EGL drivers try to reach a Wayland compositor, and libwayland prints
/// "XDG_RUNTIME_DIR is invalid or not set" when that variable does not name a directory, even
/// though the run then succeeds. Without one, point it at a private empty directory
/// (`$TMPDIR/wgpu-mlp-runtime-UID`, mode 0700) so the lookup fails quietly.
///
/// Changes the process environment: call it first thing in `main`, before any thread starts.
pub fn quiet_missing_runtime_dir() {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir()) {
            return;
        }
        let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else { return };
        let dir = std::env::temp_dir().join(format!("wgpu-mlp-runtime-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        // only a directory of our own, never one someone else planted
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir() && m.uid() == uid) {
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
    }
}
