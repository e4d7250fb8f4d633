//! `wgpu-mlp predict`: the class (and its probabilities) of images or CSV rows.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use wgpu_mlp::config::{EngineArgs, EngineConfig};
use wgpu_mlp::run::predict_inputs;

#[derive(Args, Debug)]
#[command(after_help = "Images must have as many pixels as the model has inputs (28x28 for MNIST models); colour \
PNGs are converted to gray. Pixels are scaled by 1/255 as in training; MNIST digits are light on dark, so pass \
--invert for a dark digit drawn on white. CSV (or tab-separated .tsv) inputs hold feature rows; a non-numeric first row is a header, and a column it names \
as the model's training target is dropped.")]
pub struct PredictArgs {
    /// model file written by train
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    /// PNG or PGM images, or CSV files of feature rows
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    input: Vec<PathBuf>,
    /// invert image pixels (255 − p) before predicting
    #[arg(long)]
    invert: bool,
    /// the engine, as for train
    #[command(flatten)]
    engine: EngineArgs,
    /// print one JSON object per input sample instead of text
    #[arg(long)]
    json: bool,
}

pub fn run(a: PredictArgs) -> anyhow::Result<ExitCode> {
    let mut engine = EngineConfig::default();
    a.engine.apply_to(&mut engine);
    let preds = predict_inputs(&a.model, &a.input, a.invert, engine.device)?;
    for p in &preds {
        if a.json {
            println!("{}", serde_json::to_string(p)?);
            continue;
        }
        let name = match p.row {
            Some(r) => format!("{} row {r}", p.input.display()),
            None => p.input.display().to_string(),
        };
        match (p.class, &p.label) {
            (Some(_), Some(label)) => {
                let prob = p.top.first().map_or(0.0, |t| t.1);
                let top: Vec<String> = p.top.iter().map(|(name, v)| format!("{name} {v:.3}")).collect();
                println!("{name}: class {label} (p = {prob:.3})  top {}: {}", top.len(), top.join(", "));
            }
            _ => {
                let vals: Vec<String> = p.outputs.iter().map(|v| format!("{v}")).collect();
                println!("{name}: {}", vals.join(" "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
