//! Free-running comparison: CPU f64, CPU f32 and the GPU each run on their own; when they
//! separate, and whether the GPU's end lies within the spread of CPU runs started one ulp apart.

use rand::{Rng, SeedableRng};
use super::{gpu_engine, StepSchedule};
use crate::cpu::CpuEngine;
use crate::data::Dataset;
use crate::engine::{Engine, TrainSetup};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::model::Params;
use crate::train::FitOptions;
use serde::Serialize;
use std::sync::Arc;

/// How far two free-running trajectories are apart: max over tensors of max|a − b| / max|b|.
pub fn separation(a: &Params<f32>, b: &Params<f64>) -> f64 {
    a.layout
        .tensors()
        .into_iter()
        .map(|(_, r)| {
            let scale = b.data[r.clone()].iter().fold(0.0f64, |m, &x| m.max(x.abs())).max(1e-30);
            let d = a.data[r.clone()].iter().zip(&b.data[r]).fold(0.0f64, |m, (&x, &y)| m.max((x as f64 - y).abs()));
            if d.is_nan() { f64::INFINITY } else { d / scale }
        })
        .fold(0.0, f64::max)
}

/// Free-running separation of one pair of engines.
#[derive(Clone, Debug, Serialize)]
pub struct Separation {
    /// "cpu f32 vs cpu f64", "gpu f32 vs cpu f64" or "gpu f32 vs cpu f32".
    pub pair: String,
    /// First step (1-based) at which the [`separation`] reached 1e-4; None: never.
    pub first_1e4: Option<usize>,
    /// First step (1-based) at which the [`separation`] reached 1e-2; None: never.
    pub first_1e2: Option<usize>,
    /// The [`separation`] after the last step.
    pub final_separation: f64,
}

/// Where one free run ended, on the validation set (the training set when there is none).
#[derive(Clone, Debug, Serialize)]
pub struct RunEnd {
    /// Which run: "cpu f64", "cpu f32", "gpu f32" or "cpu f32, start nudged #i".
    pub run: String,
    /// Mean data loss.
    pub loss: f64,
    /// Accuracy in [0, 1] (classification losses only).
    pub accuracy: Option<f64>,
}

/// What [`free_run`] found: when the runs separated, where they ended, and whether the GPU's end
/// lies within the CPU runs' spread ([`Free::passed`]).
#[derive(Clone, Debug, Serialize)]
pub struct Free {
    /// The GPU engine's description.
    pub gpu: String,
    /// Steps each run took.
    pub steps: usize,
    /// What the ends were measured on, e.g. "validation (1000 samples)".
    pub evaluated_on: String,
    /// The three pairs, in the order of [`Separation::pair`]'s list.
    pub separations: Vec<Separation>,
    /// cpu f64, cpu f32, gpu f32, in that order.
    pub ends: Vec<RunEnd>,
    /// CPU f32 runs whose starting weights were each rounded one ulp away.
    pub perturbed: Vec<RunEnd>,
    /// The band the GPU's final loss must fall in: the CPU f32 runs' range, widened by its width
    /// on each side and by at least [`Free::LOSS_FLOOR`] relative.
    pub loss_band: (f64, f64),
    /// The same for accuracy, at least [`Free::ACCURACY_FLOOR_SAMPLES`] wide on each side
    /// (classification losses only).
    pub accuracy_band: Option<(f64, f64)>,
}

impl Free {
    /// Smallest half-width of the loss band, relative to the loss: where the runs do not diverge
    /// (SGD, momentum), per-step reordering of f32 sums on the GPU adds up over hundreds of steps
    /// to more than one rounding of the start (see README "Exactness").
    pub const LOSS_FLOOR: f64 = 1e-3;
    /// Smallest half-width of the accuracy band in samples.
    pub const ACCURACY_FLOOR_SAMPLES: f64 = 2.0;

    /// Where the GPU run ended (`ends[2]`).
    pub fn gpu_end(&self) -> &RunEnd {
        &self.ends[2]
    }

    /// Whether the GPU's final loss (and accuracy) lie inside their bands.
    pub fn passed(&self) -> bool {
        let g = self.gpu_end();
        let inside = |v: f64, (lo, hi): (f64, f64)| v >= lo && v <= hi;
        inside(g.loss, self.loss_band)
            && match (g.accuracy, self.accuracy_band) {
                (Some(a), Some(b)) => inside(a, b),
                _ => true,
            }
    }
}

