//! `wgpu-mlp train`: flags (over an optional TOML config) -> TrainConfig -> a run directory.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use wgpu_mlp::config::{DeviceChoice, TrainConfig};
use wgpu_mlp::data::Augment;
use wgpu_mlp::model::{Activation, Init, Loss};
use wgpu_mlp::optim::{LrSchedule, OptimizerKind};

/// Every flag is optional: unset flags keep the value from --config, or the default shown.
#[derive(Args, Debug, Default)]
pub struct TrainArgs {
    /// TOML file with any of these settings (flags override it); a run's config.toml works
    #[arg(long)]
    pub config: Option<PathBuf>,
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
    /// learning rate [default: 0.05]
    #[arg(long)]
    pub lr: Option<f64>,
    /// momentum μ for momentum/nesterov (and rmsprop) [default: 0.9; rmsprop 0]
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Nesterov look-ahead for rmsprop with momentum
    #[arg(long)]
    pub nesterov: bool,
    /// RMSprop decay ρ [default: 0.99]
    #[arg(long)]
    pub rho: Option<f64>,
    /// Adam β1 [default: 0.9]
    #[arg(long)]
    pub beta1: Option<f64>,
    /// Adam β2 [default: 0.999]
    #[arg(long)]
    pub beta2: Option<f64>,
    /// Adam/RMSprop ε [default: 1e-8]
    #[arg(long)]
    pub eps: Option<f64>,
    /// decoupled weight decay, w *= 1 − lr·wd each step, weights only [default: 0; adamw 0.01]
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// L2 strength λ (adds ½λ‖W‖²), one value or one per layer [default: 0]
    #[arg(long, value_delimiter = ',')]
    pub l2: Option<Vec<f64>>,
    /// L1 strength β (adds β‖W‖₁), one value or one per layer [default: 0]
    #[arg(long, value_delimiter = ',')]
    pub l1: Option<Vec<f64>>,
    /// apply L1 by proximal soft-thresholding (exact zeros) instead of the subgradient
    #[arg(long)]
    pub l1_proximal: bool,
    /// keep probability: one value for every hidden layer, or one per layer input (input first) [default: no dropout]
    #[arg(long, value_delimiter = ',')]
    pub dropout: Option<Vec<f32>>,
    /// random image transforms per training batch, e.g. shift=2,noise=0.05,hflip,rotate=10
    /// (shift ±pixels, Gaussian noise std, left-right flip with probability ½, rotation ±degrees) [default: none]
    #[arg(long)]
    pub augment: Option<Augment>,
    /// minibatch size [default: 100]
    #[arg(long)]
    pub batch: Option<usize>,
    /// epochs [default: 10]
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
    /// keep the data order fixed
    #[arg(long)]
    pub no_shuffle: bool,
    /// stop after this many epochs without validation improvement (best weights are restored)
    #[arg(long)]
    pub early_stop: Option<usize>,
    /// smallest validation improvement that counts [default: 0]
    #[arg(long)]
    pub min_delta: Option<f64>,
    /// directory with the four MNIST-format IDX files (gzipped or not) [default: bundled digits]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// CSV file with a header row (tabular data); needs --target
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// target column of --csv (name or 0-based index)
    #[arg(long)]
    pub target: Option<String>,
    /// validation samples taken from the training data
    #[arg(long)]
    pub val: Option<usize>,
    /// validation fraction of the training data
    #[arg(long)]
    pub val_frac: Option<f64>,
    /// k-fold cross-validation instead of a single split
    #[arg(long)]
    pub kfold: Option<usize>,
    /// run directory [default: runs/run-N, the first unused N]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// machine-readable output: JSON lines per epoch and a JSON summary
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    /// Flags over the --config file over the defaults.
    pub fn to_config(&self) -> wgpu_mlp::Result<TrainConfig> {
        let mut c = match &self.config {
            Some(p) => TrainConfig::from_toml_file(p)?,
            None => TrainConfig::default(),
        };
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { c.$f = v.clone(); } )* };
        }
        set!(layers, activation, loss, init, optimizer, lr, rho, beta1, beta2, eps, weight_decay, l2, l1, dropout,
             batch, epochs, lr_schedule, seed, device, min_delta);
        macro_rules! set_opt {
            ($($f:ident),*) => { $( if self.$f.is_some() { c.$f = self.$f.clone(); } )* };
        }
        set_opt!(momentum, augment, early_stop, data, csv, target, val, val_frac, kfold, out);
        c.nesterov |= self.nesterov;
        c.l1_proximal |= self.l1_proximal;
        if self.no_shuffle {
            c.shuffle = false;
        }
        c.validate()?;
        Ok(c)
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let config = args.to_config()?;
    let summary = wgpu_mlp::run::train_run(&config, args.json)?;
    let _ = summary;
    Ok(ExitCode::SUCCESS)
}
