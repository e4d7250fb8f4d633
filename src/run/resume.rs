//! The run directory's `checkpoint/`: the last complete training state, written after every
//! epoch, and what `--resume` reads back.
//!
//! - `checkpoint/state.safetensors`: parameters, optimizer slots, step, epoch, seed, and in its
//!   `extra` metadata the loop's `FitState`, the config, the data's fingerprint and a reference
//!   (name, size, hash) to the best-weights file. It is the checkpoint's manifest and is renamed
//!   into place last, so a kill at any instant leaves a state that names files that exist whole.
//! - `checkpoint/best-EEEEEE.safetensors`: with a validation set, the weights of the best epoch
//!   E so far, written under its own name before the state that names it. Files no state names
//!   any more, and a killed run's temporary files, are removed after the state is renamed.
//!
//! Checkpoints of older builds (a `best.safetensors` matched by epoch, no data fingerprint) are
//! still read; the first checkpoint a resumed run writes is of the current kind.

use super::fingerprint::{hash_hex, DataPrint};
use crate::atomic::{is_temp_name, write_atomic};
use crate::config::{Origin, TrainConfig};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::fault;
use crate::model::{check_architecture, load_model, load_training_state, model_bytes, save_training_state};
use crate::model::{NetworkSpec, Params, TrainingState, STATE_FILE};
use crate::train::FitState;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Name of the checkpoint folder inside a run directory.
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// Name of the best-weights file of checkpoints written by older builds (still read).
pub const BEST_FILE: &str = "best.safetensors";
/// Settings (config keys) a resumed run may change; every other one must be the run's own.
/// With a data fingerprint in the checkpoint, the data's paths (`data`, `csv`) may change too
/// (the data's content is checked instead).
pub const RESUME_MAY_CHANGE: &[&str] = &["epochs", "early_stop", "min_delta", "checkpoint_every", "device", "out"];
/// `checkpoint_version` in a state's `extra`: 2 names its best file and holds a data fingerprint.
const CHECKPOINT_VERSION: u64 = 2;

/// Name of the best-weights file of epoch `epoch` (1-based).
pub fn best_file_name(epoch: usize) -> String {
    format!("best-{epoch:06}.safetensors")
}

/// Whether `name` is a file a checkpoint consists of (the state, or a best-weights file).
pub(crate) fn is_checkpoint_file(name: &str) -> bool {
    name == STATE_FILE || name == BEST_FILE || (name.starts_with("best-") && name.ends_with(".safetensors"))
}

/// A file the checkpoint's state names: its name inside `checkpoint/`, size and content hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// File name inside `checkpoint/`.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Content hash (16 hex digits).
    pub hash: String,
}

/// Writes a run's checkpoints (see the module notes for the order of writes).
pub struct CheckpointWriter {
    dir: PathBuf,
    data: DataPrint,
    best: Option<FileRef>,
    /// The epoch `best` holds (0: none).
    best_epoch: usize,
    /// A best epoch after the last checkpoint and its weights, for the next checkpoint's best file.
    pending: Option<(usize, Params<f32>)>,
}

impl CheckpointWriter {
    /// The writer of a new run in `run_dir` training on data fingerprinted `data`.
    pub fn new(run_dir: &Path, data: DataPrint) -> Self {
        CheckpointWriter { dir: run_dir.join(CHECKPOINT_DIR), data, best: None, best_epoch: 0, pending: None }
    }

    /// The writer of a resumed run; a checkpoint of an older build gets its best weights
    /// written under the current name (the next state names them).
    pub fn resuming(run_dir: &Path, data: DataPrint, r: &Resume, spec: &NetworkSpec, has_val: bool) -> Result<Self> {
        let mut w = CheckpointWriter { best: r.best_ref.clone(), ..Self::new(run_dir, data) };
        let b = r.fit.history.best_epoch;
        if has_val && b > 0 && w.best.is_none() {
            w.write_best(spec, r.best.as_ref().unwrap_or(&r.state.params), b)?;
        }
        w.best_epoch = if w.best.is_some() { b } else { 0 };
        Ok(w)
    }

    fn write_best(&mut self, spec: &NetworkSpec, params: &Params<f32>, epoch: usize) -> Result<()> {
        let file = best_file_name(epoch);
        let path = self.dir.join(&file);
        let bytes = model_bytes(&path, spec, params, serde_json::json!({"epoch": epoch}))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        write_atomic(&path, &bytes)?;
        self.best = Some(FileRef { file, bytes: bytes.len() as u64, hash: hash_hex(&bytes) });
        self.best_epoch = epoch;
        Ok(())
    }

