//! `sweep collect`: one table of every trial of a sweep's output directory, its settings and
//! the scores its run directory records (scores.json of a single run, kfold.json of a k-fold
//! one: the mean and population standard deviation over the folds), the best trial first by the
//! metric the runs select on (`val_accuracy` highest first, `val_loss` lowest first). Trials
//! without a finished run are listed after the scored ones, as running, unfinished, unreadable or missing.

use super::run::{finished, trial_running};
use super::{SweepRecord, RECORD_FILE};
use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::run::{mean_std, ScoresFile, SCORES_FILE};
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::Path;

/// A score: the value, and over k folds their population standard deviation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Score {
    /// The value (single run) or the mean over the folds.
    pub mean: Option<f64>,
    /// Standard deviation over the folds; None for a single run.
    pub std: Option<f64>,
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct TrialRow {
    /// 0-based index.
    pub trial: usize,
    /// `finished`, `running`, `unfinished` (started, not finished, not running), `unreadable` (its
    /// outcome file cannot be read) or `missing` (never started).
    pub status: String,
    /// The trial's directory inside the sweep's output directory.
    pub dir: String,
    /// The axes' values.
    pub settings: Map<String, Value>,
    /// Folds of the trial's run (0: one hold-out split).
    pub folds: usize,
    /// Validation accuracy (None for regression).
    pub val_accuracy: Score,
    /// Validation loss.
    pub val_loss: Score,
    /// Test-split accuracy, where the run held out a test split.
    pub test_accuracy: Score,
    /// Test-split loss.
    pub test_loss: Score,
}

/// The whole table (results.json).
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    /// The sweep file the trials came from.
    pub sweep: String,
    /// The metric the rows are ranked by: `val_accuracy` (highest first) or `val_loss` (lowest first).
    pub metric: String,
    /// Index of the best finished trial, None when none finished.
    pub best: Option<usize>,
    /// Rows: finished trials best first, then the others by index.
    pub trials: Vec<TrialRow>,
}

fn single(s: f64) -> Score {
    Score { mean: Some(s), std: None }
}

fn over_folds(values: Vec<Option<f64>>) -> Score {
    let v: Option<Vec<f64>> = values.into_iter().collect();
    match v {
        Some(v) if !v.is_empty() => {
            let (m, s) = mean_std(&v);
            Score { mean: Some(m), std: Some(s) }
        }
        _ => Score::default(),
    }
}

fn scores_of(row: &mut TrialRow, dir: &Path) -> Result<()> {
    if row.folds >= 2 {
        let path = dir.join("kfold.json");
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::bad_file(&path, format!("not a k-fold report: {e}")))?;
        let folds = v["folds"].as_array().cloned().unwrap_or_default();
        let field = |k: &str| over_folds(folds.iter().map(|f| f[k].as_f64()).collect());
        (row.val_accuracy, row.val_loss, row.test_accuracy, row.test_loss) = (field("val_accuracy"), field("val_loss"), field("test_accuracy"), field("test_loss"));
        return Ok(());
    }
    let path = dir.join(SCORES_FILE);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let s: ScoresFile = serde_json::from_slice(&bytes).map_err(|e| Error::bad_file(&path, format!("not a run's scores: {e}")))?;
    for sc in &s.scores {
        let (acc, loss) = match sc.split.as_str() {
            "validation" => (&mut row.val_accuracy, &mut row.val_loss),
            "test" => (&mut row.test_accuracy, &mut row.test_loss),
            _ => continue,
        };
        *loss = single(sc.loss);
        *acc = sc.accuracy.map(single).unwrap_or_default();
    }
    Ok(())
}

