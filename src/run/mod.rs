//! One `train` invocation end to end: a validated plan, the device, data and splits, fit, final
//! evaluation and the run directory (config.toml, metrics.csv, history.json, model.safetensors,
//! checkpoint/, and kfold.json for cross-validation). Progress goes out as [`Event`]s; nothing
//! here prints. The CLI calls this; tests call it too.

mod events;
mod fingerprint;
mod inputs;
mod inspect;
mod kfold;
mod outdir;
mod resume;

pub use events::{Event, Reporter, RunStart, Silent};
pub use inputs::{
    check_fits, clamp_batch, fit_to_data, initial_params, load_data, load_sources, load_splits, read_data, read_sources, resident_bytes, resolve_hidden, split_by_name, standardize_splits, val_of, LoadedData, Sources,
};
pub use inspect::{eval_model, from_metadata, open_model, open_model_as, predict_inputs, remap_classes, run_cost, DataChoice, EvalOutcome, ModelFile, Prediction};
pub use kfold::{mean_std, EnsembleScore, FoldScore, KfoldReport};
pub use fingerprint::DataPrint;
pub use outdir::{fold_model_name, Kept, Quit, QuitHandle, LOCK_FILE};
pub(crate) use outdir::clear_unfinished;
pub use resume::{
    apply_checkpoint, best_file_name, checkpoint_path, read_checkpoint, CheckpointWriter, FileRef, Resume, BEST_FILE, CHECKPOINT_DIR,
    RESUME_MAY_CHANGE,
};

use crate::atomic::write_atomic;
use crate::config::{Plan, Protocol, TrainConfig};
use crate::data;
use crate::device::{engine_for, Device};
use crate::engine::{Engine, EvalStats};
use crate::error::{Error, Result};
use crate::model::save_model;
use crate::report::{write_curves_png, write_history_json, write_metrics_csv, write_weights_png, MetricsLog};
use crate::train::{fit_from, FitState, Flow, History};
use outdir::{check_out_path, choose_out_dir, OutDir};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The engine the config asks for, initialised as --init says (or from --init-from).
pub fn make_engine(cfg: &TrainConfig) -> Result<Box<dyn Engine<Elem = f32>>> {
    let setup = cfg.setup()?;
    let params = initial_params(cfg, &setup)?;
    engine_for(setup, params, cfg.engine.device)
}

/// One split's score after training: its name, sample count, mean loss and (classification) accuracy.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct SplitScore {
    /// "train", "validation" or "test".
    pub split: String,
    /// Number of samples evaluated.
    pub samples: u64,
    /// Mean loss over the split.
    pub loss: f64,
    /// Accuracy in 0..=1 for classification, None for regression.
    pub accuracy: Option<f64>,
}

/// What a finished run returns (and sends as [`Event::Done`]).
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// The run directory written to.
    pub out_dir: PathBuf,
    /// The engine's description (CPU, or the GPU adapter).
    pub device: String,
    /// The network's description (layer sizes, activation, loss).
    pub network: String,
    /// How the data was split, as in [`RunStart::protocol`].
    pub protocol: String,
    /// Every epoch's record; not serialised into the summary.
    #[serde(skip)]
    pub history: History,
    /// Final scores on train, then validation and test where present.
    pub scores: Vec<SplitScore>,
    /// Stopped by the stop flag (Ctrl-C) before the epochs ran out; `checkpoint/` resumes it.
    pub interrupted: bool,
    /// Epochs completed before this invocation (a resumed run), else 0.
    pub resumed_at: usize,
    /// Cross-validation results (--kfold); the other fields then describe no single model.
    pub kfold: Option<KfoldReport>,
}

fn score(split: &str, e: &EvalStats, classification: bool) -> SplitScore {
    SplitScore { split: split.into(), samples: e.samples, loss: e.mean_loss(), accuracy: classification.then(|| e.accuracy()) }
}

/// Name of the file in a single run's directory with its final scores ([`ScoresFile`]).
pub const SCORES_FILE: &str = "scores.json";

