//! The command line's happy paths on the CPU engine: a run directory from `train`, `eval`,
//! `predict` and `info` on its model, JSON output, k-fold, early stopping, --init-from,
//! --no-shuffle, and resume (after a shorter run and after Ctrl-C) ending bit-identical to an
//! uninterrupted run.

use assert_cmd::Command;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use wgpu_mlp::model::load_model;

fn bin() -> Command {
    Command::cargo_bin("wgpu-mlp").unwrap()
}

/// Runs `wgpu-mlp args` in `dir`, expecting success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = bin().current_dir(dir).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Every line of `stdout` is a JSON object; returns them.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn train(dir: &Path, out: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["train", "--device", "cpu", "--layers", "784,16,10", "--out", out, "--json"];
    args.extend_from_slice(extra);
    json_lines(&ok(dir, &args))
}

fn params_bits(path: &Path) -> Vec<u32> {
    load_model(path).unwrap().1.data.iter().map(|x| x.to_bits()).collect()
}

fn assert_same_params(a: &Path, b: &Path) {
    let (pa, pb) = (params_bits(a), params_bits(b));
    assert_eq!(pa.len(), pb.len());
    let diff = pa.iter().zip(&pb).filter(|(x, y)| x != y).count();
    assert_eq!(diff, 0, "{} of {} parameters differ between {} and {}", diff, pa.len(), a.display(), b.display());
}

/// A grayscale PNG and a PGM of the first bundled test digits; returns (paths, labels).
fn digit_files(dir: &Path) -> (Vec<PathBuf>, Vec<u32>) {
    let ds = wgpu_mlp::data::bundled_mnist().unwrap();
    let wgpu_mlp::data::Features::U8(px) = &ds.features else { panic!("u8 pixels") };
    let wgpu_mlp::data::Targets::Classes { labels, .. } = &ds.targets else { panic!("labels") };
    let png_path = dir.join("digit0.png");
    {
        let f = std::fs::File::create(&png_path).unwrap();
        let mut e = png::Encoder::new(std::io::BufWriter::new(f), 28, 28);
        e.set_color(png::ColorType::Grayscale);
        e.set_depth(png::BitDepth::Eight);
        e.write_header().unwrap().write_image_data(&px[..784]).unwrap();
    }
    let pgm_path = dir.join("digit1.pgm");
    let mut pgm = b"P5\n28 28\n255\n".to_vec();
    pgm.extend_from_slice(&px[784..2 * 784]);
    std::fs::write(&pgm_path, pgm).unwrap();
    (vec![png_path, pgm_path], labels[..2].to_vec())
}

