//! `sweep run`: one trial into its own run directory, safe to run again. Its index comes from
//! the caller or a scheduler's variable; processes running different trials of one sweep share
//! only the output directory (made race-free) and `sweep.json` (written atomically, the same
//! text by all). Each trial is held by a lock file beside its directory while it runs, so a
//! duplicate of the same trial is refused instead of racing it.
//!
//! A trial directory holding the trial's finished run is skipped; an interrupted single run is
//! resumed (`train --resume`'s checks and all); an unfinished k-fold run, which cannot resume,
//! starts again; a directory holding anything else (another sweep's trial, other settings) is
//! refused and left as it is.

use super::{trial_dir_name, SweepPlan, SweepRecord, Trial, RECORD_FILE};
use crate::atomic::{is_temp_name, write_atomic};
use crate::config::{DeviceChoice, Origin, TrainConfig};
use crate::error::{Error, Result};
use crate::run::{clear_unfinished, train_run_with, Reporter, RunOptions, RunSummary, ScoresFile, CHECKPOINT_DIR, LOCK_FILE, SCORES_FILE};
use serde_json::Value;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// Where a trial index may come from, in the order they are read when no index is given.
pub const INDEX_VARIABLES: &[&str] = &["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "TRIAL_INDEX"];

/// The trial index: `given` (the flag), else the one of [`INDEX_VARIABLES`] that is set (several
/// must agree).
/// Returns the index and where it came from (`--trial` or the variable's name).
pub fn trial_index(given: Option<usize>, trials: usize) -> Result<(usize, String)> {
    let (index, from) = match given {
        Some(n) => (n, "--trial".to_string()),
        None => {
            let set: Vec<(&str, String)> = INDEX_VARIABLES.iter().filter_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()).map(|s| (*v, s))).collect();
            // a launcher's TRIAL_INDEX inside a Slurm array task must not silently lose to the task's id
            if let Some((other, text)) = set.iter().skip(1).find(|(_, t)| t.trim() != set[0].1.trim()) {
                return Err(Error::config(
                    "trial",
                    format!("{}={} and {other}={} disagree: give --trial N, or unset one of them", set[0].0, crate::error::quoted(set[0].1.trim()), crate::error::quoted(text.trim())),
                ));
            }
            let found = set.into_iter().next();
            let Some((var, text)) = found else {
                return Err(Error::config("trial", format!("no trial index: give --trial N, or run under a scheduler that sets {}", INDEX_VARIABLES.join(", "))));
            };
            let n = text.trim().parse().map_err(|_| Error::config(var, format!("{} is not a trial index (a whole number >= 0)", crate::error::quoted(&text))))?;
            (n, var.to_string())
        }
    };
    if index >= trials {
        let what = if from == "--trial" { "trial" } else { from.as_str() };
        let range = if trials == 1 { "index 0".to_string() } else { format!("indices 0-{}", trials - 1) };
        return Err(Error::config(what, format!("{index} is out of range: the sweep has {trials} trial(s), {range}")));
    }
    Ok((index, from))
}

/// What `sweep run` did with a trial.
#[derive(Debug)]
pub enum TrialOutcome {
    /// Its run had finished already; nothing was run.
    Skipped {
        /// The trial's run directory.
        dir: PathBuf,
    },
    /// It ran (started, restarted or resumed) and this is its summary.
    Ran {
        /// How it started: "started", "resumed" or "restarted" (an unfinished k-fold run).
        how: &'static str,
        /// The run's summary (interrupted when stopped by Ctrl-C).
        summary: Box<RunSummary>,
    },
}

/// Where a trial's directory stands.
#[derive(Debug, PartialEq, Eq)]
pub enum TrialState {
    /// No directory, or an empty one.
    New,
    /// The trial's run finished.
    Finished,
    /// The trial's run started and did not finish.
    Unfinished,
}

/// The settings two configurations must share to be one trial: all but the run directory and
/// what a resumed run may change about how it runs (device, checkpoint interval), read the way
/// `config.toml` reads back.
fn identity(cfg: &TrainConfig) -> Option<serde_json::Map<String, Value>> {
    let back = TrainConfig::from_toml_str(&cfg.to_toml().ok()?, Origin::Program).ok()?;
    let Value::Object(mut m) = serde_json::to_value(back.with_defaults_filled()).ok()? else { return None };
    for k in ["out", "device", "checkpoint_every"] {
        m.remove(k);
    }
    Some(m)
}

