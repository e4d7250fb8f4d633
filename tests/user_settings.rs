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
    let csv = if extra.contains(&"--csv") { vec![] } else { vec!["--csv", "t.csv"] };
    let mut args = vec!["train", "--device", "cpu", "--target", "y", "--layers", "2,4,2", "--batch", "8", "--out", out, "--json"];
    args.extend(csv);
    if !extra.contains(&"--epochs") && !extra.contains(&"--config") {
        args.extend(["--epochs", "2"]);
    }
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

/// `--dropout P` drops with probability P, as `nn.Dropout(p)` and Keras' `Dropout(rate)`; the
/// course's keep probability is `--keep-prob`, and config.toml and the model say which was given.
#[test]
fn dropout_is_the_drop_probability() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let p = d.path();
    let drop = weights(p, "a", &["--dropout", "0.25"]);
    assert_eq!(drop, weights(p, "b", &["--keep-prob", "0.75"]));
    assert_ne!(drop, weights(p, "c", &["--keep-prob", "0.25"]));
    assert_ne!(drop, weights(p, "n", &[]), "dropout must take effect");
    // per layer input (input first), for both
    assert_eq!(weights(p, "e", &["--dropout", "0,0.25"]), weights(p, "f", &["--keep-prob", "1,0.75"]));
    let toml = std::fs::read_to_string(p.join("a/config.toml")).unwrap();
    assert!(toml.contains("config_version = 2") && toml.contains("dropout = [0.25]") && toml.contains("keep_prob = []"), "{toml}");
    let meta = load_model(p.join("b/model.safetensors")).unwrap().2;
    assert_eq!(meta["config"]["keep_prob"], serde_json::json!([0.75]), "{meta}");
    // the run's own config.toml reproduces it
    let again = weights(p, "g", &["--config", "a/config.toml"]);
    assert_eq!(again, drop);
}

/// A config file from before `dropout` changed meaning: the user's is refused with what changed,
/// a run directory's own is read as it was written (its `dropout` was the keep probability).
#[test]
fn old_dropout_settings_say_what_changed() {
    use wgpu_mlp::config::{Origin, TrainConfig};
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let old = "layers = [2, 4, 2]\ncsv = \"t.csv\"\ntarget = \"y\"\ndropout = [0.75]\nepochs = 2\nbatch = 8\ndevice = \"cpu\"\n";
    std::fs::write(d.path().join("old.toml"), old).unwrap();
    refused(d.path(), &["train", "--config", "old.toml", "--out", "r"], &["old.toml", "dropout", "drop probability", "keep_prob", "config_version"]);
    let c = TrainConfig::from_toml_str(old, Origin::Program).unwrap();
    assert_eq!((c.reg.keep_prob.as_slice(), c.reg.dropout.as_slice()), (&[0.75f32][..], &[][..]));
    // the same file with the version: dropout is the drop probability
    std::fs::write(d.path().join("new.toml"), format!("config_version = 2\n{old}")).unwrap();
    assert_eq!(weights(d.path(), "n", &["--config", "new.toml"]), weights(d.path(), "k", &["--keep-prob", "0.25"]));
}

