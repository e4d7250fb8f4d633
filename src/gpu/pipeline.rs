//! What every launcher shares: bind-group layouts from a list of slots, pipelines, and the
//! `Dispatch` a launcher hands to the engine (pipeline + bind group + grid) for recording.

use super::shaders::{Module, Source};
use crate::error::{Error, Result};
use wgpu::util::DeviceExt;

use super::records::RECORD;

/// What binding i of a kernel's bind-group layout holds (all storage buffers, compute stage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// the per-step record, bound with a dynamic offset
    Step,
    /// static per-dispatch constants
    Dims,
    /// a read-only storage buffer
    Read,
    /// a read-write storage buffer
    ReadWrite,
}

/// The bind-group layout whose binding i is `slots[i]`; only `Slot::Step` has a dynamic offset.
pub fn layout(dev: &wgpu::Device, label: &str, slots: &[Slot]) -> wgpu::BindGroupLayout {
    let entries: Vec<wgpu::BindGroupLayoutEntry> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| wgpu::BindGroupLayoutEntry {
            binding: i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: match s {
                    Slot::Step | Slot::Dims | Slot::Read => wgpu::BufferBindingType::Storage { read_only: true },
                    Slot::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                },
                has_dynamic_offset: *s == Slot::Step,
                min_binding_size: None,
            },
            count: None,
        })
        .collect();
    dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(label), entries: &entries })
}

/// Compiles shader module `m` from its resolved source (shaders.rs), without wgpu's runtime
/// bounds checks when `m.proven_in_bounds()`.
pub fn module(dev: &wgpu::Device, m: Module) -> Result<wgpu::ShaderModule> {
    // SAFETY (trusted only when proven): the module's every index is in bounds for the buffers
    // its launcher binds (Module::proven_in_bounds says why) and its loops are bounded by the
    // shape, so wgpu's runtime bounds checks and loop bounding only cost time (benches/NOTES.md).
    unsafe { compile(dev, &m.name(), &m.composed(), m.proven_in_bounds()) }
}

/// Compiles `src` as the module `label`. An error comes back as one line at the shader file's own
/// line (`common.wgsl:12:5: …`), not at the composed text's, which only the loader knows.
///
/// # Safety
/// With `trusted`, the module is created without runtime bounds checks: every index it computes
/// must be in bounds for the buffers bound to it.
pub unsafe fn compile(dev: &wgpu::Device, label: &str, src: &Source, trusted: bool) -> Result<wgpu::ShaderModule> {
    let desc = wgpu::ShaderModuleDescriptor { label: Some(label), source: wgpu::ShaderSource::Wgsl(src.text.as_str().into()) };
    // a scope of its own, so the error is this function's to report, located
    let scope = dev.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = if trusted {
        // SAFETY: the caller's promise
        unsafe { dev.create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked()) }
    } else {
        dev.create_shader_module(desc)
    };
    let scoped = pollster::block_on(scope.pop());
    let info = pollster::block_on(module.get_compilation_info());
    if let Some(m) = info.messages.iter().find(|m| m.message_type == wgpu::CompilationMessageType::Error) {
        let at = m.location.and_then(|l| src.locate(l.offset as usize)).map_or(String::new(), |l| format!("{l}: "));
        // naga's message is a multi-line report whose first line names the error
        let what = m.message.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid shader").trim();
        return Err(Error::Gpu(format!("shader module {label}: {at}{}", what.trim_start_matches("error: "))));
    }
    match scoped {
        Some(e) => Err(Error::Gpu(format!("shader module {label}: {}", e.to_string().lines().next().unwrap_or("invalid")))),
        None => Ok(module),
    }
}

/// The compute pipeline for entry point `entry` of `module`, with `layout` as its only bind group (group 0).
pub fn pipeline(dev: &wgpu::Device, layout: &wgpu::BindGroupLayout, module: &wgpu::ShaderModule, entry: &str) -> wgpu::ComputePipeline {
    let pl = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(entry),
        bind_group_layouts: &[Some(layout)],
        immediate_size: 0,
    });
    dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: Some(&pl),
        module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// A resource for one binding: the step buffer (one record, dynamic offset), a small read-only
