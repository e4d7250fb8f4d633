//! Every training option, each defined once. One `section!` entry gives an option its TOML key
//! and config field (with its default), its clap flag and help, and so its entry in the
//! error-to-flag map (the CLI reads the flag names back from clap), with no second list to keep.

use super::DeviceChoice;
use crate::data::Augment;
use crate::engine::ClassWeight;
use crate::model::{Activation, Init, Loss};
use crate::optim::{LrSchedule, OptimizerKind, Plateau, Warmup};
use crate::train::{CheckpointEvery, Monitor};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A config field that always has a value (`Option<T>` marks those that may be unset).
pub type Plain<T> = T;

/// Defines one section of the configuration from a single list of options:
///
/// - `$cfg`: the values (serde, flattened into the flat TOML of `config.toml`), each field typed
///   `Plain<T>` or `Option<T>`, with its default;
/// - `$args`: the flags (clap), every field `Option<T>`, so an unset flag keeps the value from
///   the TOML file (or the default), and `$args::apply_to` lays the given flags over a `$cfg`;
/// - `$cfg::KEYS`: the TOML keys, which a config file may not go beyond.
///
/// A switch (`--nesterov`) is an `Option<bool>` flag taking no value (`num_args = 0`,
/// `default_missing_value`), so "not given" stays distinguishable from "given".
macro_rules! section {
    (
        $(#[doc = $sdoc:literal])*
        $cfg:ident / $args:ident {
            $(
                $(#[doc = $doc:literal])*
                #[arg($($arg:tt)*)]
                $f:ident : $wrap:ident < $t:ty > = $default:expr
            ),* $(,)?
        }
    ) => {
        $(#[doc = $sdoc])*
        // The option docs are clap help text, where `[:slope]` means "optional", not a link.
        #[allow(rustdoc::broken_intra_doc_links)]
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $cfg {
            $( $(#[doc = $doc])* pub $f: $wrap<$t>, )*
        }

        impl Default for $cfg {
            fn default() -> Self {
                $cfg { $( $f: $default, )* }
            }
        }

        impl $cfg {
            /// The TOML keys of this section.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($f)),*];
        }

        $(#[doc = $sdoc])*
        #[allow(rustdoc::broken_intra_doc_links)]
        #[derive(clap::Args, Clone, Debug, Default)]
        pub struct $args {
            $( $(#[doc = $doc])* #[arg($($arg)*)] pub $f: Option<$t>, )*
        }

        impl $args {
            /// The flags that were given, over `c`.
            pub fn apply_to(&self, c: &mut $cfg) {
                $( if let Some(v) = &self.$f { c.$f = v.clone().into(); } )*
            }
        }
    };
}

section! {
    /// The network: its layers, activations, loss and starting weights.
    ModelConfig / ModelArgs {
        /// layer sizes, input first [default: 784,64,10]
        #[arg(long, value_delimiter = ',')]
        layers: Plain<Vec<usize> > = vec![784, 64, 10],
        /// hidden layer sizes only, e.g. 64,32: the input width and the output count come from the data (its features; its classes, or its target columns) [default: --layers]
        #[arg(long, value_delimiter = ',', conflicts_with = "layers")]
        hidden: Option<Vec<usize> > = None,
        /// hidden activation, or one per hidden layer: identity, relu, leaky_relu[:slope], tanh, sigmoid [default: relu]
        #[arg(long, value_delimiter = ',')]
        activation: Plain<Vec<Activation> > = vec![Activation::Relu],
        /// softmax_xent, bce, mse or cosine [default: softmax_xent]
        #[arg(long)]
        loss: Plain<Loss> = Loss::SoftmaxCrossEntropy,
        /// label smoothing ε in [0, 1) for softmax_xent: targets (1 − ε)·one-hot + ε/K, as PyTorch's label_smoothing (training only) [default: 0]
        #[arg(long, allow_negative_numbers = true)]
        label_smoothing: Plain<f64> = 0.0,
        /// class weights of the training loss, Keras' class_weight: `balanced` (n / (K·n_class), scikit-learn's) or one positive weight per class [default: none]
        #[arg(long, value_name = "balanced|W0,W1,...")]
        class_weight: Option<ClassWeight> = None,
        /// gaussian[:std], xavier_normal, xavier_uniform, he_normal, he_uniform [default: he_normal]
        #[arg(long)]
        init: Plain<Init> = Init::HeNormal,
        /// start from the weights of this model file (same architecture) instead of --init
        #[arg(long, value_name = "MODEL")]
        init_from: Option<PathBuf> = None,
        /// shift and scale every feature to mean 0 and deviation 1 over the training split (scikit-learn's StandardScaler); the model keeps the transform, and eval and predict apply it [default: off]
        #[arg(long, num_args = 0, default_missing_value = "true")]
        standardize: Plain<bool> = false,
    }
}

section! {
    /// The optimizer and its learning-rate schedule.
    OptimConfig / OptimArgs {
        /// sgd, momentum, nesterov, rmsprop, adam, adamw [default: momentum]
        #[arg(long)]
        optimizer: Plain<OptimizerKind> = OptimizerKind::Momentum,
        /// learning rate, > 0 [default: 0.05]
        #[arg(long, allow_negative_numbers = true)]
        lr: Plain<f64> = 0.05,
        /// momentum μ in [0, 1) for momentum, nesterov and rmsprop; with sgd, μ > 0 makes it PyTorch's SGD(momentum=μ) [default: 0.9; rmsprop 0]
        #[arg(long, allow_negative_numbers = true)]
        momentum: Option<f64> = None,
        /// Nesterov look-ahead: sgd or momentum with it is nesterov (PyTorch's SGD(nesterov=True)); rmsprop with momentum takes it too [default: off]
        #[arg(long, num_args = 0, default_missing_value = "true")]
        nesterov: Plain<bool> = false,
        /// RMSprop decay ρ in [0, 1) [default: 0.99]
        #[arg(long, allow_negative_numbers = true)]
        rho: Plain<f64> = 0.99,
        /// Adam β1 in [0, 1) [default: 0.9]
        #[arg(long, allow_negative_numbers = true)]
        beta1: Plain<f64> = 0.9,
        /// Adam β2 in [0, 1) [default: 0.999]
        #[arg(long, allow_negative_numbers = true)]
        beta2: Plain<f64> = 0.999,
        /// Adam/RMSprop ε > 0 [default: 1e-8]
        #[arg(long, allow_negative_numbers = true)]
        eps: Plain<f64> = 1e-8,
        /// decoupled weight decay, w *= 1 − lr·wd each step, weights only [default: 0; adamw 0.01]
        #[arg(long, allow_negative_numbers = true)]
        weight_decay: Option<f64> = None,
        /// constant, exp:GAMMA, step:EVERY:GAMMA, cosine[:MIN_LR] [default: exp:0.95]
        #[arg(long)]
        lr_schedule: Plain<LrSchedule> = LrSchedule::Exponential { gamma: 0.95 },
        /// linear warm-up on top of the schedule: N (epochs) or N:steps; epoch or step k of N runs at k/N of the rate [default: none]
        #[arg(long)]
        warmup: Option<Warmup> = None,
        /// Keras' ReduceLROnPlateau: PATIENCE[:FACTOR[:MIN_LR]], the rate times FACTOR (0.1) after PATIENCE epochs without --monitor improvement [default: off]
        #[arg(long, value_name = "PATIENCE[:FACTOR[:MIN_LR]]")]
        reduce_on_plateau: Option<Plateau> = None,
        /// clip the gradient to this global L2 norm over every weight and bias before each step, as PyTorch's clip_grad_norm_(max_norm); --l2/--l1 penalties are added after [default: off]
        #[arg(long, value_name = "MAX_NORM", allow_negative_numbers = true)]
        clip_norm: Option<f64> = None,
    }
}

section! {
    /// Regularisation: penalties, dropout and augmentation.
    RegularizationConfig / RegularizationArgs {
        /// L2 strength λ (adds ½λ‖W‖²), one value or one per layer [default: 0]
        #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
        l2: Plain<Vec<f64> > = vec![],
        /// L1 strength β (adds β‖W‖₁), one value or one per layer [default: 0]
        #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
        l1: Plain<Vec<f64> > = vec![],
        /// apply L1 by proximal soft-thresholding (exact zeros) instead of the subgradient [default: off]
        #[arg(long, num_args = 0, default_missing_value = "true")]
        l1_proximal: Plain<bool> = false,
        /// drop probability in [0, 1), as PyTorch's Dropout(p) and Keras' Dropout(rate): one value for every hidden layer, or one per layer input (input first) [default: no dropout]
        #[arg(long, value_delimiter = ',', allow_negative_numbers = true, conflicts_with = "keep_prob")]
        dropout: Plain<Vec<f32> > = vec![],
        /// keep probability in (0, 1], the course's p (1 − --dropout); one value or one per layer input, as --dropout [default: 1]
        #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
        keep_prob: Plain<Vec<f32> > = vec![],
        /// random image transforms per training batch, e.g. shift=2,noise=0.05,hflip,rotate=10
        /// (shift ±pixels, Gaussian noise std, left-right flip with probability ½, rotation ±degrees) [default: none]
        #[arg(long)]
        augment: Option<Augment> = None,
    }
}

section! {
    /// Where the data comes from; the same flags for every command that reads data.
    DataSource / DataArgs {
        /// directory with MNIST-format IDX files (train-*/t10k-*, gzipped or not) [default: the bundled 10,000 MNIST digits; eval and info: the model's training data]
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf> = None,
        /// CSV file with a header row (tabular data); needs --target
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf> = None,
        /// target column of --csv (name or 0-based index)
        #[arg(long, value_name = "COLUMN")]
        target: Option<String> = None,
    }
}

section! {
    /// Which engine computes: the same flag for every command that trains or evaluates.
    EngineConfig / EngineArgs {
        /// auto (hardware GPU, else CPU), gpu (any adapter, software included), gpu:N (adapter N as `wgpu-mlp devices` numbers them), cpu; WGPU_MLP_ADAPTER=N makes auto and gpu take adapter N [default: auto]
        #[arg(long)]
        device: Plain<DeviceChoice> = DeviceChoice::Auto,
    }
}

section! {
    /// How the run goes: batches, epochs, seed, validation protocol, stopping, output.
    RunConfig / RunArgs {
        /// minibatch size, >= 1 [default: 100]
        #[arg(long)]
        batch: Plain<usize> = 100,
        /// epochs, >= 1 (with --resume: the total to reach) [default: 10]
        #[arg(long)]
        epochs: Plain<usize> = 10,
        /// seed for initialisation, shuffling, dropout and splits [default: 0]
        #[arg(long)]
        seed: Plain<u64> = 0,
        /// visit the training samples in the same fixed order every epoch [default: a seeded shuffle per epoch]
        #[arg(long = "no-shuffle", num_args = 0, default_missing_value = "false")]
        shuffle: Plain<bool> = true,
        /// stop after this many epochs without validation improvement; the best weights are restored [default: off]
        #[arg(long, value_name = "PATIENCE")]
        early_stop: Option<usize> = None,
        /// the validation metric that picks the best epoch (its weights are kept) and that --early-stop watches: val_accuracy or val_loss [default: val_accuracy; regression: val_loss]
        #[arg(long)]
        monitor: Option<Monitor> = None,
        /// smallest improvement of the --monitor metric that counts: for the best epoch, --early-stop and --reduce-on-plateau [default: 0]
        #[arg(long, allow_negative_numbers = true)]
        min_delta: Plain<f64> = 0.0,
        /// validation samples held out of the training data [default: 10%; without a test file as many again are held out for testing]
        #[arg(long)]
        val: Option<usize> = None,
        /// validation fraction of the training data, in (0, 1) [default: 0.1]
        #[arg(long, allow_negative_numbers = true)]
        val_frac: Option<f64> = None,
        /// K-fold cross-validation (K >= 2) on the training data instead of a single split; writes kfold.json [default: off]
        #[arg(long, value_name = "K")]
        kfold: Option<usize> = None,
        /// write the checkpoint, history.json and curves.png every N epochs, or after the first epoch S seconds past the last (`Ss`, e.g. 30s); the last epoch, an early stop and Ctrl-C always checkpoint [default: 10s]
        #[arg(long, value_name = "N|Ss", allow_hyphen_values = true)]
        checkpoint_every: Plain<CheckpointEvery> = CheckpointEvery::default(),
        /// run directory; must be new or empty [default: runs/run-N, the first unused N]
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf> = None,
    }
}
