//! Sweep files: a base configuration and axes ([`axes`]), expanded into numbered trials, each a
//! whole training configuration validated as `train --config` validates one. A trial runs into
//! its own run directory under the sweep's `out` ([`run`]); [`collect`] tables their scores.
//! There is no coordinator: a scheduler's job array gives each process its trial index.
//!
//! ```toml
//! out = "sweep-out"     # trial directories OUT/trial-0000, ...; relative to this file
//! folds = 3             # k-fold cross-validation per trial; 0 or absent: one hold-out split
//! [base]                # any setting of config.toml (or base = "train.toml", a file of them)
//! csv = "iris.csv"      # relative paths are relative to the sweep file
//! target = "species"
//! [grid]                # every combination
//! lr = [0.01, 0.1]
//! [random]              # `trials` seeded draws per grid point
//! trials = 4
//! seed = 7
//! weight_decay = { log_uniform = [1e-5, 1e-2] }
//! hidden = { choice = [[16], [32, 16]] }
//! ```

pub mod axes;
pub mod collect;
pub mod run;

use crate::config::{Origin, TrainConfig};
use crate::error::{Error, Result};
use axes::Axes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The top-level keys of a sweep file.
pub const SWEEP_KEYS: &[&str] = &["out", "folds", "base", "grid", "random"];

/// One trial: its index, the settings its axes give it and its whole configuration.
#[derive(Clone, Debug)]
pub struct Trial {
    /// 0-based, as Slurm array and Kubernetes completion indices count.
    pub index: usize,
    /// The axes' values for this trial (key → value), keys alphabetically.
    pub settings: Map<String, Value>,
    /// The trial's configuration: base, then its settings; `out` is its run directory and
    /// `kfold` the sweep's `folds`.
    pub config: TrainConfig,
    /// `config` with `hidden` resolved from the data's shape, as the run's config.toml records it.
    pub resolved: TrainConfig,
}

/// A sweep file read, expanded and validated: every trial's configuration passed
/// [`TrainConfig::validate`].
#[derive(Clone, Debug)]
pub struct SweepPlan {
    /// The sweep file.
    pub file: PathBuf,
    /// Where the trial directories go.
    pub out: PathBuf,
    /// Folds per trial (0: one hold-out split).
    pub folds: usize,
    /// The validation metric the runs select on and the trials are ranked by: `val_accuracy` or `val_loss`.
    pub metric: String,
    /// Every trial, in index order.
    pub trials: Vec<Trial>,
}

/// `OUT/sweep.json`: what a sweep's output directory holds, written by the first `sweep run`,
/// checked by the others and read by `sweep collect`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    /// The sweep file (absolute) the trials came from.
    pub file: PathBuf,
    /// Folds per trial (0: one hold-out split).
    pub folds: usize,
    /// `val_accuracy` or `val_loss`.
    pub metric: String,
    /// Every trial: index, directory name and settings.
    pub trials: Vec<TrialRecord>,
}

/// One trial in `sweep.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// 0-based index.
    pub trial: usize,
    /// Its directory's name inside the sweep's `out` (`trial-0003`).
    pub dir: String,
    /// The axes' values.
    pub settings: Map<String, Value>,
}

/// Name of the record in a sweep's output directory.
pub const RECORD_FILE: &str = "sweep.json";

/// Name of trial `index`'s run directory inside the sweep's `out`.
pub fn trial_dir_name(index: usize) -> String {
    format!("trial-{index:04}")
}

/// Settings a sweep gives itself rather than taking from the base or an axis, with why.
fn reserved(key: &str) -> Option<&'static str> {
    match key {
        "out" => Some("each trial's run directory is OUT/trial-NNNN, from the sweep's top-level `out`"),
        "kfold" => Some("cross-validation is the sweep's top-level `folds`"),
        "config_version" => Some("give it in the base only"),
        _ => None,
    }
}

fn is_setting(key: &str) -> std::result::Result<(), String> {
    if let Some(why) = reserved(key) {
        return Err(format!("not a sweep axis: {why}"));
    }
    if !TrainConfig::keys().any(|k| k == key) {
        return Err("not a training setting (the keys of config.toml, e.g. lr, batch, hidden, optimizer, seed)".into());
    }
    Ok(())
}

