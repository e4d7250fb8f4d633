//! One `train` invocation end to end: data, splits, engine choice, fit, final evaluation and the
//! run directory (config.toml, metrics.csv, history.json, model.safetensors, checkpoint/, and
//! kfold.json for cross-validation). The CLI calls this; tests call it too.

mod inspect;
mod kfold;
mod progress;
mod resume;

pub use inspect::{eval_model, open_model, predict_inputs, remap_classes, run_cost, DataChoice, EvalOutcome, ModelFile, Prediction};
pub use kfold::{FoldScore, KfoldReport};
pub use progress::{epoch_line, Mode as ProgressMode, Progress};
pub use resume::{apply_checkpoint, checkpoint_path, read_checkpoint, write_checkpoint, Resume, BEST_FILE, CHECKPOINT_DIR};

use crate::atomic::write_atomic;
use crate::config::{DeviceChoice, TrainConfig};
use crate::engine::check_dataset_fits;
use crate::cpu::CpuEngine;
use crate::data::{self, CsvTask, Dataset, Splits, Targets, Val};
use crate::engine::{Engine, EvalStats, TrainSetup};
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuEngine};
use crate::model::{check_architecture, load_model, save_model, ParamLayout, Params};
use crate::report::{write_curves_png, write_history_json, write_metrics_csv, write_weights_png};
use crate::train::{fit_from, FitState, Flow, History};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The data a config names, before splitting: the training file (or table), the test file if
/// there is one, and class names for CSV labels.
pub struct Sources {
    pub train: Dataset,
    pub test: Option<Dataset>,
    /// `class_names[label]` for CSV classification; None for IDX digits (the label is the name).
    pub class_names: Option<Vec<String>>,
    /// "bundled MNIST digits", "CSV iris.csv", "IDX directory /usr/share/datasets/fashion-mnist"
    pub what: String,
}

pub fn load_sources(cfg: &TrainConfig) -> Result<Sources> {
    if let Some(csv) = &cfg.csv {
        let target = cfg.target.as_deref().unwrap_or_default();
        let task = if cfg.loss.is_classification() { CsvTask::Classification } else { CsvTask::Regression };
        let d = data::load_csv(csv, target, task)?;
        return Ok(Sources { train: d.dataset, test: None, class_names: d.class_names, what: format!("CSV {}", csv.display()) });
    }
    if let Some(dir) = &cfg.data {
        let d = data::load_idx_dir(dir)?;
        let (train, test) = match (d.train, d.test) {
            (Some(tr), te) => (tr, te),
            // a directory with only the test pair trains on it like the bundled digits
            (None, Some(te)) => (te, None),
            (None, None) => return Err(Error::bad_file(dir, "holds no IDX data")),
        };
        return Ok(Sources { train, test, class_names: None, what: format!("IDX directory {}", dir.display()) });
    }
    Ok(Sources { train: data::bundled_mnist()?, test: None, class_names: None, what: "bundled MNIST digits".into() })
}

/// The validation setting of a config.
pub fn val_of(cfg: &TrainConfig) -> Option<Val> {
    match (cfg.val, cfg.val_frac) {
        (Some(n), _) => Some(Val::Count(n)),
        (None, Some(f)) => Some(Val::Fraction(f)),
        _ => None,
    }
}

/// Loaded and split data, with class names where the data has them.
pub struct LoadedData {
    pub splits: Splits,
    pub class_names: Option<Vec<String>>,
    pub what: String,
}

pub fn load_data(cfg: &TrainConfig) -> Result<LoadedData> {
    let s = load_sources(cfg)?;
    let splits = data::standard_splits(s.train, s.test, val_of(cfg), cfg.seed)?;
    Ok(LoadedData { splits, class_names: s.class_names, what: s.what })
}

/// The train / validation / test splits a config asks for.
pub fn load_splits(cfg: &TrainConfig) -> Result<Splits> {
    load_data(cfg).map(|d| d.splits)
}

