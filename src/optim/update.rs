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
    /// Factor on the raw gradient before penalties: the step's [`clip_coefficient`] under
    /// `--clip-norm`, else 1 (g·1 is g exactly). The CPU engine sets it once the step's gradients
    /// are known; the GPU computes it on the device (optimizer.wgsl `clip_scale`).
    pub grad_scale: f64,
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
            grad_scale: 1.0,
        }
    }
}

/// PyTorch's `clip_grad_norm_` factor for a global gradient norm `norm` and bound `max`:
/// min(1, max / (norm + 1e-6)), by which every gradient is multiplied.
pub fn clip_coefficient(norm: f64, max: f64) -> f64 {
    (max / (norm + 1e-6)).min(1.0)
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

#[cfg(test)]
mod tests {
    use super::clip_coefficient;

    /// PyTorch's rule: the 1e-6 in the denominator, and never a factor above 1.
    #[test]
    fn clip_coefficient_is_pytorchs() {
        assert_eq!(clip_coefficient(3.0, 10.0), 1.0);
        assert_eq!(clip_coefficient(1e-6, 1e-6), 0.5);
        assert!((clip_coefficient(4.0, 1.0) - 1.0 / (4.0 + 1e-6)).abs() < 1e-15);
        assert_eq!(clip_coefficient(f64::INFINITY, 1.0), 0.0);
    }
}
