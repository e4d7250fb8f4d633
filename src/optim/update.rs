//! The per-tensor, per-step constants of the fused optimizer update, computed once here and
//! consumed by both engines (`cpu::optimizer` and `gpu::optimizer`).

use super::{OptimizerConfig, OptimizerKind};

/// Per-tensor, per-step constants (the CPU engine uses them as f64 expressions; the GPU engine rounds them to f32 into its update record).
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
