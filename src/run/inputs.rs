//! What a run reads: the data a configuration names (before and after splitting), the fit of
//! data and network, and the starting weights.

use crate::config::{DataSource, TrainConfig};
use crate::engine::check_dataset_fits;
use crate::data::{self, CsvTask, Dataset, Splits, Targets, Val};
use crate::engine::TrainSetup;
use crate::error::{Error, Result};
use crate::model::{check_architecture, load_model_as, ParamLayout, Params};
use crate::report::cost::{check_memory, dataset_bytes, RunCost};

/// The data a config names, before splitting: the training file (or table), the test file if
/// there is one, and class names for CSV labels.
pub struct Sources {
    /// The training data (the whole file, or the IDX training pair).
    pub train: Dataset,
    /// The separate test set (the IDX test pair), if the source has one.
    pub test: Option<Dataset>,
    /// `class_names[label]` for CSV classification; None for IDX digits (the label is the name).
    pub class_names: Option<Vec<String>>,
    /// "bundled MNIST digits", "CSV iris.csv", "IDX directory /usr/share/datasets/fashion-mnist"
    pub what: String,
}

/// Reads `src`; CSV targets are class labels when `classification`, else values.
pub fn read_sources(src: &DataSource, classification: bool) -> Result<Sources> {
    if let Some(csv) = &src.csv {
        let target = src.target.as_deref().unwrap_or_default();
        let task = if classification { CsvTask::Classification } else { CsvTask::Regression };
        let d = data::load_csv(csv, target, task)?;
        return Ok(Sources { train: d.dataset, test: None, class_names: d.class_names, what: format!("CSV {}", csv.display()) });
    }
    if let Some(dir) = &src.data {
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

/// The data a config names, before splitting.
pub fn load_sources(cfg: &TrainConfig) -> Result<Sources> {
    read_sources(&cfg.data, cfg.model.loss.is_classification())
}

/// `cfg` with `--hidden` resolved from the data it names (unchanged without it): the input width
/// is the data's feature count, the outputs its class count (softmax_xent), one sigmoid for two
/// classes or a column per target (bce), or the target's width (regression).
pub fn resolve_hidden(cfg: &TrainConfig) -> Result<TrainConfig> {
    if cfg.model.hidden.is_none() {
        return Ok(cfg.clone());
    }
    let loss = cfg.model.loss;
    let s = load_sources(cfg)?;
    let d = &s.train;
    let outputs = match (&d.targets, loss) {
        (Targets::Classes { num_classes, .. }, crate::model::Loss::BinaryCrossEntropy) if *num_classes <= 2 => 1,
        (Targets::Classes { num_classes, .. }, _) => *num_classes,
        (Targets::Values { dim, .. }, _) => *dim,
    };
    Ok(cfg.with_data_shape(d.dim, outputs))
}

/// `--standardize`: every split transformed by the training split's means and deviations,
/// which are returned (for the model file); None, and the splits untouched, without it.
pub fn standardize_splits(cfg: &TrainConfig, splits: &mut Splits) -> Option<data::Standardizer> {
    if !cfg.model.standardize {
        return None;
    }
    let s = data::Standardizer::fit(&splits.train);
    for d in [Some(&mut splits.train), splits.val.as_mut(), splits.test.as_mut()].into_iter().flatten() {
        *d = s.apply(d);
    }
    Some(s)
}

/// The validation setting of a config.
pub fn val_of(cfg: &TrainConfig) -> Option<Val> {
    match (cfg.run.val, cfg.run.val_frac) {
        (Some(n), _) => Some(Val::Count(n)),
        (None, Some(f)) => Some(Val::Fraction(f)),
        _ => None,
    }
}

/// Loaded and split data, with class names where the data has them.
pub struct LoadedData {
    /// Train, validation and test splits.
    pub splits: Splits,
    /// `class_names[label]` for CSV classification; None for IDX digits.
    pub class_names: Option<Vec<String>>,
    /// Where the data came from, as in [`Sources::what`].
    pub what: String,
}

/// Reads `src` and splits it as a run seeded `seed` with validation `val` does.
pub fn read_data(src: &DataSource, classification: bool, val: Option<Val>, seed: u64) -> Result<LoadedData> {
    let s = read_sources(src, classification)?;
    let splits = data::standard_splits(s.train, s.test, val, seed)?;
    Ok(LoadedData { splits, class_names: s.class_names, what: s.what })
}

/// Reads and splits the data `cfg` names, seeded by its `--seed` and with its validation setting.
pub fn load_data(cfg: &TrainConfig) -> Result<LoadedData> {
    read_data(&cfg.data, cfg.model.loss.is_classification(), val_of(cfg), cfg.run.seed)
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
    check_dataset_fits(setup, data)?;
    // the memory `info` estimates for a run on this data, batch clamped to it as the engines get it
    let cost = RunCost::estimate(spec, setup.batch.min(data.len), setup.optimizer.state_slots(), &setup.keep, resident_bytes(data));
    check_memory("layers", cost.memory.total, &format!("a run of {} on {} samples", spec.describe(), data.len))
}

/// `setup` with its batch clamped to `samples`: a batch above the data's size is one step of all
/// of it either way, so the engine's buffers are sized for the data, not for the flag.
pub fn clamp_batch(setup: &TrainSetup, samples: usize) -> TrainSetup {
    TrainSetup { batch: setup.batch.min(samples.max(1)), ..setup.clone() }
}

/// `setup` for training on `train`: the batch clamped to it ([`clamp_batch`]) and
/// `--class-weight balanced` computed from its labels.
pub fn fit_to_data(setup: &TrainSetup, cfg: &TrainConfig, train: &Dataset) -> TrainSetup {
    let mut s = clamp_batch(setup, train.len);
    if let (Some(cw @ crate::engine::ClassWeight::Balanced), Targets::Classes { labels, .. }) = (&cfg.model.class_weight, &train.targets) {
        s.train_loss.class_weight = cw.resolve(labels, s.spec.outputs().max(2));
    }
    s
}

/// Bytes `data` occupies resident in an engine ([`dataset_bytes`]: u8 pixels or f32 columns, plus targets).
pub fn resident_bytes(data: &Dataset) -> u64 {
    let feature_bytes = match data.features {
        data::Features::U8(_) => 1,
        data::Features::F32(_) => 4,
    };
    let target_bytes = match &data.targets {
        Targets::Classes { .. } => 4,
        Targets::Values { dim, .. } => 4usize.saturating_mul(*dim),
    };
    dataset_bytes(data.len, data.dim, feature_bytes, target_bytes)
}

/// The starting weights of a run: drawn as --init says, or read from --init-from.
pub fn initial_params(cfg: &TrainConfig, setup: &TrainSetup) -> Result<Params<f32>> {
    Ok(match &cfg.model.init_from {
        Some(path) => {
            // a PyTorch state dict has no spec of its own: it is read as the run's network
            let (spec, params, meta) = load_model_as(path, Some(&setup.spec))?;
            check_architecture(&setup.spec, &spec).map_err(|e| match e {
                Error::Config { msg, .. } => Error::config("init-from", format!("{}: {msg}", path.display())),
                e => e,
            })?;
            // weights fitted to standardized inputs would see raw ones, or the other way round
            let standardized = meta.get("standardize").is_some_and(|v| !v.is_null());
            if standardized != cfg.model.standardize {
                let (was, is) = if standardized { ("with", "without") } else { ("without", "with") };
                return Err(Error::config(
                    "init-from",
                    format!("{} was trained {was} --standardize and this run is {is} it: its weights expect other inputs", path.display()),
                ));
            }
            params
        }
        None => cfg.model.init.init(&ParamLayout::new(&setup.spec), cfg.run.seed).cast(|x| x as f32),
    })
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
