//! Output-layer losses from logits, each computing the batch's loss sum, the correct count and
//! the logits gradient in one pass: the CPU twin of shaders/loss.wgsl.

use super::activation::sigmoid;
use crate::engine::TrainLoss;
use crate::model::{Loss, COSINE_EPS};
use crate::scalar::Scalar;

/// Targets of one batch, as gathered: class labels or real-valued rows of width K.
#[derive(Clone, Copy, Debug)]
pub enum BatchTargets<'a> {
    /// (B) class labels; for a single sigmoid output, 0 or 1.
    Classes(&'a [u32]),
    /// (B, K) row-major target values.
    Values(&'a [f32]),
}

impl BatchTargets<'_> {
    /// Target k of sample b for a K-wide output: one-hot for labels (the label itself for K = 1).
    #[inline]
    pub fn value<T: Scalar>(&self, b: usize, k: usize, width: usize) -> T {
        match *self {
            BatchTargets::Classes(labels) => {
                let hit = if width == 1 { labels[b] == 1 } else { labels[b] as usize == k };
                if hit { T::one() } else { T::zero() }
            }
            BatchTargets::Values(v) => T::from_f64_lossy(v[b * width + k] as f64),
        }
    }
}


/// The predicted class of one output row: argmax (first on ties), or z > 0 for a single output.
#[inline]
pub fn predicted_class<T: Scalar>(z: &[T]) -> u32 {
    if z.len() == 1 {
        return (z[0] > T::zero()) as u32;
    }
    let mut best = 0;
    for (k, &v) in z.iter().enumerate().skip(1) {
        if v > z[best] {
            best = k;
        }
    }
    best as u32
}

/// logits (B, K), targets -> dz (B, K) = ∂(mean loss)/∂logits; returns (Σ per-sample loss, correct).
/// `grad_scale` is 1/B for a training batch (losses are means over it).
pub fn loss_forward_backward<T: Scalar>(
    loss: Loss,
    rows: usize,
    width: usize,
    logits: &[T],
    targets: BatchTargets,
    dz: Option<&mut [T]>,
    grad_scale: T,
) -> (f64, u64) {
    training_loss(loss, rows, width, logits, targets, dz, grad_scale, &TrainLoss::default())
}

/// [`loss_forward_backward`] with label smoothing and class weights (`tl`): softmax
/// cross-entropy against (1 − ε)·one-hot + ε/K, and each sample's loss and gradient times its
/// class's weight (the mean stays over samples, as Keras' `class_weight`). Both are exact
/// no-ops at ε = 0 and weight 1, so the plain loss is this function too.
#[allow(clippy::too_many_arguments)]
pub fn training_loss<T: Scalar>(
    loss: Loss,
    rows: usize,
    width: usize,
    logits: &[T],
    targets: BatchTargets,
    mut dz: Option<&mut [T]>,
    grad_scale: T,
    tl: &TrainLoss,
) -> (f64, u64) {
    let mut loss_sum = 0.0f64;
    let mut correct = 0u64;
    let k_t = T::from_usize(width).unwrap_or_else(T::one);
    // ε/K to every class, and the label's own share of ε: ε − ε/K (the shader computes the same)
    let eps = T::from_f64_lossy(tl.label_smoothing);
    let (eps_k, eps_rest) = (eps / k_t, eps - eps / k_t);
    for b in 0..rows {
        let z = &logits[b * width..(b + 1) * width];
        let mut weight = T::one();
        if let BatchTargets::Classes(labels) = targets {
            correct += (predicted_class(z) == labels[b]) as u64;
            if let Some(&w) = tl.class_weight.get(labels[b] as usize) {
                weight = T::from_f64_lossy(w as f64);
            }
        }
        let grad_scale = grad_scale * weight;
        let mut d = dz.as_deref_mut().map(|d| &mut d[b * width..(b + 1) * width]);
        let t = |k: usize| targets.value::<T>(b, k, width);
        let sample_loss = match loss {
            Loss::SoftmaxCrossEntropy => {
                let m = z.iter().copied().fold(T::neg_infinity(), T::max);
                let sum_exp: T = z.iter().map(|&v| (v - m).exp()).sum();
                let lse = m + sum_exp.ln();
                let BatchTargets::Classes(labels) = targets else {
                    unreachable!("softmax cross-entropy is checked to have class targets")
                };
                let y = labels[b] as usize;
                if let Some(d) = d.as_deref_mut() {
                    // p_y − 1 written as −Σ_{k≠y} p_k: a confident sample's p_y rounds next to 1,
                    // and the difference would keep only the rounding of p_y (shaders/loss.wgsl);
                    // smoothed, p_k − ε/K and p_y − (1 − ε + ε/K) = (ε − ε/K) − Σ_{k≠y} p_k
                    let mut others = T::zero();
                    for k in 0..width {
                        let p = (z[k] - lse).exp();
                        if k != y {
                            others += p;
                            d[k] = (p - eps_k) * grad_scale;
                        }
                    }
                    d[y] = (eps_rest - others) * grad_scale;
                }
                if tl.label_smoothing > 0.0 {
                    // −Σ q_k log p_k = lse − (1 − ε)·z_y − (ε/K)·Σ z_k
                    let sum_z: T = z.iter().copied().sum();
                    lse - (T::one() - eps) * z[y] - eps_k * sum_z
                } else {
                    lse - z[y]
                }
            }
            Loss::BinaryCrossEntropy => {
                let mut s = T::zero();
                for k in 0..width {
                    let (zk, tk) = (z[k], t(k));
                    // max(z,0) − z·t + log(1 + e^(−|z|)), stable for any z
                    s += zk.max(T::zero()) - zk * tk + (-zk.abs()).exp().ln_1p();
                    if let Some(d) = d.as_deref_mut() {
                        // σ(z) − t as (1 − t)·σ(z) − t·σ(−z): no cancellation for a label 0 or 1
                        let g = (T::one() - tk) * sigmoid(zk) - tk * sigmoid(-zk);
                        d[k] = g * grad_scale / k_t;
                    }
                }
                s / k_t
            }
            Loss::MeanSquaredError => {
                let mut s = T::zero();
                for k in 0..width {
                    let e = z[k] - t(k);
                    s += e * e;
                    if let Some(d) = d.as_deref_mut() {
                        d[k] = (e + e) * grad_scale / k_t;
                    }
                }
                s / k_t
            }
            Loss::Cosine => {
                let eps = T::from_f64_lossy(COSINE_EPS);
                let (mut zz, mut tt, mut zt) = (T::zero(), T::zero(), T::zero());
                for k in 0..width {
                    let tk = t(k);
                    zz += z[k] * z[k];
                    tt += tk * tk;
                    zt += z[k] * tk;
                }
                let (nz, nt) = (zz.sqrt().max(eps), tt.sqrt().max(eps));
                let cos = zt / (nz * nt);
                if let Some(d) = d.as_deref_mut() {
                    // ∂cos/∂z = t/(|z||t|) − cos·z/|z|² (the second term vanishes when |z| is clamped)
                    let clamped = zz.sqrt() < eps;
                    for k in 0..width {
                        let mut g = t(k) / (nz * nt);
                        if !clamped {
                            g -= cos * z[k] / (nz * nz);
                        }
                        d[k] = -g * grad_scale;
                    }
                }
                T::one() - cos
            }
        };
        loss_sum += (sample_loss * weight).to_f64_lossy();
    }
    (loss_sum, correct)
}

