//! Inputs for `predict`: grayscale images (PNG, or PGM/PNM P2/P5) and CSV rows of features.
//! Colour PNGs are converted to gray (ITU-R BT.601 luma); 16-bit samples keep their high byte.

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

/// PNG bytes to gray: colour by BT.601 luma, alpha dropped, 16-bit samples cut to their high
/// byte; [`Error::BadFile`] naming `path` if the bytes are not a PNG this can read.
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
    Ok(GrayImage { width: w, height: h, pixels })
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
    Ok(GrayImage { width: w, height: h, pixels })
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
        assert_eq!(decode_pgm(&b, p).unwrap(), GrayImage { width: 2, height: 2, pixels: vec![0, 128, 255, 7] });
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
}
