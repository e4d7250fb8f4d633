//! wgpu-mlp: multilayer perceptrons trained by WGSL compute shaders (wgpu), with a CPU engine
//! that computes the same math as fallback and reference.
//!
//! A network is a [`model::NetworkSpec`] (layer sizes, activation, loss); a [`TrainSetup`] adds the
//! optimizer, regularisation, dropout, batch size and seed. Either engine — [`cpu::CpuEngine`]
//! or [`gpu::GpuEngine`], both behind the [`Engine`] trait — holds the parameters, the optimizer
//! state and the training set; [`train::fit`] runs the epochs.
//!
//! Train on data held in memory and predict:
//!
//! ```
//! use wgpu_mlp::cpu::CpuEngine;
//! use wgpu_mlp::data::{Dataset, Features, Targets};
//! use wgpu_mlp::model::{Activation, Init, Loss, NetworkSpec, ParamLayout};
//! use wgpu_mlp::optim::{LrSchedule, OptimizerConfig, OptimizerKind, Regularization};
//! use wgpu_mlp::train::{fit, FitOptions};
//! use wgpu_mlp::{Engine, TrainSetup};
//!
//! # fn main() -> wgpu_mlp::Result<()> {
//! // two features per sample, class 1 when both have the same sign
//! let points = [[0.9f32, 0.8], [-0.7, -0.9], [0.8, -0.9], [-0.9, 0.7]];
//! let (mut x, mut y) = (Vec::new(), Vec::new());
//! for i in 0..64 {
//!     let p = points[i % 4];
//!     x.extend(p.iter().map(|v| v * (1.0 + 0.01 * (i / 4) as f32)));
//!     y.push(u32::from(p[0] * p[1] > 0.0));
//! }
//! let data = Dataset::new(Features::F32(x), 2, Targets::Classes { labels: y, num_classes: 2 })?;
//!
//! let spec = NetworkSpec::new(&[2, 16, 2], Activation::Tanh, Loss::SoftmaxCrossEntropy)?;
//! let setup = TrainSetup {
//!     spec: spec.clone(),
//!     optimizer: OptimizerConfig::new(OptimizerKind::Adam),
//!     regularization: Regularization::none(),
//!     keep: vec![],
//!     batch: 16,
//!     seed: 1,
//!     augment: None,
//!     train_loss: Default::default(),
//! };
//! let start = Init::XavierUniform.init(&ParamLayout::new(&spec), 1).cast(|w| w as f32);
//! let mut engine = CpuEngine::<f32>::new(setup, start)?;
//! engine.load_train(&data)?;
//! let opts = FitOptions { epochs: 200, lr: 0.01, schedule: LrSchedule::Constant, seed: 1, ..FitOptions::default() };
//! let history = fit(&mut engine, data.len, None, &opts, 0, |_, _| Ok(()))?;
//! assert!(history.epochs.last().unwrap().train_accuracy == Some(1.0));
//!
//! let probabilities = engine.predict(&data)?; // [samples, 2], rows sum to 1
//! assert!(probabilities[1] > 0.9); // the first sample is class 1
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub(crate) mod atomic;
/// Serde through the type's text form (`FromStr` and `Display`, with the crate's `Error`), so
/// config.toml and metadata hold a setting as its flag is written (`exp:0.95`, `leaky_relu:0.1`);
/// the type says `#[serde(try_from = "String", into = "String")]`.
macro_rules! serde_as_text {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = crate::Error;
            fn try_from(s: String) -> crate::Result<Self> {
                s.parse()
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.to_string()
            }
        }
    };
}

pub mod bench;
pub mod config;
pub mod cpu;
pub mod crosscheck;
pub mod data;
pub mod device;
pub mod engine;
pub mod error;
pub(crate) mod fault;
pub mod gpu;
pub mod memory;
pub mod model;
pub mod optim;
pub mod report;
pub mod rng;
pub mod run;
pub mod scalar;
pub mod sweep;
pub mod train;

pub use engine::{Engine, EpochStats, EvalStats, TrainSetup};
pub use error::{Error, Result};
pub use scalar::Scalar;
