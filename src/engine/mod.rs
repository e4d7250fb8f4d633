//! The Engine trait: what the training loop asks of the CPU and GPU engines alike.
//! An engine owns the parameters, optimizer state and the training set; per epoch it receives
//! only the sample order and the learning rate, and reports what it measured at the epoch's end.

mod fit;
pub use fit::check_dataset_fits;

use crate::data::{Augment, Dataset};
use crate::error::Result;
use crate::model::{NetworkSpec, Params};
use crate::optim::{OptimizerConfig, OptimizerState, Regularization};
use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// Everything about a run an engine needs to record its steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSetup {
    /// Layer widths, activations and loss.
    pub spec: NetworkSpec,
    /// Optimizer kind and hyperparameters (the learning rate comes per epoch, not from here).
    pub optimizer: OptimizerConfig,
    /// Weight decay and per-layer L1/L2 penalties.
    pub regularization: Regularization,
    /// Keep probability for the input of each layer (index 0: the network input, i: the output of
    /// hidden layer i-1). Empty or 1.0 means no dropout there. Inverted dropout: kept values are
    /// divided by p during training; evaluation uses no mask.
    pub keep: Vec<f32>,
    /// Samples per training step (at least 1).
    pub batch: usize,
    /// Seed of the dropout masks and augmentation transforms (through [`crate::rng::seed_key`]).
    pub seed: u64,
    /// Random image transforms of each training batch, right after the gather (training only;
    /// image data only). None (or all off) leaves batches as gathered.
    #[serde(default)]
    pub augment: Option<Augment>,
    /// How the training loss treats the targets: label smoothing and class weights. Evaluation
    /// (validation, test, `eval`) always scores the plain loss against the true labels.
    #[serde(default)]
    pub train_loss: TrainLoss,
}

/// What the training loss does with the targets beyond the loss itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainLoss {
    /// Softmax cross-entropy against (1 − ε)·one-hot + ε/K (PyTorch's `label_smoothing`); 0: none.
    pub label_smoothing: f64,
    /// Weight of each class's samples in the loss and its gradient (Keras' `class_weight`: the
    /// batch mean stays a mean over samples); empty: every class 1.
    pub class_weight: Vec<f32>,
}

/// `--class-weight`: scikit-learn's `balanced` (n / (K · count of the class) over the
/// training data), or one weight per class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ClassWeight {
    /// n / (K · n_c) from the training split's labels (a class with no sample gets 1)
    Balanced,
    /// one weight per class, in class order
    List(Vec<f32>),
}

impl ClassWeight {
    /// The weights for training labels `labels` of `classes` classes.
    pub fn resolve(&self, labels: &[u32], classes: usize) -> Vec<f32> {
        match self {
            ClassWeight::List(w) => w.clone(),
            ClassWeight::Balanced => {
                let mut count = vec![0u64; classes];
                for &l in labels {
                    if let Some(c) = count.get_mut(l as usize) {
                        *c += 1;
                    }
                }
                let n = labels.len() as f64;
                count.iter().map(|&c| if c == 0 { 1.0 } else { (n / (classes as f64 * c as f64)) as f32 }).collect()
            }
        }
    }
}

impl std::fmt::Display for ClassWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClassWeight::Balanced => f.write_str("balanced"),
            ClassWeight::List(w) => f.write_str(&w.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")),
        }
    }
}

impl std::str::FromStr for ClassWeight {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        if s.trim() == "balanced" {
            return Ok(ClassWeight::Balanced);
        }
        let w = s
            .split(',')
            .map(|x| x.trim().parse::<f32>().ok().filter(|w| w.is_finite() && *w > 0.0))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| crate::Error::config("class-weight", format!("'{s}' is not `balanced` or a list of positive weights, one per class")))?;
        Ok(ClassWeight::List(w))
    }
}

serde_as_text!(ClassWeight);

impl TrainLoss {
    /// Neither smoothing nor weights.
    pub fn is_plain(&self) -> bool {
        self.label_smoothing == 0.0 && self.class_weight.is_empty()
    }
}

