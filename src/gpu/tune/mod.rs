//! The kernel tuner: for each matmul shape a run uses, the variant that is fastest on this
//! adapter, measured once and remembered (cache.rs). Modes: `off` uses the hand-picked variant
//! (`Form::untuned`), `auto` (the default) takes a remembered choice or measures one, `force`
//! measures again and overwrites what was remembered. The mode is process-wide: `--tune`, or
//! the WGPU_MLP_TUNE environment variable for front ends that have no flag.
//!
//! Every variant of a form accumulates each output in the same order (matmul_tiled.wgsl), so the
//! choice changes speed, not results; tests/gpu_kernels.rs asserts the variants bit-identical.

pub mod cache;

pub use cache::Shape;

use crate::engine::{KernelChoice, Tuning};
use crate::error::{Error, Result};
use crate::gpu::buffers::storage;
use crate::gpu::context::GpuContext;
use crate::gpu::matmul::{Form, MatmulBuffers, MatmulDims, MatmulKernel, MatmulKernels};
use crate::gpu::records::{RecordSlot, Step};
use crate::gpu::shaders::Module;
use cache::{AdapterKey, Choice, Loaded};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use wgpu::util::DeviceExt;

/// The environment variable that sets the mode where no `--tune` flag is given.
pub const MODE_ENV: &str = "WGPU_MLP_TUNE";

/// Timing budget of one engine's whole tuning (pipeline compiles come on top); split evenly
/// over the shapes still to measure.
const BUDGET: Duration = Duration::from_millis(400);
/// Timed rounds per shape at most (each round times every candidate once, interleaved).
const MAX_ROUNDS: usize = 5;
/// After a round, candidates slower than this many times the best are dropped from later rounds.
const PRUNE: f64 = 1.5;
/// Dispatches per timed submission are chosen to take about this long, so the submission's
/// fixed cost does not swamp a small kernel.
const SUBMISSION: Duration = Duration::from_millis(2);

/// How kernel variants are chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tune {
    /// the hand-picked variant, nothing measured or read
    Off,
    /// a remembered choice, or one measured now and remembered
    #[default]
    Auto,
    /// measure again, and remember the new choice
    Force,
}

impl std::str::FromStr for Tune {
    type Err = Error;
    fn from_str(s: &str) -> Result<Tune> {
        match s.trim() {
            "off" => Ok(Tune::Off),
            "auto" => Ok(Tune::Auto),
            "force" => Ok(Tune::Force),
            other => Err(Error::config("tune", format!("{other:?} is not one of off, auto, force"))),
        }
    }
}

impl std::fmt::Display for Tune {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tune::Off => "off",
            Tune::Auto => "auto",
            Tune::Force => "force",
        })
    }
}

static MODE: OnceLock<Tune> = OnceLock::new();

/// Sets the process's mode (the CLI's `--tune`); the first setting wins. Without one, `mode()`
/// reads WGPU_MLP_TUNE.
pub fn set_mode(t: Tune) {
    let _ = MODE.set(t);
}

/// The process's mode: `set_mode`'s, else WGPU_MLP_TUNE's, else `auto`. A bad variable is an
/// error naming it, not a silent default.
pub fn mode() -> Result<Tune> {
    if let Some(t) = MODE.get() {
        return Ok(*t);
    }
    match std::env::var(MODE_ENV) {
        Ok(v) if !v.trim().is_empty() => v.parse().map_err(|_| Error::config(MODE_ENV, format!("{v:?} is not one of off, auto, force"))),
        _ => Ok(Tune::Auto),
    }
}

/// Where a shape's variant came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// measured by this engine
    Tuned,
    /// measured earlier (the cache file, or another engine of this process)
    Cached,
    /// the hand-picked variant (`--tune off`)
    Untuned,
}

/// The variant of every shape an engine's plans use, and how they were chosen.
#[derive(Clone, Debug, Default)]
pub struct Choices {
    by_shape: HashMap<Shape, MatmulKernel>,
    /// each shape's choice, with its measurements where there are some
    pub report: Vec<(Shape, Origin, Option<Choice>)>,
    /// time spent compiling candidates and timing them
    pub seconds: f64,
    /// what went wrong on the way: a cache file ignored or not written, a candidate that failed
    pub notes: Vec<String>,
    /// what was measured and where it is remembered (the latest round that measured anything)
    pub tuned_note: Option<String>,
    /// the mode the choices were made in
    pub mode: Tune,
}

