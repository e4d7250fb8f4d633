//! The training loop, generic over Engine: epochs of seeded permutations, the schedule's learning
//! rate, validation, early stopping with best-weight restore, and a per-epoch history.

use crate::data::Dataset;
use crate::engine::{Engine, EpochStats, EvalStats};
use crate::error::{Error, Result};
use crate::optim::{LrSchedule, Plateau, Warmup};
use crate::data::epoch_order;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

mod every;
pub use every::CheckpointEvery;

/// The validation metric that picks the best epoch (whose weights are kept) and that early
/// stopping watches: Keras' `monitor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// Validation accuracy, higher is better (classification only).
    ValAccuracy,
    /// Mean validation loss, lower is better.
    ValLoss,
}

impl Monitor {
    /// What a run watches unless told: accuracy for classification, loss for regression.
    pub fn default_for(classification: bool) -> Self {
        if classification { Monitor::ValAccuracy } else { Monitor::ValLoss }
    }
    /// The score to maximise: accuracy, or −loss.
    fn score(self, eval: &EvalStats) -> f64 {
        match self {
            Monitor::ValAccuracy => eval.accuracy(),
            Monitor::ValLoss => -eval.mean_loss(),
        }
    }
}

impl fmt::Display for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Monitor::ValAccuracy => "val_accuracy",
            Monitor::ValLoss => "val_loss",
        })
    }
}

impl FromStr for Monitor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "val_accuracy" | "val_acc" => Ok(Monitor::ValAccuracy),
            "val_loss" => Ok(Monitor::ValLoss),
            other => Err(Error::config("monitor", format!("unknown metric '{other}' (expected val_loss or val_accuracy)"))),
        }
    }
}

/// Early stopping: stop once the validation score has not improved (by more than
/// [`FitOptions::min_delta`]) for `patience` epochs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    /// epochs without improvement before stopping
    pub patience: usize,
}

/// What `fit` runs: epoch count, base learning rate and its schedule, shuffling, seed, early stopping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// Number of epochs to train; at least 1 ([`FitOptions::validate`]).
    pub epochs: usize,
    /// Base learning rate, finite and > 0; the schedule scales it per epoch.
    pub lr: f64,
    /// How the learning rate changes over the epochs.
    pub schedule: LrSchedule,
    /// Whether each epoch visits the training rows in a fresh seeded permutation (else in order).
    pub shuffle: bool,
    /// Seed of the epoch permutations.
    pub seed: u64,
    /// None trains all `epochs`; early stopping needs a validation set to have any effect.
    pub early_stop: Option<EarlyStop>,
    /// What picks the best epoch and what early stopping watches; None: [`Monitor::default_for`].
    #[serde(default)]
    pub monitor: Option<Monitor>,
    /// Linear warm-up over the first this many epochs (0: none); a warm-up in steps is the
    /// optimizer's (`OptimizerConfig::warmup_steps`).
    #[serde(default)]
    pub warmup_epochs: u64,
    /// Multiply the rate by a factor when the monitored metric stalls (Keras' ReduceLROnPlateau).
    #[serde(default)]
    pub plateau: Option<Plateau>,
    /// Smallest change of the monitored score that counts as an improvement: for the best
    /// epoch, early stopping and reduce-on-plateau alike.
    #[serde(default)]
    pub min_delta: f64,
}

impl Default for FitOptions {
    /// The CLI's defaults: 10 epochs at lr 0.05 decaying by 0.95 per epoch, shuffled, seed 0.
    fn default() -> Self {
        FitOptions {
            epochs: 10,
            lr: 0.05,
            schedule: LrSchedule::Exponential { gamma: 0.95 },
            shuffle: true,
            seed: 0,
            early_stop: None,
            monitor: None,
            warmup_epochs: 0,
            plateau: None,
            min_delta: 0.0,
        }
    }
}

/// One row of the history (and of metrics.csv).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based
    pub epoch: usize,
    /// Learning rate used in this epoch (after the schedule).
    pub lr: f64,
    /// Mean training loss over the epoch's samples.
    pub train_loss: f64,
    /// accuracy for classification, None for regression
    pub train_accuracy: Option<f64>,
    /// Mean validation loss; None without a validation set.
    pub val_loss: Option<f64>,
    /// Validation accuracy; None for regression or without a validation set.
    pub val_accuracy: Option<f64>,
    /// mean ‖∂L/∂W‖ per layer over the epoch's steps
    pub grad_norms: Vec<f64>,
    /// per hidden layer: fraction of units that never fired (ReLU family; 0 elsewhere)
    pub dead_fraction: Vec<f64>,
    /// per hidden layer: fraction of activations in sigmoid/tanh's flat parts (0 elsewhere)
    pub saturated_fraction: Vec<f64>,
    /// wall time of the training pass
    pub seconds: f64,
    /// Training samples processed per second of `seconds`.
    pub samples_per_second: f64,
}

