//! Inverted dropout from the counter-based hash: the CPU twin of `dropout_scale` in
//! shaders/common.wgsl, so both engines drop the same units.

use crate::rng::{hash4, unit_f32};
use crate::scalar::Scalar;

/// Multiplier for element `index` (= row·width + unit) of layer `layer`'s input at `step`:
/// 1/p when kept (u < p), 0 when dropped.
#[inline]
pub fn dropout_scale(key: u32, step: u32, layer: u32, index: u32, keep: f32) -> f32 {
    if unit_f32(hash4(key, step, layer, index)) < keep {
        1.0 / keep
    } else {
        0.0
    }
}

/// a (B, N) *= mask/p in place.
pub fn dropout_apply<T: Scalar>(key: u32, step: u32, layer: u32, keep: f32, a: &mut [T]) {
    if keep >= 1.0 {
        return;
    }
    for (i, x) in a.iter_mut().enumerate() {
        *x *= T::from_f64_lossy(dropout_scale(key, step, layer, i as u32, keep) as f64);
    }
}
