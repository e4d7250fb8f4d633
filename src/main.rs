//! The `wgpu-mlp` command line: parse flags (clap), build a config, call the library, and turn
//! any error into one line on stderr with a non-zero exit.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    wgpu_mlp::gpu::context::quiet_missing_runtime_dir();
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {}", cli::clap_error_line(&e));
            return ExitCode::from(2);
        }
    };
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cli::error_line(&e));
            ExitCode::from(2)
        }
    }
}
