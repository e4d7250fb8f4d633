// Fixed-order reductions, the CPU twins are in src/cpu/reduce.rs. No atomics: every sum has one
// owner or a fixed tree, so results repeat bit-for-bit.
//   bias_grad:    dz (B, N) -> db (N) column sums, row by row (the CPU's order exactly)
//   norm_partial: per 16384-element chunk of one weight tensor, the sums of (g + λw + β·sign w)²,
//                 w² and |w| -> partials (chunks, 3)
//   sum_final:    sums `count` records of `width` floats (per-sample loss/correct, or the
//                 partials above) into fields of this step's record in the epoch stats buffer
//   unit_stats:   h (B, N) of a hidden layer -> per unit: fired (any h > 0), saturated count

struct Dims {
    n: u32,         // columns (bias_grad, unit_stats) or tensor length (norm_partial)
    off: u32,       // source/tensor offset
    off2: u32,      // unit_stats: saturated-counter offset
    out: u32,       // destination offset (or field within the stats record)
    act: u32,
    l2: f32,
    l1: f32,        // subgradient strength (0 in proximal mode)
    count: u32,     // sum_final: records to sum (when not from_rows)
    width: u32,     // sum_final: floats per record (<= 3)
    from_rows: u32, // sum_final: count = rows of this step
    stride: u32,    // sum_final: floats per stats record
    _p0: u32,
}

const WG: u32 = 256u;
const CHUNK: u32 = 16384u; // elements per norm_partial workgroup: 64 per invocation (src/gpu/reduce.rs NORM_CHUNK)

@group(0) @binding(0) var<storage, read> st: Step;
@group(0) @binding(1) var<storage, read> d: Dims;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> src2: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<storage, read_write> counters: array<u32>;

var<workgroup> red0: array<f32, 256>;
var<workgroup> red1: array<f32, 256>;
var<workgroup> red2: array<f32, 256>;

@compute @workgroup_size(64)
fn bias_grad(@builtin(global_invocation_id) g: vec3<u32>) {
    let c = g.x;
    if c >= d.n {
        return;
    }
    var s = 0.0;
    for (var r = 0u; r < st.rows; r++) {
        s += src[r * d.n + c];
    }
    dst[d.out + c] = s;
}

// the three workgroup arrays summed by a fixed binary tree into element 0
fn tree_reduce(t: u32) {
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if t < s {
            red0[t] += red0[t + s];
            red1[t] += red1[t + s];
            red2[t] += red2[t + s];
        }
    }
    workgroupBarrier();
}

// src = gradients, src2 = parameters
@compute @workgroup_size(256)
fn norm_partial(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = lid.x;
    // the record is read once: on lavapipe every storage read is a per-lane loop
    let dd = d;
    var gs = 0.0;
    var ws = 0.0;
    var wa = 0.0;
    for (var i = 0u; i < CHUNK / WG; i++) {
        let e = wid.x * CHUNK + i * WG + t;
        if e < dd.n {
            let gv = src[dd.off + e];
            let wv = src2[dd.off + e];
            let r = gv + dd.l2 * wv + dd.l1 * sign(wv);
            gs += r * r;
            ws += wv * wv;
            wa += abs(wv);
        }
    }
    red0[t] = gs;
    red1[t] = ws;
    red2[t] = wa;
    tree_reduce(t);
    if t == 0u {
        dst[d.out + 3u * wid.x] = red0[0];
        dst[d.out + 3u * wid.x + 1u] = red1[0];
        dst[d.out + 3u * wid.x + 2u] = red2[0];
    }
}

// one workgroup; src = per-sample pairs or partial triples
@compute @workgroup_size(256)
fn sum_final(@builtin(local_invocation_id) lid: vec3<u32>) {
    let t = lid.x;
    let count = select(d.count, st.rows, d.from_rows != 0u);
    let w = d.width;
    var acc = vec3<f32>(0.0);
    for (var i = t; i < count; i += WG) {
        let base = d.off + i * w;
        acc.x += src[base];
        if w > 1u {
            acc.y += src[base + 1u];
        }
        if w > 2u {
            acc.z += src[base + 2u];
        }
    }
    red0[t] = acc.x;
    red1[t] = acc.y;
    red2[t] = acc.z;
    tree_reduce(t);
    if t == 0u {
        let at = st.stat * d.stride + d.out;
        dst[at] = red0[0];
        if w > 1u {
            dst[at + 1u] = red1[0];
        }
        if w > 2u {
            dst[at + 2u] = red2[0];
        }
    }
}

// |tanh| > 0.99 and sigmoid outside [0.01, 0.99], compared as the CPU does in f64: the f32
// literals 0.99 and 0.01 round to just above 0.99 and just below 0.01, hence >= and <=.
fn is_saturated(act: u32, h: f32) -> bool {
    if act == ACT_TANH {
        return abs(h) >= 0.99;
    }
    if act == ACT_SIGMOID {
        return h <= 0.01 || h >= 0.99;
    }
    return false;
}

// counters[off + j]: unit j fired this epoch; counters[off2 + j]: saturated values this epoch
@compute @workgroup_size(64)
fn unit_stats(@builtin(global_invocation_id) g: vec3<u32>) {
    let j = g.x;
    if j >= d.n {
        return;
    }
    var fired = false;
    var sat = 0u;
    for (var r = 0u; r < st.rows; r++) {
        let h = src[r * d.n + j];
        fired = fired || h > 0.0;
        sat += select(0u, 1u, is_saturated(d.act, h));
    }
    if fired {
        counters[d.off + j] = 1u;
    }
    counters[d.off2 + j] += sat;
}
