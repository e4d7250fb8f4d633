//! Optimizer, regularisation and learning-rate schedule configs, and what both engines share
//! about a step: its per-tensor constants, the regularised gradient and the optimizer state.
//! The update loops live in the engines (`cpu::optimizer` and `shaders/optimizer.wgsl`).

mod schedule;
mod state;
mod update;
pub use schedule::{LrSchedule, Plateau, Warmup};
pub use state::OptimizerState;
pub use update::{clip_coefficient, regularized_grad, sign0, UpdateParams};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which update rule a step applies; parsed from and shown as "sgd", "momentum", "nesterov",
/// "rmsprop", "adam", "adamw". g below is the regularised gradient ([`regularized_grad`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// w -= lr·g
    Sgd,
    /// PyTorch SGD(momentum=μ): v = μv + g; w -= lr·v
    Momentum,
    /// PyTorch SGD(momentum=μ, nesterov=True): v = μv + g; w -= lr·(g + μv)
    Nesterov,
    /// PyTorch RMSprop(alpha=ρ): s = ρs + (1-ρ)g²; u = g/(√s+ε); with momentum μ: v = μv + u,
    /// w -= lr·v (or lr·(u + μv) with Nesterov, Goodfellow et al. alg. 8.6 in look-ahead form).
    Rmsprop,
    /// PyTorch Adam with bias correction.
    Adam,
    /// Adam with decoupled weight decay (PyTorch AdamW): w -= lr·wd·w before the Adam step.
    Adamw,
}

impl OptimizerKind {
    /// Numeric code shared with the shaders (`OPT_*` in shaders/optimizer.wgsl).
    pub fn code(self) -> u32 {
        match self {
            OptimizerKind::Sgd => 0,
            OptimizerKind::Momentum => 1,
            OptimizerKind::Nesterov => 2,
            OptimizerKind::Rmsprop => 3,
            OptimizerKind::Adam => 4,
            OptimizerKind::Adamw => 5,
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Nesterov => "nesterov",
            OptimizerKind::Rmsprop => "rmsprop",
            OptimizerKind::Adam => "adam",
            OptimizerKind::Adamw => "adamw",
        })
    }
}

impl FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "sgd" => OptimizerKind::Sgd,
            "momentum" | "sgd_momentum" => OptimizerKind::Momentum,
            "nesterov" => OptimizerKind::Nesterov,
            "rmsprop" => OptimizerKind::Rmsprop,
            "adam" => OptimizerKind::Adam,
            "adamw" => OptimizerKind::Adamw,
            other => {
                return Err(Error::config(
                    "optimizer",
                    format!("unknown optimizer '{other}' (expected sgd, momentum, nesterov, rmsprop, adam, adamw)"),
                ))
            }
        })
    }
}

/// Everything the fused update kernel needs besides the learning rate and step number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerConfig {
    /// The update rule.
    pub kind: OptimizerKind,
    /// μ for momentum / Nesterov / RMSprop-with-momentum.
    pub momentum: f64,
    /// Nesterov look-ahead for RMSprop with momentum.
    pub nesterov: bool,
    /// RMSprop's decay ρ (PyTorch's alpha).
    pub rho: f64,
    /// Adam's first-moment decay β1, in [0, 1).
    pub beta1: f64,
    /// Adam's second-moment decay β2, in [0, 1).
    pub beta2: f64,
    /// The ε added to the root of the second moment (RMSprop, Adam), > 0.
    pub eps: f64,
    /// Decoupled weight decay: w ← w·(1 − lr·wd) before the step, for any kind when non-zero
    /// (AdamW's default 1e-2, 0 for the others); weights only.
    pub weight_decay: f64,
    /// Linear warm-up over the first this many steps (0: none): step t runs at t/N of the rate.
    #[serde(default)]
    pub warmup_steps: u64,
    /// Clip the raw gradient of every weight and bias to this global L2 norm before the step
    /// (PyTorch's `clip_grad_norm_`: g·min(1, max/(‖g‖ + 1e-6))); None: no clipping.
    #[serde(default)]
    pub clip_norm: Option<f64>,
}