/// storage buffer of dims (a record's words), or a whole storage buffer.
pub enum Res<'a> {
    /// the step buffer, one RECORD-byte slot seen from the dynamic offset
    Step(&'a wgpu::Buffer),
    /// `n` consecutive records from the dynamic offset on (a Step slot seeing a step's block)
    Records(&'a wgpu::Buffer, u32),
    /// a record's words, uploaded now into a new read-only buffer (padded to 16 bytes)
    Dims(&'a [u32]),
    /// a whole storage buffer
    Buf(&'a wgpu::Buffer),
}

/// The bind group whose binding i is `res[i]` (in the order of `layout`'s slots); creates one
/// small buffer per `Res::Dims`.
pub fn bind_group(dev: &wgpu::Device, layout: &wgpu::BindGroupLayout, label: &str, res: &[Res]) -> wgpu::BindGroup {
    let dims: Vec<Option<wgpu::Buffer>> = res
        .iter()
        .map(|r| match r {
            Res::Dims(words) => {
                // pad to 16 bytes (every record already is a multiple of 16; any word list then binds)
                let mut w = words.to_vec();
                w.resize(words.len().div_ceil(4).max(1) * 4, 0);
                Some(dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::cast_slice(&w),
                    usage: wgpu::BufferUsages::STORAGE,
                }))
            }
            _ => None,
        })
        .collect();
    let entries: Vec<wgpu::BindGroupEntry> = res
        .iter()
        .zip(&dims)
        .enumerate()
        .map(|(i, (r, d))| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: match (r, d) {
                (Res::Step(b), _) => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: b,
                    offset: 0,
                    size: wgpu::BufferSize::new(RECORD),
                }),
                (Res::Records(b, n), _) => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: b,
                    offset: 0,
                    size: wgpu::BufferSize::new(RECORD * *n as u64),
                }),
                (_, Some(d)) => d.as_entire_binding(),
                (Res::Buf(b), _) => b.as_entire_binding(),
                (Res::Dims(_), None) => unreachable!("dims buffers are made above"),
            },
        })
        .collect();
    dev.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(label), layout, entries: &entries })
}

/// How many workgroups a dispatch needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    /// (x, y, z) workgroups whatever the step
    Fixed(u32, u32, u32),
    /// x fixed, y = ceil(rows / rows_per_group) for this step's row count
    Rows {
        /// workgroups along x
        x: u32,
        /// batch rows one workgroup covers along y
        rows_per_group: u32,
    },
}

/// One recorded kernel launch of a plan.
#[derive(Clone, Debug)]
pub struct Dispatch {
    /// the kernel's entry point, for profiles
    pub label: &'static str,
    /// the kernel's compute pipeline
    pub pipeline: wgpu::ComputePipeline,
    /// its bind group (group 0)
    pub bind_group: wgpu::BindGroup,
    /// which record of the step the dynamic offset points at (0: the Step; 1 + i: tensor i's update)
    pub record: u32,
    /// how many workgroups to dispatch
    pub grid: Grid,
}

impl Dispatch {
    /// `step_base`: byte offset of this step's first record in the step buffer.
    pub fn record_into(&self, pass: &mut wgpu::ComputePass<'_>, step_base: u64, rows: u32) {
        let (x, y, z) = match self.grid {
            Grid::Fixed(x, y, z) => (x, y, z),
            Grid::Rows { x, rows_per_group } => (x, rows.div_ceil(rows_per_group), 1),
        };
        if x == 0 || y == 0 || z == 0 {
            return;
        }
        pass.set_pipeline(&self.pipeline);
        let offset = step_base + self.record as u64 * RECORD;
        pass.set_bind_group(0, &self.bind_group, &[offset as u32]);
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Workgroups for `n` invocations of `per` each, split over x and y to respect the per-dimension
/// limit (kernels rebuild the index as x + y·nx·per).
pub fn grid_1d(n: u32, per: u32, max_dim: u32) -> Grid {
    let groups = n.div_ceil(per);
    if groups <= max_dim {
        Grid::Fixed(groups, 1, 1)
    } else {
        let y = groups.div_ceil(max_dim);
        Grid::Fixed(groups.div_ceil(y), y, 1)
    }
}