#[test]
fn train_one_epoch_then_eval_predict_info() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let events = train(dir, "run", &["--epochs", "1"]);
    assert_eq!(events.first().unwrap()["event"], "start");
    assert_eq!(events.iter().filter(|e| e["event"] == "epoch").count(), 1);
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["summary"]["interrupted"], false);
    let run = dir.join("run");
    for f in ["config.toml", "metrics.csv", "history.json", "model.safetensors", "checkpoint/state.safetensors", "checkpoint/best-000001.safetensors"] {
        assert!(run.join(f).is_file(), "{f} missing from the run directory");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&run).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with('.') && e.file_name() != ".lock").collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let model = run.join("model.safetensors");
    let model = model.to_str().unwrap();

    // eval: text, then JSON; the test split of the training run
    let text = ok(dir, &["eval", "--model", model, "--device", "cpu"]);
    for want in ["split: test (1000 samples)", "accuracy", "precision", "recall", "confusion matrix"] {
        assert!(text.contains(want), "eval output lacks {want:?}:\n{text}");
    }
    let e: serde_json::Value = serde_json::from_str(ok(dir, &["eval", "--model", model, "--device", "cpu", "--json"]).trim()).unwrap();
    let test_acc = done["summary"]["scores"].as_array().unwrap().iter().find(|s| s["split"] == "test").unwrap()["accuracy"].as_f64().unwrap();
    assert_eq!(e["report"]["samples"], 1000);
    assert_eq!(e["report"]["accuracy"].as_f64().unwrap(), test_acc, "eval must see the same test split as train");
    let cm = e["report"]["confusion"]["counts"].as_array().unwrap();
    assert_eq!(cm.len(), 100);
    assert_eq!(cm.iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), 1000);
    let all: serde_json::Value = serde_json::from_str(ok(dir, &["eval", "--model", model, "--device", "cpu", "--split", "all", "--json"]).trim()).unwrap();
    assert_eq!(all["report"]["samples"], 10000);

    // predict: a PNG and a PGM, text and JSON
    let (files, labels) = digit_files(dir);
    let (f0, f1) = (files[0].to_str().unwrap(), files[1].to_str().unwrap());
    let text = ok(dir, &["predict", "--model", model, "--input", f0, f1, "--device", "cpu"]);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("class") && text.lines().all(|l| l.contains("top 3: ") && l.matches(", ").count() == 2), "{text}");
    let preds = json_lines(&ok(dir, &["predict", "--model", model, "--input", f0, f1, "--device", "cpu", "--json"]));
    for (p, label) in preds.iter().zip(&labels) {
        let probs: Vec<f64> = p["outputs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(probs.len(), 10);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4);
        let argmax = (0..10).max_by(|&a, &b| probs[a].total_cmp(&probs[b])).unwrap();
        assert_eq!(p["class"].as_u64().unwrap() as usize, argmax);
        eprintln!("digit labelled {label}: predicted {}", p["class"]);
        // the three most probable classes, most probable first
        let top: Vec<(String, f64)> = p["top"].as_array().unwrap().iter().map(|t| (t[0].as_str().unwrap().to_string(), t[1].as_f64().unwrap())).collect();
        let mut order: Vec<usize> = (0..10).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        assert_eq!(top.iter().map(|t| t.0.clone()).collect::<Vec<_>>(), order[..3].iter().map(|c| c.to_string()).collect::<Vec<_>>(), "{p}");
        assert_eq!(top[0].1, probs[argmax]);
    }
    // CSV rows of features
    let ds = wgpu_mlp::data::bundled_mnist().unwrap();
    let row: Vec<String> = (0..784).map(|j| ds.feature(0, j).to_string()).collect();
    std::fs::write(dir.join("rows.csv"), format!("{}\n", row.join(","))).unwrap();
    let from_csv = json_lines(&ok(dir, &["predict", "--model", model, "--input", "rows.csv", "--device", "cpu", "--json"]));
    assert_eq!(from_csv[0]["class"], preds[0]["class"], "a CSV row and the same image predict the same class");

    // info from the model, JSON
    let info: serde_json::Value = serde_json::from_str(ok(dir, &["info", "--model", model, "--json"]).trim()).unwrap();
    assert_eq!(info["cost"]["params"], 784 * 16 + 16 + 16 * 10 + 10);
}

#[test]
fn info_for_layers_before_anything_runs() {
    let d = tempfile::tempdir().unwrap();
    let text = ok(d.path(), &["info", "--layers", "784,256,256,10", "--batch", "64", "--optimizer", "adam"]);
    for want in ["parameters: 269,322", "FLOPs per sample", "optimizer slots", "activations", "resident dataset", "total"] {
        assert!(text.contains(want), "info lacks {want:?}:\n{text}");
    }
    let j: serde_json::Value = serde_json::from_str(ok(d.path(), &["info", "--layers", "784,256,256,10", "--json"]).trim()).unwrap();
    assert_eq!(j["cost"]["forward_flops_per_sample"], 2 * (784 * 256 + 256 * 256 + 256 * 10));
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "info must not write anything");
}

