//! What a run leaves behind besides the model: metrics files (and, later, plots); evaluation
//! metrics and the cost estimate `info` prints.

pub mod cost;
pub mod eval;
mod metrics;

pub use metrics::{write_history_json, write_metrics_csv};
