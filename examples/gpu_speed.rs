//! GPU engine speed on whatever adapter `--device gpu` would pick (lavapipe included): matmul
//! GFLOP/s per form at 1024³, time to the first training step, and training samples/s of
//! GpuEngine vs CpuEngine<f32> on random u8 data. `cargo run --release --example gpu_speed`

use rand::{Rng, SeedableRng};
use std::time::Instant;
use wgpu::util::DeviceExt;
use wgpu_mlp::cpu::CpuEngine;
use wgpu_mlp::data::{Dataset, Features, Targets};
use wgpu_mlp::gpu::buffers::storage;
use wgpu_mlp::gpu::matmul::{Form, MatmulBuffers, MatmulDims, MatmulKernels};
use wgpu_mlp::gpu::{GpuContext, GpuEngine};
use wgpu_mlp::model::{Activation, Loss, NetworkSpec, ParamLayout, Params};
use wgpu_mlp::optim::{OptimizerConfig, Regularization};
use wgpu_mlp::{Engine, TrainSetup};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(ctx) = GpuContext::request(true)? else {
        eprintln!("no GPU adapter");
        return Ok(());
    };
    println!("adapter: {}", ctx.describe());
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("host: {threads} CPU threads");

    // matmul, each form at M = N = K = 1024
    let n = 1024u32;
    let mm = MatmulKernels::new(&ctx.device).expect("kernels build");
    let bytes = 4 * (n * n) as u64;
    let (a, b, c, aux) = (storage(&ctx, "a", bytes)?, storage(&ctx, "b", bytes)?, storage(&ctx, "c", bytes)?, storage(&ctx, "aux", bytes)?);
    let mut rec = [0u32; 64];
    rec[0] = n;
    let st = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: bytemuck::cast_slice(&rec), usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::STORAGE });
    for (form, name) in [(Form::Abt, "A·Bᵀ + bias + relu (forward)"), (Form::Ab, "A·B · relu' (backward to input)"), (Form::Atb, "Aᵀ·B (weight gradient)")] {
        let dims = MatmulDims { n, k: n, act: 1, keep: 1.0, ..Default::default() };
        let bufs = MatmulBuffers { step: &st, params: &b, x: &a, dz: &a, out: &c, aux: &aux };
        let d = mm.dispatch(&ctx.device, form, form.untuned(n, n), &dims, &bufs);
        let reps = 3;
        let mut best = f64::MAX;
        for _ in 0..=reps {
            let t = Instant::now();
            let mut enc = ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                d.record_into(&mut pass, 0, n);
            }
            ctx.queue.submit([enc.finish()]);
            ctx.wait()?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        let gflops = 2.0 * (n as f64).powi(3) / best / 1e9;
        println!("matmul 1024³ {name:34}: {gflops:6.1} GFLOP/s ({:.1} ms)", best * 1e3);
    }

    for (sizes, batch, samples) in [(&[784usize, 64, 10][..], 100usize, 6000usize), (&[784, 256, 256, 10][..], 128, 3072), (&[784, 1024, 1024, 10][..], 256, 1024)] {
        let spec = NetworkSpec::new(sizes, Activation::Relu, Loss::SoftmaxCrossEntropy)?;
        let setup = TrainSetup { spec: spec.clone(), optimizer: OptimizerConfig::new(wgpu_mlp::optim::OptimizerKind::Adam), regularization: Regularization::none(), keep: vec![], batch, seed: 1 , augment: None, train_loss: Default::default()};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let layout = ParamLayout::new(&spec);
        let mut p = Params::<f32>::zeros(&layout);
        for x in p.data.iter_mut() {
            *x = rng.random_range(-0.05..0.05);
        }
        let data = Dataset::new(
            Features::U8((0..samples * 784).map(|_| rng.random()).collect()),
            784,
            Targets::Classes { labels: (0..samples).map(|_| rng.random_range(0..10)).collect(), num_classes: 10 },
        )?;
        let order: Vec<u32> = (0..samples as u32).collect();

        let mut g = GpuEngine::new(ctx.clone(), setup.clone(), &p)?;
        g.load_train(&data)?;
        g.train_epoch(&order, 0.01)?; // first epoch: includes the timed first step
        let rb0 = g.readbacks();
        let t = Instant::now();
        g.train_epoch(&order, 0.01)?;
        let gpu_rate = samples as f64 / t.elapsed().as_secs_f64();
        let rb = g.readbacks() - rb0;

        let mut c = CpuEngine::<f32>::new(setup, p)?;
        c.load_train(&data)?;
        let t = Instant::now();
        c.train_epoch(&order, 0.01)?;
        let cpu_rate = samples as f64 / t.elapsed().as_secs_f64();
        let flops = 3.0 * spec.forward_flops() as f64; // forward + two backward products
        println!(
            "{:16} batch {batch:3}: gpu {gpu_rate:8.0} samples/s ({:5.1} GFLOP/s), cpu<f32> {cpu_rate:8.0} samples/s ({:5.1} GFLOP/s); \
             setup {:.2} s, first step after {:.2} s; {rb} readback(s) per epoch",
            sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-"),
            gpu_rate * flops / 1e9,
            cpu_rate * flops / 1e9,
            g.setup_time().as_secs_f64(),
            g.time_to_first_step().map_or(f64::NAN, |d| d.as_secs_f64()),
        );
    }
    Ok(())
}
