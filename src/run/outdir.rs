//! The run directory: which one (`--out`, else the first unused runs/run-N); an advisory lock on
//! it for the run's lifetime (`.lock`, released by the OS however the process ends), so a second
//! run into it is refused; and, when a run fails or is quit before it wrote anything resumable,
//! removal of exactly what this run created: its own files by name, then directories it made
//! itself and only while they are empty (`rmdir`, never a recursive removal), so a parent that
//! another run shares (`sweep/` of `--out sweep/a` and `--out sweep/b`) is never touched.

use super::resume::{is_checkpoint_file, CHECKPOINT_DIR};
use crate::atomic::is_temp_name;
use crate::error::{Error, Result};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Name of the lock file inside a run directory; a run holds an advisory lock on it while it runs.
pub const LOCK_FILE: &str = ".lock";

/// Files a run writes at the top of its directory (besides `checkpoint/` and the lock file).
const RUN_FILES: &[&str] =
    &["config.toml", "metrics.csv", "history.json", "curves.png", "scores.json", "model.safetensors", "weights.png", "kfold.json", ".write-test"];

/// File name of fold `fold`'s (1-based) model in the run directory.
pub fn fold_model_name(fold: usize) -> String {
    format!("model-fold-{fold}.safetensors")
}

/// Whether `name` is a fold model's file name.
fn is_fold_model(name: &str) -> bool {
    name.strip_prefix("model-fold-").and_then(|r| r.strip_suffix(".safetensors")).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Refuses an `--out` that names no new run directory: empty (`out = ""` in a config file would
/// write into the current directory), or ending in `.`, `..` or the root.
pub(crate) fn check_out_path(out: Option<&Path>) -> Result<()> {
    let Some(p) = out else { return Ok(()) };
    if p.as_os_str().is_empty() {
        return Err(Error::config("out", "is empty: name the run directory to create (or omit it for runs/run-N)"));
    }
    if p.file_name().is_none() {
        return Err(Error::config("out", format!("'{}' names no new directory: give a run directory such as runs/a", p.display())));
    }
    Ok(())
}

/// The run directory: --out, or runs/run-N with the first unused N.
pub(crate) fn choose_out_dir(out: Option<&Path>) -> PathBuf {
    if let Some(out) = out {
        return out.to_path_buf();
    }
    (1..).map(|n| PathBuf::from(format!("runs/run-{n}"))).find(|p| !p.exists()).unwrap_or_else(|| "runs/run".into())
}

/// What a run directory keeps if the run stops now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// Nothing resumable yet: a failure or a quit removes what the run created.
    Nothing,
    /// A run started again after it was killed before its first checkpoint: a failure or a quit
    /// removes what this attempt wrote but keeps the config.toml and lock file it started from,
    /// so `--resume` can start it again.
    Config,
    /// A checkpoint `--resume` continues from (`epoch` completed; 0 while a resumed run reads it).
    Checkpoint {
        /// Epochs the checkpoint holds.
        epoch: usize,
    },
    /// A k-fold run's kfold.json with `done` folds.
    Folds {
        /// Folds completed.
        done: usize,
    },
}

/// What [`QuitHandle::quit_with`] found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Quit {
    /// The run had not made (or locked) its directory yet: nothing was written.
    NothingWritten,
    /// Nothing resumable was written yet, so what this run wrote was removed; `dir_removed` says
    /// whether the directory went too (it does when this run created it and it is now empty).
    Removed {
        /// The run directory.
        dir: PathBuf,
        /// Whether the directory itself was removed.
        dir_removed: bool,
    },
    /// The directory stays, holding what `kept` says.
    Kept {
        /// The run directory.
        dir: PathBuf,
        /// What it holds.
        kept: Kept,
    },
}

struct DirState {
    path: PathBuf,
    /// Directories this run made, outermost first.
    created: Vec<PathBuf>,
    /// The open lock file; dropping it releases the lock.
    _lock: Option<File>,
    kept: Kept,
}

#[derive(Default)]
struct Slot {
    dir: Option<DirState>,
    /// Quit: the run may write nothing more.
    closed: bool,
}

