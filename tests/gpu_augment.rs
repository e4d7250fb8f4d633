//! The augmenting GPU batch gather (shaders/gather.wgsl) against the CPU's gather_batch +
//! augment_batch (src/cpu/augment.rs), on real digits; and short GPU-vs-CPU training epochs with
//! augmentation on.
//!
//! Tolerance: shift and hflip only move whole u8 pixels, so the batch is bit-exact. Rotation and
//! noise go through the device's cos/sin/log/sqrt (Vulkan allows a few ulp, lavapipe's are close
//! to libm), and the sample coordinates may be fused (FMA) differently; every output is continuous
//! in those values, so the difference is a few ulp of the coordinates times the pixel gradient
//! (≤ 1 per pixel): measured max |gpu − cpu| is printed per case and asserted ≤ 1e-4.
//! Measured on lavapipe (61 digits × 784, 3 steps each): shift/hflip bit-exact; rotate=10
//! bit-exact; noise=0.05 ≤ 4.9e-7 (~15% of elements differ by an ulp or so: log/cos); rotate=180
//! ≤ 2.5e-6 (~1.5% of elements: cos/sin of larger angles). The 1e-4 bound leaves room for GPUs
//! whose transcendentals are only as accurate as Vulkan requires (abs 2^-11 for sin/cos).

mod common;

use wgpu_mlp::crosscheck::{lockstep, Tolerance};
use wgpu_mlp::optim::LrSchedule;
use wgpu_mlp::train::FitOptions;

use common::{params, read, run, step};

use rand::SeedableRng;
use std::sync::Arc;
use wgpu_mlp::cpu::augment::augment_batch;
use wgpu_mlp::cpu::gather::gather_batch;
use wgpu_mlp::cpu::CpuEngine;
use wgpu_mlp::data::{bundled_mnist, Augment, Dataset, Features, Targets};
use wgpu_mlp::gpu::buffers::storage_init;
use wgpu_mlp::gpu::gather::{feature_bytes, target_words, GatherBuffers, GatherDims, GatherKernel};
use wgpu_mlp::gpu::{GpuContext, GpuEngine};
use wgpu_mlp::model::{Activation, Loss, NetworkSpec};
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind, Regularization};
use wgpu_mlp::rng::seed_key;
use wgpu_mlp::{Engine, TrainSetup};

fn buf(ctx: &GpuContext, v: &[f32]) -> wgpu::Buffer {
    let w: Vec<u32> = v.iter().map(|x| x.to_bits()).collect();
    storage_init(ctx, "test", &w).expect("buffer")
}
fn words(ctx: &GpuContext, v: &[u32]) -> wgpu::Buffer {
    storage_init(ctx, "test", v).expect("buffer")
}

/// The first `n` bundled test digits.
fn digits(n: usize) -> Dataset {
    let all = bundled_mnist().expect("bundled mnist");
    let Features::U8(px) = &all.features else { panic!("u8 digits") };
    let Targets::Classes { labels, num_classes } = &all.targets else { panic!("labels") };
    Dataset::new(Features::U8(px[..n * all.dim].to_vec()), all.dim, Targets::Classes { labels: labels[..n].to_vec(), num_classes: *num_classes }).expect("dataset")
}

