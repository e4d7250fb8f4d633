//! GPU against CPU over any number of training steps. What `wgpu-mlp check` prints.
//!
//! Two modes, because a free-running comparison cannot tell a wrong kernel from a sensitive
//! trajectory (an ulp of difference decides, now and then, which way an Adam step or a dying unit
//! goes; from there the runs differ by percents):
//! - **lockstep** (the verdict): before every step the GPU is given the CPU's parameters and
//!   optimizer state, both take that one step on the same batch, and the GPU's result is compared
//!   with the CPU's per tensor. Differences stay at one step's f32 rounding for any horizon.
//! - **free**: both engines (and a CPU f64 reference) run on their own; the report says at which
//!   step each pair first separates and how far the final validation loss and accuracy differ,
//!   judged against the spread of CPU runs whose starting weights differ by one rounding.

mod free;
mod kinks;

pub use free::{free_run, separation, Free, RunEnd, Separation};
pub use kinks::units_at_kink;

use crate::cpu::CpuEngine;
use crate::data::{epoch_order, Dataset};
use crate::engine::{Engine, TrainSetup};
use crate::optim::OptimizerState;
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuEngine};
use crate::model::Params;
use crate::train::FitOptions;
use free::nudge;
use rand::SeedableRng;
use serde::Serialize;
use std::sync::Arc;

/// The lockstep bound. Each step is also taken in f64 from the same state (the exact step, to
/// f32 input rounding) and twice in f32 on the CPU: from the state itself, and from the state with
/// every element one ulp away (the batch's rows reversed where dropout and augmentation allow),
/// so the reference is two roundings of the step, not one that may happen to be lucky. Per
/// tensor, the GPU's distance from the f64 step may be at most `factor` times the larger CPU
/// distance, plus `ulps` f32 ulps of each element (Euclidean norms over the tensor):
/// ‖gpu − f64‖ ≤ factor·max(‖cpu − f64‖, ‖cpu′ − f64‖) + ulps·2⁻²³·‖f64‖.
/// Adaptive optimizers divide each gradient element by its own running size, so an element whose
/// gradient cancels to a few roundings moves by a whole step either way: an absolute bound would
/// have to admit that for every element, while measured against the f64 step a wrong kernel
/// stands out and rounding does not. The factor is WGSL's: it lets `exp` of a small argument be
/// 3 ulp off and a division 2.5 ulp where the CPU's libm and IEEE division round to ½ ulp, so a
/// correct GPU step may lie six times as far from the exact one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Tolerance {
    /// How many times the larger CPU f32 distance from the f64 step the GPU's may be (>= 0).
    pub factor: f64,
    /// Slack per element in f32 ulps of the f64 result (>= 0).
    pub ulps: f64,
}

impl Tolerance {
    /// The default bound (README "Exactness" has the measurements behind it).
    pub const LOCKSTEP: Tolerance = Tolerance { factor: 6.0, ulps: 2.0 };

    /// [`Error::Config`] unless both terms are finite and >= 0.
    pub fn validate(&self) -> Result<()> {
        for (flag, v) in [("factor", self.factor), ("ulps", self.ulps)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::config(flag, format!("{v} must be a finite number >= 0")));
            }
        }
        Ok(())
    }
}

/// The worst of one tensor (parameters or an optimizer slot) over every lockstep step.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TensorDiff {
    /// Checkpoint name of the tensor (`layers.{i}.weight`), prefixed `slot{s}:` for optimizer slot s.
    pub name: String,
    /// Max over steps of ‖gpu − f64‖ / (max(‖cpu − f64‖, ‖cpu′ − f64‖) + the ulps term)
    pub ratio: f64,
    /// The step (1-based) where that maximum was.
    pub worst_step: usize,
    /// Max over steps of ‖gpu − f64‖ over that step's ‖Δ‖ (the f64 step's size).
    pub gpu_err: f64,
    /// Max over steps of max(‖cpu − f64‖, ‖cpu′ − f64‖) over that step's ‖Δ‖.
    pub cpu_err: f64,
    /// Max |gpu − cpu| over every element and step, kink elements included.
    pub max_abs: f64,
    /// Steps this tensor was outside the tolerance.
    pub mismatches: usize,
    /// Element-steps left out because a unit they depend on was at its kink ([`units_at_kink`]).
    pub at_kink: usize,
}

