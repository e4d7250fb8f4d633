#![cfg(unix)] // `sh`, `ulimit` and SIGKILL
//! Crash consistency of the run directory (bad-input class 4): a training run on the CPU engine
//! (tiny network and data) is aborted at every numbered write point of a whole run
//! (`WGPU_MLP_FAULT_AT=N`, see src/fault.rs: between every file write, rename and removal of
//! every checkpoint and of the other outputs), then killed again while it resumes, then
//! resumed to the end; plus a few SIGKILLs at random instants. Every kill must leave a run that
//! `--resume` continues (again and again), ending bit-identical to an uninterrupted run.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const EPOCHS: &str = "3";

/// 4 features, 3 classes, 80 rows: 32 train / 24 validation / 24 test.
fn csv(path: &Path) {
    let mut s = String::from("a,b,c,d,y\n");
    for i in 0..80u32 {
        let y = i % 3;
        let f = |k: u32| ((i * 7 + k * 13) % 17) as f32 / 17.0 + y as f32 * 0.5;
        s += &format!("{},{},{},{},{y}\n", f(0), f(1), f(2), f(3));
    }
    std::fs::write(path, s).unwrap();
}

/// `wgpu-mlp args` in `dir` without core dumps, aborting at write point `fault_at` if given.
fn command(dir: &Path, args: &[&str], fault_at: Option<usize>) -> Command {
    let exe = assert_cmd::cargo::cargo_bin("wgpu-mlp");
    let mut c = Command::new("sh");
    c.current_dir(dir).arg("-c").arg("ulimit -c 0; exec \"$0\" \"$@\"").arg(exe).args(args).env_remove("WGPU_MLP_FAULT_AT");
    if let Some(n) = fault_at {
        c.env("WGPU_MLP_FAULT_AT", n.to_string());
    }
    c.stdin(Stdio::null());
    c
}

fn run(dir: &Path, args: &[&str], fault_at: Option<usize>) -> Output {
    command(dir, args, fault_at).output().unwrap()
}

