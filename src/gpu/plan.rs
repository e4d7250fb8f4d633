//! The dispatch sequence of one training step and of one evaluation chunk, built once per
//! dataset: the GPU walk of src/cpu/network.rs (forward with dropout, loss, backward) followed
//! by gradient norms, step statistics and the fused optimizer update.

use crate::error::Result;
use super::buffers::Buffers;
use super::context::GpuContext;
use super::gather::{GatherBuffers, GatherDims, GatherKernel};
use super::loss::{LossBuffers, LossKernel, LossMode};
use super::matmul::{Form, MatmulBuffers, MatmulDims, MatmulKernels};
use super::optimizer::{OptimizerBuffers, OptimizerKernel};
use super::pipeline::Dispatch;
use super::reduce::{ReduceBuffers, ReduceKernels};
use super::stats::{self, stats_stride};
use super::tune::Choices;
use crate::engine::{TrainLoss, TrainSetup};
use crate::model::ParamLayout;

/// Every kernel's pipelines, built once per device and shared by all plans.
pub struct Kernels {
    /// matmul.wgsl (abt, ab, atb)
    pub matmul: MatmulKernels,
    /// gather.wgsl
    pub gather: GatherKernel,
    /// loss.wgsl
    pub loss: LossKernel,
    /// reduce.wgsl (sum_final, unit_stats)
    pub reduce: ReduceKernels,
    /// optimizer.wgsl (the fused update)
    pub optimizer: OptimizerKernel,
}

impl Kernels {
    /// Builds every kernel on `dev` (matmul pipelines lazily, on first dispatch).
    pub fn new(dev: &wgpu::Device) -> Result<Self> {
        Ok(Kernels {
            matmul: MatmulKernels::new(dev)?,
            gather: GatherKernel::new(dev)?,
            loss: LossKernel::new(dev)?,
            reduce: ReduceKernels::new(dev)?,
            optimizer: OptimizerKernel::new(dev)?,
        })
    }
}

/// A dataset resident on the device.
pub struct DataBuffers {
    /// the features, as `gather::feature_bytes` lays them out
    pub features: wgpu::Buffer,
    /// the targets, as `gather::target_words` lays them out
    pub targets: wgpu::Buffer,
    /// features are u8 pixels (else f32)
    pub is_u8: bool,
    /// target words per row (1 for labels)
    pub tw: u32,
    /// targets are class labels (else value rows)
    pub labels: bool,
    /// rows in the dataset
    pub len: usize,
    /// training sets only: the batch augmentation and the image shape (H, W) it works on
    pub augment: Option<(crate::data::Augment, (u32, u32))>,
}

/// What building a plan reads: the device, the kernels, the run's buffers and its setup.
pub struct Ctx<'a> {
    /// the device and queue
    pub gpu: &'a GpuContext,
    /// the kernels' pipelines
    pub k: &'a Kernels,
    /// the run's device buffers
    pub b: &'a Buffers,
    /// the network, loss, optimizer and dropout of the run
    pub setup: &'a TrainSetup,
    /// where each layer's w and b sit in the flat parameter buffers
    pub layout: &'a ParamLayout,
    /// the run's RNG key (dropout, augmentation)
    pub key: u32,
    /// the matmul variant of each shape (gpu/tune)
    pub choices: &'a Choices,
    /// rows at which the evaluation plan's forward variants were chosen
    pub eval_rows: u32,
}

