//! Data augmentation settings (`--augment shift=2,noise=0.05,hflip,rotate=10`) and the check that
//! a dataset can be augmented. The per-pixel math is the kernel twin in src/cpu/augment.rs.

use crate::data::{Dataset, Features};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

// Constants of the augmentation both engines draw (src/cpu/augment.rs; shaders/gather.wgsl gets
// them through the generated `consts`).

/// `hash4` layer code for the per-sample parameters (index 4·row + k, k: 0 dx, 1 dy, 2 flip,
/// 3 angle). Dropout uses the layer number (small integers) as its code, so these cannot meet it.
pub const AUG_PARAMS: u32 = 0x4155_4701;
/// `hash4` layer code for the noise's uniform u1 (radius), index row·H·W + pixel.
pub const AUG_NOISE_RADIUS: u32 = 0x4155_4702;
/// `hash4` layer code for the noise's uniform u2 (angle), index row·H·W + pixel.
pub const AUG_NOISE_ANGLE: u32 = 0x4155_4703;

/// π/180 rounded to f32 (the shaders get the same bits through the generated constants).
pub const DEG_TO_RAD: f32 = 0.017_453_292;
/// 2π rounded to f32 (likewise).
pub const TWO_PI: f32 = 6.283_185_5;

/// Random per-sample image transforms applied to each training batch (never to evaluation).
/// All off (the default) is the identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Augment {
    /// translation: dx, dy uniform integers in [-shift, shift] pixels
    pub shift: u32,
    /// std of Gaussian noise added to the [0, 1] pixels (then clamped to [0, 1])
    pub noise: f32,
    /// mirror left-right with probability ½
    pub hflip: bool,
    /// rotation uniform in [-rotate, rotate] degrees about the image centre
    pub rotate: f32,
}

/// The largest shift accepted, in pixels (a shift must also stay below the image's side).
pub const MAX_SHIFT: u32 = 255;
/// The largest rotation accepted, in degrees.
pub const MAX_ROTATE_DEG: f32 = 180.0;
/// The largest noise std accepted (pixels are in [0, 1]).
pub const MAX_NOISE: f32 = 1.0;

const SYNTAX: &str = "expected a comma-separated list of shift=PIXELS, noise=STD, hflip, rotate=DEGREES (or none)";

impl Augment {
    /// Whether every transform is off (batches are left as gathered).
    pub fn is_identity(&self) -> bool {
        self.shift == 0 && self.noise == 0.0 && !self.hflip && self.rotate == 0.0
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::config("augment", msg)
}

fn number(key: &str, v: &str, max: f32) -> Result<f32> {
    let x: f32 = v.trim().parse().map_err(|_| bad(format!("{key}='{v}' is not a number")))?;
    if !(x.is_finite() && (0.0..=max).contains(&x)) {
        return Err(bad(format!("{key}={v} must be between 0 and {max}")));
    }
    Ok(x)
}

impl FromStr for Augment {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() {
            return Err(bad(format!("empty; {SYNTAX}")));
        }
        let mut a = Augment::default();
        if s == "none" {
            return Ok(a);
        }
        let mut seen: Vec<&str> = Vec::new();
        for item in s.split(',') {
            let item = item.trim();
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (item, None),
            };
            if seen.contains(&key) {
                return Err(bad(format!("'{key}' is given twice")));
            }
            match (key, value) {
                ("shift", Some(v)) => {
                    a.shift = v.parse().map_err(|_| bad(format!("shift='{v}' must be a whole number of pixels")))?;
                    if a.shift > MAX_SHIFT {
                        return Err(bad(format!("shift={v} must be at most {MAX_SHIFT} pixels")));
                    }
                }
                ("noise", Some(v)) => a.noise = number("noise", v, MAX_NOISE)?,
                ("rotate", Some(v)) => a.rotate = number("rotate", v, MAX_ROTATE_DEG)?,
                ("hflip", None) => a.hflip = true,
                ("hflip", Some(v)) => {
                    a.hflip = v.parse().map_err(|_| bad(format!("hflip='{v}' must be true or false (or just hflip)")))?
                }
                ("shift" | "noise" | "rotate", None) => return Err(bad(format!("'{key}' needs a value: {key}=N"))),
                ("", _) => return Err(bad(format!("'{s}' has an empty item; {SYNTAX}"))),
                _ => return Err(bad(format!("unknown item '{item}'; {SYNTAX}"))),
            }
            seen.push(key);
        }
        Ok(a)
    }
}

