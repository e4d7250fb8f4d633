//! `wgpu-mlp info`: a network's layers, parameters, FLOPs and a run's memory, before anything runs.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use wgpu_mlp::config::{ConfigArgs, Origin, TrainConfig};
use wgpu_mlp::report::cost::{human_bytes, human_flops};
use wgpu_mlp::run::{from_metadata, open_model, run_cost};

/// train's own flags (one definition, in src/config/sections.rs), over a model's or a config
/// file's settings: `info` describes the run that `train` with the same flags would make.
#[derive(Args, Debug)]
#[command(after_help = "Takes every flag train takes and describes the run it would make; with --model, the model's own \
settings are the base that flags override. Memory counts f32 parameters, gradients, optimizer slots (momentum 1, \
adam/rmsprop 2), a batch's forward outputs, backward deltas and dropout copies, and the training split kept resident \
(u8 pixels or f32 columns plus targets). FLOPs count matrix multiplies only (2 per multiply-add).")]
pub struct InfoArgs {
    /// describe this model file (its network and the data it was trained on)
    #[arg(long, value_name = "PATH", conflicts_with = "config")]
    model: Option<PathBuf>,
    /// TOML file with train's settings (a run's config.toml works); flags override it
    #[arg(long)]
    config: Option<PathBuf>,
    /// the settings of the run to describe, as for train
    #[command(flatten)]
    settings: ConfigArgs,
    /// print one JSON object
    #[arg(long)]
    json: bool,
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn run(a: InfoArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = match (&a.model, &a.config) {
        (Some(p), _) => open_model(p)?.config(),
        (None, Some(p)) => TrainConfig::from_toml_file(p, Origin::User)?,
        (None, None) => TrainConfig::default(),
    };
    let data = a.settings.data.over(&cfg.data)?;
    a.settings.apply_to(&mut cfg);
    cfg.data = data;
    // the whole of train's validation: info describes only a run that train would start
    let cfg = wgpu_mlp::run::resolve_hidden(&cfg)?;
    cfg.validate()?;
    let given = a.settings.data.data.is_some() || a.settings.data.csv.is_some();
    let (cost, data) = run_cost(&cfg).map_err(|e| match &a.model {
        Some(m) if !given => from_metadata(e, m),
        _ => e,
    })?;
    if a.json {
        println!("{}", serde_json::json!({"cost": cost, "data": data, "optimizer": cfg.optim.optimizer.to_string()}));
        return Ok(ExitCode::SUCCESS);
    }
    println!("network: {}", cost.network);
    println!("{:>5}  {:>13}  {:<16}  {:>12}  {:>14}", "layer", "shape", "activation", "parameters", "forward FLOPs");
    for l in &cost.layers {
        println!(
            "{:>5}  {:>13}  {:<16}  {:>12}  {:>14}",
            l.layer,
            format!("{} -> {}", l.inputs, l.outputs),
            l.activation,
            thousands(l.params as u64),
            thousands(l.forward_flops)
        );
    }
    println!("parameters: {}", thousands(cost.params as u64));
    let b = cost.batch as u64;
    println!(
        "FLOPs per sample: forward {}, training step {} (forward + backward); per batch of {b}: {} / {}",
        human_flops(cost.forward_flops_per_sample),
        human_flops(cost.train_flops_per_sample),
        human_flops(cost.forward_flops_per_sample * b),
        human_flops(cost.train_flops_per_sample * b)
    );
    let m = &cost.memory;
    println!("memory of a training run (batch {b}, optimizer {} with {} slot(s), f32):", cfg.optim.optimizer, cost.optimizer_slots);
    println!("  parameters        {:>12}", human_bytes(m.parameters));
    println!("  gradients         {:>12}", human_bytes(m.gradients));
    println!("  optimizer slots   {:>12}", human_bytes(m.optimizer_slots));
    println!("  activations       {:>12}  (one batch: forward outputs, backward deltas, dropout copies)", human_bytes(m.activations));
    println!("  resident dataset  {:>12}  ({data})", human_bytes(m.dataset));
    println!("  total             {:>12}", human_bytes(m.total));
    Ok(ExitCode::SUCCESS)
}
