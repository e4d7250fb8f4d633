//! Host side of shaders/gather.wgsl (CPU twin: src/cpu/gather.rs): batch rows by index from
//! the resident dataset, and the dataset's upload format.

use crate::error::Result;
use super::pipeline::{bind_group, layout, module, pipeline, Dispatch, Grid, Res, Slot};
use super::records::{self, words};
use super::shaders::Module;
use crate::data::{Augment, Dataset, Features, Targets};

pub use super::consts::{GATHER_WG_X, GATHER_WG_Y};

/// What a gather dispatch does; `dispatch` makes gather.wgsl's GatherDims of it.
#[derive(Clone, Copy, Debug, Default)]
pub struct GatherDims {
    /// features per row (IN); x: (B, dim)
    pub dim: u32,
    /// features are u8 pixels (packed 4 per word), else f32
    pub is_u8: bool,
    /// target words per row: 1 for labels, K for value rows, 0 to skip targets
    pub tw: u32,
    /// row b reads dataset row `perm[offset + b]` (training), else row `offset + b` (evaluation)
    pub use_perm: bool,
    /// input dropout keep probability; below 1 the dispatch also writes `dropped`
    pub keep: f32,
    /// the run's RNG key (dropout mask, augmentation draws)
    pub key: u32,
    /// training-batch augmentation of u8 images of shape (H, W) (H·W = dim), as
    /// src/cpu/augment.rs computes it; None or the identity: plain gather
    pub augment: Option<(Augment, (u32, u32))>,
}

/// The buffers gather.wgsl binds, in binding order after the dims.
pub struct GatherBuffers<'a> {
    /// the step records (binding 0, dynamic offset)
    pub step: &'a wgpu::Buffer,
    /// the epoch's row permutation (u32 per row)
    pub perm: &'a wgpu::Buffer,
    /// the resident dataset's features, as `feature_bytes` lays them out
    pub features: &'a wgpu::Buffer,
    /// the resident dataset's targets, as `target_words` lays them out
    pub targets_src: &'a wgpu::Buffer,
    /// out: the batch x: (B, dim) f32
    pub x: &'a wgpu::Buffer,
    /// out: x after input dropout, (B, dim) (written only when keep < 1)
    pub dropped: &'a wgpu::Buffer,
    /// out: the batch's targets, (B, tw) words
    pub targets: &'a wgpu::Buffer,
}

/// The gather pipelines (`gather`, and `gather_u8x4` for packed u8 rows) and their layout.
pub struct GatherKernel {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
    /// four u8 pixels per invocation (dim % 4 == 0, no augmentation)
    packed: wgpu::ComputePipeline,
}

impl GatherKernel {
    /// Builds both gather pipelines on `dev`.
    pub fn new(dev: &wgpu::Device) -> Result<Self> {
        use Slot::*;
        let layout = layout(dev, "gather", &[Step, Dims, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite]);
        let m = module(dev, Module::Gather)?;
        let (general, packed) = (pipeline(dev, &layout, &m, "gather"), pipeline(dev, &layout, &m, "gather_u8x4"));
        Ok(GatherKernel { layout, pipeline: general, packed })
    }

    /// x: (B, dim), targets: (B, tw) from dataset rows chosen by the step's offset (and perm);
    /// picks `gather_u8x4` for u8 rows with dim % 4 == 0 and no augmentation. Panics if
    /// augmentation is asked of non-u8 data or an image shape whose H·W is not dim.
    pub fn dispatch(&self, dev: &wgpu::Device, d: &GatherDims, b: &GatherBuffers) -> Dispatch {
        let drop = d.keep < 1.0;
        let inv = if drop { 1.0 / d.keep } else { 1.0 };
        let (aug, (ih, iw)) = match d.augment {
            Some((a, shape)) if !a.is_identity() => {
                assert!(d.is_u8 && shape.0 * shape.1 == d.dim, "augmentation needs u8 images of dim H·W");
                (a, shape)
            }
            _ => (Augment::default(), (0, 0)),
        };
        let rec = records::GatherDims {
            dim: d.dim,
            is_u8: d.is_u8 as u32,
            tw: d.tw,
            use_perm: d.use_perm as u32,
            drop: drop as u32,
            keep: d.keep,
            inv_keep: inv,
            key: d.key,
            aug: !aug.is_identity() as u32,
            shift: aug.shift,
            hflip: aug.hflip as u32,
            noise: aug.noise,
            rotate: aug.rotate,
            img_h: ih,
            img_w: iw,
            _p0: 0,
        };
        let bg = bind_group(
            dev,
            &self.layout,
            "gather",
            &[Res::Step(b.step), Res::Dims(words(&rec)), Res::Buf(b.perm), Res::Buf(b.features), Res::Buf(b.targets_src),
              Res::Buf(b.x), Res::Buf(b.dropped), Res::Buf(b.targets)],
        );
        // where every storage load costs a per-lane loop (lavapipe), a word of four pixels per
        // invocation saves three loads in four
        let packed = d.is_u8 && d.dim % 4 == 0 && aug.is_identity();
        let (pipeline, cols) = if packed { (&self.packed, (d.dim / 4).max(d.tw)) } else { (&self.pipeline, d.dim.max(d.tw)) };
        Dispatch { label: "gather", pipeline: pipeline.clone(), bind_group: bg, record: 0, grid: Grid::Rows { x: cols.div_ceil(GATHER_WG_X), rows_per_group: GATHER_WG_Y } }
    }
}

/// Features as the shader reads them: u8 (read packed 4 per little-endian u32) or f32, as bytes:
/// the host layout already is the device layout, so the upload copies nothing first.
pub fn feature_bytes(data: &Dataset) -> &[u8] {
    match &data.features {
        Features::U8(v) => v,
        Features::F32(v) => bytemuck::cast_slice(v),
    }
}

/// Targets as 32-bit words (labels, or f32 bits of value rows) and words per row.
pub fn target_words(data: &Dataset) -> (Vec<u32>, u32) {
    match &data.targets {
        Targets::Classes { labels, .. } => (labels.clone(), 1),
        Targets::Values { data: v, dim } => (v.iter().map(|x| x.to_bits()).collect(), *dim as u32),
    }
}
