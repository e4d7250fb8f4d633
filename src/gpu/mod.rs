//! The GPU engine: wgpu context, one launcher per kernel family (shaders/*.wgsl, twins in
//! src/cpu/), and the engine that records every step of an epoch into few command buffers.

pub mod buffers;
pub mod consts;
pub mod context;
pub mod engine;
pub mod gather;
pub mod limits;
pub mod loss;
pub mod matmul;
pub mod optimizer;
pub mod pipeline;
pub mod plan;
pub mod records;
pub mod reduce;
pub mod shaders;
pub mod stats;

pub use context::{AdapterSummary, GpuContext};
pub use engine::{GpuEngine, EVAL_ROWS};
