//! The CPU engine: the Engine trait over the CPU kernel twins, generic over f32 and f64.

use super::augment::augment_batch;
use super::gather::gather_batch;
use super::loss::{loss_forward_backward, BatchTargets};
use super::network::{forward, loss_and_grads, DropoutStep, Workspace};
use super::optimizer::optimizer_update_norm;
use super::reduce::penalty;
use crate::data::{check_augmentable, Dataset, Targets};
use crate::engine::{check_dataset_fits, Engine, EpochStats, EvalStats, TrainSetup};
use crate::error::{Error, Result};
use crate::model::{ParamLayout, Params};
use crate::optim::{clip_coefficient, OptimizerState, UpdateParams};
use crate::rng::seed_key;
use crate::scalar::Scalar;

/// Rows per chunk when evaluating or predicting.
const EVAL_CHUNK: usize = 1024;

/// The reference [`Engine`]: the same steps as the GPU engine (`gpu::GpuEngine`), computed by the CPU
/// kernel twins in f32 (to compare with the GPU) or f64 (for golden numbers and gradient checks).
pub struct CpuEngine<T: Scalar> {
    setup: TrainSetup,
    params: Params<T>,
    state: OptimizerState<T>,
    train: Option<Dataset>,
    ws: Workspace<T>,
    eval_ws: Option<Workspace<T>>,
    snapshot: Option<Vec<T>>,
    key: u32,
}

impl<T: Scalar> CpuEngine<T> {
    /// An engine with `params` and zero optimizer state; [`Error::Config`] if the spec, optimizer,
    /// regularisation or batch size is invalid, [`Error::Shape`] if `params` do not fit the spec.
    pub fn new(setup: TrainSetup, params: Params<T>) -> Result<Self> {
        setup.spec.validate()?;
        setup.optimizer.validate()?;
        setup.regularization.validate(setup.spec.num_layers())?;
        if params.layout != ParamLayout::new(&setup.spec) {
            return Err(Error::Shape { op: "CpuEngine::new", msg: "parameters do not fit the network spec".into() });
        }
        if setup.batch == 0 {
            return Err(Error::config("batch", "must be at least 1"));
        }
        let ws = Workspace::new(&setup, &params, setup.batch);
        let state = fresh_state(&setup, &params);
        let key = seed_key(setup.seed);
        Ok(CpuEngine { setup, params, state, train: None, ws, eval_ws: None, snapshot: None, key })
    }

    /// The step counter (steps taken so far).
    pub fn step(&self) -> u64 {
        self.state.step
    }

    fn check_data(&self, data: &Dataset) -> Result<()> {
        check_dataset_fits(&self.setup, data)
    }

    /// Forward over `data` in chunks, calling `visit(first_row, rows, logits)`.
    fn for_each_chunk(&mut self, data: &Dataset, mut visit: impl FnMut(usize, usize, &[T], BatchTargets)) {
        let ws = self.eval_ws.get_or_insert_with(|| Workspace::new(&self.setup, &self.params, EVAL_CHUNK));
        let order: Vec<u32> = (0..data.len as u32).collect();
        let (mut labels, mut values) = (Vec::new(), Vec::new());
        let k = self.setup.spec.outputs();
        let layers = self.setup.spec.num_layers();
        for (c, chunk) in order.chunks(EVAL_CHUNK).enumerate() {
            let rows = chunk.len();
            gather_batch(data, chunk, &mut ws.h[0][..rows * data.dim], &mut labels, &mut values);
            forward(&self.setup, &self.params, ws, rows, None);
            let targets = match data.targets {
                Targets::Classes { .. } => BatchTargets::Classes(&labels),
                Targets::Values { .. } => BatchTargets::Values(&values),
            };
            visit(c * EVAL_CHUNK, rows, &ws.h[layers][..rows * k], targets);
        }
    }
}

/// Fresh zero moments for the configured optimizer.
fn fresh_state<T: Scalar>(setup: &TrainSetup, params: &Params<T>) -> OptimizerState<T> {
    OptimizerState { slots: vec![vec![T::zero(); params.data.len()]; setup.optimizer.state_slots()], step: 0 }
}

impl<T: Scalar> Engine for CpuEngine<T> {
    type Elem = T;

    fn describe(&self) -> String {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        format!("cpu ({} , {threads} threads)", std::any::type_name::<T>()).replace(" ,", ",")
    }

