//! The engine factory: the device a run asked for (`--device`), opened once, checked against a
//! plan's shapes before any data is read, and the engines made on it. K-fold folds and the
//! evaluation after training all share the one device (one wgpu context). It sits above both
//! engines (they know nothing of each other or of it).

use crate::cpu::CpuEngine;
use crate::engine::{Engine, TrainSetup};
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuEngine, EVAL_ROWS};
use crate::model::Params;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Which engine runs the math.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// a hardware GPU if there is one, else the CPU engine
    Auto,
    /// any GPU adapter, software ones (lavapipe, llvmpipe, WARP) included; error if none
    Gpu,
    /// the CPU engine
    Cpu,
}

static GPU_CONTEXTS_OPENED: AtomicUsize = AtomicUsize::new(0);

/// GPU contexts this process has opened through [`Device::open`] (a k-fold run opens one).
pub fn gpu_contexts_opened() -> usize {
    GPU_CONTEXTS_OPENED.load(Ordering::SeqCst)
}

/// Where engines run: the CPU, or one GPU context shared by every engine made on it.
#[derive(Clone)]
pub enum Device {
    /// Engines run on the CPU.
    Cpu,
    /// Engines run on this GPU context; cloning shares it.
    Gpu(Arc<GpuContext>),
}

impl Device {
    /// The device `choice` names: `auto` takes a hardware GPU if there is one, else the CPU.
    pub fn open(choice: DeviceChoice) -> Result<Device> {
        if choice != DeviceChoice::Cpu {
            check_backend_env()?;
        }
        let ctx = match choice {
            DeviceChoice::Cpu => None,
            DeviceChoice::Auto => GpuContext::request(false)?,
            DeviceChoice::Gpu => Some(GpuContext::request(true)?.ok_or_else(|| {
                Error::config("device", "gpu: no GPU adapter found (on Linux without a GPU: apt-get install mesa-vulkan-drivers)")
            })?),
        };
        Ok(match ctx {
            Some(ctx) => {
                GPU_CONTEXTS_OPENED.fetch_add(1, Ordering::SeqCst);
                Device::Gpu(ctx)
            }
            None => Device::Cpu,
        })
    }

    /// Opens the device `choice` names and checks `setup` against its limits.
    pub fn open_for(choice: DeviceChoice, setup: &TrainSetup) -> Result<Device> {
        let d = Device::open(choice)?;
        d.check(setup)?;
        Ok(d)
    }

    /// The engine's limits against the run's shapes (batch rows, layer widths, buffer sizes),
    /// so a run too large for this adapter is refused before its data is read.
    pub fn check(&self, setup: &TrainSetup) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            Device::Gpu(ctx) => crate::gpu::limits::check_shapes(ctx, setup, setup.batch.max(EVAL_ROWS), EVAL_ROWS),
        }
    }

    /// An engine for `setup` holding `params` on this device.
    pub fn engine(&self, setup: TrainSetup, params: Params<f32>) -> Result<Box<dyn Engine<Elem = f32>>> {
        Ok(match self {
            Device::Gpu(ctx) => Box::new(GpuEngine::new(ctx.clone(), setup, &params)?),
            Device::Cpu => Box::new(CpuEngine::<f32>::new(setup, params)?),
        })
    }
}

/// The backend names wgpu reads from `WGPU_BACKEND` (comma-separated; wgpu-types' `from_comma_list`).
const WGPU_BACKENDS: &[&str] = &["vulkan", "vk", "metal", "mtl", "dx12", "d3d12", "gl", "gles", "opengl", "webgpu", "noop"];

/// Refuses a `WGPU_BACKEND` that names no backend: wgpu would silently ignore it and find no
/// adapter, and "no GPU adapter found, install Mesa" would be the wrong advice.
fn check_backend_env() -> Result<()> {
    let Some(value) = std::env::var_os("WGPU_BACKEND") else { return Ok(()) };
    let value = value.to_string_lossy();
    let valid = "vulkan, metal, dx12, gl (several separated by commas)";
    for part in value.split(',') {
        let name = part.trim().to_lowercase();
        if !WGPU_BACKENDS.contains(&name.as_str()) {
            return Err(Error::config("WGPU_BACKEND", format!("{} is not a wgpu backend; valid: {valid}", crate::error::quoted(part.trim()))));
        }
    }
    Ok(())
}

/// An engine for `setup` holding `params`, on a device opened for it.
pub fn engine_for(setup: TrainSetup, params: Params<f32>, device: DeviceChoice) -> Result<Box<dyn Engine<Elem = f32>>> {
    Device::open(device)?.engine(setup, params)
}

/// An engine that only evaluates or predicts with a model's parameters.
pub fn inference_engine(spec: crate::model::NetworkSpec, params: Params<f32>, device: DeviceChoice) -> Result<Box<dyn Engine<Elem = f32>>> {
    let setup = TrainSetup {
        spec,
        optimizer: crate::optim::OptimizerConfig::sgd(),
        regularization: crate::optim::Regularization::none(),
        keep: vec![],
        batch: 1,
        seed: 0,
        augment: None, train_loss: Default::default()
    };
    engine_for(setup, params, device)
}
