//! What a network is: layer sizes, hidden activations, and the output/loss pair.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Hidden-layer activation. Every derivative is written in terms of the activation's output
/// `a = f(z)`, so the backward pass needs only the stored activations.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Activation {
    /// f(z) = z ("identity", "linear", "none").
    Identity,
    /// f(z) = max(z, 0) ("relu").
    Relu,
    /// f(z) = z for z > 0, slope·z otherwise (`leaky_relu[:slope]`, slope >= 0, default 0.01).
    LeakyRelu(f32),
    /// f(z) = tanh(z) ("tanh").
    Tanh,
    /// f(z) = 1 / (1 + e^−z) ("sigmoid", "logistic").
    Sigmoid,
}

impl Activation {
    /// Numeric code shared with the shaders (`ACT_*` in shaders/common.wgsl).
    pub fn code(self) -> u32 {
        match self {
            Activation::Identity => 0,
            Activation::Relu => 1,
            Activation::LeakyRelu(_) => 2,
            Activation::Tanh => 3,
            Activation::Sigmoid => 4,
        }
    }
    /// Negative-side slope for leaky ReLU, 0 otherwise.
    pub fn slope(self) -> f32 {
        match self {
            Activation::LeakyRelu(s) => s,
            _ => 0.0,
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Identity => write!(f, "identity"),
            Activation::Relu => write!(f, "relu"),
            Activation::LeakyRelu(s) => write!(f, "leaky_relu:{s}"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Sigmoid => write!(f, "sigmoid"),
        }
    }
}

impl FromStr for Activation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n.to_string(), Some(a.to_string())),
            None => (s.clone(), None),
        };
        let act = match name.as_str() {
            "identity" | "linear" | "none" => Activation::Identity,
            "relu" => Activation::Relu,
            "leaky_relu" | "leakyrelu" | "lrelu" => {
                let slope = match arg {
                    Some(a) => a.parse::<f32>().map_err(|_| {
                        Error::config("activation", format!("leaky_relu slope '{a}' is not a number"))
                    })?,
                    None => 0.01,
                };
                if !(slope.is_finite() && slope >= 0.0) {
                    return Err(Error::config("activation", format!("leaky_relu slope {slope} must be finite and >= 0")));
                }
                Activation::LeakyRelu(slope)
            }
            "tanh" => Activation::Tanh,
            "sigmoid" | "logistic" => Activation::Sigmoid,
            _ => {
                return Err(Error::config(
                    "activation",
                    format!("unknown activation '{s}' (expected identity, relu, leaky_relu[:slope], tanh, sigmoid)"),
                ))
            }
        };
        Ok(act)
    }
}

serde_as_text!(Activation);

/// Norms below this count as this, so the cosine loss stays finite at zero vectors (PyTorch's
/// eps); both engines use it (the shaders through the generated constants).
pub const COSINE_EPS: f64 = 1e-8;

/// Output layer and loss, always paired so the loss is computed from logits (stable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Loss {
    /// Softmax + cross-entropy over classes; mean over the batch.
    SoftmaxCrossEntropy,
    /// Sigmoid + binary cross-entropy per output; mean over all elements (PyTorch's BCEWithLogitsLoss).
    BinaryCrossEntropy,
    /// Identity output + squared error; mean over all elements (PyTorch's MSELoss).
    MeanSquaredError,
    /// Identity output + (1 − cos(output, target)) per sample; mean over the batch.
    Cosine,
}

impl Loss {
    /// Numeric code shared with the shaders (`LOSS_*`).
    pub fn code(self) -> u32 {
        match self {
            Loss::SoftmaxCrossEntropy => 0,
            Loss::BinaryCrossEntropy => 1,
            Loss::MeanSquaredError => 2,
            Loss::Cosine => 3,
        }
    }
    /// Whether targets are class labels (accuracy is reported) or real vectors (error is reported).
    pub fn is_classification(self) -> bool {
        matches!(self, Loss::SoftmaxCrossEntropy | Loss::BinaryCrossEntropy)
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loss::SoftmaxCrossEntropy => "softmax_xent",
            Loss::BinaryCrossEntropy => "bce",
            Loss::MeanSquaredError => "mse",
            Loss::Cosine => "cosine",
        })
    }
}

impl FromStr for Loss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "softmax_xent" | "xent" | "cross_entropy" | "ce" | "softmax" => Ok(Loss::SoftmaxCrossEntropy),
            "bce" | "binary_cross_entropy" | "sigmoid_bce" => Ok(Loss::BinaryCrossEntropy),
            "mse" | "mean_squared_error" | "l2" => Ok(Loss::MeanSquaredError),
            "cosine" | "cos" => Ok(Loss::Cosine),
            other => Err(Error::config(
                "loss",
                format!("unknown loss '{other}' (expected softmax_xent, bce, mse, cosine)"),
            )),
        }
    }
}

serde_as_text!(Loss);

