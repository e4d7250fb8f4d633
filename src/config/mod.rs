//! The whole configuration of a training run, as one value: what the CLI flags and a TOML file
//! fill in, and what `config.toml` in the run directory records. Each option is defined once, in
//! `sections.rs`; `validate()` turns a configuration into a checked [`Plan`] before anything is
//! loaded or written.

mod plan;
mod sections;

pub use plan::{Plan, Protocol};
pub use sections::{
    DataArgs, DataSource, EngineArgs, EngineConfig, ModelArgs, ModelConfig, OptimArgs, OptimConfig, Plain, RegularizationArgs, RegularizationConfig, RunArgs,
    RunConfig,
};

pub use crate::device::DeviceChoice;
use crate::engine::{ClassWeight, TrainLoss, TrainSetup};
use crate::error::{Error, Result};
use crate::model::{Activation, NetworkSpec};
use crate::optim::{OptimizerConfig, OptimizerKind, Regularization, Warmup};
use crate::train::{EarlyStop, FitOptions};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What the settings in `config.toml` and a model's metadata mean, recorded as `config_version`.
/// Version 2 made `dropout` the drop probability, as in PyTorch and Keras; before, it was the keep
/// probability, which is now `keep_prob`. A table without the key is from before version 2.
pub const CONFIG_VERSION: u32 = 2;

/// Who wrote a settings table, which decides how one without `config_version` is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A file the user gives (`--config`): an old-style `dropout` is ambiguous, so it is refused
    /// with what changed.
    User,
    /// This program, in a run directory or a model's metadata: `dropout` there is what it meant
    /// when written, the keep probability, and is read as `keep_prob`.
    Program,
}

/// Every setting of a run, by section. In TOML (and in a model's metadata) the sections are
/// flattened: `config.toml` is one flat table, `lr = 0.05`, `batch = 100`, as it always was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// What the settings mean ([`CONFIG_VERSION`] for configurations made by this build).
    #[serde(default = "old_version")]
    pub config_version: u32,
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
    /// The engine: CPU or GPU.
    #[serde(flatten)]
    pub engine: EngineConfig,
    /// Epochs, batch, seed, validation, output directory and the other run settings.
    #[serde(flatten)]
    pub run: RunConfig,
}

fn old_version() -> u32 {
    1
}

/// Before version 2 a setting the optimizer had no use for was ignored (sgd with a momentum
/// trained plain SGD); now it takes PyTorch's meaning or is refused. A run or model written then
/// keeps what it trained with: the settings its optimizer ignored are dropped.
fn drop_ignored_optimizer_settings(map: &mut serde_json::Map<String, serde_json::Value>) {
    let kind = map.get("optimizer").and_then(|v| v.as_str()).unwrap_or("momentum").to_string();
    let ignored: &[&str] = match kind.as_str() {
        "sgd" => &["momentum", "nesterov", "rho", "beta1", "beta2", "eps"],
        "momentum" | "nesterov" => &["nesterov", "rho", "beta1", "beta2", "eps"],
        "rmsprop" => &["beta1", "beta2"],
        "adam" | "adamw" => &["momentum", "nesterov", "rho"],
        _ => &[],
    };
    for k in ignored {
        map.remove(*k);
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            config_version: CONFIG_VERSION,
            model: ModelConfig::default(),
            optim: OptimConfig::default(),
            reg: RegularizationConfig::default(),
            data: DataSource::default(),
            engine: EngineConfig::default(),
            run: RunConfig::default(),
        }
    }
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
    /// Engine flag.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Run flags.
    #[command(flatten)]
    pub run: RunArgs,
}

