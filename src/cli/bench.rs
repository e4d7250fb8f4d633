//! `wgpu-mlp bench`: each configuration runs in its own child process, so the peak memory it
//! reports belongs to that configuration alone.

use clap::Args;
use std::process::{Command, ExitCode};
use wgpu_mlp::bench::{bench_one, net_by_name, BenchResult};
use wgpu_mlp::config::DeviceChoice;
use wgpu_mlp::optim::OptimizerKind;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// configurations: A = 784-64-10 batch 100, B = 784-256-256-10 batch 128, C = 784-1024-1024-10 batch 256
    #[arg(long, value_delimiter = ',', default_value = "A,B,C")]
    configs: Vec<String>,
    /// optimizers to time
    #[arg(long, value_delimiter = ',', default_value = "sgd,adam")]
    optimizers: Vec<OptimizerKind>,
    /// engines: cpu, gpu (any adapter, software included), gpu:N (adapter N of `devices`); default cpu and gpu when a GPU adapter exists
    #[arg(long, value_delimiter = ',')]
    devices: Option<Vec<DeviceChoice>>,
    /// training samples per epoch (from the bundled digits)
    #[arg(long, default_value_t = 10_000)]
    samples: usize,
    /// timed epochs after one warm-up epoch (the median is reported)
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// stated fp32 peak of the CPU in GFLOP/s [default: 100 per core: 2 FMA units × 8 lanes × 2 × ~3.1 GHz]
    #[arg(long)]
    cpu_peak: Option<f64>,
    /// stated fp32 peak of the GPU in GFLOP/s (no share is printed without it)
    #[arg(long)]
    gpu_peak: Option<f64>,
    /// JSON lines instead of a table
    #[arg(long)]
    json: bool,
    /// run one case in this process: CONFIG:OPTIMIZER:DEVICE (used by bench itself)
    #[arg(long, hide = true)]
    one: Option<String>,
}

fn run_one(spec: &str, a: &BenchArgs) -> anyhow::Result<ExitCode> {
    // the device may hold a colon itself (gpu:N)
    let parts: Vec<&str> = spec.splitn(3, ':').collect();
    let [net, opt, dev] = parts.as_slice() else { anyhow::bail!("--one takes CONFIG:OPTIMIZER:DEVICE") };
    let device = DeviceChoice::parse(dev)?;
    let r = bench_one(net_by_name(net)?, opt.parse()?, device, a.samples, a.epochs)?;
    println!("{}", serde_json::to_string(&r)?);
    Ok(ExitCode::SUCCESS)
}

pub fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(one) = &a.one {
        return run_one(one, &a);
    }
    for c in &a.configs {
        net_by_name(c)?;
    }
    let devices = a.devices.clone().unwrap_or_else(|| {
        let mut d = vec![DeviceChoice::Cpu];
        if !wgpu_mlp::gpu::GpuContext::adapters().is_empty() {
            d.push(DeviceChoice::Gpu);
        }
        d
    });
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let cpu_peak = a.cpu_peak.unwrap_or(100.0 * cores);
    let exe = std::env::current_exe()?;
    if !a.json {
        println!(
            "{:<3} {:<18} {:>5} {:<6} {:<34} {:>12} {:>8} {:>7} {:>10} {:>9} {:>9}",
            "cfg", "network", "batch", "optim", "device", "samples/s", "GFLOP/s", "%peak", "1st step", "readback", "peak MiB"
        );
    }
    let mut failed = false;
    for dev in &devices {
        for c in &a.configs {
            for o in &a.optimizers {
                let case = format!("{c}:{o}:{dev}");
                let out = Command::new(&exe)
                    .args(["bench", "--one", &case, "--samples", &a.samples.to_string(), "--epochs", &a.epochs.to_string()])
                    .output()?;
                if !out.status.success() {
                    let err = String::from_utf8_lossy(&out.stderr);
                    eprintln!("bench {case}: {}", err.lines().last().unwrap_or("failed"));
                    failed = true;
                    continue;
                }
                let r: BenchResult = serde_json::from_slice(&out.stdout)?;
                let peak = if *dev == DeviceChoice::Cpu { Some(cpu_peak) } else { a.gpu_peak };
                print_row(&r, peak, a.json);
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn print_row(r: &BenchResult, peak: Option<f64>, json: bool) {
    let share = peak.map(|p| 100.0 * r.gflops / p);
    if json {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        v["stated_peak_gflops"] = peak.into();
        v["peak_share_percent"] = share.into();
        println!("{v}");
        return;
    }
    println!(
        "{:<3} {:<18} {:>5} {:<6} {:<34} {:>12.0} {:>8.1} {:>7} {:>9.3}s {:>9.1} {:>9}",
        r.config,
        r.network,
        r.batch,
        r.optimizer,
        r.device.chars().take(34).collect::<String>(),
        r.samples_per_second,
        r.gflops,
        share.map(|s| format!("{s:.1}%")).unwrap_or_else(|| "-".into()),
        r.first_step_seconds,
        r.readbacks_per_epoch,
        r.peak_rss_mib.map(|m| format!("{m:.0}")).unwrap_or_else(|| "-".into()),
    );
    if !r.kernel_times.is_empty() {
        let total: f64 = r.kernel_times.iter().map(|k| k.seconds_per_step).sum();
        let parts: Vec<String> = r
            .kernel_times
            .iter()
            .map(|k| format!("{} {:.3} ms ({:.0}%, {}×)", k.family, k.seconds_per_step * 1e3, 100.0 * k.seconds_per_step / total, k.dispatches_per_step))
            .collect();
        println!("    per step on the device (timestamp queries): {}", parts.join(", "));
    }
    if let Some(t) = &r.tuning {
        println!("    matmul kernels (--tune {}; {} shapes measured now, in {:.2} s):", t.mode, t.tuned, t.seconds);
        for c in &t.choices {
            println!("      {:<22} {:<13} {:<7} {}", c.shape, c.kernel, c.origin, measured_line(&c.measured));
        }
    }
}

/// "tiled-64 312.0, blocked-8x8 201.5 GFLOP/s", fastest first; "-" when nothing was measured.
pub(crate) fn measured_line(measured: &[(String, f64)]) -> String {
    if measured.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = measured.iter().map(|(k, g)| format!("{k} {g:.1}")).collect();
    format!("{} GFLOP/s", parts.join(", "))
}
