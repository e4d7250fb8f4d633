//! Datasets: loading (IDX/MNIST, CSV), validation, splits, k-fold and shuffling.

mod augment;
mod csv;
mod dataset;
mod idx;
mod image;
mod split;

pub use augment::{check_augmentable, image_shape, Augment, AUG_NOISE_ANGLE, AUG_NOISE_RADIUS, AUG_PARAMS, DEG_TO_RAD, TWO_PI};
pub use self::csv::{load_csv, CsvData, CsvTask, AUTO_MAX_CLASSES};
pub use dataset::{Dataset, Features, Targets, PIXEL_SCALE};
pub use idx::{
    bundled_mnist, gunzip_bounded, load_idx_dir, load_idx_pair, parse_idx_images, parse_idx_labels, parse_idx_pair, read_idx_images,
    read_idx_labels, read_maybe_gz, IdxDir, IdxImages, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IDX_NUM_CLASSES,
};
pub use image::{decode_pgm, decode_png, read_feature_rows, read_gray_image, GrayImage, MAX_IMAGE_PIXELS};
pub use split::{
    epoch_order, kfold, kfold_holdout, split_permutation, standard_splits, Splits, Val, MNIST_TRAIN_LEN, MNIST_VAL_LEN,
};
