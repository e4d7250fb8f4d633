//! `wgpu-mlp devices`: every adapter wgpu can see, and what `--device auto` would pick.

use clap::Args;
use std::process::ExitCode;
use wgpu_mlp::gpu::GpuContext;

#[derive(Args, Debug)]
pub struct DevicesArgs {
    #[arg(long)]
    json: bool,
}

pub fn run(a: DevicesArgs) -> anyhow::Result<ExitCode> {
    let adapters = GpuContext::adapters();
    let auto = GpuContext::request(false)?.map(|c| c.describe());
    if a.json {
        println!("{}", serde_json::json!({"adapters": adapters, "auto": auto.clone().unwrap_or_else(|| "cpu".into())}));
        return Ok(ExitCode::SUCCESS);
    }
    if adapters.is_empty() {
        println!("no GPU adapters (WGPU_BACKEND={})", std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "unset".into()));
    }
    for s in &adapters {
        println!("{:<48} {:<8} {}", s.name, s.backend, s.device_type);
    }
    println!("--device auto uses: {}", auto.unwrap_or_else(|| "the CPU engine (no hardware GPU)".into()));
    Ok(ExitCode::SUCCESS)
}
