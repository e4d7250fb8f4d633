//! Test hook for crash consistency: with `WGPU_MLP_FAULT_AT=N` in the environment the process
//! aborts (`std::process::abort`, as abrupt as a SIGKILL for the files) when it reaches the N-th
//! numbered point, counted from 1 in the order the points are passed. A point sits between every
//! two steps of every file a run writes (temporary file written and synced, renamed into place,
//! stale checkpoint files removed), so `tests/fault_injection.rs` can kill a run at each of them.
//! Without the variable a point costs one atomic load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Name of the environment variable that arms the hook.
pub const FAULT_AT_ENV: &str = "WGPU_MLP_FAULT_AT";

static PASSED: AtomicUsize = AtomicUsize::new(0);

fn armed() -> Option<usize> {
    static AT: OnceLock<Option<usize>> = OnceLock::new();
    *AT.get_or_init(|| std::env::var(FAULT_AT_ENV).ok().and_then(|v| v.trim().parse().ok()).filter(|&n| n > 0))
}

/// A numbered point (`what` says where, for the test's diagnostics): aborts the process if it is
/// the one `WGPU_MLP_FAULT_AT` names.
pub(crate) fn point(what: &dyn std::fmt::Display) {
    let Some(at) = armed() else { return };
    let n = PASSED.fetch_add(1, Ordering::SeqCst) + 1;
    if n == at {
        // a test hook: the one place the library writes to stderr, right before it dies
        eprintln!("{FAULT_AT_ENV}={at}: aborting at point {n} ({what})");
        std::process::abort();
    }
}
