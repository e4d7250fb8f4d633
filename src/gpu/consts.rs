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
/// Outputs per invocation along each side in the tiled kernels (TR in matmul_tiled.wgsl): one
/// vec4 of columns, so TW invocations' quads span the tile.
pub const TILED_BLOCK: u32 = 4;
/// Reduction steps staged per slab in the tiled kernels (TQ; a multiple of 4 for abt's quads).
pub const TILED_STEPS: u32 = 16;

/// How a matmul module reads its K-contiguous operands and dz, fixed by the shape (not tuned).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Loads {
    /// any K: four scalar loads make a vec4 (matmul_scalar.wgsl); keeps wgpu's bounds checks
    Scalar,
    /// K % 4 == 0: x and w as vec4 (matmul_vec4.wgsl)
    Vec4,
    /// K % 4 == 0 and N % 4 == 0: dz as vec4 too (matmul_dz_vec4.wgsl)
    Vec4Dz4,
}

impl Loads {
    /// Every way of loading, in the order listings walk them.
    pub const ALL: [Loads; 3] = [Loads::Scalar, Loads::Vec4, Loads::Vec4Dz4];

    /// The loads a form at (N, K) uses: vec4 when K % 4 == 0, vec4 dz when N % 4 == 0 too (ab and
    /// atb only; abt reads no dz).
    pub fn for_shape(reads_dz: bool, n: u32, k: u32) -> Loads {
        match (k % 4 == 0, reads_dz && n % 4 == 0) {
            (false, _) => Loads::Scalar,
            (true, false) => Loads::Vec4,
            (true, true) => Loads::Vec4Dz4,
        }
    }

    /// A short name for module labels.
    pub fn name(self) -> &'static str {
        match self {
            Loads::Scalar => "scalar",
            Loads::Vec4 => "vec4",
            Loads::Vec4Dz4 => "vec4, vec4 dz",
        }
    }
}

/// The matmul kernel variants the tuner chooses among (src/gpu/tune.rs); each is a module of
/// its own per `Loads`, with the same entry points and the same accumulation order per output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatmulKernel {
    /// matmul.wgsl: each invocation keeps an 8 × 8 block in registers, operands from storage
    Blocked8,
    /// matmul.wgsl with 16 columns per invocation in abt (ab and atb as Blocked8): fewer loads
    /// per product on wide layers, idle invocations on narrow ones
    Blocked16,
    /// matmul_tiled.wgsl, 8 × 8 invocations staging 32-wide slabs in workgroup memory
    Tiled32,
    /// matmul_tiled.wgsl, 16 × 16 invocations staging 64-wide slabs
    Tiled64,
}

impl MatmulKernel {
    /// Every variant, in the order listings, tests and the tuner walk them.
    pub const ALL: [MatmulKernel; 4] = [MatmulKernel::Blocked8, MatmulKernel::Blocked16, MatmulKernel::Tiled32, MatmulKernel::Tiled64];

    /// The name in listings and the tuning cache.
    pub fn name(self) -> &'static str {
        match self {
            MatmulKernel::Blocked8 => "blocked-8x8",
            MatmulKernel::Blocked16 => "blocked-8x16",
            MatmulKernel::Tiled32 => "tiled-32",
            MatmulKernel::Tiled64 => "tiled-64",
        }
    }

    /// The variant of a listed name.
    pub fn parse(name: &str) -> Option<MatmulKernel> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the variant stages operands in workgroup memory (matmul_tiled.wgsl).
    pub fn tiled(self) -> bool {
        matches!(self, MatmulKernel::Tiled32 | MatmulKernel::Tiled64)
    }

    /// Invocations per workgroup side (TW in matmul_tiled.wgsl, MATMUL_WG in matmul.wgsl).
    pub fn workgroup_side(self) -> u32 {
        match self {
            MatmulKernel::Blocked8 | MatmulKernel::Blocked16 => MATMUL_WG,
            MatmulKernel::Tiled32 => 8,
            MatmulKernel::Tiled64 => 16,
        }
    }

    /// abt's columns per invocation (BC in matmul.wgsl; the tiled kernels ignore it).
    pub fn abt_cols(self) -> u32 {
        if self == MatmulKernel::Blocked16 { 16 } else { 8 }
    }

    /// (rows, columns) of the output one workgroup covers in `abt` (`ab` and `atb`: square).
    pub fn tile(self, abt: bool) -> (u32, u32) {
        if self.tiled() {
            let t = self.workgroup_side() * TILED_BLOCK;
            (t, t)
        } else {
            (MATMUL_TILE, if abt { MATMUL_WG * self.abt_cols() } else { MATMUL_TILE })
        }
    }

    /// Bytes of workgroup memory an entry point may use: every slab the module declares.
    pub fn workgroup_bytes(self) -> u32 {
        if self.tiled() { 4 * 4 * self.tile(false).0 * TILED_STEPS } else { 0 }
    }

    /// Whether the adapter's limits admit the variant (invocations, sides, workgroup memory).
    pub fn fits(self, lim: &wgpu::Limits) -> bool {
        let side = self.workgroup_side();
        side * side <= lim.max_compute_invocations_per_workgroup
            && side <= lim.max_compute_workgroup_size_x
            && side <= lim.max_compute_workgroup_size_y
            && self.workgroup_bytes() <= lim.max_compute_workgroup_storage_size
    }
}

/// Elements per invocation of `update`, as quads strided by the workgroup so neighbouring
/// invocations touch neighbouring quads; the record is read once per invocation.
pub const UPDATE_PER: u32 = 32;
/// Invocations per workgroup of `update`.
pub const UPDATE_WG: u32 = 256;

/// Invocations per workgroup of `sum_final` (one workgroup per job, a fixed tree over them).
pub const REDUCE_WG: u32 = 256;
/// Invocations (units) per workgroup of `unit_stats`.
pub const UNIT_STATS_WG: u32 = 64;