/// Shared by a run and a signal handler: lets a second Ctrl-C leave the run directory in the
/// state its message states (removed when nothing resumable was written, else kept), without
/// racing the run's own writes (they happen under the same lock).
#[derive(Default)]
pub struct QuitHandle(Mutex<Slot>);

impl std::fmt::Debug for QuitHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuitHandle").field("dir", &self.slot().dir.as_ref().map(|d| d.path.clone())).finish()
    }
}

impl QuitHandle {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the run's writing for good: removes what the run created when it holds nothing
    /// resumable yet, then calls `f` with what it found while the run's writes stay blocked, so
    /// `f` (which typically prints and exits the process) sees the directory as it will stay.
    pub fn quit_with<R>(&self, f: impl FnOnce(Quit) -> R) -> R {
        let mut slot = self.slot();
        slot.closed = true;
        let quit = match slot.dir.take() {
            None => Quit::NothingWritten,
            Some(st) if st.kept == Kept::Nothing => {
                let dir = st.path.clone();
                let dir_removed = remove_created(st);
                Quit::Removed { dir, dir_removed }
            }
            Some(st) if st.kept == Kept::Config => {
                remove_attempt(&st.path);
                let q = Quit::Kept { dir: st.path.clone(), kept: st.kept };
                slot.dir = Some(st);
                q
            }
            Some(st) => {
                let q = Quit::Kept { dir: st.path.clone(), kept: st.kept };
                slot.dir = Some(st);
                q
            }
        };
        f(quit)
    }
}

/// A run's hold on its directory: locked while it lives; dropped before anything resumable was
/// kept ([`OutDir::keep`]), it removes what the run created.
pub(crate) struct OutDir {
    handle: Arc<QuitHandle>,
}

fn in_use(what: &str, dir: &Path) -> Error {
    Error::config(what, format!("{} is in use by another run (which holds {}); wait for it to end or pick another directory", dir.display(), dir.join(LOCK_FILE).display()))
}

/// Opens and locks `dir/.lock` (None where the file system has no locks).
fn lock(dir: &Path, what: &str, cannot: &dyn Fn(std::io::Error) -> Error) -> Result<Option<File>> {
    let path = dir.join(LOCK_FILE);
    let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(cannot)?;
    match f.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(in_use(what, dir)),
        Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => return Ok(None),
        Err(TryLockError::Error(e)) => return Err(cannot(e)),
    }
    // A failing run removes its lock file: the file we locked must still be the one the path names.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (a, b) = (f.metadata().map_err(cannot)?, std::fs::metadata(&path).map_err(|_| in_use(what, dir))?);
        if (a.dev(), a.ino()) != (b.dev(), b.ino()) {
            return Err(in_use(what, dir));
        }
    }
    Ok(Some(f))
}

/// Creates the missing directories of `dir` one by one; returns those this call made (outermost
/// first). One that appears meanwhile (another run's) is not ours.
fn create_tracked(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut missing: Vec<&Path> =
        dir.ancestors().take_while(|a| !a.as_os_str().is_empty() && std::fs::symlink_metadata(a).is_err()).collect();
    missing.reverse();
    let mut created = Vec::new();
    for d in missing {
        match std::fs::create_dir(d) {
            Ok(()) => created.push(d.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => {
                rmdir_all(&created);
                return Err(e);
            }
        }
    }
    Ok(created)
}

/// Removes empty directories, innermost first; stops at the first that is not empty.
fn rmdir_all(created: &[PathBuf]) -> bool {
    created.iter().rev().all(|d| std::fs::remove_dir(d).is_ok())
}

/// Debris a killed run leaves that a run holding the lock may remove: temporary files and the
/// write probe of older builds.
fn is_debris(name: &str) -> bool {
    is_temp_name(name) || name == ".write-test"
}

fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
}

/// Removes the debris a killed run left in `dir` and its `checkpoint/` (the caller holds the lock).
pub(crate) fn remove_debris(dir: &Path) {
    for d in [dir.to_path_buf(), dir.join(CHECKPOINT_DIR)] {
        for n in names(&d).into_iter().filter(|n| is_debris(n)) {
            let _ = std::fs::remove_file(d.join(n));
        }
    }
}

