// Batch gather from the resident dataset: the CPU twin is src/cpu/gather.rs.
//   x (B, dim) = features of rows perm[offset + b] (or offset + b for evaluation chunks);
//   u8 pixels arrive packed 4 per u32 (little-endian) and are scaled by 1/255 on the way.
//   targets (B, tw) = labels (tw = 1) or target rows, copied as raw 32-bit words.
// With dropout on the network input, `dropped` = x · mask/p (layer 0's mask).

struct Dims {
    dim: u32,
    is_u8: u32,
    tw: u32,        // target words per row
    use_perm: u32,
    drop: u32,
    keep: f32,
    inv_keep: f32,
    key: u32,
}

// PIXEL_SCALE = 1/255 in f32 (src/data/dataset.rs), pinned by its bits
const PIXEL_SCALE_BITS: u32 = 0x3b808081u;

@group(0) @binding(0) var<storage, read> st: Step;
@group(0) @binding(1) var<storage, read> d: Dims;
@group(0) @binding(2) var<storage, read> perm: array<u32>;
@group(0) @binding(3) var<storage, read> feat: array<u32>;
@group(0) @binding(4) var<storage, read> tsrc: array<u32>;
@group(0) @binding(5) var<storage, read_write> x: array<f32>;
@group(0) @binding(6) var<storage, read_write> dropped: array<f32>;
@group(0) @binding(7) var<storage, read_write> tgt: array<u32>;

// invocation (x, y): column j = x (feature and/or target word), row b = y
@compute @workgroup_size(64, 4)
fn gather(@builtin(global_invocation_id) g: vec3<u32>) {
    let b = g.y;
    let j = g.x;
    if b >= st.rows {
        return;
    }
    var i = st.offset + b;
    if d.use_perm != 0u {
        i = perm[i];
    }
    if j < d.dim {
        var v: f32;
        if d.is_u8 != 0u {
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
