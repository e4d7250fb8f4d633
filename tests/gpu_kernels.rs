//! Every kernel against its CPU twin on random data. Tolerance: |gpu − cpu| ≤ 1e-5 + 1e-4·|cpu|
//! (burn's GPU-vs-reference bounds). Inputs use the scales of real layers (activations in [0, 1),
//! weights ±1/√K), where f32 sums in another order differ by ~1e-7; tanh/sigmoid/exp on the
//! device differ from libm by a few ulp. Bit-exact kernels (gather, bias_grad) assert equality.

mod common;

use common::{read, run, step};

use rand::{Rng, SeedableRng};
use std::sync::Arc;
use wgpu::util::DeviceExt;
use wgpu_mlp::cpu::activation::{act_backward, bias_act};
use wgpu_mlp::cpu::dropout::dropout_apply;
use wgpu_mlp::cpu::gather::gather_batch;
use wgpu_mlp::cpu::loss::{loss_forward_backward, training_loss, BatchTargets};
use wgpu_mlp::engine::TrainLoss;
use wgpu_mlp::cpu::matmul::{matmul_ab, matmul_abt, matmul_atb};
use wgpu_mlp::cpu::optimizer::optimizer_update;
use wgpu_mlp::optim::{clip_coefficient, UpdateParams};
use wgpu_mlp::cpu::reduce::{bias_grad, grad_norm, penalty, unit_stats};
use wgpu_mlp::data::{Dataset, Features, Targets};
use wgpu_mlp::gpu::buffers::storage_init;
use wgpu_mlp::gpu::gather::{feature_bytes, target_words, GatherBuffers, GatherDims, GatherKernel};
use wgpu_mlp::gpu::loss::{LossBuffers, LossKernel, LossMode};
use wgpu_mlp::gpu::matmul::{Form, MatmulBuffers, MatmulDims, MatmulKernel, MatmulKernels};
use wgpu_mlp::gpu::records::{RecordSlot, Step};
use wgpu_mlp::gpu::optimizer::{clip_floats, tensor_grids, update_record, OptimizerBuffers, OptimizerKernel};
use wgpu_mlp::gpu::reduce::{ReduceBuffers, ReduceKernels, SumJob};
use wgpu_mlp::gpu::GpuContext;
use wgpu_mlp::model::{Activation, Loss};
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind};

const REL: f32 = 1e-4;
const ABS: f32 = 1e-5;

fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}
fn uniform(r: &mut impl Rng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}
fn buf(ctx: &GpuContext, v: &[f32]) -> wgpu::Buffer {
    let w: Vec<u32> = v.iter().map(|x| x.to_bits()).collect();
    storage_init(ctx, "test", &w).expect("buffer")
}
fn words(ctx: &GpuContext, v: &[u32]) -> wgpu::Buffer {
    storage_init(ctx, "test", v).expect("buffer")
}

const ACTS: [Option<Activation>; 6] =
    [None, Some(Activation::Identity), Some(Activation::Relu), Some(Activation::LeakyRelu(0.1)), Some(Activation::Tanh), Some(Activation::Sigmoid)];
/// (M, K, N): edge shapes and real layer shapes
/// (M, K, N). K % 4 == 0 takes the vec4 module, and with N % 4 == 0 too the one that also reads
/// dz as vec4 (N = 12: the second row quad of atb past N); (9, 7, 4) has N % 4 == 0 but not K.
/// N >= 128 with K % 4 == 0 takes abt's 16-column module ((65, 12, 130): its last block clamped).
/// (1, 4, 1), (2, 8, 3), (3, 4, 5): the vec4 modules, compiled without bounds checks, at one row,
/// one K quad and N below a quad.
const SHAPES: [(usize, usize, usize); 14] = [
    (1, 1, 1), (7, 13, 5), (63, 65, 33), (129, 784, 64), (100, 784, 10), (128, 256, 256), (5, 10, 13), (33, 1024, 10),
    (37, 20, 12), (9, 7, 4), (65, 12, 130), (1, 4, 1), (2, 8, 3), (3, 4, 5),
];

