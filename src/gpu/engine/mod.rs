//! GpuEngine: the Engine trait on the device. Parameters, gradients, optimizer state and the
//! training set stay resident; per epoch only the permutation and a table of step records go up,
//! every step is recorded into a few command buffers (CHUNK_STEPS steps per submit), and the
//! epoch's statistics come back in one readback at its end.
//!
//! This file: construction and validation, and the Engine trait; plans.rs: the cached training
//! and evaluation plans; steps.rs: recording and submitting steps; profile.rs: kernel times.
//! The stats layout is gpu/stats.rs, the readback GpuContext::read_back.

mod plans;
mod profile;
mod steps;

use super::buffers::{storage, Buffers};
use super::context::GpuContext;
use super::plan::{Ctx, Kernels};
use super::stats;
use super::tune::{self, Choices};
use crate::data::{check_augmentable, Dataset};
use crate::engine::{check_dataset_fits, Engine, EpochStats, EvalStats, KernelTime, TrainSetup, Tuning};
use crate::optim::OptimizerState;
use crate::error::{Error, Result};
use crate::model::{ParamLayout, Params};
use crate::rng::seed_key;
use plans::{EvalPlan, TrainPlan};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rows per evaluation/prediction chunk (activation buffers hold max(batch, this) rows).
pub const EVAL_ROWS: usize = 1024;

/// The wgpu engine: the Engine trait over resident data, recorded step plans and the fused
/// update (the CPU engine in src/cpu/ is its reference).
pub struct GpuEngine {
    ctx: Arc<GpuContext>,
    setup: TrainSetup,
    layout: ParamLayout,
    kernels: Kernels,
    bufs: Buffers,
    cap: usize,
    key: u32,
    step: u64,
    train: Option<TrainPlan>,
    eval: Option<EvalPlan>,
    readbacks: u64,
    started: Instant,
    setup_time: Duration,
    first_step: Option<Duration>,
    /// device-side copy of the parameters for early stopping (no readback)
    snapshot: Option<wgpu::Buffer>,
    /// the matmul variant of every shape the plans dispatch
    choices: Choices,
    /// rows the evaluation plan's forward products were chosen at: the batch once a training
    /// set was loaded (its variants), else the chunk an inference-only engine runs
    eval_rows: u32,
}

impl GpuEngine {
    /// Uploads `params`, builds every shader module and pipeline; the optimizer state starts at 0.
    pub fn new(ctx: Arc<GpuContext>, setup: TrainSetup, params: &Params<f32>) -> Result<GpuEngine> {
        let started = Instant::now();
        setup.spec.validate()?;
        setup.optimizer.validate()?;
        setup.regularization.validate(setup.spec.num_layers())?;
        let layout = ParamLayout::new(&setup.spec);
        if params.layout != layout {
            return Err(Error::Shape { op: "GpuEngine::new", msg: "parameters do not fit the network spec".into() });
        }
        if setup.batch == 0 {
            return Err(Error::config("batch", "must be at least 1"));
        }
        if let Some(p) = setup.keep.iter().find(|p| !(**p > 0.0 && **p <= 1.0)) {
            return Err(Error::config("dropout", format!("keep probability {p} must be in (0, 1]")));
        }
        let cap = setup.batch.max(EVAL_ROWS);
        super::limits::check_shapes(&ctx, &setup, cap, EVAL_ROWS)?;
        let (kernels, bufs) = ctx.scoped("building GPU pipelines", || -> Result<(Kernels, Buffers)> {
            Ok((Kernels::new(&ctx.device)?, Buffers::new(&ctx, &setup, &layout, cap)?))
        })??;
        let key = seed_key(setup.seed);
        // matmul variants are chosen when a plan first needs them (training or evaluation shapes)
        let choices = Choices::none()?;
        let mut e = GpuEngine {
            ctx, setup, layout, kernels, bufs, cap, key, step: 0, train: None, eval: None, readbacks: 0, started,
            setup_time: Duration::ZERO, first_step: None, snapshot: None, choices, eval_rows: 0,
        };
        e.set_params(params)?;
        e.ctx.wait()?;
        e.setup_time = started.elapsed();
        Ok(e)
    }

