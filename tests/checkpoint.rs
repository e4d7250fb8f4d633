//! Checkpoints: bit-exact round trips, metadata, corrupt files, architecture checks, training state.

use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use wgpu_mlp::optim::OptimizerState;
use wgpu_mlp::model::*;
use wgpu_mlp::Error;

fn net(sizes: &[usize]) -> (NetworkSpec, Params<f32>) {
    let spec = NetworkSpec::new(sizes, Activation::LeakyRelu(0.05), Loss::SoftmaxCrossEntropy).unwrap();
    let mut p = Init::HeNormal.init(&ParamLayout::new(&spec), 9).cast(|x| x as f32);
    // Biases start at zero; give them awkward values, including ones f32 text would round.
    for l in 0..p.num_layers() {
        for (i, b) in p.bias_mut(l).iter_mut().enumerate() {
            *b = f32::from_bits(0x3f80_0001 + i as u32) * if i % 2 == 0 { -1.0 } else { 1e-30 };
        }
    }
    p.weight_mut(0)[0] = f32::MIN_POSITIVE / 3.0; // subnormal
    p.weight_mut(0)[1] = -0.0;
    (spec, p)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn assert_bad(r: wgpu_mlp::Result<impl std::fmt::Debug>, needle: &str) {
    match r {
        Err(e @ Error::BadFile { .. }) => assert!(e.to_string().contains(needle), "'{e}' lacks '{needle}'"),
        other => panic!("expected BadFile containing '{needle}', got {other:?}"),
    }
}

#[test]
fn model_round_trip_is_bit_exact_with_metadata() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("m.safetensors");
    let (spec, p) = net(&[5, 7, 3, 4]);
    let config = json!({"lr": 0.1, "optimizer": {"kind": "adam", "beta1": 0.9}, "seed": 42, "note": "ünïcode"});
    save_model(&path, &spec, &p, config.clone()).unwrap();
    let (spec2, p2, config2) = load_model(&path).unwrap();
    assert_eq!(spec2, spec);
    assert_eq!(p2.layout, p.layout);
    assert_eq!(bits(&p2.data), bits(&p.data));
    assert_eq!(config2, config);
    // no temp file left behind
    let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // overwrite in place works (atomic rename over an existing file)
    save_model(&path, &spec, &p, serde_json::Value::Null).unwrap();
    assert_eq!(load_model(&path).unwrap().2, serde_json::Value::Null);
}

#[test]
fn file_layout_is_pytorch_linear() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("m.safetensors");
    let (spec, p) = net(&[5, 7, 3]);
    save_model(&path, &spec, &p, json!({})).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(names, ["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"]);
    let w = st.tensor("layers.0.weight").unwrap();
    assert_eq!((w.dtype(), w.shape()), (Dtype::F32, &[7usize, 5][..]));
    assert_eq!(st.tensor("layers.1.bias").unwrap().shape(), &[3]);
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["format"], "wgpu-mlp");
    let spec_json: serde_json::Value = serde_json::from_str(&meta["spec"]).unwrap();
    assert_eq!(spec_json, json!({"sizes": [5, 7, 3], "activations": ["leaky_relu:0.05"], "loss": "softmax_xent"}));
}

