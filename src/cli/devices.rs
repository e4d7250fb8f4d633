//! `wgpu-mlp devices`: every adapter wgpu can see, numbered as `--device gpu:N` and
//! `WGPU_MLP_ADAPTER=N` count them, and what `--device auto` would pick.

use clap::Args;
use std::process::ExitCode;
use wgpu_mlp::device::{Device, DeviceChoice, ADAPTER_ENV};
use wgpu_mlp::gpu::{tune, GpuContext};

#[derive(Args, Debug)]
pub struct DevicesArgs {
    #[arg(long)]
    json: bool,
}

/// The matmul variants remembered for an adapter (`--tune`), with their measured GFLOP/s.
fn print_tuned(info: &wgpu::AdapterInfo) {
    match tune::cached_for(info) {
        Ok(v) if v.is_empty() => println!("        matmul kernels: none tuned yet (a GPU run tunes them)"),
        Ok(v) => {
            println!("        matmul kernels tuned (shape, choice, measured):");
            for (shape, c) in v {
                let measured: Vec<(String, f64)> = c.measured.iter().map(|(k, g)| (k.name().to_string(), *g)).collect();
                println!("          {:<22} {:<13} {}", shape.to_string(), c.kernel.name(), super::bench::measured_line(&measured));
            }
        }
        Err(why) => println!("        matmul kernels: tuning cache ignored ({why})"),
    }
}

/// The choices remembered for an adapter, as JSON.
fn tuned_json(info: &wgpu::AdapterInfo) -> serde_json::Value {
    match tune::cached_for(info) {
        Ok(v) => v
            .iter()
            .map(|(s, c)| {
                let measured: Vec<serde_json::Value> = c.measured.iter().map(|(k, g)| serde_json::json!([k.name(), g])).collect();
                serde_json::json!({"shape": s.to_string(), "kernel": c.kernel.name(), "gflops": measured})
            })
            .collect(),
        Err(why) => serde_json::json!({"ignored": why}),
    }
}

pub fn run(a: DevicesArgs) -> anyhow::Result<ExitCode> {
    let adapters = GpuContext::adapters();
    let infos = GpuContext::adapter_infos();
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
            .map(|(i, s)| serde_json::json!({"index": i, "name": s.name, "backend": s.backend, "device_type": s.device_type, "tuned": tuned_json(&infos[i])}))
            .collect();
        println!("{}", serde_json::json!({"adapters": listed, "auto": auto()?}));
        return Ok(ExitCode::SUCCESS);
    }
    if adapters.is_empty() {
        println!("no GPU adapters (WGPU_BACKEND={})", std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "unset".into()));
    }
    for (i, s) in adapters.iter().enumerate() {
        println!("gpu:{i:<3} {:<48} {:<8} {}", s.name, s.backend, s.device_type);
        print_tuned(&infos[i]);
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
