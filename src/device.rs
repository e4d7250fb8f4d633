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

/// Which engine runs the math: `auto`, `gpu`, `cpu` or `gpu:N` (the N-th adapter as
/// `wgpu-mlp devices` lists them). Written as that text in flags, TOML files and model metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceChoice {
    /// a hardware GPU if there is one, else the CPU engine (adapter `WGPU_MLP_ADAPTER` when set
    /// and the node has a hardware GPU)
    Auto,
    /// any GPU adapter, software ones (lavapipe, llvmpipe, WARP) included; error if none
    /// (adapter `WGPU_MLP_ADAPTER` when set)
    Gpu,
    /// the CPU engine
    Cpu,
    /// the adapter of this index in [`GpuContext::adapters`]' order (`gpu:N`)
    Adapter(usize),
}

/// The environment variable that makes `auto` and `gpu` take the adapter of this index (a
/// scheduler sets it per worker, so the workers of a node spread over its GPUs).
pub const ADAPTER_ENV: &str = "WGPU_MLP_ADAPTER";

const DEVICE_NAMES: &str = "auto, gpu, gpu:N (the N-th adapter of `wgpu-mlp devices`), cpu";

impl DeviceChoice {
    /// Parses `auto`, `gpu`, `cpu` or `gpu:N` (any case, surrounding spaces ignored); the error
    /// is `Error::Config` for `device`, so the CLI names `--device`. The Python package and any
    /// other front end turn a user's device string into a choice with this.
    pub fn parse(text: &str) -> Result<DeviceChoice> {
        text.parse().map_err(|msg: String| Error::config("device", msg))
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let t = text.trim().to_ascii_lowercase();
        Ok(match t.as_str() {
            "auto" => DeviceChoice::Auto,
            "gpu" => DeviceChoice::Gpu,
            "cpu" => DeviceChoice::Cpu,
            _ => match t.strip_prefix("gpu:").map(|n| n.trim().parse::<usize>()) {
                Some(Ok(n)) => DeviceChoice::Adapter(n),
                Some(Err(_)) => return Err(format!("{}: the adapter index must be a whole number >= 0, as in gpu:0", crate::error::quoted(text))),
                None => return Err(format!("{} is not a device; valid: {DEVICE_NAMES}", crate::error::quoted(text))),
            },
        })
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Gpu => f.write_str("gpu"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Adapter(n) => write!(f, "gpu:{n}"),
        }
    }
}

impl Serialize for DeviceChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The adapter index `WGPU_MLP_ADAPTER` names, if it is set (an empty value counts as unset).
pub fn adapter_from_env() -> Result<Option<usize>> {
    let Some(v) = std::env::var_os(ADAPTER_ENV) else { return Ok(None) };
    let v = v.to_string_lossy();
    if v.trim().is_empty() {
        return Ok(None);
    }
    v.trim().parse().map(Some).map_err(|_| {
        Error::config(ADAPTER_ENV, format!("{} is not an adapter index (a whole number >= 0; `wgpu-mlp devices` lists them)", crate::error::quoted(&v)))
    })
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
        let env = if matches!(choice, DeviceChoice::Auto | DeviceChoice::Gpu) { adapter_from_env()? } else { None };
        let ctx = match (choice, env) {
            (DeviceChoice::Cpu, _) => None,
            (DeviceChoice::Adapter(n), _) => Some(open_index(n, "device", &format!("gpu:{n}"))?),
            // a scheduler sets the variable on every node: where there is no GPU, `auto` is the CPU
            (DeviceChoice::Auto, Some(_)) if !GpuContext::has_hardware_adapter() => None,
            (_, Some(n)) => Some(open_index(n, ADAPTER_ENV, &n.to_string())?),
            (DeviceChoice::Auto, None) => GpuContext::request(false)?,
            (DeviceChoice::Gpu, None) => Some(GpuContext::request(true)?.ok_or_else(|| {
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

/// The adapter of index `n`; out of range, an error for `what` (the flag or the variable that
/// named it, given as `given`) saying how many adapters there are.
fn open_index(n: usize, what: &str, given: &str) -> Result<Arc<GpuContext>> {
    GpuContext::request_index(n)?.ok_or_else(|| {
        let count = GpuContext::adapters().len();
        let have = match count {
            0 => "wgpu finds no GPU adapter (on Linux without a GPU: apt-get install mesa-vulkan-drivers)".to_string(),
            1 => "wgpu finds 1 adapter, index 0".to_string(),
            c => format!("wgpu finds {c} adapters, indices 0-{}", c - 1),
        };
        Error::config(what, format!("{given}: adapter {n} is out of range; {have} (`wgpu-mlp devices` lists them)"))
    })
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
