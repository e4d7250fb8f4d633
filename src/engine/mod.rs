//! The Engine trait: what the training loop asks of the CPU and GPU engines alike.
//! An engine owns the parameters, optimizer state and the training set; per epoch it receives
//! only the sample order and the learning rate, and reports what it measured at the epoch's end.

mod fit;
pub use fit::check_dataset_fits;

use crate::data::{Augment, Dataset};
use crate::error::Result;
use crate::model::{NetworkSpec, Params};
use crate::optim::{OptimizerConfig, Regularization};
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// Everything about a run an engine needs to record its steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSetup {
    pub spec: NetworkSpec,
    pub optimizer: OptimizerConfig,
    pub regularization: Regularization,
    /// Keep probability for the input of each layer (index 0: the network input, i: the output of
    /// hidden layer i-1). Empty or 1.0 means no dropout there. Inverted dropout: kept values are
    /// divided by p during training; evaluation uses no mask.
    pub keep: Vec<f32>,
    pub batch: usize,
    pub seed: u64,
    /// Random image transforms of each training batch, right after the gather (training only;
    /// image data only). None (or all off) leaves batches as gathered.
    #[serde(default)]
    pub augment: Option<Augment>,
}

impl TrainSetup {
    pub fn keep_of(&self, layer: usize) -> f32 {
        self.keep.get(layer).copied().unwrap_or(1.0)
    }
    pub fn has_dropout(&self) -> bool {
        self.keep.iter().any(|&p| p < 1.0)
    }
}

/// What one epoch of training measured, summed on the device and read back once.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Σ over steps of (batch-mean data loss + regularisation penalty) × batch size.
    pub loss_sum: f64,
    /// Correctly classified training samples (classification losses only).
    pub correct: u64,
    pub samples: u64,
    pub steps: u64,
    /// Per layer: Σ over steps of ‖∂L/∂W‖₂ (the full gradient, penalties included).
    pub grad_norm_sum: Vec<f64>,
    /// Per hidden layer: units that never had a positive output over the epoch (ReLU family).
    pub dead_units: Vec<u64>,
    /// Per hidden layer: activations in the flat part of sigmoid/tanh (|tanh| > 0.99,
    /// sigmoid outside [0.01, 0.99]), counted over all (sample, unit) pairs of the epoch.
    pub saturated: Vec<u64>,
}

impl EpochStats {
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.samples.max(1) as f64
    }
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.samples.max(1) as f64
    }
    pub fn mean_grad_norms(&self) -> Vec<f64> {
        self.grad_norm_sum.iter().map(|s| s / self.steps.max(1) as f64).collect()
    }
}

/// What evaluating a dataset measured (no dropout, no parameter change).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalStats {
    /// Σ over samples of the data loss (no penalty).
    pub loss_sum: f64,
    pub correct: u64,
    pub samples: u64,
}

impl EvalStats {
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.samples.max(1) as f64
    }
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.samples.max(1) as f64
    }
}

/// Optimizer moments and the step counter: with the parameters, the whole training state.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T> {
    /// 0, 1 or 2 tensors shaped like the parameters (velocity; or Adam's m and v; RMSprop's s and v).
    pub slots: Vec<Vec<T>>,
    /// Optimizer steps taken so far (Adam's bias correction and dropout masks use it).
    pub step: u64,
}

pub trait Engine {
    type Elem: Scalar;

    /// Which engine and device, for the user ("cpu (2 threads)", "gpu: llvmpipe (Vulkan, Cpu)").
    fn describe(&self) -> String;
    fn setup(&self) -> &TrainSetup;

    /// Replaces the parameters; the optimizer state is reset to zero and the step counter to 0.
    fn set_params(&mut self, params: &Params<Self::Elem>) -> Result<()>;
    fn params(&mut self) -> Result<Params<Self::Elem>>;
    fn optimizer_state(&mut self) -> Result<OptimizerState<Self::Elem>>;
    fn set_optimizer_state(&mut self, state: &OptimizerState<Self::Elem>) -> Result<()>;

    /// Stores the training set with the engine (on the GPU: uploads it once, resident for the run).
    fn load_train(&mut self, data: &Dataset) -> Result<()>;
    /// One pass over the loaded training set in `order`, in minibatches of `setup().batch`
    /// (the last one may be smaller), at learning rate `lr`.
    fn train_epoch(&mut self, order: &[u32], lr: f64) -> Result<EpochStats>;
    /// Loss and accuracy on `data` with the current parameters.
    fn evaluate(&mut self, data: &Dataset) -> Result<EvalStats>;
    /// Network outputs for `data`: class probabilities (softmax/sigmoid) or regression values,
    /// [len, outputs] row-major.
    fn predict(&mut self, data: &Dataset) -> Result<Vec<f32>>;
    /// Keeps a copy of the current parameters inside the engine (on the GPU: a device-side copy,
    /// no readback), for early stopping's best weights.
    fn snapshot_params(&mut self) -> Result<()>;
    /// Makes the last snapshot the current parameters (the optimizer state is left as it is).
    fn restore_snapshot(&mut self) -> Result<()>;
    /// Device-to-host copies so far (the GPU engine counts them; the CPU engine reports 0).
    fn readbacks(&self) -> u64 {
        0
    }
    /// Device time per kernel family over a few training steps in `order`, from GPU timestamp
    /// queries, each kernel timed in a pass of its own (so the steps run slower than in an
    /// epoch; they train like any others). None where the engine or adapter has no timer.
    fn kernel_times(&mut self, _order: &[u32], _lr: f64) -> Result<Option<Vec<KernelTime>>> {
        Ok(None)
    }
}

/// Time one training step spends in one family of kernels (matmul, gather, loss, reduce, update).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KernelTime {
    pub family: String,
    pub dispatches_per_step: usize,
    /// mean device time per step in this family's kernels
    pub seconds_per_step: f64,
}
