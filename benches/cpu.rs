//! CPU engine benchmarks. Throughput is declared in FLOPs (matmul, training step) or bytes
//! (optimizer update), so criterion's "thrpt" reads directly as GFLOP/s ("Gelem/s") or GB/s.
//!
//!     cargo bench --bench cpu

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use wgpu_mlp::bench::{bench_setup, train_flops_per_sample, NETS};
use wgpu_mlp::cpu::matmul::{matmul_ab, matmul_abt, matmul_atb};
use wgpu_mlp::cpu::optimizer::optimizer_update;
use wgpu_mlp::optim::UpdateParams;
use wgpu_mlp::cpu::CpuEngine;
use wgpu_mlp::data::bundled_mnist;
use wgpu_mlp::engine::Engine;
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind};

/// (M, K, N): cubes and the real layer shapes (batch × in → out) of configs A, B, C.
const SHAPES: [(usize, usize, usize); 7] =
    [(64, 64, 64), (256, 256, 256), (1024, 1024, 1024), (100, 784, 64), (128, 784, 256), (256, 784, 1024), (256, 1024, 1024)];

fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 1000.0).collect()
}

fn matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("cpu_matmul");
    for (m, k, n) in SHAPES {
        let id = format!("{m}x{k}x{n}");
        g.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        let (a, w, dz) = (values(m * k), values(n * k), values(m * n));
        let mut out = vec![0f32; (m * n).max(m * k).max(n * k)];
        let mut scratch = Vec::new();
        g.bench_function(BenchmarkId::new("abt", &id), |b| b.iter(|| matmul_abt(m, k, n, black_box(&a), &w, &mut out[..m * n], false, &mut scratch)));
        g.bench_function(BenchmarkId::new("ab", &id), |b| b.iter(|| matmul_ab(m, n, k, black_box(&dz), &w, &mut out[..m * k])));
        g.bench_function(BenchmarkId::new("atb", &id), |b| b.iter(|| matmul_atb(m, n, k, black_box(&dz), &a, &mut out[..n * k])));
    }
    g.finish();
}

fn train_step(c: &mut Criterion) {
    let data = bundled_mnist().expect("bundled digits");
    let mut g = c.benchmark_group("cpu_train_step");
    for net in NETS {
        for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
            let (setup, params) = bench_setup(net, kind).expect("setup");
            let mut e = CpuEngine::<f32>::new(setup, params).expect("engine");
            e.load_train(&data).expect("data");
            let order: Vec<u32> = (0..net.batch as u32).collect();
            g.throughput(Throughput::Elements((train_flops_per_sample(net.sizes) * net.batch as f64) as u64));
            g.bench_function(BenchmarkId::new(format!("{}_{kind}", net.name), format!("batch{}", net.batch)), |b| {
                b.iter(|| e.train_epoch(black_box(&order), 1e-4).expect("step"))
            });
        }
    }
    g.finish();
}

fn optimizer(c: &mut Criterion) {
    let n = 1 << 20;
    let mut g = c.benchmark_group("cpu_optimizer_update");
    for kind in [OptimizerKind::Sgd, OptimizerKind::Momentum, OptimizerKind::Rmsprop, OptimizerKind::Adam] {
        let cfg = OptimizerConfig::new(kind);
        let u = UpdateParams::new(&cfg, 1e-3, 10, 1e-4, 0.0, false, false);
        let (mut w, grad, mut s0, mut s1) = (values(n), values(n), vec![0f32; n], vec![0f32; n]);
        let slots = cfg.state_slots();
        // bytes moved: read w, g and each slot, write w and each slot
        g.throughput(Throughput::Bytes((4 * n * (3 + 2 * slots)) as u64));
        g.bench_function(BenchmarkId::new(kind.to_string(), n), |b| {
            b.iter(|| {
                let (a, c) = match slots {
                    0 => (&mut [][..], &mut [][..]),
                    1 => (&mut s0[..], &mut [][..]),
                    _ => (&mut s0[..], &mut s1[..]),
                };
                optimizer_update(&u, &mut w, black_box(&grad), a, c)
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(2));
    targets = matmul, train_step, optimizer
}
criterion_main!(benches);
