//! GPU against CPU: N training steps on both engines from one initialisation, compared tensor by
//! tensor. What `wgpu-mlp check` prints.

use crate::config::TrainConfig;
use crate::cpu::CpuEngine;
use crate::data::{bundled_mnist, Dataset};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuEngine};
use crate::model::{ParamLayout, Params};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct TensorDiff {
    pub name: String,
    pub max_abs: f64,
    /// max over elements of |gpu − cpu| / max(|cpu|, 1e-6)
    pub max_rel: f64,
    /// elements outside atol + rtol·|cpu|
    pub mismatches: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct CrossCheck {
    pub gpu: String,
    pub steps: usize,
    pub cpu_loss: f64,
    pub gpu_loss: f64,
    pub tensors: Vec<TensorDiff>,
    pub atol: f64,
    pub rtol: f64,
}

impl CrossCheck {
    pub fn passed(&self) -> bool {
        self.tensors.iter().all(|t| t.mismatches == 0)
            && (self.cpu_loss - self.gpu_loss).abs() <= self.atol + self.rtol * self.cpu_loss.abs()
    }
}

pub fn compare(cpu: &Params<f32>, gpu: &Params<f32>, atol: f64, rtol: f64) -> Vec<TensorDiff> {
    cpu.layout
        .tensors()
        .into_iter()
        .map(|(name, range)| {
            let (mut max_abs, mut max_rel, mut mismatches) = (0.0f64, 0.0f64, 0);
            for (&c, &g) in cpu.data[range.clone()].iter().zip(&gpu.data[range]) {
                let (c, g) = (c as f64, g as f64);
                let d = (g - c).abs();
                max_abs = max_abs.max(d);
                max_rel = max_rel.max(d / c.abs().max(1e-6));
                mismatches += (d > atol + rtol * c.abs() || d.is_nan()) as usize;
            }
            TensorDiff { name, max_abs, max_rel, mismatches }
        })
        .collect()
}

/// `steps` minibatch steps of `cfg` on the first steps×batch bundled digits (or `data`), on the
/// CPU engine and on the GPU engine (any adapter, software included).
pub fn cross_check(cfg: &TrainConfig, data: Option<Dataset>, steps: usize, atol: f64, rtol: f64) -> Result<CrossCheck> {
    let setup = cfg.setup()?;
    let data = match data {
        Some(d) => d,
        None => bundled_mnist()?,
    };
    let n = (steps * setup.batch).min(data.len);
    if n == 0 {
        return Err(Error::config("steps", "must be at least 1"));
    }
    let data = data.slice(0..n);
    let params = cfg.init.init(&ParamLayout::new(&setup.spec), cfg.seed).cast(|x| x as f32);
    let ctx = GpuContext::request(true)?
        .ok_or_else(|| Error::Gpu("no GPU adapter found (on Linux: apt-get install mesa-vulkan-drivers)".into()))?;
    let mut gpu = GpuEngine::new(ctx, setup.clone(), &params)?;
    let mut cpu = CpuEngine::<f32>::new(setup, params)?;
    let order: Vec<u32> = (0..n as u32).collect();
    let mut losses = [0.0; 2];
    for (i, e) in [&mut cpu as &mut dyn Engine<Elem = f32>, &mut gpu].into_iter().enumerate() {
        e.load_train(&data)?;
        losses[i] = e.train_epoch(&order, cfg.lr)?.mean_loss();
    }
    Ok(CrossCheck {
        gpu: gpu.describe(),
        steps: n.div_ceil(cfg.batch),
        cpu_loss: losses[0],
        gpu_loss: losses[1],
        tensors: compare(&cpu.params()?, &gpu.params()?, atol, rtol),
        atol,
        rtol,
    })
}
