//! The engine's cached plans: the training plan (the resident training set, the permutation,
//! the epoch stats buffer and one step's dispatches) grown as epochs get longer, and the
//! evaluation plan kept while the same dataset comes again.

use super::GpuEngine;
use crate::data::{Dataset, Features, Targets};
use crate::error::{Error, Result};
use crate::gpu::buffers::{storage, storage_init};
use crate::gpu::gather::{feature_bytes, target_words};
use crate::gpu::pipeline::Dispatch;
use crate::gpu::plan::DataBuffers;
use crate::gpu::matmul::Form;
use crate::gpu::stats;
use crate::gpu::tune;

pub(super) struct TrainPlan {
    pub(super) data: DataBuffers,
    pub(super) perm: wgpu::Buffer,
    pub(super) perm_cap: usize,
    pub(super) stats: wgpu::Buffer,
    pub(super) steps_cap: usize,
    pub(super) step: Vec<Dispatch>,
}

pub(super) struct EvalPlan {
    pub(super) dataset: Dataset,
    /// kept with the plan (its bind groups read these buffers)
    pub(super) _data: DataBuffers,
    pub(super) stats: wgpu::Buffer,
    pub(super) probs: wgpu::Buffer,
    pub(super) eval: Vec<Dispatch>,
    pub(super) predict: Vec<Dispatch>,
}

impl GpuEngine {
    pub(super) fn upload(&self, data: &Dataset, what: &str) -> Result<DataBuffers> {
        let bytes = feature_bytes(data).len() as u64;
        let binding = self.ctx.limits.max_storage_buffer_binding_size.min(self.ctx.limits.max_buffer_size);
        if bytes > binding {
            return Err(Error::config(
                "data",
                format!("the {what} needs {bytes} bytes on the GPU, above this adapter's max_storage_buffer_binding_size ({binding}); use --device cpu or less data"),
            ));
        }
        let (tw_words, tw) = target_words(data);
        Ok(DataBuffers {
            features: storage_init(&self.ctx, &format!("{what} features"), feature_bytes(data))?,
            targets: storage_init(&self.ctx, &format!("{what} targets"), &tw_words)?,
            is_u8: matches!(data.features, Features::U8(_)),
            tw,
            labels: matches!(data.targets, Targets::Classes { .. }),
            len: data.len,
            augment: None,
        })
    }

    /// (Re)builds the per-step dispatches so an epoch of `steps` steps over `order_len` fits.
    pub(super) fn ensure_train_capacity(&mut self, order_len: usize) -> Result<()> {
        let steps = order_len.div_ceil(self.setup.batch);
        let plan = self.train.as_ref().ok_or_else(|| Error::config("data", "no training set loaded"))?;
        if plan.perm_cap >= order_len && plan.steps_cap >= steps {
            return Ok(());
        }
        let Some(old) = self.train.take() else { return Ok(()) };
        self.train = Some(self.build_train(old.data, order_len.max(old.perm_cap))?);
        Ok(())
    }

    pub(super) fn build_train(&self, data: DataBuffers, order_cap: usize) -> Result<TrainPlan> {
        let steps_cap = order_cap.div_ceil(self.setup.batch).max(1);
        let perm = storage(&self.ctx, "permutation", 4 * order_cap as u64)?;
        let stats = storage(&self.ctx, "epoch stats", stats::train_bytes(self.setup.spec.num_layers(), steps_cap))?;
        let step = self.ctx.scoped("building the training plan", || self.plan_ctx().train_step(&data, &perm, &stats))?;
        Ok(TrainPlan { data, perm, perm_cap: order_cap, stats, steps_cap, step })
    }

    /// The eval plan for `data`, reusing the resident copy when the same dataset comes again.
    pub(super) fn ensure_eval(&mut self, data: &Dataset) -> Result<()> {
        if self.eval.as_ref().is_some_and(|e| e.dataset == *data) {
            return Ok(());
        }
        self.eval = None;
        // evaluation chunks run the batch's forward variants once a training set has been loaded;
        // an engine that only evaluates or predicts chooses them at its chunk's rows
        let batch = self.setup.batch as u32;
        let trained = self.choices.has(tune::Shape { form: Form::Abt, m: batch, n: self.layout.layers[0].outputs as u32, k: self.layout.layers[0].inputs as u32 });
        // (at the chunk's capacity, not the data's length, so one choice serves every size)
        self.eval_rows = if trained { batch } else { self.cap as u32 };
        let shapes: Vec<tune::Shape> =
            self.layer_shapes().into_iter().map(|(n, k)| tune::Shape { form: Form::Abt, m: self.eval_rows, n, k }).collect();
        self.choose(&shapes)?;
        let buffers = self.upload(data, "evaluation")?;
        let stats = storage(&self.ctx, "eval stats", stats::eval_bytes(data.len.div_ceil(self.cap)))?;
        let probs = storage(&self.ctx, "predictions", 4 * (data.len * self.setup.spec.outputs()) as u64)?;
        let (eval, predict) = self.ctx.scoped("building the evaluation plan", || {
            let c = self.plan_ctx();
            (c.eval_chunk(&buffers, &stats), c.predict_chunk(&buffers, &probs))
        })?;
        self.eval = Some(EvalPlan { dataset: data.clone(), _data: buffers, stats, probs, eval, predict });
        Ok(())
    }

    /// Every index of `order` must be a row of the loaded training set.
    pub(super) fn check_order(&self, order: &[u32]) -> Result<()> {
        let len = self.train.as_ref().ok_or_else(|| Error::config("data", "no training set loaded"))?.data.len;
        match order.iter().find(|&&i| i as usize >= len) {
            Some(&bad) => Err(Error::config("order", format!("sample index {bad} is outside the training set"))),
            None => Ok(()),
        }
    }

    /// Runs `f` with the training plan grown to an order of `order_len` (the plan is lent out of
    /// `self` meanwhile, so `f` may use the engine's other parts).
    pub(super) fn with_train_plan<R>(&mut self, order_len: usize, f: impl FnOnce(&mut Self, &TrainPlan) -> Result<R>) -> Result<R> {
        self.ensure_train_capacity(order_len)?;
        let plan = self.train.take().ok_or_else(|| Error::Gpu("training plan missing".into()))?;
        let r = f(self, &plan);
        self.train = Some(plan);
        r
    }
}