/// The table of the sweep in `dir` (its `sweep.json` and trial directories), best first.
pub fn collect(dir: &Path) -> Result<Results> {
    let path = dir.join(RECORD_FILE);
    if !path.is_file() {
        return Err(Error::bad_file(dir, format!("holds no {RECORD_FILE}: not a sweep's output directory (`sweep run` writes it)")));
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let rec: SweepRecord = serde_json::from_slice(&bytes).map_err(|e| Error::bad_file(&path, format!("not a sweep record: {e}")))?;
    let mut rows = Vec::with_capacity(rec.trials.len());
    for t in &rec.trials {
        let d = dir.join(&t.dir);
        let mut row = TrialRow {
            trial: t.trial,
            status: String::new(),
            dir: t.dir.clone(),
            settings: t.settings.clone(),
            folds: rec.folds,
            val_accuracy: Score::default(),
            val_loss: Score::default(),
            test_accuracy: Score::default(),
            test_loss: Score::default(),
        };
        row.status = if trial_running(dir, t.trial) {
            "running"
        } else {
            match finished(&d, rec.folds) {
                Ok(true) => {
                    scores_of(&mut row, &d)?;
                    "finished"
                }
                // an outcome file that cannot be read: listed, not dropped or taken as unfinished
                Err(_) => "unreadable",
                Ok(false) if d.exists() => "unfinished",
                Ok(false) => "missing",
            }
        }
        .into();
        rows.push(row);
    }
    let higher = rec.metric == "val_accuracy";
    let key = |r: &TrialRow| {
        let s = if higher { r.val_accuracy.mean } else { r.val_loss.mean };
        s.filter(|v| v.is_finite() && r.status == "finished").map(|v| if higher { -v } else { v })
    };
    // scored trials by their metric (ties by index), then the rest by index
    rows.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y).then(a.trial.cmp(&b.trial)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.trial.cmp(&b.trial),
    });
    let best = rows.first().filter(|r| key(r).is_some()).map(|r| r.trial);
    Ok(Results { sweep: rec.file.display().to_string(), metric: rec.metric, best, trials: rows })
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn num(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// The table as CSV: trial, status, dir, one column per setting, folds, then each score and
/// its standard deviation over the folds (empty for single runs and unscored trials).
pub fn to_csv(r: &Results) -> Result<Vec<u8>> {
    let mut keys: Vec<&String> = r.trials.iter().flat_map(|t| t.settings.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut w = csv::Writer::from_writer(Vec::new());
    let enc = |e: csv::Error| Error::config("collect", format!("cannot write the CSV table: {e}"));
    let mut header: Vec<String> = ["trial", "status", "dir"].map(String::from).to_vec();
    header.extend(keys.iter().map(|k| k.to_string()));
    header.push("folds".into());
    for s in ["val_accuracy", "val_loss", "test_accuracy", "test_loss"] {
        header.push(s.into());
        header.push(format!("{s}_std"));
    }
    w.write_record(&header).map_err(enc)?;
    for t in &r.trials {
        let mut rec = vec![t.trial.to_string(), t.status.clone(), t.dir.clone()];
        rec.extend(keys.iter().map(|k| t.settings.get(*k).map(cell).unwrap_or_default()));
        rec.push(t.folds.to_string());
        for s in [t.val_accuracy, t.val_loss, t.test_accuracy, t.test_loss] {
            rec.push(num(s.mean));
            rec.push(num(s.std));
        }
        w.write_record(&rec).map_err(enc)?;
    }
    w.into_inner().map_err(|e| Error::config("collect", format!("cannot write the CSV table: {e}")))
}

/// Collects the sweep in `dir` and writes `dir/results.csv` and `dir/results.json` (each
/// atomically); returns the table.
pub fn write_results(dir: &Path) -> Result<Results> {
    let r = collect(dir)?;
    let json = serde_json::to_string_pretty(&r).map_err(|e| Error::config("collect", format!("cannot encode results.json: {e}")))?;
    write_atomic(&dir.join("results.csv"), &to_csv(&r)?)?;
    write_atomic(&dir.join("results.json"), json.as_bytes())?;
    Ok(r)
}