    /// After an epoch that writes no checkpoint: keeps its weights when it is the best so far,
    /// since the next checkpoint must name a file holding them and the engine then holds later ones.
    pub fn note_epoch<E: Engine<Elem = f32> + ?Sized>(&mut self, engine: &mut E, fit: &FitState, has_val: bool) -> Result<()> {
        if has_val && fit.last_is_best() {
            self.pending = Some((fit.epoch, engine.params()?));
        }
        Ok(())
    }

    /// Writes the state after the epoch `fit` just finished: the best weights first (when the
    /// best epoch changed since the last checkpoint: this epoch's, or those [`Self::note_epoch`]
    /// kept), then the state naming them, then removes files no state names.
    pub fn write<E: Engine<Elem = f32> + ?Sized>(&mut self, cfg: &TrainConfig, engine: &mut E, fit: &FitState, has_val: bool) -> Result<()> {
        let spec = engine.setup().spec.clone();
        let params = engine.params()?;
        let b = fit.history.best_epoch;
        if has_val && b > 0 && b != self.best_epoch {
            if b == fit.epoch {
                self.write_best(&spec, &params, b)?;
            } else {
                match self.pending.take() {
                    Some((e, p)) if e == b => self.write_best(&spec, &p, b)?,
                    _ => return Err(Error::config("checkpoint-every", format!("the weights of the best epoch {b} were not kept for the checkpoint"))),
                }
            }
        }
        self.pending = None;
        let best = if has_val { self.best.clone() } else { None };
        let state = TrainingState {
            spec,
            params,
            optimizer: engine.optimizer_state()?,
            epoch: fit.epoch as u64,
            seed: cfg.run.seed,
            extra: serde_json::json!({"fit": fit, "config": cfg, "data": self.data, "best": best, "checkpoint_version": CHECKPOINT_VERSION}),
        };
        save_training_state(&self.dir, &state)?;
        self.remove_unnamed();
        Ok(())
    }

    /// Removes checkpoint files the state does not name, and temporary files of killed runs.
    fn remove_unnamed(&self) {
        let names: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let named = self.best.as_ref().map(|b| b.file.as_str());
        for n in names {
            let stale = (is_checkpoint_file(&n) && n != STATE_FILE && Some(n.as_str()) != named) || is_temp_name(&n);
            if stale && std::fs::remove_file(self.dir.join(&n)).is_ok() {
                fault::point(&format_args!("{} removed", self.dir.join(&n).display()));
            }
        }
    }
}

/// A checkpoint read back and checked against the run that resumes it.
pub struct Resume {
    /// The saved parameters, optimizer state, epoch and seed.
    pub state: TrainingState,
    /// The loop's state after the checkpointed epoch (history, best score, patience counter).
    pub fit: FitState,
    /// Weights of the best epoch when it is before the last one (validation runs only).
    pub best: Option<Params<f32>>,
    /// The best-weights file the state names (None in checkpoints of older builds).
    pub best_ref: Option<FileRef>,
    /// The training was over but its final outputs were not all written (a kill at the end):
    /// resuming writes them without training.
    pub finish_only: bool,
    /// Something the user should know (e.g. an old checkpoint whose data cannot be checked).
    pub note: Option<String>,
}

/// Path of the checkpoint's state file, `run_dir/checkpoint/state.safetensors`.
pub fn checkpoint_path(run_dir: &Path) -> PathBuf {
    run_dir.join(CHECKPOINT_DIR).join(STATE_FILE)
}

