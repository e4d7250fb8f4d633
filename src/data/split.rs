//! Sample orders and splits: the per-epoch permutation, train/validation/test splits and k-fold.
//! All randomness is seeded ChaCha8 (`crate::rng`) and a Fisher-Yates shuffle with our own
//! bounded draw, so orders are identical across platforms and `rand` versions.

use super::dataset::Dataset;
use crate::error::{Error, Result};
use crate::rng::{seeded_rng, Rng, STREAM_SHUFFLE, STREAM_SPLIT};
use rand::RngCore;

/// Words of the shuffle stream reserved for each epoch (2^40: far more than a permutation of
/// u32::MAX samples draws). ChaCha8's word position has 68 bits, so epochs wrap after 2^28.
const EPOCH_WORDS_LOG2: u32 = 40;
const EPOCH_WRAP: u64 = 1 << (68 - EPOCH_WORDS_LOG2);

/// Uniform draw in 0..=bound (Lemire's multiply-shift with rejection; unbiased).
fn below_or_eq(rng: &mut Rng, bound: u32) -> u32 {
    let range = bound as u64 + 1;
    let threshold = ((1u64 << 32) - range) % range;
    loop {
        let m = rng.next_u32() as u64 * range;
        if (m & 0xffff_ffff) >= threshold {
            return (m >> 32) as u32;
        }
    }
}

/// In-place Fisher-Yates shuffle.
fn shuffle<T>(v: &mut [T], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = below_or_eq(rng, i as u32) as usize;
        v.swap(i, j);
    }
}

/// The order in which epoch `epoch` visits `n` samples: a seeded permutation of 0..n, or the
/// identity when `shuffle` is false. A pure function of (n, seed, epoch): a resumed run draws
/// the same orders, and the CPU and GPU engines get the same one. Epoch e reads the
/// `STREAM_SHUFFLE` stream from word e·2^40 on.
pub fn epoch_order(n: usize, seed: u64, epoch: u64, shuffle_it: bool) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    if shuffle_it {
        let mut rng = seeded_rng(seed, STREAM_SHUFFLE);
        rng.set_word_pos(((epoch % EPOCH_WRAP) as u128) << EPOCH_WORDS_LOG2);
        shuffle(&mut order, &mut rng);
    }
    order
}

/// A seeded permutation of 0..n from the split stream (used for holding out samples).
pub fn split_permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    shuffle(&mut p, &mut seeded_rng(seed, STREAM_SPLIT));
    p
}

/// How much of the training data to hold out for validation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    /// That many samples (at least 1, fewer than the training set).
    Count(usize),
    /// In (0, 1): that share of the samples, rounded.
    Fraction(f64),
}

impl Val {
    /// Number of samples held out of `n`; errors when it would be 0 or leave no training data.
    pub fn count_of(self, n: usize) -> Result<usize> {
        // errors name the setting given: `val` for a count, `val_frac` for a fraction
        let (k, what) = match self {
            Val::Count(k) => (k, "validation"),
            Val::Fraction(f) => {
                if !(f.is_finite() && f > 0.0 && f < 1.0) {
                    return Err(Error::config("val_frac", format!("fraction {f} must be between 0 and 1 (exclusive)")));
                }
                let k = (f * n as f64).round() as usize;
                if k == 0 {
                    return Err(Error::config("val_frac", format!("{f} of {n} samples is a validation set of 0 samples: give a larger fraction")));
                }
                (k, "val_frac")
            }
        };
        if k == 0 {
            return Err(Error::config(what, format!("a validation set of 0 samples (of {n}): give a positive count or fraction")));
        }
        if k >= n {
            return Err(Error::config(
                what,
                format!("a validation set of {k} samples leaves no training data out of {n}"),
            ));
        }
        Ok(k)
    }
}

/// Train / validation / test datasets for one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    /// The samples the optimizer trains on.
    pub train: Dataset,
    /// Held-out samples for early stopping and per-epoch validation loss, if any.
    pub val: Option<Dataset>,
    /// Samples scored once at the end, if any.
    pub test: Option<Dataset>,
    /// One line for the user, e.g. "8000 train / 1000 validation / 1000 test (seeded shuffle)".
    pub protocol: String,
}

/// Size of the MNIST training file; with a test file it is split 50,000 / 10,000 (the course's protocol).
pub const MNIST_TRAIN_LEN: usize = 60_000;
/// Samples the course's protocol holds out of [`MNIST_TRAIN_LEN`] for validation (the last 10,000).
pub const MNIST_VAL_LEN: usize = 10_000;