    /// Time `new` took (pipelines, buffers, parameter upload).
    pub fn setup_time(&self) -> Duration {
        self.setup_time
    }

    /// From the start of `new` to the end of the first training step (None before any epoch).
    pub fn time_to_first_step(&self) -> Option<Duration> {
        self.first_step
    }

    /// The matmul variant chosen for each shape, how, and the tuner's notes.
    pub fn choices(&self) -> &Choices {
        &self.choices
    }

    /// Each layer's (outputs, inputs).
    fn layer_shapes(&self) -> Vec<(u32, u32)> {
        self.layout.layers.iter().map(|l| (l.outputs as u32, l.inputs as u32)).collect()
    }

    /// Chooses (measures, or recalls) the variants of `shapes` not chosen yet.
    fn choose(&mut self, shapes: &[tune::Shape]) -> Result<()> {
        let todo: Vec<tune::Shape> = shapes.iter().copied().filter(|s| !self.choices.has(*s)).collect();
        if !todo.is_empty() {
            let fresh = tune::choose(&self.ctx, &self.kernels.matmul, &todo)?;
            self.choices.merge(fresh);
        }
        Ok(())
    }

    /// The shared GPU context this engine runs on.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// Optimizer steps taken so far.
    pub fn step(&self) -> u64 {
        self.step
    }

    fn plan_ctx(&self) -> Ctx<'_> {
        Ctx {
            gpu: &self.ctx, k: &self.kernels, b: &self.bufs, setup: &self.setup, layout: &self.layout, key: self.key,
            choices: &self.choices, eval_rows: self.eval_rows,
        }
    }

    /// One readback (counted for `Engine::readbacks`): see GpuContext::read_back.
    fn read_back(&mut self, parts: &[(&wgpu::Buffer, u64, u64)]) -> Result<Vec<Vec<u32>>> {
        self.readbacks += 1;
        self.ctx.read_back(parts)
    }

    fn write_f32(&self, buf: &wgpu::Buffer, data: &[f32]) {
        if !data.is_empty() {
            self.ctx.queue.write_buffer(buf, 0, bytemuck::cast_slice(data));
        }
    }

    /// Zeroes the optimizer slots on the device (no host-side zeros or staging copies).
    fn zero_slots(&self) {
        let mut enc = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("zero slots") });
        for b in [&self.bufs.slot0, &self.bufs.slot1].into_iter().take(self.setup.optimizer.state_slots()) {
            enc.clear_buffer(b, 0, None);
        }
        self.ctx.queue.submit([enc.finish()]);
    }
}

impl Engine for GpuEngine {
    type Elem = f32;

    fn describe(&self) -> String {
        format!("gpu: {}", self.ctx.describe())
    }

    fn setup(&self) -> &TrainSetup {
        &self.setup
    }

    fn set_params(&mut self, params: &Params<f32>) -> Result<()> {
        if params.layout != self.layout {
            return Err(Error::Shape { op: "set_params", msg: "parameters of another architecture".into() });
        }
        self.write_f32(&self.bufs.params, &params.data);
        self.zero_slots();
        self.step = 0;
        Ok(())
    }

    fn params(&mut self) -> Result<Params<f32>> {
        let bytes = 4 * self.layout.len as u64;
        let params = self.bufs.params.clone();
        let out = self.read_back(&[(&params, 0, bytes)])?;
        Ok(Params { layout: self.layout.clone(), data: bytemuck::cast_slice(&out[0]).to_vec() })
    }

    fn snapshot_params(&mut self) -> Result<()> {
        let bytes = 4 * self.layout.len as u64;
        if self.snapshot.is_none() {
            self.snapshot = Some(storage(&self.ctx, "parameter snapshot", bytes)?);
        }
        if let Some(snap) = &self.snapshot {
            let mut enc = self.ctx.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(&self.bufs.params, 0, snap, 0, bytes);
            self.ctx.queue.submit([enc.finish()]);
        }
        Ok(())
    }

