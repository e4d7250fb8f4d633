//! The element type the CPU engine is generic over (f32 for training, f64 for gradient checks).

use num_traits::{Float, FromPrimitive, NumAssign};
use std::fmt::{Debug, Display};

/// A float the CPU engine computes in: implemented for `f32` (training, matches the GPU's
/// precision) and `f64` (gradient checks and golden references).
pub trait Scalar:
    Float + FromPrimitive + NumAssign + Default + Debug + Display + Send + Sync + std::iter::Sum + 'static
{
    /// c = alpha·op(a)·op(b) + beta·c with explicit row/column strides, so transposed operands
    /// are read in place (the `gemm` crate).
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize, k: usize, n: usize,
        alpha: Self,
        a: &[Self], rsa: isize, csa: isize,
        b: &[Self], rsb: isize, csb: isize,
        beta: Self,
        c: &mut [Self], rsc: isize, csc: isize,
    );
    /// `x as Self`: rounds to nearest for f32, exact for f64.
    fn from_f64_lossy(x: f64) -> Self;
    /// `self as f64` (exact for both f32 and f64).
    fn to_f64_lossy(self) -> f64;
}

/// Products below this many multiply-adds run on the calling thread: handing work to the pool
/// costs tens of microseconds, more than the 784-64-10 net's GEMMs (5M) gain. From 8.4M (B's
/// 128×256×256) up they use rayon's pool (all cores); `wgpu-mlp bench --devices cpu --configs B`
/// at 1 << 24 against 1 << 23 measures the split.
/// The split is over output blocks only, so the sum order, and the result, does not depend on
/// the thread count (tests/cpu_repeat.rs).
const PARALLEL_MIN_MACS: usize = 1 << 23;

fn parallelism(m: usize, k: usize, n: usize) -> gemm::Parallelism {
    if m * k * n < PARALLEL_MIN_MACS {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(0)
    }
}

macro_rules! impl_scalar {
    ($t:ty) => {
        impl Scalar for $t {
            #[inline]
            fn gemm(
                m: usize, k: usize, n: usize,
                alpha: Self,
                a: &[Self], rsa: isize, csa: isize,
                b: &[Self], rsb: isize, csb: isize,
                beta: Self,
                c: &mut [Self], rsc: isize, csc: isize,
            ) {
                if m == 0 || n == 0 {
                    return;
                }
                // Bounds: the furthest element each operand's strides reach must be in the slice.
                let reach = |rows: usize, cols: usize, rs: isize, cs: isize| {
                    (rows.saturating_sub(1) as isize * rs + cols.saturating_sub(1) as isize * cs) as usize
                };
                if k > 0 {
                    assert!(reach(m, k, rsa, csa) < a.len(), "gemm: a too short");
                    assert!(reach(k, n, rsb, csb) < b.len(), "gemm: b too short");
                }
                assert!(reach(m, n, rsc, csc) < c.len(), "gemm: c too short");
                // SAFETY: the asserts above keep every strided access inside the slices, and
                // c does not alias a or b (it is a distinct &mut).
                // gemm's convention is dst = alpha·dst + beta·lhs·rhs, so our alpha/beta swap.
                unsafe {
                    gemm::gemm(
                        m, n, k, c.as_mut_ptr(), csc, rsc, beta != 0.0, a.as_ptr(), csa, rsa,
                        b.as_ptr(), csb, rsb, beta, alpha, false, false, false, parallelism(m, k, n),
                    )
                }
            }
            #[inline]
            fn from_f64_lossy(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn to_f64_lossy(self) -> f64 {
                self as f64
            }
        }
    };
}

impl_scalar!(f32);
impl_scalar!(f64);