/// info takes train's flags (one definition) and --config, and describes the run they make.
#[test]
fn info_takes_train_flags_and_config() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("c.toml");
    std::fs::write(&cfg, "layers = [784, 128, 10]\noptimizer = \"adam\"\nbatch = 50\n").unwrap();
    let j: serde_json::Value = serde_json::from_str(ok(d.path(), &["info", "--config", "c.toml", "--batch", "20", "--json"]).trim()).unwrap();
    assert_eq!(j["cost"]["params"], 784 * 128 + 128 + 128 * 10 + 10);
    assert_eq!((j["cost"]["batch"].as_u64(), j["optimizer"].as_str()), (Some(20), Some("adam")));
    // a train flag info does not print still reaches the run it describes: a bad value is refused
    let out = bin().current_dir(d.path()).args(["info", "--lr", "-1"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--lr"), "{out:?}");
    bin().current_dir(d.path()).args(["info", "--model", "m", "--config", "c.toml"]).assert().failure();
}

/// gradcheck's network and penalty flags are train's; its own defaults show in its help.
#[test]
fn gradcheck_takes_train_network_flags() {
    let d = tempfile::tempdir().unwrap();
    let help = ok(d.path(), &["gradcheck", "--help"]);
    assert!(help.contains("[default: 6,5,4,3]") && help.contains("[default: tanh]"), "{help}");
    let j: serde_json::Value =
        serde_json::from_str(ok(d.path(), &["gradcheck", "--layers", "5,4,3", "--l2", "0.1,0", "--init", "he_uniform", "--json"]).trim()).unwrap();
    assert_eq!((j["network"].as_str().map(|s| s.starts_with("5-4-3")), j["pass"].as_bool()), (Some(true), Some(true)), "{j}");
    for (flag, value) in [("--augment", Some("shift=1")), ("--l1-proximal", None)] {
        let mut args = vec!["gradcheck", flag];
        args.extend(value);
        let out = bin().current_dir(d.path()).args(&args).output().unwrap();
        assert!(out.status.code() == Some(2) && String::from_utf8_lossy(&out.stderr).contains(flag), "{out:?}");
    }
}

#[test]
fn help_documents_every_command() {
    let d = tempfile::tempdir().unwrap();
    let top = ok(d.path(), &["--help"]);
    for c in ["train", "eval", "predict", "info", "gradcheck"] {
        assert!(top.contains(c), "{top}");
    }
    let train = ok(d.path(), &["train", "--help"]);
    for f in ["--resume", "--init-from", "--kfold", "--early-stop", "--min-delta", "--no-shuffle", "--json", "[default: 100]"] {
        assert!(train.contains(f), "train --help lacks {f}");
    }
}

#[test]
fn resume_after_a_shorter_run_is_bit_identical() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // a constant high learning rate makes validation accuracy wobble, so early stopping's state
    // (best epoch, patience) is exercised across the resume
    let common = ["--lr", "0.3", "--lr-schedule", "constant", "--early-stop", "5", "--keep-prob", "0.9"];
    let run = |out: &str, epochs: &str| {
        let mut a = common.to_vec();
        a.extend(["--epochs", epochs]);
        train(dir, out, &a);
    };
    let resume = |out: &str, epochs: &str, at: u64| {
        let events = json_lines(&ok(dir, &["train", "--resume", out, "--epochs", epochs, "--json"]));
        assert_eq!(events[0]["resumed_at"], at);
    };
    // With these settings epoch 3 does not beat epoch 2 on validation: resuming at 3 needs the
    // best weights from checkpoint/best.safetensors; stopping at 3 restores epoch 2's weights.
    run("full4", "4");
    run("full3", "3");
    run("from3", "3");
    resume("from3", "4", 3);
    run("from2", "2");
    resume("from2", "3", 2);
    let best = |p: &str| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(dir.join(p).join("history.json")).unwrap()).unwrap()["best_epoch"].clone()
    };
    eprintln!("best epoch after 3 epochs: {}, after 4: {}", best("full3"), best("full4"));
    for (a, b) in [("full4", "from3"), ("full3", "from2")] {
        assert_same_params(&dir.join(a).join("model.safetensors"), &dir.join(b).join("model.safetensors"));
        assert_same_params(&dir.join(a).join("checkpoint/state.safetensors"), &dir.join(b).join("checkpoint/state.safetensors"));
        let h = |p: &str| std::fs::read_to_string(dir.join(p).join("history.json")).unwrap();
        let strip = |s: String| s.lines().filter(|l| !l.contains("second")).collect::<Vec<_>>().join("\n");
        assert_eq!(strip(h(a)), strip(h(b)), "histories of {a} and {b} differ beyond wall times");
    }
}

