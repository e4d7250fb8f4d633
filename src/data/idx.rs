//! Our own validating reader for the IDX format MNIST and Fashion-MNIST ship in.
//!
//! We do not use the `mnist` crate: it hard-codes the 60,000/10,000 lengths and panics on bad
//! input. Here every failure is one `Error::BadFile` naming the file and saying what is wrong.
//!
//! Layout (all integers big-endian):
//! - images: magic 0x00000803 (u8 data, 3 dims), n, rows, cols, then n·rows·cols pixel bytes;
//! - labels: magic 0x00000801 (u8 data, 1 dim), n, then n label bytes.
//!
//! Files may be gzipped; that is detected from the 1f 8b header, not from the name.

use super::dataset::{Dataset, Features, Targets};
use crate::error::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// First four bytes of an IDX image file: u8 data, 3 dimensions.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// First four bytes of an IDX label file: u8 data, 1 dimension.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;
/// MNIST and Fashion-MNIST both have ten classes.
pub const IDX_NUM_CLASSES: usize = 10;

/// The pixels of an IDX image file: `n` images of `rows`×`cols` bytes, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxImages {
    /// (n, rows, cols) row-major pixel bytes.
    pub pixels: Vec<u8>,
    /// Number of images.
    pub n: usize,
    /// Pixel rows per image (28 for MNIST).
    pub rows: usize,
    /// Pixel columns per image (28 for MNIST).
    pub cols: usize,
}

/// Reads a file whole, gunzipping it when it starts with the gzip magic bytes. A gzipped file is
/// inflated only as far as its IDX header says the data goes ([`gunzip_bounded`]).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = crate::memory::read_whole(path)?;
    gunzip_if_gz(raw, path)
}

/// Bytes past the declared end that a gzip stream may still inflate to: enough for the parser to
/// name a small amount of trailing data, never enough to matter for memory.
const GZ_SLACK: usize = 4096;

/// Deflate inflates at most about 1032:1; a header declaring more than this many bytes per
/// compressed byte cannot be telling the truth.
const GZ_MAX_RATIO: usize = 1100;

fn gunzip_if_gz(raw: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    if raw.len() < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
        return Ok(raw);
    }
    gunzip_bounded(&raw, path)
}

/// The total size (header included) an IDX header of image or label data declares, from its
/// first bytes; None where the bytes are no such header (the parser then says what is wrong).
fn declared_len(head: &[u8]) -> Option<Option<usize>> {
    if head.len() >= 16 && be_u32(head, 0) == IDX_IMAGES_MAGIC {
        let (n, r, c) = (be_u32(head, 4) as usize, be_u32(head, 8) as usize, be_u32(head, 12) as usize);
        return Some(n.checked_mul(r).and_then(|x| x.checked_mul(c)).and_then(|x| x.checked_add(16)));
    }
    if head.len() >= 8 && be_u32(head, 0) == IDX_LABELS_MAGIC {
        return Some((be_u32(head, 4) as usize).checked_add(8));
    }
    None
}

