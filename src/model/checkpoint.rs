//! Checkpoints as safetensors files.
//!
//! A model file holds, for each dense layer i, `layers.{i}.weight` F32 (out, in) and
//! `layers.{i}.bias` F32 (out) (exactly PyTorch `nn.Linear`'s layout), plus string metadata:
//! `format` = "wgpu-mlp", `spec` = the `NetworkSpec` as JSON (sizes, activations, loss) and
//! `config` = the run's configuration as JSON. Writes go to a temporary file in the same
//! directory and are renamed into place, so a crash never leaves half a checkpoint.
//!
//! # PyTorch
//!
//! `wgpu-mlp export --format torch` writes the weights under `nn.Sequential`'s names
//! ([`super::torch`]); README.md ("PyTorch") has the five lines that load them. The other way,
//! [`load_model_as`] reads a state dict PyTorch saved (no `format` metadata) against the network
//! the flags give.
//!
//! The output nonlinearity is part of the loss (softmax_xent = `nn.CrossEntropyLoss` on logits,
//! bce = `nn.BCEWithLogitsLoss`, mse = `nn.MSELoss`), so the Sequential ends with a Linear, as in
//! PyTorch. Inputs are pixels scaled by 1/255 (u8 data) or the raw CSV columns.

use super::params::{ParamLayout, Params};
use super::spec::NetworkSpec;
use crate::atomic::write_atomic;
use crate::optim::OptimizerState;
use crate::error::{clipped, quoted, quoted_list, Error, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Value of the `format` metadata key of a model file.
pub const MODEL_FORMAT: &str = "wgpu-mlp";
/// Value of the `format` metadata key of a training-state file.
pub const STATE_FORMAT: &str = "wgpu-mlp-training-state";
/// File name of the training state inside a checkpoint directory.
pub const STATE_FILE: &str = "state.safetensors";

/// Little-endian bytes of one tensor of a flat buffer.
fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// (name, shape, bytes) of every tensor of a Params-shaped flat buffer, names prefixed by `prefix`.
fn tensors_of(layout: &ParamLayout, data: &[f32], prefix: &str) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let mut out = Vec::with_capacity(2 * layout.layers.len());
    for (i, s) in layout.layers.iter().enumerate() {
        out.push((format!("{prefix}layers.{i}.weight"), vec![s.outputs, s.inputs], le_bytes(&data[s.weight_range()])));
        out.push((format!("{prefix}layers.{i}.bias"), vec![s.outputs], le_bytes(&data[s.bias_range()])));
    }
    out
}

/// The safetensors bytes of F32 tensors (name, shape, little-endian bytes) with `meta`.
pub(crate) fn safetensors_bytes(path: &Path, tensors: &[(String, Vec<usize>, Vec<u8>)], meta: HashMap<String, String>) -> Result<Vec<u8>> {
    let views = tensors
        .iter()
        .map(|(n, shape, bytes)| TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::bad_file(path, format!("cannot build tensor: {e}")))?;
    safetensors::serialize(views, Some(meta)).map_err(|e| Error::bad_file(path, format!("cannot serialize checkpoint: {e}")))
}

fn check_params(spec: &NetworkSpec, params: &Params<f32>) -> Result<()> {
    spec.validate()?;
    if params.layout != ParamLayout::new(spec) || params.data.len() != params.layout.len {
        return Err(Error::config("checkpoint", format!("parameters do not match the network {}", spec.describe())));
    }
    Ok(())
}

fn to_json(v: &impl serde::Serialize, path: &Path) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::bad_file(path, format!("cannot encode metadata: {e}")))
}

/// Saves a model: tensors `layers.{i}.weight` (out, in) / `layers.{i}.bias` (out) (F32) and
/// metadata `format`, `spec` (JSON) and `config` (`extra_metadata` as JSON). Atomic.
pub fn save_model(path: impl AsRef<Path>, spec: &NetworkSpec, params: &Params<f32>, extra_metadata: Value) -> Result<()> {
    let path = path.as_ref();
    let bytes = model_bytes(path, spec, params, extra_metadata)?;
    write_atomic(path, &bytes)
}

