#![cfg(unix)] // symbolic links, `kill` and flock semantics of Unix
//! The run directory and other people's files (bad-input classes 3-5): a failing run removes only
//! what it created, special `--out` paths are refused, a locked directory is refused, a second
//! Ctrl-C leaves what its message says, and `--resume` refuses other data or changed settings.
//! Every refusal: non-zero exit, one stderr line starting "error:", no panic, nothing touched.

use assert_cmd::Command;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A small CSV classification table: 4 features, 3 classes, 80 rows; `shift` changes its values.
fn csv(path: &Path, shift: f32) {
    let mut s = String::from("a,b,c,d,y\n");
    for i in 0..80u32 {
        let y = i % 3;
        let f = |k: u32| ((i * 7 + k * 13) % 17) as f32 / 17.0 + y as f32 * 0.5 + shift;
        s += &format!("{},{},{},{},{y}\n", f(0), f(1), f(2), f(3));
    }
    std::fs::write(path, s).unwrap();
}

const NET: [&str; 8] = ["--device", "cpu", "--layers", "4,6,3", "--target", "y", "--batch", "8"];

fn wgpu_mlp(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("wgpu-mlp").unwrap().current_dir(dir).args(args).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = wgpu_mlp(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs and checks the failure contract; returns the one stderr line.
fn fails(dir: &Path, args: &[&str], mentions: &[&str]) -> String {
    let out = wgpu_mlp(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: stderr is not one line:\n{stderr}");
    assert!(lines[0].starts_with("error:") && lines[0].len() < 400, "{args:?}: {stderr}");
    for m in mentions {
        assert!(lines[0].contains(m), "{args:?}: stderr does not mention {m:?}: {stderr}");
    }
    lines[0].to_string()
}

fn train_args<'a>(out: &'a str, data: &'a str, epochs: &'a str) -> Vec<&'a str> {
    let mut a = vec!["train", "--out", out, "--csv", data, "--epochs", epochs];
    a.extend(NET);
    a
}

/// Every file under `dir` with its bytes, to prove nothing was touched.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(snapshot(&p).into_iter().map(|(n, b)| (format!("{}/{n}", e.file_name().to_string_lossy()), b)));
        } else {
            v.push((e.file_name().to_string_lossy().into_owned(), std::fs::read(&p).unwrap_or_default()));
        }
    }
    v.sort();
    v
}

#[test]
fn a_failing_run_removes_only_what_it_created() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    csv(&dir.join("t.csv"), 0.0);
    // another run's directory inside the shared parent
    ok(dir, &train_args("sweep/b", "t.csv", "1"));
    let before = snapshot(&dir.join("sweep"));
    let mut diverge = train_args("sweep/a", "t.csv", "1");
    diverge.extend(["--activation", "identity", "--lr", "1e10"]);
    fails(dir, &diverge, &["diverged"]);
    assert!(!dir.join("sweep/a").exists(), "the failing run's own directory is removed");
    assert_eq!(snapshot(&dir.join("sweep")), before, "the other run in sweep/ is untouched");
    // parents this run created are removed when they are empty
    let mut alone = train_args("fresh/deep/a", "t.csv", "1");
    alone.extend(["--activation", "identity", "--lr", "1e10"]);
    fails(dir, &alone, &["diverged"]);
    assert!(!dir.join("fresh").exists(), "empty parents this run created are removed");
}

