#import consts

// The fused optimizer update of every parameter tensor in one dispatch: the CPU twin is
// src/cpu/optimizer.rs. Penalties (λw + β·sign w), decoupled decay, the optimizer's moments and
// the proximal L1 step in one pass; every constant arrives precomputed on the host exactly as
// UpdateParams makes it. Each tensor owns a range of workgroups (its record says which); for
// weight tensors each invocation also writes the partial sums of (g + λw + β·sign w)², w² and |w|
// over its elements, before the update, for the step's gradient norm and penalty (sum_final).
//   w, g, s0, s1: the flat parameter, gradient and slot buffers; a tensor is [off, off + len).

// OPT_* (OptimizerKind::code) and FLAG_* (flags: FLAG_NESTEROV; FLAG_PROXIMAL: proximal L1 with
// β > 0; FLAG_DECAY: weight_decay != 0; FLAG_RMS_MOMENTUM: RMSprop with momentum > 0) come from
// src/gpu/records.rs through `consts`; the host writes these records as gpu::records::Update,
// UpdateRecord and UpdateDims.

struct Update {
    off: u32,
    len: u32,
    kind: u32,
    flags: u32,
    lr: f32,
    mu: f32,
    eps: f32,
    l2: f32,
    l1_sub: f32,   // β in subgradient mode, 0 in proximal mode
    shrink: f32,   // lr·β
    decay: f32,    // 1 − lr·wd
    rho: f32,
    b1: f32,
    b2: f32,
    lr_bc1: f32,   // lr / (1 − β1^t)
    sqrt_bc2: f32, // √(1 − β2^t)
}

// One 256-byte record of the step's record block: record 0 is the Step, 1 + t tensor t.
struct UpdateRecord {
    u: Update,
    wg_first: u32,  // this tensor's workgroups are [wg_first, wg_end), in tensor order
    wg_end: u32,
    norm_out: u32,  // float offset of its partial triples, or NO_NORM (bias tensors)
    _p0: u32,
    _pad: array<vec4<u32>, 11>,
}

struct UpdateDims {
    tensors: u32,
    clip_count: u32, // clip_scale: partials to sum (one per invocation of the fused grid)
    max_norm: f32,   // --clip-norm's bound
    _p0: u32,
}

@group(0) @binding(0) var<storage, read> recs: array<UpdateRecord>;
@group(0) @binding(1) var<storage, read> dims: UpdateDims;
// read and written as vec4: tensors start at multiples of 4 (ParamLayout) and every buffer is a
// multiple of 16 bytes; a tensor's last quad may reach into the padding before the next tensor,
// whose values the update keeps (`live` below)
@group(0) @binding(2) var<storage, read_write> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> s0: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> s1: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;
// --clip-norm: clip[0] the step's factor min(1, max/(‖g‖ + 1e-6)), clip[1] ‖g‖, and from
// CLIP_HEAD one Σg² partial per invocation of the fused grid (clip_partials -> clip_scale -> update)
@group(0) @binding(7) var<storage, read_write> clip: array<f32>;

fn sign0(x: vec4<f32>) -> vec4<f32> {
    return select(select(vec4<f32>(0.0), vec4<f32>(-1.0), x < vec4<f32>(0.0)), vec4<f32>(1.0), x > vec4<f32>(0.0));
}

// The tensor whose workgroup range holds `group` (ranges ascend with t), 0 past the last.
fn tensor_of(group: u32) -> u32 {
    for (var t = 1u; t <= dims.tensors; t++) {
        if group < recs[t].wg_end {
            return t;
        }
    }
    return 0u;
}

// UPDATE_PER elements per invocation, as quads strided by UPDATE_WG so neighbouring invocations
// touch neighbouring quads; the record is read once per invocation. Where every storage access is
// a per-lane loop (lavapipe), a quad per access is a quarter of the loops.
@compute @workgroup_size(UPDATE_WG)
fn update(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let group = wid.x + wid.y * nwg.x;
    let t = tensor_of(group);
    if t == 0u {
        return;
    }
    let u = recs[t].u;
    let first = recs[t].wg_first;
    let norm_out = recs[t].norm_out;
    let base = (group - first) * UPDATE_WG * UPDATE_PER;
    // the raw gradient's factor: 1 without clipping (g·1 is g exactly)
    var scale = 1.0;
    if (u.flags & FLAG_CLIP) != 0u {
        scale = clip[0];
    }
    var sums = vec3<f32>(0.0);
    for (var i = 0u; i < UPDATE_PER / 4u; i++) {
        let e = base + 4u * (i * UPDATE_WG + lid.x);
        // e grows with i: past the end, stop (a short tensor's idle lanes then cost no loop
        // trips on lavapipe, which runs every lane of a batch through the loop)
        if e >= u.len {
            break;
        }
        let left = u.len - e;
        let live = vec4<bool>(true, left > 1u, left > 2u, left > 3u);
        let gw = update_quad(u, (u.off + e) >> 2u, live, scale);
        let gr = select(vec4<f32>(0.0), gw[0], live);
        let w0 = select(vec4<f32>(0.0), gw[1], live);
        sums += vec3<f32>(dot(gr, gr), dot(w0, w0), dot(abs(w0), vec4<f32>(1.0)));
    }
    if norm_out != NO_NORM {
        let j = norm_out + 3u * ((group - first) * UPDATE_WG + lid.x);
        partials[j] = sums.x;
        partials[j + 1u] = sums.y;
        partials[j + 2u] = sums.z;
    }
}

