//! Whether a dataset fits the network: the check both engines run before loading data.

use super::TrainSetup;
use crate::data::{check_augmentable, Dataset, Targets};
use crate::error::{Error, Result};
use crate::model::Loss;

/// Checks that `data` fits the network: non-empty, `dim` equal to the input width, classes or
/// target values that fit the last layer, and image-shaped when augmentation is on; otherwise
/// [`Error::Config`]. Shared by both engines.
pub fn check_dataset_fits(setup: &TrainSetup, data: &Dataset) -> Result<()> {
    let spec = &setup.spec;
    if data.is_empty() {
        return Err(Error::config("data", "the dataset is empty"));
    }
    if data.dim != spec.inputs() {
        return Err(Error::config(
            "data",
            format!("samples have {} features but the first layer takes {}", data.dim, spec.inputs()),
        ));
    }
    match &data.targets {
        Targets::Classes { num_classes, .. } => {
            let fits = if spec.outputs() == 1 { *num_classes <= 2 } else { *num_classes <= spec.outputs() };
            if !fits {
                return Err(Error::config(
                    "data",
                    format!("{num_classes} classes do not fit the last layer's {} outputs", spec.outputs()),
                ));
            }
        }
        Targets::Values { dim, .. } => {
            if spec.loss == Loss::SoftmaxCrossEntropy {
                return Err(Error::config("loss", "softmax cross-entropy needs class labels, the data has real-valued targets"));
            }
            if *dim != spec.outputs() {
                return Err(Error::config(
                    "data",
                    format!("targets have {dim} values but the last layer has {} outputs", spec.outputs()),
                ));
            }
        }
    }
    if let Some(aug) = &setup.augment {
        check_augmentable(aug, data)?;
    }
    Ok(())
}