/// The bytes `save_model` writes (`path` only names the file in errors), for a caller that
/// records the file's size and hash (the checkpoint's best weights).
pub fn model_bytes(path: &Path, spec: &NetworkSpec, params: &Params<f32>, extra_metadata: Value) -> Result<Vec<u8>> {
    check_params(spec, params)?;
    let meta = HashMap::from([
        ("format".to_string(), MODEL_FORMAT.to_string()),
        ("spec".to_string(), to_json(spec, path)?),
        ("config".to_string(), to_json(&extra_metadata, path)?),
    ]);
    safetensors_bytes(path, &tensors_of(&params.layout, &params.data, ""), meta)
}

/// A parsed checkpoint file: its metadata map and its tensors.
struct Loaded<'a> {
    path: &'a Path,
    meta: HashMap<String, String>,
    st: SafeTensors<'a>,
}

impl<'a> Loaded<'a> {
    fn parse(path: &'a Path, bytes: &'a [u8]) -> Result<Self> {
        let invalid = |e: safetensors::SafeTensorError| Error::bad_file(path, format!("not a valid safetensors checkpoint ({})", clipped(e)));
        let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(invalid)?;
        let st = SafeTensors::deserialize(bytes).map_err(invalid)?;
        let meta = metadata.metadata().clone().unwrap_or_default();
        Ok(Loaded { path, meta, st })
    }

    fn meta_json(&self, key: &str) -> Result<Value> {
        match self.meta.get(key) {
            None => Ok(Value::Null),
            Some(s) => serde_json::from_str(s)
                .map_err(|e| Error::bad_file(self.path, format!("metadata '{key}' is not valid JSON: {}", clipped(e)))),
        }
    }

    fn spec(&self) -> Result<NetworkSpec> {
        let s = self.meta.get("spec").ok_or_else(|| {
            Error::bad_file(self.path, "checkpoint has no 'spec' metadata (not written by wgpu-mlp?)")
        })?;
        let spec: NetworkSpec = serde_json::from_str(s)
            .map_err(|e| Error::bad_file(self.path, format!("metadata 'spec' is not a network spec: {}", clipped(e))))?;
        spec.validate().map_err(|e| Error::bad_file(self.path, format!("metadata 'spec': {}", clipped(e))))?;
        Ok(spec)
    }

    fn check_format(&self, want: &[&str]) -> Result<()> {
        match self.meta.get("format") {
            Some(f) if want.contains(&f.as_str()) => Ok(()),
            Some(f) => Err(Error::bad_file(self.path, format!("checkpoint format is {}, expected '{}'", quoted(f), want.join("' or '")))),
            None => Err(Error::bad_file(self.path, format!("not a wgpu-mlp checkpoint: no 'format' metadata (expected '{}')", want[0]))),
        }
    }

    /// Reads the Params-shaped tensors with `prefix` into a flat buffer laid out for `layout`.
    /// Every tensor's name, dtype and shape is checked before the buffer is allocated: the
    /// safetensors parser has checked each tensor's bytes against the file, so a spec that claims
    /// more than the file holds fails here without allocating what it claims.
    fn read_flat(&self, layout: &ParamLayout, prefix: &str) -> Result<Vec<f32>> {
        let names = |i: usize| (format!("{prefix}layers.{i}.weight"), format!("{prefix}layers.{i}.bias"));
        for (i, s) in layout.layers.iter().enumerate() {
            let (w, b) = names(i);
            self.tensor(&w, &[s.outputs, s.inputs])?;
            self.tensor(&b, &[s.outputs])?;
        }
        let mut data = vec![0.0f32; layout.len];
        for (i, s) in layout.layers.iter().enumerate() {
            let (w, b) = names(i);
            self.read_tensor(&w, &[s.outputs, s.inputs], &mut data[s.weight_range()])?;
            self.read_tensor(&b, &[s.outputs], &mut data[s.bias_range()])?;
        }
        Ok(data)
    }