/// `--config RUN/config.toml` reproduces the run into a new run directory (runs/run-N), not into
/// RUN, which already holds it; `--out` still chooses.
#[test]
fn a_runs_config_reproduces_it_in_a_new_directory() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let first = weights(d.path(), "runs/first", &[]);
    let o = run(d.path(), &["train", "--config", "runs/first/config.toml", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let copy = load_model(d.path().join("runs/run-1/model.safetensors")).unwrap().1.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(copy, first, "the reproduction differs");
    assert_eq!(weights(d.path(), "again", &["--config", "runs/first/config.toml"]), first);
}

/// `--monitor` (Keras' `monitor`) picks the best epoch and drives early stopping: the kept epoch
/// is the first best of that metric, and early stopping waits `patience` epochs after it.
#[test]
fn monitor_chooses_the_best_epoch_and_early_stopping() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let history = |out: &str| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(d.path().join(out).join("history.json")).unwrap()).unwrap() };
    let metric = |h: &serde_json::Value, key: &str| -> Vec<f64> { h["epochs"].as_array().unwrap().iter().map(|r| r[key].as_f64().unwrap()).collect() };
    let first_best = |v: &[f64], better: fn(f64, f64) -> bool| (0..v.len()).fold(0, |b, i| if better(v[i], v[b]) { i } else { b }) + 1;
    for (monitor, key, better) in [("val_loss", "val_loss", (|a, b| a < b) as fn(f64, f64) -> bool), ("val_accuracy", "val_accuracy", |a, b| a > b)] {
        weights(d.path(), monitor, &["--monitor", monitor, "--epochs", "25", "--lr", "0.5", "--lr-schedule", "constant"]);
        let h = history(monitor);
        assert_eq!(h["monitor"], monitor);
        assert_eq!(h["best_epoch"].as_u64().unwrap() as usize, first_best(&metric(&h, key), better), "{monitor}: {h}");
    }
    weights(d.path(), "es", &["--monitor", "val_loss", "--early-stop", "2", "--epochs", "40", "--lr", "2", "--lr-schedule", "constant"]);
    let h = history("es");
    let ran = h["epochs"].as_array().unwrap().len();
    // at lr 2 the loss bounces: measured, the best is epoch 5 of 7
    assert_eq!((h["stopped_early"].as_bool(), ran), (Some(true), h["best_epoch"].as_u64().unwrap() as usize + 2), "{h}");
    assert_eq!(h["best_epoch"].as_u64().unwrap() as usize, first_best(&metric(&h, "val_loss"), |a, b| a < b));
    // a regression has no accuracy; a resumed run keeps its metric
    refused(d.path(), &["train", "--device", "cpu", "--csv", "t.csv", "--target", "y", "--layers", "2,4,1", "--loss", "mse", "--monitor", "val_accuracy", "--out", "r"], &["--monitor", "val_loss"]);
    refused(d.path(), &["train", "--resume", "val_loss", "--epochs", "30", "--monitor", "val_accuracy"], &["--monitor", "val_loss"]);
}