// Updates quad q (lanes not `live` keep their values); returns the regularised gradient it
// applied and w before the update, per lane.
fn update_quad(u: Update, q: u32, live: vec4<bool>, scale: f32) -> array<vec4<f32>, 2> {
    let w0 = w[q];
    let grad = g[q] * scale + u.l2 * w0 + u.l1_sub * sign0(w0);
    var wi = w0;
    if (u.flags & FLAG_DECAY) != 0u {
        wi *= u.decay;
    }
    switch u.kind {
        case OPT_MOMENTUM, OPT_NESTEROV: {
            let s0q = s0[q];
            let v = u.mu * s0q + grad;
            s0[q] = select(s0q, v, live);
            if u.kind == OPT_NESTEROV {
                wi -= u.lr * (grad + u.mu * v);
            } else {
                wi -= u.lr * v;
            }
        }
        case OPT_RMSPROP: {
            let s0q = s0[q];
            let s = u.rho * s0q + (1.0 - u.rho) * grad * grad;
            s0[q] = select(s0q, s, live);
            let step = grad / (sqrt(s) + u.eps);
            if (u.flags & FLAG_RMS_MOMENTUM) != 0u {
                let s1q = s1[q];
                let v = u.mu * s1q + step;
                s1[q] = select(s1q, v, live);
                if (u.flags & FLAG_NESTEROV) != 0u {
                    wi -= u.lr * (step + u.mu * v);
                } else {
                    wi -= u.lr * v;
                }
            } else {
                wi -= u.lr * step;
            }
        }
        case OPT_ADAM, OPT_ADAMW: {
            let s0q = s0[q];
            let s1q = s1[q];
            let m = u.b1 * s0q + (1.0 - u.b1) * grad;
            let v = u.b2 * s1q + (1.0 - u.b2) * grad * grad;
            s0[q] = select(s0q, m, live);
            s1[q] = select(s1q, v, live);
            // PyTorch's form: step = lr/bc1 · m / (√v/√bc2 + ε)
            let denom = sqrt(v) / u.sqrt_bc2 + u.eps;
            wi -= u.lr_bc1 * m / denom;
        }
        case OPT_SGD, default: {
            wi -= u.lr * grad;
        }
    }
    if (u.flags & FLAG_PROXIMAL) != 0u {
        wi = sign0(wi) * max(abs(wi) - u.shrink, vec4<f32>(0.0));
    }
    w[q] = select(w0, wi, live);
    return array<vec4<f32>, 2>(grad, w0);
}

// --clip-norm, before the update: each invocation of the fused grid writes Σg² over the raw
// gradient of the elements it will update (weights and biases alike) to its own partial.
@compute @workgroup_size(UPDATE_WG)
fn clip_partials(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let group = wid.x + wid.y * nwg.x;
    let t = tensor_of(group);
    if t == 0u {
        return;
    }
    let u = recs[t].u;
    let base = (group - recs[t].wg_first) * UPDATE_WG * UPDATE_PER;
    var sum = 0.0;
    for (var i = 0u; i < UPDATE_PER / 4u; i++) {
        let e = base + 4u * (i * UPDATE_WG + lid.x);
        if e >= u.len {
            break;
        }
        let left = u.len - e;
        let live = vec4<bool>(true, left > 1u, left > 2u, left > 3u);
        let gq = select(vec4<f32>(0.0), g[(u.off + e) >> 2u], live);
        sum += dot(gq, gq);
    }
    clip[CLIP_HEAD + group * UPDATE_WG + lid.x] = sum;
}

var<workgroup> clip_red: array<f32, UPDATE_WG>;

// One workgroup: the partials summed in a fixed order (strided, then a binary tree), so the
// factor repeats bit for bit; PyTorch's clip_grad_norm_ factor min(1, max/(‖g‖ + 1e-6)).
@compute @workgroup_size(UPDATE_WG)
fn clip_scale(@builtin(local_invocation_id) lid: vec3<u32>) {
    let i0 = lid.x;
    var acc = 0.0;
    for (var i = i0; i < dims.clip_count; i += UPDATE_WG) {
        acc += clip[CLIP_HEAD + i];
    }
    clip_red[i0] = acc;
    for (var s = UPDATE_WG / 2u; s > 0u; s >>= 1u) {
        workgroupBarrier();
        if i0 < s {
            clip_red[i0] += clip_red[i0 + s];
        }
    }
    workgroupBarrier();
    if i0 == 0u {
        let norm = sqrt(clip_red[0]);
        clip[1] = norm;
        clip[0] = min(1.0, dims.max_norm / (norm + 1e-6));
    }
}