#[test]
fn a_parent_another_run_moved_into_meanwhile_is_left_alone() {
    // the failing run creates sweep/ and sweep/a; another run's files appear in sweep/b while
    // its first epoch runs; then it diverges
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let exe = assert_cmd::cargo::cargo_bin("wgpu-mlp");
    let child = std::process::Command::new(&exe)
        .current_dir(dir)
        .args(["train", "--out", "sweep/a", "--device", "cpu", "--layers", "784,512,10", "--batch", "10", "--epochs", "1"])
        .args(["--activation", "identity", "--lr", "1e10"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !dir.join("sweep/a/config.toml").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "the run did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::create_dir(dir.join("sweep/b")).unwrap();
    std::fs::write(dir.join("sweep/b/config.toml"), "epochs = 3\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("diverged"), "{stderr}");
    assert!(!dir.join("sweep/a").exists(), "its own directory is removed");
    assert!(dir.join("sweep/b/config.toml").is_file(), "the other run's directory in sweep/ is untouched");
}

#[test]
fn two_runs_started_together_in_one_new_parent() {
    // the case: `--out sweep/a` (diverging) and `--out sweep/b` at once, sweep/ new
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    csv(&dir.join("t.csv"), 0.0);
    let exe = assert_cmd::cargo::cargo_bin("wgpu-mlp");
    let healthy = std::process::Command::new(&exe).current_dir(dir).args(train_args("sweep/b", "t.csv", "20")).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut diverge = train_args("sweep/a", "t.csv", "1");
    diverge.extend(["--activation", "identity", "--lr", "1e10"]);
    fails(dir, &diverge, &["diverged"]);
    let out = healthy.wait_with_output().unwrap();
    assert!(out.status.success(), "the healthy run failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("sweep/b/model.safetensors").is_file() && dir.join("sweep/b/checkpoint/state.safetensors").is_file());
    assert!(!dir.join("sweep/a").exists());
}

#[test]
fn empty_and_special_out_paths_are_refused_and_nothing_is_touched() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    csv(&dir.join("t.csv"), 0.0);
    // someone's own files in the current directory
    std::fs::write(dir.join("config.toml"), "out = \"\"\nepochs = 1\n").unwrap();
    std::fs::write(dir.join("metrics.csv"), "mine\n").unwrap();
    std::fs::write(dir.join("file.txt"), "mine\n").unwrap();
    std::os::unix::fs::symlink("no-such-target", dir.join("dangling")).unwrap();
    let before = snapshot(dir);
    let mut from_config = vec!["train", "--config", "config.toml", "--csv", "t.csv"];
    from_config.extend(NET);
    fails(dir, &from_config, &["--out", "empty"]);
    for out in [".", "..", "/", "sub/..", "./"] {
        fails(dir, &train_args(out, "t.csv", "1"), &["--out", "names no new directory"]);
    }
    fails(dir, &train_args("file.txt", "t.csv", "1"), &["--out", "file.txt", "not a directory"]);
    fails(dir, &train_args("dangling", "t.csv", "1"), &["--out", "dangling", "symbolic link"]);
    assert!(std::fs::symlink_metadata(dir.join("dangling")).is_ok(), "the dangling symlink must not be deleted");
    assert_eq!(snapshot(dir), before, "nothing in the current directory was touched");
}

/// Holds `run_dir/.lock` the way a live run does.
fn hold_lock(run_dir: &Path) -> std::fs::File {
    let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(run_dir.join(".lock")).unwrap();
    f.try_lock().unwrap();
    f
}

#[test]
fn a_locked_run_directory_is_refused_and_a_kill_releases_the_lock() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    csv(&dir.join("t.csv"), 0.0);
    // a new run into an empty directory another run holds
    std::fs::create_dir(dir.join("busy")).unwrap();
    let lock = hold_lock(&dir.join("busy"));
    fails(dir, &train_args("busy", "t.csv", "1"), &["--out", "busy", "in use by another run"]);
    assert_eq!(snapshot(&dir.join("busy")).len(), 1, "only the other run's lock file is there");
    drop(lock);

    // a resume of a run that is still running
    ok(dir, &train_args("run", "t.csv", "1"));
    let before = snapshot(&dir.join("run"));
    let lock = hold_lock(&dir.join("run"));
    let mut resume = vec!["train", "--resume", "run", "--epochs", "2"];
    resume.extend(NET);
    fails(dir, &resume, &["--resume", "run", "in use by another run"]);
    assert_eq!(snapshot(&dir.join("run")), before);
    drop(lock);
    ok(dir, &resume);

    // SIGKILL releases the lock: a live run holds it, a killed one does not
    let exe = assert_cmd::cargo::cargo_bin("wgpu-mlp");
    let mut child = std::process::Command::new(&exe).current_dir(dir).args(train_args("killed", "t.csv", "100000")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t0 = Instant::now();
    while !dir.join("killed/checkpoint/state.safetensors").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
    let f = std::fs::File::open(dir.join("killed/.lock")).unwrap();
    assert!(f.try_lock().is_err(), "a live run holds its lock");
    let mut resume = vec!["train", "--resume", "killed", "--epochs", "100000"];
    resume.extend(NET);
    fails(dir, &resume, &["in use by another run"]);
    child.kill().unwrap();
    child.wait().unwrap();
    f.try_lock().expect("the kill released the lock");
}

#[test]
fn ctrl_c_twice_before_the_first_checkpoint_removes_the_run_and_says_so() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // a first epoch far longer than the test (the bundled digits, wide layers); it never ends
    let exe = assert_cmd::cargo::cargo_bin("wgpu-mlp");
    let child = std::process::Command::new(&exe)
        .current_dir(dir)
        .args(["train", "--out", "sweep/run", "--device", "cpu", "--layers", "784,2048,2048,10", "--batch", "10", "--epochs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !dir.join("sweep/run/config.toml").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "the run did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    for _ in 0..2 {
        assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(!stderr.contains("checkpoint stays") && stderr.contains("removed sweep/run"), "{stderr}");
    assert!(!dir.join("sweep").exists(), "what this run created is gone, as the message says");
}

#[test]
fn ctrl_c_twice_after_a_checkpoint_keeps_it_and_says_so() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    csv(&dir.join("t.csv"), 0.0);
    let exe = assert_cmd::cargo::cargo_bin("wgpu-mlp");
    let child = std::process::Command::new(&exe).current_dir(dir).args(train_args("run", "t.csv", "100000")).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let t0 = Instant::now();
    while !dir.join("run/checkpoint/state.safetensors").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    for _ in 0..2 {
        // the first may end the run (its epochs are short) before the second arrives
        let _ = std::process::Command::new("kill").args(["-INT", &pid]).status();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(!stderr.contains("removed"), "{stderr}");
    if stderr.contains("interrupted again") {
        assert!(stderr.contains("the checkpoint of epoch") && stderr.contains("--resume run"), "{stderr}");
    }
    let done = wgpu_mlp::model::load_training_state(dir.join("run/checkpoint")).unwrap().epoch;
    ok(dir, &["train", "--resume", "run", "--epochs", &(done + 1).to_string()]);
}

#[test]
fn resume_refuses_other_data_and_changed_settings_by_name() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    csv(&dir.join("a.csv"), 0.0);
    csv(&dir.join("other.csv"), 0.25);
    ok(dir, &train_args("run", "a.csv", "1"));
    let before = snapshot(&dir.join("run"));
    let resume = |extra: &[&'static str]| {
        // the run's config.toml holds the network and the other settings
        let mut a = vec!["train", "--resume", "run", "--epochs", "3"];
        a.extend_from_slice(extra);
        a
    };
    fails(dir, &resume(&["--csv", "other.csv"]), &["--csv", "other.csv", "is not the data", "run"]);
    fails(dir, &resume(&["--lr", "0.1"]), &["--lr", "0.1", "0.05", "--epochs"]);
    fails(dir, &resume(&["--batch", "7"]), &["--batch", "7", "8"]);
    fails(dir, &resume(&["--optimizer", "adam"]), &["--optimizer"]);
    fails(dir, &resume(&["--l2", "0.001"]), &["--l2"]);
    fails(dir, &resume(&["--no-shuffle"]), &["--no-shuffle"]);
    assert_eq!(snapshot(&dir.join("run")), before, "a refused resume changes nothing");
    // the same data under another name, and the settings that may change
    std::fs::copy(dir.join("a.csv"), dir.join("moved.csv")).unwrap();
    ok(dir, &resume(&["--csv", "moved.csv", "--early-stop", "5", "--min-delta", "0.001"]));
}

#[test]
fn stale_files_of_a_killed_run_are_removed_on_resume() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    csv(&dir.join("a.csv"), 0.0);
    ok(dir, &train_args("run", "a.csv", "2"));
    let ck = dir.join("run/checkpoint");
    for stale in [".state.safetensors.tmp-99999", "best-000077.safetensors"] {
        std::fs::write(ck.join(stale), b"left by a kill").unwrap();
    }
    std::fs::write(dir.join("run/.metrics.csv.tmp-99999"), b"left by a kill").unwrap();
    let mut resume = vec!["train", "--resume", "run", "--epochs", "3"];
    resume.extend(NET);
    ok(dir, &resume);
    let mut names: Vec<String> = std::fs::read_dir(&ck).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let state = wgpu_mlp::model::load_training_state(&ck).unwrap();
    let best = state.extra["best"]["file"].as_str().unwrap().to_string();
    assert_eq!(names, [best, "state.safetensors".to_string()], "only the state and the best file it names remain");
    assert!(!dir.join("run/.metrics.csv.tmp-99999").exists());
}

#[test]
fn a_checkpoint_of_an_older_build_still_resumes_with_a_note() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    csv(&dir.join("a.csv"), 0.0);
    ok(dir, &train_args("run", "a.csv", "2"));
    // rewrite it as older builds wrote it: best.safetensors matched by epoch, no fingerprint
    let ck = dir.join("run/checkpoint");
    let mut state = wgpu_mlp::model::load_training_state(&ck).unwrap();
    let best = state.extra["best"]["file"].as_str().unwrap().to_string();
    std::fs::rename(ck.join(&best), ck.join("best.safetensors")).unwrap();
    let extra = state.extra.as_object_mut().unwrap();
    for k in ["best", "data", "checkpoint_version"] {
        extra.remove(k);
    }
    wgpu_mlp::model::save_training_state(&ck, &state).unwrap();
    let mut resume = vec!["train", "--resume", "run", "--epochs", "4"];
    resume.extend(NET);
    let stdout = ok(dir, &resume);
    assert!(stdout.contains("older build") && stdout.contains("not checked"), "{stdout}");
    // its next checkpoint is of the current kind and resumes again
    let state = wgpu_mlp::model::load_training_state(&ck).unwrap();
    assert!(state.extra["data"]["hash"].is_string() && !ck.join("best.safetensors").exists());
    let mut again = vec!["train", "--resume", "run", "--epochs", "5"];
    again.extend(NET);
    ok(dir, &again);
}

/// `--resume` of a directory that only holds someone's config.toml (no checkpoint, no lock
/// file of a run) is refused and leaves every file as it was: it is not a run to continue.
#[test]
fn resume_refuses_a_directory_that_is_not_a_run() {
    let d = tempfile::tempdir().unwrap();
    let exp = d.path().join("exp");
    std::fs::create_dir(&exp).unwrap();
    std::fs::write(exp.join("config.toml"), "layers = [784, 8, 10]\nepochs = 1\ndevice = \"cpu\"\n").unwrap();
    std::fs::write(exp.join("metrics.csv"), "mine\n").unwrap();
    let out = assert_cmd::Command::cargo_bin("wgpu-mlp").unwrap().current_dir(d.path()).args(["train", "--resume", "exp"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.lines().count() == 1 && err.contains("not a run directory"), "{err}");
    let mut names: Vec<String> = std::fs::read_dir(&exp).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["config.toml", "metrics.csv"], "the refused resume touched the directory");
    assert_eq!(std::fs::read_to_string(exp.join("metrics.csv")).unwrap(), "mine\n");
}

/// Runs started together without `--out` each take their own runs/run-N, all succeeding. On the
/// bundled digits each spends a while reading data before it makes its directory, the window in
/// which a directory chosen too early is taken by another run (the old behaviour failed here).
#[test]
fn parallel_runs_without_out_take_their_own_directories() {
    let d = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("wgpu-mlp");
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&bin)
                .current_dir(d.path())
                .args(["train", "--device", "cpu", "--layers", "784,4,10", "--epochs", "1", "--json"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let mut runs: Vec<String> = std::fs::read_dir(d.path().join("runs")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    runs.sort();
    assert_eq!(runs, ["run-1", "run-2", "run-3", "run-4"]);
    for r in &runs {
        assert!(d.path().join("runs").join(r).join("model.safetensors").is_file(), "{r} has no model");
    }
}
