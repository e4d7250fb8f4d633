#import consts
#import common

// Batch gather from the resident dataset: the CPU twin is src/cpu/gather.rs.
//   x (B, dim) = features of rows perm[offset + b] (or offset + b for evaluation chunks);
//   u8 pixels arrive packed 4 per u32 (little-endian) and are scaled by 1/255 on the way.
//   targets (B, tw) = labels (tw = 1) or target rows, copied as raw 32-bit words.
// With dropout on the network input, `dropped` = x · mask/p (layer 0's mask).
// With augmentation on (training batches of u8 images only), x is the augmented pixel: the
// per-element function `augment_pixel` of src/cpu/augment.rs (its doc comment is the spec),
// driven by (key, st.step, row b); dropout then applies to the augmented value, as on the CPU.

struct GatherDims {
    dim: u32,
    is_u8: u32,
    tw: u32,        // target words per row
    use_perm: u32,
    drop: u32,
    keep: f32,
    inv_keep: f32,
    key: u32,
    aug: u32,       // 1: augment (u8 images, training batches)
    shift: u32,
    hflip: u32,
    noise: f32,
    rotate: f32,    // degrees
    img_h: u32,
    img_w: u32,
    _p0: u32,
}

// AUG_* (hash4 layer codes), DEG_TO_RAD and TWO_PI (src/data/augment.rs) and PIXEL_SCALE_BITS
// (the bits of PIXEL_SCALE = 1/255 in f32, src/data/dataset.rs) come from `consts`.

@group(0) @binding(0) var<storage, read> st: Step;
@group(0) @binding(1) var<storage, read> d: GatherDims;
@group(0) @binding(2) var<storage, read> perm: array<u32>;
@group(0) @binding(3) var<storage, read> feat: array<u32>;
@group(0) @binding(4) var<storage, read> tsrc: array<u32>;
@group(0) @binding(5) var<storage, read_write> x: array<f32>;
@group(0) @binding(6) var<storage, read_write> dropped: array<f32>;
@group(0) @binding(7) var<storage, read_write> tgt: array<u32>;
// x and dropped seen as quads by gather_u8x4 alone (an entry point uses one view of a binding)
@group(0) @binding(5) var<storage, read_write> x_quads: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> dropped_quads: array<vec4<f32>>;

// u8 pixel (i, j) of the image starting at byte `base`, scaled; 0 outside the image
fn aug_pixel(base: u32, i: i32, j: i32) -> f32 {
    if i < 0 || i >= i32(d.img_w) || j < 0 || j >= i32(d.img_h) {
        return 0.0;
    }
    let byte = base + u32(j) * d.img_w + u32(i);
    let word = feat[byte >> 2u];
    return f32((word >> ((byte & 3u) * 8u)) & 0xffu) * bitcast<f32>(PIXEL_SCALE_BITS);
}

// augment_pixel: batch row b, output pixel p = y·W + x of the image at byte `base`
fn augmented(b: u32, base: u32, p: u32) -> f32 {
    let key = d.key;
    let step = st.step;
    let span = 2u * d.shift + 1u;
    let shift = i32(d.shift);
    let dx = i32(hash4(key, step, AUG_PARAMS, b * 4u) % span) - shift;
    let dy = i32(hash4(key, step, AUG_PARAMS, b * 4u + 1u) % span) - shift;
    let flip = d.hflip != 0u && (hash4(key, step, AUG_PARAMS, b * 4u + 2u) >> 31u) == 1u;
    var c = 1.0;
    var s = 0.0;
    if d.rotate != 0.0 {
        // rotate = 0 gives θ = ±0 on the CPU: cos 1, sin ±0, the same sample points as c = 1, s = 0
        let theta = (unit_f32(hash4(key, step, AUG_PARAMS, b * 4u + 3u)) * 2.0 - 1.0) * d.rotate * DEG_TO_RAD;
        c = cos(theta);
        s = sin(theta);
    }
    let w = i32(d.img_w);
    let h = i32(d.img_h);
    let x = i32(p % d.img_w);
    let y = i32(p / d.img_w);
    var x1 = x;
    if flip {
        x1 = w - 1 - x;
    }
    let x2 = x1 - dx;
    let y2 = y - dy;
    var val: f32;
    if c == 1.0 && s == 0.0 {
        // whole pixels (the CPU's shortcut, and the full formula's value there)
        val = aug_pixel(base, x2, y2);
    } else {
        let cx = f32(w - 1) * 0.5;
        let cy = f32(h - 1) * 0.5;
        let u = f32(x2) - cx;
        let v = f32(y2) - cy;
        let sx = c * u + s * v + cx;
        let sy = -s * u + c * v + cy;
        let x0 = floor(sx);
        let y0 = floor(sy);
        let fx = sx - x0;
        let fy = sy - y0;
        let ix = i32(x0);
        let iy = i32(y0);
        if fx == 0.0 && fy == 0.0 {
            val = aug_pixel(base, ix, iy);
        } else {
            let top = (1.0 - fx) * aug_pixel(base, ix, iy) + fx * aug_pixel(base, ix + 1, iy);
            let bottom = (1.0 - fx) * aug_pixel(base, ix, iy + 1) + fx * aug_pixel(base, ix + 1, iy + 1);
            val = (1.0 - fy) * top + fy * bottom;
        }
    }
    if d.noise > 0.0 {
        let i = b * d.img_h * d.img_w + p;
        let u1 = unit_f32(hash4(key, step, AUG_NOISE_RADIUS, i));
        let u2 = unit_f32(hash4(key, step, AUG_NOISE_ANGLE, i));
        val = val + d.noise * (sqrt(-2.0 * log(1.0 - u1)) * cos(TWO_PI * u2));
    }
    return min(max(val, 0.0), 1.0);
}

