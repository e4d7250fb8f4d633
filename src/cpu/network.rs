//! One minibatch through the whole network on the CPU: forward, loss, backward. Walks exactly the
//! sequence of kernels the GPU engine records, calling each kernel's CPU twin.

use super::activation::{act_backward, bias_act};
use super::dropout::dropout_apply;
use super::loss::{training_loss, BatchTargets};
use super::matmul::{matmul_ab, matmul_abt, matmul_atb};
use super::reduce::{bias_grad, unit_stats};
use crate::engine::TrainSetup;
use crate::model::{NetworkSpec, Params};
use crate::scalar::Scalar;

/// Buffers for one batch of up to `capacity` rows, allocated once per run.
#[derive(Clone, Debug)]
pub struct Workspace<T> {
    /// The most rows a batch may have.
    pub capacity: usize,
    /// `h[0]` = input batch; `h[l]` (l ≥ 1) = output of layer l-1 (activated for hidden layers,
    /// logits for the last), before dropout.
    pub h: Vec<Vec<T>>,
    /// Input of layer l after dropout; empty when layer l's input has no dropout (`h[l]` is used).
    pub dropped: Vec<Vec<T>>,
    /// Gradient w.r.t. each layer's pre-activation z, reused from the top down.
    pub dz: Vec<Vec<T>>,
    /// Gradients of the batch-mean data loss, laid out like the parameters.
    pub grads: Params<T>,
    /// Scratch for the forward product's transposed weights (matmul_abt).
    pub wt: Vec<T>,
}

impl<T: Scalar> Workspace<T> {
    /// Zeroed buffers for batches of up to `capacity` rows of `setup`'s network (dropout
    /// copies only for layers whose input is dropped).
    pub fn new(setup: &TrainSetup, params: &Params<T>, capacity: usize) -> Self {
        let spec = &setup.spec;
        let h = spec.sizes.iter().map(|&n| vec![T::zero(); capacity * n]).collect();
        let dropped = (0..spec.num_layers())
            .map(|l| if setup.keep_of(l) < 1.0 { vec![T::zero(); capacity * spec.sizes[l]] } else { Vec::new() })
            .collect();
        let dz = spec.sizes[1..].iter().map(|&n| vec![T::zero(); capacity * n]).collect();
        Workspace { capacity, h, dropped, dz, grads: Params::zeros(&params.layout), wt: Vec::new() }
    }

}

/// The input layer `l` multiplies: its dropped-out copy when dropout is on for it, else `h[l]`.
fn layer_input<'a, T>(h: &'a [Vec<T>], dropped: &'a [Vec<T>], dropout: bool, l: usize, len: usize) -> &'a [T] {
    if dropout && !dropped[l].is_empty() {
        &dropped[l][..len]
    } else {
        &h[l][..len]
    }
}

/// Dropout for one step: the hash key and step number (None at evaluation).
#[derive(Clone, Copy, Debug)]
pub struct DropoutStep {
    /// [`crate::rng::seed_key`] of the run's seed.
    pub key: u32,
    /// Optimizer steps taken before this one (the low 32 bits).
    pub step: u32,
}

/// Forward pass over `rows` rows already in `ws.h[0]`. Leaves logits in `ws.h[L]`.
pub fn forward<T: Scalar>(setup: &TrainSetup, params: &Params<T>, ws: &mut Workspace<T>, rows: usize, dropout: Option<DropoutStep>) {
    let spec = &setup.spec;
    for l in 0..spec.num_layers() {
        let (n_out, n_in) = spec.layer_shape(l);
        if let (Some(d), false) = (dropout, ws.dropped[l].is_empty()) {
            let (src, dst) = (&ws.h[l][..rows * n_in], &mut ws.dropped[l][..rows * n_in]);
            dst.copy_from_slice(src);
            dropout_apply(d.key, d.step, l as u32, setup.keep_of(l), dst);
        }
        let mut z = std::mem::take(&mut ws.h[l + 1]);
        let input = layer_input(&ws.h, &ws.dropped, dropout.is_some(), l, rows * n_in);
        matmul_abt(rows, n_in, n_out, input, params.weight(l), &mut z[..rows * n_out], false, &mut ws.wt);
        bias_act(rows, n_out, params.bias(l), spec.activation(l), &mut z[..rows * n_out]);
        ws.h[l + 1] = z;
    }
}

/// What one training step measured besides the gradients.
#[derive(Clone, Debug, Default)]
pub struct StepOutcome {
    /// Σ over the batch of the per-sample data loss.
    pub loss_sum: f64,
    /// Correctly classified samples in the batch (classification losses only).
    pub correct: u64,
    /// Per hidden layer: saturated values in this batch.
    pub saturated: Vec<u64>,
}

/// Forward + loss + backward for `rows` rows in `ws.h[0]` with `targets`; gradients of the
/// batch-mean data loss land in ws.grads (penalties are added by the optimizer update).
/// `alive` (per hidden layer, per unit) collects which units fired.
pub fn loss_and_grads<T: Scalar>(
    setup: &TrainSetup,
    params: &Params<T>,
    ws: &mut Workspace<T>,
    rows: usize,
    targets: BatchTargets,
    dropout: Option<DropoutStep>,
    alive: Option<&mut [Vec<bool>]>,
) -> StepOutcome {
    let spec: &NetworkSpec = &setup.spec;
    let layers = spec.num_layers();
    forward(setup, params, ws, rows, dropout);

    let mut saturated = vec![0u64; layers - 1];
    if let Some(alive) = alive {
        for l in 0..layers - 1 {
            let n = spec.sizes[l + 1];
            let act = spec.activations[l];
            saturated[l] = unit_stats(act, rows, n, &ws.h[l + 1][..rows * n], &mut alive[l]);
        }
    }

    let k = spec.outputs();
    let scale = T::one() / T::from_usize(rows).unwrap_or_else(T::one);
    let (loss_sum, correct) = {
        let (logits, dz) = (&ws.h[layers][..rows * k], &mut ws.dz[layers - 1][..rows * k]);
        training_loss(spec.loss, rows, k, logits, targets, Some(dz), scale, &setup.train_loss)
    };

    for l in (0..layers).rev() {
        let (n_out, n_in) = spec.layer_shape(l);
        let dz = std::mem::take(&mut ws.dz[l]);
        let input = layer_input(&ws.h, &ws.dropped, dropout.is_some(), l, rows * n_in);
        let slot = ws.grads.layout.layers[l];
        matmul_atb(rows, n_out, n_in, &dz[..rows * n_out], input, &mut ws.grads.data[slot.weight_range()]);
        bias_grad(rows, n_out, &dz[..rows * n_out], &mut ws.grads.data[slot.bias_range()]);
        if l > 0 {
            let mut below = std::mem::take(&mut ws.dz[l - 1]);
            let da = &mut below[..rows * n_in];
            matmul_ab(rows, n_out, n_in, &dz[..rows * n_out], params.weight(l), da);
            if let Some(d) = dropout {
                // the same mask again: d(input)/d(h) = mask/p
                dropout_apply(d.key, d.step, l as u32, setup.keep_of(l), da);
            }
            act_backward(spec.activations[l - 1], &ws.h[l][..rows * n_in], da);
            ws.dz[l - 1] = below;
        }
        ws.dz[l] = dz;
    }
    StepOutcome { loss_sum, correct, saturated }
}
