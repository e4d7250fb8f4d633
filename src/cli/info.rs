//! `wgpu-mlp info`: a network's layers, parameters, FLOPs and a run's memory, before anything runs.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use wgpu_mlp::config::{DataArgs, TrainConfig};
use wgpu_mlp::model::{Activation, Loss};
use wgpu_mlp::optim::OptimizerKind;
use wgpu_mlp::report::cost::{human_bytes, human_flops};
use wgpu_mlp::run::{open_model, run_cost};

#[derive(Args, Debug)]
#[command(after_help = "Memory counts f32 parameters, gradients, optimizer slots (momentum 1, adam/rmsprop 2), a batch's \
forward outputs, backward deltas and dropout copies, and the training split kept resident (u8 pixels or f32 columns \
plus targets). FLOPs count matrix multiplies only (2 per multiply-add).")]
pub struct InfoArgs {
    /// describe this model file (its network and the data it was trained on)
    #[arg(long, value_name = "PATH", conflicts_with = "layers", required_unless_present = "layers")]
    model: Option<PathBuf>,
    /// layer sizes, input first, e.g. 784,256,256,10
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    /// hidden activation(s) [default: relu, or the model's]
    #[arg(long, value_delimiter = ',')]
    activation: Option<Vec<Activation>>,
    /// softmax_xent, bce, mse or cosine [default: softmax_xent, or the model's]
    #[arg(long)]
    loss: Option<Loss>,
    /// minibatch size [default: 100, or the model's]
    #[arg(long)]
    batch: Option<usize>,
    /// sgd, momentum, nesterov, rmsprop, adam, adamw [default: momentum, or the model's]
    #[arg(long)]
    optimizer: Option<OptimizerKind>,
    /// keep probabilities, as for train [default: none]
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    dropout: Option<Vec<f32>>,
    /// the data whose training split would be resident [default: bundled digits, or the model's data]
    #[command(flatten)]
    data: DataArgs,
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
    let mut cfg = match &a.model {
        Some(p) => open_model(p)?.config(),
        None => TrainConfig::default(),
    };
    if let Some(l) = &a.layers {
        cfg.model.layers = l.clone();
    }
    if let Some(v) = &a.activation {
        cfg.model.activation = v.clone();
    }
    if let Some(v) = a.loss {
        cfg.model.loss = v;
    }
    if let Some(v) = a.batch {
        cfg.run.batch = v;
    }
    if let Some(v) = a.optimizer {
        cfg.optim.optimizer = v;
    }
    if let Some(v) = &a.dropout {
        cfg.reg.dropout = v.clone();
    }
    cfg.data = a.data.over(&cfg.data)?;
    cfg.data.validate()?;
    cfg.setup()?;
    let (cost, data) = run_cost(&cfg)?;
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
