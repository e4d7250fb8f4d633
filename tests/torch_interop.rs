//! PyTorch both ways, without PyTorch: `export --format torch` writes nn.Sequential's keys
//! (checked with the safetensors crate against our model), and a state dict as PyTorch saves it
//! (no metadata; keys `0.weight`, `net.0.weight` or `fc1.weight`; F32 or F64) evaluates and
//! predicts exactly as the model it came from and starts a run. With PyTorch installed, the export also loads into
//! nn.Sequential with strict=True and gives predict's probabilities; otherwise that test says
//! it skipped.

mod common;

use assert_cmd::Command;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::path::{Path, PathBuf};
use wgpu_mlp::model::{save_model, Activation, Loss, NetworkSpec, Params};

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("wgpu-mlp").unwrap().current_dir(dir).args(args).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The one stderr line of a failing command; it must mention each of `mentions`.
fn fails(dir: &Path, args: &[&str], mentions: &[&str]) -> String {
    let out = run(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success() && !err.contains("panicked"), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    for m in mentions {
        assert!(err.contains(m), "{args:?}: does not mention {m:?}: {err}");
    }
    err
}

/// A 784-16-12-10 tanh model with seeded weights (no training needed: eval compares files).
fn model(dir: &Path) -> (PathBuf, NetworkSpec, Params<f32>) {
    let spec = NetworkSpec::new(&[784, 16, 12, 10], Activation::Tanh, Loss::SoftmaxCrossEntropy).unwrap();
    let p = common::params(&spec, 7);
    let path = dir.join("model.safetensors");
    save_model(&path, &spec, &p, serde_json::Value::Null).unwrap();
    (path, spec, p)
}

/// Writes `p` as PyTorch's save_file would: no metadata, layer i under `names[i]`, in `dtype`.
fn state_dict(path: &Path, p: &Params<f32>, names: &[&str], dtype: Dtype) {
    state_dict_with(path, p, names, dtype, None)
}

/// [`state_dict`] with safetensors metadata (`{"format": "pt"}`, as `safetensors.torch.save_model` writes).
fn state_dict_with(path: &Path, p: &Params<f32>, names: &[&str], dtype: Dtype, meta: Option<std::collections::HashMap<String, String>>) {
    let bytes = |v: &[f32]| -> Vec<u8> {
        match dtype {
            Dtype::F64 => v.iter().flat_map(|x| (*x as f64).to_le_bytes()).collect(),
            _ => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    };
    let mut owned = Vec::new();
    for (i, s) in p.layout.layers.iter().enumerate() {
        owned.push((format!("{}.weight", names[i]), vec![s.outputs, s.inputs], bytes(p.weight(i))));
        owned.push((format!("{}.bias", names[i]), vec![s.outputs], bytes(p.bias(i))));
    }
    let views: Vec<(String, TensorView)> = owned.iter().map(|(n, s, b)| (n.clone(), TensorView::new(dtype, s.clone(), b).unwrap())).collect();
    std::fs::write(path, safetensors::serialize(views, meta).unwrap()).unwrap();
}

fn eval_report(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["eval", "--device", "cpu", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str::<serde_json::Value>(ok(dir, &all).trim()).unwrap()["report"].clone()
}

#[test]
fn export_writes_sequential_keys_and_our_weights() {
    let d = tempfile::tempdir().unwrap();
    let (m, spec, p) = model(d.path());
    let text = ok(d.path(), &["export", "--model", m.to_str().unwrap(), "--format", "torch", "--out", "t.safetensors", "--python", "t.py"]);
    assert!(text.contains("nn.Linear(784, 16), nn.Tanh(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 10)"), "{text}");
    let bytes = std::fs::read(d.path().join("t.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]);
    for (i, s) in p.layout.layers.iter().enumerate() {
        for (kind, shape, want) in [("weight", vec![s.outputs, s.inputs], p.weight(i)), ("bias", vec![s.outputs], p.bias(i))] {
            let t = st.tensor(&format!("{}.{kind}", 2 * i)).unwrap();
            assert_eq!((t.dtype(), t.shape()), (Dtype::F32, &shape[..]), "layer {i} {kind}");
            let got: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            assert_eq!(got, want, "layer {i} {kind}: PyTorch's Linear is [out, in], as ours");
        }
    }
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    assert!(!meta.metadata().as_ref().unwrap().contains_key("format"), "a state dict, not a wgpu-mlp model");
    let py = std::fs::read_to_string(d.path().join("t.py")).unwrap();
    for want in ["nn.Sequential(", "    nn.Linear(784, 16),\n    nn.Tanh(),\n", "load_state_dict(load_file(\"t.safetensors\"))", "model.eval()"] {
        assert!(py.contains(want), "{want:?} not in\n{py}");
    }
    // our export reads back without flags (it carries its spec) and scores as the model
    assert_eq!(eval_report(d.path(), &["--model", "t.safetensors"]), eval_report(d.path(), &["--model", m.to_str().unwrap()]));
    let j: serde_json::Value = serde_json::from_str(ok(d.path(), &["export", "--model", m.to_str().unwrap(), "--out", "j.safetensors", "--json"]).trim()).unwrap();
    assert_eq!((j["format"].as_str(), j["network"].as_str(), j["sequential"].as_array().map(Vec::len)), (Some("torch"), Some(&*spec.describe()), Some(5)), "{j}");
    fails(d.path(), &["export", "--model", m.to_str().unwrap(), "--out", "x.safetensors", "--python", "x.safetensors"], &["--python", "x.safetensors"]);
}

#[test]
fn pytorch_state_dicts_evaluate_exactly_and_start_runs() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (m, _, p) = model(dir);
    let want = eval_report(dir, &["--model", m.to_str().unwrap()]);
    let net = ["--layers", "784,16,12,10", "--activation", "tanh"];
    for (file, names, dtype) in [
        ("seq.safetensors", ["0", "2", "4"], Dtype::F32),
        ("prefixed.safetensors", ["net.0", "net.2", "net.4"], Dtype::F32),
        ("named.safetensors", ["fc1", "fc2", "fc3"], Dtype::F64),
    ] {
        state_dict(&dir.join(file), &p, &names, dtype);
        let mut args = vec!["--model", file];
        args.extend_from_slice(&net);
        assert_eq!(eval_report(dir, &args), want, "{file}: eval must score as the original model");
    }
    // PyTorch's own format tag is a state dict too
    let pt = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    state_dict_with(&dir.join("pt.safetensors"), &p, &["0", "2", "4"], Dtype::F32, Some(pt));
    let mut args = vec!["--model", "pt.safetensors"];
    args.extend_from_slice(&net);
    assert_eq!(eval_report(dir, &args), want, "format 'pt'");
    // names that carry no order are refused, not read alphabetically
    state_dict(&dir.join("words.safetensors"), &p, &["input", "hidden", "output"], Dtype::F32);
    let mut args = vec!["eval", "--device", "cpu", "--model", "words.safetensors"];
    args.extend_from_slice(&net);
    fails(dir, &args, &["words.safetensors", "no numbers", "'hidden'"]);
    // our export records its network: flags that name another are refused
    ok(dir, &["export", "--model", m.to_str().unwrap(), "--out", "exp.safetensors"]);
    fails(dir, &["eval", "--device", "cpu", "--model", "exp.safetensors", "--layers", "784,16,12,10", "--activation", "relu"], &["exp.safetensors", "the export uses", "the flags say"]);
    // predict reads it as eval does
    let ds = wgpu_mlp::data::bundled_mnist().unwrap();
    let wgpu_mlp::data::Features::U8(px) = &ds.features else { panic!("u8 pixels") };
    let mut pgm = b"P5\n28 28\n255\n".to_vec();
    pgm.extend_from_slice(&px[..784]);
    std::fs::write(dir.join("d.pgm"), pgm).unwrap();
    let predict = |model: &str, flags: &[&str]| {
        let mut args = vec!["predict", "--device", "cpu", "--json", "--input", "d.pgm", "--model", model];
        args.extend_from_slice(flags);
        serde_json::from_str::<serde_json::Value>(ok(dir, &args).trim()).unwrap()["outputs"].clone()
    };
    assert_eq!(predict("prefixed.safetensors", &net), predict(m.to_str().unwrap(), &[]));
    // train --init-from starts from it
    ok(dir, &["train", "--device", "cpu", "--layers", "784,16,12,10", "--activation", "tanh", "--init-from", "seq.safetensors", "--epochs", "1", "--out", "run", "--json"]);
    // a network the file is not, no network at all: one line each
    fails(dir, &["eval", "--device", "cpu", "--model", "seq.safetensors", "--layers", "784,32,12,10", "--activation", "tanh"], &["seq.safetensors", "'0.weight'", "[16, 784]", "[32, 784]"]);
    fails(dir, &["train", "--device", "cpu", "--layers", "784,32,12,10", "--init-from", "seq.safetensors", "--epochs", "1", "--out", "run2"], &["seq.safetensors", "shape", "--layers 784,32,12,10"]);
    fails(dir, &["eval", "--device", "cpu", "--model", "seq.safetensors", "--layers", "784,16,10"], &["seq.safetensors", "3 Linear layers", "makes 2"]);
    fails(dir, &["eval", "--device", "cpu", "--model", "seq.safetensors"], &["seq.safetensors", "--layers", "--activation"]);
    fails(dir, &["predict", "--device", "cpu", "--model", "seq.safetensors", "--input", "d.pgm"], &["seq.safetensors", "--layers"]);
    fails(dir, &["eval", "--device", "cpu", "--model", "seq.safetensors", "--init", "he_normal"], &["--init", "eval takes only"]);
    fails(dir, &["eval", "--device", "cpu", "--model", "seq.safetensors", "--standardize"], &["--standardize", "eval takes only"]);
    fails(dir, &["predict", "--device", "cpu", "--model", "seq.safetensors", "--hidden", "16,12", "--input", "x.png"], &["--hidden", "predict takes only"]);
}

/// Runs only where `python3 -c "import torch, safetensors"` works (never installed by this test).
#[test]
fn export_loads_into_torch_sequential_strict() {
    let has_torch = std::process::Command::new("python3").args(["-c", "import torch, safetensors"]).output().is_ok_and(|o| o.status.success());
    if !has_torch {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED export_loads_into_torch_sequential_strict: python3 cannot import torch and safetensors");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (m, _, _) = model(dir);
    ok(dir, &["export", "--model", m.to_str().unwrap(), "--out", "t.safetensors", "--python", "t.py"]);
    let ds = wgpu_mlp::data::bundled_mnist().unwrap();
    let wgpu_mlp::data::Features::U8(px) = &ds.features else { panic!("u8 pixels") };
    let mut pgm = b"P5\n28 28\n255\n".to_vec();
    pgm.extend_from_slice(&px[..784]);
    std::fs::write(dir.join("d.pgm"), pgm).unwrap();
    std::fs::write(dir.join("d.bin"), &px[..784]).unwrap();
    let p: serde_json::Value = serde_json::from_str(ok(dir, &["predict", "--model", m.to_str().unwrap(), "--input", "d.pgm", "--device", "cpu", "--json"]).trim()).unwrap();
    let want: Vec<f64> = p["outputs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let script = "exec(open('t.py').read())\n\
        x = torch.tensor(list(open('d.bin', 'rb').read()), dtype=torch.float32).reshape(1, 784) / 255\n\
        print(' '.join(repr(v) for v in torch.softmax(model(x), dim=1)[0].tolist()))\n";
    let out = std::process::Command::new("python3").current_dir(dir).args(["-c", script]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<f64> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(|v| v.parse().unwrap()).collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-6, "torch {got:?} vs predict {want:?}");
    }
}
