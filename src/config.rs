//! The whole configuration of a training run, as one value: what the CLI flags and a TOML file
//! fill in, what `config.toml` in the run directory records, and what is validated before
//! anything is loaded or written.

use crate::data::Augment;
use crate::engine::TrainSetup;
use crate::error::{Error, Result};
use crate::model::{Activation, Init, Loss, NetworkSpec};
use crate::optim::{LrSchedule, OptimizerConfig, OptimizerKind, Regularization};
use crate::train::{EarlyStop, FitOptions};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub layers: Vec<usize>,
    /// one activation for every hidden layer, or one per hidden layer
    pub activation: Vec<Activation>,
    pub loss: Loss,
    pub init: Init,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub momentum: Option<f64>,
    pub nesterov: bool,
    pub rho: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// one strength for every layer, or one per layer
    pub l2: Vec<f64>,
    pub l1: Vec<f64>,
    pub l1_proximal: bool,
    /// keep probability per layer input (input layer first); one value applies to every hidden layer
    pub dropout: Vec<f32>,
    /// random image transforms of each training batch (image data only)
    pub augment: Option<Augment>,
    pub batch: usize,
    pub epochs: usize,
    pub lr_schedule: LrSchedule,
    pub seed: u64,
    pub device: DeviceChoice,
    pub shuffle: bool,
    pub early_stop: Option<usize>,
    pub min_delta: f64,
    /// directory of IDX files; None = the bundled MNIST digits
    pub data: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    pub target: Option<String>,
    pub val: Option<usize>,
    pub val_frac: Option<f64>,
    pub kfold: Option<usize>,
    pub out: Option<PathBuf>,
    /// start from these weights (a model.safetensors of the same architecture) instead of --init
    pub init_from: Option<PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            layers: vec![784, 64, 10],
            activation: vec![Activation::Relu],
            loss: Loss::SoftmaxCrossEntropy,
            init: Init::HeNormal,
            optimizer: OptimizerKind::Momentum,
            lr: 0.05,
            momentum: None,
            nesterov: false,
            rho: 0.99,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            l2: vec![],
            l1: vec![],
            l1_proximal: false,
            dropout: vec![],
            augment: None,
            batch: 100,
            epochs: 10,
            lr_schedule: LrSchedule::Exponential { gamma: 0.95 },
            seed: 0,
            device: DeviceChoice::Auto,
            shuffle: true,
            early_stop: None,
            min_delta: 0.0,
            data: None,
            csv: None,
            target: None,
            val: None,
            val_frac: None,
            kfold: None,
            out: None,
            init_from: None,
        }
    }
}

/// Expands "one value for all" lists: empty → `fill` everywhere, one value → that value
/// everywhere, else exactly `n` values.
fn per_layer<T: Copy>(what: &str, v: &[T], n: usize, fill: T) -> Result<Vec<T>> {
    match v.len() {
        0 => Ok(vec![fill; n]),
        1 => Ok(vec![v[0]; n]),
        k if k == n => Ok(v.to_vec()),
        k => Err(Error::config(what, format!("{k} values given, expected 1 or {n}"))),
    }
}

impl TrainConfig {
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::bad_file(path, format!("not a valid config: {}", e.message())))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    pub fn spec(&self) -> Result<NetworkSpec> {
        if self.layers.len() < 2 {
            return Err(Error::config("layers", "need at least an input and an output size, e.g. 784,10"));
        }
        let hidden = self.layers.len() - 2;
        let acts = per_layer("activation", &self.activation, hidden, Activation::Relu)?;
        NetworkSpec::with_activations(&self.layers, acts, self.loss)
    }

    pub fn optimizer_config(&self) -> OptimizerConfig {
        let mut o = OptimizerConfig::new(self.optimizer);
        if let Some(m) = self.momentum {
            o.momentum = m;
        }
        o.nesterov = self.nesterov;
        o.rho = self.rho;
        o.beta1 = self.beta1;
        o.beta2 = self.beta2;
        o.eps = self.eps;
        if self.optimizer == OptimizerKind::Adamw || self.weight_decay > 0.0 {
            o.weight_decay = self.weight_decay;
        }
        o
    }

    /// Keep probability per layer input: one value means "every hidden layer" (the input keeps
    /// everything), as Keras users write Dropout after each hidden layer.
    pub fn keep(&self, layers: usize) -> Result<Vec<f32>> {
        let keep = match self.dropout.len() {
            0 => vec![1.0; layers],
            1 => (0..layers).map(|l| if l == 0 { 1.0 } else { self.dropout[0] }).collect(),
            k if k == layers => self.dropout.clone(),
            k => {
                return Err(Error::config(
                    "dropout",
                    format!("{k} keep probabilities given, expected 1 (hidden layers) or {layers} (input and each hidden layer)"),
                ))
            }
        };
        if let Some(p) = keep.iter().find(|p| !(**p > 0.0 && **p <= 1.0)) {
            return Err(Error::config("dropout", format!("keep probability {p} is outside (0, 1]")));
        }
        Ok(keep)
    }

    pub fn setup(&self) -> Result<TrainSetup> {
        let spec = self.spec()?;
        let n = spec.num_layers();
        let regularization = Regularization {
            l2: per_layer("l2", &self.l2, n, 0.0)?,
            l1: per_layer("l1", &self.l1, n, 0.0)?,
            l1_proximal: self.l1_proximal,
        };
        regularization.validate(n)?;
        let optimizer = self.optimizer_config();
        optimizer.validate()?;
        if self.batch == 0 {
            return Err(Error::config("batch", "must be at least 1"));
        }
        let keep = self.keep(n)?;
        Ok(TrainSetup { spec, optimizer, regularization, keep, batch: self.batch, seed: self.seed, augment: self.augment })
    }

    pub fn fit_options(&self) -> FitOptions {
        FitOptions {
            epochs: self.epochs,
            lr: self.lr,
            schedule: self.lr_schedule,
            shuffle: self.shuffle,
            seed: self.seed,
            early_stop: self.early_stop.map(|patience| EarlyStop { patience, min_delta: self.min_delta }),
        }
    }

    /// Every check that needs no data: run before anything is loaded or written.
    pub fn validate(&self) -> Result<()> {
        self.setup()?;
        self.fit_options().validate()?;
        if self.early_stop == Some(0) {
            return Err(Error::config("early-stop", "patience must be at least 1"));
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return Err(Error::config("min-delta", format!("{} must be >= 0", self.min_delta)));
        }
        if self.data.is_some() && self.csv.is_some() {
            return Err(Error::config("data", "give either --data or --csv, not both"));
        }
        if self.csv.is_some() && self.target.is_none() {
            return Err(Error::config("target", "--csv needs --target COLUMN"));
        }
        if let Some(f) = self.val_frac {
            if !(f > 0.0 && f < 1.0) {
                return Err(Error::config("val-frac", format!("{f} must be in (0, 1)")));
            }
        }
        if self.val == Some(0) {
            return Err(Error::config("val", "must be at least 1"));
        }
        if let Some(k) = self.kfold {
            if k < 2 {
                return Err(Error::config("kfold", format!("k = {k}: need at least 2 folds")));
            }
            if self.val.is_some() || self.val_frac.is_some() {
                return Err(Error::config("kfold", "each fold is the validation set in turn; drop --val/--val-frac"));
            }
        }
        Ok(())
    }
}
