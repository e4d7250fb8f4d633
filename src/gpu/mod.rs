//! The GPU engine: wgpu context, one launcher per kernel family (shaders/*.wgsl) and the engine
//! that records every step of an epoch into few command buffers.

pub mod shaders;