#[test]
fn ctrl_c_checkpoints_and_resume_is_bit_identical() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let exe = assert_cmd::cargo::cargo_bin("wgpu-mlp");
    let net = ["--device", "cpu", "--layers", "784,128,10", "--json"];
    let mut child = std::process::Command::new(&exe)
        .current_dir(dir)
        .args(["train", "--out", "run", "--epochs", "40"])
        .args(net)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("\"event\":\"epoch\"") {
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "an interrupted run exits 130");
    let done: serde_json::Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(done["summary"]["interrupted"], true);
    assert!(done["resume_command"].as_str().unwrap().contains("--resume run"));
    let run = dir.join("run");
    assert!(run.join("checkpoint/state.safetensors").is_file() && run.join("model.safetensors").is_file());
    let stopped_at = std::fs::read_to_string(run.join("metrics.csv")).unwrap().lines().count() - 1;
    eprintln!("interrupted after epoch {stopped_at}");
    assert!(stopped_at < 40);

    let total = (stopped_at + 1).to_string();
    let events = json_lines(&ok(dir, &["train", "--resume", "run", "--epochs", &total, "--json"]));
    assert_eq!(events[0]["resumed_at"].as_u64(), Some(stopped_at as u64));
    let mut args = vec!["train", "--out", "straight", "--epochs", &total];
    args.extend(net);
    ok(dir, &args);
    assert_same_params(&run.join("model.safetensors"), &dir.join("straight/model.safetensors"));
}

#[test]
fn early_stopping_restores_the_best_weights() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // a learning rate too small to change validation accuracy by 50 points: epochs 2 and 3 do
    // not count as improvements, so patience 2 stops after epoch 3 and restores epoch 1
    let common = ["--lr", "1e-9", "--lr-schedule", "constant", "--early-stop", "2", "--min-delta", "0.5"];
    let mut a = common.to_vec();
    a.extend(["--epochs", "10"]);
    let events = train(dir, "stopped", &a);
    assert_eq!(events.iter().filter(|e| e["event"] == "epoch").count(), 3);
    let h: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("stopped/history.json")).unwrap()).unwrap();
    assert_eq!(h["stopped_early"], true);
    assert_eq!(h["best_epoch"], 1);
    let mut b = common.to_vec();
    b.extend(["--epochs", "1"]);
    train(dir, "one", &b);
    assert_same_params(&dir.join("stopped/model.safetensors"), &dir.join("one/model.safetensors"));
    // nothing left to resume
    let out = bin().current_dir(dir).args(["train", "--resume", "stopped", "--epochs", "20"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped early"));
}

#[test]
fn init_from_starts_at_the_given_weights() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    train(dir, "a", &["--epochs", "1"]);
    // a step too small to move any weight: the result equals the starting model
    train(dir, "b", &["--epochs", "1", "--optimizer", "sgd", "--lr", "1e-30", "--init-from", "a/model.safetensors"]);
    let (pa, pb) = (load_model(dir.join("a/model.safetensors")).unwrap().1, load_model(dir.join("b/model.safetensors")).unwrap().1);
    let max = pa.data.iter().zip(&pb.data).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(max < 1e-6, "max difference {max}");
    assert!(std::fs::read_to_string(dir.join("b/config.toml")).unwrap().contains("init_from"));
}

#[test]
fn no_shuffle_is_recorded_and_changes_the_order() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    train(dir, "fixed", &["--epochs", "1", "--no-shuffle"]);
    train(dir, "shuffled", &["--epochs", "1"]);
    assert!(std::fs::read_to_string(dir.join("fixed/config.toml")).unwrap().contains("shuffle = false"));
    assert_ne!(params_bits(&dir.join("fixed/model.safetensors")), params_bits(&dir.join("shuffled/model.safetensors")));
}