/// Every output of one kernel variant at one shape, checked against the CPU twin; returned so the
/// variants can be compared with each other bit for bit.
fn matmul_case(ctx: &Arc<GpuContext>, mm: &MatmulKernels, kernel: MatmulKernel, (m, k, n): (usize, usize, usize), seed: u64) -> Vec<(String, Vec<f32>)> {
    let mut r = rng(seed);
    let s = 1.0 / (k as f32).sqrt();
    let x = uniform(&mut r, m * k, 0.0, 1.0);
    let w_off = 8; // tensors start at multiples of 4 in the flat buffer
    let b_off = (w_off + n * k).next_multiple_of(4);
    let mut params = vec![0f32; b_off + n.next_multiple_of(4) + 4];
    params[w_off..w_off + n * k].copy_from_slice(&uniform(&mut r, n * k, -s, s));
    params[b_off..b_off + n].copy_from_slice(&uniform(&mut r, n, -0.5, 0.5));
    let (w, bias) = (params[w_off..w_off + n * k].to_vec(), params[b_off..b_off + n].to_vec());
    let dz = uniform(&mut r, m * n, -1.0, 1.0);
    let h = uniform(&mut r, m * k, 0.0, 1.0);
    let (pb, xb, dzb, hb) = (buf(ctx, &params), buf(ctx, &x), buf(ctx, &dz), buf(ctx, &h));
    let dummy = buf(ctx, &[0.0; 4]);
    let st = step(ctx, m, 3, 1.0);
    let key = 0x1234_5678;
    // every dispatch of the case in one submission and one readback (GL reads back slowly)
    let mut dispatches = Vec::new();
    let mut checks: Vec<(String, wgpu::Buffer, Vec<f32>)> = Vec::new();
    // abt with every epilogue, with and without the dropped copy
    for (i, act) in ACTS.iter().enumerate() {
        let keep = if i % 2 == 0 { 0.7 } else { 1.0 };
        let dims = MatmulDims { n: n as u32, k: k as u32, w_off: w_off as u32, b_off: b_off as u32, act: act.map_or(0, |a| a.code()), slope: act.map_or(0.0, |a| a.slope()), layer: 2, key, keep };
        let (out, aux) = (buf(ctx, &vec![0.0; m * n]), buf(ctx, &vec![0.0; m * n]));
        dispatches.push(mm.dispatch(&ctx.device, Form::Abt, kernel, &dims, &MatmulBuffers { step: &st, params: &pb, x: &xb, dz: &dummy, out: &out, aux: &aux }));
        let mut want = vec![0f32; m * n];
        matmul_abt(m, k, n, &x, &w, &mut want, false, &mut Vec::new());
        bias_act(m, n, &bias, *act, &mut want);
        let what = format!("abt {m}x{k}x{n} {act:?} ({})", kernel.name());
        checks.push((what.clone(), out, want.clone()));
        if keep < 1.0 {
            dropout_apply(key, 3, 2, keep, &mut want);
            checks.push((format!("{what} dropped"), aux, want));
        }
    }
    // ab with every derivative epilogue, with and without dropout
    for (i, act) in ACTS.iter().enumerate() {
        let act = act.unwrap_or(Activation::Identity);
        let keep = if i % 2 == 1 { 0.6 } else { 1.0 };
        let dims = MatmulDims { n: n as u32, k: k as u32, w_off: w_off as u32, act: act.code(), slope: act.slope(), layer: 1, key, keep, ..Default::default() };
        let out = buf(ctx, &vec![0.0; m * k]);
        dispatches.push(mm.dispatch(&ctx.device, Form::Ab, kernel, &dims, &MatmulBuffers { step: &st, params: &pb, x: &dummy, dz: &dzb, out: &out, aux: &hb }));
        let mut want = vec![0f32; m * k];
        matmul_ab(m, n, k, &dz, &w, &mut want);
        if keep < 1.0 {
            dropout_apply(key, 3, 1, keep, &mut want);
        }
        act_backward(act, &h, &mut want);
        checks.push((format!("ab {m}x{k}x{n} {act:?} keep {keep} ({})", kernel.name()), out, want));
    }
    // atb into the weight and bias slots of a gradient buffer
    let grads = buf(ctx, &vec![0.0; params.len()]);
    let dims = MatmulDims { n: n as u32, k: k as u32, w_off: w_off as u32, b_off: b_off as u32, keep: 1.0, ..Default::default() };
    dispatches.push(mm.dispatch(&ctx.device, Form::Atb, kernel, &dims, &MatmulBuffers { step: &st, params: &pb, x: &xb, dz: &dzb, out: &grads, aux: &dummy }));
    run(ctx, &dispatches, m);
    let mut parts: Vec<(&wgpu::Buffer, u64, u64)> = checks.iter().map(|c| (&c.1, 0, 4 * c.2.len() as u64)).collect();
    parts.push((&grads, 0, 4 * params.len() as u64));
    let mut back: Vec<Vec<f32>> = ctx.read_back(&parts).expect("readback").into_iter().map(|w| bytemuck::cast_slice(&w).to_vec()).collect();
    let got = back.pop().expect("the gradient buffer");
    let mut outputs = Vec::new();
    for ((what, _, want), got) in checks.into_iter().zip(back) {
        common::assert_close(&what, &got, &want, REL, ABS);
        outputs.push((what, got));
    }
    let mut want = vec![0f32; n * k];
    matmul_atb(m, n, k, &dz, &x, &mut want);
    let what = format!("atb {m}x{k}x{n} ({})", kernel.name());
    common::assert_close(&what, &got[w_off..w_off + n * k], &want, REL, ABS);
    // the bias gradient sums rows in the CPU's order, so exactly
    let mut want_b = vec![0f32; n];
    bias_grad(m, n, &dz, &mut want_b);
    assert_eq!(&got[b_off..b_off + n], &want_b[..], "atb's bias gradient {what}");
    assert!(got[w_off + n * k..b_off].iter().all(|&v| v == 0.0), "{what} wrote between the weights and the bias");
    assert!(got[b_off + n..].iter().all(|&v| v == 0.0), "{what} wrote past the bias");
    outputs.push((what, got));
    outputs
}

