// matmul's dz (M, N) as vec4 when N % 4 == 0 (`#import matmul_dz` with DZ4): ab reads four steps
// of its N loop at once, atb the eight dz values of a row as two loads.
@group(0) @binding(4) var<storage, read> s14: array<vec4<f32>>;
fn ld1z(i: u32) -> f32 { return s14[i >> 2u][i & 3u]; }
fn ld4z(i: u32) -> vec4<f32> { return s14[i >> 2u]; }
