#import consts
#import common
#import matmul_operands
#import matmul_dz
#import matmul_io

// The three matmul forms of matmul.wgsl, tiled through workgroup memory: a workgroup of
// TW × TW invocations stages a TM-wide slab of each operand (TM = TW · TR) for TQ steps of the
// reduction, waits at a barrier, and each invocation then accumulates TR × TR outputs from the
// staged slabs. On hardware GPUs the staged operands are read TM times from fast memory instead
// of from storage; on software adapters the barriers cost more than they save, which is why the
// tuner (src/gpu/tune.rs) times both families. TW, TR and TQ come from `consts`.
//
// Each output is accumulated in the order matmul.wgsl's kernels use, with the same expressions:
// abt adds dot() of consecutive K quads and then the K % 4 tail one product at a time; ab and
// atb add one product per step of their reduction, in order. The stores are matmul_io.wgsl's.
// Rows and columns past the edge are clamped when staged (read again, never stored); reduction
// steps past the end are staged clamped and never used. Loop bounds depend only on the
// dimensions, so every invocation reaches every barrier.

const TM: u32 = TW * TR; // output rows (and columns) of a workgroup
const INV: u32 = TW * TW; // invocations per workgroup
const QK: u32 = TQ / 4u; // abt: K quads staged per slab

// abt: x and w slabs, TM rows × QK quads each
var<workgroup> sx: array<vec4<f32>, TM * QK>;
var<workgroup> sw: array<vec4<f32>, TM * QK>;
// ab, atb: dz as TM × TQ floats; w (ab) or x (atb) as TQ rows × TM / 4 column quads
var<workgroup> sz: array<f32, TM * TQ>;
var<workgroup> sv: array<vec4<f32>, TQ * TM / 4u>;

// h (M, N) = act(x·wᵀ + b); invocation (tx, ty) owns rows ty + TW·i and columns tx + TW·j of
// its workgroup's TM × TM tile, so neighbouring invocations store neighbouring columns.
@compute @workgroup_size(TW, TW)
fn abt(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let m = st.rows;
    let n = d.n;
    let k = d.k;
    let r0 = wg.y * TM;
    let c0 = wg.x * TM;
    let k4 = k & ~3u;
    var acc: array<vec4<f32>, TR>; // acc[i][j]: row ty + TW·i, column tx + TW·j
    for (var kt = 0u; kt < k4; kt += TQ) {
        for (var e = li; e < TM * QK; e += INV) {
            let row = e / QK;
            let p = kt + 4u * (e % QK);
            let pc = select(0u, p, p < k4);
            sx[e] = ld4x(min(r0 + row, m - 1u) * k + pc);
            sw[e] = ld4p(d.w_off + min(c0 + row, n - 1u) * k + pc);
        }
        workgroupBarrier();
        let quads = min(QK, (k4 - kt) / 4u);
        for (var q = 0u; q < quads; q++) {
            var v: array<vec4<f32>, TR>;
            for (var j = 0u; j < TR; j++) {
                v[j] = sw[(l.x + TW * j) * QK + q];
            }
            for (var i = 0u; i < TR; i++) {
                let x = sx[(l.y + TW * i) * QK + q];
                acc[i] += vec4<f32>(dot(x, v[0]), dot(x, v[1]), dot(x, v[2]), dot(x, v[3]));
            }
        }
        workgroupBarrier();
    }
    // the K % 4 tail, one product at a time as matmul.wgsl adds it
    for (var p = k4; p < k; p++) {
        var v: vec4<f32>;
        for (var j = 0u; j < TR; j++) {
            v[j] = ld1p(d.w_off + min(c0 + l.x + TW * j, n - 1u) * k + p);
        }
        for (var i = 0u; i < TR; i++) {
            acc[i] += ld1x(min(r0 + l.y + TW * i, m - 1u) * k + p) * v;
        }
    }
    for (var i = 0u; i < TR; i++) {
        let r = r0 + l.y + TW * i;
        for (var j = 0u; j < TR; j++) {
            let c = c0 + l.x + TW * j;
            if r < m && c < n {
                put_abt(r, c, acc[i][j]);
            }
        }
    }
}

// da (M, K) = dz (M, N) · w (N, K); invocation (tx, ty) owns rows ty + TW·i and the column quad
// 4·tx of its tile (TR = 4 makes TW quads span TM columns).
@compute @workgroup_size(TW, TW)
fn ab(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let m = st.rows;
    let n = d.n;
    let k = d.k;
    let r0 = wg.y * TM;
    let c0 = wg.x * TM;
    var acc: array<vec4<f32>, TR>;
    for (var qt = 0u; qt < n; qt += TQ) {
        for (var e = li; e < TM * TQ; e += INV) {
            sz[e] = ld1z(min(r0 + e / TQ, m - 1u) * n + min(qt + e % TQ, n - 1u));
        }
        for (var e = li; e < TQ * TM / 4u; e += INV) {
            let c = c0 + 4u * (e % (TM / 4u));
            // a quad past K is clamped to the row's first (read, never stored)
            sv[e] = ld4p(d.w_off + min(qt + e / (TM / 4u), n - 1u) * k + select(c, 0u, c >= k));
        }
        workgroupBarrier();
        let steps = min(TQ, n - qt);
        for (var q = 0u; q < steps; q++) {
            let v = sv[q * (TM / 4u) + l.x];
            for (var i = 0u; i < TR; i++) {
                acc[i] += sz[(l.y + TW * i) * TQ + q] * v;
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < TR; i++) {
        store_ab(r0 + l.y + TW * i, c0 + 4u * l.x, acc[i]);
    }
}

// dw (N, K) = dzᵀ · x (M, K): invocation (tx, ty) owns rows ty + TW·i of dw and the column quad
// 4·tx; db (N) = column sums of dz, row by row (the CPU's bias_grad order), summed from the
// staged dz by the first TM invocations of the workgroups in the first tile column.
@compute @workgroup_size(TW, TW)
fn atb(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let m = st.rows;
    let n = d.n;
    let k = d.k;
    let r0 = wg.y * TM;
    let c0 = wg.x * TM;
    let bias = wg.x == 0u && li < TM;
    var acc: array<vec4<f32>, TR>;
    var db = 0.0;
    for (var qt = 0u; qt < m; qt += TQ) {
        for (var e = li; e < TQ * TM; e += INV) {
            sz[e] = ld1z(min(qt + e / TM, m - 1u) * n + min(r0 + e % TM, n - 1u));
        }
        for (var e = li; e < TQ * TM / 4u; e += INV) {
            let c = c0 + 4u * (e % (TM / 4u));
            sv[e] = ld4x(min(qt + e / (TM / 4u), m - 1u) * k + select(c, 0u, c >= k));
        }
        workgroupBarrier();
        let steps = min(TQ, m - qt);
        for (var q = 0u; q < steps; q++) {
            let v = sv[q * (TM / 4u) + l.x];
            for (var i = 0u; i < TR; i++) {
                acc[i] += sz[q * TM + l.y + TW * i] * v;
            }
        }
        if bias {
            for (var q = 0u; q < steps; q++) {
                db += sz[q * TM + li];
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < TR; i++) {
        store_atb(r0 + l.y + TW * i, c0 + 4u * l.x, acc[i]);
    }
    if bias && r0 + li < n {
        out[d.b_off + r0 + li] = db;
    }
}
