//! `sweep plan|run|collect` as a scheduler drives them: trials as separate processes, two at a
//! time and out of order, one killed mid-run and retried; the trial index from the flag or the
//! scheduler's variables; finished trials skipped, foreign directories refused; bad sweep files
//! refused in one line with nothing written. Also `--device gpu:N` and `WGPU_MLP_ADAPTER`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use wgpu_mlp::sweep::run::INDEX_VARIABLES;

/// 4 features, 3 classes, 150 rows: 120 train / 15 validation / 15 test.
fn csv(dir: &Path) {
    let mut s = String::from("a,b,c,d,y\n");
    for i in 0..150u32 {
        let y = i % 3;
        let f = |k: u32| ((i * 7 + k * 13) % 17) as f32 / 17.0 + y as f32 * 0.4;
        s += &format!("{},{},{},{},{y}\n", f(0), f(1), f(2), f(3));
    }
    std::fs::write(dir.join("t.csv"), s).unwrap();
}

/// Six trials: three learning rates (grid) × two seeded weight-decay draws, a checkpoint
/// after every epoch so a kill leaves one to resume.
const SWEEP: &str = r#"
out = "out"
folds = FOLDS
[base]
csv = "t.csv"
target = "y"
hidden = [6]
optimizer = "adam"
epochs = 4
batch = 8
device = "cpu"
checkpoint_every = "1"
[grid]
lr = [0.003, 0.01, 0.03]
[random]
trials = 2
seed = 5
weight_decay = { log_uniform = [1e-5, 1e-2] }
"#;

/// A directory with t.csv and sweep.toml (`folds` per trial).
fn setup(folds: usize) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    csv(d.path());
    std::fs::write(d.path().join("sweep.toml"), SWEEP.replace("FOLDS", &folds.to_string())).unwrap();
    d
}

/// `wgpu-mlp args` in `dir`, none of the scheduler's variables set unless `env` sets them.
fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("wgpu-mlp"));
    c.current_dir(dir).args(args).stdin(Stdio::null()).env_remove("WGPU_MLP_FAULT_AT").env_remove("WGPU_MLP_ADAPTER");
    for v in INDEX_VARIABLES {
        c.env_remove(v);
    }
    c.envs(env.iter().copied());
    c
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir, args, env).output().unwrap()
}

