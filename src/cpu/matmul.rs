//! Matrix products, the CPU twins of shaders/matmul.wgsl. All row-major, through the GEMM crate,
//! with transposes expressed as strides so nothing is copied.

use crate::scalar::Scalar;

/// Forward: a (M, K), w (N, K) -> c (M, N); c = a·wᵀ (+ c if `accumulate`).
/// When w's rows are a multiple of 256 floats apart, the GEMM crate reads wᵀ slowly (the strided
/// packing reads alias in the L1 cache; at 256×1024×1024 about half the speed of a·b). Then w is
/// first transposed into `scratch` (K, N) and the product runs as a·b (`cargo bench --bench cpu`
/// measures both). Narrow outputs (N < 32) gain nothing.
#[allow(clippy::too_many_arguments)]
pub fn matmul_abt<T: Scalar>(m: usize, k: usize, n: usize, a: &[T], w: &[T], c: &mut [T], accumulate: bool, scratch: &mut Vec<T>) {
    let beta = if accumulate { T::one() } else { T::zero() };
    if k % 256 == 0 && n >= 32 && m > 1 {
        if scratch.len() < k * n {
            scratch.resize(k * n, T::zero());
        }
        transpose_weights(n, k, &w[..n * k], &mut scratch[..k * n]);
        T::gemm(m, k, n, T::one(), a, k as isize, 1, &scratch[..k * n], n as isize, 1, beta, c, n as isize, 1);
    } else {
        T::gemm(m, k, n, T::one(), a, k as isize, 1, w, 1, k as isize, beta, c, n as isize, 1);
    }
}

/// Weights from this many elements up are transposed on rayon's pool: C's 1024×1024 took about
/// 0.8 ms on one thread, a twentieth of the step, while the other core waited.
const PARALLEL_TRANSPOSE_MIN: usize = 1 << 18;

/// w (N, K) -> wt (K, N). In blocks of 64 rows of wt, each filled from 16-row strips of w, so
/// both stay in cache; a copy, so the split changes no value.
fn transpose_weights<T: Scalar>(n: usize, k: usize, w: &[T], wt: &mut [T]) {
    if n * k < PARALLEL_TRANSPOSE_MIN {
        transpose::transpose(w, wt, k, n);
        return;
    }
    use rayon::prelude::*;
    const ROWS: usize = 64;
    wt.par_chunks_mut(ROWS * n).enumerate().for_each(|(block, out)| {
        let k0 = block * ROWS;
        for j0 in (0..n).step_by(16) {
            for (kk, row) in out.chunks_exact_mut(n).enumerate() {
                for (j, o) in row.iter_mut().enumerate().take((j0 + 16).min(n)).skip(j0) {
                    *o = w[j * k + k0 + kk];
                }
            }
        }
    });
}

/// Backward to the input: dz (M, N), w (N, K) -> da (M, K); da = dz·w.
pub fn matmul_ab<T: Scalar>(m: usize, n: usize, k: usize, dz: &[T], w: &[T], da: &mut [T]) {
    T::gemm(m, n, k, T::one(), dz, n as isize, 1, w, k as isize, 1, T::zero(), da, k as isize, 1);
}

/// Backward to the weights: dz (M, N), a (M, K) -> dw (N, K); dw = dzᵀ·a.
pub fn matmul_atb<T: Scalar>(m: usize, n: usize, k: usize, dz: &[T], a: &[T], dw: &mut [T]) {
    T::gemm(n, m, k, T::one(), dz, 1, n as isize, a, k as isize, 1, T::zero(), dw, k as isize, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, a: impl Fn(usize, usize) -> f64, b: impl Fn(usize, usize) -> f64) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a(i, p) * b(p, j)).sum();
            }
        }
        c
    }

    #[test]
    fn forward_through_the_transposed_copy_matches_naive() {
        // K a multiple of 256 and N >= 32 take the transposed path; the scratch is reused
        let mut scratch = Vec::new();
        for (m, k, n) in [(3, 256, 32), (5, 512, 40), (2, 256, 33)] {
            let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
            let w: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.11).cos()).collect();
            let mut c = vec![0.0; m * n];
            matmul_abt(m, k, n, &a, &w, &mut c, false, &mut scratch);
            let want = naive(m, k, n, |i, p| a[i * k + p], |p, j| w[j * k + p]);
            assert!(c.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-9), "{m}x{k}x{n}");
        }
        assert!(scratch.len() >= 512 * 40, "the transposed path was not taken");
        // large enough for the parallel transpose, with a ragged last block of rows
        let (n, k) = (300, 1024 - 64 + 5);
        let w: Vec<f64> = (0..n * k).map(|i| i as f64).collect();
        let mut wt = vec![0.0; n * k];
        transpose_weights(n, k, &w, &mut wt);
        assert!((0..k).all(|p| (0..n).all(|j| wt[p * n + j] == w[j * k + p])));
    }

    #[test]
    fn three_forms_match_naive() {
        let (m, k, n) = (7, 13, 5);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let w: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.11).cos()).collect();
        let dz: Vec<f64> = (0..m * n).map(|i| (i as f64 * 0.23).sin()).collect();

        let mut c = vec![0.0; m * n];
        matmul_abt(m, k, n, &a, &w, &mut c, false, &mut Vec::new());
        let want = naive(m, k, n, |i, p| a[i * k + p], |p, j| w[j * k + p]);
        assert!(c.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-12));

        let mut da = vec![0.0; m * k];
        matmul_ab(m, n, k, &dz, &w, &mut da);
        let want = naive(m, n, k, |i, p| dz[i * n + p], |p, j| w[p * k + j]);
        assert!(da.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-12));

        let mut dw = vec![0.0; n * k];
        matmul_atb(m, n, k, &dz, &a, &mut dw);
        let want = naive(n, m, k, |i, p| dz[p * n + i], |p, j| a[p * k + j]);
        assert!(dw.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-12));
    }
}
