//! What a run prints while it works: JSON lines for machines and pipes, plain lines when asked
//! for no bar, and on a terminal an indicatif bar over the epochs that shows elapsed time, ETA,
//! throughput, loss and accuracy (engines train whole epochs, so it advances once per epoch; a
//! steady tick keeps the spinner and clock moving inside one).

use crate::train::EpochRecord;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Json,
    Lines,
    Bar,
}

pub struct Progress {
    pub mode: Mode,
    bar: Option<ProgressBar>,
    epochs: usize,
}

fn pct(v: Option<f64>) -> String {
    v.map(|a| format!("{:6.2}%", 100.0 * a)).unwrap_or_else(|| "     - ".into())
}

/// One human line per epoch (kept in the scrollback above the bar).
pub fn epoch_line(r: &EpochRecord, epochs: usize) -> String {
    let val_loss = r.val_loss.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    format!(
        "epoch {:>3}/{}  lr {:.4e}  loss {:.4}  train {}  val loss {val_loss}  val {}  {:>8.0} samples/s  {:.2}s",
        r.epoch, epochs, r.lr, r.train_loss, pct(r.train_accuracy), pct(r.val_accuracy), r.samples_per_second, r.seconds
    )
}

impl Progress {
    /// JSON when asked or when stdout is not a terminal; a bar on a terminal.
    pub fn new(json: bool, epochs: usize) -> Self {
        let mode = if json || !std::io::stdout().is_terminal() { Mode::Json } else { Mode::Bar };
        Progress { mode, bar: None, epochs }
    }

    pub fn json(&self) -> bool {
        self.mode == Mode::Json
    }

    /// A line for people, or a JSON value for machines.
    pub fn say(&self, text: &str, value: serde_json::Value) {
        match self.mode {
            Mode::Json => println!("{value}"),
            _ => self.println(text),
        }
    }

    /// Text for people only (nothing in JSON mode).
    pub fn note(&self, text: &str) {
        if self.mode != Mode::Json {
            self.println(text);
        }
    }

    fn println(&self, text: &str) {
        match &self.bar {
            Some(b) => b.println(text),
            None => println!("{text}"),
        }
    }

    /// Starts the bar for epochs `done+1 ..= epochs` (`label` e.g. "fold 2/5").
    pub fn start(&mut self, done: usize, label: &str) {
        if self.mode != Mode::Bar {
            return;
        }
        let style = ProgressStyle::with_template(
            "{spinner:.green} {prefix}epoch {pos}/{len} [{bar:24.cyan/blue}] {elapsed_precise} (ETA {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(self.epochs as u64), ProgressDrawTarget::stdout())
            .with_style(style)
            .with_prefix(if label.is_empty() { String::new() } else { format!("{label} ") })
            .with_message(format!("training epoch {}…", done + 1));
        bar.set_position(done as u64);
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(bar);
    }

    pub fn epoch(&self, r: &EpochRecord) {
        match self.mode {
            Mode::Json => println!("{}", serde_json::json!({"event": "epoch", "record": r})),
            Mode::Lines => println!("{}", epoch_line(r, self.epochs)),
            Mode::Bar => {
                let Some(b) = &self.bar else { return println!("{}", epoch_line(r, self.epochs)) };
                b.println(epoch_line(r, self.epochs));
                b.set_position(r.epoch as u64);
                let acc = r.train_accuracy.map(|a| format!("  acc {:.2}%", 100.0 * a)).unwrap_or_default();
                let val = r.val_accuracy.map(|a| format!("  val {:.2}%", 100.0 * a)).unwrap_or_default();
                b.set_message(format!("loss {:.4}{acc}{val}  {:.0} samples/s", r.train_loss, r.samples_per_second));
            }
        }
    }

    /// Removes the bar (the epoch lines stay).
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
