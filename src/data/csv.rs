//! CSV tables: a header row, one sample per line, numeric feature columns and one target column.
//!
//! Numbers are parsed strictly: an empty cell, text, NaN or ±Inf is an error naming the file,
//! the line and the column. Target columns may hold class names ("setosa") for classification.

use super::dataset::{Dataset, Features, Targets};
use crate::error::{quoted, quoted_list, Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Most distinct integer values `CsvTask::Auto` still reads as class labels.
pub const AUTO_MAX_CLASSES: usize = 100;

/// What the target column means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsvTask {
    /// Class labels (integers or names), remapped to 0..k in sorted order.
    Classification,
    /// One real value per row.
    Regression,
    /// Integers with at most `AUTO_MAX_CLASSES` distinct values, or names: classification;
    /// other numbers: regression.
    Auto,
}

/// A loaded CSV table.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvData {
    /// Features F32 [len, dim]; targets `Classes` (labels 0..k) or `Values` (dim 1).
    pub dataset: Dataset,
    /// Header names of the feature columns, in order.
    pub feature_names: Vec<String>,
    /// Header name of the target column.
    pub target_name: String,
    /// For classification: the original value of each class, `class_names[label]`, sorted
    /// (numerically for integer labels, else lexicographically). `None` for regression.
    pub class_names: Option<Vec<String>>,
}

fn bad(path: &Path, msg: impl Into<String>) -> Error {
    Error::bad_file(path, msg)
}

/// A cell's position for messages: "line 5, column 3 ('petal_width')".
fn at(line: u64, col: usize, name: &str) -> String {
    format!("line {line}, column {} ({})", col + 1, quoted(name))
}

/// Strict number parsing: finite f32 only (Rust's parser alone would accept "inf" and "NaN").
fn parse_number(s: &str) -> std::result::Result<f32, String> {
    if s.is_empty() {
        return Err("empty value".into());
    }
    let v: f64 = s.parse().map_err(|_| format!("{} is not a number", quoted(s)))?;
    if v.is_nan() {
        return Err(format!("{} is NaN", quoted(s)));
    }
    if !v.is_finite() || v.abs() > f32::MAX as f64 {
        return Err(format!("{} is infinite or out of f32 range", quoted(s)));
    }
    Ok(v as f32)
}

/// Resolves `target` to a column: a header name first, then a 0-based index.
fn target_column(header: &[String], target: &str, path: &Path) -> Result<usize> {
    let by_name: Vec<usize> = (0..header.len()).filter(|&i| header[i] == target).collect();
    match by_name.len() {
        1 => return Ok(by_name[0]),
        0 => {}
        _ => return Err(bad(path, format!("the header names {} columns {}", by_name.len(), quoted(target)))),
    }
    if let Ok(i) = target.parse::<usize>() {
        if i < header.len() {
            return Ok(i);
        }
        return Err(bad(path, format!("target column index {i} is out of range: the file has {} columns", header.len())));
    }
    Err(bad(path, format!("no target column {} (columns: {})", quoted(target), quoted_list(header, 12))))
}

/// The field separator of a table file: tab for `.tsv` and `.tab`, else a comma.
pub fn delimiter_of(path: &Path) -> u8 {
    match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("tsv" | "tab") => b'\t',
        _ => b',',
    }
}

/// Loads `path` (header row required) with column `target` (name or 0-based index) as the target.
pub fn load_csv(path: impl AsRef<Path>, target: &str, task: CsvTask) -> Result<CsvData> {
    let path = path.as_ref();
    let file = crate::memory::open_bounded(path)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter_of(path))
        .has_headers(true)
        .flexible(true) // we check row lengths ourselves for a clearer message
        .trim(::csv::Trim::All)
        .from_reader(file);
    let csv_err = |e: ::csv::Error| match e.kind() {
        ::csv::ErrorKind::Io(io) => crate::memory::too_big_or_io(path, std::io::Error::new(io.kind(), io.to_string())),
        _ => bad(path, format!("cannot read CSV: {}", crate::error::clipped(e))),
    };

    let header: Vec<String> = reader.headers().map_err(csv_err)?.iter().map(str::to_string).collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(bad(path, "empty file: expected a header row"));
    }
    if header.len() < 2 {
        return Err(bad(path, "only one column: need at least one feature column and a target column"));
    }
    let t = target_column(&header, target, path)?;

    let mut features = Vec::new();
    let mut raw_targets: Vec<(String, u64)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.len() == 1 && record.get(0) == Some("") {
            continue; // blank line
        }
        if record.len() != header.len() {
            return Err(bad(path, format!("line {line} has {} fields but the header has {}", record.len(), header.len())));
        }
        for (c, cell) in record.iter().enumerate() {
            if c == t {
                raw_targets.push((cell.to_string(), line));
            } else {
                features.push(parse_number(cell).map_err(|m| bad(path, format!("{}: {m}", at(line, c, &header[c]))))?);
            }
        }
    }
    if raw_targets.is_empty() {
        return Err(bad(path, "no data rows after the header"));
    }

    let target_name = header[t].clone();
    let (targets, class_names) = build_targets(&raw_targets, task, path, t, &target_name)?;
    let dim = header.len() - 1;
    let dataset = Dataset::new(Features::F32(features), dim, targets).map_err(|e| bad(path, e.to_string()))?;
    let feature_names = header.iter().enumerate().filter(|&(i, _)| i != t).map(|(_, h)| h.clone()).collect();
    Ok(CsvData { dataset, feature_names, target_name, class_names })
}

