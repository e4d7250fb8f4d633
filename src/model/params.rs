//! All parameters of a network in one flat buffer, with an offset table per layer (llm.c style):
//! the optimizer update, norms, checkpoints and comparisons then work on one slice.

use super::spec::NetworkSpec;
use serde::{Deserialize, Serialize};

/// Where layer `l`'s tensors live in the flat buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSlot {
    /// Output units (rows of the weight).
    pub outputs: usize,
    /// Input features (columns of the weight).
    pub inputs: usize,
    /// Offset of the weight, (outputs, inputs) row-major like PyTorch nn.Linear, in elements.
    pub weight: usize,
    /// Offset of the bias, (outputs), in elements.
    pub bias: usize,
}

impl LayerSlot {
    /// Elements of the weight: outputs·inputs.
    pub fn weight_len(&self) -> usize {
        self.outputs * self.inputs
    }
    /// The weight's elements in the flat buffer.
    pub fn weight_range(&self) -> std::ops::Range<usize> {
        self.weight..self.weight + self.weight_len()
    }
    /// The bias's elements in the flat buffer.
    pub fn bias_range(&self) -> std::ops::Range<usize> {
        self.bias..self.bias + self.outputs
    }
}

/// Offsets of every tensor. Weights and bias of one layer are adjacent: [W0, b0, W1, b1, ...].
/// Each tensor starts at a multiple of 4 elements so GPU kernels can use vec4 loads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamLayout {
    /// One slot per dense layer, input layer first.
    pub layers: Vec<LayerSlot>,
    /// Elements of the whole buffer, padding included (a multiple of 4).
    pub len: usize,
}

fn round_up4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

impl ParamLayout {
    /// The layout of `spec`'s weights and biases.
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
    /// Where each tensor lives in `data`.
    pub layout: ParamLayout,
    /// All tensors, `layout.len` elements.
    pub data: Vec<T>,
}

impl<T: Copy + Default> Params<T> {
    /// All zeros (`T::default()`) in `layout`.
    pub fn zeros(layout: &ParamLayout) -> Self {
        Params { layout: layout.clone(), data: vec![T::default(); layout.len] }
    }
    /// Layer `l`'s weight, (outputs, inputs) row-major; panics if `l` is out of range.
    pub fn weight(&self, l: usize) -> &[T] {
        &self.data[self.layout.layers[l].weight_range()]
    }
    /// Layer `l`'s bias, (outputs); panics if `l` is out of range.
    pub fn bias(&self, l: usize) -> &[T] {
        &self.data[self.layout.layers[l].bias_range()]
    }
    /// Layer `l`'s weight, mutable.
    pub fn weight_mut(&mut self, l: usize) -> &mut [T] {
        let r = self.layout.layers[l].weight_range();
        &mut self.data[r]
    }
    /// Layer `l`'s bias, mutable.
    pub fn bias_mut(&mut self, l: usize) -> &mut [T] {
        let r = self.layout.layers[l].bias_range();
        &mut self.data[r]
    }
    /// Dense layers in the layout.
    pub fn num_layers(&self) -> usize {
        self.layout.layers.len()
    }
    /// Converts element type (f32 <-> f64), keeping the layout.
    pub fn cast<U: Copy + Default>(&self, f: impl Fn(T) -> U) -> Params<U> {
        Params { layout: self.layout.clone(), data: self.data.iter().map(|&x| f(x)).collect() }
    }
}
