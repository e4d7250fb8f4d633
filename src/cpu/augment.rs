//! Data augmentation of a gathered training batch: the CPU twin of the augmenting batch gather
//! (a GPU port computes `augment_pixel` per output element, reading the u8 training set).
//!
//! Everything is a pure function of (key, step, row, pixel), drawn from the counter-based
//! `hash4` with the codes below, in f32 with only operations WGSL has (floor, cos, sin, sqrt,
//! log, min, max, integer %), so the GPU computes the same function. Integer parts (shift, flip,
//! hash draws) agree exactly; cos/sin/log/sqrt may differ by an ulp between platforms, and every
//! output is continuous in them, so a GPU port agrees to ~1e-6, not bit for bit.
//!
//! Per sample (row b of the batch; key = seed_key(seed); step = optimizer steps taken before this
//! one, the same step dropout uses):
//!   h_k   = hash4(key, step, AUG_PARAMS, 4·b + k), k = 0..3
//!   dx    = i32(h_0 % (2·shift+1)) − shift          dy = i32(h_1 % (2·shift+1)) − shift
//!   flip  = hflip && (h_2 >> 31) == 1
//!   θ     = (unit_f32(h_3)·2 − 1) · rotate · DEG_TO_RAD   (f32; rotate = 0 gives θ = ±0)
//!   c, s  = cos θ, sin θ
//! Per output pixel (x, y), p = y·W + x, of an H×W image, cx = (W−1)/2, cy = (H−1)/2:
//!   x1 = flip ? W−1−x : x                    (integers)
//!   x2 = x1 − dx,  y2 = y − dy               (integers)
//!   u  = f32(x2) − cx,  v = f32(y2) − cy
//!   sx = c·u + s·v + cx,  sy = −s·u + c·v + cy   (inverse rotation: positive θ turns the image
//!                                                 clockwise on screen, y pointing down)
//!   x0 = floor(sx), y0 = floor(sy), fx = sx − x0, fy = sy − y0, P(i, j) = src[j·W + i] inside
//!   the image, 0 outside; src = u8 · PIXEL_SCALE (the plain gather's value)
//!   val = (fx == 0 && fy == 0) ? P(x0, y0)
//!         : (1−fy)·((1−fx)·P(x0,y0) + fx·P(x0+1,y0)) + fy·((1−fx)·P(x0,y0+1) + fx·P(x0+1,y0+1))
//!   if noise > 0:  i = b·H·W + p
//!     u1 = unit_f32(hash4(key, step, AUG_NOISE_RADIUS, i)), u2 = unit_f32(hash4(key, step, AUG_NOISE_ANGLE, i))
//!     val = val + noise · (sqrt(−2·log(1 − u1)) · cos(TWO_PI · u2))
//!   out = min(max(val, 0), 1)

use crate::data::Augment;
use crate::rng::{hash4, unit_f32};
use crate::scalar::Scalar;

/// `hash4` layer code for the per-sample parameters (index 4·row + k, k: 0 dx, 1 dy, 2 flip,
/// 3 angle). Dropout uses the layer number (small integers) as its code, so these cannot meet it.
pub const AUG_PARAMS: u32 = 0x4155_4701;
/// `hash4` layer code for the noise's uniform u1 (radius), index row·H·W + pixel.
pub const AUG_NOISE_RADIUS: u32 = 0x4155_4702;
/// `hash4` layer code for the noise's uniform u2 (angle), index row·H·W + pixel.
pub const AUG_NOISE_ANGLE: u32 = 0x4155_4703;

pub const DEG_TO_RAD: f32 = 0.017_453_292; // π/180 rounded to f32
pub const TWO_PI: f32 = 6.283_185_5; // 2π rounded to f32

/// One sample's transform, drawn once per (key, step, row).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleTransform {
    pub dx: i32,
    pub dy: i32,
    pub flip: bool,
    pub cos: f32,
    pub sin: f32,
}

