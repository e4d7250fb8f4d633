//! The statistics the GPU leaves for the host, in one place: the layout of the epoch and
//! evaluation stats records, the `sum_final` jobs that fill them (run by plan.rs), and their
//! decoding after the epoch's one readback.
//!
//! Epoch stats: one record of `stats_stride(layers)` floats per step: the step's loss sum and
//! correct count (LOSS_FIELD, LOSS_FIELD + 1), then per layer l from `weight_field(l)` on
//! Σ regularised grad², Σ w², Σ |w| of its weights. Evaluation stats: one (loss sum, correct)
//! pair per chunk. Unit counters (fired flags, saturated counts) are Buffers::counters.

use super::buffers::Buffers;
use super::optimizer::TensorGrid;
use super::reduce::SumJob;
use crate::engine::{EpochStats, EvalStats, TrainSetup};
use crate::model::Activation;

/// The field of a record where the (loss sum, correct count) pair goes.
pub const LOSS_FIELD: u32 = 0;
/// Floats per evaluation chunk record: the (loss sum, correct count) pair.
pub const EVAL_STRIDE: u32 = 2;

/// The first of layer `layer`'s three fields (Σ grad², Σ w², Σ |w|) in a step record.
pub fn weight_field(layer: u32) -> u32 {
    2 + 3 * layer
}

/// Floats per step record in the epoch stats buffer.
pub fn stats_stride(layers: usize) -> u32 {
    weight_field(layers as u32)
}

/// Bytes of the epoch stats of `steps` steps.
pub fn train_bytes(layers: usize, steps: usize) -> u64 {
    4 * stats_stride(layers) as u64 * steps as u64
}

/// Bytes of the evaluation stats of `chunks` chunks.
pub fn eval_bytes(chunks: usize) -> u64 {
    4 * EVAL_STRIDE as u64 * chunks as u64
}

/// The jobs that fill a step record: the per-sample pairs, then each weight tensor's partial
/// triples (`tensors` in update order, weights before biases, biases without norm).
pub fn train_jobs(tensors: &[TensorGrid]) -> Vec<SumJob> {
    let mut jobs = vec![SumJob::per_sample()];
    for (l, t) in tensors.iter().filter(|t| t.norm_out.is_some()).enumerate() {
        jobs.push(SumJob::weight_sums(t, l as u32));
    }
    jobs
}

/// The one job that fills an evaluation chunk's record.
pub fn eval_jobs() -> Vec<SumJob> {
    vec![SumJob::per_sample()]
}

/// Decodes an epoch's step records (`stats`, `train_bytes` of them) and the unit counters
/// (`cnt`) into the epoch's statistics; the penalty is added per step as the CPU engine does.
pub fn epoch_stats(setup: &TrainSetup, bufs: &Buffers, stats: &[u32], cnt: &[u32], order_len: usize) -> EpochStats {
    let spec = &setup.spec;
    let layers = spec.num_layers();
    let reg = &setup.regularization;
    let stride = stats_stride(layers) as usize;
    let rec: &[f32] = bytemuck::cast_slice(stats);
    let batch = setup.batch;
    let steps = order_len.div_ceil(batch);
    let mut st = EpochStats {
        grad_norm_sum: vec![0.0; layers],
        dead_units: vec![0; layers - 1],
        saturated: vec![0; layers - 1],
        samples: order_len as u64,
        steps: steps as u64,
        ..Default::default()
    };
    for s in 0..steps {
        let r = &rec[s * stride..(s + 1) * stride];
        let rows = batch.min(order_len - s * batch) as f64;
        let mut pen = 0.0;
        for l in 0..layers {
            let w = weight_field(l as u32) as usize;
            let (gsq, wsq, wabs) = (r[w] as f64, r[w + 1] as f64, r[w + 2] as f64);
            pen += 0.5 * reg.l2_of(l) * wsq + reg.l1_of(l) * wabs;
            st.grad_norm_sum[l] += gsq.sqrt();
        }
        st.loss_sum += r[LOSS_FIELD as usize] as f64 + pen * rows;
        st.correct += r[LOSS_FIELD as usize + 1] as u64;
    }
    for l in 0..layers - 1 {
        let n = spec.sizes[l + 1];
        let (a, s) = (bufs.alive_off[l] as usize, bufs.sat_off[l] as usize);
        if matches!(spec.activations[l], Activation::Relu | Activation::LeakyRelu(_)) {
            st.dead_units[l] = cnt[a..a + n].iter().filter(|&&x| x == 0).count() as u64;
        }
        st.saturated[l] = cnt[s..s + n].iter().map(|&x| x as u64).sum();
    }
    st
}

/// Sums the chunks' (loss, correct) pairs of an evaluation over `samples` samples.
pub fn eval_stats(stats: &[u32], samples: usize) -> EvalStats {
    let rec: &[f32] = bytemuck::cast_slice(stats);
    let mut st = EvalStats { samples: samples as u64, ..Default::default() };
    for c in rec.chunks(EVAL_STRIDE as usize) {
        st.loss_sum += c[0] as f64;
        st.correct += c[1] as u64;
    }
    st
}

/// The sums that fill the stats layout (`sum_final`'s jobs name their fields here).
impl SumJob {
    /// The step's (or chunk's) per-sample (loss, correct) pairs into fields 0 and 1.
    pub fn per_sample() -> Self {
        SumJob { partials: false, off: 0, count: None, width: 2, out: LOSS_FIELD }
    }

    /// Layer `layer`'s Σ grad², Σ w², Σ |w| from the partial triples the fused update wrote for
    /// its weight tensor `t`, into its fields (`weight_field`).
    pub fn weight_sums(t: &TensorGrid, layer: u32) -> Self {
        SumJob { partials: true, off: t.norm_out.unwrap_or(0), count: Some(t.partials()), width: 3, out: weight_field(layer) }
    }
}