    fn restore_snapshot(&mut self) -> Result<()> {
        let snap = self.snapshot.as_ref().ok_or_else(|| Error::config("snapshot", "no snapshot taken"))?;
        let bytes = 4 * self.layout.len as u64;
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(snap, 0, &self.bufs.params, 0, bytes);
        self.ctx.queue.submit([enc.finish()]);
        Ok(())
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState<f32>> {
        let n = self.setup.optimizer.state_slots();
        let bytes = 4 * self.layout.len as u64;
        let (s0, s1) = (self.bufs.slot0.clone(), self.bufs.slot1.clone());
        let parts: Vec<(&wgpu::Buffer, u64, u64)> = [&s0, &s1].into_iter().take(n).map(|b| (b, 0, bytes)).collect();
        let slots = if parts.is_empty() { Vec::new() } else { self.read_back(&parts)? };
        Ok(OptimizerState { slots: slots.iter().map(|b| bytemuck::cast_slice(b).to_vec()).collect(), step: self.step })
    }

    fn set_optimizer_state(&mut self, state: &OptimizerState<f32>) -> Result<()> {
        let want = self.setup.optimizer.state_slots();
        if state.slots.len() != want || state.slots.iter().any(|s| s.len() != self.layout.len) {
            return Err(Error::Shape { op: "set_optimizer_state", msg: "optimizer state of another shape".into() });
        }
        for (s, b) in state.slots.iter().zip([&self.bufs.slot0, &self.bufs.slot1]) {
            self.write_f32(b, s);
        }
        self.step = state.step;
        Ok(())
    }

    fn load_train(&mut self, data: &Dataset) -> Result<()> {
        check_dataset_fits(&self.setup, data)?;
        self.train = None;
        // the gather kernel augments training batches (never evaluation), as the CPU engine does
        let augment = match self.setup.augment {
            Some(aug) if !aug.is_identity() => {
                let (h, w) = check_augmentable(&aug, data)?;
                Some((aug, (h as u32, w as u32)))
            }
            _ => None,
        };
        let mut buffers = self.upload(data, "training set")?;
        buffers.augment = augment;
        let shapes = tune::run_shapes(&self.layer_shapes(), self.setup.batch as u32);
        self.choose(&shapes)?;
        self.train = Some(self.build_train(buffers, data.len)?);
        Ok(())
    }

    fn train_epoch(&mut self, order: &[u32], lr: f64) -> Result<EpochStats> {
        self.check_order(order)?;
        if order.is_empty() {
            return Ok(EpochStats { grad_norm_sum: vec![0.0; self.setup.spec.num_layers()], ..Default::default() });
        }
        self.with_train_plan(order.len(), |e, plan| e.run_epoch(plan, order, lr, None))
    }

    fn tuning(&self) -> Option<Tuning> {
        Some(self.choices.summary())
    }

    fn kernel_times(&mut self, order: &[u32], lr: f64) -> Result<Option<Vec<KernelTime>>> {
        if !self.ctx.device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Ok(None);
        }
        self.check_order(order)?;
        self.with_train_plan(order.len(), |e, plan| e.profile_steps(plan, order, lr)).map(Some)
    }

    fn evaluate(&mut self, data: &Dataset) -> Result<EvalStats> {
        check_dataset_fits(&self.setup, data)?;
        self.run_chunks(data, false)?;
        let chunks = data.len.div_ceil(self.cap);
        let stats = self.eval.as_ref().map(|e| e.stats.clone()).ok_or_else(|| Error::Gpu("evaluation plan missing".into()))?;
        let out = self.read_back(&[(&stats, 0, stats::eval_bytes(chunks))])?;
        Ok(stats::eval_stats(&out[0], data.len))
    }

    fn predict(&mut self, data: &Dataset) -> Result<Vec<f32>> {
        if data.dim != self.setup.spec.inputs() {
            return Err(Error::config(
                "input",
                format!("samples have {} features but the first layer takes {}", data.dim, self.setup.spec.inputs()),
            ));
        }
        if data.is_empty() {
            return Ok(Vec::new());
        }
        self.run_chunks(data, true)?;
        let n = data.len * self.setup.spec.outputs();
        let probs = self.eval.as_ref().map(|e| e.probs.clone()).ok_or_else(|| Error::Gpu("evaluation plan missing".into()))?;
        let out = self.read_back(&[(&probs, 0, 4 * n as u64)])?;
        Ok(bytemuck::cast_slice(&out[0]).to_vec())
    }

    fn readbacks(&self) -> u64 {
        self.readbacks
    }
}