    /// The tensor `name`, checked to be F32 of `shape`.
    fn tensor(&self, name: &str, shape: &[usize]) -> Result<TensorView<'a>> {
        let t = self.st.tensor(name).map_err(|_| Error::bad_file(self.path, format!("missing tensor '{name}'")))?;
        if t.dtype() != Dtype::F32 {
            return Err(Error::bad_file(self.path, format!("tensor '{name}' is {:?}, expected F32", t.dtype())));
        }
        if t.shape() != shape {
            return Err(Error::bad_file(
                self.path,
                format!("tensor '{name}' has shape {:?} but the network spec needs {shape:?}", t.shape()),
            ));
        }
        Ok(t)
    }

    /// Reads tensor `name` into `out`; a NaN or infinite value is refused (a model that diverged
    /// or was damaged would evaluate to noise or poison a run that starts from it).
    fn read_tensor(&self, name: &str, shape: &[usize], out: &mut [f32]) -> Result<()> {
        let t = self.tensor(name, shape)?;
        for (k, (o, c)) in out.iter_mut().zip(t.data().chunks_exact(4)).enumerate() {
            *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            if !o.is_finite() {
                return Err(Error::bad_file(
                    self.path,
                    format!("tensor '{name}' holds {} at element {k}: a model with non-finite weights cannot be used", *o),
                ));
            }
        }
        Ok(())
    }

    /// Errors on tensors other than the expected ones (a different network's file, a typo).
    fn check_no_extra(&self, allowed: impl Fn(&str) -> bool) -> Result<()> {
        let mut extra: Vec<&str> = self.st.names().into_iter().filter(|n| !allowed(n)).collect();
        extra.sort_unstable();
        match extra.first() {
            None => Ok(()),
            Some(n) => Err(Error::bad_file(self.path, format!("unexpected tensor {} ({} unexpected in all)", quoted(n), extra.len()))),
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    crate::memory::read_whole(path)
}

/// Whether `name` is `{prefix}layers.{i}.weight|bias` for a layer of `layout`.
fn is_param_name(layout: &ParamLayout, name: &str, prefix: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix("layers.")) else { return false };
    let Some((i, kind)) = rest.split_once('.') else { return false };
    i.parse::<usize>().is_ok_and(|i| i < layout.layers.len()) && (kind == "weight" || kind == "bias")
}

/// Loads a model: (spec, parameters, config metadata or `Null`). Everything is validated
/// against the stored spec. A training-state file (`save_training_state`) also loads as a model.
pub fn load_model(path: impl AsRef<Path>) -> Result<(NetworkSpec, Params<f32>, Value)> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let ck = Loaded::parse(path, &bytes)?;
    ck.check_format(&[MODEL_FORMAT, STATE_FORMAT])?;
    let spec = ck.spec()?;
    let layout = ParamLayout::new(&spec);
    let data = ck.read_flat(&layout, "")?;
    ck.check_no_extra(|n| is_param_name(&layout, n, "") || n.starts_with("optimizer."))?;
    let config = ck.meta_json("config")?;
    Ok((spec, Params { layout, data }, config))
}