/// Inflates gzip data with a bound: the IDX header is read first, then at most the size it
/// declares plus 4 KiB of slack. A stream that goes on beyond that is a bad file (not
/// "out of memory"); a header declaring more than the compressed data could ever hold, or more
/// than the machine's memory, is refused before inflating.
pub fn gunzip_bounded(raw: &[u8], path: &Path) -> Result<Vec<u8>> {
    let corrupt = |e: std::io::Error| Error::bad_file(path, format!("corrupt gzip data: {e}"));
    let mut dec = MultiGzDecoder::new(raw);
    let mut out = Vec::new();
    (&mut dec).take(16).read_to_end(&mut out).map_err(corrupt)?;
    let limit = match declared_len(&out) {
        // not an IDX header (or a short one): the parser needs no more than these bytes to say so
        None => out.len(),
        Some(None) => return Ok(out), // the parser reports the impossible size
        Some(Some(want)) => {
            if want / GZ_MAX_RATIO > raw.len() {
                return Err(Error::bad_file(
                    path,
                    format!("truncated: the header announces {want} bytes but {} bytes of gzip data cannot inflate to that", raw.len()),
                ));
            }
            crate::memory::check_memory_file(path, want as u64)?;
            want.saturating_add(GZ_SLACK)
        }
    };
    let rest = limit.saturating_sub(out.len()) as u64;
    (&mut dec).take(rest).read_to_end(&mut out).map_err(corrupt)?;
    let mut probe = [0u8; 1];
    if dec.read(&mut probe).map_err(corrupt)? > 0 {
        if limit <= 16 {
            // not IDX data at all: the parser reports the magic number or the short header
            return Ok(out);
        }
        return Err(Error::bad_file(
            path,
            format!("gzip data inflates beyond the {} bytes its IDX header declares", limit - GZ_SLACK),
        ));
    }
    Ok(out)
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checked before the header length, so a short file of the wrong kind says what it is.
fn check_magic(bytes: &[u8], want: u32, what: &str, path: &Path) -> Result<()> {
    if bytes.len() < 4 {
        return Err(Error::bad_file(path, format!("truncated: {} bytes is shorter than an IDX magic number", bytes.len())));
    }
    let magic = be_u32(bytes, 0);
    if magic == want {
        return Ok(());
    }
    let hint = match magic {
        IDX_IMAGES_MAGIC => " (this is an IDX image file)",
        IDX_LABELS_MAGIC => " (this is an IDX label file)",
        _ => "",
    };
    Err(Error::bad_file(
        path,
        format!("not an IDX {what} file: magic number is 0x{magic:08x}, expected 0x{want:08x}{hint}"),
    ))
}

/// Checks that the payload after a header of `header` bytes holds exactly `want` bytes.
fn check_length(bytes: &[u8], header: usize, want: usize, what: &str, path: &Path) -> Result<()> {
    let have = bytes.len() - header;
    if have < want {
        return Err(Error::bad_file(
            path,
            format!("truncated: the header announces {what} ({want} bytes) but the file holds only {have} bytes of data"),
        ));
    }
    if have > want {
        return Err(Error::bad_file(path, format!("{} bytes of trailing data after {what}", have - want)));
    }
    Ok(())
}

/// Parses the (already decompressed) bytes of an IDX image file; `path` is only for messages.
pub fn parse_idx_images(bytes: &[u8], path: &Path) -> Result<IdxImages> {
    if bytes.is_empty() {
        return Err(Error::bad_file(path, "empty file (expected an IDX image file)"));
    }
    check_magic(bytes, IDX_IMAGES_MAGIC, "image", path)?;
    if bytes.len() < 16 {
        return Err(Error::bad_file(path, format!("truncated: {} bytes is shorter than the 16-byte IDX image header", bytes.len())));
    }
    let (n, rows, cols) = (be_u32(bytes, 4) as usize, be_u32(bytes, 8) as usize, be_u32(bytes, 12) as usize);
    if n == 0 {
        return Err(Error::bad_file(path, "the file holds zero images"));
    }
    if rows == 0 || cols == 0 {
        return Err(Error::bad_file(path, format!("images of {rows}x{cols} pixels have no pixels")));
    }
    let want = n
        .checked_mul(rows)
        .and_then(|x| x.checked_mul(cols))
        .ok_or_else(|| Error::bad_file(path, format!("header announces an impossible size: {n} images of {rows}x{cols}")))?;
    check_length(bytes, 16, want, &format!("{n} images of {rows}x{cols}"), path)?;
    Ok(IdxImages { pixels: bytes[16..].to_vec(), n, rows, cols })
}

/// Parses the (already decompressed) bytes of an IDX label file; every label must be < `num_classes`.
pub fn parse_idx_labels(bytes: &[u8], path: &Path, num_classes: usize) -> Result<Vec<u32>> {
    if bytes.is_empty() {
        return Err(Error::bad_file(path, "empty file (expected an IDX label file)"));
    }
    check_magic(bytes, IDX_LABELS_MAGIC, "label", path)?;
    if bytes.len() < 8 {
        return Err(Error::bad_file(path, format!("truncated: {} bytes is shorter than the 8-byte IDX label header", bytes.len())));
    }
    let n = be_u32(bytes, 4) as usize;
    if n == 0 {
        return Err(Error::bad_file(path, "the file holds zero labels"));
    }
    check_length(bytes, 8, n, &format!("{n} labels"), path)?;
    let labels = &bytes[8..];
    if let Some(i) = labels.iter().position(|&l| l as usize >= num_classes) {
        return Err(Error::bad_file(
            path,
            format!("label {} of sample {i} is outside 0..{num_classes}", labels[i]),
        ));
    }
    Ok(labels.iter().map(|&l| l as u32).collect())
}

/// Reads an IDX image file (gzipped or not).
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    let path = path.as_ref();
    parse_idx_images(&read_maybe_gz(path)?, path)
}

/// Reads an IDX label file (gzipped or not); labels must be < `num_classes`.
pub fn read_idx_labels(path: impl AsRef<Path>, num_classes: usize) -> Result<Vec<u32>> {
    let path = path.as_ref();
    parse_idx_labels(&read_maybe_gz(path)?, path, num_classes)
}