/// Removes the files a run writes in `dir` (its own names and debris, the checkpoint's files and
/// then the checkpoint directory while empty), keeping `config.toml` when `keep_config`.
fn remove_run_files(dir: &Path, keep_config: bool) {
    for n in names(dir) {
        if ((RUN_FILES.contains(&n.as_str()) || is_fold_model(&n)) && !(keep_config && n == "config.toml")) || is_debris(&n) {
            let _ = std::fs::remove_file(dir.join(&n));
        }
    }
    let ck = dir.join(CHECKPOINT_DIR);
    for n in names(&ck).into_iter().filter(|n| is_checkpoint_file(n) || is_debris(n)) {
        let _ = std::fs::remove_file(ck.join(n));
    }
    let _ = std::fs::remove_dir(&ck);
}

/// Removes the files an unfinished run left in `dir` (its own names only, and its checkpoint),
/// so a run can start there again: a k-fold trial of a sweep that was killed (k-fold runs
/// cannot be resumed). The caller makes sure no run holds the directory.
pub(crate) fn clear_unfinished(dir: &Path) {
    remove_run_files(dir, false);
}

/// Removes what a restarted attempt wrote, all but the config.toml it started from (and the lock).
fn remove_attempt(dir: &Path) {
    remove_run_files(dir, true);
}

/// Removes what a run wrote into its directory (its own file names only), then the directories
/// it created while they are empty. Returns whether the run directory itself is gone.
fn remove_created(st: DirState) -> bool {
    let dir = &st.path;
    remove_run_files(dir, false);
    let _ = std::fs::remove_file(dir.join(LOCK_FILE));
    drop(st._lock);
    if st.created.last().is_some_and(|c| c == dir) {
        rmdir_all(&st.created)
    } else {
        false
    }
}

impl OutDir {
    /// Takes the run directory: a new run creates `dir` (it must be new or empty), a resumed
    /// one needs it to exist; both lock it. `handle` is shared with a Ctrl-C handler, if any.
    pub(crate) fn prepare(dir: &Path, resuming: bool, handle: Option<Arc<QuitHandle>>) -> Result<Self> {
        let what = if resuming { "resume" } else { "out" };
        let cannot = |e: std::io::Error| Error::config(what, format!("cannot write the run directory {}: {e}", dir.display()));
        let handle = handle.unwrap_or_default();
        if resuming {
            if !dir.is_dir() {
                return Err(Error::bad_file(dir, "no such run directory"));
            }
            // a run's directory holds its lock file or (from older builds) a checkpoint; anything
            // else is someone's directory with a config.toml in it, which is not ours to write
            let ours = dir.join(LOCK_FILE).is_file()
                || dir.join(CHECKPOINT_DIR).join(crate::model::STATE_FILE).exists()
                || dir.join("model.safetensors").exists();
            if !ours {
                return Err(Error::bad_file(dir, "not a run directory: it holds no checkpoint (start a new run with --config, or pick another --out)"));
            }
            let kept = if killed_before_first_checkpoint(dir) { Kept::Config } else { Kept::Checkpoint { epoch: 0 } };
            let lock = lock(dir, what, &cannot)?;
            remove_debris(dir);
            handle.slot().dir = Some(DirState { path: dir.into(), created: vec![], _lock: lock, kept });
            return Ok(OutDir { handle });
        }
        if let Ok(m) = std::fs::symlink_metadata(dir) {
            if m.file_type().is_symlink() && std::fs::metadata(dir).is_err() {
                return Err(Error::config("out", format!("{} is a symbolic link to nothing; give a directory", dir.display())));
            }
            if !dir.is_dir() {
                return Err(Error::config("out", format!("{} exists and is not a directory", dir.display())));
            }
            check_empty(dir)?;
        }
        let lock_existed = dir.join(LOCK_FILE).exists();
        let created = create_tracked(dir).map_err(cannot)?;
        let lock = match lock(dir, what, &cannot) {
            Ok(l) => l,
            Err(e) => {
                rmdir_all(&created);
                return Err(e);
            }
        };
        // checked again under the lock: another run may have started in it meanwhile
        if let Err(e) = check_empty(dir) {
            if !lock_existed {
                let _ = std::fs::remove_file(dir.join(LOCK_FILE));
            }
            drop(lock);
            rmdir_all(&created);
            return Err(e);
        }
        remove_debris(dir);
        handle.slot().dir = Some(DirState { path: dir.into(), created, _lock: lock, kept: Kept::Nothing });
        Ok(OutDir { handle })
    }

