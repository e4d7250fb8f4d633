//! wgpu-mlp: multilayer perceptrons trained by WGSL compute shaders (wgpu), with a CPU engine
//! that computes the same math as fallback and reference. README.md describes the commands and results.

pub mod atomic;
pub mod bench;
pub mod config;
pub mod cpu;
pub mod crosscheck;
pub mod data;
pub mod engine;
pub mod error;
pub mod gpu;
pub mod model;
pub mod optim;
pub mod report;
pub mod rng;
pub mod run;
pub mod scalar;
pub mod train;

pub use engine::{Engine, EpochStats, EvalStats, TrainSetup};
pub use error::{Error, Result};
pub use scalar::Scalar;
