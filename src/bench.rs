//! `wgpu-mlp bench`: training throughput of the three configurations per engine, with
//! the numbers that give it a scale (GFLOP/s against a stated peak, time to first step,
//! readbacks per epoch, peak memory).

use crate::config::{DeviceChoice, TrainConfig};
use crate::data::{bundled_mnist, epoch_order};
use crate::engine::{KernelTime, TrainSetup, Tuning};
use crate::error::{Error, Result};
use crate::model::{Activation, Init, Loss, NetworkSpec, ParamLayout, Params};
use crate::optim::{LrSchedule, OptimizerConfig, OptimizerKind, Regularization};
use crate::run::make_engine;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One benchmark configuration: the course's MNIST network and two wider ones.
#[derive(Clone, Copy, Debug)]
pub struct BenchNet {
    /// The name `--configs` takes: "A", "B" or "C".
    pub name: &'static str,
    /// Layer widths, input first (784 for MNIST) and classes last.
    pub sizes: &'static [usize],
    /// Samples per step.
    pub batch: usize,
}

/// The three benchmark configurations: A is 784-64-10 at batch 100, B 784-256-256-10 at 128,
/// C 784-1024-1024-10 at 256.
pub const NETS: [BenchNet; 3] = [
    BenchNet { name: "A", sizes: &[784, 64, 10], batch: 100 },
    BenchNet { name: "B", sizes: &[784, 256, 256, 10], batch: 128 },
    BenchNet { name: "C", sizes: &[784, 1024, 1024, 10], batch: 256 },
];

/// The configuration in [`NETS`] called `name` (case-insensitive); [`Error::Config`] if none is.
pub fn net_by_name(name: &str) -> Result<BenchNet> {
    NETS.iter()
        .copied()
        .find(|n| n.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::config("bench config", format!("'{name}' is not one of A, B, C")))
}

/// Floating-point operations of one training step per sample: forward 2·in·out per layer,
/// backward 2·in·out for ∂W and 2·in·out for ∂input (not needed below the first layer).
pub fn train_flops_per_sample(sizes: &[usize]) -> f64 {
    let layers: Vec<f64> = sizes.windows(2).map(|w| 2.0 * (w[0] * w[1]) as f64).collect();
    let all: f64 = layers.iter().sum();
    3.0 * all - layers[0]
}

/// The setup and He-initialised parameters the criterion benches train `net` with.
pub fn bench_setup(net: BenchNet, optimizer: OptimizerKind) -> Result<(TrainSetup, Params<f32>)> {
    let spec = NetworkSpec::new(net.sizes, Activation::Relu, Loss::SoftmaxCrossEntropy)?;
    let params = Init::HeNormal.init(&ParamLayout::new(&spec), 0).cast(|x| x as f32);
    let setup = TrainSetup {
        spec,
        optimizer: OptimizerConfig::new(optimizer),
        regularization: Regularization::none(),
        keep: vec![],
        batch: net.batch,
        seed: 0,
        augment: None, train_loss: Default::default()
    };
    Ok((setup, params))
}

/// What [`bench_one`] measured for one configuration on one engine (one row of `wgpu-mlp bench`,
/// serialised as JSON between the bench's child process and its parent).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchResult {
    /// The configuration's name in [`NETS`].
    pub config: String,
    /// Layer widths joined by '-', e.g. "784-64-10".
    pub network: String,
    /// Samples per step.
    pub batch: usize,
    /// The optimizer's name as the CLI spells it.
    pub optimizer: String,
    /// The engine's own description ([`crate::engine::Engine::describe`]: adapter, or element type and threads).
    pub device: String,
    /// Training samples per second, median over the measured epochs, each ending in a sync (stats readback).
    pub samples_per_second: f64,
    /// Achieved GFLOP/s: `samples_per_second` × [`train_flops_per_sample`] / 1e9.
    pub gflops: f64,
    /// Seconds from engine creation (shaders, pipelines, uploads) through the end of the first step.
    pub first_step_seconds: f64,
    /// Mean device-to-host readbacks per timed epoch (at most one on the GPU engine; the CPU engine counts 0).
    pub readbacks_per_epoch: f64,
    /// The process's peak resident memory in MiB (VmHWM), when the platform reports it.
    pub peak_rss_mib: Option<f64>,
    /// Number of timed epochs the median is over.
    pub epochs_measured: usize,
    /// Training samples per epoch.
    pub samples_per_epoch: usize,
    /// Device time per step by kernel family (GPU timestamp queries; empty without them).
    #[serde(default)]
    pub kernel_times: Vec<KernelTime>,
    /// The matmul variant of each shape and its measured GFLOP/s (GPU engine only).
    #[serde(default)]
    pub tuning: Option<Tuning>,
}