fn write_st(path: &Path, tensors: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)>, meta: HashMap<String, String>) {
    let views: Vec<_> = tensors.iter().map(|(n, dt, s, b)| (n.to_string(), TensorView::new(*dt, s.clone(), b).unwrap())).collect();
    std::fs::write(path, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
}

#[test]
fn corrupt_and_inconsistent_files_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("m.safetensors");
    let (spec, p) = net(&[4, 3, 2]);
    save_model(&path, &spec, &p, json!({})).unwrap();
    let good = std::fs::read(&path).unwrap();

    let bad = d.path().join("bad");
    for bytes in [b"not a checkpoint at all".to_vec(), vec![], good[..good.len() - 5].to_vec(), {
        let mut g = good.clone();
        g[0] = 0xff; // header length
        g
    }] {
        std::fs::write(&bad, &bytes).unwrap();
        assert_bad(load_model(&bad), "not a valid safetensors checkpoint");
    }
    assert!(matches!(load_model(d.path().join("missing")), Err(Error::Io { .. })));

    let meta = |spec: &str| {
        HashMap::from([("format".to_string(), "wgpu-mlp".to_string()), ("spec".to_string(), spec.to_string())])
    };
    let spec_json = serde_json::to_string(&spec).unwrap();
    let f32s = |n: usize| vec![0u8; 4 * n];
    let full = |w0: Vec<usize>| {
        vec![
            ("layers.0.weight", Dtype::F32, w0.clone(), f32s(w0.iter().product())),
            ("layers.0.bias", Dtype::F32, vec![3], f32s(3)),
            ("layers.1.weight", Dtype::F32, vec![2, 3], f32s(6)),
            ("layers.1.bias", Dtype::F32, vec![2], f32s(2)),
        ]
    };
    write_st(&bad, full(vec![3, 4]), meta(&spec_json));
    load_model(&bad).unwrap();
    write_st(&bad, full(vec![4, 3]), meta(&spec_json));
    assert_bad(load_model(&bad), "tensor 'layers.0.weight' has shape [4, 3] but the network spec needs [3, 4]");
    let mut t = full(vec![3, 4]);
    t.remove(3);
    write_st(&bad, t, meta(&spec_json));
    assert_bad(load_model(&bad), "missing tensor 'layers.1.bias'");
    let mut t = full(vec![3, 4]);
    t[1] = ("layers.0.bias", Dtype::F64, vec![3], vec![0u8; 24]);
    write_st(&bad, t, meta(&spec_json));
    assert_bad(load_model(&bad), "tensor 'layers.0.bias' is F64, expected F32");
    let mut t = full(vec![3, 4]);
    t.push(("layers.2.weight", Dtype::F32, vec![1], f32s(1)));
    write_st(&bad, t, meta(&spec_json));
    assert_bad(load_model(&bad), "unexpected tensor 'layers.2.weight'");
    write_st(&bad, full(vec![3, 4]), HashMap::new());
    assert_bad(load_model(&bad), "no 'format' metadata");
    write_st(&bad, full(vec![3, 4]), meta("{\"sizes\": [4]}"));
    assert_bad(load_model(&bad), "metadata 'spec'");
}

