//! Learning-rate schedules, evaluated once per epoch (the course decays by 0.95 each epoch).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How the learning rate changes from epoch to epoch (epoch counted from 0); written and
/// parsed as `constant`, `exp:GAMMA`, `step:EVERY:GAMMA`, `cosine[:MIN_LR]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LrSchedule {
    /// lr in every epoch.
    Constant,
    /// lr·γ^epoch
    Exponential {
        /// Factor per epoch (the course's 0.95).
        gamma: f64,
    },
    /// lr·γ^(epoch / every)
    Step {
        /// Epochs between decays (at least 1).
        every: usize,
        /// Factor per decay.
        gamma: f64,
    },
    /// lr_min + ½(lr − lr_min)(1 + cos(π·epoch/epochs)) over the run's epochs
    Cosine {
        /// The rate the cosine approaches at the end of the run.
        min_lr: f64,
    },
}

impl LrSchedule {
    /// Learning rate for 0-based `epoch` of `epochs`.
    pub fn lr(&self, base: f64, epoch: usize, epochs: usize) -> f64 {
        match *self {
            LrSchedule::Constant => base,
            LrSchedule::Exponential { gamma } => base * gamma.powi(epoch as i32),
            LrSchedule::Step { every, gamma } => base * gamma.powi((epoch / every.max(1)) as i32),
            LrSchedule::Cosine { min_lr } => {
                let t = epoch as f64 / epochs.max(1) as f64;
                min_lr + 0.5 * (base - min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

impl fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LrSchedule::Constant => write!(f, "constant"),
            LrSchedule::Exponential { gamma } => write!(f, "exp:{gamma}"),
            LrSchedule::Step { every, gamma } => write!(f, "step:{every}:{gamma}"),
            LrSchedule::Cosine { min_lr } => write!(f, "cosine:{min_lr}"),
        }
    }
}

fn num(what: &str, s: &str) -> Result<f64> {
    let v: f64 = s
        .parse()
        .map_err(|_| Error::config("lr-schedule", format!("{what} '{s}' is not a number")))?;
    if !v.is_finite() || v < 0.0 {
        return Err(Error::config("lr-schedule", format!("{what} {v} must be finite and >= 0")));
    }
    Ok(v)
}

impl FromStr for LrSchedule {
    type Err = Error;
    /// `constant`, `exp:0.95`, `step:10:0.5` (every 10 epochs ×0.5), `cosine` or `cosine:1e-5`.
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.trim().split(':').collect();
        match parts.as_slice() {
            ["constant"] | ["none"] => Ok(LrSchedule::Constant),
            ["exp", g] => Ok(LrSchedule::Exponential { gamma: num("gamma", g)? }),
            ["step", every, g] => {
                let every: usize = every.parse().ok().filter(|&e| e > 0).ok_or_else(|| {
                    Error::config("lr-schedule", format!("step interval '{every}' must be a positive integer"))
                })?;
                Ok(LrSchedule::Step { every, gamma: num("gamma", g)? })
            }
            ["cosine"] => Ok(LrSchedule::Cosine { min_lr: 0.0 }),
            ["cosine", m] => Ok(LrSchedule::Cosine { min_lr: num("min lr", m)? }),
            _ => Err(Error::config(
                "lr-schedule",
                format!("'{s}' is not one of constant, exp:GAMMA, step:EVERY:GAMMA, cosine[:MIN_LR]"),
            )),
        }
    }
}

serde_as_text!(LrSchedule);

/// Linear learning-rate warm-up, on top of any schedule: the k-th epoch or step (1-based) of
/// the first N runs at k/N of the scheduled rate. Written `N` or `N:epochs`, or `N:steps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Warmup {
    /// over the first N epochs (the factor changes once per epoch, on the host)
    Epochs(u64),
    /// over the first N optimizer steps (each step's own factor, in `UpdateParams`)
    Steps(u64),
}

impl Warmup {
    /// The factor of 1-based epoch or step `k` of a warm-up over `n`: k/n until n, then 1.
    pub fn factor(k: u64, n: u64) -> f64 {
        if k >= n { 1.0 } else { k.max(1) as f64 / n as f64 }
    }
}

impl fmt::Display for Warmup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warmup::Epochs(n) => write!(f, "{n}:epochs"),
            Warmup::Steps(n) => write!(f, "{n}:steps"),
        }
    }
}

impl FromStr for Warmup {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::config("warmup", format!("'{s}' is not N, N:epochs or N:steps with N >= 1"));
        let (n, unit) = s.trim().split_once(':').unwrap_or((s.trim(), "epochs"));
        let n: u64 = n.parse().ok().filter(|&n| n > 0).ok_or_else(bad)?;
        match unit {
            "epochs" | "epoch" => Ok(Warmup::Epochs(n)),
            "steps" | "step" => Ok(Warmup::Steps(n)),
            _ => Err(bad()),
        }
    }
}