impl Choices {
    /// The variant for `form` at (M, N, K): the chosen one, or the hand-picked one for a shape
    /// that was not in the list.
    pub fn kernel(&self, form: Form, m: u32, n: u32, k: u32) -> MatmulKernel {
        self.by_shape.get(&Shape { form, m, n, k }).copied().unwrap_or_else(|| form.untuned(n, k))
    }

    /// No choices yet, under the process's mode.
    pub fn none() -> Result<Choices> {
        Ok(Choices { mode: mode()?, ..Choices::default() })
    }

    /// Whether `s` has a choice.
    pub fn has(&self, s: Shape) -> bool {
        self.by_shape.contains_key(&s)
    }

    /// Adds another round of choices (a plan's shapes chosen later).
    pub fn merge(&mut self, other: Choices) {
        self.by_shape.extend(other.by_shape);
        self.report.extend(other.report);
        self.seconds += other.seconds;
        self.notes.extend(other.notes);
        self.tuned_note = other.tuned_note.or(self.tuned_note.take());
    }

    /// How many shapes were measured by this engine.
    pub fn tuned(&self) -> usize {
        self.report.iter().filter(|r| r.1 == Origin::Tuned).count()
    }

    /// The choices as the engine reports them (`Engine::tuning`).
    pub fn summary(&self) -> Tuning {
        let name = |o: Origin| match o {
            Origin::Tuned => "tuned",
            Origin::Cached => "cached",
            Origin::Untuned => "untuned",
        };
        Tuning {
            mode: self.mode.to_string(),
            tuned: self.tuned(),
            seconds: self.seconds,
            choices: self
                .report
                .iter()
                .map(|(s, o, c)| KernelChoice {
                    shape: s.to_string(),
                    kernel: self.kernel(s.form, s.m, s.n, s.k).name().to_string(),
                    origin: name(*o).to_string(),
                    measured: c.iter().flat_map(|c| c.measured.iter().map(|(k, g)| (k.name().to_string(), *g))).collect(),
                })
                .collect(),
            notes: self.notes.clone(),
            tuned_note: self.tuned_note.clone(),
        }
    }
}

/// What the process remembers: the cache file's entries (read once) and this run's choices.
#[derive(Default)]
struct Memo {
    loaded: bool,
    /// false when the file must be left alone (foreign)
    writable: bool,
    entries: HashMap<(AdapterKey, String, Shape), Choice>,
    /// shapes measured by this process under `force` (measured once, then remembered)
    forced: HashSet<(AdapterKey, String, Shape)>,
}

static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

