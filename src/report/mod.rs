//! What a run leaves behind besides the model: metrics files and plots; evaluation metrics and
//! the cost estimate `info` prints.

pub mod cost;
pub mod ensemble;
pub mod eval;
mod metrics;
mod plot;

pub use metrics::{write_history_json, write_metrics_csv, MetricsLog};
pub use plot::{curves_png_size, weights_png_size, write_curves_png, write_weights_png, BEST, CURVES_SIZE};
