//! Bad input, one test per case: the binary exits non-zero with exactly one stderr line that
//! starts with "error:", names the flag or file, never panics, and leaves no run directory.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tempfile::TempDir;

fn tmp() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// Runs `wgpu-mlp args` in `dir` and checks the failure contract; returns the stderr line.
fn fails(dir: &Path, args: &[&str], mentions: &[&str]) -> String {
    let out = Command::cargo_bin("wgpu-mlp").unwrap().current_dir(dir).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: stderr is not one line:\n{stderr}");
    assert!(lines[0].starts_with("error:"), "{args:?}: {stderr}");
    for m in mentions {
        assert!(lines[0].contains(m), "{args:?}: stderr does not mention {m:?}: {stderr}");
    }
    lines[0].to_string()
}

/// `train` with a small network on the CPU into `dir/run`, plus `extra` flags; must fail and leave no run directory.
fn train_fails(extra: &[&str], mentions: &[&str]) -> String {
    let dir = tmp();
    let mut args = vec!["train", "--device", "cpu", "--epochs", "1", "--out", "run"];
    if !extra.contains(&"--layers") {
        args.extend(["--layers", "784,8,10"]); // (a second --layers would append to a list flag)
    }
    args.extend_from_slice(extra);
    let line = fails(dir.path(), &args, mentions);
    assert!(!dir.path().join("run").exists(), "{extra:?} left a run directory behind");
    line
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

/// IDX image file: magic, n, rows, cols (big-endian), then `pixels` bytes.
fn idx_images(magic: u32, n: u32, rows: u32, cols: u32, pixels: usize) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [magic, n, rows, cols] {
        b.extend(v.to_be_bytes());
    }
    b.extend(std::iter::repeat_n(7u8, pixels));
    b
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [0x801u32, labels.len() as u32] {
        b.extend(v.to_be_bytes());
    }
    b.extend(labels);
    b
}

/// An IDX directory of 4x4 images: `images` and `labels` are the two files' bytes.
fn idx_dir(images: Vec<u8>, labels: Vec<u8>) -> TempDir {
    let d = tmp();
    write(&d.path().join("train-images-idx3-ubyte"), &images);
    write(&d.path().join("train-labels-idx1-ubyte"), &labels);
    d
}

/// A 784-8-10 model trained for one epoch, shared by the tests that need a model file.
fn small_model() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp().keep();
        Command::cargo_bin("wgpu-mlp")
            .unwrap()
            .current_dir(&dir)
            .args(["train", "--device", "cpu", "--epochs", "1", "--layers", "784,8,10", "--out", "run", "--json"])
            .assert()
            .success();
        dir.join("run")
    })
    .clone()
}

// ---- missing paths

#[test]
fn missing_data_directory() {
    train_fails(&["--data", "no-such-dir"], &["no-such-dir"]);
}

#[test]
fn missing_csv_file() {
    train_fails(&["--csv", "no-such.csv", "--target", "y"], &["no-such.csv"]);
}

#[test]
fn missing_model_file() {
    let d = tmp();
    fails(d.path(), &["eval", "--model", "no-such.safetensors", "--device", "cpu"], &["no-such.safetensors"]);
}

#[test]
fn missing_predict_input() {
    let model = small_model().join("model.safetensors");
    let d = tmp();
    fails(d.path(), &["predict", "--model", model.to_str().unwrap(), "--input", "no-such.png", "--device", "cpu"], &["no-such.png"]);
}

// ---- IDX files

#[test]
fn wrong_idx_magic() {
    let d = idx_dir(idx_images(0x801, 2, 4, 4, 32), idx_labels(&[1, 2]));
    train_fails(&["--data", d.path().to_str().unwrap()], &["train-images-idx3-ubyte", "magic"]);
}

#[test]
fn truncated_idx() {
    let d = idx_dir(idx_images(0x803, 5, 4, 4, 2 * 16), idx_labels(&[1, 2, 3, 4, 5]));
    train_fails(&["--data", d.path().to_str().unwrap()], &["train-images-idx3-ubyte", "truncated"]);
}

#[test]
fn image_and_label_counts_differ() {
    let d = idx_dir(idx_images(0x803, 5, 4, 4, 5 * 16), idx_labels(&[1, 2, 3, 4]));
    train_fails(&["--data", d.path().to_str().unwrap()], &["train-labels-idx1-ubyte", "4 labels", "5 images"]);
}

