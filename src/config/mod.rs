//! The whole configuration of a training run, as one value: what the CLI flags and a TOML file
//! fill in, and what `config.toml` in the run directory records. Each option is defined once, in
//! `sections.rs`; `validate()` turns a configuration into a checked [`Plan`] before anything is
//! loaded or written.

mod plan;
mod sections;

pub use plan::{Plan, Protocol};
pub use sections::{
    DataArgs, DataSource, ModelArgs, ModelConfig, OptimArgs, OptimConfig, Plain, RegularizationArgs, RegularizationConfig, RunArgs,
    RunConfig,
};

pub use crate::device::DeviceChoice;
use crate::engine::TrainSetup;
use crate::error::{Error, Result};
use crate::model::{Activation, NetworkSpec};
use crate::optim::{OptimizerConfig, OptimizerKind, Regularization};
use crate::train::{EarlyStop, FitOptions};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Every setting of a run, by section. In TOML (and in a model's metadata) the sections are
/// flattened: `config.toml` is one flat table, `lr = 0.05`, `batch = 100`, as it always was.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Network: layer sizes, activations, loss, initialisation.
    #[serde(flatten)]
    pub model: ModelConfig,
    /// Optimizer, learning rate and its schedule.
    #[serde(flatten)]
    pub optim: OptimConfig,
    /// Penalties, dropout and augmentation.
    #[serde(flatten)]
    pub reg: RegularizationConfig,
    /// Where the data comes from.
    #[serde(flatten)]
    pub data: DataSource,
    /// Epochs, batch, seed, validation, device, output directory and the other run settings.
    #[serde(flatten)]
    pub run: RunConfig,
}

/// The flags of every section (what `train` and `check` take), each `None` unless given.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ConfigArgs {
    /// Network flags.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Optimizer flags.
    #[command(flatten)]
    pub optim: OptimArgs,
    /// Regularisation flags.
    #[command(flatten)]
    pub reg: RegularizationArgs,
    /// Data source flags.
    #[command(flatten)]
    pub data: DataArgs,
    /// Run flags.
    #[command(flatten)]
    pub run: RunArgs,
}

impl ConfigArgs {
    /// The given flags over `c`.
    pub fn apply_to(&self, c: &mut TrainConfig) {
        self.model.apply_to(&mut c.model);
        self.optim.apply_to(&mut c.optim);
        self.reg.apply_to(&mut c.reg);
        self.data.apply_to(&mut c.data);
        self.run.apply_to(&mut c.run);
    }
}

impl DataArgs {
    /// The data these flags name over `base` (a model's training data): a source given here
    /// replaces the whole of `base`'s, so `--target` alone, which would change nothing, is refused.
    pub fn over(&self, base: &DataSource) -> Result<DataSource> {
        if self.data.is_some() || self.csv.is_some() {
            Ok(DataSource { data: self.data.clone(), csv: self.csv.clone(), target: self.target.clone() })
        } else if self.target.is_some() {
            Err(Error::config("target", "names a column of --csv FILE; give --csv too"))
        } else {
            Ok(base.clone())
        }
    }
}

impl DataSource {
    /// The flags that go together: one source, and a CSV with its target column.
    pub fn validate(&self) -> Result<()> {
        if self.data.is_some() && self.csv.is_some() {
            return Err(Error::config("data", "give either --data or --csv, not both"));
        }
        if self.csv.is_some() && self.target.is_none() {
            return Err(Error::config("target", "--csv needs --target COLUMN"));
        }
        Ok(())
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
    /// Every TOML key a config file may hold.
    pub fn keys() -> impl Iterator<Item = &'static str> {
        [ModelConfig::KEYS, OptimConfig::KEYS, RegularizationConfig::KEYS, DataSource::KEYS, RunConfig::KEYS].into_iter().flatten().copied()
    }