/// FNV-1a of every matmul module's source: timings taken with other kernels are stale.
fn fingerprint() -> String {
    static FP: OnceLock<String> = OnceLock::new();
    FP.get_or_init(|| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for m in Module::ALL {
            if let Module::Matmul(..) = m {
                for b in m.source().bytes() {
                    h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        format!("{h:016x}")
    })
    .clone()
}

/// Whether `kernel`'s grid for `s` stays within the adapter's workgroups per dimension.
fn grid_fits(kernel: MatmulKernel, s: Shape, max_dim: u32) -> bool {
    let (rows, cols) = kernel.tile(s.form == Form::Abt);
    let (x, y) = match s.form {
        Form::Abt => (s.n.div_ceil(cols), s.m.div_ceil(rows)),
        Form::Ab => (s.k.div_ceil(cols), s.m.div_ceil(rows)),
        Form::Atb => (s.k.div_ceil(cols), s.n.div_ceil(rows)),
    };
    x <= max_dim && y <= max_dim
}

/// The variants worth timing for `s` on this adapter.
pub fn candidates(ctx: &GpuContext, s: Shape) -> Vec<MatmulKernel> {
    let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
    s.form.candidates(&ctx.limits).into_iter().filter(|&k| grid_fits(k, s, max_dim)).collect()
}

/// The variant of every shape in `shapes` under the process's mode.
pub fn choose(ctx: &GpuContext, mm: &MatmulKernels, shapes: &[Shape]) -> Result<Choices> {
    let mode = mode()?;
    let mut out = Choices { mode, ..Choices::default() };
    let mut shapes: Vec<Shape> = shapes.to_vec();
    shapes.sort();
    shapes.dedup();
    if mode == Tune::Off {
        for s in shapes {
            out.by_shape.insert(s, s.form.untuned(s.n, s.k));
            out.report.push((s, Origin::Untuned, None));
        }
        return Ok(out);
    }
    let started = Instant::now();
    let adapter = AdapterKey::of(&ctx.info);
    let fp = fingerprint();
    let path = cache::path();
    // a panic elsewhere while the memo was held leaves it usable: it holds only finished choices
    let mut guard = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    let memo = guard.get_or_insert_with(Memo::default);
    if !memo.loaded {
        memo.loaded = true;
        memo.writable = true;
        if let Some(p) = &path {
            match cache::load(p) {
                Loaded::Entries(v) => memo.entries.extend(v.into_iter().map(|(a, f, s, c)| ((a, f, s), c))),
                Loaded::Corrupt(why) => out.notes.push(format!("ignored the tuning cache {} ({why}); it will be rewritten", p.display())),
                Loaded::Foreign(why) => {
                    memo.writable = false;
                    out.notes.push(format!("ignored the tuning cache {} ({why}); set {} to use another file", p.display(), cache::CACHE_ENV));
                }
            }
        }
    }
    let todo: Vec<Shape> = shapes
        .iter()
        .copied()
        .filter(|&s| {
            let key = (adapter.clone(), fp.clone(), s);
            let usable = memo.entries.get(&key).is_some_and(|c| candidates(ctx, s).contains(&c.kernel));
            !usable || (mode == Tune::Force && !memo.forced.contains(&key))
        })
        .collect();
    let mut fresh = Vec::new();
    for (i, &s) in todo.iter().enumerate() {
        let left = BUDGET.saturating_sub(started.elapsed());
        let budget = left / (todo.len() - i) as u32;
        // a candidate the driver cannot build or run leaves the hand-picked variant, noted
        let measured = match measure(ctx, mm, s, &candidates(ctx, s), budget) {
            Ok(m) => m,
            Err(e) => {
                out.notes.push(format!("could not time the matmul variants for {s} ({e}); using {}", s.form.untuned(s.n, s.k).name()));
                out.by_shape.insert(s, s.form.untuned(s.n, s.k));
                out.report.push((s, Origin::Untuned, None));
                continue;
            }
        };
        let choice = Choice { kernel: measured.first().map_or(s.form.untuned(s.n, s.k), |m| m.0), measured };
        let key = (adapter.clone(), fp.clone(), s);
        memo.entries.insert(key.clone(), choice.clone());
        if mode == Tune::Force {
            memo.forced.insert(key);
        }
        fresh.push((adapter.clone(), fp.clone(), s, choice));
    }
    for s in shapes {
        let key = (adapter.clone(), fp.clone(), s);
        let Some(c) = memo.entries.get(&key) else { continue };
        out.by_shape.insert(s, c.kernel);
        let origin = if todo.contains(&s) { Origin::Tuned } else { Origin::Cached };
        out.report.push((s, origin, Some(c.clone())));
    }
    let kept = match (&path, memo.writable) {
        _ if fresh.is_empty() => String::new(),
        (Some(p), true) => match cache::save(p, &fresh) {
            Ok(()) => format!("remembered in {}", p.display()),
            Err(e) => format!("not remembered: could not write {}: {e}", p.display()),
        },
        _ => "remembered by this process only".to_string(),
    };
    out.seconds = started.elapsed().as_secs_f64();
    if !fresh.is_empty() {
        out.tuned_note = Some(format!("tuned {} matmul shapes for {} in {:.2} s ({kept})", fresh.len(), ctx.info.name, out.seconds));
    }
    Ok(out)
}

/// Times every candidate for `s` on zero-filled scratch buffers: an untimed one-row dispatch each
/// (so a driver's compile on first use is not timed), then interleaved rounds until `budget` is
/// spent (at least one), candidates more than PRUNE times slower than the best dropped after each. Each candidate's best time gives its GFLOP/s,
/// fastest first: noise only adds time, so the best of a few rounds is the steadiest estimate.
pub fn measure(ctx: &GpuContext, mm: &MatmulKernels, s: Shape, candidates: &[MatmulKernel], budget: Duration) -> Result<Vec<(MatmulKernel, f64)>> {
    let dev = &ctx.device;
    let (m, n, k) = (s.m as u64, s.n as u64, s.k as u64);
    let b_off = (n * k).next_multiple_of(4);
    let bytes = |floats: u64| 4 * floats.max(4);
    let params = storage(ctx, "tuning params", bytes(b_off + n + 4))?;
    let x = storage(ctx, "tuning x", bytes(m * k))?;
    let dz = storage(ctx, "tuning dz", bytes(m * n))?;
    let out = storage(ctx, "tuning out", bytes((m * n).max(m * k).max(b_off + n + 4)))?;
    let aux = storage(ctx, "tuning aux", bytes((m * n).max(m * k)))?;
    let step_of = |rows: u32| {
        ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("tuning step"),
            contents: bytemuck::bytes_of(&RecordSlot::of(&Step::new(rows, 0, 0, 0, 1.0 / rows as f32))),
            usage: wgpu::BufferUsages::STORAGE,
        })
    };
    let (step, one_row) = (step_of(s.m), step_of(1));
    let bufs = MatmulBuffers { step: &step, params: &params, x: &x, dz: &dz, out: &out, aux: &aux };
    // the forms as training runs them: forward with bias and ReLU, backward through ReLU'
    let dims = MatmulDims { n: s.n, k: s.k, b_off: b_off as u32, act: 1, keep: 1.0, ..Default::default() };
    let (dispatches, warm) = ctx.scoped("building tuning candidates", || {
        let of = |b: &MatmulBuffers| candidates.iter().map(|&c| mm.dispatch(dev, s.form, c, &dims, b)).collect::<Vec<_>>();
        (of(&bufs), of(&MatmulBuffers { step: &one_row, ..bufs }))
    })?;
    let time = |d: &crate::gpu::pipeline::Dispatch, reps: u32, rows: u32| -> Result<Duration> {
        let t = Instant::now();
        let mut enc = dev.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..reps {
                d.record_into(&mut pass, 0, rows);
            }
        }
        ctx.queue.submit([enc.finish()]);
        ctx.wait()?;
        Ok(t.elapsed() / reps)
    };
    let started = Instant::now();
    let mut best = vec![Duration::MAX; dispatches.len()];
    let mut reps = vec![1u32; dispatches.len()];
    // a one-row dispatch each first, untimed: a driver may compile the pipeline on its first use
    for d in &warm {
        time(d, 1, 1)?;
    }
    let mut live: Vec<usize> = (0..dispatches.len()).collect();
    for round in 0..MAX_ROUNDS {
        // every candidate is timed at least once
        if round > 0 && (live.len() < 2 || started.elapsed() >= budget) {
            break;
        }
        for i in 0..live.len() {
            // rotate the order so no candidate always runs first
            let j = live[(i + round) % live.len()];
            let t = time(&dispatches[j], reps[j], s.m)?;
            best[j] = best[j].min(t);
            reps[j] = (SUBMISSION.as_secs_f64() / t.as_secs_f64().max(1e-7)).clamp(1.0, 64.0) as u32;
        }
        // a candidate far behind the best is not timed again (it keeps its measurement)
        let fastest = live.iter().map(|&j| best[j]).min().unwrap_or(Duration::MAX);
        live.retain(|&j| best[j].as_secs_f64() <= PRUNE * fastest.as_secs_f64());
    }
    ctx.check("timing tuning candidates")?;
    let flops = Form::flops(s.m, s.n, s.k);
    let mut out: Vec<(MatmulKernel, f64)> =
        candidates.iter().zip(&best).map(|(&c, t)| (c, flops / t.as_secs_f64().max(1e-9) / 1e9)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}