/// Every kernel variant the adapter admits, at every shape, against the CPU twin; and every
/// variant bit-identical to the register-blocked one, since each output is accumulated in the same
/// order with the same expressions (matmul_tiled.wgsl). So the tuner's choice changes speed only.
#[test]
fn matmul_forms_and_epilogues_match_cpu() {
    let Some(ctx) = common::gpu("matmul_forms_and_epilogues_match_cpu") else { return };
    let mm = MatmulKernels::new(&ctx.device).expect("kernels build");
    let kernels: Vec<MatmulKernel> = MatmulKernel::ALL.into_iter().filter(|k| k.fits(&ctx.limits)).collect();
    if kernels.len() < MatmulKernel::ALL.len() {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED variants outside {}'s limits: only {kernels:?} tested", ctx.describe());
    }
    for (i, s) in SHAPES.iter().enumerate() {
        let reference = matmul_case(&ctx, &mm, MatmulKernel::Blocked8, *s, i as u64);
        for &kernel in &kernels[1..] {
            let got = matmul_case(&ctx, &mm, kernel, *s, i as u64);
            for ((what, a), (_, b)) in got.iter().zip(&reference) {
                let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
                let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
                assert!(same, "{what}: not bit-identical to blocked-8x8 (largest difference {diff:e})");
            }
        }
    }
}

