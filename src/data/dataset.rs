//! An in-memory dataset: features (u8 pixels kept as bytes, or f32 columns) and targets.

use crate::error::{Error, Result};

/// Feature storage. Pixels stay `u8` until a kernel normalises them (x/255).
#[derive(Clone, Debug, PartialEq)]
pub enum Features {
    /// Pixels, (len, dim) row-major; the network sees x·[`PIXEL_SCALE`].
    U8(Vec<u8>),
    /// Real-valued columns, (len, dim) row-major, used as they are.
    F32(Vec<f32>),
}

/// Targets: class labels for classification, real vectors for regression.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// One class label per sample.
    Classes {
        /// (len), each in 0..num_classes.
        labels: Vec<u32>,
        /// Number of classes (at least the largest label + 1).
        num_classes: usize,
    },
    /// One target vector per sample.
    Values {
        /// (len, dim) row-major.
        data: Vec<f32>,
        /// Values per sample.
        dim: usize,
    },
}

/// Samples with their targets: features (len, dim) row-major and `len` targets. Built by
/// [`Dataset::new`], which checks that the sizes agree.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The feature values, (len, dim) row-major.
    pub features: Features,
    /// Features per sample.
    pub dim: usize,
    /// Number of samples.
    pub len: usize,
    /// Labels or target vectors, one per sample.
    pub targets: Targets,
    /// (rows, cols) when the features are an image (rows·cols = dim); `None` otherwise.
    pub image_shape: Option<(usize, usize)>,
}

/// Scale applied to u8 features on both engines.
pub const PIXEL_SCALE: f32 = 1.0 / 255.0;

impl Dataset {
    /// `len` is the number of `dim`-wide rows in `features` (`image_shape` starts as `None`);
    /// [`Error::Config`] if `dim` is 0, the features are not whole rows, a label is not below
    /// `num_classes`, or the targets do not count `len` samples.
    pub fn new(features: Features, dim: usize, targets: Targets) -> Result<Self> {
        let n_feat = match &features {
            Features::U8(v) => v.len(),
            Features::F32(v) => v.len(),
        };
        if dim == 0 {
            return Err(Error::config("dataset", "samples have no features"));
        }
        if n_feat % dim != 0 {
            return Err(Error::config("dataset", format!("{n_feat} feature values are not a multiple of {dim}")));
        }
        let len = n_feat / dim;
        let n_tgt = match &targets {
            Targets::Classes { labels, num_classes } => {
                if let Some(&bad) = labels.iter().find(|&&l| l as usize >= *num_classes) {
                    return Err(Error::config("dataset", format!("label {bad} is outside 0..{num_classes}")));
                }
                labels.len()
            }
            Targets::Values { data, dim } => {
                if *dim == 0 || data.len() % dim != 0 {
                    return Err(Error::config("dataset", "target values do not form whole rows"));
                }
                data.len() / dim
            }
        };
        if n_tgt != len {
            return Err(Error::config("dataset", format!("{len} samples but {n_tgt} targets")));
        }
        Ok(Dataset { features, dim, len, targets, image_shape: None })
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Width of the network output these targets need.
    pub fn target_dim(&self) -> usize {
        match &self.targets {
            Targets::Classes { num_classes, .. } => *num_classes,
            Targets::Values { dim, .. } => *dim,
        }
    }

    /// Feature `j` of sample `i` as the network sees it (u8 scaled by 1/255).
    #[inline]
    pub fn feature(&self, i: usize, j: usize) -> f32 {
        match &self.features {
            Features::U8(v) => v[i * self.dim + j] as f32 * PIXEL_SCALE,
            Features::F32(v) => v[i * self.dim + j],
        }
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let d = self.dim;
        let features = match &self.features {
            Features::U8(v) => Features::U8(indices.iter().flat_map(|&i| v[i * d..(i + 1) * d].iter().copied()).collect()),
            Features::F32(v) => Features::F32(indices.iter().flat_map(|&i| v[i * d..(i + 1) * d].iter().copied()).collect()),
        };
        let targets = match &self.targets {
            Targets::Classes { labels, num_classes } => {
                Targets::Classes { labels: indices.iter().map(|&i| labels[i]).collect(), num_classes: *num_classes }
            }
            Targets::Values { data, dim } => Targets::Values {
                data: indices.iter().flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied()).collect(),
                dim: *dim,
            },
        };
        Dataset { features, dim: d, len: indices.len(), targets, image_shape: self.image_shape }
    }

    /// Samples `range` as a new dataset.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Dataset {
        self.subset(&range.collect::<Vec<_>>())
    }
}
