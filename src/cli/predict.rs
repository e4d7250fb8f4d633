//! `wgpu-mlp predict`: the class (and its probabilities) of images or CSV rows.

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use wgpu_mlp::config::{EngineArgs, EngineConfig, ModelArgs};
use wgpu_mlp::data::Invert;
use wgpu_mlp::run::predict_inputs;

#[derive(Args, Debug)]
#[command(after_help = "Colour PNGs are converted to gray; transparent pixels become the background (the alpha \
channel is the ink). MNIST digits are light on dark: an image whose border is light is inverted (--invert auto). \
For a 784-input model, an image of any other size than 28x28 is fitted as MNIST's digits were: the ink's box \
scaled to 20 px (area-averaged) and centred by its mass in 28x28; other models take images of exactly as many \
pixels as inputs. Each image's line says what was done. Pixels are scaled by 1/255 as in training. CSV (or tab-separated .tsv) inputs hold feature rows; a non-numeric first row is a header, and a column it names \
as the model's training target is dropped. A PyTorch state dict (no metadata) needs its network: --layers \
(and --activation, --loss).")]
#[command(mut_arg("layers", |a| a.help("the network of a PyTorch state dict, as for train (a wgpu-mlp model must match it)")))]
#[command(mut_arg("label_smoothing", |a| a.hide(true)))]
#[command(mut_arg("class_weight", |a| a.hide(true)))]
#[command(mut_arg("init", |a| a.hide(true)))]
#[command(mut_arg("init_from", |a| a.hide(true)))]
#[command(mut_arg("hidden", |a| a.hide(true)))]
#[command(mut_arg("standardize", |a| a.hide(true)))]
pub struct PredictArgs {
    /// model file written by train, or a PyTorch state dict with --layers
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    /// the network of a state dict: train's --layers, --activation, --loss
    #[command(flatten)]
    network: ModelArgs,
    /// PNG or PGM images, or CSV files of feature rows
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    input: Vec<PathBuf>,
    /// invert image pixels (255 − p): auto (when the background is light), always (also a bare --invert) or never
    #[arg(long, value_enum, num_args = 0..=1, default_value_t = Invert::Auto, default_missing_value = "always")]
    invert: Invert,
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
    let network = super::network_flags(&a.network, "predict")?;
    let preds = predict_inputs(&a.model, network.as_ref(), &a.input, a.invert, engine.device)?;
    for p in &preds {
        if a.json {
            println!("{}", serde_json::to_string(p)?);
            continue;
        }
        let name = match p.row {
            Some(r) => format!("{} row {r}", p.input.display()),
            None => p.input.display().to_string(),
        };
        if !p.notes.is_empty() {
            println!("{name}: note: {}", p.notes.join("; "));
        }
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
