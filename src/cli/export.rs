//! `wgpu-mlp export`: a model's weights for another framework (PyTorch's nn.Sequential).

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use wgpu_mlp::model::torch::{fold_input_transform, save_python_loader, save_torch, sequential_modules};
use wgpu_mlp::run::open_model;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// safetensors with nn.Sequential's keys: 0.weight, 0.bias, 2.weight, ... (weights [out, in])
    Torch,
}

#[derive(Args, Debug)]
#[command(after_help = "The file loads with nn.Sequential(Linear, Act, ..., Linear).load_state_dict(load_file(FILE)), \
strict; --python writes that Sequential. The export is the network in eval form: dropout is a training-time layer, so \
there are no Dropout modules (they would shift the indices). The output nonlinearity belongs to the loss: the \
Sequential ends with a Linear, giving logits.")]
pub struct ExportArgs {
    /// model file written by train
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    /// what to write
    #[arg(long, value_enum, default_value_t = Format::Torch)]
    format: Format,
    /// the file to write (FILE.safetensors)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// also write a Python file that builds the matching nn.Sequential and loads the weights
    #[arg(long, value_name = "FILE")]
    python: Option<PathBuf>,
    /// print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

pub fn run(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let Format::Torch = a.format;
    if a.python.as_ref() == Some(&a.out) {
        anyhow::bail!("--python: {} is the --out file too", a.out.display());
    }
    let m = open_model(&a.model)?;
    // a --standardize model: the transform goes into the first Linear, so the file takes raw inputs
    let params = match &m.standardizer {
        Some(st) => fold_input_transform(&m.params, &st.mean, &st.std),
        None => m.params.clone(),
    };
    save_torch(&a.out, &m.spec, &params)?;
    if let Some(py) = &a.python {
        save_python_loader(py, &m.spec, &a.out, &a.model)?;
    }
    let modules = sequential_modules(&m.spec);
    if a.json {
        println!("{}", serde_json::json!({"model": a.model, "out": a.out, "python": a.python, "format": "torch", "sequential": modules, "network": m.spec.describe()}));
    } else {
        println!("wrote {}: nn.Sequential({}) state dict (eval form, no Dropout)", a.out.display(), modules.join(", "));
        if let Some(py) = &a.python {
            println!("wrote {}: builds that nn.Sequential and loads the weights", py.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
