//! Host side of shaders/reduce.wgsl (CPU twins: src/cpu/reduce.rs).

use crate::error::Result;
use super::pipeline::{bind_group, layout, module, pipeline, Dispatch, Grid, Res, Slot};
use super::records::{self, words, ReduceDims, SUM_ROWS, SUM_SOURCE_PAIRS, SUM_SOURCE_PARTIALS};
use super::shaders::Module;

pub use super::consts::{REDUCE_WG, UNIT_STATS_WG};

/// One sum of `sum_final`: `count` records of `width` floats from src[off..] (`partials`: from
/// src2) into field `out` of this step's stats record; `record()` makes reduce.wgsl's SumJob.
#[derive(Clone, Copy, Debug)]
pub struct SumJob {
    /// sum the norm partial triples (`src2`) instead of per-sample pairs (`src`)
    pub partials: bool,
    /// float offset of the first record in the source
    pub off: u32,
    /// None: this step's rows
    pub count: Option<u32>,
    /// floats per record summed (1..=3)
    pub width: u32,
    /// float offset within the step's stats record where the sums go
    pub out: u32,
}

impl SumJob {
    /// reduce.wgsl's SumJob record of this job.
    pub fn record(&self) -> records::SumJob {
        records::SumJob {
            source: if self.partials { SUM_SOURCE_PARTIALS } else { SUM_SOURCE_PAIRS },
            off: self.off,
            count: self.count.unwrap_or(SUM_ROWS),
            width: self.width,
            out: self.out,
            ..Default::default()
        }
    }
}

/// The buffers reduce.wgsl binds, in binding order after the dims.
pub struct ReduceBuffers<'a> {
    /// the step records (binding 0, dynamic offset)
    pub step: &'a wgpu::Buffer,
    /// `sum_final`: per-sample (loss, correct) pairs; `unit_stats`: a layer's h: (rows, n)
    pub src: &'a wgpu::Buffer,
    /// the norm partial triples (`SUM_SOURCE_PARTIALS` jobs)
    pub src2: &'a wgpu::Buffer,
    /// the epoch stats buffer: one record of `stride` floats per step
    pub dst: &'a wgpu::Buffer,
    /// the per-unit fired / saturation counters (u32)
    pub counters: &'a wgpu::Buffer,
}

/// reduce.wgsl's `sum_final` and `unit_stats` pipelines (CPU twins in src/cpu/reduce.rs).
pub struct ReduceKernels {
    layout: wgpu::BindGroupLayout,
    sum_final: wgpu::ComputePipeline,
    unit_stats: wgpu::ComputePipeline,
}

impl ReduceKernels {
    /// Builds both reduce pipelines on `dev`.
    pub fn new(dev: &wgpu::Device) -> Result<Self> {
        use Slot::*;
        // binding 6: sum_final's job table (the other entries get a zeroed one)
        let layout = layout(dev, "reduce", &[Step, Dims, Read, Read, ReadWrite, ReadWrite, Dims]);
        let m = module(dev, Module::Reduce)?;
        Ok(ReduceKernels {
            sum_final: pipeline(dev, &layout, &m, "sum_final"),
            unit_stats: pipeline(dev, &layout, &m, "unit_stats"),
            layout,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn make(&self, dev: &wgpu::Device, label: &'static str, p: &wgpu::ComputePipeline, d: ReduceDims, jobs: &[SumJob], b: &ReduceBuffers, grid: Grid) -> Dispatch {
        // never empty: a binding holds at least one SumJob
        let mut table: Vec<records::SumJob> = jobs.iter().map(SumJob::record).collect();
        if table.is_empty() {
            table.push(records::SumJob::default());
        }
        let bg = bind_group(
            dev,
            &self.layout,
            "reduce",
            &[Res::Step(b.step), Res::Dims(words(&d)), Res::Buf(b.src), Res::Buf(b.src2), Res::Buf(b.dst), Res::Buf(b.counters),
              Res::Dims(bytemuck::cast_slice(&table))],
        );
        Dispatch { label, pipeline: p.clone(), bind_group: bg, record: 0, grid }
    }

    /// One workgroup per job: src = per-sample pairs, src2 = partial triples -> dst, the epoch
    /// stats buffer (records of `stride` floats, this step's at st.stat).
    pub fn sum_final(&self, dev: &wgpu::Device, jobs: &[SumJob], stride: u32, b: &ReduceBuffers) -> Dispatch {
        let d = ReduceDims { stride, ..Default::default() };
        self.make(dev, "sum_final", &self.sum_final, d, jobs, b, Grid::Fixed(jobs.len() as u32, 1, 1))
    }

    /// src = h (B, n) -> `counters[alive..]` fired flags, `counters[sat..]` saturated counts.
    pub fn unit_stats(&self, dev: &wgpu::Device, n: u32, act: u32, alive: u32, sat: u32, b: &ReduceBuffers) -> Dispatch {
        let d = ReduceDims { n, act, off: alive, off2: sat, ..Default::default() };
        self.make(dev, "unit_stats", &self.unit_stats, d, &[], b, Grid::Fixed(n.div_ceil(UNIT_STATS_WG), 1, 1))
    }
}