#[test]
fn gather_matches_cpu_exactly() {
    let Some(ctx) = common::gpu("gather_matches_cpu_exactly") else { return };
    let g = GatherKernel::new(&ctx.device).expect("kernels build");
    let mut r = rng(9);
    // dims that are multiples of 4 take the packed u8 path (gather_u8x4), with more target words than feature words at dim 4
    for (dim, u8s, values) in [(13usize, true, false), (784, true, false), (7, false, true), (1, true, true), (4, true, true), (12, true, false)] {
        let len = 41;
        let features = if u8s { Features::U8((0..len * dim).map(|_| r.random()).collect()) } else { Features::F32(uniform(&mut r, len * dim, -2.0, 2.0)) };
        let targets = if values { Targets::Values { data: uniform(&mut r, len * 3, -1.0, 1.0), dim: 3 } } else { Targets::Classes { labels: (0..len).map(|_| r.random_range(0..10)).collect(), num_classes: 10 } };
        let data = Dataset::new(features, dim, targets).expect("dataset");
        let order: Vec<u32> = (0..17).map(|_| r.random_range(0..len as u32)).collect();
        let (tw_words, tw) = target_words(&data);
        let (perm, fb, tb) = (words(&ctx, &order), storage_init(&ctx, "test", feature_bytes(&data)).expect("buffer"), words(&ctx, &tw_words));
        let rows = order.len();
        let (x, dropped, tgt) = (buf(&ctx, &vec![0.0; rows * dim]), buf(&ctx, &vec![0.0; rows * dim]), buf(&ctx, &vec![0.0; rows * 3]));
        let st = step(&ctx, rows, 4, 1.0);
        let d = GatherDims { dim: dim as u32, is_u8: u8s, tw, use_perm: true, keep: 0.75, key: 77, augment: None };
        run(&ctx, &[g.dispatch(&ctx.device, &d, &GatherBuffers { step: &st, perm: &perm, features: &fb, targets_src: &tb, x: &x, dropped: &dropped, targets: &tgt })], rows);
        let (mut want, mut labels, mut vals) = (vec![0f32; rows * dim], Vec::new(), Vec::new());
        gather_batch(&data, &order, &mut want, &mut labels, &mut vals);
        assert_eq!(read(&ctx, &x, rows * dim), want, "gather dim {dim}");
        dropout_apply(77, 4, 0, 0.75, &mut want);
        assert_eq!(read(&ctx, &dropped, rows * dim), want, "gather dropout dim {dim}");
        let t = read(&ctx, &tgt, rows * tw as usize);
        if values {
            assert_eq!(t, vals, "value targets");
        } else {
            assert_eq!(t.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), labels, "labels");
        }
    }
}

fn targets_row0(t: BatchTargets) -> BatchTargets {
    match t {
        BatchTargets::Classes(l) => BatchTargets::Classes(&l[..1]),
        BatchTargets::Values(v) => BatchTargets::Values(v),
    }
}

/// Every loss, in training (dz and per-sample loss) and prediction, against the CPU twin; the
/// classification ones also with label smoothing, class weights and both (training only).
#[test]
fn losses_match_cpu() {
    let Some(ctx) = common::gpu("losses_match_cpu") else { return };
    let lk = LossKernel::new(&ctx.device).expect("kernels build");
    let mut r = rng(5);
    let mut cases = Vec::new();
    for (loss, k, labels) in [
        (Loss::SoftmaxCrossEntropy, 10, true),
        (Loss::SoftmaxCrossEntropy, 2, true),
        (Loss::BinaryCrossEntropy, 1, true),
        (Loss::BinaryCrossEntropy, 6, false),
        (Loss::MeanSquaredError, 7, false),
        (Loss::Cosine, 4, false),
    ] {
        cases.push((loss, k, labels, TrainLoss::default()));
        if labels {
            let weights: Vec<f32> = (0..k.max(2)).map(|_| r.random_range(0.2..3.0)).collect();
            if loss == Loss::SoftmaxCrossEntropy {
                cases.push((loss, k, labels, TrainLoss { label_smoothing: 0.1, class_weight: vec![] }));
                cases.push((loss, k, labels, TrainLoss { label_smoothing: 0.25, class_weight: weights.clone() }));
            }
            cases.push((loss, k, labels, TrainLoss { label_smoothing: 0.0, class_weight: weights }));
        }
    }
    for (loss, k, labels, tl) in cases {
        let rows = 67;
        let mut z = uniform(&mut r, rows * k, -6.0, 6.0);
        z[0] = 30.0; // far tails
        z[k] = -30.0;
        let lab: Vec<u32> = (0..rows).map(|_| r.random_range(0..k.max(2) as u32)).collect();
        let vals: Vec<f32> = if loss == Loss::BinaryCrossEntropy { (0..rows * k).map(|_| r.random_range(0..2) as f32).collect() } else { uniform(&mut r, rows * k, -1.0, 1.0) };
        let tw: Vec<u32> = if labels { lab.clone() } else { vals.iter().map(|x| x.to_bits()).collect() };
        let (zb, tb) = (buf(&ctx, &z), words(&ctx, &tw));
        let (dz, sample, probs) = (buf(&ctx, &vec![0.0; rows * k]), buf(&ctx, &vec![0.0; rows * 2]), buf(&ctx, &vec![0.0; rows * k]));
        let scale = 1.0f32 / rows as f32;
        let st = step(&ctx, rows, 0, scale);
        let cw = buf(&ctx, if tl.class_weight.is_empty() { &[1.0][..] } else { &tl.class_weight });
        let lb = LossBuffers { step: &st, logits: &zb, targets: &tb, dz: &dz, sample: &sample, probs: &probs, class_weight: &cw };
        run(&ctx, &[lk.dispatch(&ctx.device, loss, k as u32, labels, LossMode::Train, &tl, &lb)], rows);
        let targets = if labels { BatchTargets::Classes(&lab) } else { BatchTargets::Values(&vals) };
        let mut want_dz = vec![0f32; rows * k];
        training_loss(loss, rows, k, &z, targets, Some(&mut want_dz), scale, &tl);
        let what = format!("{loss} K={k} {tl:?}");
        common::assert_close(&format!("{what} dz"), &read(&ctx, &dz, rows * k), &want_dz, REL, ABS);
        let s = read(&ctx, &sample, rows * 2);
        for b in 0..rows {
            let t = match targets {
                BatchTargets::Classes(l) => BatchTargets::Classes(&l[b..b + 1]),
                BatchTargets::Values(v) => BatchTargets::Values(&v[b * k..(b + 1) * k]),
            };
            let (l, c) = training_loss(loss, 1, k, &z[b * k..(b + 1) * k], t, None, 1.0f32, &tl);
            common::assert_close(&format!("{what} loss row {b}"), &[s[2 * b]], &[l as f32], REL, ABS);
            assert_eq!(s[2 * b + 1] as u64, c, "{what} correct row {b}");
        }
        // prediction (and evaluation) score the plain loss, whatever the training loss does
        run(&ctx, &[lk.dispatch(&ctx.device, loss, k as u32, labels, LossMode::Predict, &tl, &lb)], rows);
        let s = read(&ctx, &sample, rows * 2);
        let (plain, _) = loss_forward_backward(loss, 1, k, &z[..k], targets_row0(targets), None, 1.0f32);
        common::assert_close(&format!("{what} predict loss row 0"), &[s[0]], &[plain as f32], REL, ABS);
        let mut want_p = vec![0f32; rows * k];
        wgpu_mlp::cpu::loss::output_probabilities(loss, rows, k, &z, &mut want_p);
        common::assert_close(&format!("{what} probabilities"), &read(&ctx, &probs, rows * k), &want_p, REL, ABS);
    }
}

