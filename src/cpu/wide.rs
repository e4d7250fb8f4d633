//! Wider vectors for the elementwise loops. The crate builds for baseline x86-64 (SSE2, 4 f32
//! lanes); `wide` runs a loop compiled a second time with AVX-512 (or AVX2) enabled when the CPU
//! has it. The width changes no result: the loops use no fused multiply-add (Rust never
//! contracts a·b + c), IEEE division and square root are exact, and sums run in fixed lane orders.

/// A loop to run at the widest width. `run` must be `#[inline(always)]`, and so must whatever
/// it calls that holds the loop, so the loop is compiled inside the wide functions below.
pub(crate) trait Loop {
    type Out;
    fn run(self) -> Self::Out;
}

/// Runs `l` from a function compiled for the widest vectors this CPU has.
#[inline(always)]
pub(crate) fn wide<L: Loop>(l: L) -> L::Out {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { avx512(l) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { avx2(l) };
        }
    }
    l.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512<L: Loop>(l: L) -> L::Out {
    l.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<L: Loop>(l: L) -> L::Out {
    l.run()
}
