//! What the host and the shaders agree on besides the records (records.rs): workgroup and block
//! sizes and the loss kernel's modes. Defined here, below the kernel modules and the shader
//! loader alike: the loader emits them into the generated `consts` import (shaders.rs), the
//! kernels size their dispatches by them.

/// Invocations per workgroup of the gathers: columns (feature or target words) × batch rows.
pub const GATHER_WG_X: u32 = 64;
/// Batch rows per workgroup of the gathers (the y side; see `GATHER_WG_X`).
pub const GATHER_WG_Y: u32 = 4;

/// Invocations (samples) per workgroup of `loss`.
pub const LOSS_WG: u32 = 64;

/// What loss.wgsl writes besides the per-sample (loss, correct) pairs; `LossDims::mode` is its
/// discriminant, the shader's `MODE_*` constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossMode {
    /// loss, correct and the logits gradient
    Train = 0,
    /// loss and correct only
    Evaluate = 1,
    /// probabilities (or values) into the output buffer
    Predict = 2,
}

/// Rows and columns of the output block each invocation keeps in registers (B in the shader).
pub const MATMUL_BLOCK: u32 = 8;
/// Invocations per workgroup side (the workgroup is MATMUL_WG × MATMUL_WG).
pub const MATMUL_WG: u32 = 8;
/// Output rows (and columns) one workgroup covers.
pub const MATMUL_TILE: u32 = MATMUL_WG * MATMUL_BLOCK;
/// abt's columns per invocation (BC in the shader) on layers narrower than `WIDE_MIN_N`
/// outputs (src/gpu/matmul.rs) and in the scalar module.
pub const ABT_COLS: u32 = 8;
/// abt's columns per invocation in the wide vec4 module, used on layers of at least
/// `WIDE_MIN_N` outputs (fewer loads per product, but a 64-wide layer would leave half the
/// invocations idle).
pub const ABT_COLS_WIDE: u32 = 16;

/// Elements per invocation of `update`, as quads strided by the workgroup so neighbouring
/// invocations touch neighbouring quads; the record is read once per invocation.
pub const UPDATE_PER: u32 = 32;
/// Invocations per workgroup of `update`.
pub const UPDATE_WG: u32 = 256;

/// Invocations per workgroup of `sum_final` (one workgroup per job, a fixed tree over them).
pub const REDUCE_WG: u32 = 256;
/// Invocations (units) per workgroup of `unit_stats`.
pub const UNIT_STATS_WG: u32 = 64;
