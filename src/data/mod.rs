//! Datasets: loading (IDX/MNIST, CSV), validation, splits, k-fold and shuffling.

mod dataset;

pub use dataset::{Dataset, Features, Targets, PIXEL_SCALE};