impl OptimizerConfig {
    /// The defaults for `kind`: μ 0.9 (0 for RMSprop), ρ 0.99, β 0.9/0.999, ε 1e-8,
    /// weight decay 1e-2 for AdamW and 0 otherwise.
    pub fn new(kind: OptimizerKind) -> Self {
        let (momentum, eps) = match kind {
            OptimizerKind::Rmsprop => (0.0, 1e-8),
            _ => (0.9, 1e-8),
        };
        OptimizerConfig {
            kind,
            momentum,
            nesterov: false,
            rho: 0.99,
            beta1: 0.9,
            beta2: 0.999,
            eps,
            weight_decay: if kind == OptimizerKind::Adamw { 1e-2 } else { 0.0 },
            warmup_steps: 0,
            clip_norm: None,
        }
    }
    /// Plain SGD: `new(OptimizerKind::Sgd)`.
    pub fn sgd() -> Self {
        Self::new(OptimizerKind::Sgd)
    }
    /// How many state tensors of the parameters' size the optimizer keeps (0, 1 or 2).
    pub fn state_slots(&self) -> usize {
        match self.kind {
            OptimizerKind::Sgd => 0,
            OptimizerKind::Momentum | OptimizerKind::Nesterov => 1,
            OptimizerKind::Rmsprop => 2,
            OptimizerKind::Adam | OptimizerKind::Adamw => 2,
        }
    }
    /// [`Error::Config`] unless momentum, ρ, β1 and β2 are in [0, 1), ε > 0 and weight decay >= 0.
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &str, v: f64| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::config(name, format!("{v} must be in [0, 1)")))
            }
        };
        unit("momentum", self.momentum)?;
        unit("rho", self.rho)?;
        unit("beta1", self.beta1)?;
        unit("beta2", self.beta2)?;
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::config("eps", format!("{} must be > 0", self.eps)));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::config("weight-decay", format!("{} must be >= 0", self.weight_decay)));
        }
        if let Some(c) = self.clip_norm.filter(|c| !(c.is_finite() && *c > 0.0)) {
            return Err(Error::config("clip-norm", format!("{c} must be > 0")));
        }
        Ok(())
    }
}

/// Penalties on weights (never biases), per layer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Regularization {
    /// λ per layer: adds ½·λ·‖W‖² to the loss, λ·W to the gradient.
    pub l2: Vec<f64>,
    /// β per layer: adds β·‖W‖₁ to the loss.
    pub l1: Vec<f64>,
    /// L1 by proximal soft-thresholding after the step (w = sign(w)·max(|w| − lr·β, 0)) instead of
    /// the subgradient β·sign(w); it makes weights exactly zero.
    pub l1_proximal: bool,
}

impl Regularization {
    /// No penalties.
    pub fn none() -> Self {
        Self::default()
    }
    /// The same strengths on every one of `layers` layers.
    pub fn uniform(layers: usize, l2: f64, l1: f64) -> Self {
        Regularization { l2: vec![l2; layers], l1: vec![l1; layers], l1_proximal: false }
    }
    /// λ of layer `layer` (0 where `l2` does not reach).
    pub fn l2_of(&self, layer: usize) -> f64 {
        self.l2.get(layer).copied().unwrap_or(0.0)
    }
    /// β of layer `layer` (0 where `l1` does not reach).
    pub fn l1_of(&self, layer: usize) -> f64 {
        self.l1.get(layer).copied().unwrap_or(0.0)
    }
    /// [`Error::Config`] if more strengths than `layers` are given or one is negative or not finite.
    pub fn validate(&self, layers: usize) -> Result<()> {
        for (name, v) in [("l2", &self.l2), ("l1", &self.l1)] {
            if v.len() > layers {
                return Err(Error::config(name, format!("{} strengths given for {layers} layers", v.len())));
            }
            if let Some(x) = v.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                return Err(Error::config(name, format!("strength {x} must be finite and >= 0")));
            }
        }
        Ok(())
    }
}
