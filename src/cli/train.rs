//! `wgpu-mlp train`: flags (over an optional TOML config) -> TrainConfig -> a run directory.

use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use super::progress::Printer;
use wgpu_mlp::config::{ConfigArgs, Origin, TrainConfig};
use wgpu_mlp::run::{resume_command, Kept, Quit, QuitHandle, RunOptions};

/// Every flag is optional: unset flags keep the value from --config (or, with --resume, the run's
/// config.toml), else the default shown.
#[derive(Args, Debug, Default)]
#[command(after_help = "Output: a run directory (--out, default runs/run-N) with config.toml, metrics.csv, \
history.json, model.safetensors and checkpoint/ (the full training state after the last completed epoch). \
Ctrl-C finishes the current epoch, saves the checkpoint and prints how to resume. On a terminal progress is a bar; \
piped or with --json it is one JSON object per line.")]
pub struct TrainArgs {
    /// TOML file with any of these settings (flags override it); a run's config.toml works
    #[arg(long, conflicts_with = "resume")]
    pub config: Option<PathBuf>,
    /// continue the interrupted run in DIR from DIR/checkpoint with DIR/config.toml (flags such as --epochs override it)
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// every setting of the run (src/config/sections.rs defines each once)
    #[command(flatten)]
    pub settings: ConfigArgs,
    /// machine-readable output: JSON lines per epoch and a JSON summary (also whenever stdout is not a terminal)
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    /// Flags over the --config file (or the resumed run's config.toml) over the defaults;
    /// `TrainConfig::validate` checks the result.
    pub fn to_config(&self) -> wgpu_mlp::Result<TrainConfig> {
        let mut c = match (&self.config, &self.resume) {
            (Some(p), _) => {
                let mut c = TrainConfig::from_toml_file(p, Origin::User)?;
                // a run's own config.toml names its run directory: reproducing the run writes a new one
                let same = |a: &Path, b: &Path| a.canonicalize().ok().is_some_and(|a| b.canonicalize().ok() == Some(a));
                if c.run.out.as_deref().is_some_and(|o| p.parent().is_some_and(|dir| same(o, if dir.as_os_str().is_empty() { Path::new(".") } else { dir }))) {
                    c.run.out = None;
                }
                c
            }
            (None, Some(dir)) => {
                let p = dir.join("config.toml");
                if !dir.is_dir() {
                    return Err(wgpu_mlp::Error::bad_file(dir, "no such run directory"));
                }
                if !p.is_file() {
                    return Err(wgpu_mlp::Error::bad_file(dir, "not a run directory: no config.toml"));
                }
                TrainConfig::from_toml_file(&p, Origin::Program)?
            }
            (None, None) => TrainConfig::default(),
        };
        self.settings.apply_to(&mut c);
        if let Some(dir) = &self.resume {
            if self.settings.run.out.as_ref().is_some_and(|o| o != dir) {
                return Err(wgpu_mlp::Error::config("out", "a resumed run stays in its directory; drop --out or make it the --resume DIR"));
            }
            c.run.out = Some(dir.clone());
        }
        Ok(c)
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let config = args.to_config()?;
    let first = if config.run.kfold.is_some() {
        "stopping after this epoch; the folds that ended are kept, this one is not scored"
    } else {
        "stopping after this epoch and saving a checkpoint"
    };
    let (stop, quit) = on_ctrl_c(first);
    let opts = RunOptions { resume: args.resume.is_some(), stop: Some(stop), quit: Some(quit) };
    let summary = wgpu_mlp::run::train_run_with(&config, &opts, &mut Printer::new(args.json))?;
    Ok(if summary.interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

/// Installs the run's Ctrl-C handler. First Ctrl-C: says `first`, and the run finishes its epoch,
/// checkpoints and exits cleanly (the returned flag). Second: quits at once, saying what the run
/// directory holds (the handle removes it when nothing resumable was written yet).
pub(super) fn on_ctrl_c(first: &'static str) -> (Arc<AtomicBool>, Arc<QuitHandle>) {
    let stop = Arc::new(AtomicBool::new(false));
    let quit = Arc::new(QuitHandle::default());
    let (flag, handle) = (stop.clone(), quit.clone());
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            handle.quit_with(|q| {
                eprintln!("\ninterrupted again: {}", quit_message(&q));
                std::process::exit(130)
            });
        }
        eprintln!("\nCtrl-C: {first} (Ctrl-C again to quit now)");
    });
    (stop, quit)
}

/// What a second Ctrl-C left, in words that match the disk.
fn quit_message(q: &Quit) -> String {
    match q {
        Quit::NothingWritten => "quitting; nothing was written".into(),
        Quit::Removed { dir, dir_removed: true } => {
            format!("quitting before the first checkpoint; removed {}, which this run created (run the same command to start again)", dir.display())
        }
        Quit::Removed { dir, .. } => {
            format!("quitting before the first checkpoint; removed what this run wrote in {} (run the same command to start again)", dir.display())
        }
        Quit::Kept { dir, kept: Kept::Checkpoint { epoch } } => {
            let which = if *epoch > 0 { format!("the checkpoint of epoch {epoch}") } else { "the checkpoint".into() };
            format!("quitting without finishing the epoch; {which} stays (resume with: {})", resume_command(dir))
        }
        Quit::Kept { dir, kept: Kept::Folds { done } } => {
            format!("quitting; {} keeps the {done} finished fold(s) (k-fold runs cannot be resumed)", dir.join("kfold.json").display())
        }
        Quit::Kept { dir, kept: Kept::Nothing } => format!("quitting; {} stays", dir.display()),
        Quit::Kept { dir, kept: Kept::Config } => {
            format!("quitting before the first checkpoint; {} keeps its config.toml (start it again with: {})", dir.display(), resume_command(dir))
        }
    }
}