/// Per-epoch records of a run, and which epoch's weights were kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per epoch run, in order.
    pub epochs: Vec<EpochRecord>,
    /// 1-based epoch whose weights were kept (best validation score)
    pub best_epoch: usize,
    /// True when early stopping ended the run before `epochs` ran out.
    pub stopped_early: bool,
    /// The metric that chose `best_epoch` (None: no validation set, or a history from before
    /// the metric was recorded).
    #[serde(default)]
    pub monitor: Option<Monitor>,
    /// Keep probability of each layer input in training (1: no dropout there).
    #[serde(default)]
    pub keep_prob: Vec<f32>,
}


impl FitOptions {
    /// Checks `epochs >= 1` and a finite positive `lr`; errors with [`Error::Config`] otherwise.
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

/// Builds the [`EpochRecord`] of 1-based `epoch` from its training stats and optional validation stats;
/// `sizes` are the layer sizes (input first), `seconds` the training pass's wall time.
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

/// Where the loop stands after some epochs: what a checkpoint stores so a resumed run continues
/// exactly (same early-stopping decisions, same best weights) as an uninterrupted one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitState {
    /// Epochs completed so far (the next epoch's 0-based index).
    pub epoch: usize,
    /// Every epoch so far, `best_epoch` and `stopped_early` included.
    pub history: History,
    /// Best validation score so far (accuracy, or −loss: `history.monitor`); None before the
    /// first epoch and in runs without a validation set.
    pub best_score: Option<f64>,
    /// Epochs since the best one (early stopping's patience counter).
    pub since_best: usize,
    /// What reduce-on-plateau has multiplied the rate by so far (1: never reduced).
    #[serde(default = "one")]
    pub lr_factor: f64,
    /// Epochs without improvement since the best one or the last reduction.
    #[serde(default)]
    pub plateau_wait: usize,
}

fn one() -> f64 {
    1.0
}

impl Default for FitState {
    fn default() -> Self {
        FitState { epoch: 0, history: History::default(), best_score: None, since_best: 0, lr_factor: 1.0, plateau_wait: 0 }
    }
}

impl FitState {
    /// A loop about to start at 0-based epoch `epoch`, with no history.
    pub fn starting_at(epoch: usize) -> Self {
        FitState { epoch, ..Default::default() }
    }

    /// The rate of 0-based `epoch`: the schedule's, times the epoch warm-up's factor, times what
    /// reduce-on-plateau has made of it (never below its floor once reduced).
    pub fn lr(&self, opts: &FitOptions, epoch: usize) -> f64 {
        let mut lr = opts.schedule.lr(opts.lr, epoch, opts.epochs);
        if opts.warmup_epochs > 0 {
            lr *= Warmup::factor(epoch as u64 + 1, opts.warmup_epochs);
        }
        match opts.plateau {
            // never below the floor, and never above the schedule's own rate
            Some(p) if self.lr_factor < 1.0 => (lr * self.lr_factor).max(p.min_lr).min(lr),
            _ => lr,
        }
    }
    /// The record of the last completed epoch.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.history.epochs.last()
    }
    /// Whether the last completed epoch is the best one so far (its weights are the ones kept).
    pub fn last_is_best(&self) -> bool {
        self.history.best_epoch == self.epoch && self.epoch > 0
    }
}

/// What the per-epoch callback tells the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the next epoch.
    Continue,
    /// Stop after this epoch (e.g. Ctrl-C); the loop ends as if the epochs had run out.
    Stop,
}

/// How the loop ended.
#[derive(Clone, Debug, PartialEq)]
pub struct FitEnd {
    /// The full state after the last epoch (history of every epoch, resumed ones included).
    pub state: FitState,
    /// True when the callback asked to stop before the epochs ran out.
    pub interrupted: bool,
}

