//! `wgpu-mlp devices`: every adapter wgpu can see, numbered as `--device gpu:N` and
//! `WGPU_MLP_ADAPTER=N` count them, and what `--device auto` would pick.

use clap::Args;
use std::process::ExitCode;
use wgpu_mlp::device::{Device, DeviceChoice, ADAPTER_ENV};
use wgpu_mlp::gpu::GpuContext;

#[derive(Args, Debug)]
pub struct DevicesArgs {
    #[arg(long)]
    json: bool,
}

pub fn run(a: DevicesArgs) -> anyhow::Result<ExitCode> {
    let adapters = GpuContext::adapters();
    // after the list, so a WGPU_MLP_ADAPTER out of range is reported next to what it indexes
    let auto = || -> wgpu_mlp::Result<String> {
        Ok(match Device::open(DeviceChoice::Auto)? {
            Device::Gpu(c) => c.describe(),
            Device::Cpu => "cpu".into(),
        })
    };
    if a.json {
        let listed: Vec<serde_json::Value> = adapters
            .iter()
            .enumerate()
            .map(|(i, s)| serde_json::json!({"index": i, "name": s.name, "backend": s.backend, "device_type": s.device_type}))
            .collect();
        println!("{}", serde_json::json!({"adapters": listed, "auto": auto()?}));
        return Ok(ExitCode::SUCCESS);
    }
    if adapters.is_empty() {
        println!("no GPU adapters (WGPU_BACKEND={})", std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "unset".into()));
    }
    for (i, s) in adapters.iter().enumerate() {
        println!("gpu:{i:<3} {:<48} {:<8} {}", s.name, s.backend, s.device_type);
    }
    let env = std::env::var(ADAPTER_ENV).ok().filter(|v| !v.trim().is_empty());
    let auto = auto()?;
    let auto = if auto == "cpu" { "the CPU engine (no hardware GPU)".to_string() } else { auto };
    match env {
        Some(v) => println!("--device auto and gpu use: {auto} ({ADAPTER_ENV}={v})"),
        None => println!("--device auto uses: {auto}"),
    }
    Ok(ExitCode::SUCCESS)
}
