// The fused optimizer update of one parameter tensor: the CPU twin is src/cpu/optimizer.rs.
// Penalties (λw + β·sign w), decoupled decay, the optimizer's moments and the proximal L1 step
// in one pass. Every constant arrives precomputed on the host exactly as UpdateParams makes it.
//   w, g, s0, s1: the flat parameter, gradient and slot buffers; this tensor is [off, off + len).

const OPT_SGD: u32 = 0u;
const OPT_MOMENTUM: u32 = 1u;
const OPT_NESTEROV: u32 = 2u;
const OPT_RMSPROP: u32 = 3u;
const OPT_ADAM: u32 = 4u;
const OPT_ADAMW: u32 = 5u;

const FLAG_NESTEROV: u32 = 1u;
const FLAG_PROXIMAL: u32 = 2u;     // proximal L1 with β > 0
const FLAG_DECAY: u32 = 4u;        // weight_decay != 0
const FLAG_RMS_MOMENTUM: u32 = 8u; // RMSprop with momentum > 0

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

@group(0) @binding(0) var<storage, read> rec: Update;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> s0: array<f32>;
@group(0) @binding(4) var<storage, read_write> s1: array<f32>;

fn sign0(x: f32) -> f32 {
    return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0);
}

// Elements per invocation: the record is read once per invocation (a storage read costs a
// per-lane loop on lavapipe), then PER elements are updated in a row.
const PER: u32 = 8u;

@compute @workgroup_size(256)
fn update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let u = rec;
    let first = (gid.x + gid.y * nwg.x * 256u) * PER;
    let last = min(first + PER, u.len);
    for (var e = first; e < last; e++) {
        update_one(u, u.off + e);
    }
}

fn update_one(u: Update, i: u32) {
    let grad = g[i] + u.l2 * w[i] + u.l1_sub * sign0(w[i]);
    var wi = w[i];
    if (u.flags & FLAG_DECAY) != 0u {
        wi *= u.decay;
    }
    switch u.kind {
        case 1u, 2u: {
            let v = u.mu * s0[i] + grad;
            s0[i] = v;
            if u.kind == OPT_NESTEROV {
                wi -= u.lr * (grad + u.mu * v);
            } else {
                wi -= u.lr * v;
            }
        }
        case 3u: {
            let s = u.rho * s0[i] + (1.0 - u.rho) * grad * grad;
            s0[i] = s;
            let step = grad / (sqrt(s) + u.eps);
            if (u.flags & FLAG_RMS_MOMENTUM) != 0u {
                let v = u.mu * s1[i] + step;
                s1[i] = v;
                if (u.flags & FLAG_NESTEROV) != 0u {
                    wi -= u.lr * (step + u.mu * v);
                } else {
                    wi -= u.lr * v;
                }
            } else {
                wi -= u.lr * step;
            }
        }
        case 4u, 5u: {
            let m = u.b1 * s0[i] + (1.0 - u.b1) * grad;
            let v = u.b2 * s1[i] + (1.0 - u.b2) * grad * grad;
            s0[i] = m;
            s1[i] = v;
            // PyTorch's form: step = lr/bc1 · m / (√v/√bc2 + ε)
            let denom = sqrt(v) / u.sqrt_bc2 + u.eps;
            wi -= u.lr_bc1 * m / denom;
        }
        default: {
            wi -= u.lr * grad;
        }
    }
    if (u.flags & FLAG_PROXIMAL) != 0u {
        wi = sign0(wi) * max(abs(wi) - u.shrink, 0.0);
    }
    w[i] = wi;
}