    /// Reads and parses the TOML config at `path`; errors on an unreadable file, bad TOML or an unknown key.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&text).map_err(|msg| Error::bad_file(path, format!("not a valid config: {msg}")))
    }

    /// Parses a config file's text; unknown keys are refused (a typo must not be ignored).
    pub fn from_toml_str(text: &str) -> std::result::Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| crate::error::clipped(e.message()))?;
        if let Some(k) = table.keys().find(|k| !Self::keys().any(|known| known == k.as_str())) {
            let shown = if k.chars().count() <= crate::error::QUOTE_MAX_CHARS && !k.contains(char::is_control) { format!("`{k}`") } else { crate::error::quoted(k) };
            return Err(format!("unknown field {shown}, expected one of {}", Self::keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")));
        }
        table.try_into().map_err(|e: toml::de::Error| crate::error::clipped(e.message()))
    }

    /// The flat TOML text of `config.toml`, section by section (unset optional values are left
    /// out). Every value is a scalar or an array, so the sections' tables join into one.
    pub fn to_toml(&self) -> Result<String> {
        let encode = |e: toml::ser::Error| Error::config("config", format!("cannot encode the configuration as TOML: {e}"));
        Ok([
            toml::to_string(&self.model).map_err(encode)?,
            toml::to_string(&self.optim).map_err(encode)?,
            toml::to_string(&self.reg).map_err(encode)?,
            toml::to_string(&self.data).map_err(encode)?,
            toml::to_string(&self.run).map_err(encode)?,
        ]
        .concat())
    }

    /// The network `model` describes; errors with fewer than two layer sizes or an activation list
    /// that is neither one value nor one per hidden layer (an empty list means ReLU everywhere).
    pub fn spec(&self) -> Result<NetworkSpec> {
        let m = &self.model;
        if m.layers.len() < 2 {
            return Err(Error::config("layers", "need at least an input and an output size, e.g. 784,10"));
        }
        let hidden = m.layers.len() - 2;
        let acts = per_layer("activation", &m.activation, hidden, Activation::Relu)?;
        NetworkSpec::with_activations(&m.layers, acts, m.loss)
    }

    /// The optimizer settings, unchecked; weight decay applies only to AdamW or when set above 0.
    pub fn optimizer_config(&self) -> OptimizerConfig {
        let c = &self.optim;
        let mut o = OptimizerConfig::new(c.optimizer);
        if let Some(m) = c.momentum {
            o.momentum = m;
        }
        o.nesterov = c.nesterov;
        o.rho = c.rho;
        o.beta1 = c.beta1;
        o.beta2 = c.beta2;
        o.eps = c.eps;
        if c.optimizer == OptimizerKind::Adamw || c.weight_decay > 0.0 {
            o.weight_decay = c.weight_decay;
        }
        o
    }

    /// Keep probability per layer input: one value means "every hidden layer" (the input keeps
    /// everything), as Keras users write Dropout after each hidden layer.
    pub fn keep(&self, layers: usize) -> Result<Vec<f32>> {
        let dropout = &self.reg.dropout;
        let keep = match dropout.len() {
            0 => vec![1.0; layers],
            1 => (0..layers).map(|l| if l == 0 { 1.0 } else { dropout[0] }).collect(),
            k if k == layers => dropout.clone(),
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

    /// What an engine needs, checked (network, optimizer, penalties, dropout, batch).
    pub fn setup(&self) -> Result<TrainSetup> {
        let spec = self.spec()?;
        let n = spec.num_layers();
        let regularization = Regularization {
            l2: per_layer("l2", &self.reg.l2, n, 0.0)?,
            l1: per_layer("l1", &self.reg.l1, n, 0.0)?,
            l1_proximal: self.reg.l1_proximal,
        };
        regularization.validate(n)?;
        let optimizer = self.optimizer_config();
        optimizer.validate()?;
        if self.run.batch == 0 {
            return Err(Error::config("batch", "must be at least 1"));
        }
        let keep = self.keep(n)?;
        Ok(TrainSetup { spec, optimizer, regularization, keep, batch: self.run.batch, seed: self.run.seed, augment: self.reg.augment })
    }

    /// The loop's settings: epochs, lr and schedule, shuffling, seed, early stopping.
    pub fn fit_options(&self) -> FitOptions {
        let r = &self.run;
        FitOptions {
            epochs: r.epochs,
            lr: self.optim.lr,
            schedule: self.optim.lr_schedule,
            shuffle: r.shuffle,
            seed: r.seed,
            early_stop: r.early_stop.map(|patience| EarlyStop { patience, min_delta: r.min_delta }),
        }
    }
}