/// `train | head`: the reader goes away and the program ends quietly, without a panic.
#[test]
fn a_closed_stdout_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("wgpu-mlp"))
        .current_dir(d.path())
        .args(["train", "--device", "cpu", "--csv", "t.csv", "--target", "y", "--layers", "2,4,2", "--epochs", "2000", "--batch", "8", "--out", "r", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap(); // dropped: the pipe closes
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(first.starts_with('{') && err.is_empty(), "first line {first:?}, stderr: {err}");
    assert!(!out.status.success(), "2000 epochs ran to the end into a closed pipe");
}

/// `--warmup N` ramps the rate over the first N epochs on top of the schedule, and
/// `--reduce-on-plateau P:F` multiplies it by F after P epochs without improvement (Keras'
/// ReduceLROnPlateau); both survive a resume bit for bit.
#[test]
fn warmup_and_reduce_on_plateau_follow_their_rules() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let p = d.path();
    let history = |out: &str| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(p.join(out).join("history.json")).unwrap()).unwrap() };
    let lrs = |h: &serde_json::Value| -> Vec<f64> { h["epochs"].as_array().unwrap().iter().map(|r| r["lr"].as_f64().unwrap()).collect() };
    weights(p, "warm", &["--warmup", "4", "--lr", "0.1", "--lr-schedule", "exp:0.5", "--epochs", "6"]);
    let want: Vec<f64> = (0..6).map(|e| 0.1 * 0.5f64.powi(e) * ((e + 1).min(4) as f64 / 4.0)).collect();
    assert_eq!(lrs(&history("warm")), want);

    let args = ["--reduce-on-plateau", "2:0.5", "--monitor", "val_loss", "--lr", "2", "--lr-schedule", "constant", "--epochs", "12"];
    let full = weights(p, "plateau", &args);
    let h = history("plateau");
    let val: Vec<f64> = h["epochs"].as_array().unwrap().iter().map(|r| r["val_loss"].as_f64().unwrap()).collect();
    let (mut best, mut wait, mut lr, mut want) = (f64::INFINITY, 0, 2.0, vec![]);
    for v in &val {
        want.push(lr);
        if *v < best {
            (best, wait) = (*v, 0);
        } else {
            wait += 1;
            if wait >= 2 {
                (lr, wait) = (lr * 0.5, 0);
            }
        }
    }
    assert_eq!(lrs(&h), want, "val_loss {val:?}");
    assert!(want.iter().any(|l| *l < 2.0), "never reduced: val_loss {val:?}");
    // stopped after 5 epochs and resumed to 12: the same rates and weights
    let mut short = args.to_vec();
    let last = short.len() - 1;
    short[last] = "5";
    weights(p, "resumed", &short);
    let o = run(p, &["train", "--resume", "resumed", "--epochs", "12", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(lrs(&history("resumed")), want);
    let resumed: Vec<u32> = load_model(p.join("resumed/model.safetensors")).unwrap().1.data.iter().map(|x| x.to_bits()).collect();
    assert_eq!(resumed, full);
    refused(p, &["train", "--warmup", "0", "--out", "r"], &["--warmup"]);
    refused(p, &["train", "--reduce-on-plateau", "2:1.5", "--out", "r"], &["--reduce-on-plateau", "factor"]);
}

/// `--label-smoothing` and `--class-weight` (a list, or scikit-learn's `balanced`) change the
/// training loss on both engines alike; evaluation keeps scoring the plain loss.
#[test]
fn label_smoothing_and_class_weights_train() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let p = d.path();
    let plain = weights(p, "plain", &[]);
    let smooth = weights(p, "smooth", &["--label-smoothing", "0.1"]);
    let listed = weights(p, "listed", &["--class-weight", "1,3"]);
    assert!(plain != smooth && plain != listed && smooth != listed);
    assert_eq!(weights(p, "ones", &["--class-weight", "1,1"]), plain);
    // one sample in three of class 1: balanced weights n / (K·n_c), recorded in the model, favour
    // the rare class
    let rows: String = (0..60).map(|i| format!("{},{},{}\n", (i % 7) as f32 / 7.0, (i % 5) as f32 / 5.0, (i % 3 == 0) as u8)).collect();
    std::fs::write(p.join("u.csv"), format!("a,b,y\n{rows}")).unwrap();
    let uneven = |out: &str, extra: &[&str]| {
        let mut args = vec!["--csv", "u.csv"];
        args.extend_from_slice(extra);
        weights(p, out, &args)
    };
    assert_ne!(uneven("u-balanced", &["--class-weight", "balanced"]), uneven("u-plain", &[]));
    let meta = load_model(p.join("u-balanced/model.safetensors")).unwrap().2;
    let w: Vec<f64> = meta["class_weight"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(w.len() == 2 && w[1] > 1.0 && w[0] < 1.0, "{meta}");
    // w_c = n / (2·n_c), so the class shares n_c / n = 1 / (2·w_c) add up to 1
    assert!((1.0 / (2.0 * w[0]) + 1.0 / (2.0 * w[1]) - 1.0).abs() < 1e-6, "not n / (K·n_c): {w:?}");
    refused(p, &["train", "--csv", "t.csv", "--target", "y", "--layers", "2,4,2", "--class-weight", "1,2,3", "--out", "r"], &["--class-weight", "3 weights", "2 classes"]);
    refused(p, &["train", "--csv", "t.csv", "--target", "y", "--layers", "2,4,1", "--loss", "mse", "--class-weight", "1,2", "--out", "r"], &["--class-weight", "regression"]);
    refused(p, &["train", "--csv", "t.csv", "--target", "y", "--layers", "2,4,2", "--loss", "bce", "--label-smoothing", "0.1", "--out", "r"], &["--label-smoothing", "softmax_xent"]);
    refused(p, &["train", "--label-smoothing", "1", "--out", "r"], &["--label-smoothing"]);
}

/// scikit-learn's `balanced`: n / (K · n_c).
#[test]
fn balanced_class_weights_are_scikit_learns() {
    use wgpu_mlp::engine::ClassWeight;
    let labels = [0, 0, 0, 1, 2, 2];
    assert_eq!(ClassWeight::Balanced.resolve(&labels, 4), vec![6.0 / 12.0, 6.0 / 4.0, 6.0 / 8.0, 1.0]);
}

/// A run written before settings the optimizer ignored were given PyTorch's meaning (or
/// refused) resumes as it trained: sgd with `momentum = 0.9` in its own config.toml stays SGD.
#[test]
fn old_runs_keep_what_their_optimizer_ignored() {
    use wgpu_mlp::config::{Origin, TrainConfig};
    let old = "optimizer = \"sgd\"\nmomentum = 0.9\nnesterov = true\nrho = 0.99\nbeta1 = 0.9\nbeta2 = 0.999\neps = 0.00000001\nweight_decay = 0.0\n";
    let c = TrainConfig::from_toml_str(old, Origin::Program).unwrap();
    let o = c.optimizer_config().unwrap();
    assert_eq!((o.kind, o.weight_decay), (wgpu_mlp::optim::OptimizerKind::Sgd, 0.0));
    let adam = TrainConfig::from_toml_str("optimizer = \"adam\"\nmomentum = 0.5\nbeta1 = 0.8\n", Origin::Program).unwrap();
    assert_eq!(adam.optimizer_config().unwrap().beta1, 0.8);
    // the user's own file without a version gets today's meaning, or a refusal by name
    let user = TrainConfig::from_toml_str("optimizer = \"adam\"\nmomentum = 0.5\n", Origin::User).unwrap();
    assert!(user.optimizer_config().unwrap_err().to_string().contains("momentum"));
}

/// A resume that spells out a default the run left unset changes nothing and is accepted.
#[test]
fn resume_accepts_an_explicit_default() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    weights(d.path(), "r", &["--optimizer", "adamw", "--lr", "0.01"]);
    let o = run(d.path(), &["train", "--resume", "r", "--epochs", "3", "--monitor", "val_accuracy", "--weight-decay", "0.01", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    refused(d.path(), &["train", "--resume", "r", "--epochs", "4", "--weight-decay", "0.02"], &["--weight-decay", "0.02"]);
}

/// A `.tsv` is read tab-separated, and `predict` on a table that still has the target column
/// (by the name the model was trained with) drops it.
#[test]
fn tsv_tables_and_predict_on_a_table_with_its_target() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let p = d.path();
    let csv = std::fs::read_to_string(p.join("t.csv")).unwrap();
    std::fs::write(p.join("t.tsv"), csv.replace(',', "\t")).unwrap();
    assert_eq!(weights(p, "tsv", &["--csv", "t.tsv"]), weights(p, "csv", &[]));
    let features: String = csv.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n").collect();
    std::fs::write(p.join("x.csv"), features).unwrap();
    let predict = |input: &str| {
        let o = run(p, &["predict", "--model", "csv/model.safetensors", "--input", input, "--json", "--device", "cpu"]);
        assert!(o.status.success(), "{input}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["outputs"].clone()).collect::<Vec<_>>()
    };
    let (with_target, without) = (predict("t.csv"), predict("x.csv"));
    assert_eq!(with_target.len(), 60);
    assert_eq!(with_target, without);
}

/// A model records its training data's absolute path: eval and info work from any directory, and
/// when the data has gone the message says the path came from the model's metadata.
#[test]
fn a_models_data_path_works_from_anywhere_and_says_where_it_came_from() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    weights(d.path(), "m", &[]);
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let model = d.path().join("m/model.safetensors");
    let model = model.to_str().unwrap();
    for args in [vec!["eval", "--model", model, "--device", "cpu", "--json"], vec!["info", "--model", model, "--json"]] {
        let o = run(&elsewhere, &args);
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    std::fs::remove_file(d.path().join("t.csv")).unwrap();
    for args in [vec!["eval", "--model", model, "--device", "cpu"], vec!["info", "--model", model]] {
        refused(&elsewhere, &args, &["t.csv", "metadata", "--csv"]);
    }
}

/// `--clip-norm` changes training where it bites, not where the bound is above every step's
/// gradient norm, and is refused at zero.
#[test]
fn clip_norm_takes_effect_where_it_bites() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let p = d.path();
    let plain = weights(p, "plain", &[]);
    assert_eq!(weights(p, "loose", &["--clip-norm", "1e9"]), plain);
    assert_ne!(weights(p, "tight", &["--clip-norm", "1e-3"]), plain);
    let toml = std::fs::read_to_string(p.join("tight/config.toml")).unwrap();
    assert!(toml.contains("clip_norm = 0.001"), "{toml}");
    refused(p, &["train", "--clip-norm", "0", "--out", "r"], &["--clip-norm", "> 0"]);
}

/// `--hidden` takes the input width and the output count from the data (classes for softmax, one
/// sigmoid for two classes under bce, the target's width for regression); config.toml records
/// the whole network, and `info` describes the same run.
#[test]
fn hidden_sizes_take_the_rest_of_the_network_from_the_data() {
    let d = tempfile::tempdir().unwrap();
    tiny_csv(d.path());
    let p = d.path();
    let train = |out: &str, extra: &[&str]| {
        let mut args = vec!["train", "--device", "cpu", "--csv", "t.csv", "--target", "y", "--hidden", "8,3", "--epochs", "1", "--out", out, "--json"];
        args.extend_from_slice(extra);
        let o = run(p, &args);
        assert!(o.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&o.stderr));
        load_model(p.join(out).join("model.safetensors")).unwrap().0.sizes
    };
    assert_eq!(train("soft", &[]), vec![2, 8, 3, 2]);
    assert_eq!(train("bce", &["--loss", "bce"]), vec![2, 8, 3, 1]);
    assert_eq!(train("mse", &["--loss", "mse"]), vec![2, 8, 3, 1]);
    let toml = std::fs::read_to_string(p.join("soft/config.toml")).unwrap();
    assert!(toml.contains("layers = [2, 8, 3, 2]") && !toml.contains("hidden"), "{toml}");
    let o = run(p, &["info", "--csv", "t.csv", "--target", "y", "--hidden", "8,3", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("2-8-3-2"), "{}", String::from_utf8_lossy(&o.stdout));
    // the bundled digits: 784 inputs, 10 classes
    let o = run(p, &["info", "--hidden", "16"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("784-16-10"), "{}", String::from_utf8_lossy(&o.stdout));
    refused(p, &["train", "--csv", "t.csv", "--target", "y", "--hidden", "8", "--layers", "2,8,2", "--out", "r"], &["--hidden", "--layers"]);
    refused(p, &["gradcheck", "--hidden", "8"], &["--hidden", "--layers"]);
}

/// `--standardize`: the model keeps the training split's means and deviations, eval and predict
/// apply them (eval scores the test split as the run did; without the stored transform the
/// same weights score differently), and eval says when the model's data has changed since.
#[test]
fn standardized_models_carry_their_transform_and_their_datas_fingerprint() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // features on scales a network trains badly on without standardization
    let rows: String = (0..60).map(|i| format!("{},{},{}\n", 1000 + (i % 7) * 50, (i % 5) as f32 * 0.001, ((i % 7) > 3) as u8)).collect();
    std::fs::write(p.join("s.csv"), format!("a,b,y\n{rows}")).unwrap();
    let o = run(p, &["train", "--device", "cpu", "--csv", "s.csv", "--target", "y", "--hidden", "8", "--standardize", "--epochs", "5", "--out", "m", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let done: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().last().unwrap()).unwrap();
    let test = done["summary"]["scores"].as_array().unwrap().iter().find(|s| s["split"] == "test").unwrap().clone();
    let (spec, params, meta) = load_model(p.join("m/model.safetensors")).unwrap();
    let mean: Vec<f64> = meta["standardize"]["mean"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(mean.len() == 2 && (mean[0] - 1150.0).abs() < 60.0, "{meta}");
    let eval = |model: &str| -> serde_json::Value {
        let o = run(p, &["eval", "--model", model, "--device", "cpu", "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let e = eval("m/model.safetensors");
    assert!((e["report"]["loss"].as_f64().unwrap() - test["loss"].as_f64().unwrap()).abs() < 1e-6, "eval {e} vs the run's test score {test}");
    assert!(e["notes"].to_string().contains("standardized"), "{e}");
    // the same weights without the stored transform
    let mut bare = meta.clone();
    bare.as_object_mut().unwrap().remove("standardize");
    wgpu_mlp::model::save_model(p.join("bare.safetensors"), &spec, &params, bare).unwrap();
    assert_ne!(eval("bare.safetensors")["report"]["loss"], e["report"]["loss"]);
    // predict applies it too: a row of the table predicts as eval scored it
    let o = run(p, &["predict", "--model", "m/model.safetensors", "--input", "s.csv", "--json", "--device", "cpu"]);
    let bare_o = run(p, &["predict", "--model", "bare.safetensors", "--input", "s.csv", "--json", "--device", "cpu"]);
    assert!(o.status.success() && bare_o.status.success());
    assert_ne!(o.stdout, bare_o.stdout, "predict ignored the model's standardization");
    // fitted on the training split alone: its means are the training rows' means
    let splits = wgpu_mlp::run::load_splits(&wgpu_mlp::run::open_model(&p.join("m/model.safetensors")).unwrap().config()).unwrap();
    let wgpu_mlp::data::Features::F32(x) = &splits.train.features else { panic!("f32 columns") };
    let train_mean = x.iter().step_by(2).map(|&v| v as f64).sum::<f64>() / splits.train.len as f64;
    assert!((mean[0] - train_mean).abs() < 1e-3, "mean {} is not the training split's {train_mean}", mean[0]);
    let all_mean = (0..60).map(|i| (1000 + (i % 7) * 50) as f64).sum::<f64>() / 60.0;
    assert!((train_mean - all_mean).abs() > 1e-2, "the check needs a training split whose mean differs from the whole table's");
    // the PyTorch export folds the transform into the first layer: it scores the same on raw inputs
    let o = run(p, &["export", "--model", "m/model.safetensors", "--out", "m.torch.safetensors"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(p, &["eval", "--model", "m.torch.safetensors", "--csv", "s.csv", "--target", "y", "--device", "cpu", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let exported: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((exported["report"]["loss"].as_f64().unwrap() - e["report"]["loss"].as_f64().unwrap()).abs() < 1e-5, "export {exported} vs model {e}");
    // weights fitted to standardized inputs do not start a run on raw ones
    refused(p, &["train", "--device", "cpu", "--csv", "s.csv", "--target", "y", "--layers", "2,8,2", "--init-from", "m/model.safetensors", "--out", "r"], &["--init-from", "--standardize"]);
    // k-fold: each fold model keeps its own fold's transform, and eval of it reproduces the
    // fold's test score
    let o = run(p, &["train", "--device", "cpu", "--csv", "s.csv", "--target", "y", "--hidden", "8", "--standardize", "--epochs", "3", "--kfold", "3", "--out", "cv", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kfold: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p.join("cv/kfold.json")).unwrap()).unwrap();
    let means: Vec<serde_json::Value> = (1..=3).map(|f| load_model(p.join(format!("cv/model-fold-{f}.safetensors"))).unwrap().2["standardize"]["mean"].clone()).collect();
    assert!(means[0].is_array() && means[0] != means[1], "fold transforms {means:?}");
    let o = run(p, &["eval", "--model", "cv/model-fold-2.safetensors", "--split", "test", "--device", "cpu", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fold2: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((fold2["report"]["loss"].as_f64().unwrap() - kfold["folds"][1]["test_loss"].as_f64().unwrap()).abs() < 1e-6, "{fold2} vs {kfold}");
    // a changed data file: eval still runs, and says so
    std::fs::write(p.join("s.csv"), format!("a,b,y\n{}", rows.replacen("1000,", "1001,", 1))).unwrap();
    let changed = eval("m/model.safetensors");
    assert!(changed["notes"].to_string().contains("not the data the model was trained on"), "{changed}");
    // a stored transform that does not fit the network is an error, not ignored
    let mut broken = meta.clone();
    broken["standardize"]["std"] = serde_json::json!([1.0]);
    wgpu_mlp::model::save_model(p.join("broken.safetensors"), &spec, &params, broken).unwrap();
    refused(p, &["eval", "--model", "broken.safetensors", "--device", "cpu"], &["broken.safetensors", "metadata 'standardize'", "2 means and 1 deviations for 2 inputs"]);
}
