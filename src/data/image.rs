//! Inputs for `predict`: grayscale images (PNG, or PGM/PNM P2/P5) and CSV rows of features.
//! Colour PNGs are converted to gray (ITU-R BT.601 luma); 16-bit samples keep their high byte.
//! [`prepare_image`] turns a drawing into what an MNIST model saw: alpha composited, light ink
//! on dark, and (for 784-input models) any size fitted as MNIST's digits were.

pub use super::mnist_fit::{center_of_mass, fit_mnist, Fit, MIN_INK, MNIST_BOX, MNIST_SIDE};
use crate::error::{quoted, Error, Result};
use std::path::Path;

/// Most pixels an input image may have (4096×4096): checked from the header, before any pixel
/// buffer is allocated, so a 70-byte file declaring 300000×300000 is refused, not decoded.
pub const MAX_IMAGE_PIXELS: u64 = 1 << 24;

/// Refuses a declared size of `w`×`h` above [`MAX_IMAGE_PIXELS`] (or zero) before allocating.
fn check_dims(w: u64, h: u64, path: &Path, kind: &str) -> Result<usize> {
    let n = w.checked_mul(h).filter(|&n| n <= MAX_IMAGE_PIXELS);
    match n {
        Some(0) => Err(Error::bad_file(path, format!("not a valid {kind}: header says {w}x{h} pixels"))),
        Some(n) => Ok(n as usize),
        None => Err(Error::bad_file(
            path,
            format!("{kind} header declares {w}x{h} pixels, more than the {MAX_IMAGE_PIXELS} an input image may have"),
        )),
    }
}

/// An 8-bit grayscale image, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct GrayImage {
    /// Pixel columns.
    pub width: usize,
    /// Pixel rows.
    pub height: usize,
    /// (height, width) row-major, 0 black to 255 white.
    pub pixels: Vec<u8>,
    /// Opacity per pixel (0 transparent), for PNGs with an alpha channel or a transparent colour.
    pub alpha: Option<Vec<u8>>,
}

impl GrayImage {
    /// Each pixel p becomes 255 − p (for dark digits on a light background; MNIST is light on dark).
    pub fn invert(&mut self) {
        self.pixels.iter_mut().for_each(|p| *p = 255 - *p);
    }
}

/// Reads a PNG or PGM file, recognised by its first bytes.
pub fn read_gray_image(path: &Path) -> Result<GrayImage> {
    let bytes = crate::memory::read_whole(path)?;
    if bytes.starts_with(b"\x89PNG") {
        decode_png(&bytes, path)
    } else if bytes.starts_with(b"P5") || bytes.starts_with(b"P2") {
        decode_pgm(&bytes, path)
    } else {
        Err(Error::bad_file(path, "not a PNG or PGM image"))
    }
}

/// PNG bytes to gray: colour by BT.601 luma, alpha kept beside it, 16-bit samples cut to their
/// high byte; [`Error::BadFile`] naming `path` if the bytes are not a PNG this can read.
pub fn decode_png(bytes: &[u8], path: &Path) -> Result<GrayImage> {
    let bad = |e: png::DecodingError| Error::bad_file(path, format!("not a valid PNG: {e}"));
    // the decoder's own buffers are bounded too (its default is 64 MiB)
    let limits = png::Limits { bytes: 8 * MAX_IMAGE_PIXELS as usize };
    let mut decoder = png::Decoder::new_with_limits(bytes, limits);
    let header = decoder.read_header_info().map_err(bad)?;
    check_dims(header.width as u64, header.height as u64, path, "PNG")?;
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(bad)?;
    // expanded to at most 4 channels of 8 bits: 4 bytes a pixel
    let size = reader.output_buffer_size();
    if size as u64 > 4 * MAX_IMAGE_PIXELS {
        return Err(Error::bad_file(path, format!("PNG would decode to {size} bytes")));
    }
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(bad)?;
    let (w, h) = (info.width as usize, info.height as usize);
    let data = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    if info.bit_depth != png::BitDepth::Eight || data.len() != w * h * channels {
        return Err(Error::bad_file(path, format!("unsupported PNG layout ({:?}, {:?})", info.color_type, info.bit_depth)));
    }
    let luma = |r: u8, g: u8, b: u8| ((299 * r as u32 + 587 * g as u32 + 114 * b as u32 + 500) / 1000) as u8;
    let pixels = match info.color_type {
        png::ColorType::Grayscale => data.to_vec(),
        png::ColorType::GrayscaleAlpha => data.chunks_exact(2).map(|c| c[0]).collect(),
        png::ColorType::Rgb => data.chunks_exact(3).map(|c| luma(c[0], c[1], c[2])).collect(),
        png::ColorType::Rgba => data.chunks_exact(4).map(|c| luma(c[0], c[1], c[2])).collect(),
        png::ColorType::Indexed => return Err(Error::bad_file(path, "indexed PNG was not expanded")),
    };
    let alpha = match info.color_type {
        png::ColorType::GrayscaleAlpha => Some(data.chunks_exact(2).map(|c| c[1]).collect()),
        png::ColorType::Rgba => Some(data.chunks_exact(4).map(|c| c[3]).collect()),
        _ => None,
    };
    Ok(GrayImage { width: w, height: h, pixels, alpha })
}

