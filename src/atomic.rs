//! Atomic file writes: whatever a run leaves is either complete or absent.

use crate::error::{Error, Result};
use crate::fault;
use std::path::{Path, PathBuf};

/// Prefix and infix of the temporary files `write_atomic` makes (`.NAME.tmp-PID-…`); a run that
/// holds its directory's lock removes those a killed run left (see `is_temp_name`).
const TEMP_INFIX: &str = ".tmp-";

/// Whether `name` is a temporary file of `write_atomic` (left behind only by a killed process).
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_INFIX)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename,
/// fsync of the directory (so the rename itself survives a power cut).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.is_empty() {
        return Err(Error::bad_file(path, "is not a file name"));
    }
    let tmp = dir.join(format!(".{name}{TEMP_INFIX}{}", unique_suffix()));
    let result = (|| {
        // create_new: never truncate a file another writer is filling
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fault::point(&format_args!("{} written, not renamed", tmp.display()));
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    sync_dir(&dir);
    fault::point(&format_args!("{} renamed into place", path.display()));
    Ok(())
}

/// A temporary name's unique part: the process id is not enough where processes of different
/// containers share a directory (each may be PID 1), so the time and a counter are added.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{}-{nanos:x}-{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed))
}

/// Flushes a directory's entries (renames, removals) to disk where the platform allows it.
pub(crate) fn sync_dir(dir: &Path) {
    // Opening a directory for fsync is a Unix idiom; elsewhere the rename is as durable as it gets.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
