//! The real MNIST digits shipped in the repo, trained on the CPU engine.

use wgpu_mlp::config::{DeviceChoice, EngineConfig, RunConfig, TrainConfig};
use wgpu_mlp::model::load_model;

/// 784-64-10 ReLU with softmax cross-entropy, 8,000 train / 1,000 validation / 1,000 test:
/// at least 92% test accuracy after 5 epochs.
#[test]
fn mnist_784_64_10_reaches_92_percent_in_five_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunConfig { epochs: 5, out: Some(dir.path().join("run")), ..RunConfig::default() };
    let cfg = TrainConfig { run, engine: EngineConfig { device: DeviceChoice::Cpu }, ..TrainConfig::default() };
    let summary = wgpu_mlp::run::train_run(&cfg).unwrap();
    let test = summary.scores.iter().find(|s| s.split == "test").expect("a test split");
    eprintln!("MNIST 784-64-10, 5 epochs on the CPU engine: test accuracy {:.4}", test.accuracy.unwrap());
    assert_eq!(test.samples, 1000);
    assert!(test.accuracy.unwrap() >= 0.92, "test accuracy {:?}", test.accuracy);

    // the run directory holds the record and a model that reloads
    for f in ["config.toml", "metrics.csv", "history.json", "model.safetensors"] {
        assert!(dir.path().join("run").join(f).is_file(), "{f} missing");
    }
    let (spec, params, _) = load_model(dir.path().join("run/model.safetensors")).unwrap();
    assert_eq!(spec.sizes, vec![784, 64, 10]);
    assert_eq!(params.data.len(), spec.num_params() + /* padding to multiples of 4 */ 2);
}
