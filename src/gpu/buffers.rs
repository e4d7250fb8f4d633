//! Device buffers of one engine: parameters, gradients and optimizer slots (flat, like
//! `Params`), per-layer activations and gradients for a batch, and small scratch buffers.

use super::context::GpuContext;
use super::records::RECORD;
use super::optimizer::{clip_floats, tensor_grids, TensorGrid};
use crate::engine::TrainSetup;
use crate::error::{Error, Result};
use crate::model::ParamLayout;

/// Steps recorded per submit: bounds the step-record buffer (steps × records × 256 bytes).
pub const CHUNK_STEPS: usize = 256;

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

/// A zeroed storage buffer of `bytes` (at least 16), refused with a clear message when it exceeds
/// the adapter's storage-binding or buffer-size limit.
pub fn storage(ctx: &GpuContext, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
    let size = bytes.max(16).next_multiple_of(16);
    check_size(ctx, label, size)?;
    Ok(ctx.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size, usage: STORAGE, mapped_at_creation: false }))
}

/// A storage buffer holding `data` (zero-padded to a multiple of 16 bytes), written straight
/// into the mapped buffer: a dataset is not copied on the host on its way (C's peak memory).
pub fn storage_init<T: bytemuck::Pod>(ctx: &GpuContext, label: &str, data: &[T]) -> Result<wgpu::Buffer> {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    let size = (bytes.len() as u64).max(16).next_multiple_of(16);
    check_size(ctx, label, size)?;
    let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size, usage: STORAGE, mapped_at_creation: true });
    {
        let mut view = buffer.slice(..).get_mapped_range_mut().map_err(|e| Error::Gpu(format!("mapping {label} for upload: {e}")))?;
        view.slice(..bytes.len()).copy_from_slice(bytes);
    }
    buffer.unmap();
    Ok(buffer)
}

fn check_size(ctx: &GpuContext, label: &str, size: u64) -> Result<()> {
    let lim = &ctx.limits;
    if size > lim.max_storage_buffer_binding_size || size > lim.max_buffer_size {
        return Err(Error::Gpu(format!(
            "{label} needs {size} bytes, above this adapter's max_storage_buffer_binding_size ({}) / max_buffer_size ({}); \
             use a smaller dataset, batch or network, or the CPU engine",
            lim.max_storage_buffer_binding_size, lim.max_buffer_size
        )));
    }
    Ok(())
}

/// Every device buffer one training run uses, sized once for batches of up to `cap` rows.
pub struct Buffers {
    /// all parameters as one flat f32 buffer, laid out by `ParamLayout`
    pub params: wgpu::Buffer,
    /// gradients, the same layout as `params`
    pub grads: wgpu::Buffer,
    /// optimizer state slot 0 (e.g. momentum / Adam's m), the same layout as `params`
    pub slot0: wgpu::Buffer,
    /// optimizer state slot 1 (e.g. Adam's v), the same layout as `params`
    pub slot1: wgpu::Buffer,
    /// `h[0]` = input batch, `h[l]` = output of layer l-1 (cap rows each)
    pub h: Vec<wgpu::Buffer>,
    /// input of layer l after dropout (None: no dropout there)
    pub dropped: Vec<Option<wgpu::Buffer>>,
    /// ∂L/∂z of layer l
    pub dz: Vec<wgpu::Buffer>,
    /// gathered targets (cap × max(K, 1) words)
    pub targets: wgpu::Buffer,
    /// per-sample (loss, correct)
    pub sample: wgpu::Buffer,
    /// the training loss's class weights (one 1.0 when unweighted)
    pub class_weight: wgpu::Buffer,
    /// norm partial triples of every weight tensor, written by the fused update
    pub partials: wgpu::Buffer,
    /// --clip-norm's factor, norm and per-invocation Σg² (16 bytes without clipping)
    pub clip: wgpu::Buffer,
    /// the fused update's tensors, in record order: per layer weights (with norm) then bias
    pub tensors: Vec<TensorGrid>,
    /// per hidden unit: fired flag at `alive_off[l]`, saturated count at `sat_off[l]` (u32)
    pub counters: wgpu::Buffer,
    /// word offset in `counters` of hidden layer l's fired flags (one u32 per unit)
    pub alive_off: Vec<u32>,
    /// word offset in `counters` of hidden layer l's saturation counts (one u32 per unit)
    pub sat_off: Vec<u32>,
    /// u32 words in `counters`
    pub counter_words: u32,
    /// step records (read-only storage, bound at dynamic offsets): CHUNK_STEPS × records_per_step × 256 bytes
    pub steps: wgpu::Buffer,
    /// RECORD-byte slots per step: the Step, then one UpdateRecord per tensor
    pub records_per_step: usize,
    /// a small read-only buffer bound to a slot a dispatch does not use
    pub dummy_r: wgpu::Buffer,
    /// a small read-write buffer bound to a slot a dispatch does not use
    pub dummy_rw: wgpu::Buffer,
}

