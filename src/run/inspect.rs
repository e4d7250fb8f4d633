//! `eval`, `predict` and `info` behind the CLI: open a model file, evaluate it on a split of its
//! data, predict classes for images or CSV rows, and estimate what a run costs.

use super::{load_data, LoadedData};
use crate::config::{DataArgs, DeviceChoice, Origin, TrainConfig};
use crate::device::inference_engine;
use crate::data::{self, Dataset, Features, Standardizer, Targets};
use super::DataPrint;
use crate::error::{Error, Result};
use crate::model::{check_architecture, load_model_as, NetworkSpec, Params};
use crate::report::cost::RunCost;
use crate::report::eval::{evaluate_into, predicted_class, EvalAccumulator, EvalReport};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A model file and what its metadata says about how it was trained.
pub struct ModelFile {
    /// The file it was read from.
    pub path: PathBuf,
    /// The network the file describes.
    pub spec: NetworkSpec,
    /// The trained parameters.
    pub params: Params<f32>,
    /// The training config, when the file records one (models written by `train` do).
    pub config: Option<TrainConfig>,
    /// `class_names[label]` for models trained on CSV labels.
    pub class_names: Option<Vec<String>>,
    /// The inputs' transform of a model trained with `--standardize`, applied before the network.
    pub standardizer: Option<Standardizer>,
    /// The fingerprint of the data it was trained on (models of older builds have none).
    pub data: Option<DataPrint>,
}

/// Reads the model file at `path` with its metadata; errors when the file is missing or not a valid model.
/// Unreadable `config`, `class_names` or `data` metadata is treated as absent; a standardization
/// that does not fit the network is an error (without it every prediction would be wrong).
pub fn open_model(path: &Path) -> Result<ModelFile> {
    open_model_as(path, None)
}

/// [`open_model`], or a PyTorch state dict read as the network `network` (from the flags;
/// [`crate::model::load_model_as`]). A wgpu-mlp model file given with `network` must be that network.
pub fn open_model_as(path: &Path, network: Option<&NetworkSpec>) -> Result<ModelFile> {
    let (spec, params, meta) = load_model_as(path, network)?;
    if let Some(n) = network {
        check_architecture(n, &spec).map_err(|e| match e {
            Error::Config { msg, .. } => Error::bad_file(path, msg.replace("the run asks for", "the flags say")),
            e => e,
        })?;
    }
    let config = meta.get("config").cloned().and_then(|c| TrainConfig::from_settings(c, Origin::Program).ok());
    let class_names = meta.get("class_names").cloned().and_then(|c| serde_json::from_value::<Vec<String>>(c).ok());
    let data = meta.get("data").cloned().and_then(|c| serde_json::from_value::<DataPrint>(c).ok());
    let standardizer = match meta.get("standardize") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => {
            let s: Standardizer = serde_json::from_value(v.clone())
                .map_err(|e| Error::bad_file(path, format!("metadata 'standardize' is not a standardization: {e}")))?;
            s.check(spec.inputs(), "model").map_err(|e| match e {
                Error::Config { msg, .. } => Error::bad_file(path, format!("metadata 'standardize': {msg}")),
                e => e,
            })?;
            Some(s)
        }
    };
    Ok(ModelFile { path: path.to_path_buf(), spec, params, config, class_names, standardizer, data })
}

impl ModelFile {
    /// The model's training config with its network filled in from the file's spec.
    pub fn config(&self) -> TrainConfig {
        let mut c = self.config.clone().unwrap_or_default();
        c.model.layers = self.spec.sizes.clone();
        c.model.hidden = None;
        c.model.activation = self.spec.activations.clone();
        c.model.loss = self.spec.loss;
        c.run.kfold = None;
        c.model.init_from = None;
        c
    }

    /// The name of class `c` ("7" for digits, "setosa" for a CSV label).
    pub fn class_name(&self, c: usize) -> String {
        self.class_names.as_ref().and_then(|n| n.get(c).cloned()).unwrap_or_else(|| c.to_string())
    }
}

/// Which data `eval` reads; unset fields keep what the model was trained on.
#[derive(Clone, Debug, Default)]
pub struct DataChoice {
    /// Data flags replacing the model's training data source.
    pub source: DataArgs,
    /// Split seed replacing the training run's `--seed`.
    pub seed: Option<u64>,
}

impl DataChoice {
    /// `base` with this choice applied; the data flags are checked as `train` checks them.
    pub fn apply(&self, base: &TrainConfig) -> Result<TrainConfig> {
        let mut c = base.clone();
        c.data = self.source.over(&base.data)?;
        c.data.validate()?;
        if let Some(s) = self.seed {
            c.run.seed = s;
        }
        Ok(c)
    }
}

