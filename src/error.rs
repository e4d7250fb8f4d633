//! One error type for the library; the binary turns it into one line for the user.

use std::path::PathBuf;

/// Everything that can go wrong in the library; each variant carries what a user needs to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed at the OS level.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory being read or written.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file was read but its contents are malformed (bad header, wrong size, unparsable field).
    #[error("{path}: {msg}")]
    BadFile {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// A setting or argument is out of range or inconsistent with another.
    #[error("invalid {what}: {msg}")]
    Config {
        /// The setting at fault, as the user spells it (e.g. "lr", "layers").
        what: String,
        /// Why it is invalid.
        msg: String,
    },
    /// Buffers or tensors of sizes that do not fit together were handed to an operation.
    #[error("shape mismatch in {op}: {msg}")]
    Shape {
        /// The function that found the mismatch.
        op: &'static str,
        /// The sizes involved.
        msg: String,
    },
    /// The GPU could not be set up or an operation on it failed (no adapter, mapping, limits).
    #[error("GPU: {0}")]
    Gpu(String),
    /// The mean training loss of an epoch was not finite.
    #[error("training diverged at epoch {epoch}: loss is {loss}")]
    Diverged {
        /// The epoch that diverged, counted from 1.
        epoch: usize,
        /// The non-finite mean loss (NaN or ±inf).
        loss: f64,
        /// The last epoch the run directory's checkpoint holds (a run sets it; None: no
        /// checkpoint was written, so the run directory is removed).
        kept: Option<usize>,
    },
}

/// The library's result type: `E` defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// [`Error::Config`] for setting `what`, with the reason `msg`.
    pub fn config(what: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Config { what: what.into(), msg: msg.into() }
    }
    /// [`Error::BadFile`] for the malformed file `path`, with the reason `msg`.
    pub fn bad_file(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::BadFile { path: path.into(), msg: msg.into() }
    }
    /// [`Error::Io`]: the OS error `source` while accessing `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

/// Longest value (in characters) a message quotes whole; longer ones are cut (see [`quoted`]).
pub const QUOTE_MAX_CHARS: usize = 40;

/// `value` in single quotes for a message, cut to [`QUOTE_MAX_CHARS`] characters with its full
/// length said, so a hostile 5 MB CSV cell or header never makes a message long:
/// `'aaaa…' (5000000 bytes)`. Control characters (a newline in a quoted cell) are escaped, so a
/// message stays one line.
pub fn quoted(value: &str) -> String {
    let mut out = String::from("'");
    for (i, c) in value.chars().enumerate() {
        if i == QUOTE_MAX_CHARS {
            return format!("{out}…' ({} bytes)", value.len());
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The first `max` items joined by ", ", each [`quoted`]-cut, then "… (N in all)" when there are more.
pub fn quoted_list<S: AsRef<str>>(items: &[S], max: usize) -> String {
    let mut parts: Vec<String> = items.iter().take(max).map(|s| quoted(s.as_ref())).collect();
    if items.len() > max {
        parts.push(format!("… ({} in all)", items.len()));
    }
    parts.join(", ")
}

/// Longest message from another library (a parser's error) that is passed on whole.
pub const FOREIGN_MESSAGE_MAX_CHARS: usize = 300;

/// A message from another library (serde, toml, safetensors) on one line and cut to
/// [`FOREIGN_MESSAGE_MAX_CHARS`]: their errors may quote the offending value whole.
pub fn clipped(msg: impl std::fmt::Display) -> String {
    let msg = msg.to_string();
    let one: String = msg.split(['\n', '\r']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    match one.char_indices().nth(FOREIGN_MESSAGE_MAX_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes)", &one[..cut], one.len()),
        None => one,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_cut_and_kept_on_one_line() {
        assert_eq!(quoted("abc"), "'abc'");
        assert_eq!(quoted("a\nb"), "'a\\nb'");
        let long = "x".repeat(5_000_000);
        let q = quoted(&long);
        assert!(q.len() < 80 && q.ends_with("…' (5000000 bytes)"), "{q}");
        assert_eq!(quoted_list(&["a", "b", "c"], 2), "'a', 'b', … (3 in all)");
        let c = clipped(format!("line one\n{}", "y".repeat(1000)));
        assert!(!c.contains('\n') && c.chars().count() < FOREIGN_MESSAGE_MAX_CHARS + 30, "{c}");
    }
}