/// The starting weights with every element rounded one ulp up or down (seeded).
fn nudged(p: &Params<f32>, seed: u64) -> Params<f32> {
    let mut q = p.clone();
    nudge(&mut q.data, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    q
}

/// Every nonzero element rounded one ulp up or down (zeros stay: an unused slot or a pruned
/// weight is exact).
pub(super) fn nudge(xs: &mut [f32], rng: &mut impl Rng) {
    for x in xs {
        if *x != 0.0 {
            *x = if rng.random::<bool>() { x.next_up() } else { x.next_down() };
        }
    }
}

fn end_of<E: Engine + ?Sized>(run: &str, e: &mut E, data: &Dataset, classification: bool) -> Result<RunEnd> {
    let s = e.evaluate(data)?;
    Ok(RunEnd { run: run.into(), loss: s.mean_loss(), accuracy: classification.then(|| s.accuracy()) })
}

/// A range widened by its width on both sides and to at least `floor` around its middle.
fn band(values: impl Iterator<Item = f64> + Clone, floor: f64) -> (f64, f64) {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    let w = hi - lo;
    let mid = 0.5 * (lo + hi);
    ((lo - w).min(mid - floor), (hi + w).max(mid + floor))
}

/// `steps` free-running steps on a CPU f64, a CPU f32 and the GPU engine from `params`, plus
/// `perturbed` CPU f32 runs from weights one rounding away; ends evaluated on `eval`.
#[allow(clippy::too_many_arguments)]
pub fn free_run(
    ctx: Option<Arc<GpuContext>>,
    setup: &TrainSetup,
    opts: &FitOptions,
    params: &Params<f32>,
    train: &Dataset,
    eval: (&str, &Dataset),
    steps: usize,
    perturbed: usize,
) -> Result<Free> {
    if steps == 0 {
        return Err(Error::config("steps", "must be at least 1"));
    }
    let classification = setup.spec.loss.is_classification();
    let mut gpu = gpu_engine(ctx, setup, params)?;
    let mut cpu = CpuEngine::<f32>::new(setup.clone(), params.clone())?;
    let mut f64_ref = CpuEngine::<f64>::new(setup.clone(), params.cast(|x| x as f64))?;
    gpu.load_train(train)?;
    cpu.load_train(train)?;
    f64_ref.load_train(train)?;
    let pairs = ["cpu f32 vs cpu f64", "gpu f32 vs cpu f64", "gpu f32 vs cpu f32"];
    let mut seps: Vec<Separation> =
        pairs.iter().map(|p| Separation { pair: (*p).into(), first_1e4: None, first_1e2: None, final_separation: 0.0 }).collect();
    let mut schedule = StepSchedule::new(opts, setup.batch, train.len);
    for k in 0..steps {
        let (batch, lr) = schedule.step(k);
        f64_ref.train_epoch(batch, lr)?;
        cpu.train_epoch(batch, lr)?;
        gpu.train_epoch(batch, lr)?;
        let (r, c, g) = (f64_ref.params()?, cpu.params()?, gpu.params()?);
        let now = [separation(&c, &r), separation(&g, &r), separation(&g, &c.cast(|x| x as f64))];
        for (s, v) in seps.iter_mut().zip(now) {
            if v >= 1e-4 {
                s.first_1e4.get_or_insert(k + 1);
            }
            if v >= 1e-2 {
                s.first_1e2.get_or_insert(k + 1);
            }
            s.final_separation = v;
        }
    }
    let (name, data) = eval;
    let mut ends = vec![end_of("cpu f64", &mut f64_ref, data, classification)?, end_of("cpu f32", &mut cpu, data, classification)?];
    ends.push(end_of("gpu f32", &mut gpu, data, classification)?);
    let mut others = Vec::new();
    for i in 0..perturbed {
        let mut e = CpuEngine::<f32>::new(setup.clone(), nudged(params, i as u64 + 1))?;
        e.load_train(train)?;
        let mut schedule = StepSchedule::new(opts, setup.batch, train.len);
        for k in 0..steps {
            let (batch, lr) = schedule.step(k);
            e.train_epoch(batch, lr)?;
        }
        others.push(end_of(&format!("cpu f32, start nudged #{}", i + 1), &mut e, data, classification)?);
    }
    let cpu_runs: Vec<&RunEnd> = std::iter::once(&ends[1]).chain(&others).collect();
    let loss_mid = ends[1].loss.abs();
    let loss_band = band(cpu_runs.iter().map(|r| r.loss), Free::LOSS_FLOOR * loss_mid);
    let accuracy_band = classification.then(|| {
        band(cpu_runs.iter().filter_map(|r| r.accuracy), Free::ACCURACY_FLOOR_SAMPLES / data.len.max(1) as f64)
    });
    Ok(Free {
        gpu: gpu.describe(),
        steps,
        evaluated_on: format!("{name} ({} samples)", data.len),
        separations: seps,
        ends,
        perturbed: others,
        loss_band,
        accuracy_band,
    })
}
