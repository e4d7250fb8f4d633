//! Every record the host writes for the shaders, as `#[repr(C)]` Pod structs with the WGSL
//! struct of the same name beside them (tests/shaders.rs holds each against naga's layout of the
//! parsed module: size, and every field's name and offset), and the flag bits and sentinels the
//! records carry. Codes (activation, loss, optimizer) come from their Rust enums; the shaders see
//! all of these as constants of the generated `consts` import (src/gpu/shaders.rs).

use bytemuck::{Pod, Zeroable};

/// Bytes per slot of the step buffer (a Step or an UpdateRecord), the dynamic-offset stride.
/// 256 is the largest `min_storage_buffer_offset_alignment` WebGPU allows, so it always works.
pub const RECORD: u64 = 256;

/// `UpdateRecord::flags` bits.
pub const FLAG_NESTEROV: u32 = 1 << 0;
/// proximal L1 with β > 0
pub const FLAG_PROXIMAL: u32 = 1 << 1;
/// weight_decay != 0
pub const FLAG_DECAY: u32 = 1 << 2;
/// RMSprop with momentum > 0
pub const FLAG_RMS_MOMENTUM: u32 = 1 << 3;
/// --clip-norm: the update multiplies the raw gradient by the step's factor (clip[0])
pub const FLAG_CLIP: u32 = 1 << 4;
/// Floats before the clip partials in the clip buffer (factor, norm, padding).
pub const CLIP_HEAD: u32 = 4;
/// `UpdateRecord::norm_out` of a tensor without norm partials (biases).
pub const NO_NORM: u32 = u32::MAX;
/// `SumJob::count` meaning "this step's rows".
pub const SUM_ROWS: u32 = u32::MAX;
/// `SumJob::source`: per-sample (loss, correct) pairs (binding `src`).
pub const SUM_SOURCE_PAIRS: u32 = 0;
/// `SumJob::source`: the update's norm partial triples (binding `src2`).
pub const SUM_SOURCE_PARTIALS: u32 = 1;

/// A record's layout as the Rust compiler lays it out, for the test against the WGSL struct.
#[derive(Clone, Copy, Debug)]
pub struct RecordLayout {
    /// the struct's name in Rust and in WGSL
    pub name: &'static str,
    /// `size_of` the Rust struct in bytes; naga's WGSL struct size must equal it
    pub size: usize,
    /// (field name, byte offset), in declaration order
    pub fields: &'static [(&'static str, usize)],
}

/// The typed view of a record as 32-bit words (what `Res::Dims` binds).
pub fn words<R: Pod>(r: &R) -> &[u32] {
    bytemuck::cast_slice(std::slice::from_ref(r))
}

