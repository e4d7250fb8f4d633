//! The GPU-facing commands end to end: `check` passes within its tolerance and fails past it,
//! `devices` lists the adapter, `train --device gpu` learns the bundled digits.

mod common;

use assert_cmd::Command;

fn wgpu_mlp() -> Command {
    let mut c = Command::cargo_bin("wgpu-mlp").expect("binary built");
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    c
}

#[test]
fn check_passes_and_fails_on_its_tolerance() {
    if common::gpu("check_passes_and_fails_on_its_tolerance").is_none() {
        return;
    }
    let ok = wgpu_mlp().args(["check", "--steps", "3", "--optimizer", "momentum", "--l2", "1e-3", "--keep-prob", "0.9"]).output().unwrap();
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "check failed:\n{text}\n{}", String::from_utf8_lossy(&ok.stderr));
    assert!(text.contains("layers.1.bias") && text.contains("PASS"), "{text}");

    // zero tolerance: the GPU's f32 step cannot be exactly the f64 step everywhere
    let strict = wgpu_mlp().args(["check", "--steps", "3", "--factor", "0", "--ulps", "0"]).output().unwrap();
    assert_eq!(strict.status.code(), Some(1), "{}", String::from_utf8_lossy(&strict.stdout));
}

#[test]
fn devices_lists_the_adapter() {
    if common::gpu("devices_lists_the_adapter").is_none() {
        return;
    }
    let out = wgpu_mlp().args(["devices", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v["adapters"].as_array().unwrap().is_empty(), "{v}");
}

#[test]
fn train_on_the_gpu_learns_the_digits() {
    if common::gpu("train_on_the_gpu_learns_the_digits").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = wgpu_mlp()
        .args(["train", "--device", "gpu", "--epochs", "5", "--json", "--out"])
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let done: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let test = done["summary"]["scores"].as_array().unwrap().iter().find(|s| s["split"] == "test").unwrap().clone();
    let acc = test["accuracy"].as_f64().unwrap();
    eprintln!("GPU 784-64-10, 5 epochs: test accuracy {acc}");
    assert!(acc >= 0.92, "test accuracy {acc}");
    assert!(done["summary"]["device"].as_str().unwrap().starts_with("gpu"));
}

/// Softmax regression (no hidden layer) trains, evaluates, checks and resumes on the GPU engine.
#[test]
fn no_hidden_layer_on_the_gpu() {
    if common::gpu("no_hidden_layer_on_the_gpu").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let ok = |args: &[&str]| {
        let out = wgpu_mlp().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let r = run.to_str().unwrap();
    ok(&["train", "--device", "gpu", "--layers", "784,10", "--epochs", "1", "--json", "--out", r]);
    // a finished 1-epoch run continues to 2 epochs from its checkpoint
    let resumed = ok(&["train", "--device", "gpu", "--resume", r, "--epochs", "2", "--json"]);
    assert!(resumed.contains("\"epoch\":2"), "{resumed}");
    let model = run.join("model.safetensors");
    let eval = ok(&["eval", "--device", "gpu", "--model", model.to_str().unwrap(), "--json"]);
    assert!(eval.contains("accuracy"), "{eval}");
    let check = ok(&["check", "--layers", "784,10", "--steps", "30"]);
    assert!(check.contains("PASS"), "{check}");
}

/// A batch or layer beyond the adapter's limits ends with one line naming the flag and the
/// limit, and no run directory.
#[test]
fn gpu_limits_name_the_flag() {
    let Some(ctx) = common::gpu("gpu_limits_name_the_flag") else { return };
    let binding = ctx.limits.max_storage_buffer_binding_size.min(ctx.limits.max_buffer_size);
    let max_rows = 4 * ctx.limits.max_compute_workgroups_per_dimension as u64;
    // one more row (unit) than a 784-wide activation buffer (weight matrix) can hold
    let past_binding = binding / (4 * 784) + 1;
    let (too_many_rows, too_wide_batch, too_wide_layer) =
        ((max_rows + 1).to_string(), past_binding.to_string(), format!("784,{past_binding},10"));
    let mut cases = vec![
        (vec!["--batch", too_many_rows.as_str()], "--batch:", "max_compute_workgroups_per_dimension"),
        (vec!["--layers", too_wide_layer.as_str()], "--layers:", "max_storage_buffer_binding_size"),
    ];
    if past_binding <= max_rows {
        cases.push((vec!["--batch", too_wide_batch.as_str()], "--batch:", "max_storage_buffer_binding_size"));
    }
    let dir = tempfile::tempdir().unwrap();
    for (args, flag, limit) in cases {
        let out_dir = dir.path().join("run");
        let out = wgpu_mlp().args(["train", "--device", "gpu", "--epochs", "1", "--out"]).arg(&out_dir).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.trim().lines().count() == 1 && err.contains(flag) && err.contains(limit), "{args:?}: {err}");
        assert!(!out_dir.exists(), "{args:?} left a run directory");
    }
}

/// The GPU's limits are checked against the plan before any data is read: a batch above the
/// adapter's dispatch limit is refused by name although --data does not exist, and no run
/// directory is left.
#[test]
fn gpu_limits_are_checked_before_the_data_is_read() {
    if common::gpu("gpu_limits_are_checked_before_the_data_is_read").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = wgpu_mlp()
        .current_dir(dir.path())
        .args(["train", "--device", "gpu", "--batch", "100000000", "--data", "no-such-dir", "--out", "run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--batch") && stderr.contains("limit"), "{stderr}");
    assert!(!dir.path().join("run").exists());
}

/// All folds of a k-fold run train on one GPU context.
#[test]
fn kfold_folds_share_one_gpu_context() {
    use wgpu_mlp::config::{DataSource, DeviceChoice, EngineConfig, ModelConfig, RunConfig, TrainConfig};
    if common::gpu("kfold_folds_share_one_gpu_context").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    let rows: String = (0..60).map(|i| format!("{},{},{}\n", i % 7, i % 5, i % 2)).collect();
    std::fs::write(&csv, format!("a,b,y\n{rows}")).unwrap();
    let cfg = TrainConfig {
        model: ModelConfig { layers: vec![2, 4, 2], ..ModelConfig::default() },
        data: DataSource { csv: Some(csv), target: Some("y".into()), ..DataSource::default() },
        engine: EngineConfig { device: DeviceChoice::Gpu },
        run: RunConfig { epochs: 1, batch: 8, kfold: Some(3), out: Some(dir.path().join("cv")), ..RunConfig::default() },
        ..TrainConfig::default()
    };
    let before = wgpu_mlp::device::gpu_contexts_opened();
    let summary = wgpu_mlp::run::train_run(&cfg).unwrap();
    assert_eq!(summary.kfold.unwrap().folds.len(), 3);
    assert!(summary.device.starts_with("gpu"), "{}", summary.device);
    assert_eq!(wgpu_mlp::device::gpu_contexts_opened() - before, 1, "one context for all folds");
}
