//! Host side of shaders/loss.wgsl (CPU twin: src/cpu/loss.rs).

use crate::error::Result;
use super::pipeline::{bind_group, layout, module, pipeline, Dispatch, Grid, Res, Slot};
use super::records::{words, LossDims};
use super::shaders::Module;
use crate::engine::TrainLoss;
use crate::model::Loss;

pub use super::consts::{LossMode, LOSS_WG};

/// The buffers loss.wgsl binds, in binding order after the dims.
pub struct LossBuffers<'a> {
    /// the step records (binding 0, dynamic offset)
    pub step: &'a wgpu::Buffer,
    /// z: (B, K) output-layer logits
    pub logits: &'a wgpu::Buffer,
    /// the batch's targets: (B) u32 labels or (B, K) f32 values
    pub targets: &'a wgpu::Buffer,
    /// out (MODE_TRAIN): dz: (B, K) = ∂(mean loss)/∂z
    pub dz: &'a wgpu::Buffer,
    /// (B, 2): per-sample loss and correct flag
    pub sample: &'a wgpu::Buffer,
    /// out (MODE_PREDICT): probabilities or values at `probs[(offset + b)·K + k]`
    pub probs: &'a wgpu::Buffer,
    /// (classes) f32 class weights, read when the dispatch is weighted (any buffer otherwise)
    pub class_weight: &'a wgpu::Buffer,
}

/// The loss pipeline (loss.wgsl; CPU twin src/cpu/loss.rs) and its layout.
pub struct LossKernel {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

impl LossKernel {
    /// Builds the loss pipeline on `dev`.
    pub fn new(dev: &wgpu::Device) -> Result<Self> {
        use Slot::*;
        let layout = layout(dev, "loss", &[Step, Dims, Read, Read, ReadWrite, ReadWrite, ReadWrite, Read]);
        let pipeline = pipeline(dev, &layout, &module(dev, Module::Loss)?, "loss");
        Ok(LossKernel { layout, pipeline })
    }

    /// z: (B, K) logits, targets -> sample: (B, 2) (loss, correct), and by `mode` dz: (B, K) or
    /// probs; `labels`: targets are class labels; `k`: outputs K. In training, `tl`'s label
    /// smoothing and class weights (its weights must be in `b.class_weight`).
    #[allow(clippy::too_many_arguments)]
    pub fn dispatch(&self, dev: &wgpu::Device, loss: Loss, k: u32, labels: bool, mode: LossMode, tl: &TrainLoss, b: &LossBuffers) -> Dispatch {
        // ε/K and ε − ε/K in f32, the operations the CPU engine's f32 loss does
        let eps = if mode == LossMode::Train { tl.label_smoothing as f32 } else { 0.0 };
        let kf = k as f32;
        let weighted = mode == LossMode::Train && labels && !tl.class_weight.is_empty();
        let rec = LossDims {
            k, loss: loss.code(), labels: labels as u32, mode: mode as u32,
            smoothing: eps, eps_k: eps / kf, eps_rest: eps - eps / kf, weighted: weighted as u32,
        };
        let bg = bind_group(
            dev,
            &self.layout,
            "loss",
            &[Res::Step(b.step), Res::Dims(words(&rec)), Res::Buf(b.logits), Res::Buf(b.targets), Res::Buf(b.dz),
              Res::Buf(b.sample), Res::Buf(b.probs), Res::Buf(b.class_weight)],
        );
        Dispatch { label: "loss", pipeline: self.pipeline.clone(), bind_group: bg, record: 0, grid: Grid::Rows { x: 1, rows_per_group: LOSS_WG } }
    }
}
