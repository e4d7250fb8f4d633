//! GPU engine benchmarks on the adapter `--device gpu` would pick (lavapipe included), the twins
//! of benches/cpu.rs: every variant of the three matmul forms with their fused epilogues (the
//! candidates the tuner times, src/gpu/tune), training steps of
//! configs A, B and C, and the fused optimizer updates. Throughput is declared in FLOPs or bytes,
//! so criterion's "thrpt" reads as GFLOP/s ("Gelem/s") or GB/s.
//!
//!     cargo bench --bench gpu
//!
//! Kernel timings record `iters` dispatches in one pass and wait once, so they measure the
//! kernels, not one submission per dispatch. Without an adapter the bench says so and exits.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wgpu::util::DeviceExt;
use wgpu_mlp::bench::{bench_setup, train_flops_per_sample, NETS};
use wgpu_mlp::optim::UpdateParams;
use wgpu_mlp::data::bundled_mnist;
use wgpu_mlp::engine::Engine;
use wgpu_mlp::gpu::buffers::storage;
use wgpu_mlp::gpu::matmul::{Form, MatmulBuffers, MatmulDims, MatmulKernels};
use wgpu_mlp::gpu::records::{RecordSlot, Step};
use wgpu_mlp::gpu::optimizer::{tensor_grids, update_record, OptimizerBuffers, OptimizerKernel};
use wgpu_mlp::gpu::pipeline::Dispatch;
use wgpu_mlp::gpu::{GpuContext, GpuEngine};
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind};

/// (M, K, N): cubes and the real layer shapes (batch × in → out) of configs A, B, C.
const SHAPES: [(u32, u32, u32); 7] =
    [(64, 64, 64), (256, 256, 256), (1024, 1024, 1024), (100, 784, 64), (128, 784, 256), (256, 784, 1024), (256, 1024, 1024)];

/// Training steps per timed iteration: an epoch of this many batches, ending in its one readback.
const STEPS: usize = 10;

fn context() -> Option<Arc<GpuContext>> {
    match GpuContext::request(true) {
        Ok(Some(ctx)) => {
            eprintln!("gpu benches on {}", ctx.describe());
            Some(ctx)
        }
        Ok(None) => {
            eprintln!("gpu benches SKIPPED: no GPU adapter");
            None
        }
        Err(e) => {
            eprintln!("gpu benches SKIPPED: {e}");
            None
        }
    }
}

/// A step buffer whose record says `rows` rows.
fn step_record(ctx: &GpuContext, rows: u32) -> wgpu::Buffer {
    let mut w = [0u32; 64];
    w[0] = rows;
    w[4] = (1.0f32 / rows as f32).to_bits();
    ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: bytemuck::cast_slice(&w),
        usage: wgpu::BufferUsages::STORAGE,
    })
}

/// Wall time of `iters` copies of `d` recorded in one pass, one submit and one wait.
fn time_dispatches(ctx: &GpuContext, d: &Dispatch, rows: u32, iters: u64) -> Duration {
    let t = Instant::now();
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        for _ in 0..iters {
            d.record_into(&mut pass, 0, rows);
        }
    }
    ctx.queue.submit([enc.finish()]);
    ctx.wait().expect("device");
    t.elapsed()
}

