//! What a PyTorch, Keras or scikit-learn user expects of the settings: a setting the chosen
//! optimizer or data source has no use for is refused by name, and the ones PyTorch gives a
//! meaning take that meaning (SGD with momentum, AdamW's default weight decay).

use assert_cmd::Command;
use std::path::Path;
use wgpu_mlp::model::load_model;

/// A 60-row, 2-feature, 2-class CSV in `dir`.
fn tiny_csv(dir: &Path) {
    let rows: String = (0..60).map(|i| format!("{},{},{}\n", (i % 7) as f32 / 7.0, (i % 5) as f32 / 5.0, i % 2)).collect();
    std::fs::write(dir.join("t.csv"), format!("a,b,y\n{rows}")).unwrap();
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("wgpu-mlp").unwrap().current_dir(dir).args(args).output().unwrap()
}

/// Trains 2 epochs on the tiny CSV into `dir/out` with `extra`; returns the weights' bits.
fn weights(dir: &Path, out: &str, extra: &[&str]) -> Vec<u32> {
    let mut args = vec!["train", "--device", "cpu", "--csv", "t.csv", "--target", "y", "--layers", "2,4,2", "--epochs", "2", "--batch", "8", "--out", out, "--json"];
    args.extend_from_slice(extra);
    let o = run(dir, &args);
    assert!(o.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&o.stderr));
    load_model(dir.join(out).join("model.safetensors")).unwrap().1.data.iter().map(|x| x.to_bits()).collect()
}

/// The failure contract: non-zero exit, one stderr line starting "error:" naming every `mention`.
fn refused(dir: &Path, args: &[&str], mentions: &[&str]) {
    let o = run(dir, args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && !err.contains("panicked"), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("error:"), "{err}");
    for m in mentions {
        assert!(err.contains(m), "{args:?}: does not name {m:?}: {err}");
    }
}

#[test]
fn sgd_with_momentum_is_pytorch_sgd_momentum() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let p = d.path();
    let sgd_momentum = weights(p, "a", &["--optimizer", "sgd", "--momentum", "0.5"]);
    assert_eq!(sgd_momentum, weights(p, "b", &["--optimizer", "momentum", "--momentum", "0.5"]));
    assert_ne!(sgd_momentum, weights(p, "c", &["--optimizer", "sgd"]), "momentum must take effect");
    let sgd_nesterov = weights(p, "d", &["--optimizer", "sgd", "--momentum", "0.5", "--nesterov"]);
    assert_eq!(sgd_nesterov, weights(p, "e", &["--optimizer", "nesterov", "--momentum", "0.5"]));
    assert_eq!(sgd_nesterov, weights(p, "f", &["--optimizer", "momentum", "--momentum", "0.5", "--nesterov"]));
    // momentum 0 is plain SGD, as in PyTorch
    assert_eq!(weights(p, "g", &["--optimizer", "sgd", "--momentum", "0"]), weights(p, "h", &["--optimizer", "sgd"]));
}

#[test]
fn adamw_decays_by_default() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let p = d.path();
    let adamw = weights(p, "a", &["--optimizer", "adamw", "--lr", "0.01"]);
    assert_eq!(adamw, weights(p, "b", &["--optimizer", "adamw", "--lr", "0.01", "--weight-decay", "0.01"]));
    assert_ne!(adamw, weights(p, "c", &["--optimizer", "adam", "--lr", "0.01"]));
    assert_eq!(weights(p, "d", &["--optimizer", "adamw", "--lr", "0.01", "--weight-decay", "0"]), weights(p, "e", &["--optimizer", "adam", "--lr", "0.01"]));
}

#[test]
fn settings_the_optimizer_has_no_use_for_are_refused() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let base = ["train", "--device", "cpu", "--csv", "t.csv", "--target", "y", "--layers", "2,4,2", "--epochs", "1", "--out", "r"];
    for (extra, names) in [
        (&["--optimizer", "sgd", "--nesterov"][..], &["--nesterov", "momentum"][..]),
        (&["--optimizer", "adam", "--momentum", "0.5"], &["--momentum", "adam", "--beta1"]),
        (&["--optimizer", "adamw", "--nesterov"], &["--nesterov", "adamw"]),
        (&["--optimizer", "adam", "--rho", "0.9"], &["--rho", "adam"]),
        (&["--optimizer", "momentum", "--beta1", "0.8"], &["--beta1", "momentum"]),
        (&["--optimizer", "rmsprop", "--beta2", "0.9"], &["--beta2", "rmsprop"]),
        (&["--optimizer", "sgd", "--eps", "1e-6"], &["--eps", "sgd"]),
        (&["--optimizer", "rmsprop", "--nesterov"], &["--nesterov", "--momentum"]),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        refused(d.path(), &args, names);
        assert!(!d.path().join("r").exists(), "{extra:?} left a run directory");
    }
    refused(d.path(), &["train", "--device", "cpu", "--target", "y", "--epochs", "1", "--out", "r"], &["--target", "--csv"]);
}
