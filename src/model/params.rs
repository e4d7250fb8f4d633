//! All parameters of a network in one flat buffer, with an offset table per layer (llm.c style):
//! the optimizer update, norms, checkpoints and comparisons then work on one slice.

use super::spec::NetworkSpec;
use serde::{Deserialize, Serialize};

/// Where layer `l`'s tensors live in the flat buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSlot {
    pub outputs: usize,
    pub inputs: usize,
    /// weight [outputs, inputs] row-major, like PyTorch nn.Linear
    pub weight: usize,
    /// bias [outputs]
    pub bias: usize,
}

impl LayerSlot {
    pub fn weight_len(&self) -> usize {
        self.outputs * self.inputs
    }
    pub fn weight_range(&self) -> std::ops::Range<usize> {
        self.weight..self.weight + self.weight_len()
    }
    pub fn bias_range(&self) -> std::ops::Range<usize> {
        self.bias..self.bias + self.outputs
    }
}

/// Offsets of every tensor. Weights and bias of one layer are adjacent: [W0, b0, W1, b1, ...].
/// Each tensor starts at a multiple of 4 elements so GPU kernels can use vec4 loads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamLayout {
    pub layers: Vec<LayerSlot>,
    pub len: usize,
}

fn round_up4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

impl ParamLayout {
    pub fn new(spec: &NetworkSpec) -> Self {
        let mut layers = Vec::with_capacity(spec.num_layers());
        let mut at = 0;
        for l in 0..spec.num_layers() {
            let (outputs, inputs) = spec.layer_shape(l);
            let weight = at;
            at = round_up4(at + outputs * inputs);
            let bias = at;
            at = round_up4(at + outputs);
            layers.push(LayerSlot { outputs, inputs, weight, bias });
        }
        ParamLayout { layers, len: at }
    }

    /// (name, range) of every tensor, in checkpoint naming (`layers.{i}.weight`).
    pub fn tensors(&self) -> Vec<(String, std::ops::Range<usize>)> {
        let mut v = Vec::with_capacity(2 * self.layers.len());
        for (i, s) in self.layers.iter().enumerate() {
            v.push((format!("layers.{i}.weight"), s.weight_range()));
            v.push((format!("layers.{i}.bias"), s.bias_range()));
        }
        v
    }
}

/// Parameters (or gradients, or optimizer moments) of a network in one flat buffer.
/// Padding between tensors stays zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Params<T> {
    pub layout: ParamLayout,
    pub data: Vec<T>,
}

impl<T: Copy + Default> Params<T> {
    pub fn zeros(layout: &ParamLayout) -> Self {
        Params { layout: layout.clone(), data: vec![T::default(); layout.len] }
    }
    pub fn weight(&self, l: usize) -> &[T] {
        &self.data[self.layout.layers[l].weight_range()]
    }
    pub fn bias(&self, l: usize) -> &[T] {
        &self.data[self.layout.layers[l].bias_range()]
    }
    pub fn weight_mut(&mut self, l: usize) -> &mut [T] {
        let r = self.layout.layers[l].weight_range();
        &mut self.data[r]
    }
    pub fn bias_mut(&mut self, l: usize) -> &mut [T] {
        let r = self.layout.layers[l].bias_range();
        &mut self.data[r]
    }
    pub fn num_layers(&self) -> usize {
        self.layout.layers.len()
    }
    /// Converts element type (f32 <-> f64), keeping the layout.
    pub fn cast<U: Copy + Default>(&self, f: impl Fn(T) -> U) -> Params<U> {
        Params { layout: self.layout.clone(), data: self.data.iter().map(|&x| f(x)).collect() }
    }
}
