#import consts
#import common
#import matmul_operands
#import matmul_dz
#import matmul_io

// Matrix products of one dense layer, row-major throughout; the CPU twins are in
// src/cpu/matmul.rs (products) and src/cpu/activation.rs (epilogues).
//   abt: a (M, K), w (N, K), b (N)     -> h (M, N) = act(a·wᵀ + b)  [+ dropped copy of h]
//   ab:  dz (M, N), w (N, K), h (M, K) -> da (M, K) = (dz·w) · mask/p · act'(h)
//   atb: dz (M, N), a (M, K)           -> dw (N, K) = dzᵀ·a, and db (N) = Σ_rows dz
// Each invocation keeps an 8×8 block of outputs in registers (16 vec4 accumulators; abt in the
// blocked-8x16 variant 8×16, see BC below; the tuner, src/gpu/tune, picks the variant). Along K (the contiguous dimension of w and a) operands are read as
// vec4. Where every storage load costs a per-lane loop (lavapipe), the block size (loads per FMA)
// sets the speed; 8×8 halves the loads per FMA of a 4×4 block. The imported `matmul_operands`
// (matmul_vec4.wgsl when K % 4 == 0, else matmul_scalar.wgsl) declares `p4` (the flat parameter
// buffer) and `x4` (the layer input) with ld4p/ld4x/ld1p/ld1x loaders, and `matmul_dz`
// (matmul_dz_vec4.wgsl when N % 4 == 0) declares dz with ld1z/ld4z; the constant DZ4 (from
// `consts`) picks the vec4 loops of ab and atb. The body is the same for all. Rows and columns
// past the edge are clamped on load and skipped on store, so every shape works. The bindings and
// the stores are matmul_io.wgsl's, shared with the tiled kernels of matmul_tiled.wgsl.

// B: rows and columns of the block each invocation owns (MATMUL_BLOCK in src/gpu/matmul.rs)

// h (M, N) = act(x·wᵀ + b); invocation (x, y) owns rows 8y.. and columns BC·x.. (BC, 8 or 16,
// from `consts`: 16 reads 24 instead of 32 operand vec4s per 512 products)
const QC: u32 = BC / 4u; // column quads per invocation
@compute @workgroup_size(MATMUL_WG, MATMUL_WG)
fn abt(@builtin(global_invocation_id) g: vec3<u32>) {
    let m = st.rows;
    let n = d.n;
    let k = d.k;
    let r0 = g.y * B;
    let c0 = g.x * BC;
    if r0 >= m || c0 >= n {
        return;
    }
    // rows and columns past the edge are clamped (read again, never stored)
    var a: array<u32, B>;
    var w: array<u32, BC>;
    for (var i = 0u; i < B; i++) {
        a[i] = min(r0 + i, m - 1u) * k;
    }
    for (var j = 0u; j < BC; j++) {
        w[j] = d.w_off + min(c0 + j, n - 1u) * k;
    }
    var acc: array<vec4<f32>, B * QC>;
    let k4 = k & ~3u;
    for (var p = 0u; p < k4; p += 4u) {
        var v: array<vec4<f32>, BC>;
        for (var j = 0u; j < BC; j++) {
            v[j] = ld4p(w[j] + p);
        }
        for (var i = 0u; i < B; i++) {
            let x = ld4x(a[i] + p);
            for (var q = 0u; q < QC; q++) {
                acc[QC * i + q] += vec4<f32>(dot(x, v[4u * q]), dot(x, v[4u * q + 1u]), dot(x, v[4u * q + 2u]), dot(x, v[4u * q + 3u]));
            }
        }
    }
    for (var p = k4; p < k; p++) {
        for (var q = 0u; q < QC; q++) {
            let v0 = vec4<f32>(ld1p(w[4u * q] + p), ld1p(w[4u * q + 1u] + p), ld1p(w[4u * q + 2u] + p), ld1p(w[4u * q + 3u] + p));
            for (var i = 0u; i < B; i++) {
                acc[QC * i + q] += ld1x(a[i] + p) * v0;
            }
        }
    }
    // The epilogue (bias, activation, dropout) in a loop with a run-time bound, so it is compiled
    // once rather than unrolled per output quad: unrolled, LLVM compiles the pipeline far slower
    // on lavapipe and the kernel runs slower too (benches/NOTES.md)
    var res = acc;
    let rows_here = min(B, m - r0);
    for (var i = 0u; i < rows_here; i++) {
        for (var q = 0u; q < QC; q++) {
            store_abt(r0 + i, c0 + 4u * q, res[QC * i + q]);
        }
    }
}