/// Loads a wgpu-mlp model file, or a PyTorch state dict (`safetensors.torch.save_file(model.state_dict(), path)`:
/// no `format` metadata) as the network `spec` (from the flags) or, without it, the `spec` its
/// metadata holds (our `export` writes one). A state dict's Linear layers are its `X.weight` /
/// `X.bias` pairs in the order of their names' numbers (`0, 2, 4`, `net.0`, `fc1, fc2`; ours,
/// `layers.0`, too), each checked against `spec`'s shapes; F32, F64, F16 and BF16 are read as f32.
/// A wgpu-mlp file loads as [`load_model`] does; comparing it with `spec` is the caller's.
pub fn load_model_as(path: impl AsRef<Path>, spec: Option<&NetworkSpec>) -> Result<(NetworkSpec, Params<f32>, Value)> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let ck = Loaded::parse(path, &bytes)?;
    // ours by its format; anything else (none, or `{"format": "pt"}` as safetensors.torch and
    // Hugging Face write) is a state dict
    if ck.meta.get("format").is_some_and(|f| f == MODEL_FORMAT || f == STATE_FORMAT) {
        drop(ck);
        return load_model(path);
    }
    let spec = match (spec, ck.meta.contains_key("spec")) {
        // our export records its network: the flags must name that one
        (Some(s), true) => {
            let file = ck.spec()?;
            check_architecture(s, &file).map_err(|e| match e {
                Error::Config { msg, .. } => Error::bad_file(path, msg.replace("checkpoint is", "the export is").replace("checkpoint uses", "the export uses").replace("the run asks for", "the flags say")),
                e => e,
            })?;
            file
        }
        (Some(s), false) => s.clone(),
        (None, true) => ck.spec()?,
        (None, false) => {
            return Err(Error::bad_file(
                path,
                "has no wgpu-mlp metadata (a PyTorch state dict?): give its network with --layers (and --activation, --loss unless relu, softmax_xent)",
            ))
        }
    };
    let layout = ParamLayout::new(&spec);
    let data = ck.read_state_dict(&layout, &spec)?;
    Ok((spec, Params { layout, data }, Value::Null))
}

/// Sort key of a module name by its numbers: "fc10" after "fc2", "net.10" after "net.2".
fn natural_key(name: &str) -> Vec<(u8, u64, String)> {
    let mut key = Vec::new();
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        let digit = c.is_ascii_digit();
        let end = rest.find(|ch: char| ch.is_ascii_digit() != digit).unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        key.push(match run.parse::<u64>() {
            Ok(n) if digit => (0, n, String::new()),
            _ => (1, 0, run.to_string()),
        });
        rest = tail;
    }
    key
}

impl Loaded<'_> {
    /// A state dict's Linear layers into a flat buffer laid out for `layout` (see [`load_model_as`]).
    fn read_state_dict(&self, layout: &ParamLayout, spec: &NetworkSpec) -> Result<Vec<f32>> {
        let mut modules: Vec<&str> = Vec::new();
        for name in self.st.names() {
            let module = name.strip_suffix(".weight").or_else(|| name.strip_suffix(".bias")).ok_or_else(|| {
                Error::bad_file(self.path, format!("unexpected tensor {} (a state dict of Linear layers holds only X.weight and X.bias)", quoted(name)))
            })?;
            if !modules.contains(&module) {
                modules.push(module);
            }
        }
        // the order of the layers is read from the numbers in their names: without any, the names'
        // alphabetical order (hidden, input, output) would silently be taken as the network's
        if modules.len() > 1 && modules.iter().any(|m| !m.bytes().any(|b| b.is_ascii_digit())) {
            return Err(Error::bad_file(
                self.path,
                format!("layer names {} carry no numbers, so their order is unknown; save an nn.Sequential (0, 2, …) or number them (fc1, fc2, …)", quoted_list(&modules, 8)),
            ));
        }
        modules.sort_by_cached_key(|m| natural_key(m));
        let flags = format!("--layers {}", spec.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(","));
        if modules.len() != layout.layers.len() {
            return Err(Error::bad_file(
                self.path,
                format!("holds {} Linear layers ({}) but {flags} makes {}", modules.len(), modules.join(", "), layout.layers.len()),
            ));
        }
        let mut data = vec![0.0f32; layout.len];
        for (s, m) in layout.layers.iter().zip(&modules) {
            for (kind, shape, range) in [("weight", vec![s.outputs, s.inputs], s.weight_range()), ("bias", vec![s.outputs], s.bias_range())] {
                let name = format!("{m}.{kind}");
                let t = self.st.tensor(&name).map_err(|_| Error::bad_file(self.path, format!("missing tensor '{name}' (layer {m} has a {} but no {kind})", if kind == "bias" { "weight" } else { "bias" })))?;
                if t.shape() != shape {
                    return Err(Error::bad_file(self.path, format!("tensor '{name}' has shape {:?} but {flags} needs {shape:?}", t.shape())));
                }
                let out = &mut data[range];
                let b = t.data();
                match t.dtype() {
                    Dtype::F32 => b.chunks_exact(4).zip(out.iter_mut()).for_each(|(c, o)| *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    Dtype::F64 => b.chunks_exact(8).zip(out.iter_mut()).for_each(|(c, o)| *o = f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32),
                    Dtype::F16 => b.chunks_exact(2).zip(out.iter_mut()).for_each(|(c, o)| *o = f16_to_f32(u16::from_le_bytes([c[0], c[1]]))),
                    Dtype::BF16 => b.chunks_exact(2).zip(out.iter_mut()).for_each(|(c, o)| *o = f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16)),
                    d => return Err(Error::bad_file(self.path, format!("tensor '{name}' is {d:?}; weights are read from F32, F64, F16 or BF16"))),
                }
                if let Some(k) = out.iter().position(|v| !v.is_finite()) {
                    return Err(Error::bad_file(self.path, format!("tensor '{name}' holds {} at element {k}: a model with non-finite weights cannot be used", out[k])));
                }
            }
        }
        Ok(data)
    }
}

