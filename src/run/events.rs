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
    pub network: String,
    pub device: String,
    pub out_dir: PathBuf,
    /// epochs completed before this invocation (a resumed run), else 0
    pub resumed_at: usize,
    /// the epochs the run trains to
    pub epochs: usize,
    /// K of a k-fold run
    pub kfold: Option<usize>,
}

/// One step of a run's progress.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    Start(&'a RunStart),
    /// Fold `fold` (1-based) of `k` begins, with these sample counts.
    FoldStart { fold: usize, k: usize, train: usize, val: usize },
    /// Epochs `done+1 ..` begin; `label` names the fold ("fold 2/5"), else is empty.
    TrainingStart { done: usize, label: &'a str },
    /// An epoch finished.
    Epoch(&'a EpochRecord),
    /// The epochs of this training (or fold) are over.
    TrainingEnd,
    /// A fold finished, scored on its held-out part.
    FoldEnd { score: &'a FoldScore, k: usize, classification: bool },
    /// The run is over; the summary is also what the run returns.
    Done(&'a RunSummary),
}

/// Receives a run's events. Closures `FnMut(Event)` are reporters.
pub trait Reporter {
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
