//! The tuning cache: a small versioned JSON file of measured choices, one entry per (adapter,
//! kernel sources, form, shape), so a second run starts without tuning. It lives at
//! `WGPU_MLP_TUNE_CACHE` or in the user's cache directory (`dirs::cache_dir()`, e.g.
//! ~/.cache/wgpu-mlp/tune.json). A file that is unreadable, not ours or of another version is
//! never trusted: it is ignored with a note, and only a corrupt file of ours is replaced.

use crate::atomic::write_atomic;
use crate::gpu::matmul::{Form, MatmulKernel};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The environment variable that relocates the cache file.
pub const CACHE_ENV: &str = "WGPU_MLP_TUNE_CACHE";
/// What the file's `format` field says.
const FORMAT: &str = "wgpu-mlp tuning cache";
/// Bumped when an entry's meaning changes; other versions are ignored, not overwritten.
pub const VERSION: u32 = 1;
/// A larger file is not read: the cache stays small, and a huge file is not ours.
const MAX_BYTES: u64 = 4 << 20;
/// Entries kept: the most recent, so the file cannot grow without bound.
const MAX_ENTRIES: usize = 4096;

/// What identifies an adapter and its driver: a new driver may change which kernel is fastest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AdapterKey {
    /// the adapter's name
    pub name: String,
    /// the backend (Vulkan, Gl, Metal, Dx12)
    pub backend: String,
    /// PCI vendor and device ids (0 where the backend has none)
    pub vendor: u32,
    /// see `vendor`
    pub device: u32,
    /// the driver's name and version text
    pub driver: String,
}

impl AdapterKey {
    /// The key of an adapter as wgpu describes it.
    pub fn of(info: &wgpu::AdapterInfo) -> AdapterKey {
        AdapterKey {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            vendor: info.vendor,
            device: info.device,
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        }
    }
}

/// One tuned kernel shape: `form` at M rows, N outputs, K inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shape {
    /// abt, ab or atb
    pub form: Form,
    /// rows (the batch, or the evaluation chunk)
    pub m: u32,
    /// the layer's outputs
    pub n: u32,
    /// the layer's inputs
    pub k: u32,
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}x{}x{}", self.form.name(), self.m, self.k, self.n)
    }
}

/// A measured choice: the fastest variant and each candidate's GFLOP/s.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// the variant the plans use
    pub kernel: MatmulKernel,
    /// (variant, GFLOP/s) of every candidate timed, fastest first
    pub measured: Vec<(MatmulKernel, f64)>,
}

#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    version: u32,
    entries: Vec<Entry>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    adapter: AdapterKey,
    /// fingerprint of the matmul shader sources the timings were taken with
    kernels: String,
    form: String,
    m: u32,
    n: u32,
    k: u32,
    choice: String,
    /// variant name → GFLOP/s
    gflops: Vec<(String, f64)>,
}

/// Where the cache lives: `WGPU_MLP_TUNE_CACHE`, else the user's cache directory (None: neither,
/// then choices last only as long as the process).
pub fn path() -> Option<PathBuf> {
    match std::env::var_os(CACHE_ENV) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => dirs::cache_dir().map(|d| d.join("wgpu-mlp").join("tune.json")),
    }
}

/// What reading the file found.
pub enum Loaded {
    /// entries that passed every check (possibly none: no file yet)
    Entries(Vec<(AdapterKey, String, Shape, Choice)>),
    /// the file is ours but unreadable or malformed: ignored, and replaced on the next save
    Corrupt(String),
    /// the file is another program's or another version's: ignored and left alone
    Foreign(String),
}

