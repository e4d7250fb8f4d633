//! Host side of shaders/optimizer.wgsl (CPU twin: src/cpu/optimizer.rs): one fused update
//! dispatch for every parameter tensor of a step (one dispatch instead of one per tensor, and the
//! gradient-norm partials come out of the same pass), each tensor's constants in a per-(step,
//! tensor) record of the step's record block.

use crate::error::Result;
use super::pipeline::{bind_group, grid_1d, layout, module, pipeline, Dispatch, Res, Slot};
use super::records::{words, Update, UpdateDims, UpdateRecord, CLIP_HEAD, FLAG_CLIP, FLAG_DECAY, FLAG_NESTEROV, FLAG_PROXIMAL, FLAG_RMS_MOMENTUM, NO_NORM};
use super::shaders::Module;
use crate::optim::{OptimizerKind, UpdateParams};

pub use super::consts::{UPDATE_PER, UPDATE_WG};

/// Where one tensor sits in the fused update: its workgroups and, for weight tensors, where its
/// partial triples (one per invocation) go in the partials buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorGrid {
    /// float offset of the tensor in params / grads / slots (a multiple of 4)
    pub off: u32,
    /// floats in the tensor
    pub len: u32,
    /// first workgroup of the fused dispatch that updates it
    pub wg_first: u32,
    /// one past its last workgroup
    pub wg_end: u32,
    /// float offset of the partial triples (None: no norm, e.g. biases)
    pub norm_out: Option<u32>,
}

impl TensorGrid {
    /// Partial triples this tensor writes (one per invocation of its workgroups).
    pub fn partials(&self) -> u32 {
        (self.wg_end - self.wg_first) * UPDATE_WG
    }
}

/// Lays out tensors (offset, length, with norm?) in order: consecutive workgroup ranges and
/// consecutive partial blocks. Returns the grids and the partial floats they use.
pub fn tensor_grids(tensors: &[(u32, u32, bool)]) -> (Vec<TensorGrid>, u32) {
    let (mut wg, mut at) = (0u32, 0u32);
    let mut out = Vec::with_capacity(tensors.len());
    for &(off, len, norm) in tensors {
        let groups = len.div_ceil(UPDATE_WG * UPDATE_PER).max(1);
        let g = TensorGrid { off, len, wg_first: wg, wg_end: wg + groups, norm_out: norm.then_some(at) };
        if norm {
            at += 3 * g.partials();
        }
        wg += groups;
        out.push(g);
    }
    (out, at)
}

/// The record for one tensor at one step: UpdateParams's constants rounded to f32 exactly where
/// the CPU engine rounds them (`T::from_f64_lossy` of the same f64 expressions), then its grid.
/// `clip`: the gradient is scaled by the step's clip factor, which the device computes
/// (`u.grad_scale` is the CPU's and is not read here).
pub fn update_record(u: &UpdateParams, t: &TensorGrid, clip: bool) -> UpdateRecord {
    let c = |x: f64| x as f32;
    let mut flags = 0;
    if clip {
        flags |= FLAG_CLIP;
    }
    if u.nesterov {
        flags |= FLAG_NESTEROV;
    }
    if u.l1_proximal && u.l1 > 0.0 {
        flags |= FLAG_PROXIMAL;
    }
    if u.weight_decay != 0.0 {
        flags |= FLAG_DECAY;
    }
    if u.kind == OptimizerKind::Rmsprop && u.momentum > 0.0 {
        flags |= FLAG_RMS_MOMENTUM;
    }
    let l1_sub = if u.l1_proximal { 0.0 } else { u.l1 };
    // the CPU computes decay as T::one() − c(lr·wd): the subtraction happens in f32
    let decay = 1.0f32 - (u.lr * u.weight_decay) as f32;
    UpdateRecord {
        u: Update {
            off: t.off,
            len: t.len,
            kind: u.kind.code(),
            flags,
            lr: c(u.lr),
            mu: c(u.momentum),
            eps: c(u.eps),
            l2: c(u.l2),
            l1_sub: c(l1_sub),
            shrink: c(u.lr * u.l1),
            decay,
            rho: c(u.rho),
            b1: c(u.beta1),
            b2: c(u.beta2),
            lr_bc1: c(u.lr / u.bias_correction1),
            sqrt_bc2: c(u.bias_correction2.sqrt()),
        },
        wg_first: t.wg_first,
        wg_end: t.wg_end,
        norm_out: t.norm_out.unwrap_or(NO_NORM),
        ..Default::default()
    }
}

