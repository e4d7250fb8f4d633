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
    let ok = wgpu_mlp().args(["check", "--steps", "3", "--optimizer", "momentum", "--l2", "1e-3", "--dropout", "0.9"]).output().unwrap();
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
