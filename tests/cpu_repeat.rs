//! CPU runs repeat bit for bit: run to run, and at any thread count (the GEMM splits its work
//! over output blocks only; every reduction has a fixed order).

use rand::{Rng, SeedableRng};
use wgpu_mlp::cpu::CpuEngine;
use wgpu_mlp::data::{Dataset, Features, Targets};
use wgpu_mlp::engine::{Engine, EpochStats, TrainSetup};
use wgpu_mlp::model::{Activation, Init, Loss, NetworkSpec, ParamLayout};
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind, Regularization};

/// Two epochs of a network big enough that its GEMMs take the threaded path; returns the final
/// parameters' bits and the epoch statistics.
fn train(threads: usize, kind: OptimizerKind) -> (Vec<u32>, Vec<EpochStats>) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let (n, dim) = (600, 784);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let pixels: Vec<u8> = (0..n * dim).map(|_| rng.random()).collect();
        let labels: Vec<u32> = (0..n).map(|_| rng.random_range(0..10)).collect();
        let data = Dataset::new(Features::U8(pixels), dim, Targets::Classes { labels, num_classes: 10 }).unwrap();
        let spec = NetworkSpec::new(&[dim, 512, 256, 10], Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap();
        let mut reg = Regularization::none();
        reg.l2 = vec![1e-4; 3];
        let setup = TrainSetup {
            spec: spec.clone(),
            optimizer: OptimizerConfig::new(kind),
            regularization: reg,
            keep: vec![0.9, 0.8],
            batch: 200,
            seed: 3, augment: None, train_loss: Default::default()
        };
        let params = Init::HeNormal.init(&ParamLayout::new(&spec), 1).cast(|x| x as f32);
        let mut e = CpuEngine::<f32>::new(setup, params).unwrap();
        e.load_train(&data).unwrap();
        let order: Vec<u32> = (0..n as u32).rev().collect();
        let stats = (0..2).map(|_| e.train_epoch(&order, 0.01).unwrap()).collect();
        (e.params().unwrap().data.iter().map(|x| x.to_bits()).collect(), stats)
    })
}

#[test]
fn training_is_bitwise_repeatable_at_any_thread_count() {
    for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        let one = train(1, kind);
        assert_eq!(one, train(1, kind), "{kind}: two single-thread runs differ");
        for threads in [2, 3] {
            let many = train(threads, kind);
            let first = one.0.iter().zip(&many.0).position(|(a, b)| a != b);
            assert_eq!(first, None, "{kind}: {threads} threads change parameter {first:?}");
            assert_eq!(one.1, many.1, "{kind}: {threads} threads change the epoch statistics");
        }
    }
}
