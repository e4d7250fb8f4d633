//! Host side of shaders/matmul.wgsl and shaders/matmul_tiled.wgsl (CPU twins: src/cpu/matmul.rs,
//! src/cpu/activation.rs). Builds the three forms' dispatches of a chosen kernel variant (the
//! tuner, src/gpu/tune.rs, chooses); the vec4 loads are used whenever K % 4 == 0, and vec4 dz for
//! ab and atb when N % 4 == 0 too.

use crate::error::Result;
use super::pipeline::{bind_group, layout, module, pipeline, Dispatch, Grid, Res, Slot};
use super::records::{self, words};
use super::shaders::Module;
use std::sync::OnceLock;

pub use super::consts::{Loads, MatmulKernel, MATMUL_BLOCK, MATMUL_TILE, MATMUL_WG, TILED_BLOCK, TILED_STEPS};

/// Which of matmul.wgsl's three entry points a dispatch runs (`abt`, `ab`, `atb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

/// The pipelines of every (kernel variant, loads) module × three forms, built lazily.
pub struct MatmulKernels {
    layout: wgpu::BindGroupLayout,
    /// indexed by `slot(kernel, loads)` × form, each built on first use: a software adapter
    /// compiles a pipeline in up to a second, and a network uses few of them.
    pipelines: Vec<[OnceLock<wgpu::ComputePipeline>; 3]>,
    modules: Vec<wgpu::ShaderModule>,
}

const ENTRIES: [&str; 3] = ["abt", "ab", "atb"];

/// Layers with at least this many outputs take the 16-column abt when tuning is off (vec4
/// operands only): on narrower layers half its invocations would idle (benches/NOTES.md).
const WIDE_MIN_N: u32 = 128;

fn slot(kernel: MatmulKernel, loads: Loads) -> usize {
    let k = MatmulKernel::ALL.iter().position(|&x| x == kernel).unwrap_or(0);
    let l = Loads::ALL.iter().position(|&x| x == loads).unwrap_or(0);
    k * Loads::ALL.len() + l
}

impl Form {
    /// Every form, in entry-point order.
    pub const ALL: [Form; 3] = [Form::Abt, Form::Ab, Form::Atb];

    /// The entry point's name (`abt`, `ab`, `atb`), as listings and the tuning cache say it.
    pub fn name(self) -> &'static str {
        ENTRIES[self as usize]
    }

    /// The form of an entry point's name.
    pub fn parse(name: &str) -> Option<Form> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The variants worth timing for this form on an adapter with `limits`: Blocked16 differs
    /// from Blocked8 only in abt, and a tiled variant must fit the workgroup limits.
    pub fn candidates(self, limits: &wgpu::Limits) -> Vec<MatmulKernel> {
        MatmulKernel::ALL
            .into_iter()
            .filter(|&k| (self == Form::Abt || k != MatmulKernel::Blocked16) && k.fits(limits))
            .collect()
    }

    /// The hand-picked variant used when tuning is off: the register-blocked kernel, with 16
    /// abt columns on layers of at least WIDE_MIN_N outputs and K % 4 == 0.
    pub fn untuned(self, n: u32, k: u32) -> MatmulKernel {
        if self == Form::Abt && k % 4 == 0 && n >= WIDE_MIN_N { MatmulKernel::Blocked16 } else { MatmulKernel::Blocked8 }
    }

    /// Multiply-adds × 2 of one dispatch at M rows.
    pub fn flops(m: u32, n: u32, k: u32) -> f64 {
        2.0 * m as f64 * n as f64 * k as f64
    }
}

impl MatmulKernels {
    /// The shared bind-group layout and every module (validated here, so a shader error surfaces
    /// at construction); pipelines, the backend's compile, are built on first use.
    pub fn new(dev: &wgpu::Device) -> Result<Self> {
        use Slot::*;
        let layout = layout(dev, "matmul", &[Step, Dims, Read, Read, Read, ReadWrite, ReadWrite]);
        let mut modules = Vec::new();
        for kernel in MatmulKernel::ALL {
            for loads in Loads::ALL {
                debug_assert_eq!(slot(kernel, loads), modules.len());
                modules.push(module(dev, Module::Matmul(kernel, loads))?);
            }
        }
        let pipelines = (0..modules.len()).map(|_| Default::default()).collect();
        Ok(MatmulKernels { layout, pipelines, modules })
    }

    fn pipeline(&self, dev: &wgpu::Device, at: usize, form: Form) -> wgpu::ComputePipeline {
        self.pipelines[at][form as usize]
            .get_or_init(|| pipeline(dev, &self.layout, &self.modules[at], form.name()))
            .clone()
    }

    /// One `form` dispatch of `kernel` with shapes M = the step's rows, N = `dims.n`, K =
    /// `dims.k` (see `Form`); the loads follow the shape (`Loads::for_shape`).
    pub fn dispatch(&self, dev: &wgpu::Device, form: Form, kernel: MatmulKernel, dims: &MatmulDims, b: &MatmulBuffers) -> Dispatch {
        // ab and atb have one blocked kernel: BC is abt's alone
        let kernel = if form != Form::Abt && kernel == MatmulKernel::Blocked16 { MatmulKernel::Blocked8 } else { kernel };
        let loads = Loads::for_shape(form != Form::Abt, dims.n, dims.k);
        let (rows, cols) = kernel.tile(form == Form::Abt);
        let grid = match form {
            Form::Abt => Grid::Rows { x: dims.n.div_ceil(cols), rows_per_group: rows },
            Form::Ab => Grid::Rows { x: dims.k.div_ceil(cols), rows_per_group: rows },
            Form::Atb => Grid::Fixed(dims.k.div_ceil(cols), dims.n.div_ceil(rows), 1),
        };
        let rec = dims.record();
        let bg = bind_group(
            dev,
            &self.layout,
            "matmul",
            &[Res::Step(b.step), Res::Dims(words(&rec)), Res::Buf(b.params), Res::Buf(b.x), Res::Buf(b.dz), Res::Buf(b.out), Res::Buf(b.aux)],
        );
        Dispatch { label: form.name(), pipeline: self.pipeline(dev, slot(kernel, loads), form), bind_group: bg, record: 0, grid }
    }
}