/// What [`lockstep`] found: per tensor the worst step, and the verdict ([`Lockstep::passed`]).
#[derive(Clone, Debug, Serialize)]
pub struct Lockstep {
    /// The GPU engine's description.
    pub gpu: String,
    /// Steps compared.
    pub steps: usize,
    /// Epochs the steps reach into (the last possibly in part).
    pub epochs_touched: usize,
    /// The bound the steps were judged by.
    pub tolerance: Tolerance,
    /// One entry per parameter tensor, then per tensor of each optimizer slot.
    pub tensors: Vec<TensorDiff>,
    /// Max over steps of |gpu − cpu| / |cpu| of the step's training loss.
    pub max_loss_rel: f64,
    /// The first step (1-based) with a tensor outside the tolerance.
    pub first_bad_step: Option<usize>,
    /// Steps with some unit at its kink (their affected elements are not judged).
    pub kink_steps: usize,
}

impl Lockstep {
    /// The step losses agree to f32 summation (both sum per-sample losses of the same batch).
    pub const LOSS_RTOL: f64 = 1e-5;

    /// Every tensor within the tolerance at every step, and the step losses within [`Self::LOSS_RTOL`].
    pub fn passed(&self) -> bool {
        self.first_bad_step.is_none() && self.max_loss_rel <= Self::LOSS_RTOL
    }
}

/// Which batches and learning rates `steps` steps of `opts` visit, crossing epochs as `fit` does.
pub struct StepSchedule {
    opts: FitOptions,
    batch: usize,
    train_len: usize,
    order: Vec<u32>,
    epoch: usize,
}

impl StepSchedule {
    /// The steps of `opts` over a training set of `train_len` samples in batches of `batch` (>= 1).
    pub fn new(opts: &FitOptions, batch: usize, train_len: usize) -> Self {
        StepSchedule { opts: opts.clone(), batch, train_len, order: Vec::new(), epoch: usize::MAX }
    }

    /// Minibatches per epoch, the last one possibly short.
    pub fn steps_per_epoch(&self) -> usize {
        self.train_len.div_ceil(self.batch)
    }

    /// Step `k` (0-based): its sample indices and learning rate.
    pub fn step(&mut self, k: usize) -> (&[u32], f64) {
        let epoch = k / self.steps_per_epoch();
        if epoch != self.epoch {
            self.order = epoch_order(self.train_len, self.opts.seed, epoch as u64, self.opts.shuffle);
            self.epoch = epoch;
        }
        let s = k % self.steps_per_epoch();
        let lr = self.opts.schedule.lr(self.opts.lr, epoch, self.opts.epochs.max(epoch + 1));
        (&self.order[s * self.batch..((s + 1) * self.batch).min(self.train_len)], lr)
    }
}

pub(crate) fn gpu_engine(ctx: Option<Arc<GpuContext>>, setup: &TrainSetup, params: &Params<f32>) -> Result<GpuEngine> {
    let ctx = match ctx {
        Some(c) => c,
        // `--device gpu`'s adapter: WGPU_MLP_ADAPTER's when set
        None => match crate::device::Device::open(crate::device::DeviceChoice::Gpu)? {
            crate::device::Device::Gpu(c) => c,
            crate::device::Device::Cpu => return Err(Error::config("device", "no GPU adapter found (on Linux: apt-get install mesa-vulkan-drivers)")),
        },
    };
    GpuEngine::new(ctx, setup.clone(), params)
}

/// Names of the state tensors compared: every parameter tensor, then per optimizer slot.
fn state_names(params: &Params<f32>, slots: usize) -> Vec<(String, std::ops::Range<usize>)> {
    let tensors = params.layout.tensors();
    let mut names: Vec<(String, std::ops::Range<usize>)> = tensors.clone();
    for s in 0..slots {
        names.extend(tensors.iter().map(|(n, r)| (format!("slot{s}:{n}"), r.clone())));
    }
    names
}

