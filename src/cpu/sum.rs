//! Sums of squares in a fixed lane order, so a norm is the same number whichever loop (the fused
//! optimizer update or the standalone gradient norm) computes it.

use crate::scalar::Scalar;

/// Lanes of `add_squares`.
pub(crate) const LANES: usize = 8;

/// `lanes[i mod 8] += x[i]²` in f64: a fixed summation order (the same on every run, at any
/// thread count) that still vectorises. Chained calls continue the order when every call but
/// the last has a multiple of LANES elements.
#[inline(always)]
pub(crate) fn add_squares<T: Scalar>(lanes: &mut [f64; LANES], x: &[T]) {
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (acc, &v) in lanes.iter_mut().zip(c) {
            let v = v.to_f64_lossy();
            *acc += v * v;
        }
    }
    for (acc, &v) in lanes.iter_mut().zip(chunks.remainder()) {
        let v = v.to_f64_lossy();
        *acc += v * v;
    }
}
