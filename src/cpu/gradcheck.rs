//! Gradient checking: analytic gradients of the full loss (data loss + penalties) against
//! central differences, in f64.

use super::loss::BatchTargets;
use super::network::{loss_and_grads, DropoutStep, Workspace};
use crate::optim::sign0;
use super::reduce::penalty;
use crate::engine::TrainSetup;
use crate::model::Params;
use crate::scalar::Scalar;

/// The objective the optimizer descends for one batch: mean data loss + Σ penalties, and its
/// gradient (the data gradient plus λW + β·sign(W) on weights).
pub fn objective<T: Scalar>(
    setup: &TrainSetup,
    params: &Params<T>,
    x: &[T],
    targets: BatchTargets,
    dropout: Option<DropoutStep>,
) -> (f64, Params<T>) {
    let rows = x.len() / setup.spec.inputs();
    let mut ws = Workspace::new(setup, params, rows);
    ws.h[0].copy_from_slice(x);
    let out = loss_and_grads(setup, params, &mut ws, rows, targets, dropout, None);
    let mut grads = ws.grads;
    let reg = &setup.regularization;
    let mut loss = out.loss_sum / rows as f64;
    for l in 0..params.num_layers() {
        let (l2, l1) = (reg.l2_of(l), reg.l1_of(l));
        loss += penalty(params.weight(l), l2, l1);
        let (l2, l1) = (T::from_f64_lossy(l2), T::from_f64_lossy(l1));
        let w = params.weight(l).to_vec();
        for (g, w) in grads.weight_mut(l).iter_mut().zip(w) {
            *g += l2 * w + l1 * sign0(w);
        }
    }
    (loss, grads)
}

/// Denominator floor of the relative error: gradients that are exactly zero (dead ReLU units,
/// dropped units) then compare absolutely, where f64 central differences carry ~1e-11 of noise.
pub const REL_FLOOR: f64 = 1e-4;

/// Max relative error |a − n| / max(|a|, |n|, REL_FLOOR) per tensor, in checkpoint naming.
#[derive(Clone, Debug)]
pub struct GradCheckReport {
    /// (tensor name, max relative error), one per tensor in layout order.
    pub tensors: Vec<(String, f64)>,
}

impl GradCheckReport {
    /// The largest relative error over all tensors (0 for none).
    pub fn max_error(&self) -> f64 {
        self.tensors.iter().map(|t| t.1).fold(0.0, f64::max)
    }
}

/// Checks every parameter by central differences with step `h`.
pub fn gradcheck(
    setup: &TrainSetup,
    params: &Params<f64>,
    x: &[f64],
    targets: BatchTargets,
    dropout: Option<DropoutStep>,
    h: f64,
) -> GradCheckReport {
    let (_, analytic) = objective(setup, params, x, targets, dropout);
    let mut p = params.clone();
    let mut tensors = Vec::new();
    for (name, range) in params.layout.tensors() {
        let mut worst = 0.0f64;
        for i in range {
            let orig = p.data[i];
            p.data[i] = orig + h;
            let (up, _) = objective(setup, &p, x, targets, dropout);
            p.data[i] = orig - h;
            let (down, _) = objective(setup, &p, x, targets, dropout);
            p.data[i] = orig;
            let numeric = (up - down) / (2.0 * h);
            let a = analytic.data[i];
            let rel = (a - numeric).abs() / a.abs().max(numeric.abs()).max(REL_FLOOR);
            worst = worst.max(rel);
        }
        tensors.push((name, worst));
    }
    GradCheckReport { tensors }
}
