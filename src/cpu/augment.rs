//! Data augmentation of a gathered training batch: the CPU twin of the augmenting batch gather
//! (shaders/gather.wgsl computes `augment_pixel` per output element, reading the u8 training set;
//! tests/gpu_augment.rs checks the two agree).
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
//! So without rotation out(x, y) = in(x − dx, y − dy) (content moves by +dx, +dy), mirrored
//! after the shift when flip is set. The fx = fy = 0 shortcut is optional for a port: the full
//! formula gives the same value there (0·P = 0). `b` is the row within the batch (0..rows of the
//! last, shorter batch too), not the sample's index in the dataset.

use crate::data::{Augment, AUG_NOISE_ANGLE, AUG_NOISE_RADIUS, AUG_PARAMS, DEG_TO_RAD, TWO_PI};
use crate::rng::{hash4, hash4_finish, hash4_prefix, unit_f32};
use crate::scalar::Scalar;


/// One sample's transform, drawn once per (key, step, row).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleTransform {
    /// Horizontal shift in pixels, in −shift..=shift; content moves right for dx > 0.
    pub dx: i32,
    /// Vertical shift in pixels, in −shift..=shift; content moves down for dy > 0.
    pub dy: i32,
    /// Mirror left–right after the shift.
    pub flip: bool,
    /// cos θ of the rotation angle θ.
    pub cos: f32,
    /// sin θ of the rotation angle θ (positive θ turns the image clockwise on screen).
    pub sin: f32,
}

impl SampleTransform {
    /// No shift, flip or rotation: the output is the input.
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

/// WGSL's floor for the sample coordinates (|v| < 2³¹): truncation corrected for negatives,
/// inlined where `f32::floor` is a libm call on baseline x86-64.
#[inline]
fn floor(v: f32) -> f32 {
    let t = v as i32 as f32;
    if t > v { t - 1.0 } else { t }
}

/// src: (H·W) one image, row-major -> the value at output pixel (x, y) before noise: the
/// source point of the inverse transform, sampled bilinearly (zero outside the image).
#[inline]
pub fn sample_source(t: &SampleTransform, src: &[f32], (h, w): (usize, usize), x: usize, y: usize) -> f32 {
    let (wi, hi) = (w as i32, h as i32);
    let x1 = if t.flip { wi - 1 - x as i32 } else { x as i32 };
    let (x2, y2) = (x1 - t.dx, y as i32 - t.dy);
    let (cx, cy) = ((w - 1) as f32 * 0.5, (h - 1) as f32 * 0.5);
    let (u, v) = (x2 as f32 - cx, y2 as f32 - cy);
    let sx = t.cos * u + t.sin * v + cx;
    let sy = -t.sin * u + t.cos * v + cy;
    let (x0, y0) = (floor(sx), floor(sy));
    let (fx, fy) = (sx - x0, sy - y0);
    let (ix, iy) = (x0 as i32, y0 as i32);
    let p = |i: i32, j: i32| if i >= 0 && i < wi && j >= 0 && j < hi { src[j as usize * w + i as usize] } else { 0.0 };
    if fx == 0.0 && fy == 0.0 {
        return p(ix, iy);
    }
    let top = (1.0 - fx) * p(ix, iy) + fx * p(ix + 1, iy);
    let bottom = (1.0 - fx) * p(ix, iy + 1) + fx * p(ix + 1, iy + 1);
    (1.0 - fy) * top + fy * bottom
}

/// A standard normal draw for noise element `i` (= row·H·W + pixel) by Box–Muller, from the
/// `hash4` prefixes of (key, step, AUG_NOISE_RADIUS) and (key, step, AUG_NOISE_ANGLE).
#[inline]
pub fn noise_normal(radius_prefix: u32, angle_prefix: u32, i: u32) -> f32 {
    let u1 = unit_f32(hash4_finish(radius_prefix, i));
    let u2 = unit_f32(hash4_finish(angle_prefix, i));
    (-2.0 * (1.0 - u1).ln()).sqrt() * (TWO_PI * u2).cos()
}

/// src: (H·W) one image in [0, 1], row-major -> the augmented value of output pixel (x, y) of
/// batch row `row`: the whole per-element function a GPU thread computes.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn augment_pixel(aug: &Augment, t: &SampleTransform, key: u32, step: u32, row: u32, src: &[f32], shape: (usize, usize), x: usize, y: usize) -> f32 {
    let mut val = sample_source(t, src, shape, x, y);
    if aug.noise > 0.0 {
        let i = row.wrapping_mul((shape.0 * shape.1) as u32).wrapping_add((y * shape.1 + x) as u32);
        let z = noise_normal(hash4_prefix(key, step, AUG_NOISE_RADIUS), hash4_prefix(key, step, AUG_NOISE_ANGLE), i);
        val += aug.noise * z;
    }
    val.max(0.0).min(1.0)
}

