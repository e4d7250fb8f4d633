//! Quick CPU-engine throughput probe: samples/s for the configs on random u8 data.
//! cargo run --release --example cpu_speed [augment]   (with `augment`: only the augmentation cost)

use rand::{Rng, SeedableRng};
use std::time::Instant;
use wgpu_mlp::cpu::CpuEngine;
use wgpu_mlp::data::{Dataset, Features, Targets};
use wgpu_mlp::engine::{Engine, TrainSetup};
use wgpu_mlp::model::{Activation, Init, Loss, NetworkSpec, ParamLayout};
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind, Regularization};

fn main() {
    let n = 10_000;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let pixels: Vec<u8> = (0..n * 784).map(|_| rng.random()).collect();
    let labels: Vec<u32> = (0..n).map(|_| rng.random_range(0..10)).collect();
    let data = Dataset::new(Features::U8(pixels), 784, Targets::Classes { labels, num_classes: 10 }).unwrap();
    if std::env::args().nth(1).as_deref() == Some("augment") {
        return augment_cost(&data);
    }
    for (sizes, batch) in [(vec![784, 64, 10], 100), (vec![784, 256, 256, 10], 128), (vec![784, 1024, 1024, 10], 256)] {
        for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
            let spec = NetworkSpec::new(&sizes, Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap();
            let setup = TrainSetup {
                spec: spec.clone(),
                optimizer: OptimizerConfig::new(kind),
                regularization: Regularization::none(),
                keep: vec![],
                batch,
                seed: 0,
                augment: None,
            };
            let params = Init::HeNormal.init(&ParamLayout::new(&spec), 0).cast(|x| x as f32);
            let mut e = CpuEngine::<f32>::new(setup, params).unwrap();
            e.load_train(&data).unwrap();
            let epoch_len = if sizes[1] > 500 { 2560 } else { n };
            let order: Vec<u32> = (0..epoch_len as u32).collect();
            e.train_epoch(&order, 0.01).unwrap();
            let mut rates = vec![];
            for _ in 0..3 {
                let t = Instant::now();
                e.train_epoch(&order, 0.01).unwrap();
                rates.push(epoch_len as f64 / t.elapsed().as_secs_f64());
            }
            rates.sort_by(f64::total_cmp);
            let flops = 3.0 * spec.forward_flops() as f64 * rates[1];
            println!("{:<18} batch {batch:<4} {kind:<5} {:>9.0} samples/s  {:>6.1} GFLOP/s", spec.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-"), rates[1], flops / 1e9);
        }
    }
}

/// 784-64-10, batch 100, SGD: samples/s without augmentation and with each setting.
fn augment_cost(data: &Dataset) {
    let spec = NetworkSpec::new(&[784, 64, 10], Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap();
    let mut base = 0.0;
    for aug in ["none", "shift=2", "hflip", "noise=0.05", "rotate=10", "shift=2,noise=0.05,hflip,rotate=10"] {
        let setup = TrainSetup {
            spec: spec.clone(),
            optimizer: OptimizerConfig::new(OptimizerKind::Sgd),
            regularization: Regularization::none(),
            keep: vec![],
            batch: 100,
            seed: 0,
            augment: (aug != "none").then(|| aug.parse().unwrap()),
        };
        let params = Init::HeNormal.init(&ParamLayout::new(&spec), 0).cast(|x| x as f32);
        let mut e = CpuEngine::<f32>::new(setup, params).unwrap();
        e.load_train(data).unwrap();
        let order: Vec<u32> = (0..data.len as u32).collect();
        e.train_epoch(&order, 0.01).unwrap();
        let mut rates = vec![];
        for _ in 0..5 {
            let t = Instant::now();
            e.train_epoch(&order, 0.01).unwrap();
            rates.push(data.len as f64 / t.elapsed().as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        let rate = rates[4]; // best of 5
        if aug == "none" {
            base = rate;
        }
        // the kernel alone: one 100-row batch, many times
        let a: wgpu_mlp::data::Augment = aug.parse().unwrap();
        let mut x = vec![0.5f32; 100 * 784];
        // best of 7 rounds: the least disturbed by other work on a shared machine
        let reps = 40;
        let mut best = f64::INFINITY;
        for round in 0..7 {
            let t = Instant::now();
            for step in 0..reps {
                wgpu_mlp::cpu::augment::augment_batch(&a, 1, round * reps + step, (28, 28), &mut x);
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        let ns = best * 1e9 / (reps as f64 * 100.0 * 784.0);
        println!("784-64-10 batch 100 sgd  --augment {aug:<36} {rate:>9.0} samples/s  ({:.2}x of none)  kernel {ns:.1} ns/pixel", rate / base);
    }
}
