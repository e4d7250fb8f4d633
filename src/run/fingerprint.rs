//! Fingerprints a checkpoint keeps so that `--resume` continues the same run: a content hash of
//! the data it trains on, and a hash with size of every file the checkpoint names.
//!
//! The hash is our own 64-bit one (stable across builds and platforms, unlike std's
//! `DefaultHasher`), fast enough for the whole dataset (about a byte per cycle). It guards
//! against a different dataset or a replaced file, not against an adversary.

use crate::data::{Dataset, Features, Splits, Targets};
use serde::{Deserialize, Serialize};

/// 64-bit hash state: words are folded in by multiply and xor-shift (a wyhash-style mix).
#[derive(Clone, Copy)]
pub(crate) struct Hasher(u64);

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xbf58_476d_1ce4_e5b9;

impl Hasher {
    pub(crate) fn new() -> Self {
        Hasher(0x243f_6a88_85a3_08d3)
    }
    fn word(&mut self, w: u64) {
        let x = (self.0 ^ w).wrapping_mul(K0);
        self.0 = (x ^ (x >> 31)).wrapping_mul(K1) ^ (x >> 29);
    }
    /// Folds in `bytes` and their length (so concatenations of different splits differ).
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.word(u64::from_le_bytes(tail));
        self.word(bytes.len() as u64);
        self
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.word(v);
        self
    }
    /// The hash as 16 hex digits.
    pub(crate) fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// Hash of `bytes` as 16 hex digits.
pub(crate) fn hash_hex(bytes: &[u8]) -> String {
    Hasher::new().bytes(bytes).hex()
}

fn dataset(h: &mut Hasher, d: &Dataset) {
    h.u64(d.len as u64).u64(d.dim as u64);
    match &d.features {
        Features::U8(v) => h.u64(1).bytes(v),
        Features::F32(v) => h.u64(2).bytes(bytemuck::cast_slice(v)),
    };
    match &d.targets {
        Targets::Classes { labels, num_classes } => h.u64(3).u64(*num_classes as u64).bytes(bytemuck::cast_slice(labels)),
        Targets::Values { data, dim } => h.u64(4).u64(*dim as u64).bytes(bytemuck::cast_slice(data)),
    };
}

/// What a checkpoint records about the data it was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataPrint {
    /// Where the data came from, as the run's start line said ("IDX directory d", "CSV f.csv").
    pub source: String,
    /// Hash of every split's features and targets, in order (train, validation, test).
    pub hash: String,
    /// Samples per split: train, validation, test (0 where absent).
    pub samples: [usize; 3],
}

impl DataPrint {
    /// The fingerprint of a run's splits read from `source`.
    pub fn of(splits: &Splits, source: &str) -> Self {
        let mut h = Hasher::new();
        let parts = [Some(&splits.train), splits.val.as_ref(), splits.test.as_ref()];
        for p in parts {
            match p {
                Some(d) => dataset(h.u64(1), d),
                None => {
                    h.u64(0);
                }
            }
        }
        let samples = parts.map(|p| p.map_or(0, |d| d.len));
        DataPrint { source: source.to_string(), hash: h.hex(), samples }
    }
}

#[cfg(test)]
mod tests {
    use super::hash_hex;

    /// Checkpoints store these hashes: a change of the function would make every old checkpoint
    /// "another dataset". These values were computed by this implementation when it was written.
    #[test]
    fn the_hash_is_stable() {
        assert_eq!(hash_hex(b""), GOLDEN[0]);
        assert_eq!(hash_hex(b"wgpu-mlp"), GOLDEN[1]);
        assert_eq!(hash_hex(&(0..=255u8).collect::<Vec<_>>()), GOLDEN[2]);
        assert_ne!(hash_hex(b"wgpu-mlp\0"), hash_hex(b"wgpu-mlp"), "the length is part of the hash");
    }

    const GOLDEN: [&str; 3] = ["6a9958562fc23f83", "62a1914dc7450178", "35fa8a09606b47ec"];
}