/// A JSON value as a user reads it: unset, a bare string, or the JSON text.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "unset".into(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// Refuses a changed setting (see [`RESUME_MAY_CHANGE`]); `paths_free`: the data's paths may change.
fn check_settings(saved: Option<&Value>, cfg: &TrainConfig, run_dir: &Path, paths_free: bool) -> Result<()> {
    let Some(saved @ Value::Object(_)) = saved else { return Ok(()) };
    // the way the saved one went (a JSON value, then text), so f32 values compare as written
    // with their defaults filled in, so an explicit default is no change
    let as_json = |c: &TrainConfig| serde_json::to_value(c.with_defaults_filled()).ok().and_then(|v| serde_json::from_str::<Value>(&v.to_string()).ok());
    // the saved settings read as this build reads a run's own (renamed keys, new defaults)
    let saved = TrainConfig::from_settings(saved.clone(), Origin::Program).ok().and_then(|c| as_json(&c)).unwrap_or_else(|| saved.clone());
    let (Value::Object(saved), Some(Value::Object(now))) = (saved, as_json(cfg)) else { return Ok(()) };
    // in the order the settings are defined (the optimizer before its momentum, and so on), so
    // the one named is the one the user changed
    for (key, old) in TrainConfig::keys().filter_map(|k| saved.get(k).map(|v| (k.to_string(), v))) {
        let key = &key;
        if RESUME_MAY_CHANGE.contains(&key.as_str()) || (paths_free && (key == "data" || key == "csv")) {
            continue;
        }
        match now.get(key) {
            Some(new) if new != old => {
                let may = RESUME_MAY_CHANGE[..5].iter().map(|k| format!("--{}", k.replace('_', "-"))).collect::<Vec<_>>().join(", ");
                let may = if paths_free { format!("{may} and the data's path") } else { may };
                // the one setting whose flag is not its key, and says the opposite
                let (flag, new, old) = match (key.as_str(), new, old) {
                    ("shuffle", Value::Bool(n), Value::Bool(o)) => ("no-shuffle", if *n { "off" } else { "on" }.into(), if *o { "off" } else { "on" }.into()),
                    (k, n, o) => (k, show(n), show(o)),
                };
                return Err(Error::config(
                    flag,
                    format!("{new} differs from {old}, the run's own in {}; a resumed run keeps its settings (only {may} may change)", run_dir.display()),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Refuses data other than the run's; returns a note for checkpoints without a fingerprint.
fn check_data(saved: Option<&Value>, now: &DataPrint, cfg: &TrainConfig, run_dir: &Path) -> Result<Option<String>> {
    let Some(old) = saved.and_then(|v| serde_json::from_value::<DataPrint>(v.clone()).ok()) else {
        return Ok(Some(format!("the checkpoint in {} is from an older build and holds no data fingerprint: the data is not checked", run_dir.display())));
    };
    if old.hash == now.hash && old.samples == now.samples {
        return Ok(None);
    }
    let counts = |p: &DataPrint| format!("{} train / {} validation / {} test samples", p.samples[0], p.samples[1], p.samples[2]);
    Err(Error::config(
        if cfg.data.csv.is_some() { "csv" } else { "data" },
        format!(
            "{} ({}) is not the data the run in {} was trained on ({}, {}; content fingerprints differ); resume with that data, or start a new run",
            now.source,
            counts(now),
            run_dir.display(),
            old.source,
            counts(&old)
        ),
    ))
}

/// Epochs the run's final model.safetensors records: None without one (or an unreadable one),
/// Some(None) for a model of an older build (which records none).
fn final_model_epochs(run_dir: &Path) -> Option<Option<u64>> {
    let (_, _, meta) = load_model(run_dir.join("model.safetensors")).ok()?;
    Some(meta.get("epochs_trained").and_then(Value::as_u64))
}

/// Reads `run_dir/checkpoint/` for a run configured as `cfg` (network `spec`) on data
/// fingerprinted `data`, and checks it is the same run: network, seed, fixed settings, data.
pub fn read_checkpoint(run_dir: &Path, cfg: &TrainConfig, spec: &NetworkSpec, has_val: bool, data: &DataPrint) -> Result<Resume> {
    let dir = run_dir.join(CHECKPOINT_DIR);
    let path = checkpoint_path(run_dir);
    if !path.is_file() {
        if run_dir.join("config.toml").is_file() {
            return Err(Error::bad_file(
                run_dir,
                format!("holds no {CHECKPOINT_DIR}/{STATE_FILE}: the run ended before its first epoch did, so there is nothing to resume; remove the directory and start the run again"),
            ));
        }
        return Err(Error::bad_file(run_dir, format!("no {CHECKPOINT_DIR}/{STATE_FILE} to resume from (not a run directory?)")));
    }
    let state = load_training_state(&dir)?;
    let arch = |e: Error| match e {
        Error::Config { msg, .. } => Error::bad_file(&path, msg),
        e => e,
    };
    check_architecture(spec, &state.spec).map_err(arch)?;
    if state.seed != cfg.run.seed {
        return Err(Error::config("seed", format!("{} differs from the checkpoint's seed {}; a resumed run keeps its seed", cfg.run.seed, state.seed)));
    }
    let note = check_data(state.extra.get("data"), data, cfg, run_dir)?;
    check_settings(state.extra.get("config"), cfg, run_dir, note.is_none())?;
    let fit: FitState = serde_json::from_value(state.extra.get("fit").cloned().unwrap_or_default())
        .map_err(|e| Error::bad_file(&path, format!("metadata 'extra' has no valid training-loop state: {e}")))?;
    if fit.epoch as u64 != state.epoch || fit.history.epochs.len() != fit.epoch {
        return Err(Error::bad_file(&path, format!("inconsistent checkpoint: epoch {} but a history of {} epochs", state.epoch, fit.history.epochs.len())));
    }
    let slots = crate::optim::OptimizerConfig::state_slots(&cfg.optimizer_config()?);
    if state.optimizer.slots.len() != slots {
        return Err(Error::config(
            "optimizer",
            format!("{} keeps {slots} state tensors but the checkpoint holds {}: resume with the run's own optimizer", cfg.optim.optimizer, state.optimizer.slots.len()),
        ));
    }
    let stopped = fit.history.stopped_early;
    let mut finish_only = false;
    if stopped || fit.epoch >= cfg.run.epochs {
        // the training is over; its outputs are complete when model.safetensors records this epoch
        let written = match final_model_epochs(run_dir) {
            None => false,
            Some(None) => true,
            Some(Some(n)) => n == fit.epoch as u64,
        };
        if stopped && written {
            return Err(Error::bad_file(run_dir, format!("this run stopped early at epoch {}; there is nothing to resume", fit.epoch)));
        }
        if !stopped && (written || fit.epoch > cfg.run.epochs) {
            return Err(Error::config(
                "epochs",
                format!("the run in {} has already completed {} of {} epochs; give a larger --epochs to train further", run_dir.display(), fit.epoch, cfg.run.epochs),
            ));
        }
        finish_only = true;
    }
    let (best, best_ref) = read_best(&dir, &state.extra, &fit, spec, has_val, &arch)?;
    Ok(Resume { state, fit, best, best_ref, finish_only, note })
}

/// The best weights a state names: (weights when the best epoch is before the last, the file's reference).
fn read_best(
    dir: &Path,
    extra: &Value,
    fit: &FitState,
    spec: &NetworkSpec,
    has_val: bool,
    arch: &dyn Fn(Error) -> Error,
) -> Result<(Option<Params<f32>>, Option<FileRef>)> {
    let b = fit.history.best_epoch;
    if !has_val || b == 0 {
        return Ok((None, None));
    }
    let state_path = dir.join(STATE_FILE);
    let current = extra.get("checkpoint_version").and_then(Value::as_u64).is_some_and(|v| v >= CHECKPOINT_VERSION);
    let best_ref = if current {
        let r: Option<FileRef> = serde_json::from_value(extra.get("best").cloned().unwrap_or_default())
            .map_err(|e| Error::bad_file(&state_path, format!("metadata 'extra.best' is not a file reference: {e}")))?;
        let r = r.ok_or_else(|| Error::bad_file(&state_path, format!("names no best-weights file although its best epoch is {b}")))?;
        if r.file.contains(['/', '\\']) || !is_checkpoint_file(&r.file) {
            return Err(Error::bad_file(&state_path, format!("names '{}' as its best-weights file", r.file)));
        }
        let p = dir.join(&r.file);
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        if bytes.len() as u64 != r.bytes || hash_hex(&bytes) != r.hash {
            return Err(Error::bad_file(&p, format!("is not the file the checkpoint names ({} bytes, hash {}; expected {} bytes, hash {})", bytes.len(), hash_hex(&bytes), r.bytes, r.hash)));
        }
        Some(r)
    } else {
        None
    };
    if b >= fit.epoch {
        return Ok((None, best_ref));
    }
    let best_path = dir.join(best_ref.as_ref().map_or(BEST_FILE, |r| r.file.as_str()));
    let (best_spec, params, meta) = load_model(&best_path)?;
    check_architecture(spec, &best_spec).map_err(arch)?;
    if meta.get("epoch").and_then(|e| e.as_u64()) != Some(b as u64) {
        return Err(Error::bad_file(&best_path, format!("does not hold the best epoch {b} the checkpoint names")));
    }
    Ok((Some(params), best_ref))
}

/// Puts the checkpoint into a fresh engine: the best weights into its snapshot (validation runs),
/// then the parameters and optimizer state.
pub fn apply_checkpoint<E: Engine<Elem = f32> + ?Sized>(engine: &mut E, r: &Resume, has_val: bool) -> Result<()> {
    if has_val {
        engine.set_params(r.best.as_ref().unwrap_or(&r.state.params))?;
        engine.snapshot_params()?;
    }
    engine.set_params(&r.state.params)?;
    engine.set_optimizer_state(&r.state.optimizer)
}
