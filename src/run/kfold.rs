//! `--kfold K`: K-fold cross-validation on the data a single run trains and validates on; the
//! test split a single run holds out stays out of every fold. Each fold trains a fresh engine
//! (same initialisation) on K−1 folds, scores the held-out fold and the test split with its best
//! weights and writes them as model-fold-K.safetensors; the fold models' mean probabilities are
//! the ensemble scored on the test split. The run directory gets config.toml, the fold models and
//! kfold.json (rewritten after every fold). All folds' engines run on one device (one GPU context).

use super::outdir::{fold_model_name, Kept, OutDir};
use super::{check_fits, fit_to_data, initial_params, model_meta, read_sources, Event, Reporter, RunOptions, RunStart, RunSummary};
use crate::atomic::write_atomic;
use crate::config::Plan;
use crate::device::Device;
use crate::data::{kfold, kfold_holdout, Standardizer};
use crate::model::save_model;
use crate::report::ensemble::OutputSum;
use crate::error::{Error, Result};
use crate::train::{fit_from, FitState, Flow, History};
use serde::Serialize;

/// One fold's result in a k-fold run (a row of kfold.json).
#[derive(Clone, Debug, Serialize)]
pub struct FoldScore {
    /// 1-based
    pub fold: usize,
    /// Samples the fold trained on (the other K−1 folds).
    pub train_samples: usize,
    /// Samples of the held-out fold.
    pub val_samples: usize,
    /// 1-based epoch whose weights scored the fold.
    pub best_epoch: usize,
    /// Epochs trained (fewer than `--epochs` after early stopping).
    pub epochs_run: usize,
    /// Held-out loss and accuracy with the fold's best weights.
    pub val_loss: f64,
    /// Held-out accuracy in 0..=1; None for regression.
    pub val_accuracy: Option<f64>,
    /// Test-split loss of the fold's model; None without a test split.
    pub test_loss: Option<f64>,
    /// Test-split accuracy of the fold's model; None for regression or without a test split.
    pub test_accuracy: Option<f64>,
    /// The fold's model in the run directory (`model-fold-K.safetensors`).
    pub model: String,
    /// The fold's per-epoch records.
    pub history: History,
}

/// The fold ensemble on the test split: the mean of the fold models' outputs (probabilities,
/// or values for regression), scored with the run's loss.
#[derive(Clone, Debug, Serialize)]
pub struct EnsembleScore {
    /// Mean loss of the mean output.
    pub loss: f64,
    /// Accuracy of the mean probabilities' most probable class; None for regression.
    pub accuracy: Option<f64>,
    /// Fold models in the ensemble (fewer than k when the run was interrupted).
    pub models: usize,
    /// Test samples scored.
    pub samples: usize,
}

/// A k-fold run's result (kfold.json): every fold's score and their mean and spread.
#[derive(Clone, Debug, Serialize)]
pub struct KfoldReport {
    /// Number of folds.
    pub k: usize,
    /// Samples the folds partition (the data less the test split).
    pub samples: usize,
    /// Samples of the held-out test split; None when the data has none.
    pub test_samples: Option<usize>,
    /// "accuracy" (classification) or "loss" (regression): what `mean` and `std` summarise.
    pub metric: String,
    /// The folds run, in order.
    pub folds: Vec<FoldScore>,
    /// Mean over the folds of `metric` (NaN when no fold ran).
    pub mean: f64,
    /// Population standard deviation over the folds (numpy's default, as in `scores.std()`).
    pub std: f64,
    /// Stopped by Ctrl-C: only the folds listed ran.
    pub interrupted: bool,
    /// The fold models' ensemble on the test split (of the folds that ran); None without a test split.
    pub ensemble_test: Option<EnsembleScore>,
    /// Why there is no test score, when there is none.
    pub note: Option<String>,
}


/// Mean and population standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// What kfold.json says besides the folds: the pooled samples, the test split and the ensemble.
struct Holdout {
    samples: usize,
    test_samples: Option<usize>,
    ensemble_test: Option<EnsembleScore>,
    note: Option<String>,
}