/// Confident samples: the gradient of the label's logit is tiny next to 1, and the kernel must keep
/// its relative precision (the CPU's f64 gradient is the reference). Written as p_y − 1 it kept
/// only p_y's rounding (relative error 1e-3 at these logits); WGSL lets exp(x) be 3 + 2|x| ulp
/// off (x ≥ −14 here: 31 ulp, 3.7e-6), so 1e-5 admits any conforming exp and nothing coarser.
#[test]
fn confident_samples_keep_relative_precision() {
    let Some(ctx) = common::gpu("confident_samples_keep_relative_precision") else { return };
    let lk = LossKernel::new(&ctx.device).expect("kernels build");
    let mut r = rng(8);
    for (loss, k) in [(Loss::SoftmaxCrossEntropy, 10), (Loss::BinaryCrossEntropy, 1)] {
        let rows = 40;
        let lab: Vec<u32> = (0..rows).map(|_| r.random_range(0..k.max(2) as u32)).collect();
        let mut z = uniform(&mut r, rows * k, -1.0, 1.0);
        for b in 0..rows {
            let margin = 8.0 + b as f32 / 8.0; // 8 to 13
            if loss == Loss::SoftmaxCrossEntropy {
                z[b * k + lab[b] as usize] = margin;
            } else {
                z[b] = if lab[b] == 1 { margin } else { -margin };
            }
        }
        let (zb, tb) = (buf(&ctx, &z), words(&ctx, &lab));
        let (dz, sample, probs) = (buf(&ctx, &vec![0.0; rows * k]), buf(&ctx, &vec![0.0; rows * 2]), buf(&ctx, &vec![0.0; rows * k]));
        let st = step(&ctx, rows, 0, 1.0);
        let cw = buf(&ctx, &[1.0]);
        let lb = LossBuffers { step: &st, logits: &zb, targets: &tb, dz: &dz, sample: &sample, probs: &probs, class_weight: &cw };
        run(&ctx, &[lk.dispatch(&ctx.device, loss, k as u32, true, LossMode::Train, &TrainLoss::default(), &lb)], rows);
        let z64: Vec<f64> = z.iter().map(|&v| v as f64).collect();
        let mut want = vec![0f64; rows * k];
        loss_forward_backward(loss, rows, k, &z64, BatchTargets::Classes(&lab), Some(&mut want), 1.0);
        let got = read(&ctx, &dz, rows * k);
        let worst = got.iter().zip(&want).map(|(&g, &w)| (g as f64 - w).abs() / w.abs()).fold(0.0, f64::max);
        eprintln!("{loss}: worst relative error of dz {worst:.2e}");
        assert!(worst <= 1e-5, "{loss}: dz relative error {worst:.2e}");
    }
}