/// `scores.json`: a single run's final scores, written at its end (also after a Ctrl-C, marked
/// `interrupted`), before model.safetensors.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ScoresFile {
    /// Stopped by Ctrl-C before the epochs ran out (`--resume` continues it).
    pub interrupted: bool,
    /// Epochs trained in all.
    pub epochs_trained: usize,
    /// 1-based epoch whose weights the model holds (0 without a validation split).
    pub best_epoch: usize,
    /// train, then validation and test where present, with the model's final weights.
    pub scores: Vec<SplitScore>,
}

fn write_scores(out: &Path, record: &ScoresFile) -> Result<()> {
    let text = serde_json::to_string_pretty(record).map_err(|e| Error::config("scores", format!("cannot encode {SCORES_FILE}: {e}")))?;
    write_atomic(&out.join(SCORES_FILE), text.as_bytes())
}

/// How `train_run_with` runs besides the config.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Continue the run in `cfg.run.out` from its `checkpoint/` instead of starting a new one.
    pub resume: bool,
    /// Set (e.g. by a Ctrl-C handler) to stop after the current epoch, leaving a resumable run.
    pub stop: Option<Arc<AtomicBool>>,
    /// Shared with a handler that may quit the process at once (a second Ctrl-C): through it the
    /// handler learns what the run directory holds and removes it if nothing resumable is in it.
    pub quit: Option<Arc<QuitHandle>>,
}

impl RunOptions {
    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }
}

/// Trains as `cfg` says and leaves the run directory; returns what the final table shows.
/// Reports nothing (see `train_run_with` for progress events).
pub fn train_run(cfg: &TrainConfig) -> Result<RunSummary> {
    train_run_with(cfg, &RunOptions::default(), &mut Silent)
}

/// `train_run` with resume, a stop flag, and progress events to `reporter`.
///
/// Order: the config is validated into a plan and the device opened and checked against it
/// before any data is read; everything that can fail is read before the run directory is made.
pub fn train_run_with(cfg: &TrainConfig, opts: &RunOptions, reporter: &mut dyn Reporter) -> Result<RunSummary> {
    // --hidden needs the data's shape: the one case where data is read before the plan
    let plan = resolve_hidden(cfg)?.validate()?;
    if let Protocol::Kfold { k } = plan.protocol {
        if opts.resume {
            return Err(Error::config("resume", "k-fold runs cannot be resumed; start the cross-validation again"));
        }
        let device = Device::open_for(plan.device, &plan.setup)?;
        check_out_path(plan.config.run.out.as_deref())?;
        return kfold::kfold_run(&plan, k, &device, opts, reporter);
    }
    if opts.resume && plan.config.run.out.is_none() {
        return Err(Error::config("resume", "needs the run directory (--resume DIR)"));
    }
    if !opts.resume {
        check_out_path(plan.config.run.out.as_deref())?;
    }
    let device = Device::open_for(plan.device, &plan.setup)?;
    single_run(&plan, &device, opts, reporter)
}

/// The reports rewritten whenever the run checkpoints: history.json, curves.png.
fn write_summaries(out: &Path, history: &History) -> Result<()> {
    write_history_json(&out.join("history.json"), history)?;
    write_curves_png(&out.join("curves.png"), history)
}

/// Every report, metrics.csv included, rewritten to `history` (a resumed run's checkpoint).
fn write_reports(out: &Path, history: &History) -> Result<()> {
    write_metrics_csv(&out.join("metrics.csv"), history)?;
    write_summaries(out, history)
}

