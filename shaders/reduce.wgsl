#import consts
#import common

// Fixed-order reductions, the CPU twins are in src/cpu/reduce.rs. No atomics: every sum has one
// owner or a fixed tree, so results repeat bit-for-bit.
//   sum_final:    one workgroup per job of the job table: sums `count` records of `width` floats
//                 (per-sample loss/correct, or the update's gradient-norm partial triples) into
//                 fields of this step's record in the epoch stats buffer
//   unit_stats:   h (B, N) of a hidden layer -> per unit: fired (any h > 0), saturated count

struct ReduceDims {
    n: u32,         // columns (unit_stats)
    off: u32,       // unit_stats: fired-flag offset
    off2: u32,      // unit_stats: saturated-counter offset
    act: u32,
    stride: u32,    // sum_final: floats per stats record
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

// One sum of sum_final.
struct SumJob {
    source: u32, // SUM_SOURCE_PAIRS: src (per-sample pairs, width <= 2), SUM_SOURCE_PARTIALS: src2 (partial triples)
    off: u32,    // first float
    count: u32,  // records to sum; SUM_ROWS: this step's rows
    width: u32,  // floats per record (<= 3)
    out: u32,    // field within the stats record
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<storage, read> st: Step;
@group(0) @binding(1) var<storage, read> d: ReduceDims;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> src2: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<storage, read_write> counters: array<u32>;
@group(0) @binding(6) var<storage, read> jobs: array<SumJob>;

var<workgroup> red0: array<f32, REDUCE_WG>;
var<workgroup> red1: array<f32, REDUCE_WG>;
var<workgroup> red2: array<f32, REDUCE_WG>;

// the three workgroup arrays summed by a fixed binary tree into element 0
fn tree_reduce(t: u32) {
    for (var s = REDUCE_WG / 2u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if t < s {
            red0[t] += red0[t + s];
            red1[t] += red1[t + s];
            red2[t] += red2[t + s];
        }
    }
    workgroupBarrier();
}

// one workgroup per job
@compute @workgroup_size(REDUCE_WG)
fn sum_final(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = lid.x;
    let job = jobs[wid.x];
    let count = select(job.count, st.rows, job.count == SUM_ROWS);
    let w = job.width;
    var acc = vec3<f32>(0.0);
    for (var i = t; i < count; i += REDUCE_WG) {
        let base = job.off + i * w;
        var v = vec3<f32>(0.0);
        if job.source == SUM_SOURCE_PAIRS {
            v.x = src[base];
            if w > 1u {
                v.y = src[base + 1u];
            }
        } else {
            v = vec3<f32>(src2[base], src2[base + 1u], src2[base + 2u]);
        }
        acc += v;
    }
    red0[t] = acc.x;
    red1[t] = acc.y;
    red2[t] = acc.z;
    tree_reduce(t);
    if t == 0u {
        let at = st.stat * d.stride + job.out;
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
@compute @workgroup_size(UNIT_STATS_WG)
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
