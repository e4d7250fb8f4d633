//! Recording steps: an epoch's (or an evaluation's) steps are recorded CHUNK_STEPS at a time into
//! one command buffer each, with their records written into the step buffer first; with a query
//! set every dispatch is its own pass between two timestamps.

use super::plans::TrainPlan;
use super::GpuEngine;
use bytemuck::Zeroable;
use crate::data::Dataset;
use crate::engine::EpochStats;
use crate::error::{Error, Result};
use crate::gpu::buffers::CHUNK_STEPS;
use crate::gpu::optimizer::update_record;
use crate::gpu::pipeline::Dispatch;
use crate::gpu::records::{RecordSlot, Step, RECORD};
use crate::gpu::stats;
use crate::optim::UpdateParams;

impl GpuEngine {
    /// Records and submits `n` steps of `dispatches`, `fill(i, slots)` writing step i's records;
    /// `rows(i)` its row count. `first_alone`: submit step 0 by itself and time it.
    pub(super) fn run_steps(
        &mut self,
        dispatches: &[Dispatch],
        n: usize,
        rows: impl Fn(usize) -> u32,
        mut fill: impl FnMut(usize, &mut [RecordSlot]),
        before: impl FnOnce(&mut wgpu::CommandEncoder),
        first_alone: bool,
        timestamps: Option<&wgpu::QuerySet>,
    ) -> Result<()> {
        let recs = self.bufs.records_per_step;
        let mut before = Some(before);
        let mut s = 0;
        while s < n {
            let len = if first_alone && s == 0 { 1 } else { CHUNK_STEPS.min(n - s) };
            let mut slots = vec![RecordSlot::zeroed(); len * recs];
            for i in 0..len {
                fill(s + i, &mut slots[i * recs..(i + 1) * recs]);
            }
            let ctx = self.ctx.clone();
            ctx.scoped("recording steps", || {
                ctx.queue.write_buffer(&self.bufs.steps, 0, bytemuck::cast_slice(&slots));
                let mut enc = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("steps") });
                if let Some(f) = before.take() {
                    f(&mut enc);
                }
                if let Some(qs) = timestamps {
                    // profiling: every dispatch in a pass of its own, stamped at both ends
                    for i in 0..len {
                        let base = (i * recs) as u64 * RECORD;
                        let r = rows(s + i);
                        for (j, d) in dispatches.iter().enumerate() {
                            let q = 2 * ((s + i) * dispatches.len() + j) as u32;
                            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                                label: Some(d.label),
                                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                                    query_set: qs,
                                    beginning_of_pass_write_index: Some(q),
                                    end_of_pass_write_index: Some(q + 1),
                                }),
                            });
                            d.record_into(&mut pass, base, r);
                        }
                    }
                } else {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("steps"), timestamp_writes: None });
                    for i in 0..len {
                        let base = (i * recs) as u64 * RECORD;
                        let r = rows(s + i);
                        for d in dispatches {
                            d.record_into(&mut pass, base, r);
                        }
                    }
                }
                ctx.queue.submit([enc.finish()]);
            })?;
            if first_alone && s == 0 && self.first_step.is_none() {
                self.ctx.wait()?;
                self.first_step = Some(self.started.elapsed());
            }
            s += len;
        }
        Ok(())
    }

    pub(super) fn run_epoch(&mut self, plan: &TrainPlan, order: &[u32], lr: f64, timestamps: Option<&wgpu::QuerySet>) -> Result<EpochStats> {
        let batch = self.setup.batch;
        let n = order.len();
        let steps = n.div_ceil(batch);
        self.ctx.queue.write_buffer(&plan.perm, 0, bytemuck::cast_slice(order));
        let (cfg, reg) = (self.setup.optimizer.clone(), self.setup.regularization.clone());
        let tensors = self.bufs.tensors.clone();
        let step0 = self.step;
        let clip = cfg.clip_norm.is_some();
        let counters = self.bufs.counters.clone();
        let counter_bytes = 4 * self.bufs.counter_words as u64;
        self.run_steps(
            &plan.step,
            steps,
            |s| batch.min(n - s * batch) as u32,
            |s, w| {
                let rows = batch.min(n - s * batch);
                let global = step0 + s as u64;
                w[0] = RecordSlot::of(&Step::new(rows as u32, (s * batch) as u32, global as u32, s as u32, 1.0 / rows as f32));
                let t = global + 1;
                // tensors are per layer weights then bias (Buffers::new)
                for (i, grid) in tensors.iter().enumerate() {
                    let (l, is_bias) = (i / 2, i % 2 == 1);
                    let u = UpdateParams::new(&cfg, lr, t, reg.l2_of(l), reg.l1_of(l), reg.l1_proximal, is_bias);
                    w[1 + i] = RecordSlot::of(&update_record(&u, grid, clip));
                }
            },
            |enc| {
                if counter_bytes > 0 {
                    enc.clear_buffer(&counters, 0, None);
                }
            },
            timestamps.is_none(),
            timestamps,
        )?;
        self.step += steps as u64;
        let stats_bytes = stats::train_bytes(self.setup.spec.num_layers(), steps);
        let out = self.read_back(&[(&plan.stats, 0, stats_bytes), (&counters, 0, counter_bytes)])?;
        Ok(stats::epoch_stats(&self.setup, &self.bufs, &out[0], &out[1], n))
    }

    /// Runs `eval` or `predict` dispatches over `data` in chunks of `cap` rows.
    pub(super) fn run_chunks(&mut self, data: &Dataset, predict: bool) -> Result<()> {
        self.ensure_eval(data)?;
        let plan = self.eval.take().ok_or_else(|| Error::Gpu("evaluation plan missing".into()))?;
        let (cap, len) = (self.cap, data.len);
        let chunks = len.div_ceil(cap);
        let d = if predict { &plan.predict } else { &plan.eval };
        let r = self.run_steps(
            d,
            chunks,
            |c| cap.min(len - c * cap) as u32,
            |c, w| {
                let rows = cap.min(len - c * cap);
                w[0] = RecordSlot::of(&Step::new(rows as u32, (c * cap) as u32, 0, c as u32, 1.0 / rows as f32));
            },
            |_| {},
            false,
            None,
        );
        self.eval = Some(plan);
        r
    }
}