type BuiltTargets = (Targets, Option<Vec<String>>);

fn build_targets(raw: &[(String, u64)], task: CsvTask, path: &Path, col: usize, name: &str) -> Result<BuiltTargets> {
    let numbers: Vec<Option<f32>> = raw.iter().map(|(s, _)| parse_number(s).ok()).collect();
    let all_numeric = numbers.iter().all(Option::is_some);
    let none_numeric = numbers.iter().all(Option::is_none);
    // NaN/Inf/empty are errors whatever the task; so is a mix of numbers and names.
    // (Rust's parser reads "nan", "inf" and "infinity": those are caught as non-finite here.)
    for (i, (s, line)) in raw.iter().enumerate() {
        let nonfinite = s.parse::<f64>().map(|v| !v.is_finite() || v.abs() > f32::MAX as f64).unwrap_or(false);
        if s.is_empty() || nonfinite || (numbers[i].is_none() && !none_numeric) {
            let why = parse_number(s).err().unwrap_or_else(|| format!("{} is not a number", quoted(s)));
            return Err(bad(path, format!("{}: {why}", at(*line, col, name))));
        }
    }
    let is_int = |v: f32| v.fract() == 0.0 && v.abs() < 16_777_216.0;
    let classify = match task {
        CsvTask::Classification => true,
        CsvTask::Regression => {
            if !all_numeric {
                let (s, line) = &raw[0];
                return Err(bad(path, format!("{}: {} is not a number (regression needs numeric targets)", at(*line, col, name), quoted(s))));
            }
            false
        }
        CsvTask::Auto => {
            if none_numeric {
                true
            } else {
                let ints = numbers.iter().flatten().all(|&v| is_int(v));
                let distinct: std::collections::BTreeSet<i64> = numbers.iter().flatten().map(|&v| v as i64).collect();
                ints && distinct.len() <= AUTO_MAX_CLASSES
            }
        }
    };
    if !classify {
        let data: Vec<f32> = numbers.into_iter().flatten().collect();
        return Ok((Targets::Values { data, dim: 1 }, None));
    }
    // Class keys sorted numerically (integers) or as text (names); labels are ranks in that order.
    let (labels, names) = if all_numeric {
        if let Some(pos) = numbers.iter().position(|v| !v.is_some_and(is_int)) {
            let (s, line) = &raw[pos];
            let v = numbers[pos].unwrap_or(f32::NAN);
            let why = if v.fract() == 0.0 {
                format!("class label {} is too large for a class index (integer labels must be below 16777216 in magnitude)", quoted(s))
            } else {
                format!("class label {} is not an integer", quoted(s))
            };
            return Err(bad(path, format!("{}: {why}", at(*line, col, name))));
        }
        let keys: Vec<i64> = numbers.iter().flatten().map(|&v| v as i64).collect();
        rank(&keys, |k| k.to_string())
    } else {
        let keys: Vec<&str> = raw.iter().map(|(s, _)| s.as_str()).collect();
        rank(&keys, |k| k.to_string())
    };
    if names.len() < 2 {
        return Err(bad(path, format!("target column {} holds a single class ({}); classification needs at least 2", quoted(name), quoted(&names[0]))));
    }
    Ok((Targets::Classes { labels, num_classes: names.len() }, Some(names)))
}

/// Maps each key to its rank among the sorted distinct keys; returns (ranks, names in rank order).
fn rank<K: Ord + Copy>(keys: &[K], name: impl Fn(K) -> String) -> (Vec<u32>, Vec<String>) {
    let mut index: BTreeMap<K, u32> = keys.iter().map(|&k| (k, 0)).collect();
    let mut names = Vec::with_capacity(index.len());
    for (i, (k, slot)) in index.iter_mut().enumerate() {
        *slot = i as u32;
        names.push(name(*k));
    }
    (keys.iter().map(|k| index[k]).collect(), names)
}
