//! `wgpu-mlp train`: flags (over an optional TOML config) -> TrainConfig -> a run directory.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use wgpu_mlp::config::{DeviceChoice, TrainConfig};
use wgpu_mlp::data::Augment;
use wgpu_mlp::model::{Activation, Init, Loss};
use wgpu_mlp::optim::{LrSchedule, OptimizerKind};
use wgpu_mlp::run::RunOptions;

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
    /// start from the weights of this model file (same architecture) instead of --init
    #[arg(long, value_name = "MODEL")]
    pub init_from: Option<PathBuf>,
    /// layer sizes, input first [default: 784,64,10]
    #[arg(long, value_delimiter = ',')]
    pub layers: Option<Vec<usize>>,
    /// hidden activation, or one per hidden layer: identity, relu, leaky_relu[:slope], tanh, sigmoid [default: relu]
    #[arg(long, value_delimiter = ',')]
    pub activation: Option<Vec<Activation>>,
    /// softmax_xent, bce, mse or cosine [default: softmax_xent]
    #[arg(long)]
    pub loss: Option<Loss>,
    /// gaussian[:std], xavier_normal, xavier_uniform, he_normal, he_uniform [default: he_normal]
    #[arg(long)]
    pub init: Option<Init>,
    /// sgd, momentum, nesterov, rmsprop, adam, adamw [default: momentum]
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// learning rate, > 0 [default: 0.05]
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// momentum μ in [0, 1) for momentum/nesterov (and rmsprop) [default: 0.9; rmsprop 0]
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// Nesterov look-ahead for rmsprop with momentum [default: off]
    #[arg(long)]
    pub nesterov: bool,
    /// RMSprop decay ρ in [0, 1) [default: 0.99]
    #[arg(long, allow_negative_numbers = true)]
    pub rho: Option<f64>,
    /// Adam β1 in [0, 1) [default: 0.9]
    #[arg(long, allow_negative_numbers = true)]
    pub beta1: Option<f64>,
    /// Adam β2 in [0, 1) [default: 0.999]
    #[arg(long, allow_negative_numbers = true)]
    pub beta2: Option<f64>,
    /// Adam/RMSprop ε > 0 [default: 1e-8]
    #[arg(long, allow_negative_numbers = true)]
    pub eps: Option<f64>,
    /// decoupled weight decay, w *= 1 − lr·wd each step, weights only [default: 0; adamw 0.01]
    #[arg(long, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// L2 strength λ (adds ½λ‖W‖²), one value or one per layer [default: 0]
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub l2: Option<Vec<f64>>,
    /// L1 strength β (adds β‖W‖₁), one value or one per layer [default: 0]
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub l1: Option<Vec<f64>>,
    /// apply L1 by proximal soft-thresholding (exact zeros) instead of the subgradient [default: off]
    #[arg(long)]
    pub l1_proximal: bool,
    /// keep probability in (0, 1]: one value for every hidden layer, or one per layer input (input first) [default: no dropout]
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub dropout: Option<Vec<f32>>,
    /// random image transforms per training batch, e.g. shift=2,noise=0.05,hflip,rotate=10
    /// (shift ±pixels, Gaussian noise std, left-right flip with probability ½, rotation ±degrees) [default: none]
    #[arg(long)]
    pub augment: Option<Augment>,
    /// minibatch size, >= 1 [default: 100]
    #[arg(long)]
    pub batch: Option<usize>,
    /// epochs, >= 1 (with --resume: the total to reach) [default: 10]
    #[arg(long)]
    pub epochs: Option<usize>,
    /// constant, exp:GAMMA, step:EVERY:GAMMA, cosine[:MIN_LR] [default: exp:0.95]
    #[arg(long)]
    pub lr_schedule: Option<LrSchedule>,
    /// seed for initialisation, shuffling, dropout and splits [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
    /// auto (hardware GPU, else CPU), gpu (any adapter, software included), cpu [default: auto]
    #[arg(long)]
    pub device: Option<DeviceChoice>,
    /// visit the training samples in the same fixed order every epoch [default: a seeded shuffle per epoch]
    #[arg(long)]
    pub no_shuffle: bool,
    /// stop after this many epochs without validation improvement; the best weights are restored [default: off]
    #[arg(long, value_name = "PATIENCE")]
    pub early_stop: Option<usize>,
    /// smallest validation improvement (accuracy, or loss for regression) that counts for --early-stop [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub min_delta: Option<f64>,
    /// directory with MNIST-format IDX files (train-*/t10k-*, gzipped or not) [default: the bundled 10,000 MNIST digits]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// CSV file with a header row (tabular data); needs --target
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// target column of --csv (name or 0-based index)
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    /// validation samples held out of the training data [default: 10%; without a test file as many again are held out for testing]
    #[arg(long)]
    pub val: Option<usize>,
    /// validation fraction of the training data, in (0, 1) [default: 0.1]
    #[arg(long, allow_negative_numbers = true)]
    pub val_frac: Option<f64>,
    /// K-fold cross-validation (K >= 2) on the training data instead of a single split; writes kfold.json [default: off]
    #[arg(long, value_name = "K")]
    pub kfold: Option<usize>,
    /// run directory; must be new or empty [default: runs/run-N, the first unused N]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// machine-readable output: JSON lines per epoch and a JSON summary (also whenever stdout is not a terminal)
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    /// Flags over the --config file (or the resumed run's config.toml) over the defaults.
    pub fn to_config(&self) -> wgpu_mlp::Result<TrainConfig> {
        let mut c = match (&self.config, &self.resume) {
            (Some(p), _) => TrainConfig::from_toml_file(p)?,
            (None, Some(dir)) => {
                let p = dir.join("config.toml");
                if !dir.is_dir() {
                    return Err(wgpu_mlp::Error::bad_file(dir, "no such run directory"));
                }
                if !p.is_file() {
                    return Err(wgpu_mlp::Error::bad_file(dir, "not a run directory: no config.toml"));
                }
                TrainConfig::from_toml_file(&p)?
            }
            (None, None) => TrainConfig::default(),
        };
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { c.$f = v.clone(); } )* };
        }
        set!(layers, activation, loss, init, optimizer, lr, rho, beta1, beta2, eps, weight_decay, l2, l1, dropout,
             batch, epochs, lr_schedule, seed, device, min_delta);
        macro_rules! set_opt {
            ($($f:ident),*) => { $( if self.$f.is_some() { c.$f = self.$f.clone(); } )* };
        }
        set_opt!(momentum, augment, early_stop, data, csv, target, val, val_frac, kfold, out, init_from);
        c.nesterov |= self.nesterov;
        c.l1_proximal |= self.l1_proximal;
        if self.no_shuffle {
            c.shuffle = false;
        }
        if let Some(dir) = &self.resume {
            if self.out.as_ref().is_some_and(|o| o != dir) {
                return Err(wgpu_mlp::Error::config("out", "a resumed run stays in its directory; drop --out or make it the --resume DIR"));
            }
            c.out = Some(dir.clone());
        }
        c.validate()?;
        Ok(c)
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let config = args.to_config()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // First Ctrl-C: finish the epoch, checkpoint, exit cleanly. Second: quit at once.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: quitting without finishing the epoch (the last checkpoint stays)");
            std::process::exit(130);
        }
        eprintln!("\nCtrl-C: stopping after this epoch and saving a checkpoint (Ctrl-C again to quit now)");
    });
    let opts = RunOptions { json: args.json, resume: args.resume.is_some(), stop: Some(stop) };
    let summary = wgpu_mlp::run::train_run_with(&config, &opts)?;
    Ok(if summary.interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS })
}