macro_rules! record {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
        pub struct $name { $($(#[$fm])* pub $f: $t,)* }

        impl $name {
            /// This record's Rust layout (name, size, field offsets), held against naga's by tests/shaders.rs.
            pub const LAYOUT: RecordLayout = RecordLayout {
                name: stringify!($name),
                size: std::mem::size_of::<$name>(),
                fields: &[$((stringify!($f), std::mem::offset_of!($name, $f)),)*],
            };
        }
    };
}

record! {
    /// One training step (or one evaluation chunk): slot 0 of a step's record block (common.wgsl).
    Step {
        /// rows in this batch (the last one may be short)
        rows: u32,
        /// first position in the permutation (or first row of an evaluation chunk)
        offset: u32,
        /// global 0-based step number: the dropout mask's counter
        step: u32,
        /// record index in the epoch stats buffer
        stat: u32,
        /// 1/rows, computed on the host exactly as the CPU engine does
        grad_scale: f32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p0: u32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p1: u32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p2: u32,
    }
}

impl Step {
    /// A step record with the padding zeroed; `grad_scale` is 1/rows as the CPU engine computes it.
    pub fn new(rows: u32, offset: u32, step: u32, stat: u32, grad_scale: f32) -> Self {
        Step { rows, offset, step, stat, grad_scale, ..Default::default() }
    }
}

record! {
    /// One matmul dispatch's constants (matmul.wgsl).
    MatmulDims {
        /// output columns N (the layer's OUT); `d.n` in matmul.wgsl
        n: u32,
        /// inner dimension K (the layer's IN), the row length of x and of w
        k: u32,
        /// float offset of this layer's weights w: (OUT, IN) in the flat params buffer
        w_off: u32,
        /// float offset of this layer's bias b: (OUT) in the flat params buffer
        b_off: u32,
        /// activation code (`ACT_*` of the generated consts, from the Rust activation enum)
        act: u32,
        /// negative slope of leaky ReLU (unused by other activations)
        slope: f32,
        /// layer index, a dropout-mask counter input (0 is the input layer's gather)
        layer: u32,
        /// the run's RNG key for the dropout mask (the counter-based RNG the CPU engine shares)
        key: u32,
        /// nonzero: also write the dropped copy `aux = h · mask / keep`
        drop: u32,
        /// dropout keep probability (1 − rate)
        keep: f32,
        /// 1 / keep, computed on the host as the CPU engine does
        inv_keep: f32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p0: u32,
    }
}

record! {
    /// One loss dispatch's constants (loss.wgsl).
    LossDims {
        /// classes / output columns K of logits: (B, K)
        k: u32,
        /// loss code (`LOSS_*` of the generated consts, from the Rust loss enum)
        loss: u32,
        /// nonzero: targets are one u32 class label per row; zero: (B, K) f32 targets
        labels: u32,
        /// `LossMode` as u32 (`MODE_TRAIN` also writes dz)
        mode: u32,
        /// label smoothing ε of softmax cross-entropy in training (0: none)
        smoothing: f32,
        /// ε/K, computed on the host as the CPU engine does
        eps_k: f32,
        /// ε − ε/K, the label's own share, likewise
        eps_rest: f32,
        /// nonzero: in training, each sample's loss and gradient times its class's weight
        weighted: u32,
    }
}

record! {
    /// One gather dispatch's constants (gather.wgsl).
    GatherDims {
        /// features per row (IN); x: (B, dim)
        dim: u32,
        /// nonzero: features are u8 pixels packed 4 per u32 word, scaled by PIXEL_SCALE
        is_u8: u32,
        /// target words per row (1 for labels, else K)
        tw: u32,
        /// nonzero: row b reads dataset row `perm[offset + b]`; zero: row `offset + b`
        use_perm: u32,
        /// nonzero: also write the input-dropout copy `dropped`
        drop: u32,
        /// input dropout keep probability
        keep: f32,
        /// 1 / keep
        inv_keep: f32,
        /// the run's RNG key (dropout mask and augmentation draws)
        key: u32,
        /// nonzero: augment u8 images (shift, flip, noise, rotate)
        aug: u32,
        /// largest shift in pixels, each axis drawn from −shift..=shift
        shift: u32,
        /// nonzero: flip horizontally with probability 1/2
        hflip: u32,
        /// augmentation noise amplitude (0: none)
        noise: f32,
        /// largest rotation in degrees, drawn from −rotate..rotate
        rotate: f32,
        /// image height in pixels (augmentation only)
        img_h: u32,
        /// image width in pixels (augmentation only)
        img_w: u32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p0: u32,
    }
}

record! {
    /// One reduce dispatch's constants (reduce.wgsl).
    ReduceDims {
        /// units (columns) of the activation h: (rows, n) that `unit_stats` scans
        n: u32,
        /// word offset in `counters` of this layer's alive flags
        off: u32,
        /// word offset in `counters` of this layer's saturation counts
        off2: u32,
        /// activation code, which decides what counts as saturated
        act: u32,
        /// floats per stats record in `dst` (`sum_final` writes at `stat · stride + out`)
        stride: u32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p0: u32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p1: u32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p2: u32,
    }
}

record! {
    /// One sum of `sum_final` (reduce.wgsl): `count` records of `width` floats from `off` on.
    SumJob {
        /// `SUM_SOURCE_PAIRS` or `SUM_SOURCE_PARTIALS`
        source: u32,
        /// float offset of the first record in the source buffer
        off: u32,
        /// records to sum, or `SUM_ROWS` for this step's rows
        count: u32,
        /// floats per record summed (1..=3)
        width: u32,
        /// float offset within the stats record where the `width` sums go
        out: u32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p0: u32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p1: u32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p2: u32,
    }
}

record! {
    /// One tensor's update constants at one step (optimizer.wgsl), rounded to f32 from UpdateParams.
    Update {
        /// float offset of the tensor in params/grads/slots (a multiple of 4)
        off: u32,
        /// floats in the tensor
        len: u32,
        /// optimizer code (`OPT_*` of the generated consts)
        kind: u32,
        /// `FLAG_*` bits
        flags: u32,
        /// learning rate at this step
        lr: f32,
        /// momentum coefficient
        mu: f32,
        /// ε of Adam and RMSprop
        eps: f32,
        /// L2 coefficient added to the gradient as `l2 · w`
        l2: f32,
        /// β in subgradient mode, 0 in proximal mode
        l1_sub: f32,
        /// lr·β
        shrink: f32,
        /// 1 − lr·wd
        decay: f32,
        /// RMSprop decay ρ
        rho: f32,
        /// Adam β1
        b1: f32,
        /// Adam β2
        b2: f32,
        /// lr / (1 − β1^t)
        lr_bc1: f32,
        /// √(1 − β2^t)
        sqrt_bc2: f32,
    }
}

record! {
    /// Slot 1 + t of a step's record block: tensor t's update and where its workgroups and norm
    /// partials are (optimizer.wgsl), padded to a whole slot.
    UpdateRecord {
        /// the tensor's update constants
        u: Update,
        /// first workgroup (of the fused dispatch) that updates this tensor
        wg_first: u32,
        /// one past its last workgroup
        wg_end: u32,
        /// float offset of its (‖g‖², ‖w‖², ‖w‖₁) partial triples, or `NO_NORM`
        norm_out: u32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p0: u32,
        /// padding to a whole RECORD slot (WGSL: `array<vec4<u32>, 11>`, unread)
        _pad: [[u32; 4]; 11],
    }
}

record! {
    /// The fused update's dispatch constants (optimizer.wgsl).
    UpdateDims {
        /// tensors in this step's record block (slots 1..=tensors)
        tensors: u32,
        /// `clip_scale`: the clip partials to sum (one per invocation of the fused grid)
        clip_count: u32,
        /// `--clip-norm`'s bound (`clip_scale`)
        max_norm: f32,
        /// padding (WGSL sees it as a u32 nobody reads)
        _p0: u32,
    }
}

/// Every record and the shader file whose WGSL struct mirrors it.
pub const ALL: [(RecordLayout, &str); 9] = [
    (Step::LAYOUT, "common.wgsl"),
    (MatmulDims::LAYOUT, "matmul_io.wgsl"),
    (LossDims::LAYOUT, "loss.wgsl"),
    (GatherDims::LAYOUT, "gather.wgsl"),
    (ReduceDims::LAYOUT, "reduce.wgsl"),
    (SumJob::LAYOUT, "reduce.wgsl"),
    (Update::LAYOUT, "optimizer.wgsl"),
    (UpdateRecord::LAYOUT, "optimizer.wgsl"),
    (UpdateDims::LAYOUT, "optimizer.wgsl"),
];

/// A step's record block as slots of RECORD bytes.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct RecordSlot(pub [u32; RECORD as usize / 4]);

impl RecordSlot {
    /// The slot holding `r` (zeros after it).
    pub fn of<R: Pod>(r: &R) -> RecordSlot {
        let bytes = bytemuck::bytes_of(r);
        assert!(bytes.len() <= RECORD as usize, "a record larger than a slot");
        let mut s = RecordSlot::zeroed();
        bytemuck::bytes_of_mut(&mut s)[..bytes.len()].copy_from_slice(bytes);
        s
    }
}

const _: () = assert!(std::mem::size_of::<UpdateRecord>() == RECORD as usize);
const _: () = assert!(std::mem::size_of::<Step>() <= RECORD as usize);
