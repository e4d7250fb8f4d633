//! Hostile input (issue 12, classes 1, 2, 6, 7): files whose headers lie about their sizes, size
//! products that overflow or exceed the machine, models with NaN/Inf weights, and values a
//! message must not echo whole. Every case runs the binary under an address-space limit
//! (`ulimit -v`, so an allocation of what a header claims aborts instead of swapping) and must
//! exit non-zero with exactly one short stderr line starting "error:", never panic or abort,
//! and leave nothing behind. The success cases (a --batch far above the data, a 40,000-class
//! eval) run under the same limit. docs/bad-input.md lists what each class gets.
//!
//! Linux only: `ulimit -v`, /proc/meminfo (the memory checks) and sparse files.
#![cfg(target_os = "linux")]

use assert_cmd::Command;
use flate2::{write::GzEncoder, Compression};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use wgpu_mlp::model::{save_model, Activation, Loss, NetworkSpec, ParamLayout, Params};

/// Address space each run may map (KiB for `ulimit -v`): far above what these small runs need
/// (wgpu-mlp maps about 0.3 GiB for its threads and code), far below what the hostile headers
/// claim (tens of GiB and more).
const ADDRESS_SPACE_KIB: u64 = 3 << 20;

/// Longest stderr line a failure may print (bytes).
const MAX_LINE: usize = 700;

fn tmp() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// `wgpu-mlp args` in `dir` under the address-space limit, with `env` set.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("wgpu-mlp");
    let script = format!("ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\"");
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir).arg("-c").arg(script).arg(bin).args(args);
    // a many-core machine would reserve a malloc arena and a stack per thread against the limit
    cmd.env("MALLOC_ARENA_MAX", "2").env("RAYON_NUM_THREADS", "2");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Runs and checks the failure contract; returns the stderr line.
fn fails_env(dir: &Path, args: &[&str], env: &[(&str, &str)], mentions: &[&str]) -> String {
    let out = run(dir, args, env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded; stderr: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{args:?} ended by a signal or another code (abort?): {:?}; stderr: {:.2000}", out.status, stderr);
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr:.2000}");
    assert!(!stderr.contains("memory allocation"), "{args:?} aborted on allocation: {stderr:.2000}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: stderr is not one line:\n{stderr:.2000}");
    assert!(lines[0].starts_with("error:"), "{args:?}: {stderr:.2000}");
    assert!(lines[0].len() <= MAX_LINE, "{args:?}: stderr line is {} bytes long: {:.300}", lines[0].len(), lines[0]);
    for m in mentions {
        assert!(lines[0].contains(m), "{args:?}: stderr does not mention {m:?}: {stderr}");
    }
    lines[0].to_string()
}

fn fails(dir: &Path, args: &[&str], mentions: &[&str]) -> String {
    fails_env(dir, args, &[], mentions)
}

/// `train` on the CPU into `dir/run` with `extra` flags: must fail and leave no run directory.
fn train_fails(dir: &Path, extra: &[&str], mentions: &[&str]) -> String {
    let mut args = vec!["train", "--device", "cpu", "--epochs", "1", "--out", "run"];
    args.extend_from_slice(extra);
    let line = fails(dir, &args, mentions);
    assert!(!dir.join("run").exists(), "{extra:?} left a run directory behind");
    line
}

