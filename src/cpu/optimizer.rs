//! The fused optimizer update for one parameter tensor: the CPU twin of shaders/optimizer.wgsl.
//! Penalties, decoupled decay, the optimizer's moments and the proximal L1 step in one pass.

use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::scalar::Scalar;

/// Per-tensor, per-step constants (the GPU engine writes the same numbers into a uniform).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdateParams {
    pub kind: OptimizerKind,
    pub lr: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub rho: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// decoupled decay (weights only)
    pub weight_decay: f64,
    /// L2 strength λ (weights only)
    pub l2: f64,
    /// L1 strength β (weights only)
    pub l1: f64,
    pub l1_proximal: bool,
    /// 1 − β1^t and 1 − β2^t for this step t (1-based)
    pub bias_correction1: f64,
    pub bias_correction2: f64,
}

impl UpdateParams {
    /// Constants for step `t` (1-based) of a weight tensor with the given penalties, or of a bias
    /// (`is_bias`: no penalties, no decay).
    pub fn new(cfg: &OptimizerConfig, lr: f64, t: u64, l2: f64, l1: f64, l1_proximal: bool, is_bias: bool) -> Self {
        let t = t.max(1) as i32;
        let (l2, l1, weight_decay) = if is_bias { (0.0, 0.0, 0.0) } else { (l2, l1, cfg.weight_decay) };
        UpdateParams {
            kind: cfg.kind,
            lr,
            momentum: cfg.momentum,
            nesterov: cfg.nesterov,
            rho: cfg.rho,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            weight_decay,
            l2,
            l1,
            l1_proximal,
            bias_correction1: 1.0 - cfg.beta1.powi(t),
            bias_correction2: 1.0 - cfg.beta2.powi(t),
        }
    }
}

/// sign(w) with sign(0) = 0, the L1 subgradient PyTorch's `torch.sign` gives.
#[inline]
pub fn sign0<T: Scalar>(w: T) -> T {
    if w > T::zero() {
        T::one()
    } else if w < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}

/// The gradient the optimizer sees: g + λ·w + β·sign(w) (L1 term only in subgradient mode).
#[inline]
pub fn regularized_grad<T: Scalar>(g: T, w: T, l2: T, l1_subgrad: T) -> T {
    g + l2 * w + l1_subgrad * sign0(w)
}

/// w, g, s0, s1 all of one tensor's length; s0/s1 are the optimizer slots (unused ones empty).
pub fn optimizer_update<T: Scalar>(u: &UpdateParams, w: &mut [T], g: &[T], s0: &mut [T], s1: &mut [T]) {
    let c = |x: f64| T::from_f64_lossy(x);
    let (lr, mu, eps) = (c(u.lr), c(u.momentum), c(u.eps));
    let l2 = c(u.l2);
    let l1_sub = if u.l1_proximal { T::zero() } else { c(u.l1) };
    let shrink = c(u.lr * u.l1);
    let decay = T::one() - c(u.lr * u.weight_decay);
    let one = T::one();
    for i in 0..w.len() {
        let grad = regularized_grad(g[i], w[i], l2, l1_sub);
        let mut wi = w[i];
        if u.weight_decay != 0.0 {
            wi *= decay;
        }
        match u.kind {
            OptimizerKind::Sgd => wi -= lr * grad,
            OptimizerKind::Momentum | OptimizerKind::Nesterov => {
                let v = mu * s0[i] + grad;
                s0[i] = v;
                wi -= if u.kind == OptimizerKind::Nesterov { lr * (grad + mu * v) } else { lr * v };
            }
            OptimizerKind::Rmsprop => {
                let rho = c(u.rho);
                let s = rho * s0[i] + (one - rho) * grad * grad;
                s0[i] = s;
                let step = grad / (s.sqrt() + eps);
                if u.momentum > 0.0 {
                    let v = mu * s1[i] + step;
                    s1[i] = v;
                    wi -= if u.nesterov { lr * (step + mu * v) } else { lr * v };
                } else {
                    wi -= lr * step;
                }
            }
            OptimizerKind::Adam | OptimizerKind::Adamw => {
                let (b1, b2) = (c(u.beta1), c(u.beta2));
                let m = b1 * s0[i] + (one - b1) * grad;
                let v = b2 * s1[i] + (one - b2) * grad * grad;
                s0[i] = m;
                s1[i] = v;
                // PyTorch's form: step = lr/bc1 · m / (√v/√bc2 + ε)
                let denom = v.sqrt() / c(u.bias_correction2.sqrt()) + eps;
                wi -= c(u.lr / u.bias_correction1) * m / denom;
            }
        }
        if u.l1_proximal && u.l1 > 0.0 {
            wi = sign0(wi) * (wi.abs() - shrink).max(T::zero());
        }
        w[i] = wi;
    }
}
