//! Host side of shaders/reduce.wgsl (CPU twins: src/cpu/reduce.rs).

use super::pipeline::{bind_group, f, layout, module, pipeline, Dispatch, Grid, Res, Slot};
use super::shaders::Module;

/// Elements per norm_partial workgroup (CHUNK in reduce.wgsl).
pub const NORM_CHUNK: u32 = 16384;

pub fn norm_partials(len: u32) -> u32 {
    len.div_ceil(NORM_CHUNK)
}

pub struct ReduceBuffers<'a> {
    pub step: &'a wgpu::Buffer,
    pub src: &'a wgpu::Buffer,
    pub src2: &'a wgpu::Buffer,
    pub dst: &'a wgpu::Buffer,
    pub counters: &'a wgpu::Buffer,
}

pub struct ReduceKernels {
    layout: wgpu::BindGroupLayout,
    bias_grad: wgpu::ComputePipeline,
    norm_partial: wgpu::ComputePipeline,
    sum_final: wgpu::ComputePipeline,
    unit_stats: wgpu::ComputePipeline,
}

#[derive(Default)]
struct Dims {
    n: u32,
    off: u32,
    off2: u32,
    out: u32,
    act: u32,
    l2: f32,
    l1: f32,
    count: u32,
    width: u32,
    from_rows: bool,
    stride: u32,
}

impl Dims {
    fn words(&self) -> [u32; 12] {
        [self.n, self.off, self.off2, self.out, self.act, f(self.l2), f(self.l1), self.count, self.width,
         self.from_rows as u32, self.stride, 0]
    }
}

impl ReduceKernels {
    pub fn new(dev: &wgpu::Device) -> Self {
        use Slot::*;
        let layout = layout(dev, "reduce", &[Step, Dims, Read, Read, ReadWrite, ReadWrite]);
        let m = module(dev, Module::Reduce);
        ReduceKernels {
            bias_grad: pipeline(dev, &layout, &m, "bias_grad"),
            norm_partial: pipeline(dev, &layout, &m, "norm_partial"),
            sum_final: pipeline(dev, &layout, &m, "sum_final"),
            unit_stats: pipeline(dev, &layout, &m, "unit_stats"),
            layout,
        }
    }

    fn make(&self, dev: &wgpu::Device, label: &'static str, p: &wgpu::ComputePipeline, d: Dims, b: &ReduceBuffers, grid: Grid) -> Dispatch {
        let words = d.words();
        let bg = bind_group(
            dev,
            &self.layout,
            "reduce",
            &[Res::Step(b.step), Res::Dims(&words), Res::Buf(b.src), Res::Buf(b.src2), Res::Buf(b.dst), Res::Buf(b.counters)],
        );
        Dispatch { label, pipeline: p.clone(), bind_group: bg, record: 0, grid }
    }

    /// src = dz (B, n) -> dst[out..out+n] column sums.
    pub fn bias_grad(&self, dev: &wgpu::Device, n: u32, out: u32, b: &ReduceBuffers) -> Dispatch {
        let d = Dims { n, out, ..Default::default() };
        self.make(dev, "bias_grad", &self.bias_grad, d, b, Grid::Fixed(n.div_ceil(64), 1, 1))
    }

    /// src = gradients, src2 = parameters; tensor [off, off+len) -> dst[out..] partial triples.
    pub fn norm_partial(&self, dev: &wgpu::Device, len: u32, off: u32, l2: f32, l1_sub: f32, out: u32, b: &ReduceBuffers) -> Dispatch {
        let d = Dims { n: len, off, out, l2, l1: l1_sub, ..Default::default() };
        self.make(dev, "norm_partial", &self.norm_partial, d, b, Grid::Fixed(norm_partials(len), 1, 1))
    }

    /// Sums `count` (or, with `count = None`, this step's rows) records of `width` floats from
    /// src[off..] into dst[stat·stride + out ..].
    #[allow(clippy::too_many_arguments)]
    pub fn sum_final(&self, dev: &wgpu::Device, count: Option<u32>, width: u32, off: u32, out: u32, stride: u32, b: &ReduceBuffers) -> Dispatch {
        let d = Dims { off, out, count: count.unwrap_or(0), width, from_rows: count.is_none(), stride, ..Default::default() };
        self.make(dev, "sum_final", &self.sum_final, d, b, Grid::Fixed(1, 1, 1))
    }

    /// src = h (B, n) -> counters[alive..] fired flags, counters[sat..] saturated counts.
    pub fn unit_stats(&self, dev: &wgpu::Device, n: u32, act: u32, alive: u32, sat: u32, b: &ReduceBuffers) -> Dispatch {
        let d = Dims { n, act, off: alive, off2: sat, ..Default::default() };
        self.make(dev, "unit_stats", &self.unit_stats, d, b, Grid::Fixed(n.div_ceil(64), 1, 1))
    }
}
