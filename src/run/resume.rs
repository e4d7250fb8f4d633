//! The run directory's `checkpoint/`: the last complete training state, written after every
//! epoch, and what `--resume` reads back.
//!
//! - `checkpoint/state.safetensors`: parameters, optimizer slots, step, epoch, seed, and in its
//!   `extra` metadata the loop's `FitState` (history, best score, patience counter) and the config.
//! - `checkpoint/best.safetensors`: with a validation set, the weights of the best epoch so far,
//!   written right after the state of the epoch that improved (so it always matches the state's
//!   `best_epoch`); early stopping restores them at the end of a resumed run.

use crate::config::TrainConfig;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{check_architecture, load_model, load_training_state, save_model, save_training_state};
use crate::model::{NetworkSpec, Params, TrainingState, STATE_FILE};
use crate::train::FitState;
use std::path::{Path, PathBuf};

/// Name of the checkpoint folder inside a run directory.
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// Name of the best-weights file inside `checkpoint/`.
pub const BEST_FILE: &str = "best.safetensors";

/// Writes the state after the epoch `fit` just finished (atomic per file; see the module notes).
pub fn write_checkpoint<E: Engine<Elem = f32> + ?Sized>(
    run_dir: &Path,
    cfg: &TrainConfig,
    engine: &mut E,
    fit: &FitState,
    has_val: bool,
) -> Result<()> {
    let dir = run_dir.join(CHECKPOINT_DIR);
    let spec = engine.setup().spec.clone();
    let params = engine.params()?;
    let state = TrainingState {
        spec: spec.clone(),
        params,
        optimizer: engine.optimizer_state()?,
        epoch: fit.epoch as u64,
        seed: cfg.run.seed,
        extra: serde_json::json!({"fit": fit, "config": cfg}),
    };
    save_training_state(&dir, &state)?;
    if has_val && fit.last_is_best() {
        save_model(dir.join(BEST_FILE), &spec, &state.params, serde_json::json!({"epoch": fit.epoch}))?;
    }
    Ok(())
}

/// A checkpoint read back and checked against the run that resumes it.
pub struct Resume {
    /// The saved parameters, optimizer state, epoch and seed.
    pub state: TrainingState,
    /// The loop's state after the checkpointed epoch (history, best score, patience counter).
    pub fit: FitState,
    /// Weights of the best epoch when it is before the last one (validation runs only).
    pub best: Option<Params<f32>>,
}

/// Path of the checkpoint's state file, `run_dir/checkpoint/state.safetensors`.
pub fn checkpoint_path(run_dir: &Path) -> PathBuf {
    run_dir.join(CHECKPOINT_DIR).join(STATE_FILE)
}

/// Reads `run_dir/checkpoint/` for a run configured as `cfg` (network `spec`).
pub fn read_checkpoint(run_dir: &Path, cfg: &TrainConfig, spec: &NetworkSpec, has_val: bool) -> Result<Resume> {
    let dir = run_dir.join(CHECKPOINT_DIR);
    let path = checkpoint_path(run_dir);
    if !path.is_file() {
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
    if fit.history.stopped_early {
        return Err(Error::bad_file(run_dir, format!("this run stopped early at epoch {}; there is nothing to resume", fit.epoch)));
    }
    if fit.epoch >= cfg.run.epochs {
        return Err(Error::config(
            "epochs",
            format!("the run in {} has already completed {} of {} epochs; give a larger --epochs to train further", run_dir.display(), fit.epoch, cfg.run.epochs),
        ));
    }
    let best = if has_val && fit.history.best_epoch > 0 && fit.history.best_epoch < fit.epoch {
        let best_path = dir.join(BEST_FILE);
        let (best_spec, params, meta) = load_model(&best_path)?;
        check_architecture(spec, &best_spec).map_err(arch)?;
        if meta.get("epoch").and_then(|e| e.as_u64()) != Some(fit.history.best_epoch as u64) {
            return Err(Error::bad_file(&best_path, format!("does not hold the best epoch {} the checkpoint names", fit.history.best_epoch)));
        }
        Some(params)
    } else {
        None
    };
    Ok(Resume { state, fit, best })
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