/// IEEE half precision to f32 (exact: every f16 is an f32).
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let (exp, frac) = ((h >> 10) & 0x1f, (h & 0x3ff) as f32);
    sign * match exp {
        0 => frac * 2f32.powi(-24),
        0x1f if frac == 0.0 => f32::INFINITY,
        0x1f => f32::NAN,
        e => (1.0 + frac / 1024.0) * 2f32.powi(e as i32 - 15),
    }
}

fn arch(spec: &NetworkSpec) -> String {
    spec.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-")
}

/// Refuses a checkpoint whose network differs from the one a run asks for, e.g.
/// "checkpoint is 784-32-10 but the run asks for 784-64-10".
pub fn check_architecture(expected: &NetworkSpec, found: &NetworkSpec) -> Result<()> {
    if expected.sizes != found.sizes {
        return Err(Error::config(
            "checkpoint",
            format!("checkpoint is {} but the run asks for {}", arch(found), arch(expected)),
        ));
    }
    if expected.activations != found.activations {
        let list = |s: &NetworkSpec| s.activations.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",");
        return Err(Error::config(
            "checkpoint",
            format!("checkpoint uses activations [{}] but the run asks for [{}]", list(found), list(expected)),
        ));
    }
    if expected.loss != found.loss {
        return Err(Error::config(
            "checkpoint",
            format!("checkpoint was trained with loss {} but the run asks for {}", found.loss, expected.loss),
        ));
    }
    Ok(())
}

/// Everything needed to resume training where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    /// The network the parameters belong to.
    pub spec: NetworkSpec,
    /// The current parameters.
    pub params: Params<f32>,
    /// Optimizer slots (each shaped like the parameters) and the step counter.
    pub optimizer: OptimizerState<f32>,
    /// Epochs completed. With `seed` this is the whole RNG position: `epoch_order(n, seed, e, _)`
    /// is a pure function, and dropout masks hash (seed, step, layer, index).
    pub epoch: u64,
    /// The run's seed (sample order, dropout, augmentation).
    pub seed: u64,
    /// Whatever else the loop keeps (history, best validation loss, patience counter, config).
    pub extra: Value,
}

