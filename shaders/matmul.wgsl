// Matrix products of one dense layer, row-major throughout; the CPU twins are in
// src/cpu/matmul.rs (products) and src/cpu/activation.rs (epilogues).
//   abt: a (M, K), w (N, K), b (N)     -> h (M, N) = act(a·wᵀ + b)  [+ dropped copy of h]
//   ab:  dz (M, N), w (N, K), h (M, K) -> da (M, K) = (dz·w) · mask/p · act'(h)
//   atb: dz (M, N), a (M, K)           -> dw (N, K) = dzᵀ·a
// Each invocation keeps a 4×4 block of outputs in registers; along K (the contiguous dimension
// of w and a) operands are read as vec4. A prelude (src/gpu/shaders.rs) declares `p4` (the flat
// parameter buffer) and `x4` (the layer input) either as array<vec4<f32>> when K % 4 == 0 or as
// array<f32> otherwise, with ld4p/ld4x/ld1p/ld1x loaders; the body below is the same for both.
// Rows and columns past the edge are clamped on load and skipped on store, so every shape works.

struct Dims {
    n: u32,        // outputs of the layer (rows of w)
    k: u32,        // inputs of the layer (columns of w)
    w_off: u32,    // weight offset in the flat parameter (or gradient) buffer, a multiple of 4
    b_off: u32,    // bias offset
    act: u32,      // abt: activation of this layer; ab: activation of the layer below
    slope: f32,
    layer: u32,    // dropout layer id: abt: l + 1 (the next input); ab: l
    key: u32,      // seed_key(seed)
    drop: u32,     // 1: dropout applies (abt: write aux = h·mask/p; ab: multiply by mask/p)
    keep: f32,
    inv_keep: f32,
    _p0: u32,
}

@group(0) @binding(0) var<storage, read> st: Step;
@group(0) @binding(1) var<storage, read> d: Dims;
// binding 2: p4, binding 3: x4 (declared by the prelude)
@group(0) @binding(4) var<storage, read> s1: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> aux: array<f32>;

fn store_abt(r: u32, c0: u32, v: vec4<f32>) {
    if r >= st.rows {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let c = c0 + j;
        if c < d.n {
            let idx = r * d.n + c;
            let h = activate(d.act, d.slope, v[j] + ld1p(d.b_off + c));
            out[idx] = h;
            if d.drop != 0u {
                aux[idx] = h * dropout_scale(d.key, st.step, d.layer, idx, d.keep, d.inv_keep);
            }
        }
    }
}

// h (M, N) = act(x·wᵀ + b); invocation (x, y) owns rows 4y.. and columns 4x..
@compute @workgroup_size(8, 8)
fn abt(@builtin(global_invocation_id) g: vec3<u32>) {
    let m = st.rows;
    let n = d.n;
    let k = d.k;
    let r0 = g.y * 4u;
    let c0 = g.x * 4u;
    if r0 >= m || c0 >= n {
        return;
    }
    let a0 = min(r0, m - 1u) * k;
    let a1 = min(r0 + 1u, m - 1u) * k;
    let a2 = min(r0 + 2u, m - 1u) * k;
    let a3 = min(r0 + 3u, m - 1u) * k;
    let w0 = d.w_off + min(c0, n - 1u) * k;
    let w1 = d.w_off + min(c0 + 1u, n - 1u) * k;
    let w2 = d.w_off + min(c0 + 2u, n - 1u) * k;
    let w3 = d.w_off + min(c0 + 3u, n - 1u) * k;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let k4 = k & ~3u;
    for (var p = 0u; p < k4; p += 4u) {
        let x0 = ld4x(a0 + p);
        let x1 = ld4x(a1 + p);
        let x2 = ld4x(a2 + p);
        let x3 = ld4x(a3 + p);
        let v0 = ld4p(w0 + p);
        let v1 = ld4p(w1 + p);
        let v2 = ld4p(w2 + p);
        let v3 = ld4p(w3 + p);
        acc0 += vec4<f32>(dot(x0, v0), dot(x0, v1), dot(x0, v2), dot(x0, v3));
        acc1 += vec4<f32>(dot(x1, v0), dot(x1, v1), dot(x1, v2), dot(x1, v3));
        acc2 += vec4<f32>(dot(x2, v0), dot(x2, v1), dot(x2, v2), dot(x2, v3));
        acc3 += vec4<f32>(dot(x3, v0), dot(x3, v1), dot(x3, v2), dot(x3, v3));
    }
    for (var p = k4; p < k; p++) {
        let v = vec4<f32>(ld1p(w0 + p), ld1p(w1 + p), ld1p(w2 + p), ld1p(w3 + p));
        acc0 += ld1x(a0 + p) * v;
        acc1 += ld1x(a1 + p) * v;
        acc2 += ld1x(a2 + p) * v;
        acc3 += ld1x(a3 + p) * v;
    }
    store_abt(r0, c0, acc0);
    store_abt(r0 + 1u, c0, acc1);
    store_abt(r0 + 2u, c0, acc2);
    store_abt(r0 + 3u, c0, acc3);
}