/// The whole training state as one flat list: parameters, then each optimizer slot.
fn flat_state<T: Copy>(p: &Params<T>, s: &OptimizerState<T>) -> Vec<T> {
    let mut v = p.data.clone();
    for slot in &s.slots {
        v.extend_from_slice(slot);
    }
    v
}

/// Per tensor of one step: the bound's terms and what it found. Distances are Euclidean over
/// the tensor's judged elements, so one element far off stands out (it carries a whole step)
/// while the rare element whose gradient cancels to a few roundings does not decide alone.
#[allow(clippy::too_many_arguments)]
fn judge_step(
    d: &mut TensorDiff,
    step: usize,
    tol: Tolerance,
    before: &[f32],
    c: &[f32],
    c2: &[f32],
    g: &[f32],
    r: &[f64],
    skip: &[bool],
) -> bool {
    let (mut step_sq, mut cpu_sq, mut cpu2_sq, mut gpu_sq, mut ulp_sq) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (e, ((((&bi, &ci), &gi), &ri), &skip)) in before.iter().zip(c).zip(g).zip(r).zip(skip).enumerate() {
        d.max_abs = d.max_abs.max((gi as f64 - ci as f64).abs());
        if skip {
            d.at_kink += 1;
            continue;
        }
        step_sq += (ri - bi as f64).powi(2);
        cpu_sq += (ci as f64 - ri).powi(2);
        cpu2_sq += (c2[e] as f64 - ri).powi(2);
        gpu_sq += (gi as f64 - ri).powi(2);
        ulp_sq += (tol.ulps * f32::EPSILON as f64 * ri).powi(2);
    }
    let (cpu_err, gpu_err, ulp) = (cpu_sq.max(cpu2_sq).sqrt(), gpu_sq.sqrt(), ulp_sq.sqrt());
    let ratio = if gpu_err.is_nan() { f64::INFINITY } else { gpu_err / (cpu_err + ulp).max(f64::MIN_POSITIVE) };
    if ratio > d.ratio {
        d.ratio = ratio;
        d.worst_step = step;
    }
    let step_size = step_sq.sqrt().max(f64::MIN_POSITIVE);
    d.gpu_err = d.gpu_err.max(gpu_err / step_size);
    d.cpu_err = d.cpu_err.max(cpu_err / step_size);
    let ok = gpu_err <= tol.factor * cpu_err + ulp;
    d.mismatches += !ok as usize;
    ok
}