/// logits (B, K) -> what the network predicts: softmax probabilities, sigmoid probabilities, or
/// the values themselves for regression losses.
pub fn output_probabilities<T: Scalar>(loss: Loss, rows: usize, width: usize, logits: &[T], out: &mut [f32]) {
    for b in 0..rows {
        let z = &logits[b * width..(b + 1) * width];
        let o = &mut out[b * width..(b + 1) * width];
        match loss {
            Loss::SoftmaxCrossEntropy => {
                let m = z.iter().copied().fold(T::neg_infinity(), T::max);
                let sum: T = z.iter().map(|&v| (v - m).exp()).sum();
                for (o, &v) in o.iter_mut().zip(z) {
                    *o = ((v - m).exp() / sum).to_f64_lossy() as f32;
                }
            }
            Loss::BinaryCrossEntropy => {
                for (o, &v) in o.iter_mut().zip(z) {
                    *o = sigmoid(v).to_f64_lossy() as f32;
                }
            }
            Loss::MeanSquaredError | Loss::Cosine => {
                for (o, &v) in o.iter_mut().zip(z) {
                    *o = v.to_f64_lossy() as f32;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ∂loss/∂z of one sample in f32 and in f64, each element's relative difference.
    fn relative_gap(loss: Loss, z: &[f64], targets: BatchTargets) -> Vec<f64> {
        let k = z.len();
        let (mut d32, mut d64) = (vec![0f32; k], vec![0f64; k]);
        let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
        let z64: Vec<f64> = z32.iter().map(|&v| v as f64).collect();
        loss_forward_backward(loss, 1, k, &z32, targets, Some(&mut d32), 1.0);
        loss_forward_backward(loss, 1, k, &z64, targets, Some(&mut d64), 1.0);
        d32.iter().zip(&d64).map(|(&a, &b)| (a as f64 - b).abs() / b.abs()).collect()
    }

    /// A confident sample's gradient keeps its relative precision: p_y − 1 computed as a
    /// difference would be 0 (p_y rounds to 1) or keep only p_y's rounding.
    #[test]
    fn confident_samples_keep_relative_precision() {
        for z in [vec![9.0, 0.0, -1.0, 0.5], vec![20.0, 0.0, 0.0], vec![3.0, -2.0]] {
            let gap = relative_gap(Loss::SoftmaxCrossEntropy, &z, BatchTargets::Classes(&[0]));
            assert!(gap.iter().all(|&g| g < 1e-6), "softmax {z:?}: {gap:?}");
        }
        for (z, t) in [(12.0, 1.0), (-12.0, 0.0), (30.0, 1.0), (2.0, 1.0)] {
            let gap = relative_gap(Loss::BinaryCrossEntropy, &[z], BatchTargets::Values(&[t]));
            assert!(gap[0] < 1e-6, "bce z {z} t {t}: {gap:?}");
        }
    }
}