#[test]
fn label_outside_class_count() {
    let d = idx_dir(idx_images(0x803, 3, 4, 4, 3 * 16), idx_labels(&[1, 12, 3]));
    train_fails(&["--data", d.path().to_str().unwrap()], &["train-labels-idx1-ubyte", "label 12"]);
}

#[test]
fn empty_idx_dataset() {
    let d = idx_dir(idx_images(0x803, 0, 4, 4, 0), idx_labels(&[]));
    train_fails(&["--data", d.path().to_str().unwrap()], &["train-images-idx3-ubyte", "zero images"]);
}

#[test]
fn input_size_not_matching_first_layer() {
    train_fails(&["--layers", "100,10"], &["--layers", "784 features", "100"]);
}

#[test]
fn idx_images_not_matching_first_layer() {
    let d = idx_dir(idx_images(0x803, 30, 4, 4, 30 * 16), idx_labels(&[1; 30]));
    train_fails(&["--data", d.path().to_str().unwrap()], &["--layers", "16 features", "4x4"]);
}

// ---- CSV

fn csv_fails(body: &str, mentions: &[&str]) {
    let d = tmp();
    let f = write(&d.path().join("t.csv"), body.as_bytes());
    let mut m = vec!["t.csv"];
    m.extend_from_slice(mentions);
    let args = ["train", "--device", "cpu", "--epochs", "1", "--layers", "2,4,2", "--out", "run", "--csv", f.to_str().unwrap(), "--target", "y"];
    fails(d.path(), &args, &m);
    assert!(!d.path().join("run").exists());
}

#[test]
fn empty_csv() {
    csv_fails("a,b,y\n", &["no data rows"]);
}

#[test]
fn non_numeric_csv_value() {
    csv_fails("a,b,y\n1,2,0\n3,x,1\n", &["line 3", "'x' is not a number"]);
}

#[test]
fn nan_csv_value() {
    csv_fails("a,b,y\n1,NaN,0\n3,4,1\n", &["line 2", "NaN"]);
}

#[test]
fn inf_csv_value() {
    csv_fails("a,b,y\n1,2,0\ninf,4,1\n", &["line 3", "infinite"]);
}

// ---- numbers out of range

#[test]
fn batch_zero() {
    train_fails(&["--batch", "0"], &["--batch"]);
}

#[test]
fn epochs_zero() {
    train_fails(&["--epochs", "0"], &["--epochs"]);
}

#[test]
fn lr_zero() {
    train_fails(&["--lr", "0"], &["--lr"]);
}

#[test]
fn lr_negative() {
    train_fails(&["--lr", "-0.1"], &["--lr"]);
}

#[test]
fn lr_not_a_number() {
    train_fails(&["--lr", "fast"], &["--lr", "fast"]);
}

#[test]
fn lr_nan() {
    train_fails(&["--lr", "NaN"], &["--lr"]);
}

#[test]
fn drop_probability_one_or_above() {
    train_fails(&["--dropout", "1.5"], &["--dropout", "drop probability 1.5"]);
    train_fails(&["--dropout", "1"], &["--dropout", "drop probability 1 "]);
}

#[test]
fn keep_probability_zero_or_above_one() {
    train_fails(&["--keep-prob", "0"], &["--keep-prob", "keep probability 0 "]);
    train_fails(&["--keep-prob", "1.5"], &["--keep-prob", "keep probability 1.5"]);
}

#[test]
fn dropout_and_keep_prob_together() {
    train_fails(&["--dropout", "0.2", "--keep-prob", "0.8"], &["--dropout", "--keep-prob"]);
}

#[test]
fn kfold_below_two() {
    train_fails(&["--kfold", "1"], &["--kfold"]);
}

#[test]
fn kfold_above_sample_count() {
    let d = tmp();
    let f = write(&d.path().join("t.csv"), b"a,b,y\n1,2,0\n3,4,1\n5,6,0\n");
    let args = ["train", "--device", "cpu", "--epochs", "1", "--layers", "2,2", "--out", "run", "--csv", f.to_str().unwrap(), "--target", "y", "--kfold", "5"];
    fails(d.path(), &args, &["--kfold", "5 folds", "3"]);
    assert!(!d.path().join("run").exists());
}