serde_as_text!(Warmup);

/// Keras' ReduceLROnPlateau: once the monitored metric has not improved for `patience` epochs,
/// the rate is multiplied by `factor`, never below `min_lr`. Written `PATIENCE[:FACTOR[:MIN_LR]]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Plateau {
    /// epochs without improvement before a reduction (>= 1)
    pub patience: usize,
    /// multiplier per reduction, in (0, 1) (default 0.1, as Keras)
    pub factor: f64,
    /// the rate is never reduced below this (default 0)
    pub min_lr: f64,
}

impl fmt::Display for Plateau {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.patience, self.factor, self.min_lr)
    }
}

impl FromStr for Plateau {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::config("reduce-on-plateau", format!("'{s}': {why} (PATIENCE[:FACTOR[:MIN_LR]], e.g. 5:0.1)"));
        let parts: Vec<&str> = s.trim().split(':').collect();
        if parts.is_empty() || parts.len() > 3 {
            return Err(bad("expected one to three fields"));
        }
        let patience: usize = parts[0].parse().ok().filter(|&p| p > 0).ok_or_else(|| bad("patience must be an integer >= 1"))?;
        let factor: f64 = parts.get(1).map_or(Ok(0.1), |f| f.parse()).map_err(|_| bad("factor is not a number"))?;
        if !(factor > 0.0 && factor < 1.0) {
            return Err(bad("factor must be in (0, 1)"));
        }
        let min_lr: f64 = parts.get(2).map_or(Ok(0.0), |m| m.parse()).map_err(|_| bad("min lr is not a number"))?;
        if !(min_lr.is_finite() && min_lr >= 0.0) {
            return Err(bad("min lr must be finite and >= 0"));
        }
        Ok(Plateau { patience, factor, min_lr })
    }
}

serde_as_text!(Plateau);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_and_plateau_parse_and_round_trip() {
        assert_eq!("3".parse::<Warmup>().unwrap(), Warmup::Epochs(3));
        assert_eq!("200:steps".parse::<Warmup>().unwrap(), Warmup::Steps(200));
        for s in ["0", "-1", "3:days", "x"] {
            assert!(s.parse::<Warmup>().is_err(), "{s}");
        }
        assert_eq!((Warmup::factor(1, 4), Warmup::factor(3, 4), Warmup::factor(4, 4), Warmup::factor(9, 4)), (0.25, 0.75, 1.0, 1.0));
        assert_eq!("5".parse::<Plateau>().unwrap(), Plateau { patience: 5, factor: 0.1, min_lr: 0.0 });
        let p: Plateau = "2:0.5:1e-4".parse().unwrap();
        assert_eq!(p.to_string().parse::<Plateau>().unwrap(), p);
        for s in ["0", "2:1", "2:0", "2:0.5:-1", "2:0.5:0:9", "a"] {
            assert!(s.parse::<Plateau>().is_err(), "{s}");
        }
    }

    #[test]
    fn schedules_follow_their_formulas() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(LrSchedule::Constant.lr(0.1, 7, 10), 0.1));
        // the course: ×0.95 every epoch
        let exp: LrSchedule = "exp:0.95".parse().unwrap();
        assert!(close(exp.lr(0.1, 0, 10), 0.1) && close(exp.lr(0.1, 3, 10), 0.1 * 0.95f64.powi(3)));
        let step: LrSchedule = "step:10:0.5".parse().unwrap();
        assert!(close(step.lr(1.0, 9, 30), 1.0) && close(step.lr(1.0, 10, 30), 0.5) && close(step.lr(1.0, 25, 30), 0.25));
        let cos: LrSchedule = "cosine:0.01".parse().unwrap();
        assert!(close(cos.lr(1.0, 0, 10), 1.0) && close(cos.lr(1.0, 5, 10), 0.505));
        assert!(cos.lr(1.0, 9, 10) > 0.01 && cos.lr(1.0, 9, 10) < 0.05);
    }

    #[test]
    fn bad_schedules_are_refused() {
        for s in ["exp", "exp:x", "step:0:0.5", "step:3", "cosine:-1", "linear"] {
            assert!(s.parse::<LrSchedule>().is_err(), "{s} parsed");
        }
        // Display round-trips through FromStr (config.toml relies on it)
        for s in ["constant", "exp:0.95", "step:10:0.5", "cosine:0.001"] {
            assert_eq!(s.parse::<LrSchedule>().unwrap().to_string(), s);
        }
    }
}
