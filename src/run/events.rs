//! What a run reports while it works, as events for the caller to show: the CLI prints them
//! (a bar, lines or JSON), a library user may ignore them; the library itself prints nothing.

use super::{FoldScore, RunSummary};
use crate::train::EpochRecord;
use serde::Serialize;
use std::path::PathBuf;

/// What a run is about to do, once its data, engine and directory are ready.
#[derive(Clone, Debug, Serialize)]
pub struct RunStart {
    /// "bundled MNIST digits", "CSV iris.csv", …
    pub source: String,
    /// how the data is split ("9000 train / 1000 validation / …", or the k-fold protocol)
    pub protocol: String,
    /// the network's description (layer sizes, activation, loss)
    pub network: String,
    /// the engine's description (CPU, or the GPU adapter)
    pub device: String,
    /// the run directory being written
    pub out_dir: PathBuf,
    /// epochs completed before this invocation (a resumed run), else 0
    pub resumed_at: usize,
    /// the epochs the run trains to
    pub epochs: usize,
    /// K of a k-fold run
    pub kfold: Option<usize>,
    /// Things the user should know before the run starts (e.g. a resumed checkpoint of an older build)
    pub notes: Vec<String>,
}

/// One step of a run's progress.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// The run begins: data, engine and directory are ready. Sent first, once per run.
    Start(&'a RunStart),
    /// Things the user should know that come up after the start (the GPU engine's kernel tuning).
    Notes(&'a [String]),
    /// Fold `fold` (1-based) of `k` begins, with these sample counts.
    FoldStart {
        /// 1-based fold number
        fold: usize,
        /// number of folds
        k: usize,
        /// training samples of this fold
        train: usize,
        /// held-out samples of this fold
        val: usize,
    },
    /// Epochs `done+1 ..` begin; `label` names the fold ("fold 2/5"), else is empty.
    TrainingStart {
        /// epochs already completed (a resumed run), else 0
        done: usize,
        /// the fold's name, or empty outside k-fold
        label: &'a str,
    },
    /// An epoch finished.
    Epoch(&'a EpochRecord),
    /// The epochs of this training (or fold) are over.
    TrainingEnd,
    /// A fold finished, scored on its held-out part.
    FoldEnd {
        /// the fold's score on its held-out part
        score: &'a FoldScore,
        /// number of folds
        k: usize,
        /// whether accuracy is meaningful (classification) or only loss (regression)
        classification: bool,
    },
    /// The run is over; the summary is also what the run returns.
    Done(&'a RunSummary),
}

/// Receives a run's events. Closures `FnMut(Event)` are reporters.
pub trait Reporter {
    /// Handles one event; called on the training thread, in the order the events happen.
    fn report(&mut self, event: Event<'_>);
}

impl<F: FnMut(Event<'_>)> Reporter for F {
    fn report(&mut self, event: Event<'_>) {
        self(event)
    }
}

/// Ignores every event.
pub struct Silent;

impl Reporter for Silent {
    fn report(&mut self, _: Event<'_>) {}
}
