//! Per-kernel device times for `bench`: timestamps around every dispatch of the leading steps.

use super::plans::TrainPlan;
use super::GpuEngine;
use crate::engine::KernelTime;
use crate::error::Result;

/// wgpu's cap on queries in one query set.
const MAX_QUERIES: usize = 4096;

/// The family a kernel's time is reported under.
fn kernel_family(label: &str) -> &'static str {
    match label {
        "abt" | "ab" | "atb" => "matmul",
        "gather" => "gather",
        "loss" => "loss",
        "update" => "optimizer",
        _ => "reduce",
    }
}

impl GpuEngine {
    /// Trains on as many leading steps of `order` as a query set can time (two stamps per
    /// dispatch) and sums the device time per kernel family.
    pub(super) fn profile_steps(&mut self, plan: &TrainPlan, order: &[u32], lr: f64) -> Result<Vec<KernelTime>> {
        let per_step = plan.step.len();
        let steps = order.len().div_ceil(self.setup.batch).min(MAX_QUERIES / (2 * per_step)).max(1);
        let order = &order[..order.len().min(steps * self.setup.batch)];
        let count = (2 * steps * per_step) as u32;
        let qs = self.ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("kernel times"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        self.run_epoch(plan, order, lr, Some(&qs))?;
        let resolved = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kernel times"),
            size: 8 * count as u64,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.resolve_query_set(&qs, 0..count, &resolved, 0);
        self.ctx.queue.submit([enc.finish()]);
        let out = self.read_back(&[(&resolved, 0, 8 * count as u64)])?;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&out[0]);
        let ns_per_tick = self.ctx.queue.get_timestamp_period() as f64;
        let mut families: Vec<KernelTime> = Vec::new();
        for (q, d) in ticks.chunks(2).zip(plan.step.iter().cycle()) {
            let family = kernel_family(d.label);
            let secs = q[1].saturating_sub(q[0]) as f64 * ns_per_tick * 1e-9 / steps as f64;
            match families.iter_mut().find(|f| f.family == family) {
                Some(f) => f.seconds_per_step += secs,
                None => families.push(KernelTime { family: family.into(), dispatches_per_step: 0, seconds_per_step: secs }),
            }
        }
        for f in &mut families {
            f.dispatches_per_step = plan.step.iter().filter(|d| kernel_family(d.label) == f.family).count();
        }
        Ok(families)
    }
}