/// The buffers optimizer.wgsl binds, in binding order after the dims.
pub struct OptimizerBuffers<'a> {
    /// the step records: record 0 the Step, 1 + t tensor t's record
    pub step: &'a wgpu::Buffer,
    /// the flat parameters w, updated in place
    pub params: &'a wgpu::Buffer,
    /// the gradients g, the same layout (read only)
    pub grads: &'a wgpu::Buffer,
    /// optimizer state slot 0 (the velocity of momentum and Nesterov, Adam's m, RMSprop's square average s), updated in place
    pub slot0: &'a wgpu::Buffer,
    /// optimizer state slot 1 (Adam's v, RMSprop's velocity when it has momentum), updated in place
    pub slot1: &'a wgpu::Buffer,
    /// the norm partial triples of weight tensors
    pub partials: &'a wgpu::Buffer,
    /// --clip-norm's factor, norm and Σg² partials (`clip_floats`; a dummy without clipping)
    pub clip: &'a wgpu::Buffer,
}

/// Floats of the clip buffer for tensors laid out as `grids`: the head, then one partial per
/// invocation of the fused grid.
pub fn clip_floats(grids: &[TensorGrid]) -> u32 {
    CLIP_HEAD + grids.last().map_or(0, |g| g.wg_end) * UPDATE_WG
}

/// The fused update pipeline (optimizer.wgsl `update`; CPU twin src/cpu/optimizer.rs).
pub struct OptimizerKernel {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
    clip_partials: wgpu::ComputePipeline,
    clip_scale: wgpu::ComputePipeline,
}

impl OptimizerKernel {
    /// Builds the update pipeline on `dev`.
    pub fn new(dev: &wgpu::Device) -> Result<Self> {
        use Slot::*;
        let layout = layout(dev, "optimizer", &[Step, Dims, ReadWrite, Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite]);
        let m = module(dev, Module::Optimizer)?;
        Ok(OptimizerKernel {
            pipeline: pipeline(dev, &layout, &m, "update"),
            clip_partials: pipeline(dev, &layout, &m, "clip_partials"),
            clip_scale: pipeline(dev, &layout, &m, "clip_scale"),
            layout,
        })
    }

    /// The update of every tensor in `grids` (laid out by `tensor_grids`), whose records are
    /// 1 ..= grids.len() of each step; with `clip_norm`, first the gradient's global norm and
    /// the clip factor (the records then carry `FLAG_CLIP`).
    pub fn dispatches(&self, dev: &wgpu::Device, grids: &[TensorGrid], max_dim: u32, clip_norm: Option<f32>, b: &OptimizerBuffers) -> Vec<Dispatch> {
        let tensors = grids.len() as u32;
        let groups = grids.last().map_or(0, |g| g.wg_end);
        let dims = UpdateDims { tensors, clip_count: groups * UPDATE_WG, max_norm: clip_norm.unwrap_or(0.0), ..Default::default() };
        let bg = bind_group(
            dev,
            &self.layout,
            "optimizer",
            &[Res::Records(b.step, 1 + tensors), Res::Dims(words(&dims)), Res::Buf(b.params), Res::Buf(b.grads),
              Res::Buf(b.slot0), Res::Buf(b.slot1), Res::Buf(b.partials), Res::Buf(b.clip)],
        );
        let grid = grid_1d(groups, 1, max_dim);
        let d = |label, p: &wgpu::ComputePipeline, grid| Dispatch { label, pipeline: p.clone(), bind_group: bg.clone(), record: 0, grid };
        let mut out = Vec::new();
        if clip_norm.is_some() {
            out.push(d("clip_partials", &self.clip_partials, grid));
            out.push(d("clip_scale", &self.clip_scale, super::pipeline::Grid::Fixed(1, 1, 1)));
        }
        out.push(d("update", &self.pipeline, grid));
        out
    }
}