    fn setup(&self) -> &TrainSetup {
        &self.setup
    }

    fn set_params(&mut self, params: &Params<T>) -> Result<()> {
        if params.layout != self.params.layout {
            return Err(Error::Shape { op: "set_params", msg: "parameters of another architecture".into() });
        }
        self.params = params.clone();
        self.state = fresh_state(&self.setup, &self.params);
        Ok(())
    }

    fn params(&mut self) -> Result<Params<T>> {
        Ok(self.params.clone())
    }

    fn optimizer_state(&mut self) -> Result<OptimizerState<T>> {
        Ok(self.state.clone())
    }

    fn set_optimizer_state(&mut self, state: &OptimizerState<T>) -> Result<()> {
        let want = self.setup.optimizer.state_slots();
        if state.slots.len() != want || state.slots.iter().any(|s| s.len() != self.params.data.len()) {
            return Err(Error::Shape { op: "set_optimizer_state", msg: "optimizer state of another shape".into() });
        }
        self.state = state.clone();
        Ok(())
    }

    fn snapshot_params(&mut self) -> Result<()> {
        self.snapshot = Some(self.params.data.clone());
        Ok(())
    }

    fn restore_snapshot(&mut self) -> Result<()> {
        let snap = self.snapshot.as_ref().ok_or_else(|| Error::config("snapshot", "no snapshot taken"))?;
        self.params.data.copy_from_slice(snap);
        Ok(())
    }

    fn load_train(&mut self, data: &Dataset) -> Result<()> {
        self.check_data(data)?;
        self.train = Some(data.clone());
        Ok(())
    }

    fn load_train_owned(&mut self, data: Dataset) -> Result<()> {
        self.check_data(&data)?;
        self.train = Some(data);
        Ok(())
    }

    fn train_epoch(&mut self, order: &[u32], lr: f64) -> Result<EpochStats> {
        let data = self.train.take().ok_or_else(|| Error::config("data", "no training set loaded"))?;
        // On a worker of rayon's pool, the products the gemm crate threads keep a share on this
        // thread instead of handing all of it over (faster from config B up: `bench --configs B`).
        let result = rayon::scope(|_| self.run_epoch(&data, order, lr));
        self.train = Some(data);
        result
    }

    fn evaluate(&mut self, data: &Dataset) -> Result<EvalStats> {
        self.check_data(data)?;
        let (loss, k) = (self.setup.spec.loss, self.setup.spec.outputs());
        let mut stats = EvalStats { samples: data.len as u64, ..Default::default() };
        self.for_each_chunk(data, |_, rows, logits, targets| {
            let (l, c) = loss_forward_backward(loss, rows, k, logits, targets, None, T::one());
            stats.loss_sum += l;
            stats.correct += c;
        });
        Ok(stats)
    }

    fn predict(&mut self, data: &Dataset) -> Result<Vec<f32>> {
        if data.dim != self.setup.spec.inputs() {
            return Err(Error::config(
                "input",
                format!("samples have {} features but the first layer takes {}", data.dim, self.setup.spec.inputs()),
            ));
        }
        let (loss, k) = (self.setup.spec.loss, self.setup.spec.outputs());
        let mut out = vec![0f32; data.len * k];
        self.for_each_chunk(data, |first, rows, logits, _| {
            let dst = &mut out[first * k..(first + rows) * k];
            super::loss::output_probabilities(loss, rows, k, logits, dst);
        });
        Ok(out)
    }
}

