//! Subcommands. Each file turns its flags into library calls; no math lives here.

mod bench;
mod check;
mod devices;
mod eval;
mod export;
mod gradcheck;
mod info;
mod predict;
mod progress;
mod sweep;
mod train;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "wgpu-mlp",
    version,
    about = "Train multilayer perceptrons on the GPU (wgpu/WGSL) or the CPU",
    after_help = "Every command takes --json for machine-readable output. `wgpu-mlp COMMAND --help` lists a command's flags and defaults."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// how the GPU engine picks matmul kernels: auto (remembered, or measured once and
    /// remembered), force (measure again), off (the hand-picked ones) [default: auto, or
    /// WGPU_MLP_TUNE]; choices are kept in WGPU_MLP_TUNE_CACHE or the user's cache directory
    #[arg(long, global = true, value_enum)]
    pub tune: Option<wgpu_mlp::gpu::tune::Tune>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a network (default: 784-64-10 ReLU on the bundled MNIST digits) into a run directory
    Train(Box<train::TrainArgs>),
    /// Training throughput of the configurations A, B, C per engine (samples/s, GFLOP/s, memory)
    Bench(Box<bench::BenchArgs>),
    /// Run N steps on the GPU and CPU engines from one initialisation and compare every tensor
    Check(Box<check::CheckArgs>),
    /// List the GPU adapters wgpu finds
    Devices(devices::DevicesArgs),
    /// Evaluate a model: loss, accuracy, per-class precision/recall and a confusion matrix
    Eval(eval::EvalArgs),
    /// Write a model's weights for PyTorch: nn.Sequential's keys (0.weight, 0.bias, 2.weight, ...)
    Export(export::ExportArgs),
    /// Predict the class of images (PNG/PGM; fitted to 28x28 as MNIST) or of CSV rows
    Predict(predict::PredictArgs),
    /// Layers, parameters, FLOPs and the memory a run needs, before anything runs
    Info(info::InfoArgs),
    /// Check analytic gradients against central differences (f64) on a small random network
    Gradcheck(gradcheck::GradcheckArgs),
    /// Sweeps from a sweep file: `plan` lists its trials, `run` runs one (a job array's task), `collect` tables their scores
    Sweep(sweep::SweepArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(t) = cli.tune {
        wgpu_mlp::gpu::tune::set_mode(t);
        // bench's and sweep's child processes take the same mode
        std::env::set_var(wgpu_mlp::gpu::tune::MODE_ENV, t.to_string());
    }
    match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Export(args) => export::run(args),
        Command::Info(args) => info::run(args),
        Command::Gradcheck(args) => gradcheck::run(args),
        Command::Bench(args) => bench::run(*args),
        Command::Check(args) => check::run(*args),
        Command::Devices(args) => devices::run(args),
        Command::Sweep(args) => sweep::run(args),
    }
}

/// The network a PyTorch state dict is read as, from train's network flags (None when none is
/// given); `command` takes only --layers, --activation and --loss of them.
fn network_flags(n: &wgpu_mlp::config::ModelArgs, command: &str) -> anyhow::Result<Option<wgpu_mlp::model::NetworkSpec>> {
    let unused = [
        (n.label_smoothing.is_some(), "label-smoothing"),
        (n.class_weight.is_some(), "class-weight"),
        (n.init.is_some(), "init"),
        (n.init_from.is_some(), "init-from"),
        // the sizes of a state dict are given whole; a model's standardization is in its file
        (n.hidden.is_some(), "hidden"),
        (n.standardize.is_some(), "standardize"),
    ];
    if let Some((_, flag)) = unused.iter().find(|u| u.0) {
        anyhow::bail!("--{flag}: {command} takes only the network's --layers, --activation and --loss");
    }
    if n.layers.is_none() && n.activation.is_none() && n.loss.is_none() {
        return Ok(None);
    }
    let mut cfg = wgpu_mlp::config::TrainConfig::default();
    n.apply_to(&mut cfg.model);
    Ok(Some(cfg.spec()?))
}

/// Whether `--{name}` is a flag of some command, read from clap's definitions, so every option
/// (defined once in the library's config sections) maps its errors back to its flag.
fn is_flag(name: &str) -> bool {
    fn walk(c: &clap::Command, name: &str) -> bool {
        c.get_arguments().any(|a| a.get_long() == Some(name)) || c.get_subcommands().any(|s| walk(s, name))
    }
    walk(&Cli::command(), name)
}

/// One line for the user: the flag (or file) first, then what is wrong.
pub fn error_line(e: &anyhow::Error) -> String {
    use wgpu_mlp::Error;
    let text = match e.downcast_ref::<Error>() {
        Some(Error::Config { what, msg }) => {
            // config keys are snake_case, flags kebab-case; the data layer says "validation"/"folds"
            let flag = match what.as_str() {
                "validation" => "val".to_string(),
                "folds" => "kfold".to_string(),
                w => w.replace('_', "-"),
            };
            if is_flag(&flag) { format!("--{flag}: {msg}") } else { format!("{what}: {msg}") }
        }
        Some(Error::Diverged { kept: Some(k), .. }) => {
            format!("{e}; try a lower --lr (the run directory keeps epochs 1-{k} and their checkpoint)")
        }
        Some(Error::Diverged { .. }) => format!("{e}; try a lower --lr"),
        // library errors already carry their cause in their message; `{:#}` would repeat it
        Some(lib) => lib.to_string(),
        None => format!("{e:#}"),
    };
    // whatever the source, exactly one line, and a bounded one (loaders cut the values they
    // quote; this is the last guard for a message that still grew long)
    let line = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    match line.char_indices().nth(MAX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes in all)", &line[..cut], line.len()),
        None => line,
    }
}

/// Longest error line printed, in characters.
const MAX_ERROR_CHARS: usize = 600;

/// A clap usage error as one line: its first paragraph, lines joined.
pub fn clap_error_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let first: Vec<&str> = rendered.split("\n\n").next().unwrap_or("").lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let line = first.join(" ");
    let line = line.strip_prefix("error: ").unwrap_or(&line).to_string();
    line
}
