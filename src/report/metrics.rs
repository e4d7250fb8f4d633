//! metrics.csv and history.json: one row per epoch. metrics.csv grows by a line per epoch
//! ([`MetricsLog`]); history.json is written atomically whenever the run checkpoints.

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::fault;
use crate::train::{EpochRecord, History};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// The header line of metrics.csv for records shaped like `first` (its per-layer columns).
fn header(first: &EpochRecord) -> String {
    let mut s = String::from("epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy");
    for l in 0..first.grad_norms.len() {
        let _ = write!(s, ",grad_norm_{l}");
    }
    for l in 0..first.dead_fraction.len() {
        let _ = write!(s, ",dead_fraction_{l}");
    }
    for l in 0..first.saturated_fraction.len() {
        let _ = write!(s, ",saturated_fraction_{l}");
    }
    s.push_str(",seconds,samples_per_second\n");
    s
}

/// One epoch's line of metrics.csv.
fn row(r: &EpochRecord) -> String {
    let mut s = String::new();
    let _ = write!(s, "{},{},{},{},{},{}", r.epoch, r.lr, r.train_loss, opt(r.train_accuracy), opt(r.val_loss), opt(r.val_accuracy));
    for v in r.grad_norms.iter().chain(&r.dead_fraction).chain(&r.saturated_fraction) {
        let _ = write!(s, ",{v}");
    }
    let _ = writeln!(s, ",{},{}", r.seconds, r.samples_per_second);
    s
}

/// Columns: epoch, lr, train/val loss and accuracy, then per-layer gradient norms and per-hidden-
/// layer dead/saturated fractions, wall time and throughput.
pub fn write_metrics_csv(path: &Path, history: &History) -> Result<()> {
    let Some(first) = history.epochs.first() else { return write_atomic(path, b"") };
    let mut s = header(first);
    for r in &history.epochs {
        s.push_str(&row(r));
    }
    write_atomic(path, s.as_bytes())
}

/// metrics.csv kept up to date by appending one line per epoch. The first line a log writes
/// rewrites the file atomically with the whole history (so a resumed run's file holds exactly the
/// checkpoint's epochs and then its own); after that each epoch is one `write` at the end of the
/// file, made durable by [`MetricsLog::sync`] when the run checkpoints. After a kill the file may
/// be ahead of the checkpoint, or end in a torn line; a resume rewrites it either way.
pub struct MetricsLog {
    path: PathBuf,
    file: Option<File>,
    rows: usize,
}

impl MetricsLog {
    /// A log of `path` that has written nothing yet.
    pub fn new(path: PathBuf) -> Self {
        MetricsLog { path, file: None, rows: 0 }
    }

    /// Writes the epochs of `history` the file does not hold yet.
    pub fn append(&mut self, history: &History) -> Result<()> {
        let n = history.epochs.len();
        let Some(f) = &mut self.file else {
            write_metrics_csv(&self.path, history)?;
            let f = OpenOptions::new().append(true).open(&self.path).map_err(|e| Error::io(&self.path, e))?;
            (self.file, self.rows) = (Some(f), n);
            return Ok(());
        };
        let text: String = history.epochs[self.rows.min(n)..].iter().map(row).collect();
        f.write_all(text.as_bytes()).map_err(|e| Error::io(&self.path, e))?;
        self.rows = n;
        fault::point(&format_args!("{} appended to epoch {n}", self.path.display()));
        Ok(())
    }

    /// Flushes what was appended to disk.
    pub fn sync(&mut self) -> Result<()> {
        match &self.file {
            Some(f) => f.sync_data().map_err(|e| Error::io(&self.path, e)),
            None => Ok(()),
        }
    }
}

/// The whole [`History`] as pretty-printed JSON, written atomically.
pub fn write_history_json(path: &Path, history: &History) -> Result<()> {
    let text = serde_json::to_string_pretty(history)
        .map_err(|e| Error::config("history", format!("cannot serialise: {e}")))?;
    write_atomic(path, text.as_bytes())
}