fn train_args(out: &str) -> Vec<String> {
    ["train", "--out", out, "--csv", "t.csv", "--target", "y", "--device", "cpu", "--layers", "4,6,3", "--batch", "8"]
        .into_iter()
        // validation accuracy 0.29, 0.46, 0.42: a new best file at epochs 1 and 2, none at 3
        // a checkpoint after every epoch, so there is one to kill at each
        .chain(["--val", "24", "--optimizer", "adam", "--lr", "0.03", "--epochs", EPOCHS, "--checkpoint-every", "1", "--json"])
        .map(String::from)
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The weight and bias tensors of `run/model.safetensors`, as bytes by name.
fn weights(run: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(run.join("model.safetensors")).unwrap_or_else(|e| panic!("{}: {e}", run.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut v: Vec<(String, Vec<u8>)> = st.tensors().into_iter().map(|(n, t)| (n, t.data().to_vec())).collect();
    v.sort();
    v
}

/// Brings a killed run in `dir/out` to its end: `--resume` while it has a config.toml (the
/// first attempt killed again at `second_kill`), else the original command (a kill before the
/// config was renamed into place leaves only debris). Every attempt must succeed, or have been
/// killed by the hook, or find the run complete; returns how many attempts it took.
fn finish(dir: &Path, out: &str, second_kill: Option<usize>, what: &str) -> usize {
    let run_dir = dir.join(out);
    let mut kill = second_kill;
    for attempt in 1..=4 {
        let args: Vec<String> = if run_dir.join("config.toml").is_file() {
            ["train", "--resume", out, "--json"].into_iter().map(String::from).collect()
        } else {
            train_args(out)
        };
        let o = run(dir, &strs(&args), kill.take());
        let stderr = String::from_utf8_lossy(&o.stderr);
        if o.status.success() {
            return attempt;
        }
        if stderr.contains("aborting at point") {
            continue; // the second kill
        }
        assert!(!stderr.contains("panicked"), "{what}, attempt {attempt}: {stderr}");
        // killed after model.safetensors was renamed: the run is complete
        assert!(stderr.contains("already completed") && run_dir.join("model.safetensors").is_file(), "{what}, attempt {attempt} ({args:?}) failed: {stderr}");
        return attempt;
    }
    panic!("{what}: the run did not finish in 4 attempts");
}

#[test]
fn every_kill_leaves_a_run_that_resumes_to_the_same_weights() {
    let t0 = Instant::now();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    csv(&dir.join("t.csv"));
    let o = run(dir, &strs(&train_args("reference")), None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference = weights(&dir.join("reference"));
    let uninterrupted = t0.elapsed();

    // every write point of the whole run, until a run passes them all
    let mut points = 0;
    let mut seen = Vec::new();
    for n in 1.. {
        let out = format!("k{n}");
        let o = run(dir, &strs(&train_args(&out)), Some(n));
        let stderr = String::from_utf8_lossy(&o.stderr);
        if o.status.success() {
            points = n - 1;
            std::fs::remove_dir_all(dir.join(&out)).unwrap();
            break;
        }
        assert!(stderr.contains(&format!("aborting at point {n} (")), "point {n}: not the hook's abort: {stderr}");
        seen.push(stderr.trim().to_string());
        // killed again at a varying point of the resumed run, then resumed to the end
        let second = 1 + (n * 7) % 23;
        finish(dir, &out, Some(second), &format!("kill at point {n} ({})", stderr.trim()));
        assert_eq!(weights(&dir.join(&out)), reference, "kill at point {n} ({}) then at {second}: the weights differ", stderr.trim());
        std::fs::remove_dir_all(dir.join(&out)).unwrap();
        assert!(n < 500, "no end to the write points");
    }
    // 3 epochs of a best file, the state, a removal and 3 reports, plus config and model
    assert!(points >= 30, "only {points} write points in a run of {EPOCHS} epochs");
    for want in ["best-000002.safetensors renamed", "best-000001.safetensors removed", "state.safetensors renamed", "model.safetensors renamed"] {
        assert!(seen.iter().any(|s| s.contains(want)), "no write point '{want}' in {seen:#?}");
    }

    // SIGKILL at instants spread over a run, from a fixed seed
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for k in 0..6 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let out = format!("s{k}");
        let after = Duration::from_micros(x % (uninterrupted.as_micros() as u64 + 1));
        let mut child = command(dir, &strs(&train_args(&out)), None).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(after);
        // `sh` execs the binary, so the child's pid is the trainer's
        let _ = child.kill();
        child.wait().unwrap();
        finish(dir, &out, None, &format!("SIGKILL after {after:?}"));
        assert_eq!(weights(&dir.join(&out)), reference, "SIGKILL after {after:?}: the weights differ");
    }
    eprintln!("{points} write points, each killed and resumed, and 6 SIGKILLs in {:?}", t0.elapsed());
}

/// `train_args` of 12 epochs checkpointed every 4: checkpoints at epochs 4, 8 and 12. Validation
/// accuracy peaks at epochs 2, 5, 6, 7 and 10, so the checkpoints of epochs 8 and 12 write best
/// files of epochs 7 and 10, kept in memory since.
fn sparse_args(out: &str) -> Vec<String> {
    let mut a = train_args(out);
    let i = a.iter().position(|s| s == "--checkpoint-every").unwrap();
    a[i + 1] = "4".into();
    let e = a.iter().position(|s| s == "--epochs").unwrap();
    a[e + 1] = "12".into();
    a
}

/// metrics.csv without its wall-time columns (seconds, samples/s), one entry per line.
fn metrics_rows(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    text.lines().map(|l| l.rsplitn(3, ',').nth(2).unwrap_or(l).to_string()).collect()
}

#[test]
fn a_kill_between_sparse_checkpoints_resumes_from_the_older_one_bit_identically() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    csv(&dir.join("t.csv"));
    let o = run(dir, &strs(&sparse_args("reference")), None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference = weights(&dir.join("reference"));
    let ref_rows = metrics_rows(&dir.join("reference"));
    assert_eq!(ref_rows.len(), 13, "a header and one line per epoch");
    let names: Vec<String> = std::fs::read_dir(dir.join("reference/checkpoint")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.contains(&"best-000010.safetensors".to_string()), "{names:?}");

    let mut behind = 0;
    for n in 1.. {
        let out = format!("k{n}");
        let o = run(dir, &strs(&sparse_args(&out)), Some(n));
        if o.status.success() {
            break;
        }
        let stderr = String::from_utf8_lossy(&o.stderr).trim().to_string();
        assert!(stderr.contains(&format!("aborting at point {n} (")), "point {n}: {stderr}");
        let run_dir = dir.join(&out);
        // epochs the killed run had logged, against the checkpoint a resume starts from
        let logged = std::fs::read_to_string(run_dir.join("metrics.csv")).map_or(0, |t| t.lines().count().saturating_sub(1));
        let args: Vec<String> = if run_dir.join("config.toml").is_file() {
            ["train", "--resume", &out, "--json"].into_iter().map(String::from).collect()
        } else {
            sparse_args(&out)
        };
        let o = run(dir, &strs(&args), None);
        let err = String::from_utf8_lossy(&o.stderr);
        if !o.status.success() {
            // killed after model.safetensors was renamed: the run was complete
            assert!(err.contains("already completed"), "kill at point {n} ({stderr}): {err}");
        } else if args[1] == "--resume" {
            let start: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
            let at = start["resumed_at"].as_u64().unwrap() as usize;
            assert!([0, 4, 8, 12].contains(&at), "kill at point {n} ({stderr}): resumed at epoch {at}");
            if logged > at {
                behind += 1;
            }
        }
        assert_eq!(weights(&run_dir), reference, "kill at point {n} ({stderr}): the weights differ");
        assert_eq!(metrics_rows(&run_dir), ref_rows, "kill at point {n} ({stderr}): metrics.csv differs");
        std::fs::remove_dir_all(&run_dir).unwrap();
        assert!(n < 500, "no end to the write points");
    }
    // most kills land between checkpoints, and the resume trains those epochs again
    assert!(behind >= 8, "only {behind} kills left epochs after the checkpoint to train again");
}