/// Runs and requires success under the address-space limit; returns stdout.
fn succeeds(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed ({:?}): {stderr:.2000}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn be(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// A safetensors file holding the tensors of `real` (zeros) but metadata describing `claimed`.
fn lying_model(path: &Path, format: &str, claimed: &NetworkSpec, real: &NetworkSpec) {
    let layout = ParamLayout::new(real);
    let mut bufs = Vec::new();
    for (i, l) in layout.layers.iter().enumerate() {
        bufs.push((format!("layers.{i}.weight"), vec![l.outputs, l.inputs], vec![0u8; 4 * l.weight_len()]));
        bufs.push((format!("layers.{i}.bias"), vec![l.outputs], vec![0u8; 4 * l.outputs]));
    }
    let views: Vec<(String, TensorView)> =
        bufs.iter().map(|(n, shape, b)| (n.clone(), TensorView::new(Dtype::F32, shape.clone(), b).unwrap())).collect();
    let meta = HashMap::from([
        ("format".to_string(), format.to_string()),
        ("spec".to_string(), serde_json::to_string(claimed).unwrap()),
    ]);
    write(path, &safetensors::serialize(views, Some(meta)).unwrap());
}

fn spec(sizes: &[usize]) -> NetworkSpec {
    NetworkSpec::new(sizes, Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap()
}

/// A 784-4-10 model whose element `at` of tensor 0 (layers.0.weight) is `bad`.
fn poisoned_model(dir: &Path, bad: f32) -> PathBuf {
    let sp = spec(&[784, 4, 10]);
    let mut p = Params::<f32>::zeros(&ParamLayout::new(&sp));
    p.data.iter_mut().enumerate().for_each(|(i, v)| *v = (i % 7) as f32 * 0.01);
    p.weight_mut(0)[5] = bad;
    let path = dir.join("poisoned.safetensors");
    save_model(&path, &sp, &p, serde_json::Value::Null).unwrap();
    path
}

/// A PNG of signature + IHDR (`w`×`h`, 8-bit gray) + a tiny IDAT + IEND, with correct CRCs:
/// about 70 bytes that declare any size.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = be(&[w, h]);
    ihdr.extend([8, 0, 0, 0, 0]); // 8 bits, grayscale, deflate, adaptive filter, no interlace
    chunk(&mut b, b"IHDR", &ihdr);
    // a few pixels of data, so a decoder gets as far as allocating the frame the header declares
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), Compression::best());
    z.write_all(&[0u8; 64]).unwrap();
    chunk(&mut b, b"IDAT", &z.finish().unwrap());
    chunk(&mut b, b"IEND", &[]);
    b
}

/// A 28x28 PGM of mid-gray pixels.
fn pgm_28(dir: &Path) -> PathBuf {
    let mut b = b"P5 28 28 255\n".to_vec();
    b.extend([128u8; 784]);
    write(&dir.join("digit.pgm"), &b)
}

// ---- class 1: allocation before validation

#[test]
fn model_metadata_claiming_a_huge_network_is_refused_before_allocating() {
    let d = tmp();
    let m = d.path().join("liar.safetensors");
    lying_model(&m, "wgpu-mlp", &spec(&[100000, 100000, 10]), &spec(&[4, 3, 2]));
    assert!(std::fs::metadata(&m).unwrap().len() < 600);
    fails(d.path(), &["info", "--model", s(&m)], &["liar.safetensors", "layers.0.weight"]);
    fails(d.path(), &["eval", "--model", s(&m), "--device", "cpu"], &["liar.safetensors", "shape"]);
    // refused for its size where memory is short, else for the file's tensors: one line either way
    train_fails(d.path(), &["--layers", "100000,100000,10", "--init-from", s(&m)], &[]);
    train_fails(d.path(), &["--layers", "784,8,10", "--init-from", s(&m)], &["liar.safetensors"]);
}

/// A sparse file of 1 TiB (no blocks on disk): a loader that reads files whole must refuse it by
/// its size, not try to read it.
fn sparse(path: &Path) -> PathBuf {
    std::fs::File::create(path).unwrap().set_len(1 << 40).unwrap();
    path.to_path_buf()
}

#[test]
fn files_larger_than_the_machine_are_refused_by_their_size() {
    let d = tmp();
    let model = poisoned_model(d.path(), 0.5);
    let big = sparse(&d.path().join("big.safetensors"));
    fails(d.path(), &["eval", "--model", s(&big), "--device", "cpu"], &["big.safetensors", "1.00 TiB", "more than"]);
    let png = sparse(&d.path().join("big.png"));
    fails(d.path(), &["predict", "--model", s(&model), "--input", s(&png), "--device", "cpu"], &["big.png", "1.00 TiB"]);
    let idx = tmp();
    sparse(&idx.path().join("train-images-idx3-ubyte"));
    sparse(&idx.path().join("train-labels-idx1-ubyte"));
    train_fails(d.path(), &["--data", s(idx.path())], &["train-images-idx3-ubyte", "1.00 TiB"]);
    let csv = sparse(&d.path().join("big.csv"));
    train_fails(d.path(), &["--layers", "2,4,2", "--csv", s(&csv), "--target", "y"], &["big.csv", "1.00 TiB"]);
}