fn matmul(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let mm = MatmulKernels::new(&ctx.device).expect("kernels build");
    let mut g = c.benchmark_group("gpu_matmul");
    g.sampling_mode(SamplingMode::Flat);
    for (m, k, n) in SHAPES {
        let id = format!("{m}x{k}x{n}");
        let bytes = 4 * [m * k, n * k, m * n].into_iter().max().unwrap_or(1) as u64;
        let buf = |name| storage(&ctx, name, bytes).expect("buffer");
        let (params, x, dz, out, aux) = (buf("params"), buf("x"), buf("dz"), buf("out"), buf("aux"));
        let st = step_record(&ctx, m);
        let bufs = MatmulBuffers { step: &st, params: &params, x: &x, dz: &dz, out: &out, aux: &aux };
        g.throughput(Throughput::Elements(2 * (m as u64 * k as u64 * n as u64)));
        // the forms as training uses them: forward with bias + ReLU, backward with ReLU'
        // every variant the adapter admits, as the tuner would time them
        for (form, dims) in [
            (Form::Abt, MatmulDims { n, k, act: 1, keep: 1.0, ..Default::default() }),
            (Form::Ab, MatmulDims { n, k, act: 1, keep: 1.0, ..Default::default() }),
            (Form::Atb, MatmulDims { n, k, keep: 1.0, ..Default::default() }),
        ] {
            for kernel in form.candidates(&ctx.limits) {
                let d = mm.dispatch(&ctx.device, form, kernel, &dims, &bufs);
                let name = format!("{}/{}", form.name(), kernel.name());
                g.bench_function(BenchmarkId::new(name, &id), |b| b.iter_custom(|iters| time_dispatches(&ctx, &d, m, iters)));
            }
        }
    }
    g.finish();
}

fn train_step(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let data = bundled_mnist().expect("bundled digits");
    let mut g = c.benchmark_group("gpu_train_steps");
    g.sampling_mode(SamplingMode::Flat);
    for net in NETS {
        for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
            let (setup, params) = bench_setup(net, kind).expect("setup");
            let mut e = GpuEngine::new(ctx.clone(), setup, &params).expect("engine");
            e.load_train(&data).expect("data");
            let order: Vec<u32> = (0..(STEPS * net.batch) as u32).collect();
            g.throughput(Throughput::Elements((train_flops_per_sample(net.sizes) * order.len() as f64) as u64));
            let id = BenchmarkId::new(format!("{}_{kind}", net.name), format!("{STEPS}x_batch{}", net.batch));
            g.bench_function(id, |b| b.iter(|| e.train_epoch(&order, 1e-4).expect("steps")));
        }
    }
    g.finish();
}

fn optimizer(c: &mut Criterion) {
    let Some(ctx) = context() else { return };
    let kernel = OptimizerKernel::new(&ctx.device).expect("kernels build");
    let n = 1u32 << 20;
    let bytes = 4 * n as u64;
    let buf = |name| storage(&ctx, name, bytes).expect("buffer");
    let (params, grads, slot0, slot1) = (buf("params"), buf("grads"), buf("slot0"), buf("slot1"));
    let mut g = c.benchmark_group("gpu_optimizer_update");
    g.sampling_mode(SamplingMode::Flat);
    for kind in [OptimizerKind::Sgd, OptimizerKind::Momentum, OptimizerKind::Rmsprop, OptimizerKind::Adam] {
        let cfg = OptimizerConfig::new(kind);
        let u = UpdateParams::new(&cfg, 1e-3, 10, 1e-4, 0.0, false, false);
        // record 0: the step; record 1: the one tensor (with its norm partials, as weights have)
        let (grids, partial_floats) = tensor_grids(&[(0, n, true)]);
        let recs = [RecordSlot::of(&Step::new(1, 0, 0, 0, 0.0)), RecordSlot::of(&update_record(&u, &grids[0], false))];
        let st = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: bytemuck::cast_slice(&recs), usage: wgpu::BufferUsages::STORAGE });
        let partials = storage(&ctx, "partials", 4 * partial_floats as u64).expect("buffer");
        let clip = storage(&ctx, "clip", 16).expect("buffer");
        let d = kernel.dispatches(&ctx.device, &grids, ctx.limits.max_compute_workgroups_per_dimension, None, &OptimizerBuffers {
            step: &st,
            params: &params,
            grads: &grads,
            slot0: &slot0,
            slot1: &slot1,
            partials: &partials,
            clip: &clip,
        }).remove(0);
        // bytes moved: read w, g and each slot, write w and each slot
        g.throughput(Throughput::Bytes(4 * n as u64 * (3 + 2 * cfg.state_slots() as u64)));
        g.bench_function(BenchmarkId::new(kind.to_string(), n), |b| b.iter_custom(|iters| time_dispatches(&ctx, &d, 1, iters)));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // software adapters run 1024³ in about half a second: few samples, flat sampling
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = matmul, train_step, optimizer
}
criterion_main!(benches);
