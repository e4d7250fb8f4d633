//! `wgpu-mlp gradcheck`: analytic gradients against central differences on a random network.

use clap::Args;
use rand::{Rng, SeedableRng};
use std::process::ExitCode;
use wgpu_mlp::config::{ModelArgs, RegularizationArgs, TrainConfig};
use wgpu_mlp::cpu::gradcheck::gradcheck;
use wgpu_mlp::cpu::loss::BatchTargets;
use wgpu_mlp::cpu::network::DropoutStep;
use wgpu_mlp::model::{Activation, Init, ParamLayout};
use wgpu_mlp::run::initial_params;
use wgpu_mlp::rng::seed_key;

/// The network and its penalties are train's flags (src/config/sections.rs); what gradcheck
/// adds is its own: the random batch, the difference step and the tolerance.
#[derive(Args, Debug)]
#[command(after_help = "The network and penalty flags are train's, with a small network as the default. Biases start uniform in ±0.5 and inputs uniform in ±2, so \
samples sit off the kinks of relu and L1. --init-from checks the gradients at a model's own weights.")]
#[command(mut_arg("layers", |a| a.help("layer sizes, input first [default: 6,5,4,3]")))]
#[command(mut_arg("activation", |a| a.help("hidden activation, or one per hidden layer [default: tanh]")))]
#[command(mut_arg("init", |a| a.help("random starting weights, as for train [default: xavier_normal]")))]
pub struct GradcheckArgs {
    /// network flags, as for train
    #[command(flatten)]
    model: ModelArgs,
    /// penalties and dropout, as for train
    #[command(flatten)]
    reg: RegularizationArgs,
    /// samples in the batch
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// finite-difference step
    #[arg(long, default_value_t = 1e-5)]
    step: f64,
    /// exit non-zero when any tensor's max relative error exceeds this
    #[arg(long, default_value_t = 1e-6)]
    tolerance: f64,
    /// seed of the random network, batch and dropout masks
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub fn run(a: GradcheckArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = TrainConfig::default();
    (cfg.model.layers, cfg.model.activation, cfg.model.init) = (vec![6, 5, 4, 3], vec![Activation::Tanh], Init::XavierNormal);
    a.model.apply_to(&mut cfg.model);
    a.reg.apply_to(&mut cfg.reg);
    if cfg.reg.augment.is_some() {
        return Err(wgpu_mlp::Error::config("augment", "changes the inputs, not the gradient: gradcheck does not take it").into());
    }
    if cfg.model.standardize {
        return Err(wgpu_mlp::Error::config("standardize", "changes the inputs, not the gradient: gradcheck does not take it").into());
    }
    if cfg.reg.l1_proximal {
        return Err(wgpu_mlp::Error::config("l1_proximal", "is an update step, not a gradient: gradcheck checks --l1 as a subgradient").into());
    }
    (cfg.run.batch, cfg.run.seed) = (a.batch, a.seed);
    let setup = cfg.setup()?;
    wgpu_mlp::report::cost::check_network_memory(&setup)?;
    if !(a.step.is_finite() && a.step > 0.0) {
        anyhow::bail!("--step {} must be a positive number", a.step);
    }
    let spec = &setup.spec;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed ^ 0x5eed);
    let params = match &cfg.model.init_from {
        Some(_) => initial_params(&cfg, &setup)?.cast(|w| w as f64),
        None => {
            let mut params = cfg.model.init.init(&ParamLayout::new(spec), a.seed);
            for l in 0..spec.num_layers() {
                // nonzero biases keep samples off the kinks a zero start sits on
                params.bias_mut(l).iter_mut().for_each(|b| *b = rng.random_range(-0.5..0.5));
            }
            params
        }
    };
    let x: Vec<f64> = (0..a.batch * spec.inputs()).map(|_| rng.random_range(-2.0..2.0)).collect();
    let k = spec.outputs();
    let labels: Vec<u32> = (0..a.batch).map(|_| rng.random_range(0..k.max(2) as u32)).collect();
    let values: Vec<f32> = (0..a.batch * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let targets = if spec.loss.is_classification() { BatchTargets::Classes(&labels) } else { BatchTargets::Values(&values) };
    let dropout = setup.has_dropout().then_some(DropoutStep { key: seed_key(a.seed), step: 0 });
    let report = gradcheck(&setup, &params, &x, targets, dropout, a.step);

    let worst = report.max_error();
    let pass = worst <= a.tolerance;
    if a.json {
        let tensors: serde_json::Map<String, serde_json::Value> =
            report.tensors.iter().map(|(n, e)| (n.clone(), (*e).into())).collect();
        println!(
            "{}",
            serde_json::json!({"network": spec.describe(), "max_relative_error": worst,
                "tolerance": a.tolerance, "pass": pass, "tensors": tensors})
        );
    } else {
        println!("gradient check (f64, central differences, h = {:e}) of {}", a.step, spec.describe());
        for (name, e) in &report.tensors {
            println!("  {name:<18} max relative error {e:.3e}");
        }
        println!("max {worst:.3e} {} tolerance {:e}: {}", if pass { "<=" } else { ">" }, a.tolerance, if pass { "PASS" } else { "FAIL" });
    }
    Ok(if pass { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
