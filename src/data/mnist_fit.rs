//! MNIST's own preprocessing of a digit: the ink's box scaled to 20 px on its longer side by area
//! averaging and centred by its mass in a 28×28 field (what [`super::image::prepare_image`] does
//! to a drawing of any other size for a 784-input model).

/// Side of the images MNIST models take (28×28 = 784 inputs).
pub const MNIST_SIDE: usize = 28;
/// The larger side of the ink's box in a fitted image, as in MNIST (20 px in a 28 px field).
pub const MNIST_BOX: usize = 20;
/// The dimmest ink that counts: an image whose brightest pixel is below this (after alpha and
/// polarity) is blank.
pub const MIN_INK: u8 = 16;

/// How [`fit_mnist`] placed a digit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// The ink's bounding box in the source: (x, y, width, height).
    pub ink_box: (usize, usize, usize, usize),
    /// The box's size after scaling (the larger side [`MNIST_BOX`]).
    pub scaled: (usize, usize),
    /// Where the scaled box's top-left corner went in the 28×28 field (may be negative or clip).
    pub offset: (i64, i64),
}

/// MNIST's own preprocessing of a light-on-dark image of any size: the bounding box of the
/// pixels above a tenth of the brightest, scaled (aspect kept, area-averaged, so anti-aliased)
/// until its larger side is 20 px, then placed in a 28×28 field with its centre of mass at
/// pixel (14, 14) (MNIST digits' mass centres lie in 13.5–14.5), to the nearest pixel.
/// None when the image is blank (no pixel reaches [`MIN_INK`]).
pub fn fit_mnist(px: &[u8], w: usize, h: usize) -> Option<(Vec<u8>, Fit)> {
    let max = px.iter().copied().max().unwrap_or(0);
    if max < MIN_INK {
        return None;
    }
    let thr = max / 10;
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for y in 0..h {
        for x in 0..w {
            if px[y * w + x] > thr {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let side = bw.max(bh) as f64;
    let scaled = |n: usize| ((n as f64 * MNIST_BOX as f64 / side).round() as usize).clamp(1, MNIST_BOX);
    let (nw, nh) = (scaled(bw), scaled(bh));
    // separable area averaging: rows of the box to nw columns, then columns to nh rows
    let (wx, wy) = (area_weights(bw, nw), area_weights(bh, nh));
    let mut rows = vec![0f32; bh * nw];
    for y in 0..bh {
        let src = &px[(y0 + y) * w + x0..][..bw];
        for (o, ws) in wx.iter().enumerate() {
            rows[y * nw + o] = ws.iter().map(|&(i, f)| f * src[i] as f32).sum();
        }
    }
    let mut small = vec![0f32; nh * nw];
    for (o, ws) in wy.iter().enumerate() {
        for x in 0..nw {
            small[o * nw + x] = ws.iter().map(|&(i, f)| f * rows[i * nw + x]).sum();
        }
    }
    let (cx, cy) = center_of_mass_f32(&small, nw, nh);
    let centre = (MNIST_SIDE / 2) as f64;
    let (ox, oy) = ((centre - cx).round() as i64, (centre - cy).round() as i64);
    let mut out = vec![0u8; MNIST_SIDE * MNIST_SIDE];
    for y in 0..nh {
        for x in 0..nw {
            let (tx, ty) = (x as i64 + ox, y as i64 + oy);
            if (0..MNIST_SIDE as i64).contains(&tx) && (0..MNIST_SIDE as i64).contains(&ty) {
                out[ty as usize * MNIST_SIDE + tx as usize] = small[y * nw + x].round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Some((out, Fit { ink_box: (x0, y0, bw, bh), scaled: (nw, nh), offset: (ox, oy) }))
}

/// For each of `m` output cells over `n` source cells, the (source index, weight) pairs of the
/// source span it covers ([o·n/m, (o+1)·n/m)), weights summing to 1.
fn area_weights(n: usize, m: usize) -> Vec<Vec<(usize, f32)>> {
    let step = n as f64 / m as f64;
    (0..m)
        .map(|o| {
            let (a, b) = (o as f64 * step, (o + 1) as f64 * step);
            (a.floor() as usize..(b.ceil() as usize).min(n))
                .map(|i| (i, ((b.min(i as f64 + 1.0) - a.max(i as f64)) / step) as f32))
                .filter(|&(_, f)| f > 0.0)
                .collect()
        })
        .collect()
}

fn center_of_mass_f32(px: &[f32], w: usize, h: usize) -> (f64, f64) {
    let (mut m, mut sx, mut sy) = (0f64, 0f64, 0f64);
    for y in 0..h {
        for x in 0..w {
            let v = px[y * w + x] as f64;
            (m, sx, sy) = (m + v, sx + v * x as f64, sy + v * y as f64);
        }
    }
    if m > 0.0 { (sx / m, sy / m) } else { (w as f64 / 2.0, h as f64 / 2.0) }
}

/// The centre of mass (x, y) of a row-major image, in pixel indices (pixel (0, 0)'s centre is 0).
pub fn center_of_mass(px: &[u8], w: usize, h: usize) -> (f64, f64) {
    center_of_mass_f32(&px.iter().map(|&p| p as f32).collect::<Vec<_>>(), w, h)
}
