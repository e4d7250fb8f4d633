//! Augmentation through the whole CPU training path: it still learns MNIST, never touches
//! evaluation, and refuses data that is not an image.

use wgpu_mlp::config::{DataSource, DeviceChoice, EngineConfig, ModelConfig, RegularizationConfig, RunConfig, TrainConfig};
use wgpu_mlp::cpu::CpuEngine;
use wgpu_mlp::data::{Augment, Dataset, Features, Targets};
use wgpu_mlp::engine::{Engine, TrainSetup};
use wgpu_mlp::model::{Activation, Init, Loss, NetworkSpec, ParamLayout};
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind, Regularization};

fn png_size(path: &std::path::Path) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().unwrap_or_else(|e| panic!("{}: not a PNG: {e}", path.display()));
    (reader.info().width, reader.info().height)
}

/// 784-64-10 on the bundled digits with random ±2 pixel shifts: still ≥ 88% test accuracy after
/// 5 epochs; the run directory also holds the plots.
#[test]
fn mnist_with_shift_augmentation_still_learns() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        engine: EngineConfig { device: DeviceChoice::Cpu },
        run: RunConfig { epochs: 5, out: Some(dir.path().join("run")), ..RunConfig::default() },
        reg: RegularizationConfig { augment: Some("shift=2".parse().unwrap()), ..RegularizationConfig::default() },
        ..TrainConfig::default()
    };
    let summary = wgpu_mlp::run::train_run(&cfg).unwrap();
    let test = summary.scores.iter().find(|s| s.split == "test").unwrap().accuracy.unwrap();
    eprintln!("MNIST 784-64-10, 5 epochs, --augment shift=2: test accuracy {test:.4}");
    assert!(test >= 0.88, "test accuracy {test}");
    let run = dir.path().join("run");
    assert_eq!(png_size(&run.join("curves.png")), wgpu_mlp::report::curves_png_size(&summary.history));
    assert_eq!(png_size(&run.join("weights.png")), wgpu_mlp::report::weights_png_size(64, (28, 28)));
    let toml = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(toml.contains("augment = \"shift=2\""), "{toml}");
    assert_eq!(TrainConfig::from_toml_file(&run.join("config.toml"), wgpu_mlp::config::Origin::Program).unwrap().reg.augment, cfg.reg.augment);
}

fn setup(augment: Option<Augment>) -> TrainSetup {
    TrainSetup {
        spec: NetworkSpec::new(&[784, 16, 10], Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap(),
        optimizer: OptimizerConfig::new(OptimizerKind::Sgd),
        regularization: Regularization::none(),
        keep: vec![],
        batch: 20,
        seed: 3,
        augment,
    }
}

fn digits(n: usize) -> Dataset {
    let pixels: Vec<u8> = (0..n * 784).map(|i| ((i * 37) % 251) as u8).collect();
    let labels = (0..n as u32).map(|i| i % 10).collect();
    Dataset::new(Features::U8(pixels), 784, Targets::Classes { labels, num_classes: 10 }).unwrap()
}

fn engine(augment: Option<Augment>) -> CpuEngine<f32> {
    let s = setup(augment);
    let params = Init::HeNormal.init(&ParamLayout::new(&s.spec), 1).cast(|x| x as f32);
    CpuEngine::new(s, params).unwrap()
}

#[test]
fn augmentation_changes_training_but_never_evaluation() {
    let data = digits(100);
    let heavy: Augment = "shift=3,noise=0.3,hflip,rotate=30".parse().unwrap();
    let (mut plain, mut aug) = (engine(None), engine(Some(heavy)));
    assert_eq!(plain.evaluate(&data).unwrap(), aug.evaluate(&data).unwrap());
    assert_eq!(plain.predict(&data).unwrap(), aug.predict(&data).unwrap());
    plain.load_train(&data).unwrap();
    aug.load_train(&data).unwrap();
    let order: Vec<u32> = (0..100).collect();
    let (a, b) = (plain.train_epoch(&order, 0.01).unwrap(), aug.train_epoch(&order, 0.01).unwrap());
    assert_ne!(a.loss_sum, b.loss_sum);
    // the same seed repeats the augmented run bit for bit
    let mut again = engine(Some(heavy));
    again.load_train(&data).unwrap();
    assert_eq!(again.train_epoch(&order, 0.01).unwrap(), b);
    assert_eq!(again.params().unwrap(), aug.params().unwrap());
    // all off trains exactly like no augmentation
    let mut off = engine(Some(Augment::default()));
    off.load_train(&data).unwrap();
    assert_eq!(off.train_epoch(&order, 0.01).unwrap(), a);
}

#[test]
fn augmentation_refuses_non_image_data() {
    let aug: Augment = "shift=1".parse().unwrap();
    let real = Dataset::new(Features::F32(vec![0.5; 784 * 4]), 784, Targets::Classes { labels: vec![0, 1, 2, 3], num_classes: 10 }).unwrap();
    let e = engine(Some(aug)).load_train(&real).unwrap_err().to_string();
    assert!(e.contains("augment") && e.contains("image data") && e.contains("real-valued"), "{e}");

    // a u8 dataset whose rows are not an image
    let mut s = setup(Some(aug));
    s.spec = NetworkSpec::new(&[10, 4, 2], Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap();
    let params = Init::HeNormal.init(&ParamLayout::new(&s.spec), 1).cast(|x| x as f32);
    let table = Dataset::new(Features::U8(vec![1; 10 * 3]), 10, Targets::Classes { labels: vec![0, 1, 0], num_classes: 2 }).unwrap();
    let e = CpuEngine::new(s, params).unwrap().load_train(&table).unwrap_err().to_string();
    assert!(e.contains("needs image data") && e.contains("10 u8 features"), "{e}");

    // a shift as large as the image
    let e = engine(Some("shift=28".parse().unwrap())).load_train(&digits(2)).unwrap_err().to_string();
    assert!(e.contains("shift=28") && e.contains("out of view"), "{e}");

    // and train_run says so before it writes anything
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    let rows: String = (0..50).map(|i| format!("{i},{},{}\n", i * 2, i % 2)).collect();
    std::fs::write(&csv, format!("a,b,y\n{rows}")).unwrap();
    let cfg = TrainConfig {
        model: ModelConfig { layers: vec![2, 4, 2], ..ModelConfig::default() },
        data: DataSource { csv: Some(csv), target: Some("y".into()), ..DataSource::default() },
        engine: EngineConfig { device: DeviceChoice::Cpu },
        run: RunConfig { out: Some(dir.path().join("run")), ..RunConfig::default() },
        reg: RegularizationConfig { augment: Some(aug), ..RegularizationConfig::default() },
        ..TrainConfig::default()
    };
    let e = wgpu_mlp::run::train_run(&cfg).unwrap_err().to_string();
    assert!(e.contains("needs image data"), "{e}");
    assert!(!dir.path().join("run").exists());
}
