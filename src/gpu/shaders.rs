//! Every WGSL source, in one place. A module is `common.wgsl` + (for matmul, preludes that
//! declare the K-contiguous operands and dz as vec4 or scalar arrays, and abt's block width) +
//! the family's file.

pub const COMMON: &str = include_str!("../../shaders/common.wgsl");
pub const MATMUL: &str = include_str!("../../shaders/matmul.wgsl");
pub const GATHER: &str = include_str!("../../shaders/gather.wgsl");
pub const LOSS: &str = include_str!("../../shaders/loss.wgsl");
pub const REDUCE: &str = include_str!("../../shaders/reduce.wgsl");
pub const OPTIMIZER: &str = include_str!("../../shaders/optimizer.wgsl");

/// Operands read along K as real vec4 loads: valid when K % 4 == 0 (tensor offsets are multiples
/// of 4 by ParamLayout, activation buffers start at 0).
const MATMUL_VEC4: &str = "
@group(0) @binding(2) var<storage, read> p4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> x4: array<vec4<f32>>;
fn ld4p(i: u32) -> vec4<f32> { return p4[i >> 2u]; }
fn ld4x(i: u32) -> vec4<f32> { return x4[i >> 2u]; }
fn ld1p(i: u32) -> f32 { return p4[i >> 2u][i & 3u]; }
fn ld1x(i: u32) -> f32 { return x4[i >> 2u][i & 3u]; }
";

/// Any K: four scalar loads make the vec4 (reads past a row's end are discarded by the stores).
const MATMUL_SCALAR: &str = "
@group(0) @binding(2) var<storage, read> p4: array<f32>;
@group(0) @binding(3) var<storage, read> x4: array<f32>;
fn ld4p(i: u32) -> vec4<f32> { return vec4<f32>(p4[i], p4[i + 1u], p4[i + 2u], p4[i + 3u]); }
fn ld4x(i: u32) -> vec4<f32> { return vec4<f32>(x4[i], x4[i + 1u], x4[i + 2u], x4[i + 3u]); }
fn ld1p(i: u32) -> f32 { return p4[i]; }
fn ld1x(i: u32) -> f32 { return x4[i]; }
";

/// dz (M, N) read a float at a time (any N).
const DZ_SCALAR: &str = "
const DZ4: bool = false;
@group(0) @binding(4) var<storage, read> s1: array<f32>;
fn ld1z(i: u32) -> f32 { return s1[i]; }
fn ld4z(i: u32) -> vec4<f32> { return vec4<f32>(s1[i], s1[i + 1u], s1[i + 2u], s1[i + 3u]); }
";

/// dz (M, N) as vec4 when N % 4 == 0: ab reads four steps of its N loop at once, atb the eight dz
/// values of a row as two loads (on lavapipe 2.5× fewer loads per multiply-add).
const DZ_VEC4: &str = "
const DZ4: bool = true;
@group(0) @binding(4) var<storage, read> s14: array<vec4<f32>>;
fn ld1z(i: u32) -> f32 { return s14[i >> 2u][i & 3u]; }
fn ld4z(i: u32) -> vec4<f32> { return s14[i >> 2u]; }
";

/// abt's columns per invocation: 8 (every layer) or 16 (layers of at least WIDE_MIN_N outputs:
/// fewer loads per product, but a 64-wide layer would leave half the invocations idle).
const ABT_NARROW: &str = "const BC: u32 = 8u;";
const ABT_WIDE: &str = "const BC: u32 = 16u;";

/// The kernel families, as modules are built from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Module {
    /// K % 4 == 0 and a wide layer: abt with 16 columns per invocation
    MatmulVec4Wide,
    /// K % 4 == 0 and N % 4 == 0: x, w and dz as vec4
    MatmulVec4Dz4,
    /// K % 4 == 0
    MatmulVec4,
    MatmulScalar,
    Gather,
    Loss,
    Reduce,
    Optimizer,
}

impl Module {
    pub const ALL: [Module; 8] = [
        Module::MatmulVec4Wide,
        Module::MatmulVec4Dz4,
        Module::MatmulVec4,
        Module::MatmulScalar,
        Module::Gather,
        Module::Loss,
        Module::Reduce,
        Module::Optimizer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Module::MatmulVec4Wide => "matmul (vec4, 16-column abt)",
            Module::MatmulVec4Dz4 => "matmul (vec4, vec4 dz)",
            Module::MatmulVec4 => "matmul (vec4)",
            Module::MatmulScalar => "matmul (scalar)",
            Module::Gather => "gather",
            Module::Loss => "loss",
            Module::Reduce => "reduce",
            Module::Optimizer => "optimizer",
        }
    }

    /// The full WGSL text of the module.
    pub fn source(self) -> String {
        let parts: [&str; 4] = match self {
            Module::MatmulVec4Wide => [MATMUL_VEC4, DZ_SCALAR, ABT_WIDE, MATMUL],
            Module::MatmulVec4Dz4 => [MATMUL_VEC4, DZ_VEC4, ABT_NARROW, MATMUL],
            Module::MatmulVec4 => [MATMUL_VEC4, DZ_SCALAR, ABT_NARROW, MATMUL],
            Module::MatmulScalar => [MATMUL_SCALAR, DZ_SCALAR, ABT_NARROW, MATMUL],
            Module::Gather => ["", "", "", GATHER],
            Module::Loss => ["", "", "", LOSS],
            Module::Reduce => ["", "", "", REDUCE],
            Module::Optimizer => ["", "", "", OPTIMIZER],
        };
        format!("{COMMON}\n{}\n{}\n{}\n{}", parts[0], parts[1], parts[2], parts[3])
    }

    /// Whether every index the module computes is in bounds by construction, so the module may be
    /// created without runtime checks. The vec4 matmul: rows are clamped to `rows − 1` and
    /// `n − 1` before loading, K-loops stop at K (multiples of 4, as are the tensor offsets), the
    /// second column quad is clamped inside the row, and stores are guarded; the launchers bind
    /// activation buffers of at least `rows` rows and tensors inside the flat buffers. The scalar
    /// variant reads up to 3 floats past a row's end, so it keeps the checks. With vec4 dz
    /// (N % 4 == 0): ab's quads of its N loop and atb's row quads (the second clamped inside the
    /// row, as the column quad is) lie inside a row of dz, and rows are clamped. The wide abt
    /// clamps all 16 columns as the narrow one clamps 8.
    pub fn proven_in_bounds(self) -> bool {
        matches!(self, Module::MatmulVec4 | Module::MatmulVec4Dz4 | Module::MatmulVec4Wide)
    }

    /// Entry points the module must provide.
    pub fn entry_points(self) -> &'static [&'static str] {
        match self {
            Module::MatmulVec4Wide | Module::MatmulVec4Dz4 | Module::MatmulVec4 | Module::MatmulScalar => &["abt", "ab", "atb"],
            Module::Gather => &["gather", "gather_u8x4"],
            Module::Loss => &["loss"],
            Module::Reduce => &["sum_final", "unit_stats"],
            Module::Optimizer => &["update"],
        }
    }
}