    /// Takes a new run directory: `out`, or the first unused runs/run-N, taking the next N when a
    /// run started at the same time took this one first (so parallel runs without `--out` each
    /// get their own). Returns the directory with its hold.
    pub(crate) fn prepare_new(out: Option<&Path>, handle: Option<Arc<QuitHandle>>) -> Result<(PathBuf, Self)> {
        if let Some(dir) = out {
            return Ok((dir.to_path_buf(), OutDir::prepare(dir, false, handle)?));
        }
        let mut last = None;
        for _ in 0..64 {
            let dir = choose_out_dir(None);
            match OutDir::prepare(&dir, false, handle.clone()) {
                Ok(o) => return Ok((dir, o)),
                // taken meanwhile (it exists now): the next free one
                Err(e) if dir.exists() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::config("out", "no free runs/run-N directory")))
    }

    /// Runs `write` (some of the run's outputs) unless the run was quit meanwhile.
    pub(crate) fn write<T>(&self, write: impl FnOnce() -> Result<T>) -> Result<T> {
        self.write_then(None, write)
    }

    /// Runs `write` like [`OutDir::write`]; once it succeeded the directory holds `kept` and
    /// stays whatever happens next.
    pub(crate) fn write_kept<T>(&self, kept: Kept, write: impl FnOnce() -> Result<T>) -> Result<T> {
        self.write_then(Some(kept), write)
    }

    fn write_then<T>(&self, kept: Option<Kept>, write: impl FnOnce() -> Result<T>) -> Result<T> {
        let mut slot = self.handle.slot();
        if slot.closed {
            return Err(Error::config("out", "the run was quit (Ctrl-C twice)"));
        }
        let r = write()?;
        if let (Some(k), Some(st)) = (kept, slot.dir.as_mut()) {
            st.kept = k;
        }
        Ok(r)
    }
}

/// Whether `dir` holds one of our runs that was killed before its first checkpoint: its
/// config.toml and lock file, and no checkpoint or final output. `--resume` starts it again.
pub(crate) fn killed_before_first_checkpoint(dir: &Path) -> bool {
    dir.join(LOCK_FILE).is_file()
        && dir.join("config.toml").is_file()
        && !dir.join(CHECKPOINT_DIR).join(crate::model::STATE_FILE).exists()
        && !dir.join("model.safetensors").exists()
        && !dir.join("kfold.json").exists()
}

/// Refuses a directory that holds anything but a killed run's debris and lock file.
fn check_empty(dir: &Path) -> Result<()> {
    let foreign: Vec<String> = names(dir).into_iter().filter(|n| n != LOCK_FILE && !is_debris(n)).collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let d = dir.display();
    let early = ["config.toml", "metrics.csv", "history.json", "curves.png"];
    // a lock file is the mark of our own run (killed before its first checkpoint)
    let ours = dir.join(LOCK_FILE).exists() && foreign.iter().any(|n| n == "config.toml");
    if ours && foreign.iter().all(|n| early.contains(&n.as_str())) {
        return Err(Error::config("out", format!("{d} holds a run killed before its first checkpoint: start it again with --resume {d}, or pick another --out")));
    }
    Err(Error::config("out", format!("{d} already holds files (a previous run?): pick another --out, or continue it with --resume {d}")))
}

impl Drop for OutDir {
    fn drop(&mut self) {
        let mut slot = self.handle.slot();
        if let Some(st) = slot.dir.take() {
            match st.kept {
                Kept::Nothing => {
                    remove_created(st);
                }
                Kept::Config => remove_attempt(&st.path),
                _ => {}
            }
        }
    }
}
