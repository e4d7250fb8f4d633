//! Host side of shaders/optimizer.wgsl (CPU twin: src/cpu/optimizer.rs): one fused update
//! dispatch per parameter tensor, its constants in a per-(step, tensor) uniform record.

use super::pipeline::{bind_group, f, grid_1d, layout, module, pipeline, Dispatch, Res, Slot};
use super::shaders::Module;
use crate::cpu::optimizer::UpdateParams;
use crate::optim::OptimizerKind;

/// The `Update` record for one tensor at one step: UpdateParams's constants rounded to f32
/// exactly where the CPU engine rounds them (`T::from_f64_lossy` of the same f64 expressions).
pub fn update_record(u: &UpdateParams, off: u32, len: u32) -> [u32; 16] {
    let c = |x: f64| f(x as f32);
    let mut flags = 0;
    if u.nesterov {
        flags |= 1;
    }
    if u.l1_proximal && u.l1 > 0.0 {
        flags |= 2;
    }
    if u.weight_decay != 0.0 {
        flags |= 4;
    }
    if u.kind == OptimizerKind::Rmsprop && u.momentum > 0.0 {
        flags |= 8;
    }
    let l1_sub = if u.l1_proximal { 0.0 } else { u.l1 };
    // the CPU computes decay as T::one() − c(lr·wd): the subtraction happens in f32
    let decay = 1.0f32 - (u.lr * u.weight_decay) as f32;
    [
        off, len, u.kind.code(), flags,
        c(u.lr), c(u.momentum), c(u.eps), c(u.l2),
        c(l1_sub), c(u.lr * u.l1), f(decay), c(u.rho),
        c(u.beta1), c(u.beta2), c(u.lr / u.bias_correction1), c(u.bias_correction2.sqrt()),
    ]
}

pub struct OptimizerBuffers<'a> {
    pub step: &'a wgpu::Buffer,
    pub params: &'a wgpu::Buffer,
    pub grads: &'a wgpu::Buffer,
    pub slot0: &'a wgpu::Buffer,
    pub slot1: &'a wgpu::Buffer,
}

pub struct OptimizerKernel {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

impl OptimizerKernel {
    pub fn new(dev: &wgpu::Device) -> Self {
        use Slot::*;
        let layout = layout(dev, "optimizer", &[Step, ReadWrite, Read, ReadWrite, ReadWrite]);
        let pipeline = pipeline(dev, &layout, &module(dev, Module::Optimizer), "update");
        OptimizerKernel { layout, pipeline }
    }

    /// The update of a tensor of `len` elements whose record is `record` of each step.
    pub fn dispatch(&self, dev: &wgpu::Device, len: u32, record: u32, max_dim: u32, b: &OptimizerBuffers) -> Dispatch {
        let bg = bind_group(
            dev,
            &self.layout,
            "optimizer",
            &[Res::Step(b.step), Res::Buf(b.params), Res::Buf(b.grads), Res::Buf(b.slot0), Res::Buf(b.slot1)],
        );
        Dispatch { label: "update", pipeline: self.pipeline.clone(), bind_group: bg, record, grid: grid_1d(len, 256 * 8, max_dim) }
    }
}