#[test]
fn unit_stats_match_cpu() {
    let Some(ctx) = common::gpu("unit_stats_match_cpu") else { return };
    let rk = ReduceKernels::new(&ctx.device).expect("kernels build");
    let mut r = rng(6);
    for (rows, n) in [(1usize, 1usize), (7, 13), (129, 64), (100, 10)] {
        let st = step(&ctx, rows, 0, 1.0);
        let dummy_r = buf(&ctx, &[0.0; 4]);
        let dummy_rw = buf(&ctx, &[0.0; 4]);
        // unit_stats, exact integers
        for act in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
            let mut h: Vec<f32> = uniform(&mut r, rows * n, -1.0, 1.0).iter().map(|&v| wgpu_mlp::cpu::activation::activate(act, v * 6.0)).collect();
            if act == Activation::Relu {
                for (i, v) in h.iter_mut().enumerate() {
                    if i % n == 0 {
                        *v = 0.0; // a dead unit
                    }
                }
            } else {
                h[0] = 0.99; // boundary values compare like the CPU's f64 thresholds
                if h.len() > 1 {
                    h[1] = 0.01;
                }
            }
            let hb = buf(&ctx, &h);
            let counters = words(&ctx, &vec![0u32; 2 * n]);
            run(&ctx, &[rk.unit_stats(&ctx.device, n as u32, act.code(), 0, n as u32, &ReduceBuffers { step: &st, src: &hb, src2: &dummy_r, dst: &dummy_rw, counters: &counters })], rows);
            let c: Vec<u32> = read(&ctx, &counters, 2 * n).iter().map(|x| x.to_bits()).collect();
            let mut alive = vec![false; n];
            let sat = unit_stats(act, rows, n, &h, &mut alive);
            assert_eq!(c[..n].iter().map(|&x| x == 1).collect::<Vec<_>>(), alive, "alive {act:?}");
            assert_eq!(c[n..].iter().map(|&x| x as u64).sum::<u64>(), sat, "saturated {act:?}");
        }
    }
}

