// What both matmul kernel families share (`#import matmul_io`): the dimensions record, the
// bindings and the epilogues that store a block's outputs (bias, activation, dropout; the
// derivative; the weight gradient). Both the register-blocked kernels (matmul.wgsl) and the
// workgroup-tiled ones (matmul_tiled.wgsl) store through these, so their epilogues are the same
// arithmetic.

struct MatmulDims {
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
@group(0) @binding(1) var<storage, read> d: MatmulDims;
// binding 2: p4, binding 3: x4 (declared by matmul_operands)
// binding 4: dz, read through ld1z/ld4z (declared by matmul_dz; vec4 when DZ4, i.e. N % 4 == 0)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> aux: array<f32>;

// h[r, c] = act(v + b[c]), and its dropped copy; the caller checks r < rows and c < n.
fn put_abt(r: u32, c: u32, v: f32) {
    let idx = r * d.n + c;
    let h = activate(d.act, d.slope, v + ld1p(d.b_off + c));
    out[idx] = h;
    if d.drop != 0u {
        aux[idx] = h * dropout_scale(d.key, st.step, d.layer, idx, d.keep, d.inv_keep);
    }
}

fn store_abt(r: u32, c0: u32, v: vec4<f32>) {
    if r >= st.rows {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        if c0 + j < d.n {
            put_abt(r, c0 + j, v[j]);
        }
    }
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
