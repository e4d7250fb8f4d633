// matmul's K-contiguous operands read as real vec4 loads (`#import matmul_operands` when K % 4 == 0;
// tensor offsets are multiples of 4 by ParamLayout, activation buffers start at 0).
@group(0) @binding(2) var<storage, read> p4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> x4: array<vec4<f32>>;
fn ld4p(i: u32) -> vec4<f32> { return p4[i >> 2u]; }
fn ld4x(i: u32) -> vec4<f32> { return x4[i >> 2u]; }
fn ld1p(i: u32) -> f32 { return p4[i >> 2u][i & 3u]; }
fn ld1x(i: u32) -> f32 { return x4[i >> 2u][i & 3u]; }
