//! Subcommands. Each file turns its flags into library calls; no math lives here.

mod bench;
mod check;
mod devices;
mod gradcheck;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "wgpu-mlp", version, about = "Train multilayer perceptrons on the GPU (wgpu/WGSL) or the CPU")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a network (default: 784-64-10 ReLU on the bundled MNIST digits)
    Train(Box<train::TrainArgs>),
    /// Training throughput of the configurations A, B, C per engine (samples/s, GFLOP/s, memory)
    Bench(Box<bench::BenchArgs>),
    /// Run N steps on the GPU and CPU engines from one initialisation and compare every tensor
    Check(Box<check::CheckArgs>),
    /// List the GPU adapters wgpu finds
    Devices(devices::DevicesArgs),
    /// Check analytic gradients against central differences (f64) on a small random network
    Gradcheck(gradcheck::GradcheckArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Gradcheck(args) => gradcheck::run(args),
        Command::Bench(args) => bench::run(*args),
        Command::Check(args) => check::run(*args),
        Command::Devices(args) => devices::run(args),
    }
}