fn read_table(path: &Path, what: &str) -> Result<toml::Table> {
    let text = String::from_utf8(crate::memory::read_whole(path)?).map_err(|_| Error::bad_file(path, format!("not a valid {what}: not UTF-8 text")))?;
    toml::from_str(&text).map_err(|e| Error::bad_file(path, format!("not a valid {what}: {}", crate::error::clipped(e.message()))))
}

fn to_json(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A relative path of the file is relative to the sweep file's directory.
fn beside(dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() { p.to_path_buf() } else { dir.join(p) }
}

/// The `what`/key of a configuration error as the key of a settings table (`val-frac` → `val_frac`).
fn key_of(e: &Error) -> Option<String> {
    match e {
        Error::Config { what, .. } => Some(if what == "kfold" { "folds".into() } else { what.replace('-', "_") }),
        _ => None,
    }
}

fn shown(settings: &Map<String, Value>) -> String {
    let s: Vec<String> = settings.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    if s.is_empty() { String::new() } else { format!(" ({})", s.join(", ")) }
}

impl SweepPlan {
    /// Reads the sweep file at `path` and validates every trial; nothing is written. Errors name
    /// the file and the key (or the trial and its setting).
    pub fn load(path: &Path) -> Result<SweepPlan> {
        let table = read_table(path, "sweep file")?;
        let bad = |msg: String| Error::bad_file(path, msg);
        if let Some(k) = table.keys().find(|k| !SWEEP_KEYS.contains(&k.as_str())) {
            let hint = if TrainConfig::keys().any(|t| t == k) { format!("; training settings go in [base] (`{k}` there) or an axis") } else { String::new() };
            return Err(bad(format!("unknown key `{k}`: a sweep file holds out, folds, [base], [grid] and [random]{hint}")));
        }
        let dir = std::path::absolute(path).map_err(|e| Error::io(path, e))?.parent().map(Path::to_path_buf).unwrap_or_default();
        let out = match table.get("out") {
            None => dir.join(format!("{}-out", path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "sweep".into()))),
            Some(toml::Value::String(s)) if !s.is_empty() => beside(&dir, Path::new(s)),
            Some(_) => return Err(bad("`out`: must be a directory name (a string)".into())),
        };
        let folds = match table.get("folds") {
            None => 0,
            Some(toml::Value::Integer(k)) if *k == 0 || *k >= 2 => *k as usize,
            Some(_) => return Err(bad("`folds`: must be 0 (one hold-out split) or a number of folds >= 2".into())),
        };
        let (base, base_file) = match table.get("base") {
            None => (toml::Table::new(), None),
            Some(toml::Value::Table(t)) => (t.clone(), None),
            Some(toml::Value::String(f)) => {
                let f = beside(&dir, Path::new(f));
                let mut t = read_table(&f, "config")?;
                // a run's config.toml names its own run directory: the trials have theirs
                t.remove("out");
                (t, Some(f))
            }
            Some(_) => return Err(bad("`base`: must be a table of settings ([base]) or the path of a config file".into())),
        };
        // a base file's errors name that file
        let base_path = base_file.as_deref().unwrap_or(path);
        let prefix = if base_file.is_some() { "" } else { "base." };
        for k in base.keys() {
            let why = match reserved(k) {
                Some(_) if k == "config_version" => None,
                // a k-fold run's config.toml: the sweep's own folds
                Some(_) if k == "kfold" && base.get(k).and_then(toml::Value::as_integer) == Some(folds as i64) => None,
                Some(why) => Some(why.to_string()),
                None => is_setting(k).err(),
            };
            if let Some(why) = why {
                return Err(Error::bad_file(base_path, format!("`{prefix}{k}`: {why}")));
            }
        }
        let axes = Axes::parse(table.get("grid").map(to_json).as_ref(), table.get("random").map(to_json).as_ref(), &is_setting).map_err(bad)?;
        let base = to_json(&base);
        let mut shapes: HashMap<String, (usize, usize)> = HashMap::new();
        let mut trials = Vec::with_capacity(axes.trials());
        for (index, settings) in axes.expand().into_iter().enumerate() {
            let fail = |e: Error| {
                let key = key_of(&e).map(|k| format!("`{k}`: ")).unwrap_or_default();
                let msg = match &e {
                    Error::Config { msg, .. } => msg.clone(),
                    e => e.to_string(),
                };
                bad(format!("trial {index}{}: {key}{msg}", shown(&settings)))
            };
            let with = |keys: &mut dyn Iterator<Item = (&String, &Value)>| {
                let mut table = base.clone();
                if let Some(m) = table.as_object_mut() {
                    m.extend(keys.map(|(k, v)| (k.clone(), v.clone())));
                }
                TrainConfig::from_settings(table, Origin::User)
            };
            let mut cfg = with(&mut settings.iter()).map_err(|m| {
                // the setting whose value does not read (serde's message names none)
                let culprit = settings.iter().find(|kv| with(&mut std::iter::once(*kv)).is_err()).map(|(k, _)| format!("`{k}`: ")).unwrap_or_default();
                bad(format!("trial {index}{}: {culprit}{m}", shown(&settings)))
            })?;
            for p in [&mut cfg.data.data, &mut cfg.data.csv, &mut cfg.model.init_from].into_iter().flatten() {
                *p = beside(&dir, p);
            }
            // a missing file is found now, not by each job of the array
            for (key, p) in [("data", &cfg.data.data), ("csv", &cfg.data.csv), ("init_from", &cfg.model.init_from)] {
                if let Some(p) = p.as_ref().filter(|p| !p.exists()) {
                    return Err(fail(Error::config(key, format!("{}: no such file or directory", p.display()))));
                }
            }
            cfg.run.out = Some(out.join(trial_dir_name(index)));
            cfg.run.kfold = (folds >= 2).then_some(folds);
            let resolved = validate(&cfg, &mut shapes).map_err(fail)?;
            trials.push(Trial { index, settings, config: cfg, resolved });
        }
        let metric = |t: &Trial| to_json(t.config.with_defaults_filled().run.monitor).as_str().unwrap_or("val_loss").to_string();
        let first = trials.first().map(metric).unwrap_or_else(|| "val_accuracy".into());
        if let Some(t) = trials.iter().find(|t| metric(t) != first) {
            return Err(bad(format!("trial {}{}: `monitor`: the trials select on {} but trial 0 on {first}; a sweep ranks its trials by one metric", t.index, shown(&t.settings), metric(t))));
        }
        Ok(SweepPlan { file: path.to_path_buf(), out, folds, metric: first, trials })
    }

    /// What `sweep.json` records of this sweep.
    pub fn record(&self) -> SweepRecord {
        SweepRecord {
            file: std::path::absolute(&self.file).unwrap_or_else(|_| self.file.clone()),
            folds: self.folds,
            metric: self.metric.clone(),
            trials: self.trials.iter().map(|t| TrialRecord { trial: t.index, dir: trial_dir_name(t.index), settings: t.settings.clone() }).collect(),
        }
    }
}

/// [`TrainConfig::validate`] of `cfg` with `hidden` resolved from the data's shape (read once
/// per data source and loss, as a run reads it); returns the resolved configuration.
fn validate(cfg: &TrainConfig, shapes: &mut HashMap<String, (usize, usize)>) -> Result<TrainConfig> {
    if cfg.model.hidden.is_none() {
        cfg.validate()?;
        return Ok(cfg.clone());
    }
    let key = format!("{:?}|{:?}|{:?}|{}", cfg.data.data, cfg.data.csv, cfg.data.target, cfg.model.loss);
    let (inputs, outputs) = match shapes.get(&key) {
        Some(s) => *s,
        None => {
            let layers = crate::run::resolve_hidden(cfg)?.model.layers;
            let s = (layers[0], *layers.last().unwrap_or(&0));
            shapes.insert(key, s);
            s
        }
    };
    let resolved = cfg.with_data_shape(inputs, outputs);
    resolved.validate()?;
    Ok(resolved)
}