/// x: (B, H·W) a gathered batch in [0, 1], augmented in place.
/// Computes exactly `augment_pixel` for every element, with shortcuts that give the same bits:
/// a transform without rotation (c = 1, s = 0) only moves whole pixels, the hash prefixes are
/// computed once, and rows are shared out over threads (each element is a pure function).
pub fn augment_batch<T: Scalar>(aug: &Augment, key: u32, step: u32, shape: (usize, usize), x: &mut [T]) {
    let d = shape.0 * shape.1;
    if aug.is_identity() || d == 0 {
        return;
    }
    let rows = x.len() / d;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(rows / MIN_ROWS_PER_THREAD).max(1);
    if threads == 1 {
        return augment_rows(aug, key, step, shape, 0, x);
    }
    let per = rows.div_ceil(threads);
    std::thread::scope(|scope| {
        for (c, chunk) in x.chunks_mut(per * d).enumerate() {
            scope.spawn(move || augment_rows(aug, key, step, shape, c * per, chunk));
        }
    });
}

/// Rows below this per thread are not worth a thread.
const MIN_ROWS_PER_THREAD: usize = 16;

/// x: (rows, H·W) batch rows `first..` augmented in place.
fn augment_rows<T: Scalar>(aug: &Augment, key: u32, step: u32, shape: (usize, usize), first: usize, x: &mut [T]) {
    let (h, w) = shape;
    let d = h * w;
    let prefixes = (hash4_prefix(key, step, AUG_NOISE_RADIUS), hash4_prefix(key, step, AUG_NOISE_ANGLE));
    let mut src = vec![0f32; d];
    for (r, dst) in x.chunks_exact_mut(d).enumerate() {
        let b = (first + r) as u32;
        for (s, v) in src.iter_mut().zip(dst.iter()) {
            *s = v.to_f64_lossy() as f32;
        }
        let t = sample_transform(aug, key, step, b);
        let whole_pixels = t.cos == 1.0 && t.sin == 0.0;
        let base = b.wrapping_mul(d as u32);
        for y in 0..h {
            let sy = y as i32 - t.dy;
            for xx in 0..w {
                let p = y * w + xx;
                let mut val = if whole_pixels {
                    let x1 = if t.flip { (w - 1 - xx) as i32 } else { xx as i32 };
                    let sx = x1 - t.dx;
                    if sx >= 0 && (sx as usize) < w && sy >= 0 && (sy as usize) < h {
                        src[sy as usize * w + sx as usize]
                    } else {
                        0.0
                    }
                } else {
                    sample_source(&t, &src, shape, xx, y)
                };
                if aug.noise > 0.0 {
                    val += aug.noise * noise_normal(prefixes.0, prefixes.1, base.wrapping_add(p as u32));
                }
                dst[p] = T::from_f64_lossy(val.max(0.0).min(1.0) as f64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seed_key;

    const SHAPE: (usize, usize) = (28, 28);
    const D: usize = 28 * 28;

    /// `rows` images of u8-valued pixels in [0, 1] (as the gather leaves them), a blob per row.
    fn batch(rows: usize) -> Vec<f32> {
        (0..rows * D)
            .map(|i| {
                let (b, p) = (i / D, i % D);
                let (x, y) = ((p % 28) as i32, (p / 28) as i32);
                let inside = (x - 10 - b as i32 % 5).abs() < 6 && (y - 14).abs() < 9;
                let v = if inside { (37 * p + 11 * b) % 256 } else { 0 } as f32;
                v * crate::data::PIXEL_SCALE
            })
            .collect()
    }

    fn aug(s: &str) -> Augment {
        s.parse().unwrap()
    }

    fn run(a: &Augment, key: u32, step: u32, x: &[f32]) -> Vec<f32> {
        let mut y = x.to_vec();
        augment_batch(a, key, step, SHAPE, &mut y);
        y
    }

    #[test]
    fn same_seed_and_step_give_the_same_pixels() {
        let (a, key, x) = (aug("shift=2,noise=0.05,hflip,rotate=10"), seed_key(7), batch(16));
        let first = run(&a, key, 3, &x);
        assert_eq!(first, run(&a, key, 3, &x));
        assert_ne!(first, x);
        assert_ne!(first, run(&a, key, 4, &x), "another step draws other transforms");
        assert_ne!(first, run(&a, seed_key(8), 3, &x), "another seed draws other transforms");
        // f64 batches get the same values
        let mut y: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        augment_batch(&a, key, 3, SHAPE, &mut y);
        assert!(y.iter().zip(&first).all(|(&a, &b)| a == b as f64));
    }

    #[test]
    fn batch_shortcuts_equal_the_per_pixel_function() {
        // 40 rows: more than one thread's share where there are two cores or more
        let x = batch(40);
        for s in ["shift=3", "hflip", "noise=0.2", "rotate=25", "shift=2,noise=0.05,hflip,rotate=10", "shift=1,rotate=180"] {
            let a = aug(s);
            let y = run(&a, 9, 4, &x);
            for b in 0..40u32 {
                let t = sample_transform(&a, 9, 4, b);
                let src = &x[b as usize * D..(b as usize + 1) * D];
                for p in 0..D {
                    let want = augment_pixel(&a, &t, 9, 4, b, src, SHAPE, p % 28, p / 28);
                    assert_eq!(y[b as usize * D + p].to_bits(), want.to_bits(), "{s}: row {b} pixel {p}");
                }
            }
        }
    }

    #[test]
    fn floor_is_floor() {
        for v in [0.0f32, -0.0, 0.5, -0.5, 1.0, -1.0, 13.999_999, -13.000_001, 27.5, -3.0, 1e-30, -1e-30] {
            assert_eq!(floor(v), v.floor(), "{v}");
        }
    }

    #[test]
    fn all_off_is_the_identity() {
        let x = batch(8);
        for s in ["none", "shift=0,noise=0,rotate=0", "hflip=false"] {
            assert_eq!(run(&aug(s), 1, 2, &x), x, "{s}");
        }
        // the full per-pixel path with the identity transform (and with rotate=0 drawn) copies too
        let rot0 = aug("rotate=0");
        for b in 0..8u32 {
            let t = sample_transform(&rot0, 5, 9, b);
            let src = &x[b as usize * D..(b as usize + 1) * D];
            for p in 0..D {
                assert_eq!(augment_pixel(&rot0, &SampleTransform::IDENTITY, 5, 9, b, src, SHAPE, p % 28, p / 28), src[p]);
                assert_eq!(augment_pixel(&rot0, &t, 5, 9, b, src, SHAPE, p % 28, p / 28), src[p]);
            }
        }
    }

    #[test]
    fn shift_moves_pixels_by_exactly_dx_dy() {
        let (a, x, rows) = (aug("shift=3"), batch(64), 64);
        let y = run(&a, 11, 0, &x);
        let mut seen = std::collections::BTreeSet::new();
        for b in 0..rows {
            let t = sample_transform(&a, 11, 0, b as u32);
            assert!(t.dx.abs() <= 3 && t.dy.abs() <= 3 && !t.flip && t.cos == 1.0 && t.sin == 0.0);
            seen.insert((t.dx, t.dy));
            for yy in 0..28i32 {
                for xx in 0..28i32 {
                    let (sx, sy) = (xx - t.dx, yy - t.dy);
                    let want = if (0..28).contains(&sx) && (0..28).contains(&sy) { x[b * D + (sy * 28 + sx) as usize] } else { 0.0 };
                    assert_eq!(y[b * D + (yy * 28 + xx) as usize], want, "row {b} ({xx},{yy}) shift {t:?}");
                }
            }
        }
        assert!(seen.len() > 20, "only {} distinct shifts in 64 rows", seen.len());
        assert!(seen.iter().any(|s| s.0 == -3) && seen.iter().any(|s| s.0 == 3));
    }

    #[test]
    fn hflip_twice_is_the_identity_and_once_mirrors() {
        let (a, x) = (aug("hflip"), batch(32));
        let once = run(&a, 3, 5, &x);
        assert_eq!(run(&a, 3, 5, &once), x);
        let flipped: Vec<bool> = (0..32).map(|b| sample_transform(&a, 3, 5, b).flip).collect();
        assert!(flipped.iter().any(|&f| f) && flipped.iter().any(|&f| !f), "{flipped:?}");
        for (b, &f) in flipped.iter().enumerate() {
            for p in 0..D {
                let (xx, yy) = (p % 28, p / 28);
                let src = if f { yy * 28 + 27 - xx } else { p };
                assert_eq!(once[b * D + p], x[b * D + src]);
            }
        }
    }

    #[test]
    fn noise_has_mean_zero_and_the_given_std() {
        let a = aug("noise=0.05");
        let x = vec![0.5f32; 64 * D];
        let y = run(&a, 21, 1, &x);
        let n = y.len() as f64;
        let mean = y.iter().map(|&v| v as f64 - 0.5).sum::<f64>() / n;
        let std = (y.iter().map(|&v| (v as f64 - 0.5 - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < 0.001, "mean {mean}");
        assert!((std - 0.05).abs() < 0.001, "std {std}");
        // clamped to [0, 1]
        let z = run(&aug("noise=1"), 21, 1, &vec![0.0f32; 4 * D]);
        assert!(z.iter().all(|v| (0.0..=1.0).contains(v)) && z.iter().any(|&v| v > 0.0));
    }

    #[test]
    fn rotation_turns_about_the_centre() {
        let x = batch(1);
        let a = aug("rotate=90");
        // a quarter turn (c = 0, s = 1): out(x, y) = in(y, 27 − x), exactly (integer sample points)
        let quarter = SampleTransform { cos: 0.0, sin: 1.0, ..SampleTransform::IDENTITY };
        for p in 0..D {
            let (xx, yy) = (p % 28, p / 28);
            assert_eq!(augment_pixel(&a, &quarter, 0, 0, 0, &x, SHAPE, xx, yy), x[(27 - xx) * 28 + yy]);
        }
        // small drawn angles keep a centred blob's mass and stay within ±rotate
        let a = aug("rotate=10");
        let blob: Vec<f32> = (0..D).map(|p| if ((p % 28) as i32 - 14).abs() < 5 && ((p / 28) as i32 - 14).abs() < 9 { 1.0 } else { 0.0 }).collect();
        let rows: Vec<f32> = blob.iter().copied().cycle().take(16 * D).collect();
        let y = run(&a, 4, 2, &rows);
        for b in 0..16 {
            let t = sample_transform(&a, 4, 2, b as u32);
            let deg = t.sin.atan2(t.cos).to_degrees();
            assert!(deg.abs() <= 10.0001, "angle {deg}");
            let mass: f32 = y[b * D..(b + 1) * D].iter().sum();
            let want: f32 = blob.iter().sum();
            assert!((mass - want).abs() < 0.03 * want, "row {b}: mass {mass} vs {want}");
        }
        assert_ne!(y, rows);
    }

    /// Golden values, checked against an independent re-implementation of the module doc's
    /// algorithm (Python, float64): a WGSL port should reproduce them.
    #[test]
    fn golden_draws_stay_fixed() {
        assert_eq!((AUG_PARAMS, AUG_NOISE_RADIUS, AUG_NOISE_ANGLE), (0x4155_4701, 0x4155_4702, 0x4155_4703));
        let a: Augment = "shift=2,noise=0.1,hflip,rotate=10".parse().unwrap();
        let key = seed_key(0);
        // (dx, dy, flip, angle in degrees) of rows 0..4 at step 3
        let want = [(2, -1, false, -2.95401), (1, 2, true, 9.05112), (-1, -1, true, -8.32405), (0, 2, false, -0.74745)];
        for (row, &(dx, dy, flip, deg)) in want.iter().enumerate() {
            let t = sample_transform(&a, key, 3, row as u32);
            let got = t.sin.atan2(t.cos).to_degrees();
            assert_eq!((t.dx, t.dy, t.flip), (dx, dy, flip), "row {row}");
            assert!((got - deg).abs() < 1e-4, "row {row}: angle {got} vs {deg}");
        }
        // noise on a flat 0.25 image, identity transform: (row, pixel, value)
        let flat = vec![0.25f32; D];
        for (row, p, want) in [(0u32, 0usize, 0.194_556_9f32), (1, 100, 0.383_572_6), (3, 783, 0.192_052_9)] {
            let v = augment_pixel(&a, &SampleTransform::IDENTITY, key, 3, row, &flat, SHAPE, p % 28, p / 28);
            assert!((v - want).abs() < 1e-6, "row {row} pixel {p}: {v} vs {want}");
        }
    }
}