/// Netpbm graymap: "P5" (binary) or "P2" (ASCII), width, height, maxval, pixels; '#' comments.
pub fn decode_pgm(bytes: &[u8], path: &Path) -> Result<GrayImage> {
    let bad = |m: String| Error::bad_file(path, format!("not a valid PGM: {m}"));
    let mut pos = 2;
    let mut header = [0usize; 3];
    for h in &mut header {
        loop {
            while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if pos < bytes.len() && bytes[pos] == b'#' {
                while pos < bytes.len() && bytes[pos] != b'\n' {
                    pos += 1;
                }
            } else {
                break;
            }
        }
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if start == pos {
            return Err(bad("truncated header".into()));
        }
        let digits = std::str::from_utf8(&bytes[start..pos]).unwrap_or_default();
        *h = digits.parse().map_err(|_| bad(format!("header field {} is too large", quoted(digits))))?;
    }
    let [w, h, maxval] = header;
    if w == 0 || h == 0 || maxval == 0 || maxval > 65535 {
        return Err(bad(format!("header says {w}x{h} with maxval {maxval}")));
    }
    let n = check_dims(w as u64, h as u64, path, "PGM")?;
    let scale = |v: usize| -> u8 { ((v.min(maxval) * 255 + maxval / 2) / maxval) as u8 };
    let pixels: Vec<u8> = if bytes[1] == b'5' {
        pos += 1; // the single whitespace after maxval
        let bpp = if maxval > 255 { 2 } else { 1 };
        let data = bytes.get(pos..pos + n * bpp).ok_or_else(|| bad(format!("truncated: {w}x{h} pixels announced")))?;
        if bpp == 1 {
            data.iter().map(|&v| scale(v as usize)).collect()
        } else {
            data.chunks_exact(2).map(|c| scale(((c[0] as usize) << 8) | c[1] as usize)).collect()
        }
    } else {
        let text = std::str::from_utf8(&bytes[pos..]).map_err(|_| bad("P2 pixels are not text".into()))?;
        let vals: Vec<usize> = text
            .split_ascii_whitespace()
            .take(n)
            .map(|t| t.parse().map_err(|_| bad(format!("pixel {} is not a number", quoted(t)))))
            .collect::<Result<_>>()?;
        if vals.len() != n {
            return Err(bad(format!("truncated: {w}x{h} pixels announced, {} found", vals.len())));
        }
        vals.into_iter().map(scale).collect()
    };
    Ok(GrayImage { width: w, height: h, pixels, alpha: None })
}

/// `predict --invert`: whether image pixels become 255 − p before predicting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Invert {
    /// when the background (the border's median) is light: MNIST is light ink on dark
    #[default]
    Auto,
    /// always (dark ink on a light background)
    Always,
    /// never (the image is light on dark already)
    Never,
}