/// A stream with no size ends with a line once it has given a quarter of the memory the process
/// may use (under the test's 3 GiB limit: about 0.75 GiB of zeros), for each loader kind.
#[test]
fn endless_input_is_cut_off_with_one_line() {
    let d = tmp();
    let model = poisoned_model(d.path(), 0.5);
    fails(d.path(), &["eval", "--model", "/dev/zero", "--device", "cpu"], &["/dev/zero", "quarter of the memory"]);
    fails(d.path(), &["predict", "--model", s(&model), "--input", "/dev/zero", "--device", "cpu"], &["/dev/zero", "quarter"]);
    train_fails(d.path(), &["--layers", "2,4,2", "--csv", "/dev/zero", "--target", "y"], &["/dev/zero", "quarter"]);
    train_fails(d.path(), &["--config", "/dev/zero"], &["/dev/zero", "quarter"]);
}

#[test]
fn png_header_declaring_300000_squared_pixels_is_refused_before_decoding() {
    let d = tmp();
    let model = poisoned_model(d.path(), 0.5);
    let png = write(&d.path().join("huge.png"), &png_header_only(300_000, 300_000));
    fails(d.path(), &["predict", "--model", s(&model), "--input", s(&png), "--device", "cpu"], &["huge.png", "300000x300000"]);
}

#[test]
fn pgm_header_declaring_a_huge_image_is_refused() {
    let d = tmp();
    let model = poisoned_model(d.path(), 0.5);
    let pgm = write(&d.path().join("huge.pgm"), b"P5 4000000000 4000000000 255\n\x00\x00");
    fails(d.path(), &["predict", "--model", s(&model), "--input", s(&pgm), "--device", "cpu"], &["huge.pgm", "4000000000x4000000000", "more than"]);
    let pgm = write(&d.path().join("digits.pgm"), b"P2 99999999999999999999999 2 255\n1 2\n");
    fails(d.path(), &["predict", "--model", s(&model), "--input", s(&pgm), "--device", "cpu"], &["digits.pgm", "too large"]);
}

/// An IDX pair of 5 images of 4x4 in `dir`, the image file gzipped as `images_gz`.
fn idx_gz_dir(images_gz: Vec<u8>) -> TempDir {
    let d = tmp();
    write(&d.path().join("train-images-idx3-ubyte.gz"), &images_gz);
    let mut labels = be(&[0x801, 5]);
    labels.extend([0, 1, 2, 3, 4]);
    write(&d.path().join("train-labels-idx1-ubyte"), &labels);
    d
}

#[test]
fn gzip_idx_that_inflates_beyond_its_header_is_a_bad_file() {
    // 5 images of 4x4 declared, then 1.5 GiB of zeros: inflating it whole would pass the limit
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    let mut head = be(&[0x803, 5, 4, 4]);
    head.extend([7u8; 80]);
    e.write_all(&head).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1536 {
        e.write_all(&zeros).unwrap();
    }
    let d = idx_gz_dir(e.finish().unwrap());
    let line = train_fails(d.path(), &["--layers", "16,4,10", "--data", s(d.path())], &["train-images-idx3-ubyte.gz", "inflates beyond"]);
    assert!(!line.contains("out of memory"), "{line}");
}

#[test]
fn gzip_idx_header_declaring_more_than_its_data_can_hold_is_refused_before_inflating() {
    // 2^30 images of 28x28 announced by a gzip file of a few dozen bytes
    let d = idx_gz_dir(gz(&be(&[0x803, 1 << 30, 28, 28])));
    train_fails(d.path(), &["--data", s(d.path())], &["train-images-idx3-ubyte.gz", "cannot inflate"]);
    // a header whose size product overflows
    let d = idx_gz_dir(gz(&be(&[0x803, u32::MAX, u32::MAX, u32::MAX])));
    train_fails(d.path(), &["--data", s(d.path())], &["train-images-idx3-ubyte.gz", "impossible size"]);
}

#[test]
fn raw_idx_header_declaring_a_huge_size_is_truncated_not_allocated() {
    let d = tmp();
    write(&d.path().join("train-images-idx3-ubyte"), &be(&[0x803, 1 << 30, 1 << 10, 1 << 10]));
    write(&d.path().join("train-labels-idx1-ubyte"), &be(&[0x801, 1 << 30]));
    train_fails(d.path(), &["--data", s(d.path())], &["train-images-idx3-ubyte", "truncated"]);
}

// ---- class 2: size arithmetic

