//! PyTorch's names for our weights: a network is `nn.Sequential(Linear, Act, Linear, Act, ...,
//! Linear)`, whose state dict names layer i's tensors `{2i}.weight` (out, in) and `{2i}.bias`
//! (out): our `layers.{i}.*` in PyTorch's own layout, so nothing is transposed. The file
//! `export --format torch` writes loads with `model.load_state_dict(load_file(path))`, strict;
//! the README shows the five lines. Dropout is a training-time layer: the export is the network
//! in eval form, without Dropout modules (which would shift the indices).

use super::checkpoint::safetensors_bytes;
use super::params::Params;
use super::spec::{Activation, NetworkSpec};
use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// `nn.Sequential`'s index of layer `i`'s Linear: an activation module sits between each two.
pub fn sequential_index(layer: usize) -> usize {
    2 * layer
}

/// The torch module for a hidden activation.
fn torch_activation(a: Activation) -> String {
    match a {
        Activation::Identity => "nn.Identity()".into(),
        Activation::Relu => "nn.ReLU()".into(),
        Activation::LeakyRelu(s) => format!("nn.LeakyReLU({s:?})"),
        Activation::Tanh => "nn.Tanh()".into(),
        Activation::Sigmoid => "nn.Sigmoid()".into(),
    }
}

/// The modules of the network's `nn.Sequential`, in order ("nn.Linear(784, 64)", "nn.ReLU()", ...).
pub fn sequential_modules(spec: &NetworkSpec) -> Vec<String> {
    let mut out = Vec::new();
    for (i, w) in spec.sizes.windows(2).enumerate() {
        if i > 0 {
            out.push(torch_activation(spec.activations[i - 1]));
        }
        out.push(format!("nn.Linear({}, {})", w[0], w[1]));
    }
    out
}

/// Writes the weights as `nn.Sequential`'s state dict (F32), atomically, with metadata
/// `spec` (ours, JSON) and `sequential` (the modules) but no `format`: to us the file is a
/// PyTorch state dict, which `eval`/`--init-from` read with the `spec` it carries.
pub fn save_torch(path: &Path, spec: &NetworkSpec, params: &Params<f32>) -> Result<()> {
    let mut tensors = Vec::with_capacity(2 * spec.num_layers());
    for (i, s) in params.layout.layers.iter().enumerate() {
        let k = sequential_index(i);
        let le = |r: std::ops::Range<usize>| params.data[r].iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        tensors.push((format!("{k}.weight"), vec![s.outputs, s.inputs], le(s.weight_range())));
        tensors.push((format!("{k}.bias"), vec![s.outputs], le(s.bias_range())));
    }
    let spec_json = serde_json::to_string(spec).map_err(|e| Error::bad_file(path, format!("cannot encode metadata: {e}")))?;
    let meta = HashMap::from([
        ("spec".to_string(), spec_json),
        ("sequential".to_string(), sequential_modules(spec).join(", ")),
    ]);
    write_atomic(path, &safetensors_bytes(path, &tensors, meta)?)
}

/// `params` with an input transform x ↦ (x − mean) / std folded into the first layer, so the
/// network takes the untransformed inputs: W' = W / std (per input column), b' = b − W'·mean,
/// computed in f64 and rounded once. The export of a `--standardize` model needs no extra module.
pub fn fold_input_transform(params: &Params<f32>, mean: &[f32], std: &[f32]) -> Params<f32> {
    let mut out = params.clone();
    let inputs = params.layout.layers[0].inputs;
    let (w, b) = (params.weight(0), params.bias(0));
    let mut bias = Vec::with_capacity(b.len());
    for (row, &b0) in w.chunks_exact(inputs).zip(b) {
        let shift: f64 = row.iter().zip(mean).zip(std).map(|((&w, &m), &s)| w as f64 / s as f64 * m as f64).sum();
        bias.push((b0 as f64 - shift) as f32);
    }
    for (row, new) in w.chunks_exact(inputs).zip(out.weight_mut(0).chunks_exact_mut(inputs)) {
        for ((n, &w), &s) in new.iter_mut().zip(row).zip(std) {
            *n = (w as f64 / s as f64) as f32;
        }
    }
    out.bias_mut(0).copy_from_slice(&bias);
    out
}

/// A Python file that builds the network's `nn.Sequential` and loads `weights` into it
/// (strict), with a note on the inputs and outputs.
pub fn python_loader(spec: &NetworkSpec, weights: &Path, source: &Path) -> String {
    let q = |p: &Path| serde_json::to_string(&p.to_string_lossy()).unwrap_or_default();
    let modules: String = sequential_modules(spec).iter().map(|m| format!("    {m},\n")).collect();
    let out = match spec.loss {
        crate::model::Loss::SoftmaxCrossEntropy => "torch.softmax(model(x), dim=1) are the class probabilities predict prints",
        crate::model::Loss::BinaryCrossEntropy => "torch.sigmoid(model(x)) are the probabilities predict prints",
        _ => "model(x) are the outputs predict prints",
    };
    format!(
        "# {} exported by wgpu-mlp from {}: {}\n\
         # Eval form (no Dropout modules). Inputs: pixels / 255 (images) or the raw CSV columns\n\
         # (a --standardize model's transform is folded into the first Linear);\n\
         # the network ends with a Linear (the loss holds the output nonlinearity): {out}.\n\
         import torch\n\
         from torch import nn\n\
         from safetensors.torch import load_file\n\
         \n\
         model = nn.Sequential(\n{modules})\n\
         model.load_state_dict(load_file({}))\n\
         model.eval()\n",
        q(weights),
        q(source),
        spec.describe(),
        q(weights),
    )
}

/// Writes [`python_loader`]'s file to `path`, atomically.
pub fn save_python_loader(path: &Path, spec: &NetworkSpec, weights: &Path, source: &Path) -> Result<()> {
    write_atomic(path, python_loader(spec, weights, source).as_bytes())
}
