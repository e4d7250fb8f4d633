//! Weight initialisers. Biases always start at zero.

use super::params::{ParamLayout, Params};
use crate::error::{Error, Result};
use crate::rng::{seeded_rng, STREAM_INIT};
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How weights are drawn (biases start at zero); parsed from and shown as `gaussian[:std]`,
/// `xavier_normal`, `xavier_uniform`, `he_normal`, `he_uniform`. in/out are the layer's fans.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Init {
    /// N(0, std²); the course uses std = 1e-1 (its `weight_scale`).
    Gaussian(f64),
    /// Glorot: N(0, 2/(in+out)).
    XavierNormal,
    /// Glorot: U(±sqrt(6/(in+out))).
    XavierUniform,
    /// Kaiming for ReLU: N(0, 2/in).
    HeNormal,
    /// Kaiming for ReLU: U(±sqrt(6/in)).
    HeUniform,
}

impl Init {
    /// Draws layer by layer from one seeded stream, so the same seed gives the same weights on
    /// every machine and for either element type.
    pub fn init(&self, layout: &ParamLayout, seed: u64) -> Params<f64> {
        let mut rng = seeded_rng(seed, STREAM_INIT);
        let mut p = Params::<f64>::zeros(layout);
        for l in 0..layout.layers.len() {
            let s = layout.layers[l];
            let (fan_in, fan_out) = (s.inputs as f64, s.outputs as f64);
            let w = p.weight_mut(l);
            match *self {
                Init::Gaussian(std) => fill_normal(w, std, &mut rng),
                Init::XavierNormal => fill_normal(w, (2.0 / (fan_in + fan_out)).sqrt(), &mut rng),
                Init::HeNormal => fill_normal(w, (2.0 / fan_in).sqrt(), &mut rng),
                Init::XavierUniform => fill_uniform(w, (6.0 / (fan_in + fan_out)).sqrt(), &mut rng),
                Init::HeUniform => fill_uniform(w, (6.0 / fan_in).sqrt(), &mut rng),
            }
        }
        p
    }
}

fn fill_normal(w: &mut [f64], std: f64, rng: &mut impl Rng) {
    // std is validated non-negative and finite when parsed; 0 gives all-zero weights.
    let d = Normal::new(0.0, std.max(0.0)).unwrap_or_else(|_| Normal::new(0.0, 0.0).expect("N(0,0)"));
    for x in w {
        *x = d.sample(rng);
    }
}

fn fill_uniform(w: &mut [f64], bound: f64, rng: &mut impl Rng) {
    let Ok(d) = Uniform::new_inclusive(-bound, bound) else { return };
    for x in w {
        *x = d.sample(rng);
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Init::Gaussian(s) => write!(f, "gaussian:{s}"),
            Init::XavierNormal => write!(f, "xavier_normal"),
            Init::XavierUniform => write!(f, "xavier_uniform"),
            Init::HeNormal => write!(f, "he_normal"),
            Init::HeUniform => write!(f, "he_uniform"),
        }
    }
}

impl FromStr for Init {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s.as_str(), None),
        };
        Ok(match name {
            "gaussian" | "normal" => {
                let std = match arg {
                    Some(a) => a
                        .parse::<f64>()
                        .map_err(|_| Error::config("init", format!("gaussian std '{a}' is not a number")))?,
                    None => 0.1,
                };
                if !(std.is_finite() && std >= 0.0) {
                    return Err(Error::config("init", "gaussian std must be finite and >= 0"));
                }
                Init::Gaussian(std)
            }
            "xavier" | "xavier_normal" | "glorot" | "glorot_normal" => Init::XavierNormal,
            "xavier_uniform" | "glorot_uniform" => Init::XavierUniform,
            "he" | "he_normal" | "kaiming" | "kaiming_normal" => Init::HeNormal,
            "he_uniform" | "kaiming_uniform" => Init::HeUniform,
            _ => {
                return Err(Error::config(
                    "init",
                    format!("unknown initialiser '{s}' (expected gaussian[:std], xavier_normal, xavier_uniform, he_normal, he_uniform)"),
                ))
            }
        })
    }
}

serde_as_text!(Init);
