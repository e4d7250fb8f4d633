//! GpuEngine: the Engine trait on the device. Parameters, gradients, optimizer state and the
//! training set stay resident; per epoch only the permutation and a table of step records go up,
//! every step is recorded into a few command buffers (CHUNK_STEPS steps per submit), and the
//! epoch's statistics come back in one readback at its end.

use super::buffers::{storage, storage_init, Buffers, CHUNK_STEPS};
use super::context::GpuContext;
use super::gather::{feature_bytes, target_words};
use super::optimizer::update_record;
use super::pipeline::Dispatch;
use super::records::{Slot, Step, RECORD};
use super::plan::{stats_stride, Ctx, DataBuffers, Kernels};
use crate::data::{check_augmentable, Dataset, Features, Targets};
use crate::engine::{check_dataset_fits, Engine, EpochStats, EvalStats, KernelTime, OptimizerState, TrainSetup};
use crate::error::{Error, Result};
use crate::model::{Activation, ParamLayout, Params};
use crate::optim::UpdateParams;
use crate::rng::seed_key;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rows per evaluation/prediction chunk (activation buffers hold max(batch, this) rows).
const EVAL_ROWS: usize = 1024;
/// wgpu's cap on queries in one query set.
const MAX_QUERIES: usize = 4096;

/// The family a kernel's time is reported under.
fn kernel_family(label: &str) -> &'static str {
    match label {
        "abt" | "ab" | "atb" => "matmul",
        "gather" => "gather",
        "loss" => "loss",
        "update" => "optimizer",
        _ => "reduce",
    }
}

struct TrainPlan {
    data: DataBuffers,
    perm: wgpu::Buffer,
    perm_cap: usize,
    stats: wgpu::Buffer,
    steps_cap: usize,
    step: Vec<Dispatch>,
}

