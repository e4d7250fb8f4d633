//! The CPU engine: one plain function per GPU kernel, under the kernel's name,
//! and the Engine implementation that walks them in the GPU's order.

pub mod activation;
pub mod augment;
pub mod dropout;
mod engine;
pub mod gather;
pub mod gradcheck;
pub mod loss;
pub mod matmul;
pub mod network;
pub mod optimizer;
pub mod reduce;
mod sum;
mod wide;

pub use engine::CpuEngine;