#[test]
fn layer_sizes_whose_product_overflows_name_layers() {
    let d = tmp();
    for cmd in [&["train", "--device", "cpu", "--epochs", "1", "--out", "run"][..], &["info"][..]] {
        let mut args = cmd.to_vec();
        args.extend(["--layers", "784,4611686018427387904,10"]);
        fails(d.path(), &args, &["--layers", "784-4611686018427387904-10"]);
    }
    assert!(!d.path().join("run").exists());
}

#[test]
fn a_network_larger_than_the_machine_is_refused_before_allocating() {
    let d = tmp();
    train_fails(d.path(), &["--layers", "784,100000000,10"], &["--layers", "GiB", "memory"]);
    fails(d.path(), &["gradcheck", "--layers", "784,100000000,10"], &["--layers", "GiB", "memory"]);
    fails(d.path(), &["check", "--layers", "784,100000000,10", "--steps", "1"], &["--layers", "GiB", "memory"]);
    // info describes only a run train would start: it refuses the same way, with the size
    fails(d.path(), &["info", "--layers", "784,100000000,10"], &["--layers", "888.48 GiB", "memory"]);
}

#[test]
fn a_run_whose_activations_exceed_the_machine_is_refused_once_the_data_is_read() {
    // 30 M parameters fit; a batch of all 8000 training rows of 10 M units (640 GB of
    // activations) does not, which only the data's size tells
    let d = tmp();
    let mut csv = String::from("x,y\n");
    for i in 0..10_000 {
        csv.push_str(&format!("{},{}\n", i % 13, i % 2));
    }
    let f = write(&d.path().join("t.csv"), csv.as_bytes());
    let args = ["--layers", "1,10000000,2", "--batch", "1000000", "--optimizer", "sgd", "--csv", s(&f), "--target", "y"];
    train_fails(d.path(), &args, &["--layers", "8000 samples", "memory"]);
}

#[test]
fn a_batch_far_above_the_data_is_clamped_to_it() {
    let d = tmp();
    let out = succeeds(d.path(), &["train", "--device", "cpu", "--epochs", "1", "--layers", "784,8,10", "--batch", "100000000000", "--out", "run", "--json"]);
    assert!(out.contains("\"event\":\"done\""), "{out}");
    let info = succeeds(d.path(), &["info", "--layers", "784,8,10", "--batch", "100000000000"]);
    assert!(info.contains("batch 8000"), "info does not clamp the batch to the 8000 training samples: {info}");
}

#[test]
fn eval_of_a_40000_class_model_keeps_per_class_counts_sparse() {
    let d = tmp();
    let sp = spec(&[2, 40_000]);
    let p = Params::<f32>::zeros(&ParamLayout::new(&sp));
    let m = d.path().join("wide.safetensors");
    save_model(&m, &sp, &p, serde_json::Value::Null).unwrap();
    let mut csv = String::from("a,b,y\n");
    for i in 0..50 {
        csv.push_str(&format!("{i},{},{}\n", i % 3, i % 2));
    }
    let f = write(&d.path().join("t.csv"), csv.as_bytes());
    // a dense 40,000² matrix of u64 would be 12.8 GB: over the address-space limit
    let out = succeeds(d.path(), &["eval", "--model", s(&m), "--csv", s(&f), "--target", "y", "--device", "cpu", "--split", "all"]);
    assert!(out.contains("confusion matrix not shown: 40000 classes"), "{:.2000}", out);
}

// ---- class 6: models with NaN or Inf weights

#[test]
fn models_with_nan_or_inf_weights_are_refused_on_load() {
    let d = tmp();
    let digit = pgm_28(d.path());
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let m = poisoned_model(d.path(), bad);
        let mentions = ["poisoned.safetensors", "layers.0.weight", "non-finite"];
        fails(d.path(), &["eval", "--model", s(&m), "--device", "cpu"], &mentions);
        fails(d.path(), &["info", "--model", s(&m)], &mentions);
        fails(d.path(), &["predict", "--model", s(&m), "--input", s(&digit), "--device", "cpu"], &mentions);
        train_fails(d.path(), &["--layers", "784,4,10", "--init-from", s(&m)], &mentions);
    }
}

// ---- class 7: messages

fn csv_fails(d: &Path, body: &[u8], mentions: &[&str]) -> String {
    let f = write(&d.join("t.csv"), body);
    train_fails(d, &["--layers", "2,4,2", "--csv", s(&f), "--target", "y"], mentions)
}

