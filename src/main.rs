//! The `wgpu-mlp` command line: parse flags (clap), build a config, call the library, and turn
//! any error into one line on stderr with a non-zero exit.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