// the dataset row that batch row b gathers: through the permutation when training
fn source_row(b: u32) -> u32 {
    let i = st.offset + b;
    if d.use_perm != 0u {
        return perm[i];
    }
    return i;
}

// invocation (x, y): column j = x (feature and/or target word), row b = y
@compute @workgroup_size(GATHER_WG_X, GATHER_WG_Y)
fn gather(@builtin(global_invocation_id) g: vec3<u32>) {
    let b = g.y;
    let j = g.x;
    if b >= st.rows {
        return;
    }
    let i = source_row(b);
    if j < d.dim {
        var v: f32;
        if d.aug != 0u {
            v = augmented(b, i * d.dim, j);
        } else if d.is_u8 != 0u {
            let byte = i * d.dim + j;
            let word = feat[byte >> 2u];
            v = f32((word >> ((byte & 3u) * 8u)) & 0xffu) * bitcast<f32>(PIXEL_SCALE_BITS);
        } else {
            v = bitcast<f32>(feat[i * d.dim + j]);
        }
        let idx = b * d.dim + j;
        x[idx] = v;
        if d.drop != 0u {
            dropped[idx] = v * dropout_scale(d.key, st.step, 0u, idx, d.keep, d.inv_keep);
        }
    }
    if j < d.tw {
        tgt[b * d.tw + j] = tsrc[i * d.tw + j];
    }
}

// The common case, four u8 pixels per invocation (dim a multiple of 4, no augmentation): one
// feature word and one read of the GatherDims record serve four outputs. The same values as `gather`.
// invocation (x, y): feature word j = x (and target word j), row b = y
@compute @workgroup_size(GATHER_WG_X, GATHER_WG_Y)
fn gather_u8x4(@builtin(global_invocation_id) g: vec3<u32>) {
    let b = g.y;
    let j = g.x;
    if b >= st.rows {
        return;
    }
    let i = source_row(b);
    let words = d.dim >> 2u;
    if j < words {
        let word = feat[i * words + j];
        let base = b * d.dim + 4u * j;
        let scale = bitcast<f32>(PIXEL_SCALE_BITS);
        // one quad store instead of four scalar ones (each a per-lane loop where storage access
        // is per lane, as on lavapipe)
        var v: vec4<f32>;
        for (var k = 0u; k < 4u; k++) {
            v[k] = f32((word >> (k * 8u)) & 0xffu) * scale;
        }
        x_quads[base >> 2u] = v;
        if d.drop != 0u {
            var dv = v;
            for (var k = 0u; k < 4u; k++) {
                dv[k] = v[k] * dropout_scale(d.key, st.step, 0u, base + k, d.keep, d.inv_keep);
            }
            dropped_quads[base >> 2u] = dv;
        }
    }
    if j < d.tw {
        tgt[b * d.tw + j] = tsrc[i * d.tw + j];
    }
}
