//! The fused optimizer update for one parameter tensor: the CPU twin of shaders/optimizer.wgsl
//! (which updates every tensor of a step in one dispatch).
//! Penalties, decoupled decay, the optimizer's moments and the proximal L1 step in one pass.

use super::sum::{add_squares, LANES};
use crate::optim::{regularized_grad, sign0, OptimizerKind, UpdateParams};
use crate::scalar::Scalar;

/// w, g, s0, s1 all of one tensor's length; s0/s1 are the optimizer slots (unused ones empty).
pub fn optimizer_update<T: Scalar>(u: &UpdateParams, w: &mut [T], g: &[T], s0: &mut [T], s1: &mut [T]) {
    optimizer_update_norm(u, w, g, s0, s1);
}

/// `optimizer_update` that also returns Σ grad² of the regularised gradient it applied (in f64,
/// in the fixed lane order of `add_squares`), so the engine gets ‖∂L/∂W‖ without another pass.
/// Large tensors update in chunks of this many elements on rayon's pool (C's 1024×1024 weights:
/// 16 chunks); Σ grad² is summed within each chunk, then over the chunks in order, so the norm,
/// like every weight, is the same at any thread count (`reduce::grad_norm` sums the same way).
pub(crate) const UPDATE_CHUNK: usize = 1 << 16;

pub(crate) fn optimizer_update_norm<T: Scalar>(u: &UpdateParams, w: &mut [T], g: &[T], s0: &mut [T], s1: &mut [T]) -> f64 {
    let n = w.len();
    if n <= UPDATE_CHUNK {
        return super::wide::wide(Update { u, w, g, s0, s1 });
    }
    let (mut s0c, mut s1c) = (s0.chunks_mut(UPDATE_CHUNK), s1.chunks_mut(UPDATE_CHUNK));
    // unused slots are empty and give no chunks: those chunks get empty slices too
    let parts: Vec<Update<'_, T>> = w
        .chunks_mut(UPDATE_CHUNK)
        .zip(g[..n].chunks(UPDATE_CHUNK))
        .map(|(w, g)| Update { u, w, g, s0: s0c.next().unwrap_or(&mut []), s1: s1c.next().unwrap_or(&mut []) })
        .collect();
    use rayon::prelude::*;
    let norms: Vec<f64> = parts.into_par_iter().map(super::wide::wide).collect();
    norms.iter().sum()
}

struct Update<'a, T> {
    u: &'a UpdateParams,
    w: &'a mut [T],
    g: &'a [T],
    s0: &'a mut [T],
    s1: &'a mut [T],
}

impl<T: Scalar> super::wide::Loop for Update<'_, T> {
    type Out = f64;
    #[inline(always)]
    fn run(self) -> f64 {
        update_any_width(self.u, self.w, self.g, self.s0, self.s1)
    }
}

#[inline(always)]
fn update_any_width<T: Scalar>(u: &UpdateParams, w: &mut [T], g: &[T], s0: &mut [T], s1: &mut [T]) -> f64 {
    // two copies of every loop, so the proximal test is not made per element
    if u.l1_proximal && u.l1 > 0.0 {
        update_kinds::<T, true>(u, w, g, s0, s1)
    } else {
        update_kinds::<T, false>(u, w, g, s0, s1)
    }
}

