//! Long-horizon GPU numerics on the bundled digits: 500 lockstep steps per optimizer (every step
//! starts the CPU f32, GPU and f64 engines from the CPU's state; the GPU's distance from the f64
//! step must stay within 6× the larger of the CPU's two f32 roundings, per tensor and step, the
//! bound `check` uses), and a free-running run per optimizer whose final validation loss and
//! accuracy must fall in the spread of CPU runs started one ulp apart.
//!
//! Measured (lavapipe, this test's shapes): the worst GPU/CPU ratio over 500 steps is 0.48–1.20 for every
//! case here; 6 is what WGSL's exp and division accuracy allow against the CPU's correctly
//! rounded ones, while a wrong term (bias correction, ε placement) puts the ratio in the
//! thousands at step 1.

mod common;

use wgpu_mlp::crosscheck::{free_run, lockstep, Tolerance};
use wgpu_mlp::data::{bundled_mnist, standard_splits, Splits};
use wgpu_mlp::model::{Activation, Init, Loss, NetworkSpec, ParamLayout, Params};
use wgpu_mlp::optim::{LrSchedule, OptimizerConfig, OptimizerKind, Regularization};
use wgpu_mlp::train::FitOptions;
use wgpu_mlp::TrainSetup;

const STEPS: usize = 500;

struct Case {
    name: &'static str,
    optimizer: OptimizerConfig,
    lr: f64,
    reg: Regularization,
}

fn opt(kind: OptimizerKind, f: impl FnOnce(&mut OptimizerConfig)) -> OptimizerConfig {
    let mut o = OptimizerConfig::new(kind);
    f(&mut o);
    o
}

fn cases() -> Vec<Case> {
    let l1 = |beta: f64, proximal: bool| Regularization { l2: vec![], l1: vec![beta; 2], l1_proximal: proximal };
    vec![
        Case { name: "sgd", optimizer: OptimizerConfig::sgd(), lr: 0.1, reg: Regularization::none() },
        Case { name: "momentum + l2", optimizer: opt(OptimizerKind::Momentum, |_| {}), lr: 0.05, reg: Regularization::uniform(2, 1e-3, 0.0) },
        Case { name: "nesterov + l1 (subgradient)", optimizer: opt(OptimizerKind::Nesterov, |_| {}), lr: 0.05, reg: l1(1e-4, false) },
        Case { name: "rmsprop", optimizer: opt(OptimizerKind::Rmsprop, |_| {}), lr: 1e-3, reg: Regularization::none() },
        Case { name: "rmsprop + momentum", optimizer: opt(OptimizerKind::Rmsprop, |o| o.momentum = 0.9), lr: 1e-3, reg: Regularization::none() },
        Case { name: "adam + l1 (proximal)", optimizer: opt(OptimizerKind::Adam, |_| {}), lr: 1e-3, reg: l1(1e-4, true) },
        Case { name: "adamw", optimizer: opt(OptimizerKind::Adamw, |_| {}), lr: 1e-3, reg: Regularization::uniform(2, 1e-4, 0.0) },
        // a bound under the global norm of most steps' gradients: the device's factor in every step
        Case { name: "momentum + clip-norm", optimizer: opt(OptimizerKind::Momentum, |o| o.clip_norm = Some(0.5)), lr: 0.05, reg: Regularization::uniform(2, 1e-4, 0.0) },
    ]
}

fn setup(c: &Case) -> TrainSetup {
    let spec = NetworkSpec::new(&[784, 32, 10], Activation::Relu, Loss::SoftmaxCrossEntropy).expect("spec");
    TrainSetup { spec, optimizer: c.optimizer.clone(), regularization: c.reg.clone(), keep: vec![], batch: 20, seed: 3, augment: None, train_loss: Default::default() }
}

fn fit(c: &Case) -> FitOptions {
    FitOptions { epochs: 2, lr: c.lr, schedule: LrSchedule::Constant, seed: 3, ..FitOptions::default() }
}

fn digits() -> Splits {
    standard_splits(bundled_mnist().expect("bundled digits"), None, None, 3).expect("splits")
}

fn start(s: &TrainSetup) -> Params<f32> {
    Init::HeNormal.init(&ParamLayout::new(&s.spec), 3).cast(|x| x as f32)
}

#[test]
fn lockstep_500_steps_every_optimizer() {
    let Some(ctx) = common::gpu("lockstep_500_steps_every_optimizer") else { return };
    let data = digits();
    let mut failed = Vec::new();
    for c in cases() {
        let s = setup(&c);
        let r = lockstep(Some(ctx.clone()), &s, &fit(&c), &start(&s), &data.train, STEPS, Tolerance::LOCKSTEP).expect("lockstep");
        let worst = r.tensors.iter().max_by(|a, b| a.ratio.total_cmp(&b.ratio)).expect("tensors");
        eprintln!(
            "{:<28} worst gpu/cpu {:.3} ({} at step {}), step loss rel {:.1e}, {} kink steps",
            c.name, worst.ratio, worst.name, worst.worst_step, r.max_loss_rel, r.kink_steps
        );
        if !r.passed() {
            failed.push(format!("{}: first outside at step {:?}, worst {} {:.2}", c.name, r.first_bad_step, worst.name, worst.ratio));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn free_running_ends_within_the_cpu_spread() {
    let Some(ctx) = common::gpu("free_running_ends_within_the_cpu_spread") else { return };
    let data = digits();
    let val = data.val.clone().expect("validation split");
    let mut failed = Vec::new();
    for c in cases() {
        let s = setup(&c);
        let r = free_run(Some(ctx.clone()), &s, &fit(&c), &start(&s), &data.train, ("validation", &val), STEPS, 4).expect("free run");
        let g = r.gpu_end();
        eprintln!(
            "{:<28} gpu loss {:.5} in [{:.5}, {:.5}], accuracy {:?} in {:?}; gpu vs f64 reaches 1e-4 at {:?}, 1e-2 at {:?}",
            c.name, g.loss, r.loss_band.0, r.loss_band.1, g.accuracy, r.accuracy_band, r.separations[1].first_1e4, r.separations[1].first_1e2
        );
        if !r.passed() {
            failed.push(c.name);
        }
    }
    assert!(failed.is_empty(), "{failed:?}");
}
