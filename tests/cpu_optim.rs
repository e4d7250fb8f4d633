//! Optimizer behaviour the course derives by hand, and a closed-form check of the whole loop.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};
use wgpu_mlp::cpu::optimizer::optimizer_update;
use wgpu_mlp::optim::UpdateParams;
use wgpu_mlp::cpu::CpuEngine;
use wgpu_mlp::data::{Dataset, Features, Targets};
use wgpu_mlp::engine::{Engine, TrainSetup};
use wgpu_mlp::model::{Activation, Loss, NetworkSpec, ParamLayout, Params};
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind, Regularization};

/// Runs `steps` updates of one scalar parameter with gradients `g(t)`; returns the trajectory.
fn run(cfg: &OptimizerConfig, lr: f64, steps: usize, g: impl Fn(usize) -> f64) -> Vec<f64> {
    let (mut w, mut s0, mut s1) = ([0.0f64], [0.0f64], [0.0f64]);
    let mut path = vec![0.0];
    for t in 0..steps {
        let u = UpdateParams::new(cfg, lr, t as u64 + 1, 0.0, 0.0, false, false);
        optimizer_update(&u, &mut w, &[g(t)], &mut s0, &mut s1);
        path.push(w[0]);
    }
    path
}

#[test]
fn momentum_settles_at_ten_times_the_plain_step() {
    // v = μv + g with constant g converges to g/(1 − μ) = 10 g for μ = 0.9.
    let lr = 0.01;
    for kind in [OptimizerKind::Momentum, OptimizerKind::Nesterov] {
        let cfg = OptimizerConfig { momentum: 0.9, ..OptimizerConfig::new(kind) };
        let path = run(&cfg, lr, 400, |_| 1.0);
        let last_step = path[399] - path[400];
        // Nesterov's step is lr(g + μv) = lr(1 + 0.9·10) g: also 10× once v has settled.
        assert!((last_step / lr - 10.0).abs() < 1e-9, "{kind}: last step {last_step}, plain {lr}");
        // the first step is the plain one for momentum, 1.9× for Nesterov
        let first = path[0] - path[1];
        let want_first = if kind == OptimizerKind::Nesterov { 1.9 * lr } else { lr };
        assert!((first - want_first).abs() < 1e-15, "{kind}: first step {first}");
    }
}

/// The lecture's three gradient series under Adam (lr 1e-3, β 0.9/0.999):
/// w1: 1.1, 0.9, 1.1, 0.9, … (mean 1, mean square 1.01) → steady step ≈ lr·1/√1.01 = 0.995 lr;
/// w2: 0.1 every step → m̂ = 0.1, v̂ = 0.01, step = lr·0.1/(0.1 + ε) ≈ lr: a full step although the
///     gradient is small (plain SGD would move 0.1 lr);
/// w3: 1.1, 0, −0.9, 0, … (mean 0.05, mean square 0.505) → step ≈ lr·0.05/√0.505 = 0.0704 lr.
#[test]
fn adam_on_the_lecture_gradient_series() {
    let lr = 1e-3;
    let steps = 4000;
    let adam = OptimizerConfig::new(OptimizerKind::Adam);
    let w1 = run(&adam, lr, steps, |t| if t % 2 == 0 { 1.1 } else { 0.9 });
    let w2 = run(&adam, lr, steps, |_| 0.1);
    let w3 = run(&adam, lr, steps, |t| [1.1, 0.0, -0.9, 0.0][t % 4]);
    // mean step per iteration over the last 2000 iterations (v̂ has settled: 0.999^2000 ≈ 0.14,
    // and bias correction removes the rest of the start-up)
    let rate = |p: &[f64]| (p[steps / 2] - p[steps]) / (steps / 2) as f64 / lr;
    let (r1, r2, r3) = (rate(&w1), rate(&w2), rate(&w3));
    eprintln!("adam steps per lr: w1 {r1:.4}, w2 {r2:.4}, w3 {r3:.4}");
    assert!((r2 - 1.0).abs() < 1e-6, "w2 moves {r2} lr per step, want ≈ 1");
    assert!((r1 - 1.0 / 1.01f64.sqrt()).abs() < 2e-3, "w1 moves {r1} lr per step, want ≈ 0.995");
    assert!((r3 - 0.05 / 0.505f64.sqrt()).abs() < 5e-3, "w3 moves {r3} lr per step, want ≈ 0.0704");
    assert!(r3 / r2 < 0.08, "w3 must move much less than w2: ratio {}", r3 / r2);

    // plain SGD on the same series moves in proportion to the gradient instead
    let sgd = OptimizerConfig::sgd();
    let s2 = run(&sgd, lr, steps, |_| 0.1);
    assert!((rate(&s2) - 0.1).abs() < 1e-9);
}

