//! Fixed-order reductions: bias gradients, gradient norms, penalties and unit statistics.
//! CPU twins of shaders/reduce.wgsl (unit statistics, the step's sums), of atb's bias gradient in
//! shaders/matmul.wgsl, and of the norm partials the update in shaders/optimizer.wgsl writes.

use super::sum::{add_squares, LANES};
use crate::model::Activation;
use crate::optim::regularized_grad;
use crate::scalar::Scalar;

/// dz (B, N) -> db (N): column sums, row by row (atb in matmul.wgsl sums in this order).
/// At the widest vectors the CPU has (wide.rs): each column's sum keeps its order.
pub fn bias_grad<T: Scalar>(rows: usize, n: usize, dz: &[T], db: &mut [T]) {
    super::wide::wide(BiasGrad { rows, n, dz, db })
}

struct BiasGrad<'a, T> {
    rows: usize,
    n: usize,
    dz: &'a [T],
    db: &'a mut [T],
}

impl<T: Scalar> super::wide::Loop for BiasGrad<'_, T> {
    type Out = ();
    #[inline(always)]
    fn run(self) {
        let BiasGrad { rows, n, dz, db } = self;
        bias_grad_any_width(rows, n, dz, db)
    }
}

#[inline(always)]
fn bias_grad_any_width<T: Scalar>(rows: usize, n: usize, dz: &[T], db: &mut [T]) {
    db.fill(T::zero());
    for r in 0..rows {
        for (acc, &v) in db.iter_mut().zip(&dz[r * n..(r + 1) * n]) {
            *acc += v;
        }
    }
}

/// ‖g + λw + β·sign(w)‖₂ of one weight tensor (β = 0 in proximal mode), summed in f64 in the
/// lane order of `add_squares` within each `UPDATE_CHUNK`, then over chunks. (The engine gets the
/// same number from the optimizer update.)
pub fn grad_norm<T: Scalar>(g: &[T], w: &[T], l2: f64, l1_subgrad: f64) -> f64 {
    let (l2, l1) = (T::from_f64_lossy(l2), T::from_f64_lossy(l1_subgrad));
    let grads: Vec<T> = g.iter().zip(w).map(|(&g, &w)| regularized_grad(g, w, l2, l1)).collect();
    // per chunk of the optimizer's parallel update, then over chunks in order, as it sums
    let chunk_sums: Vec<f64> = grads
        .chunks(super::optimizer::UPDATE_CHUNK)
        .map(|c| {
            let mut lanes = [0.0; LANES];
            add_squares(&mut lanes, c);
            lanes.iter().sum::<f64>()
        })
        .collect();
    chunk_sums.iter().sum::<f64>().sqrt()
}


/// ½λ‖W‖² + β‖W‖₁ of one weight tensor.
pub fn penalty<T: Scalar>(w: &[T], l2: f64, l1: f64) -> f64 {
    if l2 == 0.0 && l1 == 0.0 {
        return 0.0;
    }
    let (sq, abs) = w.iter().fold((0.0f64, 0.0f64), |(s, a), &x| {
        let x = x.to_f64_lossy();
        (s + x * x, a + x.abs())
    });
    0.5 * l2 * sq + l1 * abs
}

/// Whether an activation value sits on a flat part of sigmoid/tanh.
#[inline]
pub fn is_saturated<T: Scalar>(act: Activation, h: T) -> bool {
    let h = h.to_f64_lossy();
    match act {
        Activation::Tanh => h.abs() > 0.99,
        Activation::Sigmoid => !(0.01..=0.99).contains(&h),
        _ => false,
    }
}

/// h (B, N) of one hidden layer: marks units with any positive output in `alive` (N) and returns
/// how many values are saturated.
pub fn unit_stats<T: Scalar>(act: Activation, rows: usize, n: usize, h: &[T], alive: &mut [bool]) -> u64 {
    let alive = &mut alive[..n];
    let rows_of = || h[..rows * n].chunks_exact(n);
    // Only sigmoid and tanh saturate; the others need just the (vectorising) alive pass.
    if !matches!(act, Activation::Tanh | Activation::Sigmoid) {
        for row in rows_of() {
            for (a, &v) in alive.iter_mut().zip(row) {
                *a |= v > T::zero();
            }
        }
        return 0;
    }
    let mut saturated = 0u64;
    for row in rows_of() {
        for (a, &v) in alive.iter_mut().zip(row) {
            *a |= v > T::zero();
            saturated += is_saturated(act, v) as u64;
        }
    }
    saturated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_grad_wide_and_baseline_agree_bitwise() {
        let (rows, n) = (9, 53);
        let dz: Vec<f32> = (0..rows * n).map(|i| (i as f32 * 0.37).sin() * 1e-3).collect();
        let (mut wide, mut base) = (vec![1.0f32; n], vec![2.0f32; n]);
        bias_grad(rows, n, &dz, &mut wide);
        bias_grad_any_width(rows, n, &dz, &mut base);
        assert_eq!(wide.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), base.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        // in row order, as matmul.wgsl's atb sums
        let want: f32 = (0..rows).fold(0.0, |s, r| s + dz[r * n + 5]);
        assert_eq!(wide[5].to_bits(), want.to_bits());
    }
}