fn report(k: usize, classification: bool, folds: Vec<FoldScore>, interrupted: bool, h: &Holdout) -> KfoldReport {
    let values: Vec<f64> = folds.iter().map(|f| if classification { f.val_accuracy.unwrap_or(f64::NAN) } else { f.val_loss }).collect();
    let (mean, std) = mean_std(&values);
    KfoldReport {
        k,
        samples: h.samples,
        test_samples: h.test_samples,
        metric: if classification { "accuracy" } else { "loss" }.into(),
        folds,
        mean,
        std,
        interrupted,
        ensemble_test: h.ensemble_test.clone(),
        note: h.note.clone(),
    }
}

pub(super) fn kfold_run(plan: &Plan, k: usize, device: &Device, opts: &RunOptions, reporter: &mut dyn Reporter) -> Result<RunSummary> {
    let cfg = &plan.config;
    let setup = &plan.setup;
    let src = read_sources(&plan.source, setup.spec.loss.is_classification())?;
    let whole = src.train.len;
    // the test split a single run with this seed holds out stays out of every fold
    let (data, test) = kfold_holdout(src.train, src.test, setup.seed);
    check_fits(setup, &data)?;
    if let Some(t) = &test {
        check_fits(setup, t)?;
    }
    let folds = kfold(data.len, k, setup.seed).map_err(|e| match e {
        Error::Config { msg, .. } if test.is_some() && data.len < whole => {
            Error::config("kfold", format!("{msg} (of {whole}; {} are held out as the test split)", whole - data.len))
        }
        Error::Config { msg, .. } => Error::config("kfold", msg),
        e => e,
    })?;
    // every fold starts from the same weights, on the one device
    let params = initial_params(cfg, setup)?;
    // the engine of fold 1 is made before the directory, so its errors leave nothing behind
    let mut engine = device.engine(fit_to_data(setup, cfg, &data), params.clone())?;
    let (out, out_dir) = OutDir::prepare_new(cfg.run.out.as_deref(), opts.quit.clone())?;
    let classification = setup.spec.loss.is_classification();
    let network = setup.spec.describe();
    let held = match &test {
        Some(t) => format!("{} test samples held out, scored by each fold's model and by their ensemble", t.len),
        None => "no test split (too few samples to hold one out)".into(),
    };
    let protocol = format!("{k}-fold cross-validation over {} samples of {} (seeded folds); {held}", data.len, src.what);
    let note = test.is_none().then(|| format!("no test split: {} samples are too few to hold one out, so no test score is reported", data.len));
    reporter.report(Event::Start(&RunStart {
        source: src.what.clone(),
        protocol: protocol.clone(),
        network: network.clone(),
        device: engine.describe(),
        out_dir: out.clone(),
        resumed_at: 0,
        epochs: plan.fit.epochs,
        kfold: Some(k),
        notes: note.iter().cloned().collect(),
    }));
    out_dir.write(|| write_atomic(&out.join("config.toml"), plan.toml.as_bytes()))?;

    let mut holdout = Holdout { samples: data.len, test_samples: test.as_ref().map(|t| t.len), ensemble_test: None, note };
    let mut outputs = OutputSum::default();
    let mut scores: Vec<FoldScore> = Vec::with_capacity(k);
    let mut interrupted = false;
    for (f, (train_idx, val_idx)) in folds.iter().enumerate() {
        if f > 0 {
            engine = device.engine(fit_to_data(setup, cfg, &data), params.clone())?;
        }
        let (train, val) = (data.subset(train_idx), data.subset(val_idx));
        // --standardize: each fold's training part sets its transform, which its model keeps
        let standardizer = cfg.model.standardize.then(|| Standardizer::fit(&train));
        let (train, val, fold_test) = match &standardizer {
            Some(s) => (s.apply(&train), s.apply(&val), test.as_ref().map(|t| s.apply(t))),
            None => (train, val, test.clone()),
        };
        engine.load_train(&train)?;
        let label = format!("fold {}/{k}", f + 1);
        reporter.report(Event::FoldStart { fold: f + 1, k, train: train.len, val: val.len });
        reporter.report(Event::TrainingStart { done: 0, label: &label });
        let end = fit_from(engine.as_mut(), train.len, Some(&val), &plan.fit, FitState::starting_at(0), |s, _| {
            if let Some(r) = s.last() {
                reporter.report(Event::Epoch(r));
            }
            Ok(if opts.stop_requested() { Flow::Stop } else { Flow::Continue })
        });
        reporter.report(Event::TrainingEnd);
        let end = end?;
        if end.interrupted {
            // a fold stopped part-way is neither scored nor kept: the report holds whole folds
            interrupted = true;
            break;
        }
        let eval = engine.evaluate(&val)?;
        let h = end.state.history;
        let test_eval = match &fold_test {
            Some(t) => {
                outputs.add(&engine.predict(t)?);
                let s = outputs.score(setup.spec.loss, t);
                holdout.ensemble_test = Some(EnsembleScore {
                    loss: s.mean_loss(),
                    accuracy: classification.then(|| s.accuracy()),
                    models: outputs.models(),
                    samples: t.len,
                });
                Some(engine.evaluate(t)?)
            }
            None => None,
        };
        let model = fold_model_name(f + 1);
        let mut meta = model_meta(cfg, &h, engine.as_ref(), &src.class_names, standardizer.as_ref(), None);
        meta["fold"] = (f + 1).into();
        let params = engine.params()?;
        out_dir.write(|| save_model(out.join(&model), &setup.spec, &params, meta))?;
        let fs = FoldScore {
            fold: f + 1,
            train_samples: train.len,
            val_samples: val.len,
            best_epoch: h.best_epoch,
            epochs_run: h.epochs.len(),
            val_loss: eval.mean_loss(),
            val_accuracy: classification.then(|| eval.accuracy()),
            test_loss: test_eval.as_ref().map(|e| e.mean_loss()),
            test_accuracy: test_eval.as_ref().filter(|_| classification).map(|e| e.accuracy()),
            model,
            history: h,
        };
        reporter.report(Event::FoldEnd { score: &fs, k, classification });
        scores.push(fs);
        // a stop asked for during the fold's last epoch ends the run here, after a whole fold
        interrupted = opts.stop_requested() && f + 1 < k;
        write_report(&out_dir, &out, &report(k, classification, scores.clone(), interrupted, &holdout))?;
        if interrupted {
            break;
        }
    }
    let rep = report(k, classification, scores, interrupted, &holdout);
    if interrupted && !rep.folds.is_empty() {
        write_report(&out_dir, &out, &rep)?;
    }
    let summary = RunSummary {
        out_dir: out.clone(),
        device: engine.describe(),
        network,
        protocol,
        history: History::default(),
        scores: vec![],
        interrupted,
        resumed_at: 0,
        kfold: Some(rep),
    };
    reporter.report(Event::Done(&summary));
    Ok(summary)
}

/// kfold.json with `rep`'s folds; the directory is kept once it holds a fold.
fn write_report(out_dir: &OutDir, out: &std::path::Path, rep: &KfoldReport) -> Result<()> {
    let text = serde_json::to_string_pretty(rep).map_err(|e| Error::config("kfold", format!("cannot encode kfold.json: {e}")))?;
    out_dir.write_kept(Kept::Folds { done: rep.folds.len() }, || write_atomic(&out.join("kfold.json"), text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::mean_std;

    #[test]
    fn mean_and_population_std() {
        let (m, s) = mean_std(&[0.9, 0.92, 0.94]);
        assert!((m - 0.92).abs() < 1e-12);
        assert!((s - (0.0008f64 / 3.0).sqrt()).abs() < 1e-12, "{s}");
        assert_eq!(mean_std(&[1.0]), (1.0, 0.0));
    }
}
