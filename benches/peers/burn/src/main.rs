//! Burn peer for `wgpu-mlp bench`: the same configurations, trained the same way (resident data,
//! a permutation per epoch, minibatch SGD or Adam, an epoch ending in a sync), printing the same
//! JSON lines.
//!
//!     cargo run --release -- [wgpu|ndarray] [A,B,C] [sgd,adam] [epochs]

use burn::backend::{ndarray::NdArray, wgpu::Wgpu, Autodiff};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Initializer, Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use std::io::Read;
use std::time::Instant;

#[derive(Module, Debug)]
struct Mlp<B: Backend> {
    layers: Vec<Linear<B>>,
    relu: Relu,
}

impl<B: Backend> Mlp<B> {
    fn new(sizes: &[usize], device: &B::Device) -> Self {
        let layers = sizes
            .windows(2)
            .map(|w| {
                LinearConfig::new(w[0], w[1])
                    .with_initializer(Initializer::KaimingNormal { gain: 2f64.sqrt(), fan_out_only: false })
                    .init(device)
            })
            .collect();
        Mlp { layers, relu: Relu::new() }
    }

    fn forward(&self, mut x: Tensor<B, 2>) -> Tensor<B, 2> {
        let last = self.layers.len() - 1;
        for (i, l) in self.layers.iter().enumerate() {
            x = l.forward(x);
            if i < last {
                x = self.relu.forward(x);
            }
        }
        x
    }
}

fn read_gz(path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("bundled digits"))
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

/// The bundled MNIST digits: (pixels scaled to [0, 1], labels).
fn digits() -> (Vec<f32>, Vec<i64>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../data/mnist");
    let images = read_gz(&format!("{dir}/t10k-images-idx3-ubyte.gz"));
    let labels = read_gz(&format!("{dir}/t10k-labels-idx1-ubyte.gz"));
    (images[16..].iter().map(|&p| p as f32 / 255.0).collect(), labels[8..].iter().map(|&l| l as i64).collect())
}

fn flops_per_sample(sizes: &[usize]) -> f64 {
    let layers: Vec<f64> = sizes.windows(2).map(|w| 2.0 * (w[0] * w[1]) as f64).collect();
    3.0 * layers.iter().sum::<f64>() - layers[0]
}

/// A permutation from a small LCG-driven Fisher–Yates (the peers need the same work, not the same order).
fn permutation(n: usize, seed: u64) -> Vec<i64> {
    let mut v: Vec<i64> = (0..n as i64).collect();
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    for i in (1..n).rev() {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        v.swap(i, ((s >> 33) as usize) % (i + 1));
    }
    v
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn bench<B: AutodiffBackend>(device: B::Device, backend: &str, name: &str, sizes: &[usize], batch: usize, opt: &str, epochs: usize) {
    let (x, y) = digits();
    let n = y.len();
    let t0 = Instant::now();
    let xs = Tensor::<B, 2>::from_data(TensorData::new(x, [n, 784]), &device);
    let ys = Tensor::<B, 1, Int>::from_data(TensorData::new(y, [n]), &device);
    let mut model = Mlp::<B>::new(sizes, &device);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let lr = if opt == "adam" { 1e-3 } else { 0.01 };
    let mut sgd = SgdConfig::new().init();
    let mut adam = AdamConfig::new().init();

    let mut epoch = |model: Mlp<B>, order: &[i64]| -> (Mlp<B>, f32) {
        let mut model = model;
        let mut last = None;
        for chunk in order.chunks(batch) {
            let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(chunk.to_vec(), [chunk.len()]), &device);
            let out = model.forward(xs.clone().select(0, idx.clone()));
            let loss = loss_fn.forward(out, ys.clone().select(0, idx));
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = if opt == "adam" { adam.step(lr, model, grads) } else { sgd.step(lr, model, grads) };
            last = Some(loss);
        }
        let l: f32 = last.map(|l| l.into_scalar().to_string().parse().unwrap_or(f32::NAN)).unwrap_or(0.0);
        (model, l)
    };

    let first: Vec<i64> = (0..batch as i64).collect();
    (model, _) = epoch(model, &first);
    let first_step = t0.elapsed().as_secs_f64();
    (model, _) = epoch(model, &permutation(n, 0)); // warm-up
    let mut rates = Vec::new();
    for e in 0..epochs {
        let order = permutation(n, e as u64 + 1);
        let t = Instant::now();
        (model, _) = epoch(model, &order);
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let sps = rates[rates.len() / 2];
    println!(
        "{}",
        serde_json::json!({
            "config": name, "network": sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-"),
            "batch": batch, "optimizer": opt, "device": format!("burn {backend}"),
            "samples_per_second": sps, "gflops": sps * flops_per_sample(sizes) / 1e9,
            "first_step_seconds": first_step, "readbacks_per_epoch": 1, "peak_rss_mib": peak_rss_mib(),
            "epochs_measured": epochs, "samples_per_epoch": n,
        })
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).map(String::as_str).unwrap_or("wgpu").to_string();
    let configs = args.get(2).cloned().unwrap_or_else(|| "A,B,C".into());
    let opts = args.get(3).cloned().unwrap_or_else(|| "sgd,adam".into());
    let epochs: usize = args.get(4).and_then(|e| e.parse().ok()).unwrap_or(3);
    for c in configs.split(',') {
        let (sizes, batch): (&[usize], usize) = match c {
            "A" => (&[784, 64, 10], 100),
            "B" => (&[784, 256, 256, 10], 128),
            "C" => (&[784, 1024, 1024, 10], 256),
            other => panic!("unknown config {other}"),
        };
        for o in opts.split(',') {
            match backend.as_str() {
                "ndarray" => bench::<Autodiff<NdArray>>(Default::default(), "ndarray", c, sizes, batch, o, epochs),
                _ => bench::<Autodiff<Wgpu>>(Default::default(), "wgpu", c, sizes, batch, o, epochs),
            }
        }
    }
}
