// Imported by every kernel family (`#import common`, src/gpu/shaders.rs): the per-step record,
// the counter hash behind dropout (bit-identical to src/rng.rs) and the activations
// (twins of src/cpu/activation.rs). ACT_* come from Activation::code() through `consts`.
#import consts

// One training step (or one evaluation chunk), read from the step buffer at a dynamic offset;
// the host writes it as gpu::records::Step.
struct Step {
    rows: u32,       // rows in this batch (the last one may be short)
    offset: u32,     // first position in the permutation (or first row of an evaluation chunk)
    step: u32,       // global 0-based step number: the dropout mask's counter
    stat: u32,       // record index in the epoch stats buffer
    grad_scale: f32, // 1/rows, computed on the host exactly as the CPU engine does
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

fn lowbias32(x0: u32) -> u32 {
    var x = x0;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn hash4(key: u32, step: u32, layer: u32, index: u32) -> u32 {
    var h = lowbias32(key ^ 0x68e31da4u);
    h = lowbias32(h ^ step);
    h = lowbias32(h ^ (layer * 0x9e3779b9u));
    return lowbias32(h ^ index);
}

// Uniform in [0, 1) from the top 24 bits; the scale is a power of two, so exact.
fn unit_f32(h: u32) -> f32 {
    return f32(h >> 8u) * (1.0 / 16777216.0);
}

// Inverted-dropout multiplier: 1/p (passed in, computed on the host) when kept, else 0.
fn dropout_scale(key: u32, step: u32, layer: u32, index: u32, keep: f32, inv_keep: f32) -> f32 {
    if unit_f32(hash4(key, step, layer, index)) < keep {
        return inv_keep;
    }
    return 0.0;
}

fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        return 1.0 / (1.0 + exp(-z));
    }
    let e = exp(z);
    return e / (1.0 + e);
}

fn activate(act: u32, slope: f32, z: f32) -> f32 {
    switch act {
        case ACT_RELU: { return max(z, 0.0); }
        case ACT_LEAKY_RELU: { return select(z * slope, z, z > 0.0); }
        // tanh(±10) already rounds to ±1 in f32; clamping keeps naive exp-based tanh finite
        case ACT_TANH: { return tanh(clamp(z, -10.0, 10.0)); }
        case ACT_SIGMOID: { return sigmoid(z); }
        case ACT_IDENTITY, default: { return z; }
    }
}

// f'(z) through h = f(z)
fn activate_grad(act: u32, slope: f32, h: f32) -> f32 {
    switch act {
        case ACT_RELU: { return select(0.0, 1.0, h > 0.0); }
        case ACT_LEAKY_RELU: { return select(slope, 1.0, h > 0.0); }
        case ACT_TANH: { return 1.0 - h * h; }
        case ACT_SIGMOID: { return h * (1.0 - h); }
        case ACT_IDENTITY, default: { return 1.0; }
    }
}