/// An error reading the data a model's metadata names says so: the user gave no path, the
/// model did (a missing file otherwise reads as if the user had named it).
pub fn from_metadata(e: Error, model: &Path) -> Error {
    match e {
        Error::Io { path, source } => Error::bad_file(
            path,
            format!("{source} (the training data named in {}'s metadata; give --data or --csv)", model.display()),
        ),
        e => e,
    }
}

/// Relabels a CSV dataset whose classes are `names` to the model's class order `model_names`.
pub fn remap_classes(ds: &Dataset, names: &[String], model_names: &[String], path: &Path) -> Result<Dataset> {
    let map: Vec<u32> = names
        .iter()
        .map(|n| {
            model_names.iter().position(|m| m == n).map(|i| i as u32).ok_or_else(|| {
                Error::bad_file(path, format!("class {} is not one the model knows ({})", crate::error::quoted(n), crate::error::quoted_list(model_names, 12)))
            })
        })
        .collect::<Result<_>>()?;
    let mut out = ds.clone();
    if let Targets::Classes { labels, num_classes } = &mut out.targets {
        labels.iter_mut().for_each(|l| *l = map[*l as usize]);
        *num_classes = model_names.len();
    }
    Ok(out)
}

/// What `eval` found: which model on which data, and the evaluation report.
#[derive(Clone, Debug, Serialize)]
pub struct EvalOutcome {
    /// The model file evaluated.
    pub model: PathBuf,
    /// The network's description (layer sizes, activation, loss).
    pub network: String,
    /// where the data came from and how it was split
    pub data: String,
    /// The split evaluated, as asked ("test", "val", "train" or "all").
    pub split: String,
    /// `class_names[class]` in the model's class order; empty for regression.
    pub class_names: Vec<String>,
    /// What the user should know about the data: it changed since training, it was standardized.
    pub notes: Vec<String>,
    /// Loss, accuracy and confusion matrix over the chosen split.
    pub report: EvalReport,
}

/// Evaluates the model at `path` on `split` ("test", "val", "train" or "all") of the data
/// `choice` names, split exactly as training split it (same seed and validation size);
/// `network` reads a PyTorch state dict as that network ([`open_model_as`]).
pub fn eval_model(path: &Path, network: Option<&NetworkSpec>, choice: &DataChoice, split: &str, device: DeviceChoice) -> Result<EvalOutcome> {
    let model = open_model_as(path, network)?;
    let cfg = choice.apply(&model.config())?;
    let given = choice.source.data.is_some() || choice.source.csv.is_some();
    let LoadedData { splits, class_names, what } = load_data(&cfg).map_err(|e| if given { e } else { from_metadata(e, path) })?;
    let mut parts: Vec<(&str, &Dataset)> = vec![("train", &splits.train)];
    parts.extend(splits.val.as_ref().map(|v| ("val", v)));
    parts.extend(splits.test.as_ref().map(|t| ("test", t)));
    let chosen: Vec<&Dataset> = match split {
        "all" => parts.iter().map(|p| p.1).collect(),
        s => {
            let s = if s == "validation" { "val" } else { s };
            let d = parts.iter().find(|p| p.0 == s).map(|p| p.1).ok_or_else(|| {
                Error::config("split", format!("'{s}': the data has no such split (it has {})", parts.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")))
            })?;
            vec![d]
        }
    };
    let source = cfg.data.csv.clone().or(cfg.data.data.clone()).unwrap_or_else(|| PathBuf::from("<bundled>"));
    let mut notes = Vec::new();
    if let Some(trained) = model.data.as_ref().filter(|_| !given) {
        let now = DataPrint::of(&splits, &what);
        if now.hash != trained.hash {
            notes.push(format!(
                "{} is not the data the model was trained on: its content fingerprint differs ({} vs {}, {:?} vs {:?} train/val/test samples)",
                source.display(), now.hash, trained.hash, now.samples, trained.samples
            ));
        }
    }
    if model.standardizer.is_some() {
        notes.push("features standardized by the training split's means and deviations, stored in the model".into());
    }
    let mut engine = inference_engine(model.spec.clone(), model.params.clone(), device)?;
    let mut acc = EvalAccumulator::default();
    for d in chosen {
        let d = match (&class_names, &model.class_names) {
            (Some(names), Some(model_names)) if names != model_names => remap_classes(d, names, model_names, &source)?,
            _ => d.clone(),
        };
        let d = match &model.standardizer {
            Some(st) if d.dim == st.dim() => st.apply(&d),
            _ => d,
        };
        super::check_fits(engine.setup(), &d).map_err(|e| match e {
            Error::Config { msg, .. } => Error::config("model", format!("{}: {msg}", path.display())),
            e => e,
        })?;
        evaluate_into(engine.as_mut(), &d, &mut acc)?;
    }
    let report = acc.finish();
    let k = report.classes.unwrap_or(0);
    Ok(EvalOutcome {
        model: path.to_path_buf(),
        network: model.spec.describe(),
        data: format!("{what} ({}; seed {})", splits.protocol, cfg.run.seed),
        split: split.to_string(),
        class_names: (0..k).map(|c| model.class_name(c)).collect(),
        notes,
        report,
    })
}

/// One input's prediction from `predict`.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    /// The image or CSV file the input came from.
    pub input: PathBuf,
    /// 1-based data row for CSV inputs
    pub row: Option<usize>,
    /// predicted class (classification models)
    pub class: Option<usize>,
    /// The predicted class's name ("7", "setosa"); None for regression.
    pub label: Option<String>,
    /// class probabilities, or the regression outputs
    pub outputs: Vec<f32>,
    /// the (up to) three most probable classes, most probable first: (name, probability)
    pub top: Vec<(String, f32)>,
    /// whether an image's pixels were inverted (None for CSV rows)
    pub inverted: Option<bool>,
    /// what was done to an image to make it the model's input (alpha, inversion, resizing)
    pub notes: Vec<String>,
}

/// The `n` most probable classes of one output row, most probable first (the lower class on
/// ties, as the prediction's argmax); a single sigmoid output is the two classes 1 and 0.
pub fn top_classes(probs: &[f32], n: usize) -> Vec<(usize, f32)> {
    let mut all: Vec<(usize, f32)> = match probs {
        [p] => vec![(0, 1.0 - p), (1, *p)],
        _ => probs.iter().copied().enumerate().collect(),
    };
    all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(n);
    all
}

fn is_table(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref(), Some("csv" | "txt" | "tsv"))
}

