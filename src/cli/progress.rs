//! How `train` shows a run's events: JSON lines for machines and pipes, plain lines when asked
//! for no bar, and on a terminal an indicatif bar over the epochs that shows elapsed time, ETA,
//! throughput, loss and accuracy (engines train whole epochs, so it advances once per epoch; a
//! steady tick keeps the spinner and clock moving inside one).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;
use wgpu_mlp::run::{fold_model_name, resume_command, Event, Reporter, RunStart, RunSummary, CHECKPOINT_DIR};
use wgpu_mlp::train::EpochRecord;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // Lines: plain epoch lines without a bar, for callers that want them
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

/// 45.1k, 1.20M, 512: a rate in three significant figures.
fn si(v: f64) -> String {
    let (x, unit) = [(1e9, "G"), (1e6, "M"), (1e3, "k")].into_iter().find(|(s, _)| v >= *s).map_or((v, ""), |(s, u)| (v / s, u));
    let digits = if unit.is_empty() || x >= 100.0 { 0 } else if x >= 10.0 { 1 } else { 2 };
    format!("{x:.digits$}{unit}")
}

/// A loss in 6 columns: 0.2345, 12.345, 1.2e+05.
fn loss6(v: f64) -> String {
    if v.is_finite() && v.abs() < 100.0 { format!("{v:.4}") } else { format!("{v:.1e}") }
}

