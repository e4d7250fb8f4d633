//! What a network costs before anything runs: parameters, FLOPs per sample, and the memory a
//! training run holds (parameters, gradients, optimizer slots, a batch's activations, the
//! resident training set). Counts are for f32 and the flat parameter layout (tensors padded to
//! multiples of 4 elements for vec4 loads).

use crate::engine::TrainSetup;
use crate::error::Result;
pub use crate::memory::{available_memory, check_memory, human_bytes};
use crate::model::{NetworkSpec, ParamLayout};
use serde::Serialize;

/// One dense layer's size and work.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerCost {
    /// Layer index, 0 for the one reading the input.
    pub layer: usize,
    /// Input features.
    pub inputs: usize,
    /// Output units.
    pub outputs: usize,
    /// Activation after the layer, or the loss in parentheses for the last one (its output
    /// nonlinearity), e.g. "relu", "(softmax_xent)".
    pub activation: String,
    /// Weights and biases: outputs·(inputs + 1), without padding.
    pub params: usize,
    /// FLOPs of the layer's forward product for one sample: 2·inputs·outputs.
    pub forward_flops: u64,
}

/// Bytes a training run holds, by what holds them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Memory {
    /// The flat parameter buffer (padding included).
    pub parameters: u64,
    /// The gradient buffer, the same size.
    pub gradients: u64,
    /// All optimizer state tensors together.
    pub optimizer_slots: u64,
    /// Forward outputs (input batch included), backward deltas and dropout copies for one batch.
    pub activations: u64,
    /// Training samples kept by the engine (u8 pixels or f32 columns, plus targets).
    pub dataset: u64,
    /// The sum of the above.
    pub total: u64,
}

/// What [`RunCost::estimate`] finds for a network, batch and optimizer: sizes, FLOPs, memory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunCost {
    /// [`NetworkSpec::describe`] of the network.
    pub network: String,
    /// One entry per dense layer, input side first.
    pub layers: Vec<LayerCost>,
    /// Weights and biases of all layers, without padding.
    pub params: usize,
    /// Matmul FLOPs (2 per multiply-add) of one sample's forward pass.
    pub forward_flops_per_sample: u64,
    /// Forward + backward (weight gradients for every layer, input gradients for all but the
    /// first) of one sample; elementwise work (activations, loss, optimizer) is not counted.
    pub train_flops_per_sample: u64,
    /// Samples per step the activation memory is counted for.
    pub batch: usize,
    /// Optimizer state tensors the size of the parameters (0, 1 or 2).
    pub optimizer_slots: usize,
    /// Bytes by what holds them.
    pub memory: Memory,
}

/// Bytes the training set occupies resident: `samples` × `features` at `feature_bytes` each
/// (1 for u8 pixels, 4 for f32), plus `target_bytes` per sample (4 for a u32 label, 4·dim for values).
/// Saturates at `u64::MAX` (more than any machine holds) instead of overflowing.
pub fn dataset_bytes(samples: usize, features: usize, feature_bytes: usize, target_bytes: usize) -> u64 {
    let per = (features as u64).saturating_mul(feature_bytes as u64).saturating_add(target_bytes as u64);
    (samples as u64).saturating_mul(per)
}