impl ConfigArgs {
    /// The given flags over `c`.
    pub fn apply_to(&self, c: &mut TrainConfig) {
        self.model.apply_to(&mut c.model);
        // --layers over a config that gives `hidden`: the flag's whole architecture wins
        if self.model.layers.is_some() {
            c.model.hidden = None;
        }
        self.optim.apply_to(&mut c.optim);
        self.reg.apply_to(&mut c.reg);
        self.data.apply_to(&mut c.data);
        self.engine.apply_to(&mut c.engine);
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
        if self.csv.is_none() && self.target.is_some() {
            return Err(Error::config("target", "names a column of --csv FILE; give --csv too"));
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
        [&["config_version"][..], ModelConfig::KEYS, OptimConfig::KEYS, RegularizationConfig::KEYS, DataSource::KEYS, EngineConfig::KEYS, RunConfig::KEYS].into_iter().flatten().copied()
    }

    /// Reads and parses the TOML config at `path`, written by `origin`; errors on an unreadable
    /// file, bad TOML, an unknown key or (from the user) a `dropout` whose meaning changed.
    pub fn from_toml_file(path: &Path, origin: Origin) -> Result<Self> {
        let text = String::from_utf8(crate::memory::read_whole(path)?).map_err(|_| Error::bad_file(path, "not a valid config: not UTF-8 text"))?;
        Self::from_toml_str(&text, origin).map_err(|msg| Error::bad_file(path, format!("not a valid config: {msg}")))
    }

    /// Parses a config file's text; unknown keys are refused (a typo must not be ignored).
    pub fn from_toml_str(text: &str, origin: Origin) -> std::result::Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| crate::error::clipped(e.message()))?;
        if let Some(k) = table.keys().find(|k| !Self::keys().any(|known| known == k.as_str())) {
            let shown = if k.chars().count() <= crate::error::QUOTE_MAX_CHARS && !k.contains(char::is_control) { format!("`{k}`") } else { crate::error::quoted(k) };
            return Err(format!("unknown field {shown}, expected one of {}", Self::keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")));
        }
        let table = serde_json::to_value(table).map_err(|e| e.to_string())?;
        Self::from_settings(table, origin)
    }

    /// The settings of a flat table (a TOML file's, or a model's metadata as JSON), upgraded to
    /// [`CONFIG_VERSION`]'s meaning.
    pub fn from_settings(mut table: serde_json::Value, origin: Origin) -> std::result::Result<Self, String> {
        let map = table.as_object_mut().ok_or("the settings are not a table")?;
        match map.get("config_version").map(|v| v.as_u64()) {
            None => {
                let old_dropout = map.get("dropout").and_then(|d| d.as_array()).is_some_and(|d| !d.is_empty());
                if old_dropout && origin == Origin::User {
                    return Err("`dropout` changed meaning: it is now the drop probability, as in PyTorch and Keras (it was the keep \
                        probability, now `keep_prob`); this file has no `config_version`, so write `keep_prob` for the old meaning, or \
                        add `config_version = 2` to keep `dropout` as the drop probability"
                        .into());
                }
                if let Some(keep) = map.remove("dropout") {
                    map.insert("keep_prob".into(), keep);
                }
                if origin == Origin::Program {
                    drop_ignored_optimizer_settings(map);
                }
            }
            Some(Some(v)) if v == CONFIG_VERSION as u64 => {}
            // written on purpose: the meaning before version 2, as a file without the key
            Some(Some(1)) => {
                if let Some(keep) = map.remove("dropout") {
                    map.insert("keep_prob".into(), keep);
                }
            }
            Some(v) => return Err(format!("config_version {} is not one this build reads ({CONFIG_VERSION})", v.map_or("?".into(), |v| v.to_string()))),
        }
        map.insert("config_version".into(), CONFIG_VERSION.into());
        serde_json::from_value(table).map_err(crate::error::clipped)
    }

    /// The flat TOML text of `config.toml`, section by section (unset optional values are left
    /// out). Every value is a scalar or an array, so the sections' tables join into one.
    pub fn to_toml(&self) -> Result<String> {
        let encode = |e: toml::ser::Error| Error::config("config", format!("cannot encode the configuration as TOML: {e}"));
        Ok([
            format!("config_version = {}\n", self.config_version),
            toml::to_string(&self.model).map_err(encode)?,
            toml::to_string(&self.optim).map_err(encode)?,
            toml::to_string(&self.reg).map_err(encode)?,
            toml::to_string(&self.data).map_err(encode)?,
            toml::to_string(&self.engine).map_err(encode)?,
            toml::to_string(&self.run).map_err(encode)?,
        ]
        .concat())
    }

    /// This configuration with the optional settings that have a default filled in with what the
    /// run uses (the monitored metric, momentum, weight decay), so two configurations that train
    /// alike compare equal whether a default was written out or left unset.
    pub fn with_defaults_filled(&self) -> Self {
        let mut c = self.clone();
        c.run.monitor.get_or_insert(crate::train::Monitor::default_for(c.model.loss.is_classification()));
        let defaults = OptimizerConfig::new(c.optim.optimizer);
        if !matches!(c.optim.optimizer, OptimizerKind::Adam | OptimizerKind::Adamw) {
            c.optim.momentum.get_or_insert(defaults.momentum);
        }
        c.optim.weight_decay.get_or_insert(defaults.weight_decay);
        c
    }

    /// The network `model` describes; errors with fewer than two layer sizes or an activation list
    /// that is neither one value nor one per hidden layer (an empty list means ReLU everywhere).
    pub fn spec(&self) -> Result<NetworkSpec> {
        let m = &self.model;
        if m.hidden.is_some() {
            // `run::resolve_hidden` fills the layers in from the data before anything is planned
            return Err(Error::config("hidden", "takes its input and output sizes from the data, which this command does not read; give --layers"));
        }
        if m.layers.len() < 2 {
            return Err(Error::config("layers", "need at least an input and an output size, e.g. 784,10"));
        }
        let hidden = m.layers.len() - 2;
        let acts = per_layer("activation", &m.activation, hidden, Activation::Relu)?;
        NetworkSpec::with_activations(&m.layers, acts, m.loss)
    }

    /// This config with `hidden` resolved for data of `inputs` features and `outputs` network
    /// outputs: `layers` = inputs, hidden…, outputs (config.toml then records the whole network).
    pub fn with_data_shape(&self, inputs: usize, outputs: usize) -> TrainConfig {
        let mut c = self.clone();
        if let Some(hidden) = c.model.hidden.take() {
            c.model.layers = std::iter::once(inputs).chain(hidden).chain(std::iter::once(outputs)).collect();
        }
        c
    }

    /// The optimizer the settings describe, as PyTorch reads them: `sgd` with a momentum above 0
    /// is SGD(momentum=μ) and, with `nesterov`, SGD(nesterov=True); `momentum` with `nesterov` is
    /// nesterov. A setting the optimizer has no use for is refused, naming both: a value equal
    /// to its default is no setting (config files written before this check hold every default).
    /// Weight decay unset is AdamW's 0.01 and 0 for the others. Ranges: `OptimizerConfig::validate`.
    pub fn optimizer_config(&self) -> Result<OptimizerConfig> {
        use OptimizerKind::*;
        let c = &self.optim;
        let defaults = OptimConfig::default();
        let moves = c.momentum.is_some_and(|m| m != 0.0);
        let kind = match c.optimizer {
            Sgd if moves && c.nesterov => Nesterov,
            Sgd if moves => Momentum,
            Sgd if c.nesterov => {
                return Err(Error::config("nesterov", "needs a momentum: --optimizer nesterov, or --optimizer sgd --momentum M --nesterov"))
            }
            Momentum if c.nesterov => Nesterov,
            k => k,
        };
        let refuse = |flag: &str, applies: &str| Err(Error::config(flag, format!("does not apply to --optimizer {}; it is {applies}", c.optimizer)));
        if matches!(kind, Adam | Adamw) && c.momentum.is_some() {
            return refuse("momentum", "for sgd, momentum, nesterov and rmsprop (Adam's first-moment decay is --beta1)");
        }
        if matches!(kind, Adam | Adamw) && c.nesterov {
            return refuse("nesterov", "for sgd with momentum, momentum and rmsprop");
        }
        if kind == Rmsprop && c.nesterov && !moves {
            return Err(Error::config("nesterov", "rmsprop's look-ahead needs --momentum above 0"));
        }
        if kind != Rmsprop && c.rho != defaults.rho {
            return refuse("rho", "RMSprop's decay, for --optimizer rmsprop");
        }
        if !matches!(kind, Adam | Adamw) && (c.beta1 != defaults.beta1 || c.beta2 != defaults.beta2) {
            let flag = if c.beta1 != defaults.beta1 { "beta1" } else { "beta2" };
            return refuse(flag, "Adam's moment decay, for --optimizer adam and adamw");
        }
        if matches!(kind, Sgd | Momentum | Nesterov) && c.eps != defaults.eps {
            return refuse("eps", "the denominator's ε of rmsprop, adam and adamw");
        }
        let mut o = OptimizerConfig::new(kind);
        if let Some(m) = c.momentum {
            o.momentum = m;
        }
        o.nesterov = c.nesterov && kind == Rmsprop;
        (o.rho, o.beta1, o.beta2, o.eps) = (c.rho, c.beta1, c.beta2, c.eps);
        if let Some(wd) = c.weight_decay {
            o.weight_decay = wd;
        }
        o.clip_norm = c.clip_norm;
        Ok(o)
    }

    /// Keep probability per layer input, from `dropout` (drop probabilities, keep = 1 − p) or
    /// `keep_prob`: one value means "every hidden layer" (the input keeps everything), as Keras
    /// users write Dropout after each hidden layer.
    pub fn keep(&self, layers: usize) -> Result<Vec<f32>> {
        let r = &self.reg;
        let (flag, what, given, valid): (&str, &str, &[f32], fn(f32) -> bool) = match (r.dropout.is_empty(), r.keep_prob.is_empty()) {
            (false, false) => return Err(Error::config("dropout", "give --dropout (drop probability) or --keep-prob, not both")),
            (false, true) => ("dropout", "drop probabilit", &r.dropout, |p| (0.0..1.0).contains(&p)),
            _ => ("keep_prob", "keep probabilit", &r.keep_prob, |p| p > 0.0 && p <= 1.0),
        };
        if let Some(p) = given.iter().find(|p| !valid(**p)) {
            let range = if flag == "dropout" { "[0, 1)" } else { "(0, 1]" };
            return Err(Error::config(flag, format!("{what}y {p} is outside {range}")));
        }
        let keep_of = |p: f32| if flag == "dropout" { 1.0 - p } else { p };
        Ok(match given.len() {
            0 => vec![1.0; layers],
            1 => (0..layers).map(|l| if l == 0 { 1.0 } else { keep_of(given[0]) }).collect(),
            k if k == layers => given.iter().map(|p| keep_of(*p)).collect(),
            k => {
                return Err(Error::config(
                    flag,
                    format!("{k} {what}ies given, expected 1 (hidden layers) or {layers} (input and each hidden layer)"),
                ))
            }
        })
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
        let mut optimizer = self.optimizer_config()?;
        if let Some(Warmup::Steps(n)) = self.optim.warmup {
            optimizer.warmup_steps = n;
        }
        optimizer.validate()?;
        if self.run.batch == 0 {
            return Err(Error::config("batch", "must be at least 1"));
        }
        let keep = self.keep(n)?;
        let m = &self.model;
        let eps = m.label_smoothing;
        if !(0.0..1.0).contains(&eps) {
            return Err(Error::config("label-smoothing", format!("{eps} must be in [0, 1)")));
        }
        if eps > 0.0 && m.loss != crate::model::Loss::SoftmaxCrossEntropy {
            return Err(Error::config("label-smoothing", format!("applies to softmax_xent, not {}", m.loss)));
        }
        // class k's weight for K outputs; a single sigmoid output has the two classes 0 and 1
        let classes = spec.outputs().max(2);
        let class_weight = match &m.class_weight {
            None => vec![],
            Some(_) if !spec.loss.is_classification() => return Err(Error::config("class-weight", format!("needs class labels; {} is a regression loss", m.loss))),
            Some(ClassWeight::List(w)) if w.len() != classes => {
                return Err(Error::config("class-weight", format!("{} weights given for {classes} classes", w.len())))
            }
            Some(ClassWeight::List(w)) => w.clone(),
            // from the training labels, once they are read (run::fit_to_data)
            Some(ClassWeight::Balanced) => vec![],
        };
        let train_loss = TrainLoss { label_smoothing: eps, class_weight };
        Ok(TrainSetup { spec, optimizer, regularization, keep, batch: self.run.batch, seed: self.run.seed, augment: self.reg.augment, train_loss })
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
            early_stop: r.early_stop.map(|patience| EarlyStop { patience }),
            min_delta: r.min_delta,
            monitor: r.monitor,
            warmup_epochs: match self.optim.warmup {
                Some(Warmup::Epochs(n)) => n,
                _ => 0,
            },
            plateau: self.optim.reduce_on_plateau,
        }
    }
}