/// Builds a dataset from the bytes of an image file and a label file (each gzipped or not).
/// The paths only name the files in messages.
pub fn parse_idx_pair(images: &[u8], images_path: &Path, labels: &[u8], labels_path: &Path) -> Result<Dataset> {
    let images_bytes = gunzip_if_gz(images.to_vec(), images_path)?;
    let labels_bytes = gunzip_if_gz(labels.to_vec(), labels_path)?;
    pair_to_dataset(
        parse_idx_images(&images_bytes, images_path)?,
        images_path,
        parse_idx_labels(&labels_bytes, labels_path, IDX_NUM_CLASSES)?,
        labels_path,
    )
}

fn pair_to_dataset(img: IdxImages, images_path: &Path, labels: Vec<u32>, labels_path: &Path) -> Result<Dataset> {
    if labels.len() != img.n {
        return Err(Error::bad_file(
            labels_path,
            format!("holds {} labels but {} holds {} images", labels.len(), images_path.display(), img.n),
        ));
    }
    let dim = img.rows * img.cols;
    let targets = Targets::Classes { labels, num_classes: IDX_NUM_CLASSES };
    let mut ds = Dataset::new(Features::U8(img.pixels), dim, targets)
        .map_err(|e| Error::bad_file(images_path, e.to_string()))?;
    ds.image_shape = Some((img.rows, img.cols));
    Ok(ds)
}

/// Loads an image file and its label file as one classification dataset (10 classes,
/// `image_shape` set, pixels kept as u8).
pub fn load_idx_pair(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Dataset> {
    let (ip, lp) = (images.as_ref(), labels.as_ref());
    let img = read_idx_images(ip)?;
    let labels = read_idx_labels(lp, IDX_NUM_CLASSES)?;
    pair_to_dataset(img, ip, labels, lp)
}

/// What an MNIST-style directory held.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxDir {
    /// From `train-images-idx3-ubyte[.gz]` + `train-labels-idx1-ubyte[.gz]`.
    pub train: Option<Dataset>,
    /// From `t10k-images-idx3-ubyte[.gz]` + `t10k-labels-idx1-ubyte[.gz]`.
    pub test: Option<Dataset>,
}

/// `dir/name` or `dir/name.gz`, preferring the uncompressed file when both exist.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))].into_iter().find(|p| p.is_file())
}

fn load_dir_pair(dir: &Path, images: &str, labels: &str) -> Result<Option<Dataset>> {
    match (find_file(dir, images), find_file(dir, labels)) {
        (None, None) => Ok(None),
        (Some(i), Some(l)) => load_idx_pair(i, l).map(Some),
        (Some(found), None) => Err(Error::bad_file(
            dir,
            format!("found {} but not its labels {labels}[.gz]", file_name(&found)),
        )),
        (None, Some(found)) => Err(Error::bad_file(
            dir,
            format!("found {} but not its images {images}[.gz]", file_name(&found)),
        )),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Loads the MNIST-layout files of a directory (e.g. /usr/share/datasets/fashion-mnist/).
/// At least one complete pair must be there; half a pair is an error.
pub fn load_idx_dir(dir: impl AsRef<Path>) -> Result<IdxDir> {
    let dir = dir.as_ref();
    if !dir.exists() {
        return Err(Error::bad_file(dir, "no such directory"));
    }
    if !dir.is_dir() {
        return Err(Error::bad_file(dir, "is not a directory"));
    }
    let train = load_dir_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")?;
    let test = load_dir_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?;
    if let (Some(tr), Some(te)) = (&train, &test) {
        if tr.image_shape != te.image_shape {
            let shape = |d: &Dataset| d.image_shape.map_or_else(|| format!("{} values", d.dim), |(r, c)| format!("{r}x{c}"));
            let file = find_file(dir, "t10k-images-idx3-ubyte").unwrap_or_else(|| dir.to_path_buf());
            return Err(Error::bad_file(
                file,
                format!("test images are {} but the training images (train-images-idx3-ubyte) are {}", shape(te), shape(tr)),
            ));
        }
    }
    if train.is_none() && test.is_none() {
        return Err(Error::bad_file(
            dir,
            "holds no IDX data: expected train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] \
             and/or t10k-images-idx3-ubyte[.gz] + t10k-labels-idx1-ubyte[.gz]",
        ));
    }
    Ok(IdxDir { train, test })
}

/// The real MNIST test set (10,000 digits, 28×28) shipped inside the binary, so the program
/// trains out of the box from any directory.
pub fn bundled_mnist() -> Result<Dataset> {
    static IMAGES: &[u8] = include_bytes!("../../data/mnist/t10k-images-idx3-ubyte.gz");
    static LABELS: &[u8] = include_bytes!("../../data/mnist/t10k-labels-idx1-ubyte.gz");
    parse_idx_pair(
        IMAGES,
        Path::new("<bundled>/t10k-images-idx3-ubyte.gz"),
        LABELS,
        Path::new("<bundled>/t10k-labels-idx1-ubyte.gz"),
    )
}