/// An image as a model input, and what was done to get there (for the user).
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    /// The model's input pixels, light ink on dark.
    pub pixels: Vec<u8>,
    /// Whether the pixels were inverted.
    pub inverted: bool,
    /// What was done, one phrase each ("inverted: light background detected").
    pub notes: Vec<String>,
}

/// Turns `img` into `dim` input pixels: alpha composited (transparent pixels become the
/// background, so the alpha channel is the ink), inverted as `invert` says, and, for a
/// 784-input model, any size but 28×28 fitted as MNIST's digits were ([`fit_mnist`]). A 28×28
/// image (and, for other models, an image of exactly `dim` pixels) is used as it is.
pub fn prepare_image(img: &GrayImage, dim: usize, invert: Invert, path: &Path) -> Result<Prepared> {
    let (w, h) = (img.width, img.height);
    let fit = dim == MNIST_SIDE * MNIST_SIDE && (w, h) != (MNIST_SIDE, MNIST_SIDE);
    if !fit && w * h != dim {
        return Err(Error::bad_file(
            path,
            format!("image is {w}x{h} ({} pixels) but the model takes {dim} inputs (only 784-input, 28x28 models fit other sizes)", w * h),
        ));
    }
    let mut notes = Vec::new();
    let mut pixels = match &img.alpha {
        Some(a) if a.iter().any(|&a| a < 255) => {
            let (px, note) = composite_alpha(&img.pixels, a);
            notes.push(note);
            px
        }
        _ => img.pixels.clone(),
    };
    let light = border_median(&pixels, w, h) > 127;
    let inverted = match invert {
        Invert::Always => true,
        Invert::Never => false,
        Invert::Auto => light,
    };
    if inverted {
        pixels.iter_mut().for_each(|p| *p = 255 - *p);
        notes.push(if invert == Invert::Auto { "inverted: light background detected".into() } else { "inverted (--invert always)".into() });
    }
    if fit {
        let Some((fitted, f)) = fit_mnist(&pixels, w, h) else {
            let bg = if inverted { "after inverting, " } else { "" };
            return Err(Error::bad_file(path, format!("image ({w}x{h}) is blank: {bg}no pixel is brighter than {MIN_INK} of 255, so there is no digit to fit")));
        };
        notes.push(format!(
            "resized {w}x{h} (ink box {}x{}) -> {}x{}, centred by mass in 28x28",
            f.ink_box.2, f.ink_box.3, f.scaled.0, f.scaled.1
        ));
        pixels = fitted;
    }
    Ok(Prepared { pixels, inverted, notes })
}

/// Gray over the background that contrasts with the ink: the ink's colour is the
/// alpha-weighted mean gray; dark ink goes over white, light ink over black, so a black digit
/// drawn on a transparent canvas reads as one on white (then inverted as any such drawing).
fn composite_alpha(gray: &[u8], alpha: &[u8]) -> (Vec<u8>, String) {
    let (mut sum, mut weight) = (0u64, 0u64);
    for (&g, &a) in gray.iter().zip(alpha) {
        sum += g as u64 * a as u64;
        weight += a as u64;
    }
    let dark_ink = weight == 0 || sum < 128 * weight;
    let bg: u32 = if dark_ink { 255 } else { 0 };
    let px = gray.iter().zip(alpha).map(|(&g, &a)| ((g as u32 * a as u32 + bg * (255 - a as u32) + 127) / 255) as u8).collect();
    let note = if dark_ink { "alpha composited over white (dark ink on transparent)" } else { "alpha composited over black (light ink on transparent)" };
    (px, note.to_string())
}

/// The median of the outermost ring of pixels: the background's level in a drawing whose ink
/// may touch an edge.
fn border_median(px: &[u8], w: usize, h: usize) -> u8 {
    let mut ring: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| x == 0 || y == 0 || x + 1 == w || y + 1 == h)
        .map(|(x, y)| px[y * w + x])
        .collect();
    ring.sort_unstable();
    ring[ring.len() / 2]
}