/// One human line per epoch (kept in the scrollback above the bar), within 80 columns up to
/// 9,999 epochs: train loss and accuracy, validation loss and accuracy, samples per second.
pub fn epoch_line(r: &EpochRecord, epochs: usize) -> String {
    let acc = |a: Option<f64>| a.map(|_| format!(" {}", pct(a).trim_start())).unwrap_or_default();
    let val = r.val_loss.map(|v| format!("  val {}{}", loss6(v), acc(r.val_accuracy))).unwrap_or_default();
    format!(
        "epoch {:>3}/{}  lr {:.1e}  train {}{}{val}  {}/s",
        r.epoch, epochs, r.lr, loss6(r.train_loss), acc(r.train_accuracy), si(r.samples_per_second)
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

/// Prints a run's events as `train` shows them: a start block, the epochs (bar, lines or JSON),
/// each fold's score, and the final table or JSON summary.
pub struct Printer {
    progress: Progress,
}

impl Printer {
    pub fn new(json: bool) -> Self {
        Printer { progress: Progress::new(json, 0) }
    }

    fn start(&mut self, s: &RunStart) {
        self.progress.epochs = s.epochs;
        let (text, value) = match s.kfold {
            Some(k) => (
                format!("data: {}\nnetwork: {}\ndevice: {}\nrun directory: {}", s.protocol, s.network, s.device, s.out_dir.display()),
                serde_json::json!({"event": "start", "data": s.protocol, "network": s.network, "device": s.device, "out_dir": s.out_dir, "kfold": k}),
            ),
            None => {
                let from = if s.resumed_at > 0 { format!("\nresuming after epoch {} of {}", s.resumed_at, s.epochs) } else { String::new() };
                (
                    format!("data: {} ({})\nnetwork: {}\ndevice: {}\nrun directory: {}{from}", s.source, s.protocol, s.network, s.device, s.out_dir.display()),
                    serde_json::json!({"event": "start", "data": s.protocol, "source": s.source, "network": s.network,
                        "device": s.device, "out_dir": s.out_dir, "resumed_at": s.resumed_at}),
                )
            }
        };
        self.progress.say(&text, value);
        for n in &s.notes {
            self.progress.say(&format!("note: {n}"), serde_json::json!({"event": "note", "note": n}));
        }
    }

    fn done(&self, s: &RunSummary) {
        if let Some(rep) = &s.kfold {
            if self.progress.json() {
                println!("{}", serde_json::json!({"event": "done", "summary": s}));
                return;
            }
            let classification = rep.metric == "accuracy";
            println!(
                "\n{}-fold cross-validation{}: validation {} {} ± {} (mean ± std over {} folds)",
                rep.k,
                if s.interrupted { " (interrupted; k-fold runs cannot be resumed)" } else { "" },
                rep.metric,
                fmt_metric(rep.mean, classification),
                fmt_metric(rep.std, classification),
                rep.folds.len(),
            );
            match &rep.ensemble_test {
                Some(e) => {
                    let of = if e.models < rep.k { format!("{} of {} fold models, the folds that ran", e.models, rep.k) } else { format!("{} fold models", e.models) };
                    let acc = e.accuracy.map(|a| format!(" accuracy {},", fmt_metric(a, true))).unwrap_or_default();
                    println!("ensemble of {of} (mean probabilities) on {} held-out test samples:{acc} loss {:.4}", e.samples, e.loss);
                }
                None => println!("{}", rep.note.as_deref().unwrap_or("no test split")),
            }
            println!("run directory: {} (kfold.json, {})", s.out_dir.display(), if rep.folds.len() == 1 { fold_model_name(1) } else { format!("{} … {}", fold_model_name(1), fold_model_name(rep.folds.len())) });
            return;
        }
        if self.progress.json() {
            let resume = s.interrupted.then(|| resume_command(&s.out_dir));
            println!("{}", serde_json::json!({"event": "done", "summary": s, "resume_command": resume}));
            return;
        }
        let h = &s.history;
        let why = if h.stopped_early { " (stopped early)" } else if s.interrupted { " (interrupted)" } else { "" };
        println!("\nbest epoch {} of {}{why}", h.best_epoch, h.epochs.len());
        println!("{:<12} {:>8} {:>10} {:>10}", "split", "samples", "loss", "accuracy");
        for sc in &s.scores {
            let acc = sc.accuracy.map(|a| format!("{:.2}%", 100.0 * a)).unwrap_or_else(|| "-".into());
            println!("{:<12} {:>8} {:>10.4} {:>10}", sc.split, sc.samples, sc.loss, acc);
        }
        println!("run directory: {}", s.out_dir.display());
        if s.interrupted {
            println!(
                "interrupted after epoch {}: the checkpoint is in {}; resume with: {}",
                h.epochs.len(),
                s.out_dir.join(CHECKPOINT_DIR).display(),
                resume_command(&s.out_dir)
            );
        }
    }
}

fn fmt_metric(v: f64, classification: bool) -> String {
    if classification { format!("{:.2}%", 100.0 * v) } else { format!("{v:.4}") }
}

impl Reporter for Printer {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Start(s) => self.start(s),
            Event::Notes(notes) => {
                for n in notes {
                    self.progress.say(&format!("note: {n}"), serde_json::json!({"event": "note", "note": n}));
                }
            }
            Event::FoldStart { fold, k, train, val } => self.progress.note(&format!("fold {fold}/{k}: {train} train / {val} validation")),
            Event::TrainingStart { done, label } => self.progress.start(done, label),
            Event::Epoch(r) => self.progress.epoch(r),
            Event::TrainingEnd => self.progress.finish(),
            Event::FoldEnd { score: fs, k, classification } => {
                let v = if classification { fs.val_accuracy.unwrap_or(f64::NAN) } else { fs.val_loss };
                let test = match (fs.test_accuracy, fs.test_loss) {
                    (Some(a), _) if classification => format!("; test {}", fmt_metric(a, true)),
                    (_, Some(l)) => format!("; test loss {l:.4}"),
                    _ => String::new(),
                };
                self.progress.say(
                    &format!(
                        "fold {}/{k}: validation {} {} (loss {:.4}, best epoch {} of {}){test}; {}",
                        fs.fold,
                        if classification { "accuracy" } else { "loss" },
                        fmt_metric(v, classification),
                        fs.val_loss,
                        fs.best_epoch,
                        fs.epochs_run,
                        fs.model
                    ),
                    serde_json::json!({"event": "fold", "fold": fs}),
                );
            }
            Event::Done(s) => self.done(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, lr: f64, loss: f64, acc: Option<f64>, val: Option<(f64, Option<f64>)>, rate: f64) -> EpochRecord {
        EpochRecord {
            epoch, lr, train_loss: loss, train_accuracy: acc, val_loss: val.map(|v| v.0), val_accuracy: val.and_then(|v| v.1),
            grad_norms: vec![], dead_fraction: vec![], saturated_fraction: vec![], seconds: 1.0, samples_per_second: rate,
        }
    }

    /// An epoch line fits an 80-column terminal, widest values included, and keeps its numbers.
    #[test]
    fn epoch_lines_fit_80_columns() {
        let lines = [
            epoch_line(&record(9999, 1.2345e-10, 123456.0, Some(1.0), Some((f64::NAN, Some(0.1234))), 9.99e9), 9999),
            epoch_line(&record(3, 0.045, 0.2345, Some(0.9321), Some((0.2411, Some(0.928))), 45123.0), 10),
            epoch_line(&record(1, 0.05, 0.5, None, None, 12.0), 1),
        ];
        for l in &lines {
            assert!(l.chars().count() <= 80, "{} columns: {l}", l.chars().count());
        }
        assert_eq!(lines[1], "epoch   3/10  lr 4.5e-2  train 0.2345 93.21%  val 0.2411 92.80%  45.1k/s");
    }
}
