//! `wgpu-mlp check`: the GPU engine against the CPU engine on the data and settings `train` would
//! use. Lockstep by default (the verdict); `--free` reports how free-running runs separate.

use super::train::TrainArgs;
use clap::Args;
use std::process::ExitCode;
use wgpu_mlp::crosscheck::{free_run, lockstep, Free, Lockstep, Tolerance};
use wgpu_mlp::run::{check_fits, initial_params, read_data};
use wgpu_mlp::Error;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// training steps to compare (continuing into later epochs as `train` would)
    #[arg(long, default_value_t = 100)]
    steps: usize,
    /// run both engines free instead of in lockstep: report the step where they separate and the
    /// final validation loss/accuracy against CPU runs started one rounding apart
    #[arg(long)]
    free: bool,
    /// lockstep: the GPU's step may be this many times further from the f64 step than the CPU f32 engine's
    #[arg(long, default_value_t = Tolerance::LOCKSTEP.factor, allow_negative_numbers = true)]
    factor: f64,
    /// lockstep: and this many f32 ulps of each element on top
    #[arg(long, default_value_t = Tolerance::LOCKSTEP.ulps, allow_negative_numbers = true)]
    ulps: f64,
    /// free: CPU runs from weights nudged by one ulp, whose spread the GPU run must fall in
    #[arg(long, default_value_t = 4)]
    perturbed: usize,
    /// network, optimizer, regularisation, data (--data, --csv/--target, --val, ...) as for `train`
    #[command(flatten)]
    train: TrainArgs,
}

pub fn run(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let tol = Tolerance { factor: a.factor, ulps: a.ulps };
    tol.validate()?;
    if a.steps == 0 {
        return Err(Error::config("steps", "must be at least 1").into());
    }
    if !(1..=64).contains(&a.perturbed) && a.free {
        return Err(Error::config("perturbed", format!("{} must be in 1..=64", a.perturbed)).into());
    }
    let run = &a.train.settings.run;
    for (given, flag) in [(run.out.is_some(), "out"), (a.train.resume.is_some(), "resume"), (run.kfold.is_some(), "kfold")] {
        if given {
            return Err(Error::config(flag, "check writes no run directory and compares one split; drop it").into());
        }
    }
    let cfg = wgpu_mlp::run::resolve_hidden(&a.train.to_config()?)?;
    let plan = cfg.validate()?;
    let (setup, opts) = (&plan.setup, &plan.fit);
    let mut data = read_data(&plan.source, setup.spec.loss.is_classification(), plan.val(), setup.seed)?;
    wgpu_mlp::run::standardize_splits(&cfg, &mut data.splits);
    let train = &data.splits.train;
    check_fits(setup, train)?;
    let params = initial_params(&cfg, setup)?;
    let spec = setup.spec.describe();
    let json = a.train.json;
    if !json {
        println!("data: {}, {} (training on {} samples)", data.what, data.splits.protocol, train.len);
    }
    if a.free {
        let eval = match &data.splits.val {
            Some(v) => ("validation", v),
            None => ("training", train),
        };
        let r = free_run(None, setup, opts, &params, train, eval, a.steps, a.perturbed)?;
        if json {
            println!("{}", serde_json::json!({"free": r, "data": data.what, "pass": r.passed()}));
        } else {
            print_free(&r, &spec);
        }
        return Ok(if r.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    let r = lockstep(None, setup, opts, &params, train, a.steps, tol)?;
    if json {
        println!("{}", serde_json::json!({"lockstep": r, "data": data.what, "pass": r.passed()}));
    } else {
        print_lockstep(&r, &spec);
    }
    Ok(if r.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_lockstep(r: &Lockstep, spec: &str) {
    println!("{} lockstep steps ({} epoch(s)) of {spec} on cpu and {}", r.steps, r.epochs_touched, r.gpu);
    println!("each step starts all engines from the CPU f32 state; errors are distances from the f64 step;");
    println!("cpu err is the larger of the CPU's two f32 roundings: from the state, and from the state one ulp away");
    println!(
        "{:<26} {:>10} {:>8} {:>12} {:>12} {:>12} {:>8}",
        "tensor", "gpu/cpu", "at step", "gpu err", "cpu err", "|gpu − cpu|", "outside"
    );
    for t in &r.tensors {
        println!(
            "{:<26} {:>10.3} {:>8} {:>12.3e} {:>12.3e} {:>12.3e} {:>8}",
            t.name, t.ratio, t.worst_step, t.gpu_err, t.cpu_err, t.max_abs, t.mismatches
        );
    }
    println!("(gpu/cpu: worst ratio of the two distances from the f64 step; errors as fractions of the step's norm)");
    let left_out: usize = r.tensors.iter().map(|t| t.at_kink).sum();
    if r.kink_steps > 0 {
        println!("{} step(s) had a ReLU unit at its kink: {left_out} element-steps it touches were not judged", r.kink_steps);
    }
    println!("step loss: max relative difference {:.3e} (bound {:e})", r.max_loss_rel, Lockstep::LOSS_RTOL);
    let verdict = match r.first_bad_step {
        None if r.passed() => "PASS".to_string(),
        None => "FAIL (step losses differ)".to_string(),
        Some(s) => format!("FAIL (first at step {s})"),
    };
    println!(
        "tolerance ‖gpu − f64‖ <= {}·max(‖cpu − f64‖, ‖cpu′ − f64‖) + {} ulp, per tensor and step: {verdict}",
        r.tolerance.factor, r.tolerance.ulps
    );
}

fn print_free(r: &Free, spec: &str) {
    let step = |s: Option<usize>| s.map(|s| s.to_string()).unwrap_or_else(|| "never".into());
    println!("{} free-running steps of {spec} on cpu f64, cpu f32 and {}", r.steps, r.gpu);
    println!("{:<22} {:>14} {:>14} {:>16}", "separation", "first >= 1e-4", "first >= 1e-2", "at the end");
    for s in &r.separations {
        println!("{:<22} {:>14} {:>14} {:>16.3e}", s.pair, step(s.first_1e4), step(s.first_1e2), s.final_separation);
    }
    println!("on the {}:", r.evaluated_on);
    for e in r.ends.iter().chain(&r.perturbed) {
        let acc = e.accuracy.map(|a| format!("  accuracy {:.4}", a)).unwrap_or_default();
        println!("  {:<28} loss {:.6}{acc}", e.run, e.loss);
    }
    let (lo, hi) = r.loss_band;
    let acc = r.accuracy_band.map(|(a, b)| format!(", accuracy in [{a:.4}, {b:.4}]")).unwrap_or_default();
    println!("gpu f32 within the CPU f32 runs' spread: loss in [{lo:.6}, {hi:.6}]{acc}: {}", if r.passed() { "PASS" } else { "FAIL" });
}