#[test]
fn architecture_mismatch_is_explained() {
    let a = NetworkSpec::new(&[784, 32, 10], Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap();
    let b = NetworkSpec::new(&[784, 64, 10], Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap();
    let c = NetworkSpec::new(&[784, 32, 10], Activation::Tanh, Loss::SoftmaxCrossEntropy).unwrap();
    let d = NetworkSpec::new(&[784, 32, 10], Activation::Relu, Loss::MeanSquaredError).unwrap();
    check_architecture(&a, &a).unwrap();
    let e = check_architecture(&b, &a).unwrap_err().to_string();
    assert!(e.contains("checkpoint is 784-32-10 but the run asks for 784-64-10"), "{e}");
    let e = check_architecture(&c, &a).unwrap_err().to_string();
    assert!(e.contains("[relu]") && e.contains("[tanh]"), "{e}");
    let e = check_architecture(&d, &a).unwrap_err().to_string();
    assert!(e.contains("softmax_xent") && e.contains("mse"), "{e}");
}

#[test]
fn training_state_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("run").join("ckpt");
    let (spec, p) = net(&[6, 5, 3]);
    let m: Vec<f32> = p.data.iter().map(|x| x * 0.5).collect();
    let v: Vec<f32> = p.data.iter().map(|x| x * x).collect();
    let state = TrainingState {
        spec: spec.clone(),
        params: p.clone(),
        optimizer: OptimizerState { slots: vec![m, v], step: 12_345 },
        epoch: 7,
        seed: u64::MAX,
        extra: json!({"best_val_loss": 0.25, "history": [1.0, 0.5]}),
    };
    let file = save_training_state(&dir, &state).unwrap();
    assert_eq!(file, dir.join(STATE_FILE));
    let back = load_training_state(&dir).unwrap();
    assert_eq!(bits(&back.params.data), bits(&p.data));
    for (a, b) in back.optimizer.slots.iter().zip(&state.optimizer.slots) {
        assert_eq!(bits(a), bits(b));
    }
    assert_eq!(back, state);
    // the state file also loads as a model
    let (spec2, p2, _) = load_model(&file).unwrap();
    assert_eq!((spec2, bits(&p2.data)), (spec.clone(), bits(&p.data)));
    // a model file is not a training state
    save_model(dir.join(STATE_FILE), &spec, &p, json!({})).unwrap();
    assert_bad(load_training_state(&dir), "format is 'wgpu-mlp'");

    // plain SGD: no slots
    let sgd = TrainingState { optimizer: OptimizerState { slots: vec![], step: 0 }, ..state.clone() };
    save_training_state(&dir, &sgd).unwrap();
    assert_eq!(load_training_state(&dir).unwrap(), sgd);

    let wrong = TrainingState { optimizer: OptimizerState { slots: vec![vec![0.0; 3]], step: 0 }, ..state };
    assert!(save_training_state(&dir, &wrong).is_err());
    assert!(matches!(load_training_state(d.path()), Err(Error::Io { .. })));
}

// ---- config.toml and library runs

/// config.toml as `train` wrote it before the options were grouped into sections (flat keys in
/// the old field order): it still loads, and what loads writes back to the same values.
#[test]
fn old_config_files_keep_loading() {
    use wgpu_mlp::config::{DeviceChoice, Origin, TrainConfig};
    let old = "layers = [784, 8, 10]\nactivation = [\"relu\"]\nloss = \"softmax_xent\"\ninit = \"he_normal\"\noptimizer = \"momentum\"\n\
lr = 0.05\nnesterov = false\nrho = 0.99\nbeta1 = 0.9\nbeta2 = 0.999\neps = 0.00000001\nweight_decay = 0.0\nl2 = []\nl1 = []\n\
l1_proximal = false\ndropout = []\naugment = \"shift=1\"\nbatch = 100\nepochs = 1\nlr_schedule = \"exp:0.95\"\nseed = 0\n\
device = \"cpu\"\nshuffle = true\nmin_delta = 0.0\nout = \"run\"\n";
    let c = TrainConfig::from_toml_str(old, Origin::Program).unwrap();
    assert_eq!(c.model.layers, vec![784, 8, 10]);
    assert_eq!(c.engine.device, DeviceChoice::Cpu);
    assert_eq!(c.run.epochs, 1);
    assert_eq!(c.reg.augment, Some("shift=1".parse().unwrap()));
    assert_eq!(c.run.out.as_deref(), Some(Path::new("run")));
    let again = TrainConfig::from_toml_str(&c.to_toml().unwrap(), Origin::User).unwrap();
    assert_eq!(again, c);
    // a partial file keeps the defaults for the rest; an unknown key is refused by name
    let partial = TrainConfig::from_toml_str("lr = 0.2\nmomentum = 0.5\n", Origin::User).unwrap();
    assert_eq!((partial.optim.lr, partial.optim.momentum, partial.run.batch), (0.2, Some(0.5), 100));
    let e = TrainConfig::from_toml_str("lr = 0.2\nbatchsize = 3\n", Origin::User).unwrap_err();
    assert!(e.contains("unknown field `batchsize`"), "{e}");
    // a model's metadata holds the config as flat JSON too, as models written before did
    let j = serde_json::to_value(&c).unwrap();
    assert_eq!((j["lr"].clone(), j["epochs"].clone(), j["momentum"].clone()), (json!(0.05), json!(1), json!(null)));
    assert_eq!(TrainConfig::from_settings(j, Origin::Program).unwrap(), c);
}

/// A library run reports its progress as events, in order, and leaves printing to the caller.
#[test]
fn library_run_reports_events() {
    use wgpu_mlp::config::{DataSource, DeviceChoice, EngineConfig, ModelConfig, RunConfig, TrainConfig};
    use wgpu_mlp::run::{train_run_with, Event, RunOptions};
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    let rows: String = (0..60).map(|i| format!("{},{},{}\n", i % 7, i % 5, i % 2)).collect();
    std::fs::write(&csv, format!("a,b,y\n{rows}")).unwrap();
    let cfg = TrainConfig {
        model: ModelConfig { layers: vec![2, 4, 2], ..ModelConfig::default() },
        data: DataSource { csv: Some(csv), target: Some("y".into()), ..DataSource::default() },
        engine: EngineConfig { device: DeviceChoice::Cpu },
        run: RunConfig { epochs: 2, batch: 8, out: Some(dir.path().join("run")), ..RunConfig::default() },
        ..TrainConfig::default()
    };
    let mut seen: Vec<String> = Vec::new();
    let mut record = |e: Event<'_>| {
        seen.push(match e {
            Event::Start(s) => format!("start {}", s.epochs),
            Event::TrainingStart { done, .. } => format!("training from {done}"),
            Event::Epoch(r) => format!("epoch {}", r.epoch),
            Event::TrainingEnd => "end".into(),
            Event::Done(s) => format!("done {}", s.history.epochs.len()),
            other => format!("{other:?}"),
        })
    };
    let summary = train_run_with(&cfg, &RunOptions::default(), &mut record).unwrap();
    assert_eq!(seen, ["start 2", "training from 0", "epoch 1", "epoch 2", "end", "done 2"]);
    assert_eq!(summary.history.epochs.len(), 2);
}