/// `steps` lockstep steps of `setup` on `train` from `params`. `ctx`: the GPU to use (None: the
/// best adapter, software ones included).
pub fn lockstep(
    ctx: Option<Arc<GpuContext>>,
    setup: &TrainSetup,
    opts: &FitOptions,
    params: &Params<f32>,
    train: &Dataset,
    steps: usize,
    tol: Tolerance,
) -> Result<Lockstep> {
    tol.validate()?;
    if steps == 0 {
        return Err(Error::config("steps", "must be at least 1"));
    }
    let mut gpu = gpu_engine(ctx, setup, params)?;
    let mut cpu = CpuEngine::<f32>::new(setup.clone(), params.clone())?;
    // A second f32 rounding of the step: `nudged` takes it from the state with every element one
    // ulp away and, where rows may be reordered, with the batch's rows reversed (see Tolerance).
    let mut nudged = CpuEngine::<f32>::new(setup.clone(), params.clone())?;
    let reorderable = !setup.has_dropout() && setup.augment.is_none_or(|a| a.is_identity());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    let mut exact = CpuEngine::<f64>::new(setup.clone(), params.cast(|x| x as f64))?;
    for e in [&mut cpu as &mut dyn Engine<Elem = f32>, &mut gpu] {
        e.load_train(train)?;
    }
    exact.load_train(train)?;
    nudged.load_train(train)?;
    let names = state_names(params, setup.optimizer.state_slots());
    let mut diffs: Vec<TensorDiff> = names.iter().map(|(n, _)| TensorDiff { name: n.clone(), ..Default::default() }).collect();
    let (mut max_loss_rel, mut first_bad_step) = (0.0f64, None);
    let mut schedule = StepSchedule::new(opts, setup.batch, train.len);
    let mut state = (cpu.params()?, cpu.optimizer_state()?);
    let per_block = params.layout.tensors().len();
    let mut kink_steps = 0;
    for k in 0..steps {
        let (batch, lr) = schedule.step(k);
        let before = flat_state(&state.0, &state.1);
        let start64 = state.0.cast(|x| x as f64);
        let skip = kink_mask(&start64, &units_at_kink(setup, &start64, train, batch, state.1.step)?);
        kink_steps += skip.iter().any(|&s| s) as usize;
        gpu.set_params(&state.0)?;
        gpu.set_optimizer_state(&state.1)?;
        exact.set_params(&start64)?;
        let slots = state.1.slots.iter().map(|s| s.iter().map(|&x| x as f64).collect()).collect();
        exact.set_optimizer_state(&OptimizerState { slots, step: state.1.step })?;
        let (mut p, mut o) = state.clone();
        nudge(&mut p.data, &mut rng);
        o.slots.iter_mut().for_each(|s| nudge(s, &mut rng));
        nudged.set_params(&p)?;
        nudged.set_optimizer_state(&o)?;
        let rows: Vec<u32> = if reorderable { batch.iter().rev().copied().collect() } else { batch.to_vec() };
        nudged.train_epoch(&rows, lr)?;
        let alt = flat_state(&nudged.params()?, &nudged.optimizer_state()?);
        let lc = cpu.train_epoch(batch, lr)?.mean_loss();
        let lg = gpu.train_epoch(batch, lr)?.mean_loss();
        exact.train_epoch(batch, lr)?;
        let rel = ((lg - lc) / lc.abs().max(1e-30)).abs();
        max_loss_rel = if rel.is_nan() { f64::INFINITY } else { max_loss_rel.max(rel) };
        state = (cpu.params()?, cpu.optimizer_state()?);
        let c = flat_state(&state.0, &state.1);
        let g = flat_state(&gpu.params()?, &gpu.optimizer_state()?);
        let r = flat_state(&exact.params()?, &exact.optimizer_state()?);
        for (t, (_, range)) in names.iter().enumerate() {
            // block 0 is the parameters, block 1 + s optimizer slot s (the order of flat_state)
            let base = (t / per_block) * params.data.len();
            let i = base + range.start..base + range.end;
            let sk = &skip[range.clone()];
            if !judge_step(&mut diffs[t], k + 1, tol, &before[i.clone()], &c[i.clone()], &alt[i.clone()], &g[i.clone()], &r[i], sk) {
                first_bad_step.get_or_insert(k + 1);
            }
        }
    }
    Ok(Lockstep {
        gpu: gpu.describe(),
        steps,
        epochs_touched: steps.div_ceil(schedule.steps_per_epoch()),
        tolerance: tol,
        tensors: diffs,
        max_loss_rel,
        first_bad_step,
        kink_steps,
    })
}

/// Which parameter elements a step's units at their kink touch: the unit's weight row and bias in
/// its own layer, and every layer below it (the backward pass carries the other branch down).
fn kink_mask(params: &Params<f64>, kinks: &[Vec<usize>]) -> Vec<bool> {
    let mut skip = vec![false; params.data.len()];
    for (l, units) in kinks.iter().enumerate() {
        if units.is_empty() {
            continue;
        }
        let slot = params.layout.layers[l];
        for &j in units {
            skip[slot.weight + j * slot.inputs..slot.weight + (j + 1) * slot.inputs].fill(true);
            skip[slot.bias + j] = true;
        }
        for below in &params.layout.layers[..l] {
            skip[below.weight_range()].fill(true);
            skip[below.bias_range()].fill(true);
        }
    }
    skip
}