impl Buffers {
    /// Allocates every buffer for `setup`'s network and `cap` rows per batch; errors
    /// (`Error::Gpu`) when one exceeds the adapter's buffer size limits.
    pub fn new(ctx: &GpuContext, setup: &TrainSetup, layout: &ParamLayout, cap: usize) -> Result<Self> {
        let spec = &setup.spec;
        let layers = spec.num_layers();
        let pbytes = 4 * layout.len as u64;
        let slots = setup.optimizer.state_slots();
        let rows = cap as u64;
        let h = spec.sizes.iter().enumerate().map(|(i, &n)| storage(ctx, &format!("h{i}"), 4 * rows * n as u64)).collect::<Result<Vec<_>>>()?;
        let dropped = (0..layers)
            .map(|l| if setup.keep_of(l) < 1.0 { storage(ctx, &format!("dropped{l}"), 4 * rows * spec.sizes[l] as u64).map(Some) } else { Ok(None) })
            .collect::<Result<Vec<_>>>()?;
        let dz = (0..layers).map(|l| storage(ctx, &format!("dz{l}"), 4 * rows * spec.sizes[l + 1] as u64)).collect::<Result<Vec<_>>>()?;
        let list: Vec<(u32, u32, bool)> = layout
            .layers
            .iter()
            .flat_map(|s| [(s.weight as u32, s.weight_len() as u32, true), (s.bias as u32, s.outputs as u32, false)])
            .collect();
        let (tensors, partial_floats) = tensor_grids(&list);
        let (mut alive_off, mut sat_off, mut words) = (Vec::new(), Vec::new(), 0u32);
        for l in 0..layers - 1 {
            let n = spec.sizes[l + 1] as u32;
            alive_off.push(words);
            sat_off.push(words + n);
            words += 2 * n;
        }
        let records_per_step = 1 + 2 * layers;
        let step_bytes = (CHUNK_STEPS * records_per_step) as u64 * RECORD;
        if step_bytes > ctx.limits.max_buffer_size {
            return Err(Error::Gpu(format!("step records need {step_bytes} bytes, above max_buffer_size")));
        }
        let steps = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("steps"),
            size: step_bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Buffers {
            params: storage(ctx, "params", pbytes)?,
            grads: storage(ctx, "grads", pbytes)?,
            slot0: storage(ctx, "slot0", if slots >= 1 { pbytes } else { 16 })?,
            slot1: storage(ctx, "slot1", if slots >= 2 { pbytes } else { 16 })?,
            h,
            dropped,
            dz,
            targets: storage(ctx, "targets", 4 * rows * spec.outputs().max(1) as u64)?,
            sample: storage(ctx, "sample", 8 * rows)?,
            class_weight: storage_init(ctx, "class weight", if setup.train_loss.class_weight.is_empty() { &[1.0f32][..] } else { &setup.train_loss.class_weight })?,
            partials: storage(ctx, "partials", 4 * partial_floats as u64)?,
            clip: storage(ctx, "clip", if setup.optimizer.clip_norm.is_some() { 4 * clip_floats(&tensors) as u64 } else { 16 })?,
            tensors,
            counters: storage(ctx, "counters", 4 * words as u64)?,
            alive_off,
            sat_off,
            counter_words: words,
            steps,
            records_per_step,
            dummy_r: storage(ctx, "dummy_r", 256)?,
            dummy_rw: storage(ctx, "dummy_rw", 256)?,
        })
    }

    /// The input layer `l` multiplies in training: its dropped copy when dropout is on there.
    pub fn train_input(&self, l: usize) -> &wgpu::Buffer {
        self.dropped[l].as_ref().unwrap_or(&self.h[l])
    }
}