/// Predicts every input: images (PNG/PGM, one sample each, made light-on-dark and fitted by
/// [`data::prepare_image`], pixels scaled like the IDX data) or CSV files (one sample per row,
/// features only); `network` reads a PyTorch state dict as that network ([`open_model_as`]).
pub fn predict_inputs(path: &Path, network: Option<&NetworkSpec>, inputs: &[PathBuf], invert: data::Invert, device: DeviceChoice) -> Result<Vec<Prediction>> {
    let model = open_model_as(path, network)?;
    let dim = model.spec.inputs();
    let width = model.spec.outputs();
    let classify = model.spec.loss.is_classification();
    // read and check every input before computing anything
    let mut samples: Vec<(PathBuf, Option<usize>, Features, Option<data::Prepared>)> = Vec::new();
    for input in inputs {
        if is_table(input) {
            // a table that still has the training target column (by the name the model was trained with) predicts as it is
            let target = model.config.as_ref().and_then(|c| c.data.target.as_deref());
            for (r, row) in data::read_feature_rows(input, dim, target)?.into_iter().enumerate() {
                samples.push((input.clone(), Some(r + 1), Features::F32(row), None));
            }
        } else {
            let img = data::read_gray_image(input)?;
            let mut prepared = data::prepare_image(&img, dim, invert, input)?;
            let pixels = std::mem::take(&mut prepared.pixels);
            samples.push((input.clone(), None, Features::U8(pixels), Some(prepared)));
        }
    }
    let mut engine = inference_engine(model.spec.clone(), model.params.clone(), device)?;
    let mut out = Vec::with_capacity(samples.len());
    for (input, row, features, prepared) in samples {
        let mut ds = Dataset::new(features, dim, Targets::Classes { labels: vec![0], num_classes: 1 })?;
        if let Some(st) = &model.standardizer {
            ds = st.apply(&ds);
        }
        let outputs = engine.predict(&ds)?;
        let class = classify.then(|| predicted_class(&outputs[..width]));
        let top = if classify { top_classes(&outputs[..width], 3).into_iter().map(|(c, p)| (model.class_name(c), p)).collect() } else { vec![] };
        let (inverted, notes) = prepared.map_or((None, vec![]), |p| (Some(p.inverted), p.notes));
        out.push(Prediction { input, row, class, label: class.map(|c| model.class_name(c)), outputs: outputs[..width].to_vec(), top, inverted, notes });
    }
    Ok(out)
}

/// The cost of training `cfg`: the network's FLOPs and the memory of a run on its data (the
/// training split as `train` would load it).
pub fn run_cost(cfg: &TrainConfig) -> Result<(RunCost, String)> {
    let setup = cfg.setup()?;
    let mut d = load_data(cfg)?;
    // --standardize makes u8 pixels f32 columns: the run holds those
    super::standardize_splits(cfg, &mut d.splits);
    let t = &d.splits.train;
    let feature_bytes = if matches!(t.features, Features::U8(_)) { 1 } else { 4 };
    // the engines allocate for at most the data, whatever --batch says (run::clamp_batch)
    let batch = super::clamp_batch(&setup, t.len).batch;
    let cost = RunCost::estimate(&setup.spec, batch, setup.optimizer.state_slots(), &setup.keep, super::resident_bytes(t));
    let kind = if feature_bytes == 1 { "u8" } else { "f32" };
    let what = format!("{} training samples × {} features ({kind}) of {}", t.len, t.dim, d.what);
    Ok((cost, what))
}
