// matmul's K-contiguous operands for any K (`#import matmul_operands` when K % 4 != 0): four
// scalar loads make the vec4 (reads past a row's end are discarded by the stores).
@group(0) @binding(2) var<storage, read> p4: array<f32>;
@group(0) @binding(3) var<storage, read> x4: array<f32>;
fn ld4p(i: u32) -> vec4<f32> { return vec4<f32>(p4[i], p4[i + 1u], p4[i + 2u], p4[i + 3u]); }
fn ld4x(i: u32) -> vec4<f32> { return vec4<f32>(x4[i], x4[i + 1u], x4[i + 2u], x4[i + 3u]); }
fn ld1p(i: u32) -> f32 { return p4[i]; }
fn ld1x(i: u32) -> f32 { return x4[i]; }