fn single_run(plan: &Plan, device: &Device, opts: &RunOptions, reporter: &mut dyn Reporter) -> Result<RunSummary> {
    let cfg = &plan.config;
    let setup = &plan.setup;
    let mut out = choose_out_dir(cfg.run.out.as_deref());
    // a resumed run locks its directory before reading it; a new one makes it after reading
    // everything that can fail
    let resumed_dir = if opts.resume { Some(OutDir::prepare(&out, true, opts.quit.clone())?) } else { None };
    let mut data = read_data(&plan.source, setup.spec.loss.is_classification(), plan.val(), setup.seed)?;
    // the fingerprint is of the data as read: eval compares it with what it reads
    let print = DataPrint::of(&data.splits, &data.what);
    let data_print = print.clone();
    let standardizer = standardize_splits(cfg, &mut data.splits);
    let splits = &data.splits;
    for d in [Some(&splits.train), splits.val.as_ref(), splits.test.as_ref()].into_iter().flatten() {
        check_fits(setup, d)?;
    }
    let has_val = splits.val.is_some();
    // a run killed before its first checkpoint has nothing to continue: it starts again
    let restart = opts.resume && outdir::killed_before_first_checkpoint(&out);
    let resume = if opts.resume && !restart { Some(read_checkpoint(&out, cfg, &setup.spec, has_val, &print)?) } else { None };
    let clamped = fit_to_data(setup, cfg, &splits.train);
    let mut engine = match &resume {
        // the weights come from the checkpoint; --init-from is not read again
        Some(r) => device.engine(clamped, r.state.params.clone())?,
        None => device.engine(clamped, initial_params(cfg, setup)?)?,
    };
    if let Some(r) = &resume {
        apply_checkpoint(engine.as_mut(), r, has_val)?;
    }
    let out_dir = match resumed_dir {
        Some(d) => d,
        None => {
            let (dir, o) = OutDir::prepare_new(cfg.run.out.as_deref(), opts.quit.clone())?;
            out = dir;
            o
        }
    };
    let mut writer = match &resume {
        Some(r) => {
            out_dir.write_kept(Kept::Checkpoint { epoch: r.fit.epoch }, || Ok(()))?;
            out_dir.write(|| CheckpointWriter::resuming(&out, print, r, &setup.spec, has_val))?
        }
        None => CheckpointWriter::new(&out, print),
    };
    let mut notes: Vec<String> = resume.as_ref().and_then(|r| r.note.clone()).into_iter().collect();
    if restart {
        // nothing resumable here yet: a failure removes what this attempt wrote, and keeps the
        // config.toml it starts from, so the same --resume starts it again
        out_dir.write_kept(Kept::Config, || Ok(()))?;
        notes.push(format!("{} holds no checkpoint (the run was killed before its first epoch ended): starting it again", out.display()));
    }

    let network = setup.spec.describe();
    let resumed_at = resume.as_ref().map_or(0, |r| r.fit.epoch);
    reporter.report(Event::Start(&RunStart {
        source: data.what.clone(),
        protocol: splits.protocol.clone(),
        network: network.clone(),
        device: engine.describe(),
        out_dir: out.clone(),
        resumed_at,
        epochs: plan.fit.epochs,
        kfold: None,
        notes,
    }));
    out_dir.write(|| write_atomic(&out.join("config.toml"), plan.toml.as_bytes()))?;
    if let Some(r) = &resume {
        // after a kill the reports may lag the checkpoint, and metrics.csv may be ahead of it
        // (or end in a torn line): all follow the checkpoint from here on
        out_dir.write(|| write_reports(&out, &r.fit.history))?;
    }

    engine.load_train(&splits.train)?;
    // the GPU engine chooses its kernels for the training set's plan: what it tuned, where kept
    let tuned: Vec<String> = engine.tuning().map(|t| t.notes.into_iter().chain(t.tuned_note).collect()).unwrap_or_default();
    if !tuned.is_empty() {
        reporter.report(Event::Notes(&tuned));
    }
    let state = resume.map(|r| r.fit).unwrap_or_else(|| FitState::starting_at(0));
    reporter.report(Event::TrainingStart { done: state.epoch, label: "" });
    let mut metrics = MetricsLog::new(out.join("metrics.csv"));
    let mut last_checkpoint = Instant::now();
    // the last epoch on disk, for a divergence's message
    let mut checkpointed = Some(state.epoch).filter(|&e| e > 0);
    let end = fit_from(engine.as_mut(), splits.train.len, splits.val.as_ref(), &plan.fit, state, |s, e| {
        if let Some(r) = s.last() {
            reporter.report(Event::Epoch(r));
        }
        out_dir.write(|| metrics.append(&s.history))?;
        // read once: the stop this epoch answers is the one it checkpoints for
        let stop = opts.stop_requested();
        // epochs after the last checkpoint are trained again by a resume, bit for bit, so a
        // kill loses time but never a result (the best weights included)
        let last = stop || s.history.stopped_early || s.epoch >= plan.fit.epochs;
        if last || cfg.run.checkpoint_every.due(s.epoch, last_checkpoint.elapsed()) {
            out_dir.write(|| metrics.sync())?;
            // the checkpoint before history.json: that never names an epoch the checkpoint lacks
            out_dir.write_kept(Kept::Checkpoint { epoch: s.epoch }, || writer.write(cfg, e, s, has_val))?;
            out_dir.write(|| write_summaries(&out, &s.history))?;
            last_checkpoint = Instant::now();
            checkpointed = Some(s.epoch);
        } else {
            writer.note_epoch(e, s, has_val)?;
        }
        Ok(if stop { Flow::Stop } else { Flow::Continue })
    });
    reporter.report(Event::TrainingEnd);
    let end = end.map_err(|e| match e {
        Error::Diverged { epoch, loss, .. } => Error::Diverged { epoch, loss, kept: checkpointed },
        e => e,
    })?;
    let history = end.state.history;

    let params = engine.params()?;
    // model.safetensors is written last and records the epochs it holds: a resume after a kill
    // before it finishes the run (see `read_checkpoint`)
    let meta = model_meta(cfg, &history, engine.as_ref(), &data.class_names, standardizer.as_ref(), Some(&data_print));
    if let Some(shape) = data::image_shape(&splits.train).filter(|s| s.0 * s.1 == setup.spec.inputs()) {
        out_dir.write(|| write_weights_png(&out.join("weights.png"), params.weight(0), setup.spec.sizes[1], shape))?;
    }

    let classification = setup.spec.loss.is_classification();
    let mut scores = vec![score("train", &engine.evaluate(&splits.train)?, classification)];
    if let Some(v) = &splits.val {
        scores.push(score("validation", &engine.evaluate(v)?, classification));
    }
    if let Some(t) = &splits.test {
        scores.push(score("test", &engine.evaluate(t)?, classification));
    }
    // before model.safetensors, which stays the last file: a kill between the two resumes to write both
    let record = ScoresFile { interrupted: end.interrupted, epochs_trained: history.epochs.len(), best_epoch: history.best_epoch, scores: scores.clone() };
    out_dir.write(|| write_scores(&out, &record))?;
    out_dir.write(|| save_model(out.join("model.safetensors"), &setup.spec, &params, meta))?;
    let summary = RunSummary {
        out_dir: out,
        device: engine.describe(),
        network,
        protocol: splits.protocol.clone(),
        history,
        scores,
        interrupted: end.interrupted,
        resumed_at,
        kfold: None,
    };
    reporter.report(Event::Done(&summary));
    Ok(summary)
}

/// A trained model's metadata: the config (the data's paths absolute, so eval and info find it
/// from any directory), the epochs, the device, class names and weights, `--standardize`'s transform and
/// the data's fingerprint.
fn model_meta(
    cfg: &TrainConfig,
    history: &History,
    engine: &dyn Engine<Elem = f32>,
    class_names: &Option<Vec<String>>,
    standardizer: Option<&data::Standardizer>,
    data: Option<&DataPrint>,
) -> serde_json::Value {
    let mut recorded = cfg.clone();
    for p in [&mut recorded.data.data, &mut recorded.data.csv].into_iter().flatten() {
        if let Ok(abs) = std::path::absolute(&*p) {
            *p = abs;
        }
    }
    serde_json::json!({"config": recorded, "best_epoch": history.best_epoch, "epochs_trained": history.epochs.len(),
        "device": engine.describe(), "class_names": class_names, "class_weight": engine.setup().train_loss.class_weight,
        "standardize": standardizer, "data": data})
}

/// The command that continues an interrupted run.
pub fn resume_command(out: &Path) -> String {
    format!("wgpu-mlp train --resume {}", out.display())
}
