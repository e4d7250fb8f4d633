//! The memory this machine has, and the checks that refuse a size before it is allocated: the
//! lowest layer, so the loaders (data, model), the plan (config) and the cost report share one
//! reading of it.

use crate::error::{Error, Result};
use std::io::Read;

/// Bytes of memory a new allocation can get: `MemAvailable` plus `SwapFree` from /proc/meminfo,
/// lowered to what the process's cgroup (a container's `memory.max`) and its address-space limit
/// (`ulimit -v`) leave. Linux only: None where /proc/meminfo cannot be read; callers then skip
/// the check.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].trim().trim_end_matches("kB").trim().parse::<u64>().ok()
    };
    let avail = kib("MemAvailable:").or_else(|| kib("MemTotal:"))?;
    let machine = avail.saturating_add(kib("SwapFree:").unwrap_or(0)).saturating_mul(1024);
    Some([Some(machine), cgroup_left(), address_space_limit()].into_iter().flatten().fold(u64::MAX, u64::min))
}

/// cgroup v2 `memory.max` − `memory.current` of this process's group, where there is a limit.
fn cgroup_left() -> Option<u64> {
    let group = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = group.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let dir = std::path::Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok().and_then(|s| s.trim().parse::<u64>().ok());
    let max = read("memory.max")?; // "max" (no limit) does not parse
    Some(max.saturating_sub(read("memory.current").unwrap_or(0)))
}

/// The soft address-space limit (`ulimit -v`) from /proc/self/limits, where one is set.
fn address_space_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max address space"))?;
    line["Max address space".len()..].split_whitespace().next()?.parse().ok()
}

/// [`Error::BadFile`] for `path` when the `needed` bytes its header declares exceed [`available_memory`].
pub fn check_memory_file(path: &std::path::Path, needed: u64) -> Result<()> {
    match available_memory() {
        Some(have) if needed > have => Err(Error::bad_file(
            path,
            format!("the header declares {} of data, more than the {} of memory available to this process", human_bytes(needed), human_bytes(have)),
        )),
        _ => Ok(()),
    }
}

/// Reads the file at `path` whole, after checking that its size fits the available memory (a
/// loader that reads a file whole must not abort on one larger than the machine). A stream
/// with no size (a pipe, /dev/zero) is read through [`open_bounded`]'s limit.
pub fn read_whole(path: &std::path::Path) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    open_bounded(path)?.read_to_end(&mut out).map_err(|e| too_big_or_io(path, e))?;
    Ok(out)
}

/// Opens `path` for reading: a regular file larger than the available memory is refused by its
/// size; any file (pipes included) reads with an error once it has yielded a quarter of the
/// available memory (a buffer holding that much may double once), instead of growing a buffer
/// until the allocator aborts.
pub fn open_bounded(path: &std::path::Path) -> Result<Bounded<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let have = available_memory();
    if let Some(have) = have.filter(|&have| len > have) {
        return Err(Error::bad_file(
            path,
            format!("the file is {}, more than the {} of memory available to this process", human_bytes(len), human_bytes(have)),
        ));
    }
    Ok(Bounded { inner: file, left: have.map_or(u64::MAX, |h| (h / 4).max(len)) })
}

/// The message [`Bounded`] ends a read with.
const TOO_BIG: &str = "more data than a quarter of the memory available to this process";

/// A reader that fails (rather than ends) after a byte budget: see [`open_bounded`].
pub struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: std::io::Read> std::io::Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // one probe byte tells a stream that ends exactly here from one that goes on
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::new(std::io::ErrorKind::OutOfMemory, TOO_BIG)),
            };
        }
        let cap = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..cap])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// [`Error::BadFile`] for a [`Bounded`] read that went past its budget, else [`Error::Io`].
pub fn too_big_or_io(path: &std::path::Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::OutOfMemory && e.to_string() == TOO_BIG {
        Error::bad_file(path, format!("the file holds {TOO_BIG}"))
    } else {
        Error::io(path, e)
    }
}

/// [`Error::Config`] for `what` when `needed` bytes (for `purpose`, e.g. "parameters, gradients
/// and optimizer slots of 784-100000000-10") exceed [`available_memory`]; Ok where it is unknown.
pub fn check_memory(what: &str, needed: u64, purpose: &str) -> Result<()> {
    match available_memory() {
        Some(have) if needed > have => Err(Error::config(
            what,
            format!("{purpose} needs {}, more than the {} of memory available to this process", human_bytes(needed), human_bytes(have)),
        )),
        _ => Ok(()),
    }
}

/// "1.23 MiB", "512 B".
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.2} {}", UNITS[u]) }
}