/// The shapes a run's training step dispatches: per layer (N outputs, K inputs), abt and atb at
/// the batch, and ab for every layer but the first. Evaluation chunks run abt with the batch's
/// variant: timing them too (up to 1024 rows) would multiply the tuning time on software
/// adapters, where one such product takes a large part of a second.
pub fn run_shapes(layers: &[(u32, u32)], batch: u32) -> Vec<Shape> {
    let mut v = Vec::new();
    for (l, &(n, k)) in layers.iter().enumerate() {
        v.push(Shape { form: Form::Abt, m: batch, n, k });
        v.push(Shape { form: Form::Atb, m: batch, n, k });
        if l > 0 {
            v.push(Shape { form: Form::Ab, m: batch, n, k });
        }
    }
    v
}

/// The cached choices for an adapter (what `wgpu-mlp devices` lists), current kernels only.
pub fn cached_for(info: &wgpu::AdapterInfo) -> Result<Vec<(Shape, Choice)>, String> {
    let Some(p) = cache::path() else { return Ok(Vec::new()) };
    let adapter = AdapterKey::of(info);
    let fp = fingerprint();
    match cache::load(&p) {
        Loaded::Entries(v) => {
            let mut out: Vec<(Shape, Choice)> = v.into_iter().filter(|e| e.0 == adapter && e.1 == fp).map(|e| (e.2, e.3)).collect();
            out.sort_by_key(|e| e.0);
            Ok(out)
        }
        Loaded::Corrupt(why) | Loaded::Foreign(why) => Err(format!("{}: {why}", p.display())),
    }
}
