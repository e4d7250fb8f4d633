//! The kernel tuner end to end: a first GPU run measures and remembers its matmul choices, a
//! second starts with no tuning at all, `force` measures again, `off` neither reads nor writes;
//! a corrupt cache is ignored with a note and replaced, a foreign one ignored and left alone,
//! and an entry naming an unknown variant is not trusted. The choice changes speed, not results.

mod common;

use assert_cmd::Command;
use std::path::Path;

fn wgpu_mlp(cache: &Path) -> Command {
    let mut c = Command::cargo_bin("wgpu-mlp").expect("binary built");
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir()).env("WGPU_MLP_TUNE_CACHE", cache).env_remove("WGPU_MLP_TUNE");
    c
}

/// A one-epoch GPU run on the bundled digits; its notes and final scores.
fn train(cache: &Path, out: &Path, extra: &[&str]) -> (Vec<String>, serde_json::Value) {
    let o = wgpu_mlp(cache)
        .args(["train", "--device", "gpu", "--epochs", "1", "--batch", "50", "--json", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "train failed:\n{text}\n{}", String::from_utf8_lossy(&o.stderr));
    let events: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let notes = events.iter().filter(|e| e["event"] == "note").map(|e| e["note"].as_str().unwrap_or("").to_string()).collect();
    let scores = events.last().map(|e| e["summary"]["scores"].clone()).unwrap_or_default();
    (notes, scores)
}

fn tuned_note(notes: &[String]) -> Option<&String> {
    notes.iter().find(|n| n.starts_with("tuned "))
}

#[test]
fn choices_are_measured_once_remembered_and_change_nothing_but_speed() {
    if common::gpu("choices_are_measured_once_remembered_and_change_nothing_but_speed").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache").join("tune.json");
    let (notes, first) = train(&cache, &dir.path().join("a"), &[]);
    let note = tuned_note(&notes).unwrap_or_else(|| panic!("the first run tuned nothing: {notes:?}"));
    assert!(note.contains(&cache.display().to_string()), "{note}");
    let text = std::fs::read_to_string(&cache).expect("the cache was written");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["version"], 1);
    // 784-64-10 at batch 50: abt and atb of both layers, ab of the second
    assert_eq!(v["entries"].as_array().unwrap().len(), 5, "{text}");

    assert!(first.as_array().is_some_and(|a| !a.is_empty()), "no scores: {first}");
    let (notes, second) = train(&cache, &dir.path().join("b"), &[]);
    assert!(tuned_note(&notes).is_none(), "the second run tuned again: {notes:?}");
    assert_eq!(first, second, "the same run gave other scores");

    // a remembered tiled choice is used as it is (lavapipe itself picks the blocked kernels)
    let tiled = text.replace("\"choice\": \"blocked-8x8\"", "\"choice\": \"tiled-64\"").replace("\"choice\": \"blocked-8x16\"", "\"choice\": \"tiled-32\"");
    std::fs::write(&cache, &tiled).unwrap();
    let (notes, with_tiled) = train(&cache, &dir.path().join("t"), &[]);
    assert!(tuned_note(&notes).is_none(), "{notes:?}");
    let o = wgpu_mlp(&cache).args(["devices", "--json"]).output().unwrap();
    let listed = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!listed.contains("\"kernel\":\"blocked"), "the tiled choices were not kept: {listed}");

    let (notes, forced) = train(&cache, &dir.path().join("c"), &["--tune", "force"]);
    assert!(tuned_note(&notes).is_some(), "--tune force measured nothing: {notes:?}");
    let (notes, off) = train(&cache, &dir.path().join("d"), &["--tune", "off"]);
    assert!(notes.is_empty(), "{notes:?}");
    // every variant accumulates in the same order: the scores are bit-for-bit the same
    assert_eq!(first, with_tiled, "tiled kernels gave other scores");
    assert_eq!(first, forced);
    assert_eq!(first, off);

    // devices lists what was remembered for the adapter the runs used
    let o = wgpu_mlp(&cache).args(["devices", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tuned: usize = v["adapters"].as_array().unwrap().iter().map(|a| a["tuned"].as_array().map_or(0, |t| t.len())).sum();
    assert_eq!(tuned, 5, "{v}");
}

#[test]
fn off_neither_reads_nor_writes_the_cache() {
    if common::gpu("off_neither_reads_nor_writes_the_cache").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("tune.json");
    std::fs::write(&cache, "garbage").unwrap();
    let (notes, _) = train(&cache, &dir.path().join("a"), &["--tune", "off"]);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(std::fs::read_to_string(&cache).unwrap(), "garbage");
    // the variable sets the mode where no flag does
    let o = wgpu_mlp(&cache).env("WGPU_MLP_TUNE", "sometimes").args(["train", "--device", "gpu", "--epochs", "1", "--out"]).arg(dir.path().join("b")).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("WGPU_MLP_TUNE") && err.lines().count() == 1, "{err}");
}

#[test]
fn a_bad_cache_is_never_trusted() {
    if common::gpu("a_bad_cache_is_never_trusted").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("tune.json");
    // corrupt: ignored with a note, measured again, replaced by a good file
    std::fs::write(&cache, "{\"format\": \"wgpu-mlp tuning cache\", \"version\": 1, \"entries\": [{\"truncated").unwrap();
    let (notes, _) = train(&cache, &dir.path().join("a"), &[]);
    assert!(notes.iter().any(|n| n.contains("ignored the tuning cache") && n.contains("not JSON")), "{notes:?}");
    assert!(tuned_note(&notes).is_some(), "{notes:?}");
    let good = std::fs::read_to_string(&cache).unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&good).is_ok(), "{good}");

    // an entry naming a variant this build does not have is dropped, and that shape measured again
    let bogus = good.replacen("\"choice\": \"", "\"choice\": \"bogus-", 1);
    assert_ne!(bogus, good);
    std::fs::write(&cache, &bogus).unwrap();
    let (notes, _) = train(&cache, &dir.path().join("b"), &[]);
    let note = tuned_note(&notes).unwrap_or_else(|| panic!("the bogus entry was trusted: {notes:?}"));
    assert!(note.starts_with("tuned 1 matmul shapes"), "{note}");

    // foreign (another program's file, another version): ignored and left byte for byte
    for foreign in ["{\"format\": \"something else\", \"entries\": []}", "{\"format\": \"wgpu-mlp tuning cache\", \"version\": 99, \"entries\": []}"] {
        std::fs::write(&cache, foreign).unwrap();
        let (notes, _) = train(&cache, &dir.path().join("c"), &[]);
        assert!(notes.iter().any(|n| n.contains("ignored the tuning cache")), "{notes:?}");
        assert!(tuned_note(&notes).is_some_and(|n| n.contains("this process only")), "{notes:?}");
        assert_eq!(std::fs::read_to_string(&cache).unwrap(), foreign);
        std::fs::remove_dir_all(dir.path().join("c")).unwrap();
    }
}