/// Rows of numeric features. A first row that is not all numbers is a header; when it names
/// `target` (the model's target column), that column is dropped from every row, so a table that
/// still has its labels predicts as it is. Every value must be a finite number; every row must
/// have `width` values. `.tsv` files are tab-separated.
pub fn read_feature_rows(path: &Path, width: usize, target: Option<&str>) -> Result<Vec<Vec<f32>>> {
    let file = crate::memory::open_bounded(path)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(super::csv::delimiter_of(path))
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(file);
    let mut rows = Vec::new();
    let mut drop: Option<usize> = None;
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| match e.kind() {
            ::csv::ErrorKind::Io(io) => crate::memory::too_big_or_io(path, std::io::Error::new(io.kind(), io.to_string())),
            _ => Error::bad_file(path, format!("cannot read CSV: {}", crate::error::clipped(e))),
        })?;
        let line = record.position().map_or(i as u64 + 1, |p| p.line());
        if record.len() == 1 && record.get(0) == Some("") {
            continue;
        }
        let mut parsed: Vec<Option<f64>> = record.iter().map(|c| c.parse::<f64>().ok()).collect();
        if i == 0 && parsed.iter().any(Option::is_none) {
            drop = target.and_then(|t| record.iter().position(|c| c == t));
            continue; // header
        }
        let mut record: Vec<&str> = record.iter().collect();
        if let Some(c) = drop.filter(|c| *c < record.len()) {
            record.remove(c);
            parsed.remove(c);
        }
        if record.len() != width {
            return Err(Error::bad_file(path, format!("line {line} has {} values but the model takes {width} inputs", record.len())));
        }
        let mut row = Vec::with_capacity(width);
        for (c, (cell, v)) in record.iter().zip(parsed).enumerate() {
            match v {
                Some(v) if v.is_finite() && v.abs() <= f32::MAX as f64 => row.push(v as f32),
                _ => return Err(Error::bad_file(path, format!("line {line}, column {}: {} is not a finite number", c + 1, quoted(cell)))),
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Error::bad_file(path, "no data rows"));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgm_binary_and_ascii() {
        let p = Path::new("x.pgm");
        let mut b = b"P5\n# comment\n2 2\n255\n".to_vec();
        b.extend([0, 128, 255, 7]);
        assert_eq!(decode_pgm(&b, p).unwrap(), GrayImage { width: 2, height: 2, pixels: vec![0, 128, 255, 7], alpha: None });
        let a = b"P2 2 1 15\n0 15\n";
        assert_eq!(decode_pgm(a, p).unwrap().pixels, vec![0, 255]);
        assert!(decode_pgm(b"P5 2 2 255\n\x00", p).is_err());
    }

    #[test]
    fn png_gray_roundtrip() {
        let mut bytes = Vec::new();
        {
            let mut e = png::Encoder::new(&mut bytes, 3, 1);
            e.set_color(png::ColorType::Rgb);
            e.set_depth(png::BitDepth::Eight);
            let mut w = e.write_header().unwrap();
            w.write_image_data(&[255, 255, 255, 0, 0, 0, 255, 0, 0]).unwrap();
        }
        let img = decode_png(&bytes, Path::new("x.png")).unwrap();
        assert_eq!((img.width, img.height), (3, 1));
        assert_eq!(img.pixels, vec![255, 0, 76]);
    }

    /// A w×h dark image with a bright rectangle (x, y, rw, rh).
    fn rect(w: usize, h: usize, (x, y, rw, rh): (usize, usize, usize, usize)) -> Vec<u8> {
        let mut px = vec![0u8; w * h];
        for r in y..y + rh {
            px[r * w + x..r * w + x + rw].fill(255);
        }
        px
    }

    #[test]
    fn fit_finds_the_ink_box_scales_it_to_20_and_centres_its_mass() {
        // a 60x30 bar at (200, 50) of a 300x280 image: box 60x30 -> 20x10
        let px = rect(300, 280, (200, 50, 60, 30));
        let (out, fit) = fit_mnist(&px, 300, 280).unwrap();
        assert_eq!(fit.ink_box, (200, 50, 60, 30));
        assert_eq!(fit.scaled, (20, 10));
        let (cx, cy) = center_of_mass(&out, 28, 28);
        assert!((cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5, "centre of mass ({cx}, {cy})");
        // area-averaged: a uniform bar stays a uniform 20x10 bar of full intensity
        assert_eq!(out.iter().filter(|&&p| p == 255).count(), 200, "{out:?}");
        assert_eq!(out.iter().filter(|&&p| p > 0).count(), 200);
    }

    #[test]
    fn fit_keeps_the_aspect_ratio_and_antialiases() {
        // a tall 7x45 bar: the height becomes 20, the width 7·20/45 = 3.1 -> 3 px; a 1 px wide
        // line downscaled 5x leaves a fifth of its intensity, not a hard 0/255 edge
        let px = rect(50, 50, (3, 2, 7, 45));
        let (_, fit) = fit_mnist(&px, 50, 50).unwrap();
        assert_eq!(fit.scaled, (3, 20));
        // a 1 px line in a 100x100 box (its corners marked) downscaled 5x: a fifth of its intensity
        let mut line = vec![0u8; 100 * 100];
        (0..100).for_each(|y| line[y * 100 + 42] = 255);
        (line[0], line[99 * 100 + 99]) = (255, 255);
        let (out, fit) = fit_mnist(&line, 100, 100).unwrap();
        assert_eq!(fit.scaled, (20, 20));
        assert_eq!(out.iter().filter(|&&p| p == 51).count(), 20, "{out:?}");
        assert!(out.iter().all(|&p| p <= 51), "{out:?}");
    }

    #[test]
    fn fit_of_a_blank_image_is_none() {
        assert_eq!(fit_mnist(&[0u8; 100], 10, 10), None);
        assert_eq!(fit_mnist(&[MIN_INK - 1; 100], 10, 10), None);
    }

    #[test]
    fn alpha_is_the_ink_and_a_light_background_is_inverted() {
        let p = Path::new("x.png");
        let ink: Vec<u8> = (0..784).map(|i| if i % 28 > 9 && i % 28 < 18 && i / 28 > 5 && i / 28 < 22 { (i * 7 % 256) as u8 } else { 0 }).collect();
        // black ink whose opacity is the digit, on a transparent canvas whose colour is white
        let black_on_clear = GrayImage { width: 28, height: 28, pixels: ink.iter().map(|&a| if a > 0 { 0 } else { 255 }).collect(), alpha: Some(ink.clone()) };
        let r = prepare_image(&black_on_clear, 784, Invert::Auto, p).unwrap();
        assert_eq!(r.pixels, ink);
        assert!(r.inverted && r.notes.len() == 2, "{:?}", r.notes);
        // white ink on a clear canvas that is black: composited over black, not inverted
        let white_on_clear = GrayImage { width: 28, height: 28, pixels: vec![255; 784], alpha: Some(ink.clone()) };
        let r = prepare_image(&white_on_clear, 784, Invert::Auto, p).unwrap();
        assert_eq!((r.pixels == ink, r.inverted), (true, false));
        // dark on white: inverted by auto and always, not by never; MNIST-like: untouched
        let dark_on_white = GrayImage { width: 28, height: 28, pixels: ink.iter().map(|&v| 255 - v).collect(), alpha: None };
        assert_eq!(prepare_image(&dark_on_white, 784, Invert::Auto, p).unwrap().pixels, ink);
        assert_eq!(prepare_image(&dark_on_white, 784, Invert::Never, p).unwrap().pixels, dark_on_white.pixels);
        let mnist = GrayImage { width: 28, height: 28, pixels: ink.clone(), alpha: None };
        assert_eq!(prepare_image(&mnist, 784, Invert::Auto, p).unwrap(), Prepared { pixels: ink.clone(), inverted: false, notes: vec![] });
        assert_eq!(prepare_image(&mnist, 784, Invert::Always, p).unwrap().pixels, dark_on_white.pixels);
    }
}