#[test]
fn optimizer_update_matches_cpu() {
    let Some(ctx) = common::gpu("optimizer_update_matches_cpu") else { return };
    let ok = OptimizerKernel::new(&ctx.device).expect("kernels build");
    let rk = ReduceKernels::new(&ctx.device).expect("kernels build");
    let mut r = rng(8);
    let mut configs: Vec<OptimizerConfig> = [OptimizerKind::Sgd, OptimizerKind::Momentum, OptimizerKind::Nesterov, OptimizerKind::Rmsprop, OptimizerKind::Adam, OptimizerKind::Adamw].map(OptimizerConfig::new).to_vec();
    let mut rm = OptimizerConfig::new(OptimizerKind::Rmsprop);
    rm.momentum = 0.8;
    configs.push(rm.clone());
    rm.nesterov = true;
    configs.push(rm);
    // four tensors in one dispatch, each with its own record (regularisation, bias or not) and
    // length: one workgroup, three (20000 > 2 × 8192 elements), exactly one, and a short bias
    let cases = [(1003usize, 0.0, 0.0, false, false), (20000, 1e-2, 1e-3, false, false), (8192, 1e-3, 1e-2, true, false), (37, 1e-2, 1e-2, true, true)];
    let off0 = 4; // tensors start at multiples of 4 in the flat buffer
    let mut list = Vec::new();
    let mut at = off0;
    for &(len, _, _, _, is_bias) in &cases {
        list.push((at as u32, len as u32, !is_bias));
        at = (at + len).next_multiple_of(4);
    }
    let total = at;
    let (grids, partial_floats) = tensor_grids(&list);
    // --clip-norm: none, a bound far below the global norm (about 9.8 here: every gradient is
    // scaled), and one above it (the factor is 1 and the update is the unclipped one)
    let clips = [None, Some(0.05f64), Some(1e3)];
    for (cfg, clip) in configs.iter().flat_map(|c| clips.iter().map(move |&k| (c, k))) {
        let w = uniform(&mut r, total, -1.0, 1.0);
        let g = uniform(&mut r, total, -0.1, 0.1);
        // RMSprop's s0 is a second moment (>= 0); the others' first slot takes either sign
        let s0 = if cfg.kind == OptimizerKind::Rmsprop { uniform(&mut r, total, 0.0, 0.01) } else { uniform(&mut r, total, -0.1, 0.1) };
        let s1 = uniform(&mut r, total, 0.0, 0.01);
        let (wb, gb, s0b, s1b) = (buf(&ctx, &w), buf(&ctx, &g), buf(&ctx, &s0), buf(&ctx, &s1));
        let partials = buf(&ctx, &vec![0.0; partial_floats as usize]);
        let t = 7;
        // record 0: the step (one row); record 1 + i: tensor i
        let mut recs = vec![RecordSlot::of(&Step::new(1, 0, 0, 0, 0.0)); 1 + cases.len()];
        let params: Vec<UpdateParams> = cases.iter().map(|&(_, l2, l1, prox, is_bias)| UpdateParams::new(cfg, 0.01, t, l2, l1, prox, is_bias)).collect();
        for (i, (u, grid)) in params.iter().zip(&grids).enumerate() {
            recs[1 + i] = RecordSlot::of(&update_record(u, grid, clip.is_some()));
        }
        let ub = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: bytemuck::cast_slice(&recs), usage: wgpu::BufferUsages::STORAGE });
        let stats = buf(&ctx, &[0.0; 2 + 3 * 3]);
        let jobs: Vec<SumJob> = grids.iter().filter(|t| t.norm_out.is_some()).enumerate()
            .map(|(i, t)| SumJob::weight_sums(t, i as u32))
            .collect();
        let (dummy_r, dummy_rw) = (buf(&ctx, &[0.0; 4]), buf(&ctx, &[0.0; 4]));
        let clip_buf = buf(&ctx, &vec![0.0; clip_floats(&grids) as usize]);
        let ob = OptimizerBuffers { step: &ub, params: &wb, grads: &gb, slot0: &s0b, slot1: &s1b, partials: &partials, clip: &clip_buf };
        let rb = ReduceBuffers { step: &ub, src: &dummy_r, src2: &partials, dst: &stats, counters: &dummy_rw };
        let mut dispatches = ok.dispatches(&ctx.device, &grids, ctx.limits.max_compute_workgroups_per_dimension, clip.map(|c| c as f32), &ob);
        dispatches.push(rk.sum_final(&ctx.device, &jobs, 11, &rb));
        run(&ctx, &dispatches, 1);
        // the clip factor: the global norm of the raw gradients of all four tensors, against f64
        let mut grad_scale = 1.0;
        if let Some(max) = clip {
            let norm = grids.iter().map(|t| g[t.off as usize..(t.off + t.len) as usize].iter().map(|&x| (x as f64).powi(2)).sum::<f64>()).sum::<f64>().sqrt();
            let head = read(&ctx, &clip_buf, 2);
            // f32 partials and a tree against an f64 sum of ~29,000 squares
            common::assert_close(&format!("{:?} clip norm", cfg.kind), &[head[1]], &[norm as f32], 1e-5, 0.0);
            common::assert_close(&format!("{:?} clip factor", cfg.kind), &[head[0]], &[clip_coefficient(norm, max) as f32], 1e-5, 0.0);
            // the update itself against the CPU's with the device's factor: the same f32 operations
            grad_scale = head[0] as f64;
        }
        let params: Vec<UpdateParams> = params.into_iter().map(|u| UpdateParams { grad_scale, ..u }).collect();
        let (gw, gs0, gs1, gstats) = (read(&ctx, &wb, total), read(&ctx, &s0b, total), read(&ctx, &s1b, total), read(&ctx, &stats, 11));
        for (i, ((&(len, l2, l1, prox, is_bias), u), grid)) in cases.iter().zip(&params).zip(&grids).enumerate() {
            let range = grid.off as usize..grid.off as usize + len;
            let (mut ww, mut s0w, mut s1w) = (w[range.clone()].to_vec(), s0[range.clone()].to_vec(), s1[range.clone()].to_vec());
            optimizer_update(u, &mut ww, &g[range.clone()], &mut s0w, &mut s1w);
            let what = format!("{:?} tensor {i} (len {len}) l2 {l2} l1 {l1} prox {prox} bias {is_bias} clip {clip:?}", cfg.kind);
            // same f32 operations in the same order: only sqrt/division rounding may differ
            common::assert_close(&format!("{what} w"), &gw[range.clone()], &ww, 1e-6, 1e-7);
            if cfg.state_slots() >= 1 {
                common::assert_close(&format!("{what} s0"), &gs0[range.clone()], &s0w, 1e-6, 1e-9);
            }
            if cfg.state_slots() >= 2 {
                common::assert_close(&format!("{what} s1"), &gs1[range.clone()], &s1w, 1e-6, 1e-9);
            }
            // the norm and penalty sums of the weights before the update
            if !is_bias {
                // the norm is of the gradient the update applied: clipped, then penalised
                let g0: Vec<f32> = g[range.clone()].iter().map(|&x| x * grad_scale as f32).collect();
                let w0 = &w[range.clone()];
                let l1_sub = if prox { 0.0 } else { l1 };
                let s = &gstats[2 + 3 * i..5 + 3 * i];
                let norm = grad_norm(&g0, w0, l2, l1_sub) as f32;
                common::assert_close(&format!("{what} grad_norm"), &[s[0].sqrt()], &[norm], REL, ABS);
                let pen = (0.5 * l2 * s[1] as f64 + l1 * s[2] as f64) as f32;
                common::assert_close(&format!("{what} penalty"), &[pen], &[penalty(w0, l2, l1) as f32], REL, ABS);
            }
        }
        // the gaps before and between tensors (padding to multiples of 4) are untouched
        assert_eq!(gw[..off0], w[..off0], "{:?}: the update wrote before the first tensor", cfg.kind);
        for (grid, next) in grids.iter().zip(grids.iter().skip(1)) {
            let gap = (grid.off + grid.len) as usize..next.off as usize;
            assert_eq!(gw[gap.clone()], w[gap.clone()], "{:?}: the update wrote into the padding {gap:?}", cfg.kind);
            assert_eq!(gs0[gap.clone()], s0[gap.clone()], "{:?}: the update wrote slot 0's padding {gap:?}", cfg.kind);
        }
    }
}