/// A dense network: `sizes[0]` inputs, `sizes[L]` outputs, `activations[i]` after hidden layer i
/// (one per hidden layer, i.e. `sizes.len() - 2` of them); the output layer's nonlinearity is
/// implied by the loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Layer widths, input first: at least two, none 0.
    pub sizes: Vec<usize>,
    /// One activation per hidden layer (`sizes.len() - 2`).
    pub activations: Vec<Activation>,
    /// The output nonlinearity and loss.
    pub loss: Loss,
}

impl NetworkSpec {
    /// Same activation on every hidden layer.
    pub fn new(sizes: &[usize], activation: Activation, loss: Loss) -> Result<Self> {
        let hidden = sizes.len().saturating_sub(2);
        Self::with_activations(sizes, vec![activation; hidden], loss)
    }

    /// One activation per hidden layer; [`Error::Config`] as [`NetworkSpec::validate`].
    pub fn with_activations(sizes: &[usize], activations: Vec<Activation>, loss: Loss) -> Result<Self> {
        let spec = NetworkSpec { sizes: sizes.to_vec(), activations, loss };
        spec.validate()?;
        Ok(spec)
    }

    /// [`Error::Config`] unless there are at least two sizes, none 0, one activation per hidden
    /// layer, and at least 2 outputs for softmax cross-entropy.
    pub fn validate(&self) -> Result<()> {
        if self.sizes.len() < 2 {
            return Err(Error::config("layers", "need at least an input and an output size, e.g. 784,10"));
        }
        if let Some(i) = self.sizes.iter().position(|&s| s == 0) {
            return Err(Error::config("layers", format!("layer {i} has size 0")));
        }
        if self.activations.len() != self.sizes.len() - 2 {
            return Err(Error::config(
                "activation",
                format!(
                    "{} activations given for {} hidden layers",
                    self.activations.len(),
                    self.sizes.len() - 2
                ),
            ));
        }
        if self.loss == Loss::SoftmaxCrossEntropy && self.outputs() < 2 {
            return Err(Error::config("loss", "softmax cross-entropy needs at least 2 outputs"));
        }
        if self.checked_param_elements().is_none() {
            return Err(Error::config(
                "layers",
                format!("{} has more parameters than any machine can address (their f32 buffer exceeds 2^63 bytes)", self.sizes_text()),
            ));
        }
        Ok(())
    }

    /// Elements of the flat parameter buffer (tensors padded to multiples of 4, as
    /// [`ParamLayout`](super::ParamLayout) lays them out), or None when that buffer in f32 would
    /// exceed `isize::MAX` bytes (the most a Vec can hold). Every size product is checked, so
    /// after [`NetworkSpec::validate`] the unchecked sums and products of this spec cannot overflow.
    pub fn checked_param_elements(&self) -> Option<usize> {
        let mut at: usize = 0;
        for w in self.sizes.windows(2) {
            let weight = w[1].checked_mul(w[0])?;
            at = at.checked_add(weight)?.checked_next_multiple_of(4)?;
            at = at.checked_add(w[1])?.checked_next_multiple_of(4)?;
        }
        // ×4 bytes per f32, and 2× headroom so a forward-FLOP count (2 per weight) fits too
        (at.checked_mul(8)? <= isize::MAX as usize).then_some(at)
    }

    /// The sizes joined by '-', the longest lists shortened: "784-64-10".
    fn sizes_text(&self) -> String {
        let mut parts: Vec<String> = self.sizes.iter().take(8).map(|s| s.to_string()).collect();
        if self.sizes.len() > 8 {
            parts.push(format!("…({} sizes)", self.sizes.len()));
        }
        parts.join("-")
    }

    /// Dense layers (weight matrices): `sizes.len() - 1`.
    pub fn num_layers(&self) -> usize {
        self.sizes.len() - 1
    }
    /// Input features per sample, `sizes[0]`.
    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }
    /// Outputs per sample (the last size).
    pub fn outputs(&self) -> usize {
        *self.sizes.last().unwrap_or(&0)
    }
    /// (out, in) of dense layer `l`.
    pub fn layer_shape(&self, l: usize) -> (usize, usize) {
        (self.sizes[l + 1], self.sizes[l])
    }
    /// The nonlinearity after layer `l`; `None` for the output layer (the loss owns it).
    pub fn activation(&self, l: usize) -> Option<Activation> {
        self.activations.get(l).copied()
    }
    /// Weights and biases in all layers: Σ out·(in + 1).
    pub fn num_params(&self) -> usize {
        (0..self.num_layers()).map(|l| self.sizes[l + 1] * (self.sizes[l] + 1)).sum()
    }
    /// Multiply-adds ×2 of one forward pass for one sample.
    pub fn forward_flops(&self) -> usize {
        (0..self.num_layers()).map(|l| 2 * self.sizes[l + 1] * self.sizes[l]).sum()
    }
    /// Sizes, activations and loss in one line, e.g. `784-64-10 [relu] softmax_xent`.
    pub fn describe(&self) -> String {
        let sizes: Vec<String> = self.sizes.iter().map(|s| s.to_string()).collect();
        let acts: Vec<String> = self.activations.iter().map(|a| a.to_string()).collect();
        format!("{} [{}] {}", sizes.join("-"), acts.join(","), self.loss)
    }
}
