//! What a run leaves behind besides the model: metrics files (and, later, plots).

mod metrics;

pub use metrics::{write_history_json, write_metrics_csv};