/// Data and network must agree; messages name the flag to change.
pub fn check_fits(setup: &TrainSetup, data: &Dataset) -> Result<()> {
    let spec = &setup.spec;
    if data.is_empty() {
        return Err(Error::config("data", "the dataset is empty"));
    }
    if data.dim != spec.inputs() {
        let shape = data.image_shape.map(|(r, c)| format!(" ({r}x{c} images)")).unwrap_or_default();
        return Err(Error::config(
            "layers",
            format!("the data has {} features per sample{shape} but the first layer takes {}", data.dim, spec.inputs()),
        ));
    }
    if let Targets::Classes { num_classes, .. } = data.targets {
        let fits = if spec.outputs() == 1 { num_classes <= 2 } else { num_classes <= spec.outputs() };
        if !fits {
            return Err(Error::config(
                "layers",
                format!("the data has {num_classes} classes but the last layer has {} outputs", spec.outputs()),
            ));
        }
    }
    check_dataset_fits(setup, data)
}

/// The run directory: --out, or runs/run-N with the first unused N.
pub(crate) fn choose_out_dir(cfg: &TrainConfig) -> PathBuf {
    if let Some(out) = &cfg.out {
        return out.clone();
    }
    (1..).map(|n| PathBuf::from(format!("runs/run-{n}"))).find(|p| !p.exists()).unwrap_or_else(|| "runs/run".into())
}

/// A run directory that removes itself (and any parents this run created) when dropped before
/// `keep` is called: a run that fails before its first epoch leaves nothing behind.
pub(crate) struct OutDir {
    created: Option<PathBuf>,
    pub(crate) keep: bool,
}

impl OutDir {
    /// Creates `dir` (or, resuming, checks it exists) and proves it writable.
    pub(crate) fn prepare(dir: &Path, resuming: bool) -> Result<Self> {
        let cannot = |e: std::io::Error| Error::config("out", format!("cannot write the run directory {}: {e}", dir.display()));
        if !resuming && dir.exists() {
            if !dir.is_dir() {
                return Err(Error::config("out", format!("{} exists and is not a directory", dir.display())));
            }
            if std::fs::read_dir(dir).map_err(cannot)?.next().is_some() {
                return Err(Error::config(
                    "out",
                    format!("{} already holds files (a previous run?): pick another --out, or continue it with --resume {0}", dir.display()),
                ));
            }
        }
        // the topmost directory this run creates, to remove on failure
        let created = dir.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.exists()).last().map(Path::to_path_buf);
        let out = OutDir { created, keep: resuming };
        std::fs::create_dir_all(dir).map_err(cannot)?;
        let probe = dir.join(".write-test");
        std::fs::write(&probe, b"").map_err(cannot)?;
        std::fs::remove_file(&probe).map_err(cannot)?;
        Ok(out)
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if !self.keep {
            if let Some(c) = &self.created {
                let _ = std::fs::remove_dir_all(c);
            }
        }
    }
}

/// An engine for `setup` holding `params`, on the device asked for.
pub fn engine_for(setup: TrainSetup, params: Params<f32>, device: DeviceChoice) -> Result<Box<dyn Engine<Elem = f32>>> {
    let ctx = match device {
        DeviceChoice::Cpu => None,
        DeviceChoice::Auto => GpuContext::request(false)?,
        DeviceChoice::Gpu => Some(GpuContext::request(true)?.ok_or_else(|| {
            Error::config("device", "gpu: no GPU adapter found (on Linux without a GPU: apt-get install mesa-vulkan-drivers)")
        })?),
    };
    Ok(match ctx {
        Some(ctx) => Box::new(GpuEngine::new(ctx, setup, &params)?),
        None => Box::new(CpuEngine::<f32>::new(setup, params)?),
    })
}

/// The engine the config asks for, initialised as --init says (or from --init-from).
pub fn make_engine(cfg: &TrainConfig) -> Result<Box<dyn Engine<Elem = f32>>> {
    let setup = cfg.setup()?;
    let params = initial_params(cfg, &setup)?;
    engine_for(setup, params, cfg.device)
}

