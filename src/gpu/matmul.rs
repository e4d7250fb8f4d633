//! Host side of shaders/matmul.wgsl (CPU twins: src/cpu/matmul.rs, src/cpu/activation.rs).
//! Builds the three forms' dispatches; the vec4 module is used whenever K % 4 == 0, and the one
//! that also reads dz as vec4 for ab and atb when N % 4 == 0 too.

use crate::error::Result;
use super::pipeline::{bind_group, layout, module, pipeline, Dispatch, Grid, Res, Slot};
use super::records::{self, words};
use super::shaders::Module;
use std::sync::OnceLock;

pub use super::consts::{ABT_COLS, ABT_COLS_WIDE, MATMUL_BLOCK, MATMUL_TILE, MATMUL_WG};

/// Which of matmul.wgsl's three entry points a dispatch runs (`abt`, `ab`, `atb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// h (M, N) = act(x (M, K) · w (N, K)ᵀ + b)
    Abt,
    /// da (M, K) = dz (M, N) · w (N, K), times mask/p and act'(h)
    Ab,
    /// dw (N, K) = dz (M, N)ᵀ · x (M, K), and db (N) = column sums of dz at `b_off`
    Atb,
}

/// What a matmul dispatch computes; `record()` makes matmul.wgsl's MatmulDims of it.
#[derive(Clone, Copy, Debug, Default)]
pub struct MatmulDims {
    /// N: the layer's outputs (rows of w: (N, K))
    pub n: u32,
    /// K: the layer's inputs (columns of w and x)
    pub k: u32,
    /// float offset of w: (N, K) in the flat parameter buffer (abt, ab)
    pub w_off: u32,
    /// float offset of b: (N) in params (abt), or of db in the gradient buffer (atb)
    pub b_off: u32,
    /// activation code (`Activation::code`); abt applies it, ab its derivative
    pub act: u32,
    /// leaky ReLU's negative slope
    pub slope: f32,
    /// layer index, a dropout-mask counter input
    pub layer: u32,
    /// the run's RNG key for the dropout mask
    pub key: u32,
    /// keep probability < 1: apply dropout (abt: also write the dropped copy into `aux`)
    pub keep: f32,
}

impl MatmulDims {
    fn record(&self) -> records::MatmulDims {
        let drop = self.keep < 1.0;
        let inv_keep = if drop { 1.0 / self.keep } else { 1.0 };
        records::MatmulDims {
            n: self.n,
            k: self.k,
            w_off: self.w_off,
            b_off: self.b_off,
            act: self.act,
            slope: self.slope,
            layer: self.layer,
            key: self.key,
            drop: drop as u32,
            keep: self.keep,
            inv_keep,
            _p0: 0,
        }
    }
}

/// Buffers of one matmul dispatch, in binding order (unused ones get the engine's dummies).
pub struct MatmulBuffers<'a> {
    /// the step records (binding 0, dynamic offset; `rows` is M)
    pub step: &'a wgpu::Buffer,
    /// the flat parameter buffer (w, b)
    pub params: &'a wgpu::Buffer,
    /// the layer input x (abt, atb)
    pub x: &'a wgpu::Buffer,
    /// dz (ab, atb)
    pub dz: &'a wgpu::Buffer,
    /// h / da / dw
    pub out: &'a wgpu::Buffer,
    /// abt: the dropped copy of h; ab: h of the layer below
    pub aux: &'a wgpu::Buffer,
}

/// matmul.wgsl's pipelines (scalar, vec4, vec4-dz, wide-abt variants × three forms), built lazily.
pub struct MatmulKernels {
    layout: wgpu::BindGroupLayout,
    /// [scalar, vec4, vec4 with vec4 dz, vec4 with 16-column abt] × [abt, ab, atb], each built
    /// on first use: a software adapter compiles a pipeline in up to a second, and a network
    /// uses few of them.
    pipelines: [[OnceLock<wgpu::ComputePipeline>; 3]; 4],
    modules: [wgpu::ShaderModule; 4],
}

const VARIANTS: [Module; 4] = [Module::MatmulScalar, Module::MatmulVec4, Module::MatmulVec4Dz4, Module::MatmulVec4Wide];
const ENTRIES: [&str; 3] = ["abt", "ab", "atb"];

/// Layers with at least this many outputs take the 16-column abt (vec4 operands only): on
/// narrower layers half its invocations would idle (benches/NOTES.md has the measurements).
const WIDE_MIN_N: u32 = 128;

impl MatmulKernels {
    /// The shared bind-group layout and every variant's module (validated here, so a shader
    /// error surfaces at construction); pipelines, the backend's compile, are built on first use.
    pub fn new(dev: &wgpu::Device) -> Result<Self> {
        use Slot::*;
        let layout = layout(dev, "matmul", &[Step, Dims, Read, Read, Read, ReadWrite, ReadWrite]);
        let [a, b, c, d] = VARIANTS;
        let modules = [module(dev, a)?, module(dev, b)?, module(dev, c)?, module(dev, d)?];
        Ok(MatmulKernels { layout, pipelines: Default::default(), modules })
    }

    fn pipeline(&self, dev: &wgpu::Device, variant: usize, form: usize) -> wgpu::ComputePipeline {
        self.pipelines[variant][form]
            .get_or_init(|| {
                pipeline(dev, &self.layout, &self.modules[variant], ENTRIES[form])
            })
            .clone()
    }

    /// One `form` dispatch with shapes M = the step's rows, N = `dims.n`, K = `dims.k` (see
    /// `Form`); picks the vec4 module when K % 4 == 0 (and vec4 dz when N % 4 == 0 too).
    pub fn dispatch(&self, dev: &wgpu::Device, form: Form, dims: &MatmulDims, b: &MatmulBuffers) -> Dispatch {
        // dz as vec4 only matters to ab and atb (abt reads none), the block width only to abt
        let (vec4, dz4) = (dims.k % 4 == 0, dims.n % 4 == 0 && form != Form::Abt);
        let wide = form == Form::Abt && vec4 && dims.n >= WIDE_MIN_N;
        let variant = if wide { 3 } else if !vec4 { 0 } else if !dz4 { 1 } else { 2 };
        let (i, grid) = match form {
            Form::Abt => {
                let cols = MATMUL_WG * if wide { ABT_COLS_WIDE } else { ABT_COLS };
                (0, Grid::Rows { x: dims.n.div_ceil(cols), rows_per_group: MATMUL_TILE })
            }
            Form::Ab => (1, Grid::Rows { x: dims.k.div_ceil(MATMUL_TILE), rows_per_group: MATMUL_TILE }),
            Form::Atb => (2, Grid::Fixed(dims.k.div_ceil(MATMUL_TILE), dims.n.div_ceil(MATMUL_TILE), 1)),
        };
        let rec = dims.record();
        let bg = bind_group(
            dev,
            &self.layout,
            "matmul",
            &[Res::Step(b.step), Res::Dims(words(&rec)), Res::Buf(b.params), Res::Buf(b.x), Res::Buf(b.dz), Res::Buf(b.out), Res::Buf(b.aux)],
        );
        Dispatch { label: ENTRIES[i], pipeline: self.pipeline(dev, variant, i), bind_group: bg, record: 0, grid }
    }
}
