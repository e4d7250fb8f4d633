//! `TrainConfig::validate`: every value of a configuration checked, before any data is read or
//! any file written, and turned into the [`Plan`] the run follows. The engine's own limits (an
//! adapter's buffer and dispatch sizes) are checked against the plan by
//! `device::Device::open_for`, still before the data is read.

use super::{DataSource, DeviceChoice, TrainConfig};
use crate::data::Val;
use crate::engine::TrainSetup;
use crate::error::{Error, Result};
use crate::optim::LrSchedule;
use crate::report::cost::check_network_memory;
use crate::train::{FitOptions, Monitor};

/// One split (train / validation / test) or K-fold cross-validation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Protocol {
    /// `val`: the validation size asked for (None: the default share).
    Split {
        /// the validation size asked for (None: the default share)
        val: Option<Val>,
    },
    /// `--kfold K` cross-validation on the training data.
    Kfold {
        /// number of folds
        k: usize,
    },
}

/// A validated configuration: what a run does, in the shapes the run consumes, built once.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The configuration as given; `config.toml` records it.
    pub config: TrainConfig,
    /// `config.toml`'s text, encoded before anything is written.
    pub toml: String,
    /// What the engine is built with (network, optimizer, penalties, dropout, batch, seed).
    pub setup: TrainSetup,
    /// The training loop's settings.
    pub fit: FitOptions,
    /// Where the data comes from, checked.
    pub source: DataSource,
    /// One split or k-fold cross-validation.
    pub protocol: Protocol,
    /// The engine asked for (`--device`).
    pub device: DeviceChoice,
}

impl Plan {
    /// The validation setting of a single-split run (None for k-fold or the default share).
    pub fn val(&self) -> Option<Val> {
        match self.protocol {
            Protocol::Split { val } => val,
            Protocol::Kfold { .. } => None,
        }
    }
}

impl TrainConfig {
    /// Every check that needs no data, run before anything is loaded or written.
    pub fn validate(&self) -> Result<Plan> {
        let setup = self.setup()?;
        let fit = self.fit_options();
        fit.validate()?;
        if let LrSchedule::Cosine { min_lr } = fit.schedule {
            if min_lr > fit.lr {
                return Err(Error::config(
                    "lr-schedule",
                    format!("cosine floor {min_lr} is above the learning rate {}: a cosine schedule decays from --lr down to its floor", fit.lr),
                ));
            }
        }
        // the rest (a batch's activations, the resident data) is checked once the data is read
        check_network_memory(&setup)?;
        let r = &self.run;
        if r.early_stop == Some(0) {
            return Err(Error::config("early-stop", "patience must be at least 1"));
        }
        if !(r.min_delta.is_finite() && r.min_delta >= 0.0) {
            return Err(Error::config("min-delta", format!("{} must be >= 0", r.min_delta)));
        }
        if self.run.monitor == Some(Monitor::ValAccuracy) && !self.model.loss.is_classification() {
            return Err(Error::config("monitor", format!("val_accuracy needs a classification loss; {} is judged by val_loss", self.model.loss)));
        }
        self.data.validate()?;
        if self.model.standardize && self.reg.augment.is_some() {
            return Err(Error::config("standardize", "cannot be combined with --augment: augmentation transforms pixels, and standardized features are not pixels"));
        }
        if let Some(f) = r.val_frac {
            if !(f > 0.0 && f < 1.0) {
                return Err(Error::config("val-frac", format!("{f} must be in (0, 1)")));
            }
        }
        if r.val == Some(0) {
            return Err(Error::config("val", "must be at least 1"));
        }
        let protocol = match r.kfold {
            Some(k) if k < 2 => return Err(Error::config("kfold", format!("k = {k}: need at least 2 folds"))),
            Some(_) if r.val.is_some() || r.val_frac.is_some() => {
                return Err(Error::config("kfold", "each fold is the validation set in turn; drop --val/--val-frac"))
            }
            Some(k) => Protocol::Kfold { k },
            None => Protocol::Split {
                val: match (r.val, r.val_frac) {
                    (Some(n), _) => Some(Val::Count(n)),
                    (None, Some(f)) => Some(Val::Fraction(f)),
                    _ => None,
                },
            },
        };
        let toml = self.to_toml()?;
        Ok(Plan { config: self.clone(), toml, setup, fit, source: self.data.clone(), protocol, device: self.engine.device })
    }
}
