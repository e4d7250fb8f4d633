//! The adapter's limits against a run's shapes, checked before any buffer is made, so a layer or
//! batch too large for this GPU ends with one line naming the flag and the limit.

use super::context::GpuContext;
use super::matmul::MATMUL_TILE;
use crate::engine::TrainSetup;
use crate::error::{Error, Result};

/// Rows per workgroup of the kernel that covers the fewest rows per group (the gather).
const FEWEST_ROWS_PER_GROUP: u64 = 4;

/// `cap`: rows of the activation buffers (max of the batch and the evaluation chunk).
pub fn check_shapes(ctx: &GpuContext, setup: &TrainSetup, cap: usize, eval_rows: usize) -> Result<()> {
    let lim = &ctx.limits;
    let binding = lim.max_storage_buffer_binding_size.min(lim.max_buffer_size);
    let max_dim = lim.max_compute_workgroups_per_dimension as u64;
    let max_rows = max_dim * FEWEST_ROWS_PER_GROUP;
    if setup.batch as u64 > max_rows {
        return Err(Error::config(
            "batch",
            format!("{} is above this adapter's limit of {max_rows} rows (max_compute_workgroups_per_dimension {max_dim})", setup.batch),
        ));
    }
    let spec = &setup.spec;
    let max_units = max_dim * MATMUL_TILE as u64;
    if let Some(&n) = spec.sizes.iter().find(|&&n| n as u64 > max_units) {
        return Err(Error::config(
            "layers",
            format!("a layer of {n} units is above this adapter's limit of {max_units} (max_compute_workgroups_per_dimension {max_dim})"),
        ));
    }
    let params: u64 = (0..spec.num_layers()).map(|l| { let (o, i) = spec.layer_shape(l); (o * i + o) as u64 * 4 }).sum();
    if params > binding {
        return Err(Error::config(
            "layers",
            format!("the parameters need {params} bytes, above this adapter's max_storage_buffer_binding_size ({binding}); use --device cpu or smaller layers"),
        ));
    }
    for &n in &spec.sizes {
        let bytes = 4 * cap as u64 * n as u64;
        if bytes > binding {
            // blame the batch only where the evaluation chunk alone would fit
            let flag = if 4 * eval_rows as u64 * n as u64 > binding { "layers" } else { "batch" };
            return Err(Error::config(
                flag,
                format!("{cap} rows of a {n}-unit layer need {bytes} bytes, above this adapter's max_storage_buffer_binding_size ({binding})"),
            ));
        }
    }
    Ok(())
}