/// Trains `engine` (training set already loaded) from epoch `start_epoch` to `opts.epochs`, or
/// until early stopping. The engine ends holding the best parameters by validation score (the last
/// ones without a validation set). `on_epoch` sees each record as it is made (progress, metrics
/// files, checkpoints). Returns the history of the epochs run here.
pub fn fit<E: Engine + ?Sized>(
    engine: &mut E,
    train_len: usize,
    val: Option<&Dataset>,
    opts: &FitOptions,
    start_epoch: usize,
    mut on_epoch: impl FnMut(&EpochRecord, &mut E) -> Result<()>,
) -> Result<History> {
    let end = fit_from(engine, train_len, val, opts, FitState::starting_at(start_epoch), |s, e| {
        if let Some(r) = s.last() {
            on_epoch(r, e)?;
        }
        Ok(Flow::Continue)
    })?;
    Ok(end.state.history)
}

/// The loop behind `fit`, continuing from `state` (a fresh `FitState::starting_at(0)`, or one a
/// checkpoint stored). For a resumed run with a validation set whose best epoch is before
/// `state.epoch`, the engine's snapshot must already hold that epoch's weights.
///
/// `on_epoch` runs after each epoch's bookkeeping (the state it sees is what a checkpoint must
/// store; the best weights are snapshotted already) and may ask the loop to stop.
pub fn fit_from<E: Engine + ?Sized>(
    engine: &mut E,
    train_len: usize,
    val: Option<&Dataset>,
    opts: &FitOptions,
    mut state: FitState,
    mut on_epoch: impl FnMut(&FitState, &mut E) -> Result<Flow>,
) -> Result<FitEnd> {
    opts.validate()?;
    let classification = engine.setup().spec.loss.is_classification();
    let sizes = engine.setup().spec.sizes.clone();
    let monitor = opts.monitor.unwrap_or(Monitor::default_for(classification));
    if monitor == Monitor::ValAccuracy && !classification {
        return Err(Error::config("monitor", "val_accuracy needs a classification loss; a regression is judged by val_loss"));
    }
    if val.is_some() {
        match state.history.monitor {
            Some(m) if m != monitor && state.epoch > 0 => {
                return Err(Error::config("monitor", format!("{monitor} differs from the run's {m}; a resumed run keeps what chose its best epoch")))
            }
            _ => state.history.monitor = Some(monitor),
        }
    }
    state.history.keep_prob = engine.setup().keep.clone();
    let mut interrupted = false;
    while state.epoch < opts.epochs && !state.history.stopped_early {
        let epoch = state.epoch;
        let lr = state.lr(opts, epoch);
        let order = epoch_order(train_len, opts.seed, epoch as u64, opts.shuffle);
        let t0 = Instant::now();
        let stats = engine.train_epoch(&order, lr)?;
        let seconds = t0.elapsed().as_secs_f64();
        let loss = stats.mean_loss();
        if !loss.is_finite() {
            return Err(Error::Diverged { epoch: epoch + 1, loss, kept: None });
        }
        let eval = match val {
            Some(v) => Some(engine.evaluate(v)?),
            None => None,
        };
        let rec = record(epoch + 1, lr, &stats, eval.as_ref(), classification, &sizes, seconds);
        state.history.epochs.push(rec);
        state.epoch = epoch + 1;

        let s = eval.as_ref().map(|e| monitor.score(e));
        let min_delta = opts.min_delta;
        let improved = match (s, state.best_score) {
            (Some(s), Some(b)) => s > b + min_delta,
            _ => true,
        };
        if improved {
            state.best_score = s.filter(|v| v.is_finite());
            if val.is_some() {
                engine.snapshot_params()?;
            }
            state.history.best_epoch = epoch + 1;
            state.since_best = 0;
            state.plateau_wait = 0;
        } else {
            state.since_best += 1;
            state.plateau_wait += 1;
            if let Some(p) = opts.plateau.filter(|p| state.plateau_wait >= p.patience) {
                state.lr_factor *= p.factor;
                state.plateau_wait = 0;
            }
        }
        if let Some(es) = &opts.early_stop {
            if state.since_best >= es.patience {
                state.history.stopped_early = true;
            }
        }
        if on_epoch(&state, engine)? == Flow::Stop && !state.history.stopped_early && state.epoch < opts.epochs {
            interrupted = true;
            break;
        }
    }
    if val.is_some() && state.history.best_epoch != state.epoch && state.history.best_epoch > 0 {
        engine.restore_snapshot()?;
    }
    Ok(FitEnd { state, interrupted })
}
