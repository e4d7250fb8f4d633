//! One `train` invocation end to end: data, splits, engine choice, fit, final evaluation and the
//! run directory. The CLI calls this; tests call it too.

use crate::config::{DeviceChoice, TrainConfig};
use crate::cpu::engine::check_dataset_fits;
use crate::cpu::CpuEngine;
use crate::data::{self, CsvTask, Dataset, Splits, Val};
use crate::engine::{Engine, EvalStats};
use crate::error::{Error, Result};
use crate::model::{save_model, ParamLayout};
use crate::atomic::write_atomic;
use crate::report::{write_curves_png, write_history_json, write_metrics_csv, write_weights_png};
use crate::train::{fit, EpochRecord, History};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Where the data comes from, as the run's first line says.
pub fn load_splits(cfg: &TrainConfig) -> Result<Splits> {
    let val = match (cfg.val, cfg.val_frac) {
        (Some(n), _) => Some(Val::Count(n)),
        (None, Some(f)) => Some(Val::Fraction(f)),
        _ => None,
    };
    let (train, test) = if let Some(csv) = &cfg.csv {
        let target = cfg.target.as_deref().unwrap_or_default();
        let task = if cfg.loss.is_classification() { CsvTask::Classification } else { CsvTask::Regression };
        (data::load_csv(csv, target, task)?.dataset, None)
    } else if let Some(dir) = &cfg.data {
        let d = data::load_idx_dir(dir)?;
        match (d.train, d.test) {
            (Some(tr), te) => (tr, te),
            // a directory with only the test pair trains on it like the bundled digits
            (None, Some(te)) => (te, None),
            (None, None) => return Err(Error::bad_file(dir, "holds no IDX data")),
        }
    } else {
        (data::bundled_mnist()?, None)
    };
    data::standard_splits(train, test, val, cfg.seed)
}

/// The run directory: --out, or runs/run-N with the first unused N.
fn choose_out_dir(cfg: &TrainConfig) -> PathBuf {
    if let Some(out) = &cfg.out {
        return out.clone();
    }
    (1..).map(|n| PathBuf::from(format!("runs/run-{n}"))).find(|p| !p.exists()).unwrap_or_else(|| "runs/run".into())
}

/// Creates the run directory and proves it writable before training starts.
fn prepare_out_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"").map_err(|e| Error::io(dir, e))?;
    std::fs::remove_file(&probe).map_err(|e| Error::io(&probe, e))
}

/// The engine the config asks for, and one line saying which it is.
pub fn make_engine(cfg: &TrainConfig) -> Result<Box<dyn Engine<Elem = f32>>> {
    let setup = cfg.setup()?;
    let params = cfg.init.init(&ParamLayout::new(&setup.spec), cfg.seed).cast(|x| x as f32);
    match cfg.device {
        DeviceChoice::Cpu | DeviceChoice::Auto => Ok(Box::new(CpuEngine::<f32>::new(setup, params)?)),
        DeviceChoice::Gpu => Err(Error::Gpu("this build has no GPU engine yet".into())),
    }
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
}

fn score(split: &str, e: &EvalStats, classification: bool) -> SplitScore {
    SplitScore {
        split: split.into(),
        samples: e.samples,
        loss: e.mean_loss(),
        accuracy: classification.then(|| e.accuracy()),
    }
}

/// Progress printing: a line per epoch for people, JSON lines for machines and pipes.
struct Progress {
    json: bool,
    epochs: usize,
}

impl Progress {
    fn say(&self, text: &str, value: serde_json::Value) {
        if self.json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    }

    fn epoch(&self, r: &EpochRecord) {
        if self.json {
            println!("{}", serde_json::json!({"event": "epoch", "record": r}));
            return;
        }
        let pct = |v: Option<f64>| v.map(|a| format!("{:6.2}%", 100.0 * a)).unwrap_or_else(|| "     - ".into());
        let val_loss = r.val_loss.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
        println!(
            "epoch {:>3}/{}  lr {:.4e}  loss {:.4}  train {}  val loss {val_loss}  val {}  {:>8.0} samples/s  {:.2}s",
            r.epoch, self.epochs, r.lr, r.train_loss, pct(r.train_accuracy), pct(r.val_accuracy),
            r.samples_per_second, r.seconds
        );
    }
}

/// Trains as `cfg` says and leaves the run directory; returns what the final table shows.
pub fn train_run(cfg: &TrainConfig, json: bool) -> Result<RunSummary> {
    cfg.validate()?;
    let progress = Progress { json: json || !std::io::stdout().is_terminal(), epochs: cfg.epochs };
    let splits = load_splits(cfg)?;
    let setup = cfg.setup()?;
    for d in [Some(&splits.train), splits.val.as_ref(), splits.test.as_ref()].into_iter().flatten() {
        check_dataset_fits(&setup, d)?;
    }
    let out = choose_out_dir(cfg);
    prepare_out_dir(&out)?;
    let mut engine = make_engine(cfg)?;
    let network = setup.spec.describe();
    progress.say(
        &format!("data: {}\nnetwork: {network}\ndevice: {}\nrun directory: {}", splits.protocol, engine.describe(), out.display()),
        serde_json::json!({"event": "start", "data": splits.protocol, "network": network,
            "device": engine.describe(), "out_dir": out}),
    );
    write_atomic(&out.join("config.toml"), cfg.to_toml().as_bytes())?;

    engine.load_train(&splits.train)?;
    let mut history = History::default();
    let history_out = fit(engine.as_mut(), splits.train.len, splits.val.as_ref(), &cfg.fit_options(), 0, |rec, _| {
        progress.epoch(rec);
        history.epochs.push(rec.clone());
        write_metrics_csv(&out.join("metrics.csv"), &history)?;
        write_history_json(&out.join("history.json"), &history)?;
        write_curves_png(&out.join("curves.png"), &history)
    })?;
    write_metrics_csv(&out.join("metrics.csv"), &history_out)?;
    write_history_json(&out.join("history.json"), &history_out)?;
    write_curves_png(&out.join("curves.png"), &history_out)?;

    let params = engine.params()?;
    let meta = serde_json::json!({"config": cfg, "best_epoch": history_out.best_epoch, "device": engine.describe()});
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
        history: history_out,
        scores,
    };
    print_summary(&summary, progress.json);
    Ok(summary)
}

fn print_summary(s: &RunSummary, json: bool) {
    if json {
        println!("{}", serde_json::json!({"event": "done", "summary": s}));
        return;
    }
    println!("\nbest epoch {} of {}{}", s.history.best_epoch, s.history.epochs.len(),
        if s.history.stopped_early { " (stopped early)" } else { "" });
    println!("{:<12} {:>8} {:>10} {:>10}", "split", "samples", "loss", "accuracy");
    for sc in &s.scores {
        let acc = sc.accuracy.map(|a| format!("{:.2}%", 100.0 * a)).unwrap_or_else(|| "-".into());
        println!("{:<12} {:>8} {:>10.4} {:>10}", sc.split, sc.samples, sc.loss, acc);
    }
    println!("run directory: {}", s.out_dir.display());
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