/// The match on the kind sits outside the element loops: each arm is one zipped loop over its
/// tensors that the compiler vectorises. The arithmetic per element is the shader's.
#[inline(always)]
fn update_kinds<T: Scalar, const PROX: bool>(u: &UpdateParams, w: &mut [T], g: &[T], s0: &mut [T], s1: &mut [T]) -> f64 {
    let c = |x: f64| T::from_f64_lossy(x);
    let (lr, mu, eps, one) = (c(u.lr), c(u.momentum), c(u.eps), T::one());
    let k = Common {
        scale: c(u.grad_scale),
        l2: c(u.l2),
        l1_sub: if u.l1_proximal { T::zero() } else { c(u.l1) },
        // w·1 is w exactly, so "no decay" needs no branch in the loop
        decay: if u.weight_decay != 0.0 { T::one() - c(u.lr * u.weight_decay) } else { T::one() },
        shrink: c(u.lr * u.l1),
    };
    let n = w.len();
    let g = &g[..n];
    // Blocks of 0..n: each arm's loop writes the gradients it applied to `nb.grads` for the norm.
    // (Plain loops, not closures: a closure would not be compiled at the wide width.)
    let mut nb = NormBlocks::new();
    let blocks = (0..n).step_by(BLOCK).map(|start| start..n.min(start + BLOCK));
    match u.kind {
        OptimizerKind::Sgd => {
            for r in blocks {
                for ((w, &g), o) in w[r.clone()].iter_mut().zip(&g[r.clone()]).zip(nb.out(r.len())) {
                    *o = k.grad(g, *w);
                    *w = k.finish::<PROX>(*w, lr * *o);
                }
                nb.add(r.len());
            }
        }
        OptimizerKind::Momentum | OptimizerKind::Nesterov => {
            let (s0, nesterov) = (&mut s0[..n], u.kind == OptimizerKind::Nesterov);
            for r in blocks {
                let out = nb.out(r.len());
                for (((w, &g), v), o) in w[r.clone()].iter_mut().zip(&g[r.clone()]).zip(&mut s0[r.clone()]).zip(out) {
                    let grad = k.grad(g, *w);
                    *o = grad;
                    *v = mu * *v + grad;
                    let step = if nesterov { lr * (grad + mu * *v) } else { lr * *v };
                    *w = k.finish::<PROX>(*w, step);
                }
                nb.add(r.len());
            }
        }
        OptimizerKind::Rmsprop => {
            let (rho, momentum, nesterov) = (c(u.rho), u.momentum > 0.0, u.nesterov);
            // s1 (the velocity) is only there with momentum
            let s0 = &mut s0[..n];
            let s1 = if momentum { &mut s1[..n] } else { &mut [][..] };
            for r in blocks {
                let out = nb.out(r.len());
                for (i, ((w, &g), s)) in w[r.clone()].iter_mut().zip(&g[r.clone()]).zip(&mut s0[r.clone()]).enumerate() {
                    let grad = k.grad(g, *w);
                    out[i] = grad;
                    *s = rho * *s + (one - rho) * grad * grad;
                    let step = grad / (s.sqrt() + eps);
                    let delta = if momentum {
                        let v = &mut s1[r.start + i];
                        *v = mu * *v + step;
                        if nesterov { lr * (step + mu * *v) } else { lr * *v }
                    } else {
                        lr * step
                    };
                    *w = k.finish::<PROX>(*w, delta);
                }
                nb.add(r.len());
            }
        }
        OptimizerKind::Adam | OptimizerKind::Adamw => {
            let (s0, s1) = (&mut s0[..n], &mut s1[..n]);
            let (b1, b2) = (c(u.beta1), c(u.beta2));
            let (sqrt_bc2, lr_bc1) = (c(u.bias_correction2.sqrt()), c(u.lr / u.bias_correction1));
            for r in blocks {
                let slots = s0[r.clone()].iter_mut().zip(&mut s1[r.clone()]);
                let out = nb.out(r.len());
                for (((w, &g), (m, v)), o) in w[r.clone()].iter_mut().zip(&g[r.clone()]).zip(slots).zip(out) {
                    let grad = k.grad(g, *w);
                    *o = grad;
                    *m = b1 * *m + (one - b1) * grad;
                    *v = b2 * *v + (one - b2) * grad * grad;
                    // PyTorch's form: step = lr/bc1 · m / (√v/√bc2 + ε)
                    *w = k.finish::<PROX>(*w, lr_bc1 * *m / (v.sqrt() / sqrt_bc2 + eps));
                }
                nb.add(r.len());
            }
        }
    }
    nb.total()
}

/// Per-tensor constants every optimizer kind applies the same way.
struct Common<T> {
    /// the clipping factor on the raw gradient (1: none)
    scale: T,
    l2: T,
    l1_sub: T,
    decay: T,
    shrink: T,
}

impl<T: Scalar> Common<T> {
    /// The gradient the optimizer sees (`regularized_grad` of the clipped gradient).
    #[inline(always)]
    fn grad(&self, g: T, w: T) -> T {
        regularized_grad(g * self.scale, w, self.l2, self.l1_sub)
    }
    /// w·decay − step, then the proximal L1 shrink when on.
    #[inline(always)]
    fn finish<const PROX: bool>(&self, w: T, step: T) -> T {
        let mut w = w * self.decay;
        w -= step;
        if PROX {
            w = sign0(w) * (w.abs() - self.shrink).max(T::zero());
        }
        w
    }
}

