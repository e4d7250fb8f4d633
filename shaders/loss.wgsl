#import consts
#import common

// Output-layer losses from logits, one invocation per sample: the CPU twin is src/cpu/loss.rs.
//   z (B, K) logits, targets -> per-sample (loss, correct) pairs in `sample` (B, 2), and
//   MODE_TRAIN: dz (B, K) = ∂(mean loss)/∂z;  MODE_EVALUATE: nothing more;
//   MODE_PREDICT: probabilities (softmax / sigmoid) or values into probs[(offset + b)·K + k].

struct LossDims {
    k: u32,
    loss: u32,
    labels: u32, // 1: targets are class labels (one u32 per row), 0: K f32 values per row
    mode: u32,
    smoothing: f32, // label smoothing ε in training (softmax cross-entropy), 0: none
    eps_k: f32,     // ε/K and ε − ε/K, from the host as the CPU engine computes them
    eps_rest: f32,
    weighted: u32,  // nonzero: training scales each sample by class_weight[label]
}

@group(0) @binding(0) var<storage, read> st: Step;
@group(0) @binding(1) var<storage, read> d: LossDims;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> tgt: array<u32>;
@group(0) @binding(4) var<storage, read_write> dz: array<f32>;
@group(0) @binding(5) var<storage, read_write> sample: array<f32>;
@group(0) @binding(6) var<storage, read_write> probs: array<f32>;
@group(0) @binding(7) var<storage, read> class_weight: array<f32>;

// target k of sample b: one-hot for labels (the label itself for K = 1)
fn target_of(b: u32, k: u32) -> f32 {
    if d.labels != 0u {
        let label = tgt[b];
        let hit = select(label == k, label == 1u, d.k == 1u);
        return select(0.0, 1.0, hit);
    }
    return bitcast<f32>(tgt[b * d.k + k]);
}

// log(1 + x) without losing small x (Goldberg's trick)
fn log1p(x: f32) -> f32 {
    let u = 1.0 + x;
    if u == 1.0 {
        return x;
    }
    return log(u) * x / (u - 1.0);
}

// argmax (first on ties), or z > 0 for a single output
fn predicted_class(base: u32) -> u32 {
    if d.k == 1u {
        return select(0u, 1u, z[base] > 0.0);
    }
    var best = 0u;
    for (var k = 1u; k < d.k; k++) {
        if z[base + k] > z[base + best] {
            best = k;
        }
    }
    return best;
}

@compute @workgroup_size(LOSS_WG)
fn loss(@builtin(global_invocation_id) g: vec3<u32>) {
    // dispatched as (1, ceil(rows / LOSS_WG)) workgroups
    let b = g.x + g.y * LOSS_WG;
    if b >= st.rows {
        return;
    }
    let kk = d.k;
    let base = b * kk;
    let train = d.mode == MODE_TRAIN;
    // Keras' class_weight: the sample's loss and gradient times its class's weight (training only)
    var weight = 1.0;
    if train && d.weighted != 0u && d.labels != 0u {
        weight = class_weight[tgt[b]];
    }
    let scale = st.grad_scale * weight;
    let smoothing = select(0.0, d.smoothing, train);
    let k_t = f32(kk);
    var correct = 0.0;
    if d.labels != 0u && predicted_class(base) == tgt[b] {
        correct = 1.0;
    }
    var l = 0.0;
    switch d.loss {
        case LOSS_SOFTMAX_XENT: {
            var m = z[base];
            for (var k = 1u; k < kk; k++) {
                m = max(m, z[base + k]);
            }
            var sum_exp = 0.0;
            for (var k = 0u; k < kk; k++) {
                sum_exp += exp(z[base + k] - m);
            }
            let lse = m + log(sum_exp);
            if d.mode == MODE_PREDICT {
                for (var k = 0u; k < kk; k++) {
                    probs[(st.offset + b) * kk + k] = exp(z[base + k] - m) / sum_exp;
                }
            }
            let y = tgt[b];
            if train {
                // p_y − 1 as −Σ_{k≠y} p_k, as src/cpu/loss.rs (no cancellation for a confident
                // sample); smoothed, p_k − ε/K and (ε − ε/K) − Σ_{k≠y} p_k
                var others = 0.0;
                for (var k = 0u; k < kk; k++) {
                    let p = exp(z[base + k] - lse);
                    if k != y {
                        others += p;
                        dz[base + k] = (p - d.eps_k) * scale;
                    }
                }
                dz[base + y] = (d.eps_rest - others) * scale;
            }
            if smoothing > 0.0 {
                // −Σ q_k log p_k = lse − (1 − ε)·z_y − (ε/K)·Σ z_k
                var sum_z = 0.0;
                for (var k = 0u; k < kk; k++) {
                    sum_z += z[base + k];
                }
                l = lse - (1.0 - smoothing) * z[base + y] - d.eps_k * sum_z;
            } else {
                l = lse - z[base + y];
            }
        }
        case LOSS_BCE: {
            var s = 0.0;
            for (var k = 0u; k < kk; k++) {
                let zk = z[base + k];
                let tk = target_of(b, k);
                // max(z,0) − z·t + log(1 + e^(−|z|)), stable for any z
                s += max(zk, 0.0) - zk * tk + log1p(exp(-abs(zk)));
                if train {
                    // σ(z) − t as (1 − t)·σ(z) − t·σ(−z), as src/cpu/loss.rs
                    dz[base + k] = ((1.0 - tk) * sigmoid(zk) - tk * sigmoid(-zk)) * scale / k_t;
                }
                if d.mode == MODE_PREDICT {
                    probs[(st.offset + b) * kk + k] = sigmoid(zk);
                }
            }
            l = s / k_t;
        }
        case LOSS_MSE: {
            var s = 0.0;
            for (var k = 0u; k < kk; k++) {
                let e = z[base + k] - target_of(b, k);
                s += e * e;
                if train {
                    dz[base + k] = (e + e) * scale / k_t;
                }
                if d.mode == MODE_PREDICT {
                    probs[(st.offset + b) * kk + k] = z[base + k];
                }
            }
            l = s / k_t;
        }
        case LOSS_COSINE, default: {
            var zz = 0.0;
            var tt = 0.0;
            var zt = 0.0;
            for (var k = 0u; k < kk; k++) {
                let zk = z[base + k];
                let tk = target_of(b, k);
                zz += zk * zk;
                tt += tk * tk;
                zt += zk * tk;
                if d.mode == MODE_PREDICT {
                    probs[(st.offset + b) * kk + k] = zk;
                }
            }
            let nz = max(sqrt(zz), COSINE_EPS);
            let nt = max(sqrt(tt), COSINE_EPS);
            let cos = zt / (nz * nt);
            if train {
                // ∂cos/∂z = t/(|z||t|) − cos·z/|z|² (the second term vanishes when |z| is clamped)
                let clamped = sqrt(zz) < COSINE_EPS;
                for (var k = 0u; k < kk; k++) {
                    var gk = target_of(b, k) / (nz * nt);
                    if !clamped {
                        gk -= cos * z[base + k] / (nz * nz);
                    }
                    dz[base + k] = -gk * scale;
                }
            }
            l = 1.0 - cos;
        }
    }
    sample[2u * b] = l * weight;
    sample[2u * b + 1u] = correct;
}