// da (M, K) = dz (M, N; in s1) · w (N, K); invocation (x, y) owns rows 8y.. and columns 8x..
@compute @workgroup_size(MATMUL_WG, MATMUL_WG)
fn ab(@builtin(global_invocation_id) g: vec3<u32>) {
    let m = st.rows;
    let n = d.n;
    let k = d.k;
    let r0 = g.y * B;
    let c0 = g.x * B;
    if r0 >= m || c0 >= k {
        return;
    }
    var z: array<u32, B>;
    for (var i = 0u; i < B; i++) {
        z[i] = min(r0 + i, m - 1u) * n;
    }
    // the second column quad is clamped inside the row (K % 4 == 0 for vec4 loads; past K it is
    // read again and never stored)
    let c1 = select(c0 + 4u, c0, c0 + 4u >= k);
    var acc: array<vec4<f32>, 2u * B>; // two column quads per row
    var w0 = d.w_off + c0;
    var w1 = d.w_off + c1;
    if DZ4 {
        // four steps of q per pass: one vec4 of dz per row instead of four scalar loads; the
        // products are added in the same q order as below
        for (var q = 0u; q < n; q += 4u) {
            var s: array<vec4<f32>, B>;
            for (var i = 0u; i < B; i++) {
                s[i] = ld4z(z[i] + q);
            }
            // rows q..q+3 of w; components named, not indexed, so s stays in registers
            let v0 = array<vec4<f32>, 4>(ld4p(w0), ld4p(w0 + k), ld4p(w0 + 2u * k), ld4p(w0 + 3u * k));
            let v1 = array<vec4<f32>, 4>(ld4p(w1), ld4p(w1 + k), ld4p(w1 + 2u * k), ld4p(w1 + 3u * k));
            for (var i = 0u; i < B; i++) {
                let si = s[i];
                var a0 = acc[2u * i];
                var a1 = acc[2u * i + 1u];
                a0 += si.x * v0[0];
                a1 += si.x * v1[0];
                a0 += si.y * v0[1];
                a1 += si.y * v1[1];
                a0 += si.z * v0[2];
                a1 += si.z * v1[2];
                a0 += si.w * v0[3];
                a1 += si.w * v1[3];
                acc[2u * i] = a0;
                acc[2u * i + 1u] = a1;
            }
            w0 += 4u * k;
            w1 += 4u * k;
        }
    } else {
        for (var q = 0u; q < n; q++) {
            let v0 = ld4p(w0);
            let v1 = ld4p(w1);
            for (var i = 0u; i < B; i++) {
                let s = ld1z(z[i] + q);
                acc[2u * i] += s * v0;
                acc[2u * i + 1u] += s * v1;
            }
            w0 += k;
            w1 += k;
        }
    }
    // the epilogue in a run-time-bounded loop, compiled once (see abt)
    var res = acc;
    let rows_here = min(B, m - r0);
    for (var i = 0u; i < rows_here; i++) {
        store_ab(r0 + i, c0, res[2u * i]);
        store_ab(r0 + i, c0 + 4u, res[2u * i + 1u]);
    }
}

// dw (N, K) = dz (M, N; in s1)ᵀ · x (M, K); invocation (x, y) owns rows 8y.. of dw, columns 8x..
// db (N) = column sums of dz (the CPU twin: bias_grad in src/cpu/reduce.rs)
@compute @workgroup_size(MATMUL_WG, MATMUL_WG)
fn atb(@builtin(global_invocation_id) g: vec3<u32>) {
    let m = st.rows;
    let n = d.n;
    let k = d.k;
    let r0 = g.y * B;
    let c0 = g.x * B;
    if r0 >= n || c0 >= k {
        return;
    }
    var nn: array<u32, B>;
    for (var i = 0u; i < B; i++) {
        nn[i] = min(r0 + i, n - 1u);
    }
    let c1 = select(c0 + 4u, c0, c0 + 4u >= k);
    var acc: array<vec4<f32>, 2u * B>; // two column quads per row
    var x0 = c0;
    var x1 = c1;
    var zrow = 0u;
    if DZ4 {
        // the block's eight dz values of row q are contiguous: two vec4 loads (the second quad
        // clamped inside the row when N % 8 == 4; those rows of dw are never stored)
        let r1 = select(r0 + 4u, r0, r0 + 4u >= n);
        for (var q = 0u; q < m; q++) {
            let v0 = ld4x(x0);
            let v1 = ld4x(x1);
            let sa = ld4z(zrow + r0);
            let sb = ld4z(zrow + r1);
            for (var i = 0u; i < 4u; i++) {
                acc[2u * i] += sa[i] * v0;
                acc[2u * i + 1u] += sa[i] * v1;
                acc[2u * i + 8u] += sb[i] * v0;
                acc[2u * i + 9u] += sb[i] * v1;
            }
            x0 += k;
            x1 += k;
            zrow += n;
        }
    } else {
        for (var q = 0u; q < m; q++) {
            let v0 = ld4x(x0);
            let v1 = ld4x(x1);
            for (var i = 0u; i < B; i++) {
                let s = ld1z(zrow + nn[i]);
                acc[2u * i] += s * v0;
                acc[2u * i + 1u] += s * v1;
            }
            x0 += k;
            x1 += k;
            zrow += n;
        }
    }
    for (var i = 0u; i < B; i++) {
        store_atb(r0 + i, c0, acc[2u * i]);
        store_atb(r0 + i, c0 + 4u, acc[2u * i + 1u]);
    }
    // db (N) = column sums of dz, row by row (the CPU's bias_grad order): the first invocations
    // along x take the block's rows in turn, so one dispatch less per layer
    let nx = (k + B - 1u) / B;
    for (var i = g.x; i < B; i += nx) {
        let r = r0 + i;
        if r < n {
            var s = 0.0;
            for (var q = 0u; q < m; q++) {
                s += ld1z(q * n + r);
            }
            out[d.b_off + r] = s;
        }
    }
}