impl SampleTransform {
    pub const IDENTITY: SampleTransform = SampleTransform { dx: 0, dy: 0, flip: false, cos: 1.0, sin: 0.0 };
}

/// The transform of batch row `row` at `step`.
pub fn sample_transform(aug: &Augment, key: u32, step: u32, row: u32) -> SampleTransform {
    let h = |k: u32| hash4(key, step, AUG_PARAMS, row.wrapping_mul(4).wrapping_add(k));
    let span = 2 * aug.shift + 1;
    let shift = aug.shift as i32;
    let theta = (unit_f32(h(3)) * 2.0 - 1.0) * aug.rotate * DEG_TO_RAD;
    SampleTransform {
        dx: (h(0) % span) as i32 - shift,
        dy: (h(1) % span) as i32 - shift,
        flip: aug.hflip && (h(2) >> 31) == 1,
        cos: theta.cos(),
        sin: theta.sin(),
    }
}

/// src: (H·W) one image in [0, 1], row-major -> the augmented value of output pixel (x, y).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn augment_pixel(aug: &Augment, t: &SampleTransform, key: u32, step: u32, row: u32, src: &[f32], (h, w): (usize, usize), x: usize, y: usize) -> f32 {
    let (wi, hi) = (w as i32, h as i32);
    let x1 = if t.flip { wi - 1 - x as i32 } else { x as i32 };
    let (x2, y2) = (x1 - t.dx, y as i32 - t.dy);
    let (cx, cy) = ((w - 1) as f32 * 0.5, (h - 1) as f32 * 0.5);
    let (u, v) = (x2 as f32 - cx, y2 as f32 - cy);
    let sx = t.cos * u + t.sin * v + cx;
    let sy = -t.sin * u + t.cos * v + cy;
    let (x0, y0) = (sx.floor(), sy.floor());
    let (fx, fy) = (sx - x0, sy - y0);
    let (ix, iy) = (x0 as i32, y0 as i32);
    let p = |i: i32, j: i32| if i >= 0 && i < wi && j >= 0 && j < hi { src[j as usize * w + i as usize] } else { 0.0 };
    let mut val = if fx == 0.0 && fy == 0.0 {
        p(ix, iy)
    } else {
        let top = (1.0 - fx) * p(ix, iy) + fx * p(ix + 1, iy);
        let bottom = (1.0 - fx) * p(ix, iy + 1) + fx * p(ix + 1, iy + 1);
        (1.0 - fy) * top + fy * bottom
    };
    if aug.noise > 0.0 {
        let i = row.wrapping_mul((h * w) as u32).wrapping_add((y * w + x) as u32);
        let u1 = unit_f32(hash4(key, step, AUG_NOISE_RADIUS, i));
        let u2 = unit_f32(hash4(key, step, AUG_NOISE_ANGLE, i));
        val += aug.noise * ((-2.0 * (1.0 - u1).ln()).sqrt() * (TWO_PI * u2).cos());
    }
    val.max(0.0).min(1.0)
}

/// x: (B, H·W) a gathered batch in [0, 1], augmented in place; `row_buf` is scratch for one row.
pub fn augment_batch<T: Scalar>(aug: &Augment, key: u32, step: u32, shape: (usize, usize), x: &mut [T], row_buf: &mut Vec<f32>) {
    let d = shape.0 * shape.1;
    if aug.is_identity() || d == 0 {
        return;
    }
    for (b, dst) in x.chunks_exact_mut(d).enumerate() {
        row_buf.clear();
        row_buf.extend(dst.iter().map(|v| v.to_f64_lossy() as f32));
        let t = sample_transform(aug, key, step, b as u32);
        for y in 0..shape.0 {
            for xx in 0..shape.1 {
                let v = augment_pixel(aug, &t, key, step, b as u32, row_buf, shape, xx, y);
                dst[y * shape.1 + xx] = T::from_f64_lossy(v as f64);
            }
        }
    }
}