#[test]
fn rmsprop_normalises_the_step() {
    // constant g: s → g², step → lr·g/|g| = lr for any gradient scale
    let cfg = OptimizerConfig::new(OptimizerKind::Rmsprop);
    for g in [1e-3, 1.0, 1e3] {
        let path = run(&cfg, 0.01, 3000, |_| g);
        let step = path[2999] - path[3000];
        // exact up to ε/|g| (ε = 1e-8 sits beside √s = |g| in the denominator)
        assert!((step / 0.01 - 1.0).abs() < 1e-6 + 2e-8 / g, "g {g}: step {step}");
    }
}

#[test]
fn proximal_l1_makes_weights_exactly_zero() {
    let cfg = OptimizerConfig::sgd();
    let u = UpdateParams::new(&cfg, 0.1, 1, 0.0, 0.5, true, false);
    let mut w = [0.03f64, -0.02, 0.2, -0.3];
    optimizer_update(&u, &mut w, &[0.0; 4], &mut [], &mut []);
    assert_eq!(w[..2], [0.0, 0.0]);
    assert!((w[2] - 0.15).abs() < 1e-15 && (w[3] + 0.25).abs() < 1e-15, "{w:?}");
}

/// A single linear neuron with MSE, trained by full-batch gradient descent on y = 0.8x + 2 + N(0,1),
/// converges to the closed-form ridge solution. Our loss is (1/n)Σ(wx + b − y)² + ½λw² with the
/// bias unregularised, so the normal equations are (XᵀX + (nλ/2)·D)θ = Xᵀy with X = [x, 1],
/// θ = (w, b), D = diag(1, 0).
#[test]
fn linear_neuron_converges_to_closed_form_ridge() {
    let n = 200;
    let lambda = 0.5;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let xs: Vec<f32> = (0..n).map(|_| Uniform::new(-3.0f32, 3.0).unwrap().sample(&mut rng)).collect();
    let noise = Normal::new(0.0f32, 1.0).unwrap();
    let ys: Vec<f32> = xs.iter().map(|&x| 0.8 * x + 2.0 + noise.sample(&mut rng)).collect();

    let (sxx, sx, sxy, sy) = xs.iter().zip(&ys).fold((0.0, 0.0, 0.0, 0.0), |(a, b, c, d), (&x, &y)| {
        let (x, y) = (x as f64, y as f64);
        (a + x * x, b + x, c + x * y, d + y)
    });
    let a11 = sxx + n as f64 * lambda / 2.0;
    let det = a11 * n as f64 - sx * sx;
    let w_star = (n as f64 * sxy - sx * sy) / det;
    let b_star = (a11 * sy - sx * sxy) / det;

    let spec = NetworkSpec::new(&[1, 1], Activation::Identity, Loss::MeanSquaredError).unwrap();
    let setup = TrainSetup {
        spec: spec.clone(),
        optimizer: OptimizerConfig::sgd(),
        regularization: Regularization::uniform(1, lambda, 0.0),
        keep: vec![],
        batch: n,
        seed: 0,
        augment: None, train_loss: Default::default()
    };
    let data = Dataset::new(Features::F32(xs), 1, Targets::Values { data: ys, dim: 1 }).unwrap();
    let mut engine = CpuEngine::<f64>::new(setup, Params::zeros(&ParamLayout::new(&spec))).unwrap();
    engine.load_train(&data).unwrap();
    let order: Vec<u32> = (0..n as u32).collect();
    for _ in 0..500 {
        engine.train_epoch(&order, 0.1).unwrap();
    }
    let p = engine.params().unwrap();
    let (w, b) = (p.weight(0)[0], p.bias(0)[0]);
    eprintln!("ridge: trained w {w:.8} b {b:.8}, closed form w {w_star:.8} b {b_star:.8}");
    assert!((w - w_star).abs() < 1e-4 && (b - b_star).abs() < 1e-4);
}

/// AdamW decays the weights by (1 − lr·wd) before the Adam step, biases untouched, and the decay
/// does not enter the moments: with zero gradients only the decay moves the weight.
#[test]
fn adamw_decay_is_decoupled() {
    let cfg = OptimizerConfig { weight_decay: 0.1, ..OptimizerConfig::new(OptimizerKind::Adamw) };
    let (lr, mut w, mut m, mut v) = (0.01, [2.0f64], [0.0f64], [0.0f64]);
    for t in 1..=10 {
        let u = UpdateParams::new(&cfg, lr, t, 0.0, 0.0, false, false);
        optimizer_update(&u, &mut w, &[0.0], &mut m, &mut v);
    }
    assert!((w[0] - 2.0 * (1.0 - lr * 0.1f64).powi(10)).abs() < 1e-15, "{}", w[0]);
    assert_eq!((m[0], v[0]), (0.0, 0.0));
    let mut b = [2.0f64];
    let u = UpdateParams::new(&cfg, lr, 1, 0.0, 0.0, false, true);
    optimizer_update(&u, &mut b, &[0.0], &mut [0.0], &mut [0.0]);
    assert_eq!(b[0], 2.0, "biases are never decayed");
}