/// Writes `dir/state.safetensors` (creating `dir`): parameters as `layers.{i}.*` (so the file
/// also loads as a model), optimizer slot s as `optimizer.{s}.layers.{i}.*`, and metadata
/// `format`, `spec`, `step`, `epoch`, `seed`, `slots`, `extra`. One file, written atomically.
pub fn save_training_state(dir: impl AsRef<Path>, state: &TrainingState) -> Result<PathBuf> {
    let dir = dir.as_ref();
    check_params(&state.spec, &state.params)?;
    let layout = &state.params.layout;
    if let Some(s) = state.optimizer.slots.iter().position(|s| s.len() != layout.len) {
        return Err(Error::config("checkpoint", format!("optimizer slot {s} does not match the parameters")));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(STATE_FILE);
    let mut tensors = tensors_of(layout, &state.params.data, "");
    for (s, slot) in state.optimizer.slots.iter().enumerate() {
        tensors.extend(tensors_of(layout, slot, &format!("optimizer.{s}.")));
    }
    let meta = HashMap::from([
        ("format".to_string(), STATE_FORMAT.to_string()),
        ("spec".to_string(), to_json(&state.spec, &path)?),
        ("step".to_string(), state.optimizer.step.to_string()),
        ("epoch".to_string(), state.epoch.to_string()),
        ("seed".to_string(), state.seed.to_string()),
        ("slots".to_string(), state.optimizer.slots.len().to_string()),
        ("extra".to_string(), to_json(&state.extra, &path)?),
    ]);
    let bytes = safetensors_bytes(&path, &tensors, meta)?;
    write_atomic(&path, &bytes)?;
    Ok(path)
}

/// Reads `dir/state.safetensors` written by `save_training_state`, validating everything.
pub fn load_training_state(dir: impl AsRef<Path>) -> Result<TrainingState> {
    let path = dir.as_ref().join(STATE_FILE);
    let bytes = read_file(&path)?;
    let ck = Loaded::parse(&path, &bytes)?;
    ck.check_format(&[STATE_FORMAT])?;
    let spec = ck.spec()?;
    let layout = ParamLayout::new(&spec);
    let number = |key: &str| -> Result<u64> {
        let s = ck.meta.get(key).ok_or_else(|| Error::bad_file(&path, format!("metadata has no '{key}'")))?;
        s.parse().map_err(|_| Error::bad_file(&path, format!("metadata '{key}' = {} is not a whole number", quoted(s))))
    };
    let (step, epoch, seed, n_slots) = (number("step")?, number("epoch")?, number("seed")?, number("slots")?);
    if n_slots > 2 {
        return Err(Error::bad_file(&path, format!("{n_slots} optimizer slots (at most 2)")));
    }
    let data = ck.read_flat(&layout, "")?;
    let slots = (0..n_slots)
        .map(|s| ck.read_flat(&layout, &format!("optimizer.{s}.")))
        .collect::<Result<Vec<_>>>()?;
    ck.check_no_extra(|n| {
        is_param_name(&layout, n, "") || (0..n_slots).any(|s| is_param_name(&layout, n, &format!("optimizer.{s}.")))
    })?;
    let extra = ck.meta_json("extra")?;
    Ok(TrainingState {
        spec,
        params: Params { layout, data },
        optimizer: OptimizerState { slots, step },
        epoch,
        seed,
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::natural_key;

    /// A state dict's modules in the order of their numbers, not of their text.
    #[test]
    fn module_names_sort_by_their_numbers() {
        let mut names = vec!["fc10", "fc2", "fc1", "out"];
        names.sort_by_cached_key(|m| natural_key(m));
        assert_eq!(names, ["fc1", "fc2", "fc10", "out"]);
        let mut seq = vec!["net.10", "net.2", "net.0", "layers.1"];
        seq.sort_by_cached_key(|m| natural_key(m));
        assert_eq!(seq, ["layers.1", "net.0", "net.2", "net.10"]);
    }
}
