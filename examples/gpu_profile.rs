//! Where a training step's time goes on the current adapter: builds the engine's step plan for
//! a network and times each dispatch alone (N copies in one pass), then the whole step.
//! `cargo run --release --example gpu_profile -- 784,64,10 100`

use std::time::Instant;
use wgpu_mlp::data::{Dataset, Features, Targets};
use wgpu_mlp::gpu::buffers::{storage, Buffers};
use wgpu_mlp::gpu::gather::{feature_bytes, target_words};
use wgpu_mlp::gpu::buffers::storage_init;
use bytemuck::Zeroable;
use wgpu_mlp::gpu::pipeline::Dispatch;
use wgpu_mlp::gpu::records::{RecordSlot, Step};
use wgpu_mlp::gpu::plan::{Ctx, DataBuffers, Kernels};
use wgpu_mlp::gpu::stats::stats_stride;
use wgpu_mlp::optim::UpdateParams;
use wgpu_mlp::gpu::optimizer::update_record;
use wgpu_mlp::gpu::GpuContext;
use wgpu_mlp::model::{Activation, Loss, NetworkSpec, ParamLayout};
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind, Regularization};
use wgpu_mlp::TrainSetup;

fn time(ctx: &GpuContext, ds: &[&Dispatch], reps: usize, rows: u32) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..reps {
                for d in ds {
                    d.record_into(&mut pass, 0, rows);
                }
            }
        }
        ctx.queue.submit([enc.finish()]);
        ctx.wait().expect("wait");
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    best
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<usize> = args.get(1).map_or("784,64,10", |s| s).split(',').map(|s| s.parse().expect("size")).collect();
    let batch: usize = args.get(2).map_or(100, |s| s.parse().expect("batch"));
    let reps: usize = args.get(3).map_or(20, |s| s.parse().expect("reps"));
    let t0 = Instant::now();
    let ctx = GpuContext::request(true)?.ok_or("no adapter")?;
    println!("adapter: {} ({:.2} s)", ctx.describe(), t0.elapsed().as_secs_f64());
    let spec = NetworkSpec::new(&sizes, Activation::Relu, Loss::SoftmaxCrossEntropy)?;
    let setup = TrainSetup { spec: spec.clone(), optimizer: OptimizerConfig::new(OptimizerKind::Adam), regularization: Regularization::none(), keep: vec![], batch, seed: 1 , augment: None, train_loss: Default::default()};
    let layout = ParamLayout::new(&spec);
    let t = Instant::now();
    let k = Kernels::new(&ctx.device).expect("kernels build");
    println!("pipelines: {:.2} s", t.elapsed().as_secs_f64());
    let b = Buffers::new(&ctx, &setup, &layout, batch.max(1024))?;
    let n = 4 * batch;
    let data = Dataset::new(Features::U8((0..n * sizes[0]).map(|i| (i * 7 % 256) as u8).collect()), sizes[0], Targets::Classes { labels: (0..n as u32).map(|i| i % 10).collect(), num_classes: 10 })?;
    let (tw_words, tw) = target_words(&data);
    let db = DataBuffers { features: storage_init(&ctx, "f", feature_bytes(&data))?, targets: storage_init(&ctx, "t", &tw_words)?, is_u8: true, tw, labels: true, len: n, augment: None };
    let perm = storage_init(&ctx, "perm", &(0..n as u32).collect::<Vec<_>>())?;
    let stats = storage(&ctx, "stats", 4 * stats_stride(spec.num_layers()) as u64 * 64)?;
    // the variants the tuner picks for this network (WGPU_MLP_TUNE=off: the hand-picked ones)
    let layers: Vec<(u32, u32)> = layout.layers.iter().map(|l| (l.outputs as u32, l.inputs as u32)).collect();
    let choices = wgpu_mlp::gpu::tune::choose(&ctx, &k.matmul, &wgpu_mlp::gpu::tune::run_shapes(&layers, batch as u32))?;
    for (shape, _, c) in &choices.report {
        println!("{shape}: {}", c.as_ref().map_or("untuned", |c| c.kernel.name()));
    }
    let c = Ctx { gpu: &ctx, k: &k, b: &b, setup: &setup, layout: &layout, key: 1, choices: &choices, eval_rows: batch as u32 };
    let step = c.train_step(&db, &perm, &stats);
    let mut words = vec![RecordSlot::zeroed(); b.records_per_step];
    words[0] = RecordSlot::of(&Step::new(batch as u32, 0, 0, 0, 1.0 / batch as f32));
    for (i, grid) in b.tensors.iter().enumerate() {
        let u = UpdateParams::new(&setup.optimizer, 1e-3, 1, 0.0, 0.0, false, i % 2 == 1);
        words[1 + i] = RecordSlot::of(&update_record(&u, grid, setup.optimizer.clip_norm.is_some()));
    }
    ctx.queue.write_buffer(&b.steps, 0, bytemuck::cast_slice(&words));
    let rows = batch as u32;
    let t = Instant::now();
    for (i, d) in step.iter().enumerate() {
        let t = Instant::now();
        time(&ctx, &[d], 1, rows);
        println!("cold {i:2} {:14} {:8.1} ms", d.label, t.elapsed().as_secs_f64() * 1e3);
    }
    println!("first step (cold): {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut total = 0.0;
    for (i, d) in step.iter().enumerate() {
        let s = time(&ctx, &[d], reps, rows);
        total += s;
        println!("{i:2} {:40} {:8.3} ms  grid {:?}", d.label, s * 1e3, d.grid);
    }
    let whole = time(&ctx, &step.iter().collect::<Vec<_>>(), reps, rows);
    println!("sum of parts {:.2} ms; whole step {:.2} ms -> {:.0} samples/s", total * 1e3, whole * 1e3, batch as f64 / whole);
    Ok(())
}
