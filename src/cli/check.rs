//! `wgpu-mlp check`: N steps on both engines from one initialisation, compared per tensor.

use super::train::TrainArgs;
use clap::Args;
use std::process::ExitCode;
use wgpu_mlp::crosscheck::cross_check;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// minibatch steps to run on both engines
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// absolute tolerance per element
    #[arg(long, default_value_t = 2e-5)]
    atol: f64,
    /// relative tolerance per element (f32 sums in a different order drift by ~1e-6 per step)
    #[arg(long, default_value_t = 1e-3)]
    rtol: f64,
    /// network, optimizer, regularisation... as for `train` (the data flags are ignored)
    #[command(flatten)]
    train: TrainArgs,
}

pub fn run(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let cfg = a.train.to_config()?;
    let r = cross_check(&cfg, None, a.steps, a.atol, a.rtol)?;
    if a.train.json {
        println!("{}", serde_json::json!({"check": r, "pass": r.passed()}));
    } else {
        println!("{} steps of {} on cpu and {}", r.steps, cfg.spec()?.describe(), r.gpu);
        println!("loss: cpu {:.8} gpu {:.8}", r.cpu_loss, r.gpu_loss);
        println!("{:<18} {:>12} {:>12} {:>10}", "tensor", "max |diff|", "max rel", "outside");
        for t in &r.tensors {
            println!("{:<18} {:>12.3e} {:>12.3e} {:>10}", t.name, t.max_abs, t.max_rel, t.mismatches);
        }
        println!("tolerance |gpu − cpu| <= {:e} + {:e}·|cpu|: {}", r.atol, r.rtol, if r.passed() { "PASS" } else { "FAIL" });
    }
    Ok(if r.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
