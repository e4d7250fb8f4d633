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
/// 128×256×256) up they use rayon's pool; `wgpu-mlp bench --devices cpu --configs B`
/// at 1 << 24 against 1 << 23 measures the split.
const PARALLEL_MIN_MACS: usize = 1 << 23;

/// A threaded product is cut into two halves of c along its longer side, multiplied side by side
/// (`rayon::join`), each half with the gemm crate's own threading over half the pool (none on
/// two cores). On 2 vCPUs this was faster than the crate's threading of the whole product at
/// every threaded shape of configs B and C (README, Results: what the CPU engine changed).
/// The halves are fixed by the shape, and the crate splits its work over output blocks only, so
/// each output's sum order, and the result, does not depend on the thread count
/// (tests/cpu_repeat.rs); the halves start at a multiple of 16 rows or columns.
fn halves(m: usize, k: usize, n: usize) -> Option<(bool, usize)> {
    let long = m.max(n);
    if m * k * n < PARALLEL_MIN_MACS || long < 64 {
        return None;
    }
    Some((n >= m, (long / 2).next_multiple_of(16)))
}

/// The crate's threading for one half: none when half the pool is one thread.
fn half_parallelism() -> gemm::Parallelism {
    match rayon::current_num_threads() / 2 {
        0 | 1 => gemm::Parallelism::None,
        t => gemm::Parallelism::Rayon(t),
    }
}

/// A raw pointer that may cross to the other half's thread (the halves touch disjoint parts of c).
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: only used to hand disjoint output blocks (and shared read-only inputs) to rayon::join.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

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
                // c does not alias a or b (it is a distinct &mut); the two halves write disjoint
                // blocks of c.
                // gemm's convention is dst = alpha·dst + beta·lhs·rhs, so our alpha/beta swap.
                let (ap, bp, cp) = (SendPtr(a.as_ptr() as *mut Self), SendPtr(b.as_ptr() as *mut Self), SendPtr(c.as_mut_ptr()));
                let run = move |m: usize, n: usize, a: SendPtr<Self>, b: SendPtr<Self>, c: SendPtr<Self>, par| unsafe {
                    gemm::gemm(
                        m, n, k, c.0, csc, rsc, beta != 0.0, a.0, csa, rsa,
                        b.0, csb, rsb, beta, alpha, false, false, false, par,
                    )
                };
                match halves(m, k, n) {
                    None => run(m, n, ap, bp, cp, gemm::Parallelism::None),
                    Some((split_n, mid)) => {
                        let par = half_parallelism();
                        let at = |p: SendPtr<Self>, off: isize| SendPtr(unsafe { p.0.offset(off) });
                        if split_n {
                            rayon::join(
                                || run(m, mid, ap, bp, cp, par),
                                || run(m, n - mid, ap, at(bp, mid as isize * csb), at(cp, mid as isize * csc), par),
                            );
                        } else {
                            rayon::join(
                                || run(mid, n, ap, bp, cp, par),
                                || run(m - mid, n, at(ap, mid as isize * rsa), bp, at(cp, mid as isize * rsc), par),
                            );
                        }
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// c = a·bᵀ (+ c) at a shape cut into halves (along n, and along m with the roles swapped), in
    /// pools of 1 to 5 threads: bit-identical everywhere, and equal to a plain sum.
    #[test]
    fn threaded_halves_match_at_any_thread_count() {
        for (m, k, n) in [(130, 300, 250), (250, 300, 130)] {
            assert!(halves(m, k, n).is_some(), "{m}x{k}x{n} is not cut");
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919 % 1000) as f32 - 500.0) / 1000.0).collect();
            let b: Vec<f32> = (0..n * k).map(|i| ((i * 104729 % 1000) as f32 - 500.0) / 1000.0).collect();
            let run = |threads: usize, accumulate: bool| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut c: Vec<f32> = (0..m * n).map(|i| (i % 7) as f32).collect();
                let beta = if accumulate { 1.0 } else { 0.0 };
                pool.install(|| f32::gemm(m, k, n, 1.0, &a, k as isize, 1, &b, 1, k as isize, beta, &mut c, n as isize, 1));
                c
            };
            for accumulate in [false, true] {
                let one = run(1, accumulate);
                for threads in 2..=5 {
                    assert!(run(threads, accumulate) == one, "{m}x{k}x{n}: {threads} threads differ");
                }
                for (i, j) in [(0, 0), (m - 1, n - 1), (m / 2 + 7, n / 2 + 9), (3, n - 2)] {
                    let dot: f64 = (0..k).map(|p| a[i * k + p] as f64 * b[j * k + p] as f64).sum();
                    let want = dot + if accumulate { ((i * n + j) % 7) as f64 } else { 0.0 };
                    assert!((one[i * n + j] as f64 - want).abs() < 1e-3, "{m}x{k}x{n} c[{i},{j}]");
                }
            }
        }
    }
}
