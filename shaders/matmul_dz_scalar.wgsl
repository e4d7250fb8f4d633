// matmul's dz (M, N) read a float at a time, for any N (`#import matmul_dz` unless DZ4).
@group(0) @binding(4) var<storage, read> s1: array<f32>;
fn ld1z(i: u32) -> f32 { return s1[i]; }
fn ld4z(i: u32) -> vec4<f32> { return vec4<f32>(s1[i], s1[i + 1u], s1[i + 2u], s1[i + 3u]); }