fn ok(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(dir, args, env);
    assert!(out.status.success(), "{args:?} {env:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The one error line of a failed command, which must exit 2.
fn fails(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(dir, args, env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: not one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

/// The `trial` event `sweep run` ends with.
fn trial_event(stdout: &str) -> serde_json::Value {
    json_lines(stdout).into_iter().rfind(|v| v["event"] == "trial").unwrap_or_else(|| panic!("no trial event: {stdout}"))
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn trial_dir(d: &Path, t: usize) -> PathBuf {
    d.join("out").join(format!("trial-{t:04}"))
}

fn close(a: &serde_json::Value, b: f64, what: &str) {
    let a = a.as_f64().unwrap_or_else(|| panic!("{what}: {a} is not a number"));
    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{what}: table {a}, run {b}");
}

/// Six trials, two processes at a time in a shuffled order; trial 3 is killed right after its
/// first checkpoint (the fault hook aborts it, as abruptly as SIGKILL) and its retry resumes it.
/// The collected table lists every trial once, best validation accuracy first, with each
/// trial's own scores.json and metrics.csv numbers.
#[test]
fn six_trials_in_parallel_one_killed_and_retried_then_collected() {
    let d = setup(0);
    let dir = d.path();
    for pair in [[4, 3], [1, 5], [0, 2]] {
        let children: Vec<_> = pair
            .iter()
            .map(|&t| {
                let mut c = command(dir, &["sweep", "run", "sweep.toml", "--trial", &t.to_string(), "--json"], &[]);
                if t == 3 {
                    // point 10 of this run: after epoch 1's checkpoint (metrics.csv, state,
                    // history.json, curves.png are each written and renamed)
                    c.env("WGPU_MLP_FAULT_AT", "10");
                }
                (t, c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
            })
            .collect();
        for (t, child) in children {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            if t == 3 {
                assert!(!out.status.success() && stderr.contains("aborting at point 10"), "trial 3 was not killed: {stderr}");
                assert!(trial_dir(dir, 3).join("checkpoint/state.safetensors").is_file() && !trial_dir(dir, 3).join("scores.json").exists());
            } else {
                assert!(out.status.success(), "trial {t}: {stderr}");
                assert_eq!(trial_event(&String::from_utf8_lossy(&out.stdout))["how"], "started");
            }
        }
    }
    let early = read_json(&{
        ok(dir, &["sweep", "collect", "out"], &[]);
        dir.join("out/results.json")
    });
    let row3 = early["trials"].as_array().unwrap().iter().find(|r| r["trial"] == 3).unwrap().clone();
    assert_eq!(row3["status"], "unfinished", "{row3}");
    assert_eq!(early["trials"].as_array().unwrap().len(), 6, "an unfinished trial is listed, not dropped");

    // the scheduler's retry, with the index from a Slurm array
    let retry = ok(dir, &["sweep", "run", "sweep.toml", "--json"], &[("SLURM_ARRAY_TASK_ID", "3")]);
    let start = json_lines(&retry).into_iter().find(|v| v["event"] == "start").unwrap();
    assert_eq!(start["resumed_at"], 1, "the retry resumes after the checkpointed epoch: {start}");
    assert_eq!(trial_event(&retry)["how"], "resumed");

    ok(dir, &["sweep", "collect", "out"], &[]);
    let table = read_json(&dir.join("out/results.json"));
    assert_eq!(table["metric"], "val_accuracy");
    let rows = table["trials"].as_array().unwrap();
    let mut seen: Vec<u64> = rows.iter().map(|r| r["trial"].as_u64().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, [0, 1, 2, 3, 4, 5]);
    let plan: serde_json::Value = serde_json::from_str(&ok(dir, &["sweep", "plan", "sweep.toml", "--json"], &[])).unwrap();
    let mut last = f64::INFINITY;
    for r in rows {
        let t = r["trial"].as_u64().unwrap() as usize;
        assert_eq!(r["status"], "finished", "{r}");
        assert_eq!(r["settings"], plan["trials"][t]["settings"], "trial {t}'s settings");
        let run = trial_dir(dir, t);
        let scores = read_json(&run.join("scores.json"));
        let split = |name: &str| scores["scores"].as_array().unwrap().iter().find(|s| s["split"] == name).unwrap().clone();
        let (val, test) = (split("validation"), split("test"));
        close(&r["val_accuracy"]["mean"], val["accuracy"].as_f64().unwrap(), "val accuracy");
        close(&r["val_loss"]["mean"], val["loss"].as_f64().unwrap(), "val loss");
        close(&r["test_accuracy"]["mean"], test["accuracy"].as_f64().unwrap(), "test accuracy");
        close(&r["test_loss"]["mean"], test["loss"].as_f64().unwrap(), "test loss");
        // the final validation score is the best epoch's, as metrics.csv recorded it
        let best = scores["best_epoch"].as_u64().unwrap() as usize;
        let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        let header: Vec<&str> = metrics.lines().next().unwrap().split(',').collect();
        let line: Vec<&str> = metrics.lines().nth(best).unwrap().split(',').collect();
        let col = |n: &str| line[header.iter().position(|h| *h == n).unwrap()].parse::<f64>().unwrap();
        assert!((col("val_accuracy") - val["accuracy"].as_f64().unwrap()).abs() < 1e-6, "trial {t}: metrics.csv epoch {best}");
        let acc = r["val_accuracy"]["mean"].as_f64().unwrap();
        assert!(acc <= last, "not best first: {acc} after {last}");
        last = acc;
    }
    assert_eq!(table["best"], rows[0]["trial"]);
    let csv_text = std::fs::read_to_string(dir.join("out/results.csv")).unwrap();
    let order: Vec<String> = csv_text.lines().skip(1).map(|l| l.split(',').next().unwrap().to_string()).collect();
    assert_eq!(order, rows.iter().map(|r| r["trial"].to_string()).collect::<Vec<_>>(), "CSV rows in the JSON's order");
    assert!(csv_text.starts_with("trial,status,dir,lr,weight_decay,folds,val_accuracy,val_accuracy_std"), "{csv_text}");
    let names: Vec<String> = std::fs::read_dir(dir.join("out")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.contains(".tmp-")), "temporary files left: {names:?}");
}

/// K-fold trials: the table holds the mean and standard deviation over the folds that each
/// trial's kfold.json records; a killed k-fold trial starts again.
#[test]
fn kfold_trials_report_mean_and_std_over_folds() {
    let d = setup(3);
    let dir = d.path();
    ok(dir, &["sweep", "run", "sweep.toml", "--trial", "1"], &[]);
    let killed = run(dir, &["sweep", "run", "sweep.toml", "--trial", "4"], &[("WGPU_MLP_FAULT_AT", "4")]);
    assert!(!killed.status.success());
    let retry = ok(dir, &["sweep", "run", "sweep.toml", "--trial", "4", "--json"], &[]);
    assert_eq!(trial_event(&retry)["how"], "restarted");
    ok(dir, &["sweep", "collect", "out"], &[]);
    let table = read_json(&dir.join("out/results.json"));
    let rows = table["trials"].as_array().unwrap();
    for t in [1u64, 4] {
        let r = rows.iter().find(|r| r["trial"] == t).unwrap();
        let k = read_json(&trial_dir(dir, t as usize).join("kfold.json"));
        assert_eq!(k["folds"].as_array().unwrap().len(), 3);
        close(&r["val_accuracy"]["mean"], k["mean"].as_f64().unwrap(), "mean over folds");
        close(&r["val_accuracy"]["std"], k["std"].as_f64().unwrap(), "std over folds");
        assert_eq!(r["folds"], 3);
    }
    assert_eq!(rows.iter().filter(|r| r["status"] == "missing").count(), 4);
    assert!(rows[0]["trial"] == 1 || rows[0]["trial"] == 4, "finished trials first");
}

#[test]
fn plan_lists_every_trial_by_index_with_paths_beside_the_file() {
    let d = setup(0);
    let elsewhere = tempfile::tempdir().unwrap();
    let file = d.path().join("sweep.toml");
    let file = file.to_str().unwrap();
    let plan: serde_json::Value = serde_json::from_str(&ok(elsewhere.path(), &["sweep", "plan", file, "--json"], &[])).unwrap();
    let trials = plan["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 6);
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t["trial"], i);
        // grid point i / 2, then that trial's draw
        assert_eq!(t["settings"]["lr"], [0.003, 0.01, 0.03][i / 2]);
        let wd = t["settings"]["weight_decay"].as_f64().unwrap();
        assert!((1e-5..1e-2).contains(&wd), "{wd}");
        assert_eq!(Path::new(t["dir"].as_str().unwrap()), d.path().join("out").join(format!("trial-{i:04}")));
        assert_eq!(Path::new(t["config"]["csv"].as_str().unwrap()), d.path().join("t.csv"), "paths are relative to the sweep file");
    }
    assert_ne!(trials[0]["settings"]["weight_decay"], trials[1]["settings"]["weight_decay"]);
    let again: serde_json::Value = serde_json::from_str(&ok(d.path(), &["sweep", "plan", "sweep.toml", "--json"], &[])).unwrap();
    assert_eq!(again["trials"].as_array().unwrap().iter().map(|t| t["settings"].clone()).collect::<Vec<_>>(), trials.iter().map(|t| t["settings"].clone()).collect::<Vec<_>>(), "draws are seeded");
    let text = ok(d.path(), &["sweep", "plan", "sweep.toml"], &[]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("6 trials of sweep.toml"), "{text}");
    assert!(lines[1].starts_with("trial") && lines[1].contains("lr") && lines[1].contains("weight_decay"), "{text}");
    for i in 0..6 {
        assert!(lines[2 + i].starts_with(&format!("{i} ")), "{text}");
    }
    assert!(!d.path().join("out").exists() && !elsewhere.path().join("out").exists(), "plan writes nothing");

    // the base from a file: a k-fold run's config.toml (its `out` is its own directory)
    let dir = d.path();
    std::fs::write(dir.join("run.toml"), "config_version = 2\ncsv = \"t.csv\"\ntarget = \"y\"\nlayers = [4, 5, 3]\nkfold = 3\nout = \"runs/run-1\"\n").unwrap();
    std::fs::write(dir.join("from-file.toml"), "base = \"run.toml\"\nfolds = 3\n[grid]\nlr = [0.1, 0.2]\n").unwrap();
    let plan: serde_json::Value = serde_json::from_str(&ok(dir, &["sweep", "plan", "from-file.toml", "--json"], &[])).unwrap();
    assert_eq!(plan["trials"][1]["config"]["layers"], serde_json::json!([4, 5, 3]));
    assert_eq!(Path::new(plan["out"].as_str().unwrap()), dir.join("from-file-out"), "out defaults to the file's stem");
    std::fs::write(dir.join("from-file.toml"), "base = \"run.toml\"\nfolds = 2\n").unwrap();
    let e = fails(dir, &["sweep", "plan", "from-file.toml"], &[]);
    assert!(e.contains("run.toml: `kfold`"), "{e}");
}

#[test]
fn the_trial_index_comes_from_the_flag_or_the_one_scheduler_variable_set() {
    let d = setup(0);
    let dir = d.path();
    std::fs::write(dir.join("sweep.toml"), SWEEP.replace("FOLDS", "0").replace("epochs = 4", "epochs = 1")).unwrap();
    let index = |args: &[&str], env: &[(&str, &str)]| {
        let mut a = vec!["sweep", "run", "sweep.toml", "--json"];
        a.extend_from_slice(args);
        let e = trial_event(&ok(dir, &a, env));
        (e["trial"].as_u64().unwrap(), e["from"].as_str().unwrap().to_string())
    };
    let all = [("SLURM_ARRAY_TASK_ID", "1"), ("JOB_COMPLETION_INDEX", "2"), ("TRIAL_INDEX", "3")];
    assert_eq!(index(&["--trial", "0"], &all), (0, "--trial".into()));
    assert_eq!(index(&[], &all[..1]), (1, "SLURM_ARRAY_TASK_ID".into()));
    assert_eq!(index(&[], &all[1..2]), (2, "JOB_COMPLETION_INDEX".into()));
    assert_eq!(index(&[], &all[2..]), (3, "TRIAL_INDEX".into()));
    // several that agree: the first names it; several that disagree: refused, not one silently
    // winning (a launcher's TRIAL_INDEX inside a Slurm array task)
    assert_eq!(index(&[], &[("JOB_COMPLETION_INDEX", "4"), ("TRIAL_INDEX", "4")]), (4, "JOB_COMPLETION_INDEX".into()));
    let e = fails(dir, &["sweep", "run", "sweep.toml"], &all);
    assert!(e.contains("SLURM_ARRAY_TASK_ID='1' and JOB_COMPLETION_INDEX='2' disagree"), "{e}");
    let e = fails(dir, &["sweep", "run", "sweep.toml"], &all[1..]);
    assert!(e.contains("JOB_COMPLETION_INDEX='2' and TRIAL_INDEX='3' disagree"), "{e}");
    let e = fails(dir, &["sweep", "run", "sweep.toml"], &[]);
    assert!(e.contains("--trial") && e.contains("SLURM_ARRAY_TASK_ID"), "{e}");
    let e = fails(dir, &["sweep", "run", "sweep.toml"], &[("JOB_COMPLETION_INDEX", "x1")]);
    assert!(e.contains("JOB_COMPLETION_INDEX") && e.contains("'x1'"), "{e}");
    let e = fails(dir, &["sweep", "run", "sweep.toml"], &[("SLURM_ARRAY_TASK_ID", "6")]);
    assert!(e.contains("SLURM_ARRAY_TASK_ID: 6 is out of range") && e.contains("0-5"), "{e}");
    let e = fails(dir, &["sweep", "run", "sweep.toml", "--trial", "9"], &[]);
    assert!(e.contains("--trial: 9 is out of range"), "{e}");
}

#[test]
fn a_finished_trial_is_skipped_and_a_foreign_one_refused() {
    let d = setup(0);
    let dir = d.path();
    ok(dir, &["sweep", "run", "sweep.toml", "--trial", "2"], &[]);
    let model = trial_dir(dir, 2).join("model.safetensors");
    let (bytes, mtime) = (std::fs::read(&model).unwrap(), std::fs::metadata(&model).unwrap().modified().unwrap());
    let again = ok(dir, &["sweep", "run", "sweep.toml", "--trial", "2", "--json"], &[]);
    assert_eq!(trial_event(&again)["status"], "skipped", "{again}");
    assert_eq!(json_lines(&again).len(), 1, "nothing ran: {again}");
    // piped, the output is JSON lines without --json too (as train's)
    let e = trial_event(&ok(dir, &["sweep", "run", "sweep.toml"], &[("TRIAL_INDEX", "2")]));
    assert_eq!((e["status"].as_str(), e["from"].as_str()), (Some("skipped"), Some("TRIAL_INDEX")));
    assert_eq!((std::fs::read(&model).unwrap(), std::fs::metadata(&model).unwrap().modified().unwrap()), (bytes.clone(), mtime));

    // the same out, other settings: trial 2's directory is not this sweep's trial 2
    std::fs::write(dir.join("other.toml"), std::fs::read_to_string(dir.join("sweep.toml")).unwrap().replace("0.003, 0.01, 0.03", "0.003, 0.02, 0.03")).unwrap();
    let e = fails(dir, &["sweep", "run", "other.toml", "--trial", "2"], &[]);
    assert!(e.contains("trial-0002") && e.contains("`lr`"), "{e}");
    // a trial not started yet: the output directory's sweep.json says it holds another sweep
    let e = fails(dir, &["sweep", "run", "other.toml", "--trial", "0"], &[]);
    assert!(e.contains("sweep.json") && e.contains("another sweep"), "{e}");
    assert!(!trial_dir(dir, 0).exists());
    assert_eq!(std::fs::read(&model).unwrap(), bytes, "the finished trial is untouched");

    // an outcome file that cannot be read (a glitch, a foreign version) is refused, never taken
    // as "unfinished", whose cleanup would remove the finished results
    let scores = trial_dir(dir, 2).join("scores.json");
    std::fs::write(&scores, "{ not json").unwrap();
    let e = fails(dir, &["sweep", "run", "sweep.toml", "--trial", "2"], &[]);
    assert!(e.contains("scores.json") && e.contains("cannot be read"), "{e}");
    assert_eq!(std::fs::read(&model).unwrap(), bytes, "nothing removed");
    ok(dir, &["sweep", "collect", "out"], &[]);
    let table = read_json(&dir.join("out/results.json"));
    let row = table["trials"].as_array().unwrap().iter().find(|r| r["trial"] == 2).unwrap().clone();
    assert_eq!(row["status"], "unreadable", "{table}");
}

#[test]
fn bad_sweep_files_are_refused_in_one_line_with_nothing_written() {
    let d = setup(0);
    let dir = d.path();
    let base = "out = \"out\"\n[base]\ncsv = \"t.csv\"\ntarget = \"y\"\nhidden = [4]\nepochs = 1\n";
    let cases: &[(&str, &str)] = &[
        ("out = \"out\"\nlr = 0.1\n", "unknown key `lr`"),
        ("out = \"out\"\n[base]\nlrr = 0.1\n", "`base.lrr`"),
        ("out = \"out\"\n[base]\nout = \"x\"\n", "`base.out`"),
        ("[grid]\nlr = []\n", "`grid.lr`"),
        ("[grid]\nlr = 0.1\n", "`grid.lr`"),
        ("[grid]\nkfold = [3]\n", "`grid.kfold`"),
        ("[random]\nlr = { uniform = [0.1, 0.2] }\n", "`random.trials`"),
        ("[random]\ntrials = 2\nlr = { log_uniform = [0, 1] }\n", "`random.lr`"),
        ("[random]\ntrials = 2\nlr = { gauss = [0, 1] }\n", "`random.lr`"),
        ("[grid]\nlr = [0.1]\n[random]\ntrials = 2\nlr = { uniform = [0.1, 0.2] }\n", "`random.lr`"),
        ("out = \"out\"\nfolds = 1\n", "`folds`"),
        ("[grid]\nlr = [0.1, -0.5]\n", "trial 1 (lr = -0.5): `lr`"),
        ("[grid]\nbatch = [0]\n", "trial 0 (batch = 0): `batch`"),
        ("[grid]\ndevice = [\"gpu:x\"]\n", "`device`"),
        ("[grid]\nmonitor = [\"val_loss\", \"val_accuracy\"]\n", "`monitor`"),
        ("out = \"out\"\n[base]\ncsv = \"missing.csv\"\ntarget = \"y\"\n", "`csv`: "),
        ("[grid\n", "not a valid sweep file"),
    ];
    let before = std::fs::read_dir(dir).unwrap().count();
    for (extra, want) in cases {
        // each case on top of a valid base (those that begin with `out` replace it)
        let text = if extra.starts_with("out") { format!("{extra}[grid]\nseed = [0]\n") } else { format!("{base}{extra}") };
        std::fs::write(dir.join("bad.toml"), &text).unwrap();
        for cmd in ["plan", "run"] {
            let e = fails(dir, &["sweep", cmd, "bad.toml", "--trial", "0"][..if cmd == "run" { 5 } else { 3 }], &[]);
            assert!(e.contains("bad.toml") && e.contains(want), "{text}\n-> {e} (wanted {want})");
        }
    }
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), before + 1, "only bad.toml is new");
    assert!(!dir.join("out").exists());
    let e = fails(dir, &["sweep", "collect", "."], &[]);
    assert!(e.contains("sweep.json"), "{e}");
}

#[test]
fn devices_parse_by_name_and_index_in_flags_and_files() {
    use wgpu_mlp::config::{DeviceChoice, Origin, TrainConfig};
    for (text, want) in [("auto", DeviceChoice::Auto), ("GPU", DeviceChoice::Gpu), ("cpu", DeviceChoice::Cpu), ("gpu:0", DeviceChoice::Adapter(0)), (" gpu:12 ", DeviceChoice::Adapter(12))] {
        assert_eq!(DeviceChoice::parse(text).unwrap(), want, "{text}");
    }
    for bad in ["gpu:", "gpu:-1", "gpu:x", "tpu", "gpu1"] {
        let e = DeviceChoice::parse(bad).unwrap_err().to_string();
        assert!(e.contains("device") && e.contains(bad.trim()), "{bad}: {e}");
    }
    for d in ["auto", "gpu", "cpu", "gpu:3"] {
        let c = TrainConfig::from_toml_str(&format!("config_version = 2\ndevice = \"{d}\"\n"), Origin::User).unwrap();
        assert_eq!(c.engine.device.to_string(), d);
        assert!(c.to_toml().unwrap().contains(&format!("device = \"{d}\"")), "config.toml keeps {d}");
        assert_eq!(serde_json::to_value(c.engine.device).unwrap(), d, "metadata keeps {d}");
    }
    let dir = tempfile::tempdir().unwrap();
    let e = fails(dir.path(), &["train", "--device", "gpu:x", "--epochs", "1"], &[]);
    assert!(e.contains("--device") && e.contains("gpu:x"), "{e}");
    let e = fails(dir.path(), &["train", "--device", "gpu:99", "--epochs", "1", "--out", "r"], &[]);
    assert!(e.contains("--device: gpu:99: adapter 99 is out of range") && e.contains("wgpu finds"), "{e}");
    let e = fails(dir.path(), &["train", "--device", "gpu", "--epochs", "1", "--out", "r"], &[("WGPU_MLP_ADAPTER", "99")]);
    assert!(e.starts_with("error: WGPU_MLP_ADAPTER: 99: adapter 99 is out of range") && e.contains("wgpu finds"), "{e}");
    let e = fails(dir.path(), &["train", "--epochs", "1", "--out", "r"], &[("WGPU_MLP_ADAPTER", "one")]);
    assert!(e.contains("WGPU_MLP_ADAPTER") && e.contains("'one'"), "{e}");
    assert!(!dir.path().join("r").exists());
    // the CPU engine ignores the variable
    csv(dir.path());
    ok(dir.path(), &["train", "--device", "cpu", "--csv", "t.csv", "--target", "y", "--hidden", "4", "--epochs", "1", "--out", "r"], &[("WGPU_MLP_ADAPTER", "99")]);
}

/// `gpu:0` and `WGPU_MLP_ADAPTER=0` train on adapter 0 as `devices` lists it (software
/// adapters included); `auto` with the variable still runs on the CPU where no GPU is hardware.
#[test]
fn gpu_index_and_adapter_variable_pick_the_listed_adapter() {
    if common::gpu("gpu_index_and_adapter_variable_pick_the_listed_adapter").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    csv(dir.path());
    let listed: serde_json::Value = serde_json::from_str(&ok(dir.path(), &["devices", "--json"], &[])).unwrap();
    let first = &listed["adapters"][0];
    assert_eq!(first["index"], 0, "{listed}");
    let adapter = |i: usize| {
        let a = &listed["adapters"][i];
        format!("gpu: {} ({}, {})", a["name"].as_str().unwrap(), a["backend"].as_str().unwrap(), a["device_type"].as_str().unwrap())
    };
    let adapters = listed["adapters"].as_array().unwrap();
    let hardware = adapters.iter().any(|a| ["DiscreteGpu", "IntegratedGpu", "VirtualGpu"].contains(&a["device_type"].as_str().unwrap()));
    let mut cases = vec![("gpu:0", None, Some(0)), ("gpu", Some(("WGPU_MLP_ADAPTER", "0")), Some(0))];
    if adapters.len() > 1 {
        cases.push(("gpu", Some(("WGPU_MLP_ADAPTER", "1")), Some(1)));
    }
    // `auto` with the variable takes that adapter on a node with a hardware GPU, the CPU elsewhere
    // (even where the index is out of range: a scheduler sets it on every node)
    cases.push(("auto", Some(("WGPU_MLP_ADAPTER", "0")), hardware.then_some(0)));
    if !hardware {
        cases.push(("auto", Some(("WGPU_MLP_ADAPTER", "99")), None));
    }
    for (i, (device, env, want)) in cases.into_iter().enumerate() {
        let out = format!("r{i}");
        let args = ["train", "--device", device, "--csv", "t.csv", "--target", "y", "--hidden", "4", "--epochs", "1", "--json", "--out", &out];
        let text = ok(dir.path(), &args, &env.into_iter().collect::<Vec<_>>());
        let done = json_lines(&text).into_iter().rfind(|v| v["event"] == "done").unwrap();
        let used = done["summary"]["device"].as_str().unwrap();
        match want {
            Some(w) => assert_eq!(used, adapter(w), "{device} {env:?}"),
            None => assert!(used.starts_with("cpu"), "{device} {env:?}: {used}"),
        }
    }
}

/// A trial SIGKILLed mid-run (after a checkpoint) resumes on retry and ends as an uninterrupted
/// run of the same trial does; while it runs, a duplicate of it is refused and `collect` says so.
#[cfg(unix)]
#[test]
fn a_trial_killed_mid_run_resumes_to_the_uninterrupted_result() {
    let d = setup(0);
    let dir = d.path();
    // a checkpoint every 10 epochs: the kill lands between two, epochs after the last are lost
    let slow = SWEEP.replace("FOLDS", "0").replace("epochs = 4", "epochs = 80").replace("checkpoint_every = \"1\"", "checkpoint_every = \"10\"");
    std::fs::write(dir.join("sweep.toml"), &slow).unwrap();
    std::fs::write(dir.join("whole.toml"), slow.replace("out = \"out\"", "out = \"whole\"")).unwrap();
    let mut child = command(dir, &["sweep", "run", "sweep.toml", "--trial", "0", "--json"], &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let state = trial_dir(dir, 0).join("checkpoint/state.safetensors");
    let start = std::time::Instant::now();
    while !state.is_file() {
        assert!(start.elapsed().as_secs() < 60, "no checkpoint after a minute");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let e = fails(dir, &["sweep", "run", "sweep.toml", "--trial", "0"], &[]);
    let collected = run(dir, &["sweep", "collect", "out"], &[]);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    if status.success() {
        // it finished before the kill: nothing of this test's point can be checked
        eprintln!("SKIPPED the kill: the trial finished first");
        return;
    }
    assert!(e.contains("trial 0 is running in another process"), "{e}");
    assert!(collected.status.success());
    assert_eq!(read_json(&dir.join("out/results.json"))["trials"][0]["status"], "running");
    assert!(!trial_dir(dir, 0).join("scores.json").exists());

    let retry = ok(dir, &["sweep", "run", "sweep.toml", "--trial", "0", "--json"], &[]);
    assert_eq!(trial_event(&retry)["how"], "resumed");
    let at = json_lines(&retry).into_iter().find(|v| v["event"] == "start").unwrap()["resumed_at"].as_u64().unwrap();
    assert!(at >= 1, "resumed after epoch {at}");
    ok(dir, &["sweep", "run", "whole.toml", "--trial", "0"], &[]);
    let scores = |p: PathBuf| read_json(&p.join("scores.json"))["scores"].clone();
    assert_eq!(scores(trial_dir(dir, 0)), scores(dir.join("whole/trial-0000")), "killed at epoch {at} and resumed");
    ok(dir, &["sweep", "collect", "out"], &[]);
    assert_eq!(read_json(&dir.join("out/results.json"))["trials"][0]["status"], "finished");
}