impl fmt::Display for Augment {
    /// The canonical form the parser reads back: enabled parts only, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.shift > 0 {
            parts.push(format!("shift={}", self.shift));
        }
        if self.noise > 0.0 {
            parts.push(format!("noise={}", self.noise));
        }
        if self.hflip {
            parts.push("hflip".to_string());
        }
        if self.rotate > 0.0 {
            parts.push(format!("rotate={}", self.rotate));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

serde_as_text!(Augment);

/// (rows, cols) of the images in `data`: its recorded shape, or 28×28 for 784 features.
pub fn image_shape(data: &Dataset) -> Option<(usize, usize)> {
    data.image_shape.or((data.dim == 784).then_some((28, 28)))
}

/// Augmentation needs images of u8 pixels (normalised to [0, 1] by the gather); returns their shape.
pub fn check_augmentable(aug: &Augment, data: &Dataset) -> Result<(usize, usize)> {
    let shape = match (&data.features, image_shape(data)) {
        (Features::U8(_), Some(s)) if s.0 * s.1 == data.dim => s,
        _ => {
            return Err(bad(format!(
                "'{aug}' needs image data (u8 pixels, e.g. IDX/MNIST files); this dataset has {} {} features per sample",
                data.dim,
                if matches!(data.features, Features::U8(_)) { "u8" } else { "real-valued" }
            )))
        }
    };
    let side = shape.0.min(shape.1);
    if aug.shift as usize >= side {
        return Err(bad(format!("shift={} would move a {}×{} image out of view", aug.shift, shape.0, shape.1)));
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_back() {
        let a: Augment = "shift=2,noise=0.05,hflip,rotate=10".parse().unwrap();
        assert_eq!(a, Augment { shift: 2, noise: 0.05, hflip: true, rotate: 10.0 });
        assert_eq!(a.to_string(), "shift=2,noise=0.05,hflip,rotate=10");
        assert_eq!(a.to_string().parse::<Augment>().unwrap(), a);
        let b: Augment = " rotate = 7.5 , shift=1 ".parse().unwrap();
        assert_eq!(b, Augment { shift: 1, rotate: 7.5, ..Default::default() });
        assert_eq!("hflip=false".parse::<Augment>().unwrap(), Augment::default());
        assert_eq!("none".parse::<Augment>().unwrap().to_string(), "none");
        assert!("shift=0".parse::<Augment>().unwrap().is_identity());
    }

    #[test]
    fn rejects_bad_strings_clearly() {
        for (s, needle) in [
            ("", "empty"),
            ("shift", "needs a value"),
            ("shift=-1", "whole number"),
            ("shift=1.5", "whole number"),
            ("shift=300", "at most 255"),
            ("noise=abc", "not a number"),
            ("noise=-0.1", "between 0 and 1"),
            ("noise=NaN", "between 0 and 1"),
            ("rotate=400", "between 0 and 180"),
            ("zoom=2", "unknown item 'zoom=2'"),
            ("shift=1,,hflip", "empty item"),
            ("shift=1,shift=2", "given twice"),
            ("hflip=maybe", "true or false"),
        ] {
            let e = s.parse::<Augment>().unwrap_err().to_string();
            assert!(e.contains("augment") && e.contains(needle), "'{s}' gave: {e}");
        }
    }

    #[test]
    fn serde_uses_the_string_form() {
        let a: Augment = "shift=2,hflip".parse().unwrap();
        let j = serde_json::to_string(&a).unwrap();
        assert_eq!(j, "\"shift=2,hflip\"");
        assert_eq!(serde_json::from_str::<Augment>(&j).unwrap(), a);
        assert!(serde_json::from_str::<Augment>("\"shift=x\"").is_err());
    }
}