#[test]
fn a_5_mb_csv_cell_is_not_echoed_whole() {
    let d = tmp();
    let cell = "x".repeat(5 << 20);
    let line = csv_fails(d.path(), format!("a,b,y\n1,2,0\n{cell},2,1\n").as_bytes(), &["t.csv", "line 3", "5242880 bytes"]);
    assert!(line.len() < 300, "{}", line.len());
    // the same cell as a header name the target is looked up among, and as the target column
    let line = csv_fails(d.path(), format!("a,{cell},z\n1,2,0\n").as_bytes(), &["t.csv", "no target column"]);
    assert!(line.len() < 400, "{}", line.len());
    let line = csv_fails(d.path(), format!("a,b,y\n1,2,0\n1,2,\"{cell}\n\"\n").as_bytes(), &["t.csv"]);
    assert!(line.len() < 400, "{}", line.len());
}

#[test]
fn a_tiny_val_frac_names_val_frac() {
    let d = tmp();
    train_fails(d.path(), &["--layers", "784,8,10", "--val-frac", "0.00001"], &["--val-frac", "0 samples"]);
}

#[test]
fn a_test_file_of_other_image_dimensions_is_named() {
    let d = tmp();
    let img = |n: u32, r: u32| {
        let mut b = be(&[0x803, n, r, r]);
        b.extend(vec![7u8; (n * r * r) as usize]);
        b
    };
    let lab = |n: u8| {
        let mut b = be(&[0x801, n as u32]);
        b.extend((0..n).map(|i| i % 10));
        b
    };
    write(&d.path().join("train-images-idx3-ubyte"), &img(20, 4));
    write(&d.path().join("train-labels-idx1-ubyte"), &lab(20));
    write(&d.path().join("t10k-images-idx3-ubyte"), &img(5, 3));
    write(&d.path().join("t10k-labels-idx1-ubyte"), &lab(5));
    train_fails(d.path(), &["--layers", "16,4,10", "--data", s(d.path())], &["t10k-images-idx3-ubyte", "3x3", "4x4"]);
}

#[test]
fn a_bad_wgpu_backend_is_not_a_missing_driver() {
    let d = tmp();
    let args = ["train", "--device", "gpu", "--epochs", "1", "--layers", "784,8,10", "--out", "run"];
    let line = fails_env(d.path(), &args, &[("WGPU_BACKEND", "vulkna")], &["WGPU_BACKEND", "'vulkna'", "vulkan"]);
    assert!(!line.to_lowercase().contains("mesa"), "{line}");
    assert!(!d.path().join("run").exists());
}

#[test]
fn a_cosine_floor_above_the_learning_rate_is_refused_as_such() {
    let d = tmp();
    train_fails(d.path(), &["--layers", "784,8,10", "--lr", "0.01", "--lr-schedule", "cosine:0.5"], &["--lr-schedule", "cosine floor 0.5", "0.01"]);
}

#[test]
fn a_class_label_too_large_for_a_class_index_is_refused_as_such() {
    let d = tmp();
    csv_fails(d.path(), b"a,b,y\n1,2,0\n3,4,1e30\n", &["t.csv", "line 3", "too large for a class index"]);
}

#[test]
fn a_negative_weight_decay_is_refused_as_such() {
    let d = tmp();
    train_fails(d.path(), &["--layers", "784,8,10", "--weight-decay", "-0.5"], &["--weight-decay", "-0.5"]);
}

/// Files found by fuzzing or by hand that once crashed a loader (tests/fixtures/hostile/): each
/// must now fail with one line naming it.
#[test]
fn checked_in_hostile_files_fail_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile");
    let d = tmp();
    let model = poisoned_model(d.path(), 0.5);
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let args: Vec<String> = if name.ends_with(".safetensors") {
            vec!["eval".into(), "--model".into(), s(&path).into(), "--device".into(), "cpu".into()]
        } else if name.ends_with(".png") || name.ends_with(".pgm") {
            vec!["predict".into(), "--model".into(), s(&model).into(), "--input".into(), s(&path).into(), "--device".into(), "cpu".into()]
        } else {
            continue;
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(d.path(), &args, &[&name]);
        seen += 1;
    }
    assert!(seen >= 2, "no hostile fixtures found in {}", dir.display());
}
