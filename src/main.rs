//! The `wgpu-mlp` command line: parse flags (clap), build a config, call the library, and turn
//! any error into one line on stderr with a non-zero exit.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`| head`) would panic; the default
    // ends the process quietly, as it does every Unix tool. Checkpoints are written atomically,
    // so a run ended this way resumes as after any kill.
    #[cfg(unix)]
    // SAFETY: called first, before any thread exists; SIG_DFL is a valid disposition
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