/// Reads the cache at `path`. Entries naming unknown forms or variants, or with non-finite
/// timings, are dropped one by one; the rest of the file still counts.
pub fn load(path: &Path) -> Loaded {
    let bytes = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Entries(Vec::new()),
        Err(e) => return Loaded::Corrupt(e.to_string()),
        Ok(m) if m.len() > MAX_BYTES => return Loaded::Foreign(format!("{} bytes, more than a tuning cache holds", m.len())),
        Ok(_) => match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return Loaded::Corrupt(e.to_string()),
        },
    };
    let v: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return Loaded::Corrupt(format!("not JSON ({e})")),
    };
    match (v.get("format").and_then(|f| f.as_str()), v.get("version").and_then(|f| f.as_u64())) {
        (Some(FORMAT), Some(ver)) if ver == VERSION as u64 => {}
        (Some(FORMAT), Some(ver)) => return Loaded::Foreign(format!("version {ver}, this build reads {VERSION}")),
        (Some(FORMAT), None) => return Loaded::Corrupt("no version".into()),
        _ => return Loaded::Foreign("not a wgpu-mlp tuning cache".into()),
    }
    let file: File = match serde_json::from_value(v) {
        Ok(f) => f,
        Err(e) => return Loaded::Corrupt(format!("malformed ({e})")),
    };
    Loaded::Entries(file.entries.into_iter().filter_map(parse_entry).collect())
}

fn parse_entry(e: Entry) -> Option<(AdapterKey, String, Shape, Choice)> {
    let form = Form::parse(&e.form)?;
    let kernel = MatmulKernel::parse(&e.choice)?;
    let mut measured = Vec::new();
    for (name, g) in &e.gflops {
        if !(g.is_finite() && *g >= 0.0) {
            return None;
        }
        measured.push((MatmulKernel::parse(name)?, *g));
    }
    if e.m == 0 || e.n == 0 || e.k == 0 {
        return None;
    }
    Some((e.adapter, e.kernels, Shape { form, m: e.m, n: e.n, k: e.k }, Choice { kernel, measured }))
}

