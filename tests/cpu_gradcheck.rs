//! Central-difference gradient checks in f64 over every activation × loss × regulariser, with and
//! without dropout: max relative error below 1e-6 on every parameter.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use wgpu_mlp::cpu::gradcheck::gradcheck;
use wgpu_mlp::cpu::loss::BatchTargets;
use wgpu_mlp::cpu::network::DropoutStep;
use wgpu_mlp::engine::{TrainLoss, TrainSetup};
use wgpu_mlp::model::{Activation, Init, Loss, NetworkSpec, ParamLayout};
use wgpu_mlp::optim::{OptimizerConfig, Regularization};
use wgpu_mlp::rng::seed_key;

const ACTIVATIONS: [Activation; 5] =
    [Activation::Identity, Activation::Relu, Activation::LeakyRelu(0.1), Activation::Tanh, Activation::Sigmoid];
const LOSSES: [Loss; 4] = [Loss::SoftmaxCrossEntropy, Loss::BinaryCrossEntropy, Loss::MeanSquaredError, Loss::Cosine];

fn check(act: Activation, loss: Loss, reg: &str, dropout: bool, outputs: usize) -> f64 {
    check_with(act, loss, reg, dropout, outputs, Default::default())
}

fn check_with(act: Activation, loss: Loss, reg: &str, dropout: bool, outputs: usize, train_loss: TrainLoss) -> f64 {
    let (batch, sizes) = (4, [5, 6, 4, outputs]);
    let spec = NetworkSpec::new(&sizes, act, loss).unwrap();
    let layers = spec.num_layers();
    let regularization = match reg {
        "l2" => Regularization::uniform(layers, 0.3, 0.0),
        "l1" => Regularization::uniform(layers, 0.0, 0.05),
        _ => Regularization::none(),
    };
    let setup = TrainSetup {
        spec: spec.clone(),
        optimizer: OptimizerConfig::sgd(),
        regularization,
        keep: if dropout { vec![0.8, 0.6, 0.7] } else { vec![] },
        batch,
        seed: 11,
        augment: None,
        train_loss,
    };
    let mut params = Init::XavierNormal.init(&ParamLayout::new(&spec), 5);
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    // Nonzero biases: with zero biases a sample whose ReLUs are all off has logits exactly 0,
    // where the cosine loss (a function of direction only) has no derivative.
    for l in 0..layers {
        for b in params.bias_mut(l) {
            *b = rng.random_range(-0.5..0.5);
        }
    }
    let x: Vec<f64> = (0..batch * sizes[0]).map(|_| rng.random_range(-2.0..2.0)).collect();
    let labels: Vec<u32> = (0..batch).map(|_| rng.random_range(0..outputs.max(2) as u32)).collect();
    let values: Vec<f32> = (0..batch * outputs).map(|_| rng.random_range(-1.0..1.0)).collect();
    let targets = if loss.is_classification() { BatchTargets::Classes(&labels) } else { BatchTargets::Values(&values) };
    let drop = dropout.then_some(DropoutStep { key: seed_key(setup.seed), step: 3 });
    let report = gradcheck(&setup, &params, &x, targets, drop, 1e-5);
    let worst = report.max_error();
    assert!(
        worst < 1e-6,
        "{act} / {loss} / reg {reg} / dropout {dropout}: max relative error {worst:.3e} in {:?}",
        report.tensors
    );
    worst
}

#[test]
fn every_activation_loss_regulariser_and_dropout() {
    let mut worst = 0.0f64;
    let mut cases = 0;
    for act in ACTIVATIONS {
        for loss in LOSSES {
            for reg in ["none", "l2", "l1"] {
                for dropout in [false, true] {
                    worst = worst.max(check(act, loss, reg, dropout, 3));
                    cases += 1;
                }
            }
        }
    }
    eprintln!("gradcheck: {cases} configurations, max relative error {worst:.3e}");
}

/// Label smoothing and class weights change the loss and its gradient together.
#[test]
fn label_smoothing_and_class_weights() {
    let weights = TrainLoss { label_smoothing: 0.0, class_weight: vec![0.5, 2.0, 1.25] };
    let smooth = TrainLoss { label_smoothing: 0.1, class_weight: vec![] };
    let both = TrainLoss { label_smoothing: 0.2, class_weight: vec![3.0, 0.25, 1.0] };
    for act in [Activation::Tanh, Activation::Relu] {
        for tl in [&weights, &smooth, &both] {
            check_with(act, Loss::SoftmaxCrossEntropy, "l2", false, 3, tl.clone());
        }
        check_with(act, Loss::BinaryCrossEntropy, "none", true, 1, TrainLoss { label_smoothing: 0.0, class_weight: vec![0.3, 1.7] });
    }
}

#[test]
fn single_output_binary_cross_entropy() {
    for act in ACTIVATIONS {
        check(act, Loss::BinaryCrossEntropy, "l2", true, 1);
    }
}