struct EvalPlan {
    dataset: Dataset,
    /// kept with the plan (its bind groups read these buffers)
    _data: DataBuffers,
    stats: wgpu::Buffer,
    probs: wgpu::Buffer,
    eval: Vec<Dispatch>,
    predict: Vec<Dispatch>,
}

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
            Ok((Kernels::new(&ctx.device), Buffers::new(&ctx, &setup, &layout, cap)?))
        })??;
        let key = seed_key(setup.seed);
        let mut e = GpuEngine {
            ctx, setup, layout, kernels, bufs, cap, key, step: 0, train: None, eval: None, readbacks: 0, started,
            setup_time: Duration::ZERO, first_step: None, snapshot: None,
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

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// Optimizer steps taken so far.
    pub fn step(&self) -> u64 {
        self.step
    }

    fn plan_ctx(&self) -> Ctx<'_> {
        Ctx { gpu: &self.ctx, k: &self.kernels, b: &self.bufs, setup: &self.setup, layout: &self.layout, key: self.key }
    }

    fn upload(&self, data: &Dataset, what: &str) -> Result<DataBuffers> {
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
    fn ensure_train_capacity(&mut self, order_len: usize) -> Result<()> {
        let steps = order_len.div_ceil(self.setup.batch);
        let plan = self.train.as_ref().ok_or_else(|| Error::config("data", "no training set loaded"))?;
        if plan.perm_cap >= order_len && plan.steps_cap >= steps {
            return Ok(());
        }
        let Some(old) = self.train.take() else { return Ok(()) };
        self.train = Some(self.build_train(old.data, order_len.max(old.perm_cap))?);
        Ok(())
    }

    fn build_train(&self, data: DataBuffers, order_cap: usize) -> Result<TrainPlan> {
        let steps_cap = order_cap.div_ceil(self.setup.batch).max(1);
        let stride = stats_stride(self.setup.spec.num_layers()) as u64;
        let perm = storage(&self.ctx, "permutation", 4 * order_cap as u64)?;
        let stats = storage(&self.ctx, "epoch stats", 4 * stride * steps_cap as u64)?;
        let step = self.ctx.scoped("building the training plan", || self.plan_ctx().train_step(&data, &perm, &stats))?;
        Ok(TrainPlan { data, perm, perm_cap: order_cap, stats, steps_cap, step })
    }

    /// The eval plan for `data`, reusing the resident copy when the same dataset comes again.
    fn ensure_eval(&mut self, data: &Dataset) -> Result<()> {
        if self.eval.as_ref().is_some_and(|e| e.dataset == *data) {
            return Ok(());
        }
        self.eval = None;
        let buffers = self.upload(data, "evaluation")?;
        let chunks = data.len.div_ceil(self.cap) as u64;
        let stats = storage(&self.ctx, "eval stats", 8 * chunks)?;
        let probs = storage(&self.ctx, "predictions", 4 * (data.len * self.setup.spec.outputs()) as u64)?;
        let (eval, predict) = self.ctx.scoped("building the evaluation plan", || {
            let c = self.plan_ctx();
            (c.eval_chunk(&buffers, &stats), c.predict_chunk(&buffers, &probs))
        })?;
        self.eval = Some(EvalPlan { dataset: data.clone(), _data: buffers, stats, probs, eval, predict });
        Ok(())
    }

    /// Records and submits `n` steps of `dispatches`, `fill(i, slots)` writing step i's records;
    /// `rows(i)` its row count. `first_alone`: submit step 0 by itself and time it.
    fn run_steps(
        &mut self,
        dispatches: &[Dispatch],
        n: usize,
        rows: impl Fn(usize) -> u32,
        mut fill: impl FnMut(usize, &mut [Slot]),
        before: impl FnOnce(&mut wgpu::CommandEncoder),
        first_alone: bool,
        timestamps: Option<&wgpu::QuerySet>,
    ) -> Result<()> {
        let recs = self.bufs.records_per_step;
        let mut before = Some(before);
        let mut s = 0;
        while s < n {
            let len = if first_alone && s == 0 { 1 } else { CHUNK_STEPS.min(n - s) };
            let mut words = vec![bytemuck::Zeroable::zeroed(); len * recs];
            for i in 0..len {
                fill(s + i, &mut words[i * recs..(i + 1) * recs]);
            }
            let ctx = self.ctx.clone();
            ctx.scoped("recording steps", || {
                ctx.queue.write_buffer(&self.bufs.steps, 0, bytemuck::cast_slice(&words));
                let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("steps") });
                if let Some(f) = before.take() {
                    f(&mut enc);
                }
                if let Some(qs) = timestamps {
                    // profiling: every dispatch in a pass of its own, stamped at both ends
                    for i in 0..len {
                        let base = (i * recs) as u64 * RECORD;
                        let r = rows(s + i);
                        for (j, d) in dispatches.iter().enumerate() {
                            let q = 2 * ((s + i) * dispatches.len() + j) as u32;
                            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                                label: Some(d.label),
                                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                                    query_set: qs,
                                    beginning_of_pass_write_index: Some(q),
                                    end_of_pass_write_index: Some(q + 1),
                                }),
                            });
                            d.record_into(&mut pass, base, r);
                        }
                    }
                } else {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("steps"), timestamp_writes: None });
                    for i in 0..len {
                        let base = (i * recs) as u64 * RECORD;
                        let r = rows(s + i);
                        for d in dispatches {
                            d.record_into(&mut pass, base, r);
                        }
                    }
                }
                ctx.queue.submit([enc.finish()]);
            })?;
            if first_alone && s == 0 && self.first_step.is_none() {
                self.ctx.wait()?;
                self.first_step = Some(self.started.elapsed());
            }
            s += len;
        }
        Ok(())
    }

    /// Copies `parts` (buffer, byte offset, bytes; multiples of 4) into one staging buffer and maps
    /// it: one readback. Each part comes back as 32-bit words, so casting it to f32 or u32 can
    /// never meet a misaligned (or empty, dangling) byte vector.
    fn read_back(&mut self, parts: &[(&wgpu::Buffer, u64, u64)]) -> Result<Vec<Vec<u32>>> {
        let total: u64 = parts.iter().map(|p| p.2).sum();
        let ctx = self.ctx.clone();
        let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: total.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        ctx.scoped("reading back", || {
            let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
            let mut at = 0;
            for &(buf, off, size) in parts {
                if size > 0 {
                    enc.copy_buffer_to_buffer(buf, off, &staging, at, size);
                }
                at += size;
            }
            ctx.queue.submit([enc.finish()]);
        })?;
        let (sink, mapped) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = sink.send(r);
        });
        self.readbacks += 1;
        match ctx.wait_for_callback(&mapped)? {
            Ok(()) => {}
            Err(e) => return Err(Error::Gpu(format!("mapping the readback buffer: {e}"))),
        }
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| Error::Gpu(format!("reading the readback buffer: {e}")))?
            .to_vec();
        staging.unmap();
        ctx.check("reading back")?;
        let mut out = Vec::with_capacity(parts.len());
        let mut at = 0usize;
        for p in parts {
            out.push(bytemuck::pod_collect_to_vec(&bytes[at..at + p.2 as usize]));
            at += p.2 as usize;
        }
        Ok(out)
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

    fn epoch_stats(&self, stats: &[u32], cnt: &[u32], order_len: usize) -> EpochStats {
        let spec = &self.setup.spec;
        let layers = spec.num_layers();
        let reg = &self.setup.regularization;
        let stride = stats_stride(layers) as usize;
        let rec: &[f32] = bytemuck::cast_slice(stats);
        let batch = self.setup.batch;
        let steps = order_len.div_ceil(batch);
        let mut st = EpochStats {
            grad_norm_sum: vec![0.0; layers],
            dead_units: vec![0; layers - 1],
            saturated: vec![0; layers - 1],
            samples: order_len as u64,
            steps: steps as u64,
            ..Default::default()
        };
        for s in 0..steps {
            let r = &rec[s * stride..(s + 1) * stride];
            let rows = batch.min(order_len - s * batch) as f64;
            let mut pen = 0.0;
            for l in 0..layers {
                let (gsq, wsq, wabs) = (r[2 + 3 * l] as f64, r[3 + 3 * l] as f64, r[4 + 3 * l] as f64);
                pen += 0.5 * reg.l2_of(l) * wsq + reg.l1_of(l) * wabs;
                st.grad_norm_sum[l] += gsq.sqrt();
            }
            st.loss_sum += r[0] as f64 + pen * rows;
            st.correct += r[1] as u64;
        }
        for l in 0..layers - 1 {
            let n = spec.sizes[l + 1];
            let (a, s) = (self.bufs.alive_off[l] as usize, self.bufs.sat_off[l] as usize);
            if matches!(spec.activations[l], Activation::Relu | Activation::LeakyRelu(_)) {
                st.dead_units[l] = cnt[a..a + n].iter().filter(|&&x| x == 0).count() as u64;
            }
            st.saturated[l] = cnt[s..s + n].iter().map(|&x| x as u64).sum();
        }
        st
    }

    /// Runs `eval` or `predict` dispatches over `data` in chunks of `cap` rows.
    fn run_chunks(&mut self, data: &Dataset, predict: bool) -> Result<()> {
        self.ensure_eval(data)?;
        let plan = self.eval.take().ok_or_else(|| Error::Gpu("evaluation plan missing".into()))?;
        let (cap, len) = (self.cap, data.len);
        let chunks = len.div_ceil(cap);
        let d = if predict { &plan.predict } else { &plan.eval };
        let r = self.run_steps(
            d,
            chunks,
            |c| cap.min(len - c * cap) as u32,
            |c, w| {
                let rows = cap.min(len - c * cap);
                w[0] = Slot::of(&Step::new(rows as u32, (c * cap) as u32, 0, c as u32, 1.0 / rows as f32));
            },
            |_| {},
            false,
            None,
        );
        self.eval = Some(plan);
        r
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
        let out = self.read_back(&[(&stats, 0, 8 * chunks as u64)])?;
        let rec: &[f32] = bytemuck::cast_slice(&out[0]);
        let mut st = EvalStats { samples: data.len as u64, ..Default::default() };
        for c in rec.chunks(2) {
            st.loss_sum += c[0] as f64;
            st.correct += c[1] as u64;
        }
        Ok(st)
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

impl GpuEngine {
    /// Every index of `order` must be a row of the loaded training set.
    fn check_order(&self, order: &[u32]) -> Result<()> {
        let len = self.train.as_ref().ok_or_else(|| Error::config("data", "no training set loaded"))?.data.len;
        match order.iter().find(|&&i| i as usize >= len) {
            Some(&bad) => Err(Error::config("order", format!("sample index {bad} is outside the training set"))),
            None => Ok(()),
        }
    }

    /// Runs `f` with the training plan grown to an order of `order_len` (the plan is lent out of
    /// `self` meanwhile, so `f` may use the engine's other parts).
    fn with_train_plan<R>(&mut self, order_len: usize, f: impl FnOnce(&mut Self, &TrainPlan) -> Result<R>) -> Result<R> {
        self.ensure_train_capacity(order_len)?;
        let plan = self.train.take().ok_or_else(|| Error::Gpu("training plan missing".into()))?;
        let r = f(self, &plan);
        self.train = Some(plan);
        r
    }

    /// Trains on as many leading steps of `order` as a query set can time (two stamps per
    /// dispatch) and sums the device time per kernel family.
    fn profile_steps(&mut self, plan: &TrainPlan, order: &[u32], lr: f64) -> Result<Vec<KernelTime>> {
        let per_step = plan.step.len();
        let steps = order.len().div_ceil(self.setup.batch).min(MAX_QUERIES / (2 * per_step)).max(1);
        let order = &order[..order.len().min(steps * self.setup.batch)];
        let count = (2 * steps * per_step) as u32;
        let qs = self.ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("kernel times"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        self.run_epoch(plan, order, lr, Some(&qs))?;
        let resolved = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel times"),
            size: 8 * count as u64,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.resolve_query_set(&qs, 0..count, &resolved, 0);
        self.ctx.queue.submit([enc.finish()]);
        let out = self.read_back(&[(&resolved, 0, 8 * count as u64)])?;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&out[0]);
        let ns_per_tick = self.ctx.queue.get_timestamp_period() as f64;
        let mut families: Vec<KernelTime> = Vec::new();
        for (q, d) in ticks.chunks(2).zip(plan.step.iter().cycle()) {
            let family = kernel_family(d.label);
            let secs = q[1].saturating_sub(q[0]) as f64 * ns_per_tick * 1e-9 / steps as f64;
            match families.iter_mut().find(|f| f.family == family) {
                Some(f) => f.seconds_per_step += secs,
                None => families.push(KernelTime { family: family.into(), dispatches_per_step: 0, seconds_per_step: secs }),
            }
        }
        for f in &mut families {
            f.dispatches_per_step = plan.step.iter().filter(|d| kernel_family(d.label) == f.family).count();
        }
        Ok(families)
    }

    fn run_epoch(&mut self, plan: &TrainPlan, order: &[u32], lr: f64, timestamps: Option<&wgpu::QuerySet>) -> Result<EpochStats> {
        let batch = self.setup.batch;
        let n = order.len();
        let steps = n.div_ceil(batch);
        self.ctx.queue.write_buffer(&plan.perm, 0, bytemuck::cast_slice(order));
        let (cfg, reg) = (self.setup.optimizer.clone(), self.setup.regularization.clone());
        let tensors = self.bufs.tensors.clone();
        let step0 = self.step;
        let counters = self.bufs.counters.clone();
        let counter_bytes = 4 * self.bufs.counter_words as u64;
        self.run_steps(
            &plan.step,
            steps,
            |s| batch.min(n - s * batch) as u32,
            |s, w| {
                let rows = batch.min(n - s * batch);
                let global = step0 + s as u64;
                w[0] = Slot::of(&Step::new(rows as u32, (s * batch) as u32, global as u32, s as u32, 1.0 / rows as f32));
                let t = global + 1;
                // tensors are per layer weights then bias (Buffers::new)
                for (i, grid) in tensors.iter().enumerate() {
                    let (l, is_bias) = (i / 2, i % 2 == 1);
                    let u = UpdateParams::new(&cfg, lr, t, reg.l2_of(l), reg.l1_of(l), reg.l1_proximal, is_bias);
                    w[1 + i] = Slot::of(&update_record(&u, grid));
                }
            },
            |enc| {
                if counter_bytes > 0 {
                    enc.clear_buffer(&counters, 0, None);
                }
            },
            timestamps.is_none(),
            timestamps,
        )?;
        self.step += steps as u64;
        let stride = stats_stride(self.setup.spec.num_layers()) as u64;
        let out = self.read_back(&[(&plan.stats, 0, 4 * stride * steps as u64), (&counters, 0, counter_bytes)])?;
        Ok(self.epoch_stats(&out[0], &out[1], n))
    }
}