/// The gradients of one block, and Σ grad² over all blocks so far in `add_squares`' fixed order.
struct NormBlocks<T> {
    lanes: [f64; LANES],
    grads: [T; BLOCK],
}

impl<T: Scalar> NormBlocks<T> {
    #[inline(always)]
    fn new() -> Self {
        NormBlocks { lanes: [0.0; LANES], grads: [T::zero(); BLOCK] }
    }
    /// Where a block of `len` writes its gradients.
    #[inline(always)]
    fn out(&mut self, len: usize) -> &mut [T] {
        &mut self.grads[..len]
    }
    #[inline(always)]
    fn add(&mut self, len: usize) {
        add_squares(&mut self.lanes, &self.grads[..len]);
    }
    #[inline(always)]
    fn total(&self) -> f64 {
        self.lanes.iter().sum()
    }
}

/// Gradients kept per block for the norm (a multiple of the norm's lane count).
const BLOCK: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::OptimizerConfig;

    /// Tensors larger than a chunk update in parallel: weights, slots and the norm are the same
    /// bits on 1, 2 and 3 threads, and the norm is `grad_norm`'s.
    #[test]
    fn chunked_update_is_the_same_at_any_thread_count() {
        let n = 3 * UPDATE_CHUNK + 77;
        let w0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let g: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos() * 0.1).collect();
        for kind in [OptimizerKind::Sgd, OptimizerKind::Rmsprop, OptimizerKind::Adam] {
            let u = UpdateParams::new(&OptimizerConfig::new(kind), 0.01, 3, 1e-3, 1e-4, false, false);
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let slots = OptimizerConfig::new(kind).state_slots();
                let (mut w, mut a, mut b) = (w0.clone(), vec![0.01f32; n], if slots > 1 { vec![0.0f32; n] } else { vec![] });
                let norm = pool.install(|| optimizer_update_norm(&u, &mut w, &g, &mut a, &mut b));
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                (bits(&w), bits(&a), bits(&b), norm.to_bits())
            };
            let one = run(1);
            assert_eq!(one, run(2), "{kind:?}: 2 threads");
            assert_eq!(one, run(3), "{kind:?}: 3 threads");
            let want = crate::cpu::reduce::grad_norm(&g, &w0, 1e-3, 1e-4);
            assert_eq!(f64::from_bits(one.3).sqrt().to_bits(), want.to_bits(), "{kind:?}: norm");
        }
    }

    /// The wide (AVX) build of the loop and the baseline build agree bit for bit, for every
    /// kind, with penalties, decay and the proximal step, on a length with a ragged tail.
    #[test]
    fn wide_and_baseline_agree_bitwise() {
        let n = 1000 + 13;
        let w0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let g: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos() * 0.1).collect();
        let s: Vec<f32> = (0..n).map(|i| (i as f32 * 0.05).sin().abs() * 0.01).collect();
        for kind in [
            OptimizerKind::Sgd, OptimizerKind::Momentum, OptimizerKind::Nesterov,
            OptimizerKind::Rmsprop, OptimizerKind::Adam, OptimizerKind::Adamw,
        ] {
            for (l2, l1, prox) in [(0.0, 0.0, false), (1e-2, 1e-3, false), (1e-2, 1e-3, true)] {
                let mut cfg = OptimizerConfig::new(kind);
                cfg.momentum = 0.9;
                let u = UpdateParams::new(&cfg, 0.01, 3, l2, l1, prox, false);
                let (mut wa, mut a0, mut a1) = (w0.clone(), s.clone(), s.clone());
                let (mut wb, mut b0, mut b1) = (w0.clone(), s.clone(), s.clone());
                let na = optimizer_update_norm(&u, &mut wa, &g, &mut a0, &mut a1);
                let nb = update_any_width(&u, &mut wb, &g, &mut b0, &mut b1);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&wa), bits(&wb), "{kind:?} weights");
                assert_eq!((bits(&a0), bits(&a1)), (bits(&b0), bits(&b1)), "{kind:?} slots");
                assert_eq!(na.to_bits(), nb.to_bits(), "{kind:?} norm");
                let want = crate::cpu::reduce::grad_norm(&g, &w0, l2, if prox { 0.0 } else { l1 });
                assert_eq!(na.sqrt().to_bits(), want.to_bits(), "{kind:?}: fused norm vs grad_norm");
            }
        }
    }
}