impl RunCost {
    /// The cost of training `spec` in batches of `batch` (f32, nothing allocated or run).
    /// `keep`: keep probability per layer input (empty: no dropout), `slots`: optimizer state
    /// tensors (0 for SGD, 1 for momentum, 2 for Adam/RMSprop), `dataset`: the resident training
    /// set's bytes ([`dataset_bytes`]). `spec` must be validated ([`NetworkSpec::validate`]: its
    /// parameter count fits); byte counts saturate at `u64::MAX` rather than overflow.
    pub fn estimate(spec: &NetworkSpec, batch: usize, slots: usize, keep: &[f32], dataset: u64) -> Self {
        let layout = ParamLayout::new(spec);
        let layers: Vec<LayerCost> = (0..spec.num_layers())
            .map(|l| {
                let (out, inp) = spec.layer_shape(l);
                let activation = spec.activation(l).map(|a| a.to_string()).unwrap_or_else(|| format!("({})", spec.loss));
                LayerCost { layer: l, inputs: inp, outputs: out, activation, params: out * (inp + 1), forward_flops: 2 * (out * inp) as u64 }
            })
            .collect();
        let fwd: u64 = layers.iter().map(|l| l.forward_flops).sum();
        let first = layers.first().map_or(0, |l| l.forward_flops);
        let train = fwd.saturating_add(fwd).saturating_add(fwd - first);
        let param_bytes = layout.len as u64 * F32_BYTES;
        let b = batch as u64;
        let outputs: u64 = spec.sizes.iter().map(|&n| n as u64).sum();
        let deltas: u64 = spec.sizes[1..].iter().map(|&n| n as u64).sum();
        let dropped: u64 = (0..spec.num_layers()).filter(|&l| keep.get(l).is_some_and(|&p| p < 1.0)).map(|l| spec.sizes[l] as u64).sum();
        let activations = b.saturating_mul(outputs + deltas + dropped).saturating_mul(F32_BYTES);
        let optimizer_slots = (slots as u64).saturating_mul(param_bytes);
        let total = [param_bytes, param_bytes, optimizer_slots, activations, dataset].into_iter().fold(0u64, u64::saturating_add);
        RunCost {
            network: spec.describe(),
            layers,
            params: spec.num_params(),
            forward_flops_per_sample: fwd,
            train_flops_per_sample: train,
            batch,
            optimizer_slots: slots,
            memory: Memory { parameters: param_bytes, gradients: param_bytes, optimizer_slots, activations, dataset, total },
        }
    }
}

const F32_BYTES: u64 = 4;

/// [`Error::Config`](crate::Error::Config) for "layers" when what the network alone holds in a run of `setup`
/// (parameters, gradients, optimizer slots: no data needed to know it) exceeds [`available_memory`].
pub fn check_network_memory(setup: &TrainSetup) -> Result<()> {
    let net = RunCost::estimate(&setup.spec, 1, setup.optimizer.state_slots(), &[], 0).memory;
    let held = [net.parameters, net.gradients, net.optimizer_slots].into_iter().fold(0u64, u64::saturating_add);
    check_memory("layers", held, &format!("holding the parameters, gradients and optimizer slots of {}", setup.spec.describe()))
}

/// "1.61 MFLOP", "402 kFLOP".
pub fn human_flops(f: u64) -> String {
    let v = f as f64;
    match v {
        v if v >= 1e12 => format!("{:.2} TFLOP", v / 1e12),
        v if v >= 1e9 => format!("{:.2} GFLOP", v / 1e9),
        v if v >= 1e6 => format!("{:.2} MFLOP", v / 1e6),
        v if v >= 1e3 => format!("{:.1} kFLOP", v / 1e3),
        v => format!("{v} FLOP"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, Loss};

    #[test]
    fn counts_for_784_256_256_10() {
        let spec = NetworkSpec::new(&[784, 256, 256, 10], Activation::Relu, Loss::SoftmaxCrossEntropy).unwrap();
        let c = RunCost::estimate(&spec, 100, 2, &[], 0);
        assert_eq!(c.params, 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
        assert_eq!(c.params, 269_322);
        let macs = 784 * 256 + 256 * 256 + 256 * 10;
        assert_eq!(c.forward_flops_per_sample, 2 * macs);
        // backward: dW for all layers (= forward), dX for all but the first
        assert_eq!(c.train_flops_per_sample, 2 * macs + 2 * macs + 2 * (256 * 256 + 256 * 10));
        // all tensors are multiples of 4 here: no padding
        assert_eq!(c.memory.parameters, 269_322 * 4 + 2 * 4); // 10-bias padded to 12
        assert_eq!(c.memory.optimizer_slots, 2 * c.memory.parameters);
        assert_eq!(c.memory.activations, 100 * ((784 + 256 + 256 + 10) + (256 + 256 + 10)) * 4);
        assert_eq!(c.memory.total, 4 * c.memory.parameters + c.memory.activations);
    }

    #[test]
    fn dropout_and_dataset_add_memory() {
        let spec = NetworkSpec::new(&[4, 3, 2], Activation::Tanh, Loss::SoftmaxCrossEntropy).unwrap();
        let none = RunCost::estimate(&spec, 10, 0, &[], 0);
        let dropped = RunCost::estimate(&spec, 10, 0, &[1.0, 0.5], dataset_bytes(8000, 784, 1, 4));
        assert_eq!(dropped.memory.activations - none.memory.activations, 10 * 3 * 4);
        assert_eq!(dropped.memory.dataset, 8000 * 788);
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 / 2), "1.50 MiB");
        assert_eq!(human_flops(1_610_000), "1.61 MFLOP");
    }
}
