//! The memory this machine has, and the checks that refuse a size before it is allocated: the
//! lowest layer, so the loaders (data, model), the plan (config) and the cost report share one
//! reading of it.

use crate::error::{Error, Result};

/// Bytes of memory a new allocation can get on this machine: `MemAvailable` plus `SwapFree` from
/// /proc/meminfo (Linux). None where that cannot be read; callers then skip the check.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].trim().trim_end_matches("kB").trim().parse::<u64>().ok()
    };
    let avail = kib("MemAvailable:").or_else(|| kib("MemTotal:"))?;
    Some(avail.saturating_add(kib("SwapFree:").unwrap_or(0)).saturating_mul(1024))
}

/// [`Error::BadFile`] for `path` when the `needed` bytes its header declares exceed [`available_memory`].
pub fn check_memory_file(path: &std::path::Path, needed: u64) -> Result<()> {
    match available_memory() {
        Some(have) if needed > have => Err(Error::bad_file(
            path,
            format!("the header declares {} of data, more than the {} of memory this machine has available", human_bytes(needed), human_bytes(have)),
        )),
        _ => Ok(()),
    }
}

/// Reads the file at `path` whole, after checking that its size fits the available memory (a
/// loader that reads a file whole must not abort on one larger than the machine).
pub fn read_whole(path: &std::path::Path) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    if let Some(have) = available_memory().filter(|&have| len > have) {
        return Err(Error::bad_file(
            path,
            format!("the file is {}, more than the {} of memory this machine has available", human_bytes(len), human_bytes(have)),
        ));
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// [`Error::Config`] for `what` when `needed` bytes (for `purpose`, e.g. "parameters, gradients
/// and optimizer slots of 784-100000000-10") exceed [`available_memory`]; Ok where it is unknown.
pub fn check_memory(what: &str, needed: u64, purpose: &str) -> Result<()> {
    match available_memory() {
        Some(have) if needed > have => Err(Error::config(
            what,
            format!("{purpose} needs {}, more than the {} of memory this machine has available", human_bytes(needed), human_bytes(have)),
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

