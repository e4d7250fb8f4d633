//! `wgpu-mlp gradcheck`: analytic gradients against central differences on a random network.

use clap::Args;
use rand::{Rng, SeedableRng};
use std::process::ExitCode;
use wgpu_mlp::config::TrainConfig;
use wgpu_mlp::cpu::gradcheck::gradcheck;
use wgpu_mlp::cpu::loss::BatchTargets;
use wgpu_mlp::cpu::network::DropoutStep;
use wgpu_mlp::model::{Activation, Init, Loss, ParamLayout};
use wgpu_mlp::rng::seed_key;

#[derive(Args, Debug)]
pub struct GradcheckArgs {
    /// layer sizes, input first
    #[arg(long, value_delimiter = ',', default_value = "6,5,4,3")]
    layers: Vec<usize>,
    /// hidden activation(s): identity, relu, leaky_relu[:slope], tanh, sigmoid
    #[arg(long, value_delimiter = ',', default_value = "tanh")]
    activation: Vec<Activation>,
    /// softmax_xent, bce, mse or cosine
    #[arg(long, default_value = "softmax_xent")]
    loss: Loss,
    /// L2 strength λ (adds ½λ‖W‖²)
    #[arg(long, default_value_t = 0.0)]
    l2: f64,
    /// L1 strength β (adds β‖W‖₁)
    #[arg(long, default_value_t = 0.0)]
    l1: f64,
    /// keep probabilities per layer input (one value: every hidden layer)
    #[arg(long, value_delimiter = ',')]
    dropout: Option<Vec<f32>>,
    /// samples in the batch
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// finite-difference step
    #[arg(long, default_value_t = 1e-5)]
    step: f64,
    /// exit non-zero when any tensor's max relative error exceeds this
    #[arg(long, default_value_t = 1e-6)]
    tolerance: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub fn run(a: GradcheckArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = TrainConfig::default();
    (cfg.model.layers, cfg.model.activation, cfg.model.loss) = (a.layers.clone(), a.activation.clone(), a.loss);
    (cfg.reg.l2, cfg.reg.l1, cfg.reg.dropout) = (vec![a.l2], vec![a.l1], a.dropout.clone().unwrap_or_default());
    (cfg.run.batch, cfg.run.seed) = (a.batch, a.seed);
    let setup = cfg.setup()?;
    wgpu_mlp::report::cost::check_network_memory(&setup)?;
    if !(a.step.is_finite() && a.step > 0.0) {
        anyhow::bail!("--step {} must be a positive number", a.step);
    }
    let spec = &setup.spec;
    let mut params = Init::XavierNormal.init(&ParamLayout::new(spec), a.seed);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed ^ 0x5eed);
    for l in 0..spec.num_layers() {
        // nonzero biases keep samples off the kinks a zero start sits on
        params.bias_mut(l).iter_mut().for_each(|b| *b = rng.random_range(-0.5..0.5));
    }
    let x: Vec<f64> = (0..a.batch * spec.inputs()).map(|_| rng.random_range(-2.0..2.0)).collect();
    let k = spec.outputs();
    let labels: Vec<u32> = (0..a.batch).map(|_| rng.random_range(0..k.max(2) as u32)).collect();
    let values: Vec<f32> = (0..a.batch * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let targets = if a.loss.is_classification() { BatchTargets::Classes(&labels) } else { BatchTargets::Values(&values) };
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
