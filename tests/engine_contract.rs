//! What every engine must do, written once over the `Engine` trait and run on the CPU and the GPU
//! engine (as candle's `test_device!` runs one body per device): best-weight snapshots, optimizer
//! state out and back in, bit-identical resume, predict's width check, bad input refused. Each
//! body runs on a network with a hidden layer and on one without (softmax regression).

mod common;

use rand::{Rng, SeedableRng};
use wgpu_mlp::cpu::CpuEngine;
use wgpu_mlp::data::{Dataset, Features, Targets};
use wgpu_mlp::gpu::GpuEngine;
use wgpu_mlp::model::{Activation, Loss, NetworkSpec, ParamLayout, Params};
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind, Regularization};
use wgpu_mlp::{Engine, TrainSetup};

type Boxed = Box<dyn Engine<Elem = f32>>;
/// Makes an engine for a setup and starting weights; None when the device is missing (skipped).
type Make = fn(TrainSetup, &Params<f32>) -> Option<Boxed>;

fn cpu(setup: TrainSetup, p: &Params<f32>) -> Option<Boxed> {
    Some(Box::new(CpuEngine::<f32>::new(setup, p.clone()).expect("cpu engine")))
}

fn gpu(setup: TrainSetup, p: &Params<f32>) -> Option<Boxed> {
    let ctx = common::gpu("engine contract")?;
    Some(Box::new(GpuEngine::new(ctx, setup, p).expect("gpu engine")))
}

macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod cpu_engine { $( #[test] fn $name() { super::$name(super::cpu) } )* }
        mod gpu_engine { $( #[test] fn $name() { super::$name(super::gpu) } )* }
    };
}

on_both_engines!(
    snapshot_restores_the_best_weights,
    optimizer_state_goes_out_and_back_in,
    resume_is_bit_identical,
    predict_checks_the_width,
    bad_input_is_refused,
);

const DIM: usize = 12;
const CLASSES: usize = 3;
const N: usize = 45;

/// With a hidden layer, and without one (softmax regression).
fn setups() -> Vec<TrainSetup> {
    [&[DIM, 8, CLASSES][..], &[DIM, CLASSES][..]]
        .iter()
        .map(|sizes| TrainSetup {
            spec: NetworkSpec::new(sizes, Activation::Relu, Loss::SoftmaxCrossEntropy).expect("spec"),
            optimizer: OptimizerConfig::new(OptimizerKind::Adam),
            regularization: Regularization::uniform(sizes.len() - 1, 1e-3, 0.0),
            keep: vec![],
            batch: 8,
            seed: 5,
            augment: None, train_loss: Default::default()
        })
        .collect()
}

fn data(dim: usize, seed: u64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let features = Features::F32((0..N * dim).map(|_| rng.random_range(-1.0..1.0)).collect());
    let labels = (0..N).map(|_| rng.random_range(0..CLASSES as u32)).collect();
    Dataset::new(features, dim, Targets::Classes { labels, num_classes: CLASSES }).expect("dataset")
}

fn order(epoch: u64) -> Vec<u32> {
    wgpu_mlp::data::epoch_order(N, 9, epoch, true)
}

fn bits(p: &Params<f32>) -> Vec<u32> {
    p.data.iter().map(|x| x.to_bits()).collect()
}

/// An engine on `s` with the training set loaded; None: skipped.
fn ready(make: Make, s: &TrainSetup, seed: u64) -> Option<Boxed> {
    let p = common::params(&s.spec, seed);
    let mut e = make(s.clone(), &p)?;
    e.load_train(&data(DIM, 1)).expect("load");
    Some(e)
}

fn snapshot_restores_the_best_weights(make: Make) {
    for s in setups() {
        let Some(mut e) = ready(make, &s, 2) else { return };
        e.train_epoch(&order(0), 0.05).expect("epoch");
        let best = e.params().expect("params");
        e.snapshot_params().expect("snapshot");
        e.train_epoch(&order(1), 0.05).expect("epoch");
        assert_ne!(bits(&e.params().unwrap()), bits(&best), "{}: training changed nothing", s.spec.describe());
        e.restore_snapshot().expect("restore");
        assert_eq!(bits(&e.params().unwrap()), bits(&best), "{}: restore did not bring the snapshot back", s.spec.describe());
    }
}

fn optimizer_state_goes_out_and_back_in(make: Make) {
    for s in setups() {
        let Some(mut a) = ready(make, &s, 2) else { return };
        a.train_epoch(&order(0), 0.05).expect("epoch");
        let (p, st) = (a.params().unwrap(), a.optimizer_state().unwrap());
        assert!(st.step > 0 && st.slots.iter().all(|v| v.iter().any(|&x| x != 0.0)), "{}: empty state", s.spec.describe());
        let Some(mut b) = ready(make, &s, 7) else { return };
        b.set_params(&p).unwrap();
        b.set_optimizer_state(&st).unwrap();
        assert_eq!(b.optimizer_state().unwrap(), st, "{}: state read back differs", s.spec.describe());
        a.train_epoch(&order(1), 0.05).unwrap();
        b.train_epoch(&order(1), 0.05).unwrap();
        assert_eq!(bits(&a.params().unwrap()), bits(&b.params().unwrap()), "{}: the next epoch differs", s.spec.describe());
    }
}

fn resume_is_bit_identical(make: Make) {
    for s in setups() {
        let Some(mut straight) = ready(make, &s, 2) else { return };
        for ep in 0..3 {
            straight.train_epoch(&order(ep), 0.05).unwrap();
        }
        // interrupted after epoch 1: only the parameters and the optimizer state survive
        let Some(mut first) = ready(make, &s, 2) else { return };
        first.train_epoch(&order(0), 0.05).unwrap();
        let (p, st) = (first.params().unwrap(), first.optimizer_state().unwrap());
        drop(first);
        let Some(mut resumed) = make(s.clone(), &p) else { return };
        resumed.load_train(&data(DIM, 1)).unwrap();
        resumed.set_optimizer_state(&st).unwrap();
        for ep in 1..3 {
            resumed.train_epoch(&order(ep), 0.05).unwrap();
        }
        assert_eq!(bits(&resumed.params().unwrap()), bits(&straight.params().unwrap()), "{}", s.spec.describe());
        let (ev_a, ev_b) = (straight.evaluate(&data(DIM, 4)).unwrap(), resumed.evaluate(&data(DIM, 4)).unwrap());
        assert_eq!(ev_a, ev_b, "{}: evaluation after resume", s.spec.describe());
    }
}

fn predict_checks_the_width(make: Make) {
    for s in setups() {
        let Some(mut e) = ready(make, &s, 2) else { return };
        let probs = e.predict(&data(DIM, 3)).expect("predict");
        assert_eq!(probs.len(), N * CLASSES);
        for row in probs.chunks(CLASSES) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{row:?}");
        }
        let err = e.predict(&data(DIM - 1, 3)).expect_err("wrong width accepted").to_string();
        assert!(err.contains("11 features") && err.contains("12"), "{err}");
    }
}

fn bad_input_is_refused(make: Make) {
    for s in setups() {
        let p = common::params(&s.spec, 2);
        let Some(mut e) = make(s.clone(), &p) else { return };
        assert!(e.train_epoch(&order(0), 0.05).is_err(), "trained without a training set");
        assert!(e.load_train(&data(DIM + 1, 1)).is_err(), "loaded data of another width");
        e.load_train(&data(DIM, 1)).unwrap();
        let err = e.train_epoch(&[0, N as u32], 0.05).expect_err("index past the end").to_string();
        assert!(err.contains(&N.to_string()), "{err}");
        let other = NetworkSpec::new(&[DIM, 5, CLASSES], Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap();
        assert!(e.set_params(&Params::zeros(&ParamLayout::new(&other))).is_err(), "parameters of another network");
        let mut st = e.optimizer_state().unwrap();
        st.slots.pop();
        assert!(e.set_optimizer_state(&st).is_err(), "optimizer state with a slot missing");
        // the engine still works after refusing
        e.train_epoch(&order(0), 0.05).unwrap();
    }
}