impl TrainSetup {
    /// Keep probability for the input of layer `layer` (1.0 where `keep` does not reach).
    pub fn keep_of(&self, layer: usize) -> f32 {
        self.keep.get(layer).copied().unwrap_or(1.0)
    }
    /// Whether any layer's input is dropped (some keep probability below 1).
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
    /// Training samples seen (the length of the epoch's order).
    pub samples: u64,
    /// Optimizer steps taken (minibatches).
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
    /// Mean training loss per sample, penalty included (0 for an empty epoch).
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.samples.max(1) as f64
    }
    /// Share of training samples classified correctly, in [0, 1].
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.samples.max(1) as f64
    }
    /// Per layer: the mean over steps of ‖∂L/∂W‖₂.
    pub fn mean_grad_norms(&self) -> Vec<f64> {
        self.grad_norm_sum.iter().map(|s| s / self.steps.max(1) as f64).collect()
    }
}

/// What evaluating a dataset measured (no dropout, no parameter change).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalStats {
    /// Σ over samples of the data loss (no penalty).
    pub loss_sum: f64,
    /// Correctly classified samples (classification losses only; 0 for regression).
    pub correct: u64,
    /// Samples evaluated.
    pub samples: u64,
}

impl EvalStats {
    /// Mean data loss per sample (0 for an empty set).
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.samples.max(1) as f64
    }
    /// Share of samples classified correctly, in [0, 1].
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.samples.max(1) as f64
    }
}

/// A training engine: [`crate::cpu::CpuEngine`] (the reference, f32 or f64) or
/// [`crate::gpu::GpuEngine`] (WGSL, f32). Tests written over this trait run on both.
pub trait Engine {
    /// The element type of parameters and optimizer state (f32 on the GPU).
    type Elem: Scalar;

    /// Which engine and device, for the user ("cpu (f32, 2 threads)", "gpu: llvmpipe (Vulkan, Cpu)").
    fn describe(&self) -> String;
    /// The setup the engine was built with.
    fn setup(&self) -> &TrainSetup;

    /// Replaces the parameters; the optimizer state is reset to zero and the step counter to 0.
    /// [`crate::Error::Shape`] if `params` have another layout.
    fn set_params(&mut self, params: &Params<Self::Elem>) -> Result<()>;
    /// A copy of the current parameters (on the GPU: a readback).
    fn params(&mut self) -> Result<Params<Self::Elem>>;
    /// A copy of the optimizer's moments and step counter (on the GPU: a readback), for checkpoints.
    fn optimizer_state(&mut self) -> Result<OptimizerState<Self::Elem>>;
    /// Replaces the optimizer state (resuming from a checkpoint); [`crate::Error::Shape`] if its slot
    /// count or lengths do not match this optimizer and network.
    fn set_optimizer_state(&mut self, state: &OptimizerState<Self::Elem>) -> Result<()>;

    /// Stores the training set with the engine (on the GPU: uploads it once, resident for the run).
    fn load_train(&mut self, data: &Dataset) -> Result<()>;
    /// [`Engine::load_train`] for a training set the caller has no further use for: the CPU
    /// engine keeps it as it is instead of copying it (the GPU engine uploads it and drops it).
    fn load_train_owned(&mut self, data: Dataset) -> Result<()> {
        self.load_train(&data)
    }
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
    /// Which kernel variant each matmul shape runs and how it was chosen (GPU engine only).
    fn tuning(&self) -> Option<Tuning> {
        None
    }
}

/// The GPU engine's kernel choices (src/gpu/tune): what `bench` prints and runs note.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tuning {
    /// off, auto or force
    pub mode: String,
    /// shapes measured by this engine (0: every choice came from the cache, or tuning is off)
    pub tuned: usize,
    /// seconds spent compiling and timing candidates
    pub seconds: f64,
    /// each shape's choice
    pub choices: Vec<KernelChoice>,
    /// what went wrong on the way (a cache file ignored or not written, a candidate that failed)
    pub notes: Vec<String>,
    /// what was measured and where it is remembered, when anything was
    #[serde(default)]
    pub tuned_note: Option<String>,
}

/// One matmul shape's variant.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KernelChoice {
    /// the form and M×K×N, e.g. "abt 128x784x256"
    pub shape: String,
    /// the variant, e.g. "tiled-64"
    pub kernel: String,
    /// tuned (measured now), cached (measured before) or untuned (`--tune off`)
    pub origin: String,
    /// (variant, GFLOP/s) of every candidate measured, fastest first; empty when untuned
    pub measured: Vec<(String, f64)>,
}

/// Time one training step spends in one family of kernels (GPU engine only).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KernelTime {
    /// The kernel family's name: "matmul", "gather", "loss", "optimizer" or "reduce".
    pub family: String,
    /// Dispatches of this family's kernels in one training step.
    pub dispatches_per_step: usize,
    /// Mean device time per step in this family's kernels, in seconds.
    pub seconds_per_step: f64,
}
