//! Quick CPU-engine throughput probe: samples/s for the configs on random u8 data.
//! cargo run --release --example cpu_speed

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
