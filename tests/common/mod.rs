//! One GPU context per test binary (device creation is slow on lavapipe). Without an adapter a
//! test skips loudly, or fails when WGPU_MLP_REQUIRE_GPU=1 (CI).
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use wgpu::util::DeviceExt;
use wgpu_mlp::gpu::pipeline::Dispatch;
use wgpu_mlp::gpu::records::{RecordSlot, Step};
use wgpu_mlp::gpu::GpuContext;
use wgpu_mlp::model::{NetworkSpec, ParamLayout, Params};

static CTX: OnceLock<Option<Arc<GpuContext>>> = OnceLock::new();

pub fn gpu(test: &str) -> Option<Arc<GpuContext>> {
    let ctx = CTX
        .get_or_init(|| match GpuContext::request(true) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("GPU context failed: {e}");
                None
            }
        })
        .clone();
    if ctx.is_none() {
        if std::env::var("WGPU_MLP_REQUIRE_GPU").is_ok_and(|v| v == "1") {
            panic!("{test}: no GPU adapter, and WGPU_MLP_REQUIRE_GPU=1");
        }
        // straight to the process's stderr: libtest captures eprintln! of passing tests, and a
        // skip must be seen
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED {test}: no GPU adapter (set WGPU_MLP_REQUIRE_GPU=1 to make this a failure)");
    }
    ctx
}

/// Max |a − b| and max |a − b| / max(|b|, tiny); panics with the first mismatches when any
/// element is outside abs + rel·|b|.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let (mut max_abs, mut max_rel) = (0f32, 0f32);
    let mut bad = Vec::new();
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        max_abs = max_abs.max(d);
        max_rel = max_rel.max(d / w.abs().max(1e-30));
        if !(d <= abs + rel * w.abs()) {
            bad.push((i, g, w));
        }
    }
    if !bad.is_empty() {
        let first: Vec<String> = bad.iter().take(8).map(|(i, g, w)| format!("[{i}] gpu {g} cpu {w}")).collect();
        panic!("{what}: {} of {} outside abs {abs} + rel {rel}; max abs {max_abs:e}, max rel {max_rel:e}; first: {}",
            bad.len(), got.len(), first.join(", "));
    }
}

/// A step buffer with one record (offset 0, stat 0).
pub fn step(ctx: &GpuContext, rows: usize, step: u32, grad_scale: f32) -> wgpu::Buffer {
    let slot = RecordSlot::of(&Step::new(rows as u32, 0, step, 0, grad_scale));
    ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: bytemuck::bytes_of(&slot), usage: wgpu::BufferUsages::STORAGE })
}

/// Records `ds` in one pass and submits; device errors fail the test.
pub fn run(ctx: &GpuContext, ds: &[Dispatch], rows: usize) {
    ctx.scoped("test", || {
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for d in ds {
                d.record_into(&mut pass, 0, rows as u32);
            }
        }
        ctx.queue.submit([enc.finish()]);
    })
    .expect("dispatch");
}

/// Copies the first `n` floats of `b` back to the host (the engine's readback).
pub fn read(ctx: &GpuContext, b: &wgpu::Buffer, n: usize) -> Vec<f32> {
    let out = ctx.read_back(&[(b, 0, 4 * n as u64)]).expect("readback");
    bytemuck::cast_slice(&out[0]).to_vec()
}

/// Weights and biases drawn from U(±1/√fan_in), seeded.
pub fn params(spec: &NetworkSpec, seed: u64) -> Params<f32> {
    let layout = ParamLayout::new(spec);
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut p = Params::<f32>::zeros(&layout);
    for s in &layout.layers {
        let r = 1.0 / (s.inputs as f32).sqrt();
        for i in s.weight_range().chain(s.bias_range()) {
            p.data[i] = rng.random_range(-r..r);
        }
    }
    p
}