/// The standard splits.
///
/// - `val` None, no test file (e.g. the bundled 10,000 digits): seeded shuffle, then 80% train /
///   10% validation / 10% test (8,000 / 1,000 / 1,000 for the bundled set).
/// - `val` None, a 60,000-sample train file + a test file: the first 50,000 train, the last 10,000
///   validate (no shuffle: the course's protocol), the test file tests.
/// - `val` None, other sizes with a test file: seeded shuffle, 10% validation.
/// - `val` Some: seeded shuffle, that many validation samples; without a test file a test set of
///   the same size is held out too.
pub fn standard_splits(train: Dataset, test: Option<Dataset>, val: Option<Val>, seed: u64) -> Result<Splits> {
    let n = train.len;
    if n == 0 {
        return Err(Error::config("dataset", "the training set is empty"));
    }
    if let Some(t) = &test {
        if t.dim != train.dim {
            return Err(Error::config("dataset", format!("test samples have {} features but training samples have {}", t.dim, train.dim)));
        }
    }
    if val.is_none() && test.is_some() && n == MNIST_TRAIN_LEN {
        let cut = n - MNIST_VAL_LEN;
        let protocol = format!("{cut} train / {MNIST_VAL_LEN} validation (last {MNIST_VAL_LEN} of the train file) / {} test (test file)", test.as_ref().map_or(0, |t| t.len));
        return Ok(Splits { val: Some(train.slice(cut..n)), train: train.slice(0..cut), test, protocol });
    }
    let val = val.unwrap_or(Val::Fraction(0.1));
    let perm = split_permutation(n, seed);
    if test.is_some() {
        let k = val.count_of(n)?;
        let (v, t) = perm.split_at(k);
        let protocol = format!("{} train / {k} validation (seeded shuffle) / {} test (test file)", n - k, test.as_ref().map_or(0, |t| t.len));
        return Ok(Splits { val: Some(train.subset(v)), train: train.subset(t), test, protocol });
    }
    let k = val.count_of(n)?;
    if 2 * k >= n {
        return Err(Error::config(
            "validation",
            format!("validation and test sets of {k} samples each leave no training data out of {n}"),
        ));
    }
    let (v, rest) = perm.split_at(k);
    let (t, tr) = rest.split_at(k);
    let protocol = format!("{} train / {k} validation / {k} test (seeded shuffle of {n})", n - 2 * k);
    Ok(Splits { train: train.subset(tr), val: Some(train.subset(v)), test: Some(train.subset(t)), protocol })
}

/// What k-fold cross-validation runs over, and the test split it holds out: with a test file,
/// the whole training data and that file; without one, the test split [`standard_splits`]
/// makes by default (the same samples for the same seed) and the rest, in their order. None
/// for the test when the data is too small to hold one out (a default test split of 0 samples,
/// or one that leaves fewer than 2 samples for the folds).
pub fn kfold_holdout(train: Dataset, test: Option<Dataset>, seed: u64) -> (Dataset, Option<Dataset>) {
    if test.is_some() {
        return (train, test);
    }
    let n = train.len;
    let k = match Val::Fraction(0.1).count_of(n) {
        Ok(k) if n >= 2 * k + 2 => k,
        _ => return (train, None),
    };
    let perm = split_permutation(n, seed);
    let mut rest: Vec<usize> = perm[..k].iter().chain(&perm[2 * k..]).copied().collect();
    rest.sort_unstable();
    (train.subset(&rest), Some(train.subset(&perm[k..2 * k])))
}

/// K-fold cross-validation indices: `k` pairs (train indices, validation indices), both sorted.
/// Folds differ in size by at most one; every index is in exactly one validation fold.
pub fn kfold(n: usize, k: usize, seed: u64) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
    if k < 2 {
        return Err(Error::config("folds", format!("k-fold needs k >= 2, got {k}")));
    }
    if k > n {
        return Err(Error::config("folds", format!("{k} folds need at least {k} samples, have {n}")));
    }
    let perm = split_permutation(n, seed);
    let mut folds = Vec::with_capacity(k);
    let mut start = 0;
    for f in 0..k {
        let size = n / k + usize::from(f < n % k);
        let mut val: Vec<usize> = perm[start..start + size].to_vec();
        let mut train: Vec<usize> = perm[..start].iter().chain(&perm[start + size..]).copied().collect();
        val.sort_unstable();
        train.sort_unstable();
        folds.push((train, val));
        start += size;
    }
    Ok(folds)
}
