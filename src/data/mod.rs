//! Datasets: loading (IDX/MNIST, CSV), validation, splits, k-fold and shuffling.

mod augment;
mod csv;
mod dataset;
mod idx;
mod image;
mod mnist_fit;
mod split;
mod standardize;

pub use augment::{check_augmentable, image_shape, Augment, AUG_NOISE_ANGLE, AUG_NOISE_RADIUS, AUG_PARAMS, DEG_TO_RAD, TWO_PI};
pub use self::csv::{load_csv, CsvData, CsvTask, AUTO_MAX_CLASSES};
pub use dataset::{Dataset, Features, Targets, PIXEL_SCALE};
pub use idx::{
    bundled_mnist, gunzip_bounded, load_idx_dir, load_idx_pair, parse_idx_images, parse_idx_labels, parse_idx_pair, read_idx_images,
    read_idx_labels, read_maybe_gz, IdxDir, IdxImages, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IDX_NUM_CLASSES,
};
pub use image::{
    center_of_mass, decode_pgm, decode_png, fit_mnist, prepare_image, read_feature_rows, read_gray_image, Fit, GrayImage, Invert, Prepared, MAX_IMAGE_PIXELS, MIN_INK,
    MNIST_BOX, MNIST_SIDE,
};
pub use standardize::Standardizer;
pub use split::{
    epoch_order, kfold, kfold_holdout, split_permutation, standard_splits, Splits, Val, MNIST_TRAIN_LEN, MNIST_VAL_LEN,
};
