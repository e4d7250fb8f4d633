//! The run directory: which one (`--out`, else the first unused runs/run-N), and a guard that
//! removes what this run created if it fails before its first epoch.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The run directory: --out, or runs/run-N with the first unused N.
pub(crate) fn choose_out_dir(out: Option<&Path>) -> PathBuf {
    if let Some(out) = out {
        return out.to_path_buf();
    }
    (1..).map(|n| PathBuf::from(format!("runs/run-{n}"))).find(|p| !p.exists()).unwrap_or_else(|| "runs/run".into())
}

/// A run directory that removes itself (and any parents this run created) when dropped before
/// `keep` is called: a run that fails before its first epoch leaves nothing behind.
pub(crate) struct OutDir {
    created: Option<PathBuf>,
    pub(crate) keep: bool,
}

impl OutDir {
    /// Creates `dir` (or, resuming, checks it exists) and proves it writable.
    pub(crate) fn prepare(dir: &Path, resuming: bool) -> Result<Self> {
        let cannot = |e: std::io::Error| Error::config("out", format!("cannot write the run directory {}: {e}", dir.display()));
        if !resuming && dir.exists() {
            if !dir.is_dir() {
                return Err(Error::config("out", format!("{} exists and is not a directory", dir.display())));
            }
            if std::fs::read_dir(dir).map_err(cannot)?.next().is_some() {
                return Err(Error::config(
                    "out",
                    format!("{} already holds files (a previous run?): pick another --out, or continue it with --resume {0}", dir.display()),
                ));
            }
        }
        // the topmost directory this run creates, to remove on failure
        let created = dir.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.exists()).last().map(Path::to_path_buf);
        let out = OutDir { created, keep: resuming };
        std::fs::create_dir_all(dir).map_err(cannot)?;
        let probe = dir.join(".write-test");
        std::fs::write(&probe, b"").map_err(cannot)?;
        std::fs::remove_file(&probe).map_err(cannot)?;
        Ok(out)
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if !self.keep {
            if let Some(c) = &self.created {
                let _ = std::fs::remove_dir_all(c);
            }
        }
    }
}