// aux holds h (M, K), the stored output of the layer below.
fn store_ab(r: u32, c0: u32, v: vec4<f32>) {
    if r >= st.rows {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let c = c0 + j;
        if c < d.k {
            let idx = r * d.k + c;
            var x = v[j];
            if d.drop != 0u {
                x = x * dropout_scale(d.key, st.step, d.layer, idx, d.keep, d.inv_keep);
            }
            if d.act != ACT_IDENTITY {
                x = x * activate_grad(d.act, d.slope, aux[idx]);
            }
            out[idx] = x;
        }
    }
}

// da (M, K) = dz (M, N; in s1) · w (N, K); invocation (x, y) owns rows 4y.. and columns 4x..
@compute @workgroup_size(8, 8)
fn ab(@builtin(global_invocation_id) g: vec3<u32>) {
    let m = st.rows;
    let n = d.n;
    let k = d.k;
    let r0 = g.y * 4u;
    let c0 = g.x * 4u;
    if r0 >= m || c0 >= k {
        return;
    }
    let z0 = min(r0, m - 1u) * n;
    let z1 = min(r0 + 1u, m - 1u) * n;
    let z2 = min(r0 + 2u, m - 1u) * n;
    let z3 = min(r0 + 3u, m - 1u) * n;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var wrow = d.w_off + c0;
    for (var q = 0u; q < n; q++) {
        let v = ld4p(wrow);
        acc0 += s1[z0 + q] * v;
        acc1 += s1[z1 + q] * v;
        acc2 += s1[z2 + q] * v;
        acc3 += s1[z3 + q] * v;
        wrow += k;
    }
    store_ab(r0, c0, acc0);
    store_ab(r0 + 1u, c0, acc1);
    store_ab(r0 + 2u, c0, acc2);
    store_ab(r0 + 3u, c0, acc3);
}

fn store_atb(r: u32, c0: u32, v: vec4<f32>) {
    if r >= d.n {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        let c = c0 + j;
        if c < d.k {
            out[d.w_off + r * d.k + c] = v[j];
        }
    }
}

// dw (N, K) = dz (M, N; in s1)ᵀ · x (M, K); invocation (x, y) owns rows 4y.. of dw, columns 4x..
@compute @workgroup_size(8, 8)
fn atb(@builtin(global_invocation_id) g: vec3<u32>) {
    let m = st.rows;
    let n = d.n;
    let k = d.k;
    let r0 = g.y * 4u;
    let c0 = g.x * 4u;
    if r0 >= n || c0 >= k {
        return;
    }
    let n0 = min(r0, n - 1u);
    let n1 = min(r0 + 1u, n - 1u);
    let n2 = min(r0 + 2u, n - 1u);
    let n3 = min(r0 + 3u, n - 1u);
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    var xrow = c0;
    var zrow = 0u;
    for (var q = 0u; q < m; q++) {
        let v = ld4x(xrow);
        acc0 += s1[zrow + n0] * v;
        acc1 += s1[zrow + n1] * v;
        acc2 += s1[zrow + n2] * v;
        acc3 += s1[zrow + n3] * v;
        xrow += k;
        zrow += n;
    }
    store_atb(r0, c0, acc0);
    store_atb(r0 + 1u, c0, acc1);
    store_atb(r0 + 2u, c0, acc2);
    store_atb(r0 + 3u, c0, acc3);
}