/// A shader error found by wgpu at run time names the shader file and its own line, also inside
/// an import, and is one line: the loader composes files, but the user reads them one by one.
#[test]
fn shader_errors_point_at_the_files_own_line() {
    use std::borrow::Cow;
    use wgpu_mlp::gpu::pipeline::compile;
    use wgpu_mlp::gpu::shaders::{file, Module};
    let Some(ctx) = common::gpu("shader_errors_point_at_the_files_own_line") else { return };
    let common = file("common.wgsl").unwrap();
    let line = common.lines().count() + 1;
    // a type error on the line after common.wgsl's last, in the import that lands after loss.wgsl
    let broken = format!("{common}\nfn broken() -> f32 {{ return vec2<f32>(1.0); }}\n");
    let read = |name: &str| if name == "common.wgsl" { Some(Cow::Owned(broken.clone())) } else { file(name).map(Cow::Borrowed) };
    let src = Module::Loss.compose(&read).unwrap();
    // SAFETY: not trusted, runtime checks stay on
    let err = unsafe { compile(&ctx.device, "loss", &src, false) }.err().expect("a type error must fail").to_string();
    assert!(err.contains(&format!("common.wgsl:{}:", line + 1)), "not located in common.wgsl: {err}");
    assert!(!err.contains('\n') && err.len() < 300, "not one short line: {err:?}");
    // the unbroken module compiles
    unsafe { compile(&ctx.device, "loss", &Module::Loss.composed(), false) }.expect("loss.wgsl compiles");
}