/// Writes `entries` merged over what the file holds now (another process may have added its own
/// meanwhile), atomically. Entries this build cannot read (another build's variants) are kept as
/// they are. A foreign file is left alone (returns its reason).
pub fn save(path: &Path, entries: &[(AdapterKey, String, Shape, Choice)]) -> Result<(), String> {
    let mut kept: Vec<serde_json::Value> = match load(path) {
        Loaded::Foreign(why) => return Err(format!("left as it is: {why}")),
        Loaded::Corrupt(_) => Vec::new(),
        Loaded::Entries(_) => std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("entries").and_then(|e| e.as_array()).cloned())
            .unwrap_or_default(),
    };
    let ours: Vec<serde_json::Value> = entries
        .iter()
        .map(|(adapter, kernels, s, c)| Entry {
            adapter: adapter.clone(),
            kernels: kernels.clone(),
            form: s.form.name().into(),
            m: s.m,
            n: s.n,
            k: s.k,
            choice: c.kernel.name().into(),
            gflops: c.measured.iter().map(|(k, g)| (k.name().to_string(), *g)).collect(),
        })
        .filter_map(|e| serde_json::to_value(e).ok())
        .collect();
    // an entry's identity: everything but the choice and its timings
    let key = |v: &serde_json::Value| ["adapter", "kernels", "form", "m", "n", "k"].map(|f| v.get(f).cloned());
    kept.retain(|v| !ours.iter().any(|o| key(o) == key(v)));
    kept.extend(ours);
    if kept.len() > MAX_ENTRIES {
        kept.drain(..kept.len() - MAX_ENTRIES);
    }
    let file = serde_json::json!({"format": FORMAT, "version": VERSION, "entries": kept});
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_vec_pretty(&file).map_err(|e| e.to_string())?;
    write_atomic(path, &text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter() -> AdapterKey {
        AdapterKey { name: "test adapter".into(), backend: "Vulkan".into(), vendor: 1, device: 2, driver: "d 1.0".into() }
    }

    fn entry(form: Form, m: u32, kernel: MatmulKernel) -> (AdapterKey, String, Shape, Choice) {
        let measured = vec![(kernel, 10.0), (MatmulKernel::Blocked8, 5.0)];
        (adapter(), "fp".into(), Shape { form, m, n: 64, k: 784 }, Choice { kernel, measured })
    }

    fn entries(l: Loaded) -> Vec<(AdapterKey, String, Shape, Choice)> {
        match l {
            Loaded::Entries(v) => v,
            Loaded::Corrupt(w) | Loaded::Foreign(w) => panic!("not loaded: {w}"),
        }
    }

    #[test]
    fn saved_choices_load_back_and_merge_with_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("tune.json");
        assert!(entries(load(&path)).is_empty(), "an absent file is an empty cache");
        save(&path, &[entry(Form::Abt, 100, MatmulKernel::Tiled64)]).unwrap();
        // another process's save keeps ours and replaces only its own shape
        save(&path, &[entry(Form::Atb, 100, MatmulKernel::Blocked8), entry(Form::Abt, 100, MatmulKernel::Blocked16)]).unwrap();
        let mut got = entries(load(&path));
        got.sort_by_key(|e| e.2);
        assert_eq!(got, vec![entry(Form::Abt, 100, MatmulKernel::Blocked16), entry(Form::Atb, 100, MatmulKernel::Blocked8)]);
    }

    #[test]
    fn the_file_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tune.json");
        let many: Vec<_> = (1..=MAX_ENTRIES as u32 + 10).map(|m| entry(Form::Ab, m, MatmulKernel::Tiled32)).collect();
        save(&path, &many).unwrap();
        let got = entries(load(&path));
        assert_eq!(got.len(), MAX_ENTRIES);
        assert_eq!(got[0].2.m, 11, "the oldest entries go first");
    }

    #[test]
    fn bad_files_and_entries_are_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tune.json");
        for (text, corrupt) in [
            ("", true),
            ("{\"format\": \"wgpu-mlp tuning cache\", \"version\": 1}", true),
            ("{\"format\": \"wgpu-mlp tuning cache\"}", true),
            ("[1, 2]", false),
            ("{\"format\": \"wgpu-mlp tuning cache\", \"version\": 2, \"entries\": []}", false),
        ] {
            std::fs::write(&path, text).unwrap();
            match load(&path) {
                Loaded::Corrupt(_) => assert!(corrupt, "{text:?} read as corrupt"),
                Loaded::Foreign(_) => assert!(!corrupt, "{text:?} read as foreign"),
                Loaded::Entries(_) => panic!("{text:?} trusted"),
            }
        }
        // a foreign file is never overwritten
        let foreign = "{\"format\": \"wgpu-mlp tuning cache\", \"version\": 2, \"entries\": []}";
        std::fs::write(&path, foreign).unwrap();
        assert!(save(&path, &[entry(Form::Ab, 1, MatmulKernel::Tiled32)]).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), foreign);
        // a corrupt one is replaced
        std::fs::write(&path, "{").unwrap();
        save(&path, &[entry(Form::Ab, 1, MatmulKernel::Tiled32)]).unwrap();
        assert_eq!(entries(load(&path)).len(), 1);
        // entries with an unknown form or variant, a zero dimension or a non-finite timing are
        // dropped one by one; the good entry next to them still counts
        let good = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&good).unwrap();
        let e = v["entries"][0].clone();
        let mut bad = vec![e.clone()];
        for (field, value) in [("form", serde_json::json!("abc")), ("choice", serde_json::json!("tiled-99")), ("m", serde_json::json!(0))] {
            let mut b = e.clone();
            b[field] = value;
            bad.push(b);
        }
        let mut b = e.clone();
        b["gflops"] = serde_json::json!([["tiled-32", -1.0]]);
        bad.push(b);
        let file = serde_json::json!({"format": FORMAT, "version": VERSION, "entries": bad});
        std::fs::write(&path, file.to_string()).unwrap();
        assert_eq!(entries(load(&path)).len(), 1);
        // saving keeps the entries this build could not read (another build's), as they were
        save(&path, &[entry(Form::Atb, 7, MatmulKernel::Tiled64)]).unwrap();
        let after: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(after["entries"].as_array().unwrap().len(), 6, "{after}");
        assert!(after.to_string().contains("tiled-99"), "{after}");
        // a huge file is not read at all
        std::fs::write(&path, vec![b' '; MAX_BYTES as usize + 1]).unwrap();
        assert!(matches!(load(&path), Loaded::Foreign(_)));
    }
}
