//! The GPU engine: wgpu context, one launcher per kernel family (shaders/*.wgsl, twins in
//! src/cpu/), and the engine that records every step of an epoch into few command buffers.

pub mod context;
mod engine;
pub(crate) mod limits;

// The kernel launchers, each the host side of shaders/X.wgsl and the twin of src/cpu/X.rs:
// public so that tests/gpu_kernels.rs and benches/ can run one kernel against its CPU twin.
pub mod gather;
pub mod loss;
pub mod matmul;
pub mod optimizer;
pub mod reduce;
// which matmul variant each shape runs, measured per adapter and remembered
pub mod tune;

// The engine's plumbing (buffers, records, pipelines, plans, the shader loader, the stats
// layout): reachable for the kernel tests, the shader tests and the profiling example, not an
// API, so left out of the documentation.
#[doc(hidden)]
pub mod buffers;
pub(crate) mod consts;
#[doc(hidden)]
pub mod pipeline;
#[doc(hidden)]
pub mod plan;
#[doc(hidden)]
pub mod records;
#[doc(hidden)]
pub mod shaders;
#[doc(hidden)]
pub mod stats;

pub use context::{AdapterSummary, GpuContext};
pub use engine::{GpuEngine, EVAL_ROWS};