#[test]
fn kfold_writes_per_fold_scores_and_mean_std() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let events = train(dir, "cv", &["--epochs", "1", "--kfold", "3"]);
    assert_eq!(events.iter().filter(|e| e["event"] == "fold").count(), 3);
    let k: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cv/kfold.json")).unwrap()).unwrap();
    let folds = k["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    let accs: Vec<f64> = folds.iter().map(|f| f["val_accuracy"].as_f64().unwrap()).collect();
    let mean = accs.iter().sum::<f64>() / 3.0;
    assert!((k["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    assert!(k["std"].as_f64().unwrap() >= 0.0);
    // the folds partition the 9,000 digits a single run trains and validates on; its 1,000 test
    // digits are held out of every fold
    assert_eq!((k["samples"].as_u64(), k["test_samples"].as_u64()), (Some(9000), Some(1000)));
    assert_eq!(folds.iter().map(|f| f["val_samples"].as_u64().unwrap()).sum::<u64>(), 9000);
    assert!(folds.iter().all(|f| f["train_samples"].as_u64().unwrap() + f["val_samples"].as_u64().unwrap() == 9000));
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["summary"]["kfold"]["k"], 3);
    assert_eq!(done["summary"]["kfold"]["ensemble_test"], k["ensemble_test"]);

    // the ensemble score is the mean of the fold models' probabilities on the test split
    let cfg = wgpu_mlp::config::TrainConfig::default();
    let test = wgpu_mlp::run::load_splits(&cfg).unwrap().test.unwrap();
    let wgpu_mlp::data::Targets::Classes { labels, .. } = &test.targets else { panic!("labels") };
    let mut mean = vec![0f64; test.len * 10];
    for (i, f) in folds.iter().enumerate() {
        let name = f["model"].as_str().unwrap();
        assert_eq!(name, format!("model-fold-{}.safetensors", i + 1));
        let (spec, params, meta) = load_model(dir.join("cv").join(name)).unwrap();
        assert_eq!(meta["best_epoch"], 1);
        let setup = wgpu_mlp::engine::TrainSetup { spec, ..wgpu_mlp::config::TrainConfig::default().setup().unwrap() };
        let mut engine = wgpu_mlp::cpu::CpuEngine::<f32>::new(setup, params).unwrap();
        let p = wgpu_mlp::engine::Engine::predict(&mut engine, &test).unwrap();
        let own = (0..test.len).filter(|&b| argmax(&p[b * 10..(b + 1) * 10]) == labels[b] as usize).count() as f64 / test.len as f64;
        assert!((own - f["test_accuracy"].as_f64().unwrap()).abs() < 1e-12, "fold {}: {own} against {}", i + 1, f["test_accuracy"]);
        for (m, &x) in mean.iter_mut().zip(&p) {
            *m += x as f64 / 3.0;
        }
    }
    let loss = (0..test.len).map(|b| -mean[b * 10 + labels[b] as usize].ln()).sum::<f64>() / test.len as f64;
    let correct = (0..test.len).filter(|&b| argmax(&mean[b * 10..(b + 1) * 10]) == labels[b] as usize).count();
    let e = &k["ensemble_test"];
    assert_eq!((e["models"].as_u64(), e["samples"].as_u64()), (Some(3), Some(1000)));
    assert!((e["loss"].as_f64().unwrap() - loss).abs() < 1e-6, "ensemble loss {} against {loss}", e["loss"]);
    assert!((e["accuracy"].as_f64().unwrap() - correct as f64 / 1000.0).abs() < 1e-6, "ensemble accuracy {} against {correct}/1000", e["accuracy"]);

    // a fold's model is a model like any other: eval scores it on the same test split
    let ev = json_lines(&ok(dir, &["eval", "--model", "cv/model-fold-2.safetensors", "--split", "test", "--device", "cpu", "--json"]));
    let acc = ev.iter().find_map(|v| v["report"]["accuracy"].as_f64().or(v["accuracy"].as_f64())).unwrap_or_else(|| panic!("no accuracy in {ev:?}"));
    assert!((acc - folds[1]["test_accuracy"].as_f64().unwrap()).abs() < 1e-12, "eval {acc} against {}", folds[1]["test_accuracy"]);
}

fn argmax<T: PartialOrd + Copy>(row: &[T]) -> usize {
    (1..row.len()).fold(0, |best, k| if row[k] > row[best] { k } else { best })
}

#[test]
fn kfold_without_a_test_split_says_so() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("four.csv"), "a,b,y\n0,1,0\n1,0,1\n0,0.5,0\n1,0.5,1\n").unwrap();
    let args = ["train", "--device", "cpu", "--layers", "2,2", "--csv", "four.csv", "--target", "y", "--kfold", "2", "--epochs", "1", "--out", "cv", "--json"];
    let events = json_lines(&ok(dir, &args));
    assert!(events[0]["data"].as_str().unwrap().contains("no test split"), "{}", events[0]);
    assert!(events.iter().any(|e| e["event"] == "note" && e["note"].as_str().unwrap().contains("no test split")), "{events:?}");
    let k: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cv/kfold.json")).unwrap()).unwrap();
    assert_eq!((k["samples"].as_u64(), k["test_samples"].clone(), k["ensemble_test"].clone()), (Some(4), serde_json::Value::Null, serde_json::Value::Null));
    assert!(k["note"].as_str().unwrap().contains("no test split"));
    assert!(k["folds"].as_array().unwrap().iter().all(|f| f["test_accuracy"].is_null()));
    assert!(dir.join("cv/model-fold-1.safetensors").is_file() && dir.join("cv/model-fold-2.safetensors").is_file());
}