/// Whether a run directory's outputs say it finished: kfold.json with every fold (k-fold), or
/// scores.json of an uninterrupted run and its model (single).
/// An outcome file that is absent is "not finished"; one that cannot be read or parsed is an
/// error, so an unfinished trial's cleanup never removes results a glitch (NFS, permissions) hid.
pub fn finished(dir: &Path, folds: usize) -> Result<bool> {
    let read = |name: &str| -> Result<Option<Value>> {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| Error::bad_file(&path, format!("cannot be read as this program's {name}: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    };
    if folds >= 2 {
        let v = read("kfold.json")?;
        return Ok(v.is_some_and(|v| v["interrupted"] == Value::Bool(false) && v["folds"].as_array().is_some_and(|f| f.len() == folds)));
    }
    let Some(v) = read(SCORES_FILE)? else { return Ok(false) };
    let s: ScoresFile = serde_json::from_value(v).map_err(|e| Error::bad_file(dir.join(SCORES_FILE), format!("cannot be read as this program's {SCORES_FILE}: {e}")))?;
    Ok(!s.interrupted && dir.join("model.safetensors").is_file())
}

/// The state of `trial`'s directory; a directory that holds something other than this trial's
/// run is an error, naming the first setting that differs.
pub fn trial_state(plan: &SweepPlan, trial: &Trial) -> Result<TrialState> {
    let dir = plan.out.join(trial_dir_name(trial.index));
    let names: Vec<String> = match std::fs::read_dir(&dir) {
        // a kill leaves the lock file and perhaps a temporary file: no run yet
        Ok(r) => r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n != LOCK_FILE && !is_temp_name(n)).collect(),
        Err(_) if !dir.exists() => return Ok(TrialState::New),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    if names.is_empty() {
        return Ok(TrialState::New);
    }
    let refuse = |why: String| Error::bad_file(&dir, format!("{why}; it is not trial {} of {} and is left as it is: remove it, or give the sweep another `out`", trial.index, plan.file.display()));
    let toml = dir.join("config.toml");
    if !toml.is_file() {
        return Err(refuse("holds files but no config.toml".into()));
    }
    let theirs = TrainConfig::from_toml_file(&toml, Origin::Program).map_err(|e| refuse(e.to_string()))?;
    let (Some(a), Some(b)) = (identity(&theirs), identity(&trial.resolved)) else {
        return Err(refuse("its config.toml cannot be compared".into()));
    };
    if let Some((k, v)) = b.iter().find(|(k, v)| a.get(*k) != Some(v)) {
        let there = a.get(k).map_or("unset".to_string(), |x| x.to_string());
        return Err(refuse(format!("its run has `{k}` = {there}, the trial {v}")));
    }
    Ok(if finished(&dir, plan.folds)? { TrialState::Finished } else { TrialState::Unfinished })
}

/// Makes the sweep's output directory and its `sweep.json`, or checks the one there is this
/// sweep's (the same trials with the same settings).
fn claim_out(plan: &SweepPlan) -> Result<()> {
    std::fs::create_dir_all(&plan.out).map_err(|e| Error::io(&plan.out, e))?;
    let path = plan.out.join(RECORD_FILE);
    let mine = plan.record();
    let check = |bytes: &[u8]| -> Result<()> {
        let theirs: SweepRecord = serde_json::from_slice(bytes).map_err(|e| Error::bad_file(&path, format!("not a sweep record: {e}")))?;
        if (theirs.folds, &theirs.metric, &theirs.trials) != (mine.folds, &mine.metric, &mine.trials) {
            return Err(Error::bad_file(
                &path,
                format!("records another sweep ({}, {} trials) than {} ({} trials); give this sweep another `out`", theirs.file.display(), theirs.trials.len(), plan.file.display(), mine.trials.len()),
            ));
        }
        Ok(())
    };
    match std::fs::read(&path) {
        Ok(bytes) => return check(&bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&path, e)),
    }
    let text = serde_json::to_string_pretty(&mine).map_err(|e| Error::config("sweep", format!("cannot encode {RECORD_FILE}: {e}")))?;
    // several trials may start at once: each writes the same text under its own temporary name;
    // reading it back catches another sweep that claimed the directory in the same instant
    write_atomic(&path, text.as_bytes())?;
    check(&std::fs::read(&path).map_err(|e| Error::io(&path, e))?)
}

/// Path of the lock file a running trial holds (beside its directory).
pub fn trial_lock_path(out: &Path, index: usize) -> PathBuf {
    out.join(format!(".{}.lock", trial_dir_name(index)))
}

/// Whether another process holds trial `index`'s lock now.
pub fn trial_running(out: &Path, index: usize) -> bool {
    // read-write: where flock is emulated by POSIX locks (NFS), a read-only descriptor cannot lock
    let Ok(f) = std::fs::OpenOptions::new().read(true).write(true).open(trial_lock_path(out, index)) else { return false };
    matches!(f.try_lock(), Err(TryLockError::WouldBlock))
}

fn lock_trial(out: &Path, index: usize) -> Result<Option<File>> {
    let path = trial_lock_path(out, index);
    let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| Error::io(&path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(TryLockError::WouldBlock) => {
            Err(Error::config("trial", format!("trial {index} is running in another process (which holds {}); wait for it to end", path.display())))
        }
        Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => Ok(None),
        Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

/// Runs trial `index` of `plan` (on `device` when given, else the sweep's own), reporting to
/// `reporter`; see the module notes for what happens to a directory that is there already.
pub fn run_trial(plan: &SweepPlan, index: usize, device: Option<DeviceChoice>, opts: &RunOptions, reporter: &mut dyn Reporter) -> Result<TrialOutcome> {
    let trial = plan.trials.get(index).ok_or_else(|| Error::config("trial", format!("{index} is out of range: the sweep has {} trials", plan.trials.len())))?;
    let mut cfg = trial.config.clone();
    if let Some(d) = device {
        cfg.engine.device = d;
    }
    // a directory that is not this trial's is refused before anything is written
    trial_state(plan, trial)?;
    claim_out(plan)?;
    let _lock = lock_trial(&plan.out, index)?;
    let dir = plan.out.join(trial_dir_name(index));
    // read again under the lock: another process may have run it meanwhile
    let how = match trial_state(plan, trial)? {
        TrialState::Finished => return Ok(TrialOutcome::Skipped { dir }),
        TrialState::New => "started",
        TrialState::Unfinished if plan.folds >= 2 => {
            // k-fold runs cannot resume; no other run holds it (we hold the trial's lock)
            clear_unfinished(&dir);
            let _ = std::fs::remove_dir(dir.join(CHECKPOINT_DIR));
            "restarted"
        }
        TrialState::Unfinished => "resumed",
    };
    let opts = RunOptions { resume: how == "resumed", ..opts.clone() };
    let summary = train_run_with(&cfg, &opts, reporter)?;
    Ok(TrialOutcome::Ran { how, summary: Box::new(summary) })
}