/// Peak resident set size of this process in MiB (Linux /proc; None elsewhere).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Trains `net` with `optimizer` on the bundled digits (the first `samples` of them) on `device`:
/// one warm-up epoch, then `epochs` timed ones.
pub fn bench_one(net: BenchNet, optimizer: OptimizerKind, device: DeviceChoice, samples: usize, epochs: usize) -> Result<BenchResult> {
    // the full set is dropped once sliced: it would otherwise count in the peak memory
    let data = {
        let all = bundled_mnist()?;
        all.slice(0..samples.clamp(net.batch, all.len))
    };
    let n = data.len;
    let mut cfg = TrainConfig::default();
    (cfg.model.layers, cfg.model.activation, cfg.model.loss, cfg.model.init) =
        (net.sizes.to_vec(), vec![Activation::Relu], Loss::SoftmaxCrossEntropy, Init::HeNormal);
    cfg.optim.optimizer = optimizer;
    cfg.optim.lr = if matches!(optimizer, OptimizerKind::Adam | OptimizerKind::Adamw) { 1e-3 } else { 0.01 };
    cfg.optim.lr_schedule = LrSchedule::Constant;
    (cfg.run.batch, cfg.engine.device) = (net.batch, device);
    let t0 = Instant::now();
    let mut engine = make_engine(&cfg)?;
    engine.load_train(&data)?;
    engine.train_epoch(&(0..net.batch as u32).collect::<Vec<_>>(), cfg.optim.lr)?;
    let first_step = t0.elapsed().as_secs_f64();

    engine.train_epoch(&epoch_order(n, 0, 0, true), cfg.optim.lr)?; // warm-up
    let mut rates = Vec::with_capacity(epochs);
    let before = engine.readbacks();
    for e in 0..epochs.max(1) {
        let order = epoch_order(n, 0, e as u64 + 1, true);
        let t = Instant::now();
        engine.train_epoch(&order, cfg.optim.lr)?;
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    let readbacks = (engine.readbacks() - before) as f64 / rates.len() as f64;
    // after the timed epochs: profiling splits every kernel into its own pass
    let kernel_times = engine.kernel_times(&epoch_order(n, 0, epochs as u64 + 1, true), cfg.optim.lr)?.unwrap_or_default();
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let spec = NetworkSpec::new(net.sizes, Activation::Relu, Loss::SoftmaxCrossEntropy)?;
    Ok(BenchResult {
        config: net.name.into(),
        network: spec.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-"),
        batch: net.batch,
        optimizer: optimizer.to_string(),
        device: engine.describe(),
        samples_per_second: median,
        gflops: median * train_flops_per_sample(net.sizes) / 1e9,
        first_step_seconds: first_step,
        readbacks_per_epoch: readbacks,
        peak_rss_mib: peak_rss_mib(),
        epochs_measured: rates.len(),
        samples_per_epoch: n,
        kernel_times,
        tuning: engine.tuning(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_count_forward_and_both_backward_products() {
        // 784-64-10: forward 2·(784·64 + 64·10) = 101,632; ∂W the same; ∂input only for layer 1
        assert_eq!(train_flops_per_sample(&[784, 64, 10]), 101_632.0 * 2.0 + 2.0 * 640.0);
    }
}