#[test]
fn an_interrupted_kfold_run_scores_the_ensemble_of_the_folds_that_ran() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let d = tempfile::tempdir().unwrap();
    let mut cfg = wgpu_mlp::config::TrainConfig::default();
    cfg.model.layers = vec![784, 16, 10];
    cfg.engine.device = wgpu_mlp::config::DeviceChoice::Cpu;
    (cfg.run.epochs, cfg.run.kfold, cfg.run.out) = (3, Some(3), Some(d.path().join("part")));
    // a stop asked for before fold 1's first epoch ends: the fold stops part-way and is not scored
    let opts = wgpu_mlp::run::RunOptions { stop: Some(Arc::new(AtomicBool::new(true))), ..Default::default() };
    let s = wgpu_mlp::run::train_run_with(&cfg, &opts, &mut wgpu_mlp::run::Silent).unwrap();
    assert!(s.interrupted && s.kfold.as_ref().unwrap().folds.is_empty() && s.kfold.unwrap().ensemble_test.is_none());
    assert!(!d.path().join("part").exists(), "a run that finished no fold keeps nothing");
    // with one epoch per fold, fold 1 ends whole; the stop then ends the run after it
    (cfg.run.epochs, cfg.run.out) = (1, Some(d.path().join("cv")));
    let s = wgpu_mlp::run::train_run_with(&cfg, &opts, &mut wgpu_mlp::run::Silent).unwrap();
    assert!(s.interrupted);
    let rep = s.kfold.unwrap();
    assert_eq!(rep.folds.len(), 1);
    let e = rep.ensemble_test.unwrap();
    assert_eq!((e.models, e.samples), (1, 1000));
    // one model's ensemble is that model
    assert!((e.accuracy.unwrap() - rep.folds[0].test_accuracy.unwrap()).abs() < 1e-12);
    let k: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.path().join("cv/kfold.json")).unwrap()).unwrap();
    assert_eq!((k["interrupted"].as_bool(), k["ensemble_test"]["models"].as_u64()), (Some(true), Some(1)));
    assert!(d.path().join("cv/model-fold-1.safetensors").is_file() && !d.path().join("cv/model-fold-2.safetensors").exists());
}