/// The starting weights of a run: drawn as --init says, or read from --init-from.
pub fn initial_params(cfg: &TrainConfig, setup: &TrainSetup) -> Result<Params<f32>> {
    Ok(match &cfg.init_from {
        Some(path) => {
            let (spec, params, _) = load_model(path)?;
            check_architecture(&setup.spec, &spec).map_err(|e| match e {
                Error::Config { msg, .. } => Error::config("init-from", format!("{}: {msg}", path.display())),
                e => e,
            })?;
            params
        }
        None => cfg.init.init(&ParamLayout::new(&setup.spec), cfg.seed).cast(|x| x as f32),
    })
}

/// An engine that only evaluates or predicts with a model's parameters.
pub fn inference_engine(spec: crate::model::NetworkSpec, params: Params<f32>, device: DeviceChoice) -> Result<Box<dyn Engine<Elem = f32>>> {
    let setup = TrainSetup {
        spec,
        optimizer: crate::optim::OptimizerConfig::sgd(),
        regularization: crate::optim::Regularization::none(),
        keep: vec![],
        batch: 1,
        seed: 0, augment: None,
    };
    engine_for(setup, params, device)
}

#[derive(Clone, Debug, Serialize)]
pub struct SplitScore {
    pub split: String,
    pub samples: u64,
    pub loss: f64,
    pub accuracy: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub out_dir: PathBuf,
    pub device: String,
    pub network: String,
    pub protocol: String,
    #[serde(skip)]
    pub history: History,
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

/// How `train_run_with` runs besides the config.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// JSON lines on stdout even on a terminal.
    pub json: bool,
    /// Continue the run in `cfg.out` from its `checkpoint/` instead of starting a new one.
    pub resume: bool,
    /// Set (e.g. by a Ctrl-C handler) to stop after the current epoch, leaving a resumable run.
    pub stop: Option<Arc<AtomicBool>>,
}

impl RunOptions {
    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }
}

/// Trains as `cfg` says and leaves the run directory; returns what the final table shows.
pub fn train_run(cfg: &TrainConfig, json: bool) -> Result<RunSummary> {
    train_run_with(cfg, &RunOptions { json, ..Default::default() })
}