#[test]
fn augmenting_gather_matches_cpu() {
    let Some(ctx) = common::gpu("augmenting_gather_matches_cpu") else { return };
    let g = GatherKernel::new(&ctx.device).expect("kernels build");
    let data = digits(200);
    let dim = data.dim;
    let shape = (28usize, 28usize);
    // a permuted batch of 61 rows from 200 digits
    let order: Vec<u32> = (0..61u32).map(|i| (i * 73 + 5) % 200).collect();
    let rows = order.len();
    let (tw_words, tw) = target_words(&data);
    let (perm, fb, tb) = (words(&ctx, &order), storage_init(&ctx, "test", feature_bytes(&data)).expect("buffer"), words(&ctx, &tw_words));
    let (x, dropped, tgt) = (buf(&ctx, &vec![0.0; rows * dim]), buf(&ctx, &vec![0.0; rows * dim]), buf(&ctx, &vec![0.0; rows]));
    let key = seed_key(42);
    for (spec, exact) in [
        ("shift=2", true),
        ("hflip", true),
        ("shift=3,hflip", true),
        ("noise=0.05", false),
        ("rotate=10", false),
        ("rotate=180", false),
        ("shift=2,noise=0.05,hflip,rotate=10", false),
    ] {
        let aug: Augment = spec.parse().unwrap();
        for stp in [0u32, 7, 123_456] {
            let st = step(&ctx, rows, stp, 1.0);
            let d = GatherDims { dim: dim as u32, is_u8: true, tw, use_perm: true, keep: 1.0, key, augment: Some((aug, (28, 28))) };
            run(&ctx, &[g.dispatch(&ctx.device, &d, &GatherBuffers { step: &st, perm: &perm, features: &fb, targets_src: &tb, x: &x, dropped: &dropped, targets: &tgt })], rows);
            let (mut want, mut labels, mut vals) = (vec![0f32; rows * dim], Vec::new(), Vec::new());
            gather_batch(&data, &order, &mut want, &mut labels, &mut vals);
            let plain = want.clone();
            augment_batch(&aug, key, stp, shape, &mut want);
            assert_ne!(want, plain, "{spec}: the augmentation changed nothing");
            let got = read(&ctx, &x, rows * dim);
            let max = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
            eprintln!("{spec} step {stp}: max |gpu - cpu| = {max:e}, {differ} of {} elements not bit-equal", got.len());
            if exact {
                assert_eq!(got, want, "{spec} step {stp}: whole-pixel moves must be exact");
            } else {
                common::assert_close(&format!("{spec} step {stp}"), &got, &want, 0.0, 1e-4);
            }
        }
    }
    // augmentation then dropout, as the CPU engine does
    let aug: Augment = "shift=1,hflip".parse().unwrap();
    let st = step(&ctx, rows, 3, 1.0);
    let d = GatherDims { dim: dim as u32, is_u8: true, tw, use_perm: true, keep: 0.75, key, augment: Some((aug, (28, 28))) };
    run(&ctx, &[g.dispatch(&ctx.device, &d, &GatherBuffers { step: &st, perm: &perm, features: &fb, targets_src: &tb, x: &x, dropped: &dropped, targets: &tgt })], rows);
    let (mut want, mut labels, mut vals) = (vec![0f32; rows * dim], Vec::new(), Vec::new());
    gather_batch(&data, &order, &mut want, &mut labels, &mut vals);
    augment_batch(&aug, key, 3, shape, &mut want);
    assert_eq!(read(&ctx, &x, rows * dim), want);
    wgpu_mlp::cpu::dropout::dropout_apply(key, 3, 0, 0.75, &mut want);
    assert_eq!(read(&ctx, &dropped, rows * dim), want, "dropout of the augmented input");
}


/// Same tolerance as tests/gpu_training.rs (params abs 2e-5 + rel 1e-3 after 2 epochs).
#[test]
fn augmented_training_matches_cpu() {
    let Some(ctx): Option<Arc<GpuContext>> = common::gpu("augmented_training_matches_cpu") else { return };
    const N: usize = 37;
    let data = digits(N);
    for (name, aug, opt) in [
        ("shift+hflip sgd", "shift=2,hflip", OptimizerKind::Sgd),
        ("all adam", "shift=2,noise=0.05,hflip,rotate=10", OptimizerKind::Adam),
    ] {
        let spec = NetworkSpec::new(&[784, 16, 10], Activation::Relu, Loss::SoftmaxCrossEntropy).expect("spec");
        let setup = TrainSetup {
            spec: spec.clone(), optimizer: OptimizerConfig::new(opt), regularization: Regularization::none(), keep: vec![], batch: 8, seed: 11,
            augment: Some(aug.parse().unwrap()),
        };
        let p = params(&spec, 3);
        let orders: Vec<Vec<u32>> = (0..2u32).map(|e| (0..N as u32).map(|i| (i * 17 + e * 5) % N as u32).collect()).collect();
        let mut g = GpuEngine::new(ctx.clone(), setup.clone(), &p).expect("gpu engine");
        g.load_train(&data).expect("load");
        let sg: Vec<_> = orders.iter().map(|o| g.train_epoch(o, 0.05).expect("epoch")).collect();
        let pg = g.params().expect("params");
        let mut c = CpuEngine::<f32>::new(setup.clone(), p.clone()).expect("cpu engine");
        c.load_train(&data).expect("load");
        let sc: Vec<_> = orders.iter().map(|o| c.train_epoch(o, 0.05).expect("epoch")).collect();
        let pc = c.params().expect("params");
        if opt == OptimizerKind::Sgd {
            common::assert_close(&format!("{name}: params"), &pg.data, &pc.data, 1e-3, 2e-5);
        } else {
            // Adam's free runs part by an ulp's luck (an element whose gradient cancels moves a
            // whole step either way; seen on GL): judge every step in lockstep instead
            let fit = FitOptions { epochs: 2, lr: 0.05, schedule: LrSchedule::Constant, seed: 11, ..FitOptions::default() };
            let r = lockstep(Some(ctx.clone()), &setup, &fit, &p, &data, 10, Tolerance::LOCKSTEP).expect("lockstep");
            assert!(r.passed(), "{name}: lockstep first outside at step {:?}: {:?}", r.first_bad_step, r.tensors);
        }
        for (a, b) in sg.iter().zip(&sc) {
            assert!((a.loss_sum - b.loss_sum).abs() <= 1e-5 * b.loss_sum.abs() + 1e-5, "{name}: loss gpu {} cpu {}", a.loss_sum, b.loss_sum);
            assert_eq!((a.correct, a.samples, a.steps), (b.correct, b.samples, b.steps), "{name}: counts");
        }
        // without augmentation the parameters come out different: the augmentation did something
        let mut plain = setup.clone();
        plain.augment = None;
        let mut g2 = GpuEngine::new(ctx.clone(), plain, &p).expect("gpu engine");
        g2.load_train(&data).expect("load");
        for o in &orders {
            g2.train_epoch(o, 0.05).expect("epoch");
        }
        assert_ne!(g2.params().expect("params").data, pg.data, "{name}: augmentation had no effect");
        // evaluation never augments: GPU and CPU evaluate the trained parameters alike
        let (eg, ec) = (g.evaluate(&data).expect("eval"), c.evaluate(&data).expect("eval"));
        assert!((eg.loss_sum - ec.loss_sum).abs() <= 1e-4 * ec.loss_sum.abs() + 1e-5, "{name}: eval loss {} vs {}", eg.loss_sum, ec.loss_sum);
    }
}

