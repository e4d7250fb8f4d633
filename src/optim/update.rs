//! What one optimizer step does to one tensor, as numbers both engines use: the per-step
//! constants and the regularised gradient. The update loops are src/cpu/optimizer.rs and
//! shaders/optimizer.wgsl.

use super::{OptimizerConfig, OptimizerKind};
use crate::scalar::Scalar;

/// Per-tensor, per-step constants (the GPU engine writes the same numbers into its update record).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpdateParams {
    /// The update rule.
    pub kind: OptimizerKind,
    /// This step's learning rate: the epoch's, times the step warm-up's factor.
    pub lr: f64,
    /// μ, as [`OptimizerConfig::momentum`].
    pub momentum: f64,
    /// Nesterov look-ahead for RMSprop with momentum.
    pub nesterov: bool,
    /// RMSprop's ρ.
    pub rho: f64,
    /// Adam's β1.
    pub beta1: f64,
    /// Adam's β2.
    pub beta2: f64,
    /// ε of RMSprop and Adam.
    pub eps: f64,
    /// Decoupled decay (weights only; 0 for a bias).
    pub weight_decay: f64,
    /// L2 strength λ (weights only; 0 for a bias).
    pub l2: f64,
    /// L1 strength β (weights only; 0 for a bias).
    pub l1: f64,
    /// L1 by soft-thresholding after the step instead of the subgradient in the gradient.
    pub l1_proximal: bool,
    /// 1 − β1^t for this step t (1-based).
    pub bias_correction1: f64,
    /// 1 − β2^t for this step t (1-based).
    pub bias_correction2: f64,
}

impl UpdateParams {
    /// Constants for step `t` (1-based) of a weight tensor with the given penalties, or of a bias
    /// (`is_bias`: no penalties, no decay).
    pub fn new(cfg: &OptimizerConfig, lr: f64, t: u64, l2: f64, l1: f64, l1_proximal: bool, is_bias: bool) -> Self {
        let lr = if cfg.warmup_steps > 0 { lr * super::Warmup::factor(t, cfg.warmup_steps) } else { lr };
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