/// `train_run` with resume and a stop flag.
pub fn train_run_with(cfg: &TrainConfig, opts: &RunOptions) -> Result<RunSummary> {
    cfg.validate()?;
    if cfg.kfold.is_some() {
        if opts.resume {
            return Err(Error::config("resume", "k-fold runs cannot be resumed; start the cross-validation again"));
        }
        return kfold::kfold_run(cfg, opts);
    }
    if opts.resume && cfg.out.is_none() {
        return Err(Error::config("resume", "needs the run directory (--resume DIR)"));
    }
    let mut progress = Progress::new(opts.json, cfg.epochs);
    let data = load_data(cfg)?;
    let splits = &data.splits;
    let setup = cfg.setup()?;
    for d in [Some(&splits.train), splits.val.as_ref(), splits.test.as_ref()].into_iter().flatten() {
        check_fits(&setup, d)?;
    }
    let out = choose_out_dir(cfg);
    let has_val = splits.val.is_some();
    // read everything that can fail before the run directory is made
    let resume = if opts.resume { Some(read_checkpoint(&out, cfg, &setup.spec, has_val)?) } else { None };
    let mut engine = make_engine(cfg)?;
    if let Some(r) = &resume {
        apply_checkpoint(engine.as_mut(), r, has_val)?;
    }
    let mut out_dir = OutDir::prepare(&out, opts.resume)?;

    let network = setup.spec.describe();
    let resumed_at = resume.as_ref().map_or(0, |r| r.fit.epoch);
    let from = if resumed_at > 0 { format!("\nresuming after epoch {resumed_at} of {}", cfg.epochs) } else { String::new() };
    progress.say(
        &format!("data: {} ({})\nnetwork: {network}\ndevice: {}\nrun directory: {}{from}", data.what, splits.protocol, engine.describe(), out.display()),
        serde_json::json!({"event": "start", "data": splits.protocol, "source": data.what, "network": network,
            "device": engine.describe(), "out_dir": out, "resumed_at": resumed_at}),
    );
    write_atomic(&out.join("config.toml"), cfg.to_toml().as_bytes())?;

    engine.load_train(&splits.train)?;
    let state = resume.map(|r| r.fit).unwrap_or_else(|| FitState::starting_at(0));
    progress.start(state.epoch, "");
    let end = fit_from(engine.as_mut(), splits.train.len, splits.val.as_ref(), &cfg.fit_options(), state, |s, e| {
        if let Some(r) = s.last() {
            progress.epoch(r);
        }
        write_metrics_csv(&out.join("metrics.csv"), &s.history)?;
        write_history_json(&out.join("history.json"), &s.history)?;
        write_curves_png(&out.join("curves.png"), &s.history)?;
        write_checkpoint(&out, cfg, e, s, has_val)?;
        out_dir.keep = true;
        Ok(if opts.stop_requested() { Flow::Stop } else { Flow::Continue })
    });
    progress.finish();
    let end = end?;
    let history = end.state.history;

    let params = engine.params()?;
    let meta = serde_json::json!({"config": cfg, "best_epoch": history.best_epoch, "device": engine.describe(),
        "class_names": data.class_names});
    save_model(out.join("model.safetensors"), &setup.spec, &params, meta)?;
    if let Some(shape) = data::image_shape(&splits.train).filter(|s| s.0 * s.1 == setup.spec.inputs()) {
        write_weights_png(&out.join("weights.png"), params.weight(0), setup.spec.sizes[1], shape)?;
    }

    let classification = setup.spec.loss.is_classification();
    let mut scores = vec![score("train", &engine.evaluate(&splits.train)?, classification)];
    if let Some(v) = &splits.val {
        scores.push(score("validation", &engine.evaluate(v)?, classification));
    }
    if let Some(t) = &splits.test {
        scores.push(score("test", &engine.evaluate(t)?, classification));
    }
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
    print_summary(&summary, &progress);
    Ok(summary)
}

/// The command that continues an interrupted run.
pub fn resume_command(out: &Path) -> String {
    format!("wgpu-mlp train --resume {}", out.display())
}

fn print_summary(s: &RunSummary, progress: &Progress) {
    if progress.json() {
        let resume = s.interrupted.then(|| resume_command(&s.out_dir));
        println!("{}", serde_json::json!({"event": "done", "summary": s, "resume_command": resume}));
        return;
    }
    let h = &s.history;
    let why = if h.stopped_early { " (stopped early)" } else if s.interrupted { " (interrupted)" } else { "" };
    println!("\nbest epoch {} of {}{why}", h.best_epoch, h.epochs.len());
    println!("{:<12} {:>8} {:>10} {:>10}", "split", "samples", "loss", "accuracy");
    for sc in &s.scores {
        let acc = sc.accuracy.map(|a| format!("{:.2}%", 100.0 * a)).unwrap_or_else(|| "-".into());
        println!("{:<12} {:>8} {:>10.4} {:>10}", sc.split, sc.samples, sc.loss, acc);
    }
    println!("run directory: {}", s.out_dir.display());
    if s.interrupted {
        println!(
            "interrupted after epoch {}: the checkpoint is in {}; resume with: {}",
            h.epochs.len(),
            s.out_dir.join(CHECKPOINT_DIR).display(),
            resume_command(&s.out_dir)
        );
    }
}

/// The dataset a name refers to, for `eval --split`.
pub fn split_by_name<'a>(splits: &'a Splits, name: &str) -> Option<&'a Dataset> {
    match name {
        "train" => Some(&splits.train),
        "val" | "validation" => splits.val.as_ref(),
        "test" => splits.test.as_ref(),
        _ => None,
    }
}
