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
/// `UpdateRecord::norm_out` of a tensor without norm partials (biases).
pub const NO_NORM: u32 = u32::MAX;
/// `SumJob::count` meaning "this step's rows".
pub const SUM_ROWS: u32 = u32::MAX;
/// `SumJob::source`: per-sample (loss, correct) pairs, or the update's partial triples.
pub const SUM_SOURCE_PAIRS: u32 = 0;
pub const SUM_SOURCE_PARTIALS: u32 = 1;

/// A record's layout as the Rust compiler lays it out, for the test against the WGSL struct.
#[derive(Clone, Copy, Debug)]
pub struct RecordLayout {
    /// the struct's name in Rust and in WGSL
    pub name: &'static str,
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
        _p0: u32,
        _p1: u32,
        _p2: u32,
    }
}

impl Step {
    pub fn new(rows: u32, offset: u32, step: u32, stat: u32, grad_scale: f32) -> Self {
        Step { rows, offset, step, stat, grad_scale, ..Default::default() }
    }
}

record! {
    /// One matmul dispatch's constants (matmul.wgsl).
    MatmulDims {
        n: u32,
        k: u32,
        w_off: u32,
        b_off: u32,
        act: u32,
        slope: f32,
        layer: u32,
        key: u32,
        drop: u32,
        keep: f32,
        inv_keep: f32,
        _p0: u32,
    }
}

record! {
    /// One loss dispatch's constants (loss.wgsl).
    LossDims {
        k: u32,
        loss: u32,
        labels: u32,
        mode: u32,
    }
}

record! {
    /// One gather dispatch's constants (gather.wgsl).
    GatherDims {
        dim: u32,
        is_u8: u32,
        tw: u32,
        use_perm: u32,
        drop: u32,
        keep: f32,
        inv_keep: f32,
        key: u32,
        aug: u32,
        shift: u32,
        hflip: u32,
        noise: f32,
        rotate: f32,
        img_h: u32,
        img_w: u32,
        _p0: u32,
    }
}

record! {
    /// One reduce dispatch's constants (reduce.wgsl).
    ReduceDims {
        n: u32,
        off: u32,
        off2: u32,
        act: u32,
        stride: u32,
        _p0: u32,
        _p1: u32,
        _p2: u32,
    }
}

record! {
    /// One sum of `sum_final` (reduce.wgsl): `count` records of `width` floats from `off` on.
    SumJob {
        source: u32,
        off: u32,
        count: u32,
        width: u32,
        out: u32,
        _p0: u32,
        _p1: u32,
        _p2: u32,
    }
}

record! {
    /// One tensor's update constants at one step (optimizer.wgsl), rounded to f32 from UpdateParams.
    Update {
        off: u32,
        len: u32,
        kind: u32,
        flags: u32,
        lr: f32,
        mu: f32,
        eps: f32,
        l2: f32,
        /// β in subgradient mode, 0 in proximal mode
        l1_sub: f32,
        /// lr·β
        shrink: f32,
        /// 1 − lr·wd
        decay: f32,
        rho: f32,
        b1: f32,
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
        u: Update,
        wg_first: u32,
        wg_end: u32,
        norm_out: u32,
        _p0: u32,
        _pad: [[u32; 4]; 11],
    }
}

record! {
    /// The fused update's dispatch constants (optimizer.wgsl).
    UpdateDims {
        tensors: u32,
        _p0: u32,
        _p1: u32,
        _p2: u32,
    }
}

/// Every record and the shader file whose WGSL struct mirrors it.
pub const ALL: [(RecordLayout, &str); 9] = [
    (Step::LAYOUT, "common.wgsl"),
    (MatmulDims::LAYOUT, "matmul.wgsl"),
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
