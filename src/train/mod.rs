//! The training loop, generic over Engine: epochs of seeded permutations, the schedule's learning
//! rate, validation, early stopping with best-weight restore, and a per-epoch history.

use crate::data::Dataset;
use crate::engine::{Engine, EpochStats, EvalStats};
use crate::error::{Error, Result};
use crate::optim::LrSchedule;
use crate::data::epoch_order;
use serde::{Deserialize, Serialize};
use std::time::Instant;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    /// epochs without improvement before stopping
    pub patience: usize,
    /// smallest change of the monitored score that counts as improvement
    pub min_delta: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    pub epochs: usize,
    pub lr: f64,
    pub schedule: LrSchedule,
    pub shuffle: bool,
    pub seed: u64,
    pub early_stop: Option<EarlyStop>,
}

/// One row of the history (and of metrics.csv).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based
    pub epoch: usize,
    pub lr: f64,
    pub train_loss: f64,
    /// accuracy for classification, None for regression
    pub train_accuracy: Option<f64>,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    /// mean ‖∂L/∂W‖ per layer over the epoch's steps
    pub grad_norms: Vec<f64>,
    /// per hidden layer: fraction of units that never fired (ReLU family; 0 elsewhere)
    pub dead_fraction: Vec<f64>,
    /// per hidden layer: fraction of activations in sigmoid/tanh's flat parts (0 elsewhere)
    pub saturated_fraction: Vec<f64>,
    /// wall time of the training pass
    pub seconds: f64,
    pub samples_per_second: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub epochs: Vec<EpochRecord>,
    /// 1-based epoch whose weights were kept (best validation score)
    pub best_epoch: usize,
    pub stopped_early: bool,
}


impl FitOptions {
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::config("epochs", "must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::config("lr", format!("{} must be a positive number", self.lr)));
        }
        Ok(())
    }
}

/// Score to maximise: validation accuracy for classification, −loss for regression.
fn score(eval: &EvalStats, classification: bool) -> f64 {
    if classification { eval.accuracy() } else { -eval.mean_loss() }
}

pub fn record(epoch: usize, lr: f64, s: &EpochStats, val: Option<&EvalStats>, classification: bool, sizes: &[usize], seconds: f64) -> EpochRecord {
    let hidden = &sizes[1..sizes.len() - 1];
    EpochRecord {
        epoch,
        lr,
        train_loss: s.mean_loss(),
        train_accuracy: classification.then(|| s.accuracy()),
        val_loss: val.map(|v| v.mean_loss()),
        val_accuracy: val.filter(|_| classification).map(|v| v.accuracy()),
        grad_norms: s.mean_grad_norms(),
        dead_fraction: s.dead_units.iter().zip(hidden).map(|(&d, &n)| d as f64 / n as f64).collect(),
        saturated_fraction: s
            .saturated
            .iter()
            .zip(hidden)
            .map(|(&c, &n)| c as f64 / (n as f64 * s.samples.max(1) as f64))
            .collect(),
        seconds,
        samples_per_second: s.samples as f64 / seconds.max(1e-9),
    }
}

/// Trains `engine` (training set already loaded) from epoch `start_epoch` to `opts.epochs`, or
/// until early stopping. The engine ends holding the best parameters by validation score (the last
/// ones without a validation set). `on_epoch` sees each record as it is made (progress, metrics
/// files, checkpoints).
pub fn fit<E: Engine + ?Sized>(
    engine: &mut E,
    train_len: usize,
    val: Option<&Dataset>,
    opts: &FitOptions,
    start_epoch: usize,
    mut on_epoch: impl FnMut(&EpochRecord, &mut E) -> Result<()>,
) -> Result<History> {
    opts.validate()?;
    let classification = engine.setup().spec.loss.is_classification();
    let sizes = engine.setup().spec.sizes.clone();
    let mut history = History::default();
    let mut best: Option<f64> = None;
    let mut since_best = 0;
    for epoch in start_epoch..opts.epochs {
        let lr = opts.schedule.lr(opts.lr, epoch, opts.epochs);
        let order = epoch_order(train_len, opts.seed, epoch as u64, opts.shuffle);
        let t0 = Instant::now();
        let stats = engine.train_epoch(&order, lr)?;
        let seconds = t0.elapsed().as_secs_f64();
        let loss = stats.mean_loss();
        if !loss.is_finite() {
            return Err(Error::Diverged { epoch: epoch + 1, loss });
        }
        let eval = match val {
            Some(v) => Some(engine.evaluate(v)?),
            None => None,
        };
        let rec = record(epoch + 1, lr, &stats, eval.as_ref(), classification, &sizes, seconds);
        on_epoch(&rec, engine)?;
        history.epochs.push(rec);

        let s = eval.as_ref().map(|e| score(e, classification)).unwrap_or(f64::INFINITY);
        let min_delta = opts.early_stop.as_ref().map(|e| e.min_delta).unwrap_or(0.0);
        let improved = match best {
            None => true,
            Some(b) => eval.is_none() || s > b + min_delta,
        };
        if improved {
            best = Some(s);
            if val.is_some() {
                engine.snapshot_params()?;
            }
            history.best_epoch = epoch + 1;
            since_best = 0;
        } else {
            since_best += 1;
        }
        if let Some(es) = &opts.early_stop {
            if since_best >= es.patience {
                history.stopped_early = true;
                break;
            }
        }
    }
    if val.is_some() && history.best_epoch != history.epochs.last().map_or(0, |r| r.epoch) {
        engine.restore_snapshot()?;
    }
    Ok(history)
}