/// A warm-up over N steps runs step t at t/N of the rate, then the rate itself: plain SGD's
/// steps on a constant gradient are lr/4, 2lr/4, 3lr/4, lr, lr.
#[test]
fn warmup_steps_ramp_the_rate_linearly() {
    let lr = 0.1;
    let cfg = OptimizerConfig { warmup_steps: 4, ..OptimizerConfig::sgd() };
    let path = run(&cfg, lr, 6, |_| 1.0);
    let steps: Vec<f64> = path.windows(2).map(|w| w[0] - w[1]).collect();
    let want = [0.025, 0.05, 0.075, 0.1, 0.1, 0.1];
    for (t, (s, w)) in steps.iter().zip(want).enumerate() {
        assert!((s - w).abs() < 1e-15, "step {}: {s}, want {w}", t + 1);
    }
    // Adam warms up the same way: its first step is lr/N in size
    let adam = OptimizerConfig { warmup_steps: 10, ..OptimizerConfig::new(OptimizerKind::Adam) };
    let first = run(&adam, lr, 1, |_| 0.5)[1];
    assert!((first + lr / 10.0).abs() < 1e-9, "adam's first warmed-up step {first}");
}

/// `--clip-norm c`, PyTorch's `clip_grad_norm_`: one SGD step moves all parameters together by
/// lr·g·min(1, c/(‖g‖ + 1e-6)), ‖g‖ over every weight and bias; the L2 penalty is added after
/// the clipping (unclipped), and a bound above ‖g‖ leaves the step bit-identical.
#[test]
fn clip_norm_scales_the_whole_gradient_as_pytorch() {
    let spec = NetworkSpec::new(&[3, 5, 2], Activation::Tanh, Loss::SoftmaxCrossEntropy).unwrap();
    let layout = ParamLayout::new(&spec);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let normal = Normal::new(0.0, 1.0).unwrap();
    let mut p0 = Params::zeros(&layout);
    for x in p0.data.iter_mut() {
        *x = normal.sample(&mut rng);
    }
    let xs: Vec<f32> = (0..12).map(|_| normal.sample(&mut rng) as f32).collect();
    let data = Dataset::new(Features::F32(xs), 3, Targets::Classes { labels: vec![0, 1, 1, 0], num_classes: 2 }).unwrap();
    let lr = 0.1;
    let step = |clip: Option<f64>, l2: f64| -> Vec<f64> {
        let optimizer = OptimizerConfig { clip_norm: clip, ..OptimizerConfig::sgd() };
        let regularization = Regularization::uniform(2, l2, 0.0);
        let setup = TrainSetup { spec: spec.clone(), optimizer, regularization, keep: vec![], batch: 4, seed: 0, augment: None, train_loss: Default::default() };
        let mut e = CpuEngine::<f64>::new(setup, p0.clone()).unwrap();
        e.load_train(&data).unwrap();
        e.train_epoch(&[0, 1, 2, 3], lr).unwrap();
        e.params().unwrap().data.iter().zip(&p0.data).map(|(a, b)| b - a).collect()
    };
    let plain = step(None, 0.0);
    let norm = plain.iter().map(|d| (d / lr) * (d / lr)).sum::<f64>().sqrt();
    let max = norm / 4.0;
    let factor = max / (norm + 1e-6);
    for (c, p) in step(Some(max), 0.0).iter().zip(&plain) {
        assert!((c - p * factor).abs() <= 1e-15, "clipped step {c}, want {}", p * factor);
    }
    assert_eq!(step(Some(norm * 2.0), 0.0), plain, "a bound above the norm changes nothing");
    // λw is not clipped: the clipped step with L2 is the clipped step plus lr·λ·w on weights
    let l2 = 0.3;
    let with_l2 = step(Some(max), l2);
    let clipped = step(Some(max), 0.0);
    let weights: Vec<bool> = (0..layout.len).map(|i| layout.layers.iter().any(|s| s.weight_range().contains(&i))).collect();
    for (i, ((a, b), w0)) in with_l2.iter().zip(&clipped).zip(&p0.data).enumerate() {
        let want = if weights[i] { b + lr * l2 * w0 } else { *b };
        assert!((a - want).abs() <= 1e-14, "element {i}: {a} vs {want}");
    }
}