impl<T: Scalar> CpuEngine<T> {
    fn run_epoch(&mut self, data: &Dataset, order: &[u32], lr: f64) -> Result<EpochStats> {
        if let Some(&bad) = order.iter().find(|&&i| i as usize >= data.len) {
            return Err(Error::config("order", format!("sample index {bad} is outside the training set")));
        }
        let spec = self.setup.spec.clone();
        let layers = spec.num_layers();
        let reg = self.setup.regularization.clone();
        let mut stats = EpochStats {
            grad_norm_sum: vec![0.0; layers],
            dead_units: vec![0; layers - 1],
            saturated: vec![0; layers - 1],
            ..Default::default()
        };
        let mut alive: Vec<Vec<bool>> = (0..layers - 1).map(|l| vec![false; spec.sizes[l + 1]]).collect();
        let (mut labels, mut values) = (Vec::new(), Vec::new());
        let dropout = self.setup.has_dropout();
        let augment = match self.setup.augment {
            Some(aug) if !aug.is_identity() => Some((aug, check_augmentable(&aug, data)?)),
            _ => None,
        };

        for batch in order.chunks(self.setup.batch) {
            let rows = batch.len();
            gather_batch(data, batch, &mut self.ws.h[0][..rows * data.dim], &mut labels, &mut values);
            if let Some((aug, shape)) = &augment {
                let x = &mut self.ws.h[0][..rows * data.dim];
                augment_batch(aug, self.key, self.state.step as u32, *shape, x);
            }
            let targets = match data.targets {
                Targets::Classes { .. } => BatchTargets::Classes(&labels),
                Targets::Values { .. } => BatchTargets::Values(&values),
            };
            let drop = dropout.then_some(DropoutStep { key: self.key, step: self.state.step as u32 });
            let out = loss_and_grads(&self.setup, &self.params, &mut self.ws, rows, targets, drop, Some(&mut alive));

            let t = self.state.step + 1;
            let mut pen = 0.0;
            for l in 0..layers {
                pen += penalty(self.params.weight(l), reg.l2_of(l), reg.l1_of(l));
            }
            // the update returns ‖g + λw + β·sign(w)‖² per weight tensor: `grad_norm`, fused
            for (l, sq) in self.apply_update(lr, t).into_iter().enumerate() {
                stats.grad_norm_sum[l] += sq.sqrt();
            }
            self.state.step = t;

            stats.loss_sum += out.loss_sum + pen * rows as f64;
            stats.correct += out.correct;
            stats.samples += rows as u64;
            stats.steps += 1;
            for (s, o) in stats.saturated.iter_mut().zip(&out.saturated) {
                *s += o;
            }
        }
        for (l, a) in alive.iter().enumerate() {
            if matches!(spec.activations[l], crate::model::Activation::Relu | crate::model::Activation::LeakyRelu(_)) {
                stats.dead_units[l] = a.iter().filter(|&&x| !x).count() as u64;
            }
        }
        Ok(stats)
    }

    /// One fused update per tensor (weights then bias, layer by layer), as the GPU dispatches.
    /// Returns per layer the squared norm of the weight gradient the update applied.
    fn apply_update(&mut self, lr: f64, t: u64) -> Vec<f64> {
        let cfg = &self.setup.optimizer;
        let reg = &self.setup.regularization;
        let mut sq = vec![0.0; self.params.num_layers()];
        let grad_scale = cfg.clip_norm.map_or(1.0, |max| clip_coefficient(self.raw_grad_norm(), max));
        for (l, sq) in sq.iter_mut().enumerate() {
            let slot = self.params.layout.layers[l];
            for (range, is_bias) in [(slot.weight_range(), false), (slot.bias_range(), true)] {
                let u = UpdateParams { grad_scale, ..UpdateParams::new(cfg, lr, t, reg.l2_of(l), reg.l1_of(l), reg.l1_proximal, is_bias) };
                let (s0, s1) = split_slots(&mut self.state.slots, range.clone());
                let n = optimizer_update_norm(&u, &mut self.params.data[range.clone()], &self.ws.grads.data[range], s0, s1);
                if !is_bias {
                    *sq = n;
                }
            }
        }
        sq
    }

    /// ‖g‖ over every weight and bias of this step's loss gradient (before penalties): what
    /// `--clip-norm` bounds, as PyTorch's `clip_grad_norm_` over `model.parameters()`.
    fn raw_grad_norm(&self) -> f64 {
        let mut lanes = [0.0; super::sum::LANES];
        for slot in &self.params.layout.layers {
            for range in [slot.weight_range(), slot.bias_range()] {
                super::sum::add_squares(&mut lanes, &self.ws.grads.data[range]);
            }
        }
        lanes.iter().sum::<f64>().sqrt()
    }
}

/// Mutable views of the optimizer slots over one tensor's range (empty where a slot is unused).
fn split_slots<T>(slots: &mut [Vec<T>], range: std::ops::Range<usize>) -> (&mut [T], &mut [T]) {
    match slots {
        [] => (&mut [], &mut []),
        [a] => (&mut a[range], &mut []),
        [a, b, ..] => (&mut a[range.clone()], &mut b[range]),
    }
}
