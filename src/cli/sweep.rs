//! `wgpu-mlp sweep plan|run|collect`: a sweep file's trials listed, one trial run (its index from
//! --trial or the scheduler), and the trials' scores collected into one table.

use super::progress::Printer;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use wgpu_mlp::config::{DeviceChoice, EngineArgs};
use wgpu_mlp::run::RunOptions;
use wgpu_mlp::sweep::collect::{write_results, Results, Score};
use wgpu_mlp::sweep::run::{run_trial, trial_index, TrialOutcome};
use wgpu_mlp::sweep::{trial_dir_name, SweepPlan};

#[derive(Args, Debug)]
#[command(after_help = "A sweep file is TOML: `out` (trial directories, relative to the file), `folds` (k-fold per trial; 0: one hold-out split), \
[base] (the settings `train --config` reads, or base = \"FILE\"), [grid] (lists, every combination) and [random] (trials, seed and draws: \
choice, uniform, log_uniform, int_uniform). See the README's Sweeps section.")]
pub struct SweepArgs {
    #[command(subcommand)]
    command: SweepCommand,
}

#[derive(Subcommand, Debug)]
enum SweepCommand {
    /// List every trial of a sweep file with its index and settings (validates the whole file; writes nothing)
    Plan {
        /// the sweep file
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Run one trial into OUT/trial-NNNN: a finished one is skipped, an interrupted one resumed (--device overrides the sweep file's device)
    Run {
        /// the sweep file
        file: PathBuf,
        /// the trial's index [default: $SLURM_ARRAY_TASK_ID, else $JOB_COMPLETION_INDEX, else $TRIAL_INDEX]
        #[arg(long, value_name = "N")]
        trial: Option<usize>,
        /// the device, over the sweep file's own (a resumed trial may change it)
        #[command(flatten)]
        engine: EngineArgs,
        /// machine-readable output: JSON lines
        #[arg(long)]
        json: bool,
    },
    /// Write DIR/results.csv and DIR/results.json: every trial's settings and scores, best first
    Collect {
        /// the sweep's output directory (its `out`)
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(a: SweepArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        SweepCommand::Plan { file, json } => plan(&file, json),
        SweepCommand::Run { file, trial, engine, json } => run_one(&file, trial, engine.device, json),
        SweepCommand::Collect { dir, json } => collect(&dir, json),
    }
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn plan(file: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let p = SweepPlan::load(file)?;
    if json {
        let trials: Vec<serde_json::Value> = p
            .trials
            .iter()
            .map(|t| serde_json::json!({"trial": t.index, "dir": p.out.join(trial_dir_name(t.index)), "settings": t.settings, "config": t.config}))
            .collect();
        println!("{}", serde_json::json!({"file": p.file, "out": p.out, "folds": p.folds, "metric": p.metric, "trials": trials}));
        return Ok(ExitCode::SUCCESS);
    }
    let folds = if p.folds >= 2 { format!("{}-fold cross-validation", p.folds) } else { "one hold-out split".into() };
    println!("{} trials of {} ({folds} each, ranked by {}) into {}", p.trials.len(), p.file.display(), p.metric, p.out.display());
    let keys: Vec<String> = p.trials.first().map(|t| t.settings.keys().cloned().collect()).unwrap_or_default();
    let rows: Vec<Vec<String>> = p
        .trials
        .iter()
        .map(|t| std::iter::once(t.index.to_string()).chain(keys.iter().map(|k| t.settings.get(k).map(cell).unwrap_or_default())).collect())
        .collect();
    let header: Vec<String> = std::iter::once("trial".to_string()).chain(keys.iter().cloned()).collect();
    print_table(&header, &rows);
    println!("run each with: wgpu-mlp sweep run {} --trial N (or a job array over 0-{})", file.display(), p.trials.len().saturating_sub(1));
    Ok(ExitCode::SUCCESS)
}

fn print_table(header: &[String], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).chain([header[c].chars().count()]).max().unwrap_or(0)).collect();
    let line = |r: &[String]| r.iter().zip(&widths).map(|(s, w)| format!("{s:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string();
    println!("{}", line(header));
    for r in rows {
        println!("{}", line(r));
    }
}

fn run_one(file: &std::path::Path, trial: Option<usize>, device: Option<DeviceChoice>, json: bool) -> anyhow::Result<ExitCode> {
    let p = SweepPlan::load(file)?;
    let (index, from) = trial_index(trial, p.trials.len())?;
    let first = if p.folds >= 2 {
        "stopping after this epoch; the trial's k-fold run is not finished and starts again when run again"
    } else {
        "stopping after this epoch and saving a checkpoint (run the same command to continue the trial)"
    };
    let (stop, quit) = super::train::on_ctrl_c(first);
    let opts = RunOptions { resume: false, stop: Some(stop), quit: Some(quit) };
    let outcome = run_trial(&p, index, device, &opts, &mut Printer::new(json))?;
    let json = json || !std::io::IsTerminal::is_terminal(&std::io::stdout());
    match outcome {
        TrialOutcome::Skipped { dir } => {
            if json {
                println!("{}", serde_json::json!({"event": "trial", "trial": index, "from": from, "status": "skipped", "dir": dir}));
            } else {
                println!("trial {index} ({from}) finished already in {}: skipped", dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        TrialOutcome::Ran { how, summary } => {
            let status = if summary.interrupted { "interrupted" } else { "finished" };
            if json {
                println!("{}", serde_json::json!({"event": "trial", "trial": index, "from": from, "status": status, "how": how, "dir": summary.out_dir}));
            } else {
                println!("trial {index} ({from}) {how} and {status}: {}", summary.out_dir.display());
            }
            Ok(if summary.interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS })
        }
    }
}

fn show(s: Score, accuracy: bool) -> String {
    let f = |v: f64| if accuracy { format!("{:.2}%", 100.0 * v) } else { format!("{v:.4}") };
    match (s.mean, s.std) {
        (Some(m), Some(sd)) => format!("{} ± {}", f(m), f(sd)),
        (Some(m), None) => f(m),
        _ => "-".into(),
    }
}

fn collect(dir: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    let r: Results = write_results(dir)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    let acc = r.metric == "val_accuracy";
    let keys: Vec<String> = r.trials.first().map(|t| t.settings.keys().cloned().collect()).unwrap_or_default();
    let metric = if acc { "val accuracy" } else { "val loss" };
    let mut header: Vec<String> = ["trial", "status", metric, "test"].map(String::from).to_vec();
    header.extend(keys.iter().cloned());
    let rows: Vec<Vec<String>> = r
        .trials
        .iter()
        .map(|t| {
            let (v, test) = if acc { (t.val_accuracy, t.test_accuracy) } else { (t.val_loss, t.test_loss) };
            let mut row = vec![t.trial.to_string(), t.status.clone(), show(v, acc), show(test, acc)];
            row.extend(keys.iter().map(|k| t.settings.get(k).map(cell).unwrap_or_default()));
            row
        })
        .collect();
    print_table(&header, &rows);
    match r.best {
        Some(b) => println!("best: trial {b} ({})", dir.join(trial_dir_name(b)).display()),
        None => println!("no trial has finished yet"),
    }
    println!("wrote {} and {}", dir.join("results.csv").display(), dir.join("results.json").display());
    Ok(ExitCode::SUCCESS)
}
