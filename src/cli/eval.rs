//! `wgpu-mlp eval`: a model's loss, accuracy, per-class precision/recall and confusion matrix.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use wgpu_mlp::config::{DataArgs, EngineArgs, EngineConfig, ModelArgs};
use wgpu_mlp::report::eval::{EvalReport, CONFUSION_MAX_CLASSES};
use wgpu_mlp::run::{eval_model, DataChoice, EvalOutcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Split {
    Test,
    Val,
    Train,
    /// every sample of the data (train, validation and test together)
    All,
}

#[derive(Args, Debug)]
#[command(after_help = "The data is split exactly as `train` split it (same seed and validation size, read from the \
model's metadata), so --split test is the held-out test set of the run that wrote the model. A PyTorch state dict \
(safetensors.torch.save_file of an nn.Sequential of Linear layers) has no metadata: give its network with --layers \
(and --activation, --loss); its data is the bundled digits split with seed 0, as train's defaults.")]
#[command(mut_arg("layers", |a| a.help("the network of a PyTorch state dict, as for train (a wgpu-mlp model must match it)")))]
#[command(mut_arg("label_smoothing", |a| a.hide(true)))]
#[command(mut_arg("class_weight", |a| a.hide(true)))]
#[command(mut_arg("init", |a| a.hide(true)))]
#[command(mut_arg("init_from", |a| a.hide(true)))]
#[command(mut_arg("hidden", |a| a.hide(true)))]
#[command(mut_arg("standardize", |a| a.hide(true)))]
pub struct EvalArgs {
    /// model file written by train (model.safetensors; a checkpoint's state.safetensors works
    /// too), or a PyTorch state dict with --layers
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    /// the network of a state dict: train's --layers, --activation, --loss
    #[command(flatten)]
    network: ModelArgs,
    /// the data to evaluate on [default: the data the model was trained on, else the bundled digits]
    #[command(flatten)]
    data: DataArgs,
    /// which split to evaluate
    #[arg(long, value_enum, default_value_t = Split::Test)]
    split: Split,
    /// seed of the split [default: the model's training seed]
    #[arg(long)]
    seed: Option<u64>,
    /// the engine, as for train
    #[command(flatten)]
    engine: EngineArgs,
    /// print one JSON object instead of tables
    #[arg(long)]
    json: bool,
}

pub fn run(a: EvalArgs) -> anyhow::Result<ExitCode> {
    let choice = DataChoice { source: a.data, seed: a.seed };
    let split = format!("{:?}", a.split).to_lowercase();
    let mut engine = EngineConfig::default();
    a.engine.apply_to(&mut engine);
    let network = super::network_flags(&a.network, "eval")?;
    let out = eval_model(&a.model, network.as_ref(), &choice, &split, engine.device)?;
    if a.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        print_text(&out);
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.2}%", 100.0 * x)).unwrap_or_else(|| "-".into())
}

fn print_text(o: &EvalOutcome) {
    let r: &EvalReport = &o.report;
    println!("model: {} ({})", o.model.display(), o.network);
    println!("data: {}", o.data);
    println!("split: {} ({} samples)", o.split, r.samples);
    for n in &o.notes {
        println!("note: {n}");
    }
    match (r.accuracy, r.correct) {
        (Some(acc), Some(c)) => println!("loss {:.4}  accuracy {:.2}% ({c}/{})", r.loss, 100.0 * acc, r.samples),
        _ => println!("loss {:.4}  MAE {:.4}  RMSE {:.4}", r.loss, r.mae.unwrap_or(f64::NAN), r.rmse.unwrap_or(f64::NAN)),
    }
    let Some(per_class) = &r.per_class else { return };
    let name_w = o.class_names.iter().map(|n| n.chars().count()).max().unwrap_or(1).clamp(5, 40);
    println!("\n{:>name_w$}  {:>9}  {:>9}  {:>9}  {:>7}", "class", "precision", "recall", "f1", "support");
    for m in per_class {
        println!(
            "{:>name_w$}  {:>9}  {:>9}  {:>9}  {:>7}",
            o.class_names[m.class], pct(m.precision), pct(m.recall), pct(m.f1), m.support
        );
    }
    println!("{:>name_w$}  {:>9}  {:>9}  {:>9}  {:>7}", "macro", pct(r.macro_precision), pct(r.macro_recall), pct(r.macro_f1), r.samples);

    let Some(cm) = &r.confusion else {
        println!(
            "\nconfusion matrix not shown: {} classes (it is kept for at most {CONFUSION_MAX_CLASSES}; the per-class table above covers every class)",
            per_class.len()
        );
        return;
    };
    println!("\nconfusion matrix (rows: true class, columns: predicted)");
    let cell_w = cm.counts.iter().max().map_or(1, |m| m.to_string().len()).max(name_w.min(8)).max(3);
    let mut header = format!("{:>name_w$} ", "");
    for n in &o.class_names {
        header.push_str(&format!(" {:>cell_w$}", n));
    }
    println!("{header}");
    for t in 0..cm.classes {
        let mut line = format!("{:>name_w$} ", o.class_names[t]);
        for p in 0..cm.classes {
            line.push_str(&format!(" {:>cell_w$}", cm.get(t, p)));
        }
        println!("{line}");
    }
}