/// Non-square images (H ≠ W) index rows and columns the right way round.
#[test]
fn non_square_images_match_cpu() {
    let Some(ctx) = common::gpu("non_square_images_match_cpu") else { return };
    use rand::Rng;
    let g = GatherKernel::new(&ctx.device).expect("kernels build");
    let (h, w, len) = (9usize, 14usize, 23usize);
    let dim = h * w;
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut data = Dataset::new(Features::U8((0..len * dim).map(|_| r.random()).collect()), dim, Targets::Classes { labels: vec![0; len], num_classes: 2 }).expect("dataset");
    data.image_shape = Some((h, w));
    let order: Vec<u32> = (0..len as u32).rev().collect();
    let (tw_words, tw) = target_words(&data);
    let (perm, fb, tb) = (words(&ctx, &order), storage_init(&ctx, "test", feature_bytes(&data)).expect("buffer"), words(&ctx, &tw_words));
    let (x, dropped, tgt) = (buf(&ctx, &vec![0.0; len * dim]), buf(&ctx, &vec![0.0; len * dim]), buf(&ctx, &vec![0.0; len]));
    for spec in ["shift=2,hflip", "shift=1,noise=0.1,hflip,rotate=30"] {
        let aug: Augment = spec.parse().unwrap();
        let st = step(&ctx, len, 5, 1.0);
        let d = GatherDims { dim: dim as u32, is_u8: true, tw, use_perm: true, keep: 1.0, key: 9, augment: Some((aug, (h as u32, w as u32))) };
        run(&ctx, &[g.dispatch(&ctx.device, &d, &GatherBuffers { step: &st, perm: &perm, features: &fb, targets_src: &tb, x: &x, dropped: &dropped, targets: &tgt })], len);
        let (mut want, mut labels, mut vals) = (vec![0f32; len * dim], Vec::new(), Vec::new());
        gather_batch(&data, &order, &mut want, &mut labels, &mut vals);
        augment_batch(&aug, 9, 5, (h, w), &mut want);
        common::assert_close(spec, &read(&ctx, &x, len * dim), &want, 0.0, 1e-4);
    }
}

/// Augmentation on real-valued features is refused when the training set is loaded, as on the CPU.
#[test]
fn non_image_data_is_refused() {
    let Some(ctx) = common::gpu("non_image_data_is_refused") else { return };
    let spec = NetworkSpec::new(&[5, 3, 2], Activation::Relu, Loss::SoftmaxCrossEntropy).expect("spec");
    let setup = TrainSetup {
        spec: spec.clone(), optimizer: OptimizerConfig::new(OptimizerKind::Sgd), regularization: Regularization::none(), keep: vec![], batch: 4, seed: 1,
        augment: Some("noise=0.1".parse().unwrap()),
    };
    let data = Dataset::new(Features::F32(vec![0.5; 10]), 5, Targets::Classes { labels: vec![0, 1], num_classes: 2 }).expect("dataset");
    let mut g = GpuEngine::new(ctx, setup, &params(&spec, 1)).expect("gpu engine");
    let err = g.load_train(&data).expect_err("augmenting real-valued features");
    assert!(err.to_string().contains("needs image data"), "{err}");
}