#[test]
fn validation_larger_than_training_set() {
    train_fails(&["--val", "20000"], &["--val", "20000"]);
}

#[test]
fn validation_fraction_out_of_range() {
    train_fails(&["--val-frac", "1.5"], &["--val-frac"]);
}

// ---- checkpoints

#[test]
fn corrupt_model_for_eval() {
    let d = tmp();
    let f = write(&d.path().join("bad.safetensors"), b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all");
    fails(d.path(), &["eval", "--model", f.to_str().unwrap(), "--device", "cpu"], &["bad.safetensors"]);
}

#[test]
fn corrupt_model_for_init_from() {
    let d = tmp();
    let f = write(&d.path().join("bad.safetensors"), b"garbage");
    train_fails(&["--init-from", f.to_str().unwrap()], &["bad.safetensors"]);
}

#[test]
fn corrupt_checkpoint_for_resume() {
    let d = tmp();
    let run = d.path().join("run");
    std::fs::create_dir_all(run.join("checkpoint")).unwrap();
    std::fs::copy(small_model().join("config.toml"), run.join("config.toml")).unwrap();
    let mut state = std::fs::read(small_model().join("checkpoint/state.safetensors")).unwrap();
    state.truncate(state.len() / 2);
    write(&run.join("checkpoint/state.safetensors"), &state);
    fails(d.path(), &["train", "--resume", "run", "--epochs", "3", "--device", "cpu"], &["state.safetensors"]);
    assert!(run.join("config.toml").is_file(), "a failed resume must not remove the run directory");
}

#[test]
fn init_from_another_architecture() {
    let model = small_model().join("model.safetensors");
    let d = tmp();
    let args = ["train", "--device", "cpu", "--epochs", "1", "--layers", "784,32,10", "--out", "run", "--init-from", model.to_str().unwrap()];
    fails(d.path(), &args, &["--init-from", "model.safetensors", "784-8-10", "784-32-10"]);
    assert!(!d.path().join("run").exists());
}

#[test]
fn resume_with_another_architecture() {
    let d = tmp();
    let run = d.path().join("run");
    std::fs::create_dir_all(run.join("checkpoint")).unwrap();
    std::fs::copy(small_model().join("config.toml"), run.join("config.toml")).unwrap();
    std::fs::copy(small_model().join("checkpoint/state.safetensors"), run.join("checkpoint/state.safetensors")).unwrap();
    fails(d.path(), &["train", "--resume", "run", "--epochs", "3", "--layers", "784,32,10", "--device", "cpu"], &["state.safetensors", "784-8-10"]);
}

#[test]
fn resume_of_a_directory_without_a_run() {
    let d = tmp();
    std::fs::create_dir(d.path().join("empty")).unwrap();
    fails(d.path(), &["train", "--resume", "empty", "--device", "cpu"], &["empty", "config.toml"]);
}

// ---- output directory

#[test]
fn output_directory_that_cannot_be_written() {
    let d = tmp();
    write(&d.path().join("file.txt"), b"x");
    let args = ["train", "--device", "cpu", "--epochs", "1", "--layers", "784,8,10", "--out", "file.txt/run"];
    fails(d.path(), &args, &["--out", "file.txt/run"]);
}

#[test]
fn output_directory_of_another_run() {
    let d = tmp();
    std::fs::create_dir(d.path().join("run")).unwrap();
    write(&d.path().join("run/config.toml"), b"epochs = 3\n");
    let args = ["train", "--device", "cpu", "--epochs", "1", "--layers", "784,8,10", "--out", "run"];
    fails(d.path(), &args, &["--out", "run", "--resume"]);
    assert!(d.path().join("run/config.toml").is_file(), "someone else's directory must be left alone");
}

// ---- names

#[test]
fn unknown_activation() {
    train_fails(&["--activation", "swish"], &["--activation", "swish"]);
}

#[test]
fn unknown_loss() {
    train_fails(&["--loss", "hinge"], &["--loss", "hinge"]);
}

#[test]
fn unknown_optimizer() {
    train_fails(&["--optimizer", "lbfgs"], &["--optimizer", "lbfgs"]);
}

#[test]
fn unknown_flag() {
    train_fails(&["--epoch", "3"], &["--epoch"]);
}

#[test]
fn missing_required_flag() {
    let d = tmp();
    fails(d.path(), &["eval"], &["--model"]);
}

// ---- training that goes wrong

#[test]
fn divergence_stops_with_a_clear_message() {
    let line = train_fails(&["--activation", "identity", "--lr", "1e10"], &["diverged at epoch 1", "--lr"]);
    assert!(line.contains("NaN") || line.contains("inf"), "{line}");
}

// ---- predict inputs

/// A 784-input model fits an image of any size to 28x28 (tests/predict_images.rs); a blank one
/// has nothing to fit.
#[test]
fn predict_blank_image_of_another_size() {
    let model = small_model().join("model.safetensors");
    let d = tmp();
    let mut pgm = b"P5\n10 10\n255\n".to_vec();
    pgm.extend([0u8; 100]);
    let f = write(&d.path().join("small.pgm"), &pgm);
    fails(d.path(), &["predict", "--model", model.to_str().unwrap(), "--input", f.to_str().unwrap(), "--device", "cpu"], &["small.pgm", "10x10", "blank"]);
}

#[test]
fn predict_csv_row_of_the_wrong_width() {
    let model = small_model().join("model.safetensors");
    let d = tmp();
    let f = write(&d.path().join("rows.csv"), b"1,2,3\n");
    fails(d.path(), &["predict", "--model", model.to_str().unwrap(), "--input", f.to_str().unwrap(), "--device", "cpu"], &["rows.csv", "line 1", "784"]);
}

#[test]
fn predict_input_that_is_not_an_image() {
    let model = small_model().join("model.safetensors");
    let d = tmp();
    let f = write(&d.path().join("digit.png"), b"GIF89a....");
    fails(d.path(), &["predict", "--model", model.to_str().unwrap(), "--input", f.to_str().unwrap(), "--device", "cpu"], &["digit.png"]);
}

/// `check` validates its tolerances and reads the data flags like `train`, before any GPU is asked for.
#[test]
fn check_refuses_bad_tolerances_and_reads_the_data_flags() {
    let d = tmp();
    fails(d.path(), &["check", "--factor", "nan"], &["--factor", "NaN"]);
    fails(d.path(), &["check", "--ulps", "-1"], &["--ulps", "-1"]);
    fails(d.path(), &["check", "--steps", "0"], &["--steps", "at least 1"]);
    fails(d.path(), &["check", "--csv", "missing.csv", "--target", "y"], &["missing.csv"]);
    fails(d.path(), &["check", "--layers", "4,8,3"], &["--layers", "784 features"]);
    fails(d.path(), &["check", "--kfold", "3"], &["--kfold"]);
}

/// eval and info read the shared data flags as train does; `--target` alone is refused.
#[test]
fn data_flags_of_eval_and_info() {
    let model = small_model().join("model.safetensors");
    let m = model.to_str().unwrap();
    let d = tmp();
    fails(d.path(), &["eval", "--model", m, "--device", "cpu", "--csv", "x.csv"], &["--target", "--csv"]);
    fails(d.path(), &["eval", "--model", m, "--device", "cpu", "--data", "a", "--csv", "x.csv", "--target", "y"], &["--data", "not both"]);
    fails(d.path(), &["eval", "--model", m, "--device", "cpu", "--target", "y"], &["--target", "--csv"]);
    fails(d.path(), &["info", "--model", m, "--target", "y"], &["--target", "--csv"]);
    fails(d.path(), &["info", "--layers", "4,3", "--csv", "missing.csv", "--target", "y"], &["missing.csv"]);
}

/// Every value is validated before any data is read or file written: a bad --batch is reported
/// even though --data names a directory that does not exist (and no run directory is made).
#[test]
fn bad_values_are_reported_before_the_data_is_read() {
    train_fails(&["--batch", "0", "--data", "no-such-dir"], &["--batch", "at least 1"]);
    train_fails(&["--weight-decay", "-1", "--data", "no-such-dir"], &["--weight-decay", "-1"]);
    train_fails(&["--csv", "no-such.csv"], &["--target", "--csv"]);
}

#[test]
fn checkpoint_every_not_epochs_or_seconds() {
    for v in ["0", "0s", "-2s", "5m", "x"] {
        train_fails(&["--checkpoint-every", v], &["--checkpoint-every", &format!("'{v}'")]);
    }
}