impl Ctx<'_> {
    fn dev(&self) -> &wgpu::Device {
        &self.gpu.device
    }

    /// gather + forward through every layer; `train` adds dropout copies and unit statistics.
    fn forward(&self, data: &DataBuffers, perm: &wgpu::Buffer, train: bool, tw: u32, out: &mut Vec<Dispatch>) {
        let (s, b, spec) = (self.setup, self.b, &self.setup.spec);
        let drop0 = if train { s.keep_of(0) } else { 1.0 };
        let gd = GatherDims { dim: spec.inputs() as u32, is_u8: data.is_u8, tw, use_perm: train, keep: drop0, key: self.key,
            augment: if train { data.augment } else { None } };
        let dropped0 = if train { b.dropped[0].as_ref().unwrap_or(&b.dummy_rw) } else { &b.dummy_rw };
        out.push(self.k.gather.dispatch(self.dev(), &gd, &GatherBuffers {
            step: &b.steps, perm, features: &data.features, targets_src: &data.targets, x: &b.h[0], dropped: dropped0, targets: &b.targets,
        }));
        let layers = spec.num_layers();
        for l in 0..layers {
            let slot = self.layout.layers[l];
            let act = spec.activation(l);
            let next_keep = if train && l + 1 < layers { s.keep_of(l + 1) } else { 1.0 };
            let dims = MatmulDims {
                n: slot.outputs as u32,
                k: slot.inputs as u32,
                w_off: slot.weight as u32,
                b_off: slot.bias as u32,
                act: act.map_or(0, |a| a.code()),
                slope: act.map_or(0.0, |a| a.slope()),
                layer: l as u32 + 1,
                key: self.key,
                keep: next_keep,
            };
            let x = if train { b.train_input(l) } else { &b.h[l] };
            let aux = if next_keep < 1.0 { b.dropped[l + 1].as_ref().unwrap_or(&b.dummy_rw) } else { &b.dummy_rw };
            let rows = if train { s.batch as u32 } else { self.eval_rows };
            let kernel = self.choices.kernel(Form::Abt, rows, dims.n, dims.k);
            out.push(self.k.matmul.dispatch(self.dev(), Form::Abt, kernel, &dims, &MatmulBuffers {
                step: &b.steps, params: &b.params, x, dz: &b.dummy_r, out: &b.h[l + 1], aux,
            }));
            if train && l + 1 < layers {
                let rb = ReduceBuffers { step: &b.steps, src: &b.h[l + 1], src2: &b.dummy_r, dst: &b.dummy_rw, counters: &b.counters };
                let a = act.map_or(0, |a| a.code());
                out.push(self.k.reduce.unit_stats(self.dev(), slot.outputs as u32, a, b.alive_off[l], b.sat_off[l], &rb));
            }
        }
    }

    /// Every dispatch of one training step, in order.
    pub fn train_step(&self, data: &DataBuffers, perm: &wgpu::Buffer, stats: &wgpu::Buffer) -> Vec<Dispatch> {
        let (s, b, spec) = (self.setup, self.b, &self.setup.spec);
        let layers = spec.num_layers();
        let dev = self.dev();
        let mut out = Vec::new();
        self.forward(data, perm, true, data.tw, &mut out);
        out.push(self.k.loss.dispatch(dev, spec.loss, spec.outputs() as u32, data.labels, LossMode::Train, &self.setup.train_loss, &LossBuffers {
            step: &b.steps, logits: &b.h[layers], targets: &b.targets, dz: &b.dz[layers - 1], sample: &b.sample, probs: &b.dummy_rw,
            class_weight: &b.class_weight,
        }));
        for l in (0..layers).rev() {
            let slot = self.layout.layers[l];
            let (n, k) = (slot.outputs as u32, slot.inputs as u32);
            // the weight gradient and, in the same dispatch, the bias gradient
            let dims = MatmulDims { n, k, w_off: slot.weight as u32, b_off: slot.bias as u32, key: self.key, keep: 1.0, ..Default::default() };
            let batch = s.batch as u32;
            out.push(self.k.matmul.dispatch(dev, Form::Atb, self.choices.kernel(Form::Atb, batch, n, k), &dims, &MatmulBuffers {
                step: &b.steps, params: &b.params, x: b.train_input(l), dz: &b.dz[l], out: &b.grads, aux: &b.dummy_rw,
            }));
            if l > 0 {
                let below = spec.activations[l - 1];
                let dims = MatmulDims {
                    n, k, w_off: slot.weight as u32, act: below.code(), slope: below.slope(), layer: l as u32,
                    key: self.key, keep: s.keep_of(l), ..Default::default()
                };
                out.push(self.k.matmul.dispatch(dev, Form::Ab, self.choices.kernel(Form::Ab, batch, n, k), &dims, &MatmulBuffers {
                    step: &b.steps, params: &b.params, x: &b.dummy_r, dz: &b.dz[l], out: &b.dz[l - 1], aux: &b.h[l],
                }));
            }
        }
        // the fused update of every tensor (weights then bias, layer by layer, as
        // CpuEngine::apply_update), writing the weights' norm and penalty partials on the way
        let ob = OptimizerBuffers {
            step: &b.steps, params: &b.params, grads: &b.grads, slot0: &b.slot0, slot1: &b.slot1, partials: &b.partials, clip: &b.clip,
        };
        let max_dim = self.gpu.limits.max_compute_workgroups_per_dimension;
        let clip_norm = s.optimizer.clip_norm.map(|c| c as f32);
        out.extend(self.k.optimizer.dispatches(dev, &b.tensors, max_dim, clip_norm, &ob));
        // the step's loss and correct count, then per layer Σ grad², Σ w², Σ |w|: one dispatch
        let jobs = stats::train_jobs(&b.tensors);
        let rb = ReduceBuffers { step: &b.steps, src: &b.sample, src2: &b.partials, dst: stats, counters: &b.dummy_rw };
        out.push(self.k.reduce.sum_final(dev, &jobs, stats_stride(layers), &rb));
        out
    }

    /// One evaluation chunk: forward, per-sample loss, sums into eval record `stat` (stride 2).
    pub fn eval_chunk(&self, data: &DataBuffers, stats: &wgpu::Buffer) -> Vec<Dispatch> {
        let (b, spec) = (self.b, &self.setup.spec);
        let layers = spec.num_layers();
        let mut out = Vec::new();
        self.forward(data, &b.dummy_r, false, data.tw, &mut out);
        out.push(self.k.loss.dispatch(self.dev(), spec.loss, spec.outputs() as u32, data.labels, LossMode::Evaluate, &TrainLoss::default(), &LossBuffers {
            step: &b.steps, logits: &b.h[layers], targets: &b.targets, dz: &b.dummy_rw, sample: &b.sample, probs: &b.dummy_rw,
            class_weight: &b.class_weight,
        }));
        let rb = ReduceBuffers { step: &b.steps, src: &b.sample, src2: &b.dummy_r, dst: stats, counters: &b.dummy_rw };
        out.push(self.k.reduce.sum_final(self.dev(), &stats::eval_jobs(), stats::EVAL_STRIDE, &rb));
        out
    }

    /// One prediction chunk: forward, then probabilities into `probs` rows [offset, offset + rows).
    pub fn predict_chunk(&self, data: &DataBuffers, probs: &wgpu::Buffer) -> Vec<Dispatch> {
        let (b, spec) = (self.b, &self.setup.spec);
        let layers = spec.num_layers();
        let mut out = Vec::new();
        self.forward(data, &b.dummy_r, false, 0, &mut out);
        out.push(self.k.loss.dispatch(self.dev(), spec.loss, spec.outputs() as u32, false, LossMode::Predict, &TrainLoss::default(), &LossBuffers {
            step: &b.steps, logits: &b.h[layers], targets: &b.targets, dz: &b.dummy_rw, sample: &b.sample, probs,
            class_weight: &b.class_weight,
        }));
        out
    }
}
