//! metrics.csv and history.json: one row per epoch, written atomically after every epoch so an
//! interrupted run still leaves a complete record.

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::train::History;
use std::fmt::Write as _;
use std::path::Path;

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// Columns: epoch, lr, train/val loss and accuracy, then per-layer gradient norms and per-hidden-
/// layer dead/saturated fractions, wall time and throughput.
pub fn write_metrics_csv(path: &Path, history: &History) -> Result<()> {
    let Some(first) = history.epochs.first() else { return write_atomic(path, b"") };
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
    for r in &history.epochs {
        let _ = write!(
            s,
            "{},{},{},{},{},{}",
            r.epoch, r.lr, r.train_loss, opt(r.train_accuracy), opt(r.val_loss), opt(r.val_accuracy)
        );
        for v in r.grad_norms.iter().chain(&r.dead_fraction).chain(&r.saturated_fraction) {
            let _ = write!(s, ",{v}");
        }
        let _ = writeln!(s, ",{},{}", r.seconds, r.samples_per_second);
    }
    write_atomic(path, s.as_bytes())
}

/// The whole [`History`] as pretty-printed JSON, written atomically.
pub fn write_history_json(path: &Path, history: &History) -> Result<()> {
    let text = serde_json::to_string_pretty(history)
        .map_err(|e| Error::config("history", format!("cannot serialise: {e}")))?;
    write_atomic(path, text.as_bytes())
}
