//! `wgpu_mlp._core`: the thin PyO3 layer between the scikit-learn estimators (python/wgpu_mlp)
//! and the library's engines. It builds an engine from a JSON setup, runs the epochs with the GIL
//! released (taking it back once per epoch for the estimator's bookkeeping and Ctrl-C), predicts,
//! and reads and writes the CLI's safetensors model files. No math lives here: every step is the
//! engines'.

use numpy::ndarray::ArrayView2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::Deserialize;
use std::sync::Mutex;
use wgpu_mlp::data::{epoch_order, Dataset, Features, Targets};
use wgpu_mlp::device::{adapter_from_env, Device, DeviceChoice};
use wgpu_mlp::model::{load_model as load_file, save_model as save_file, Activation, Loss, NetworkSpec, ParamLayout, Params};
use wgpu_mlp::optim::{OptimizerConfig, OptimizerKind, OptimizerState, Regularization};
use wgpu_mlp::TrainSetup;

/// The engine's one-line message as the exception scikit-learn would raise.
fn py_err(e: wgpu_mlp::Error) -> PyErr {
    use wgpu_mlp::Error as E;
    match e {
        E::Io { .. } => PyOSError::new_err(e.to_string()),
        E::Gpu(_) => PyRuntimeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// What the estimator asks for, in the library's own terms (the scikit-learn mapping is done in
/// Python, where it is documented next to the parameters).
#[derive(Deserialize)]
struct Setup {
    sizes: Vec<usize>,
    activation: String,
    loss: String,
    #[serde(default = "sgd")]
    optimizer: String,
    #[serde(default)]
    momentum: f64,
    #[serde(default)]
    nesterov: bool,
    #[serde(default = "beta1")]
    beta1: f64,
    #[serde(default = "beta2")]
    beta2: f64,
    #[serde(default = "eps")]
    eps: f64,
    #[serde(default)]
    rho: Option<f64>,
    #[serde(default)]
    weight_decay: f64,
    #[serde(default)]
    clip_norm: Option<f64>,
    #[serde(default)]
    l2: f64,
    #[serde(default)]
    l1: f64,
    #[serde(default)]
    l1_proximal: bool,
    #[serde(default)]
    keep: Vec<f32>,
    #[serde(default = "one")]
    batch: usize,
    #[serde(default)]
    seed: u64,
    #[serde(default = "cpu")]
    device: String,
}

fn sgd() -> String {
    "sgd".into()
}
fn cpu() -> String {
    "cpu".into()
}
fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.999
}
fn eps() -> f64 {
    1e-8
}
fn one() -> usize {
    1
}

impl Setup {
    fn parse(json: &str) -> PyResult<Setup> {
        serde_json::from_str(json).map_err(|e| PyValueError::new_err(format!("setup: {e}")))
    }
    fn spec(&self) -> wgpu_mlp::Result<NetworkSpec> {
        let act: Activation = self.activation.parse()?;
        let loss: Loss = self.loss.parse()?;
        NetworkSpec::new(&self.sizes, act, loss)
    }
    fn train_setup(&self) -> wgpu_mlp::Result<TrainSetup> {
        let spec = self.spec()?;
        let kind: OptimizerKind = self.optimizer.parse()?;
        let mut opt = OptimizerConfig::new(kind);
        opt.momentum = self.momentum;
        opt.nesterov = self.nesterov;
        opt.beta1 = self.beta1;
        opt.beta2 = self.beta2;
        opt.eps = self.eps;
        if let Some(r) = self.rho {
            opt.rho = r;
        }
        opt.weight_decay = self.weight_decay;
        opt.clip_norm = self.clip_norm;
        opt.validate()?;
        let layers = spec.num_layers();
        let mut regularization = Regularization::uniform(layers, self.l2, self.l1);
        regularization.l1_proximal = self.l1_proximal;
        regularization.validate(layers)?;
        Ok(TrainSetup {
            spec,
            optimizer: opt,
            regularization,
            keep: self.keep.clone(),
            batch: self.batch.max(1),
            seed: self.seed,
            augment: None,
            train_loss: Default::default(),
        })
    }
    fn device(&self) -> wgpu_mlp::Result<Device> {
        open_device(DeviceChoice::parse(&self.device)?)
    }
}

/// One device per choice (and `WGPU_MLP_ADAPTER` value) for the process: a GPU context takes a
/// while to open, and every fit, partial_fit and predict would otherwise open its own.
static DEVICES: Mutex<Vec<(DeviceKey, Device)>> = Mutex::new(Vec::new());

/// The choice and the `WGPU_MLP_ADAPTER` index it was opened under.
type DeviceKey = (DeviceChoice, Option<usize>);

fn open_device(choice: DeviceChoice) -> wgpu_mlp::Result<Device> {
    // the variable applies to auto and gpu only (as Device::open reads it)
    let env = if matches!(choice, DeviceChoice::Auto | DeviceChoice::Gpu) { adapter_from_env()? } else { None };
    let key = (choice, env);
    let mut cache = DEVICES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, d)) = cache.iter().find(|(k, _)| *k == key) {
        return Ok(d.clone());
    }
    let d = Device::open(choice)?;
    cache.push((key, d.clone()));
    Ok(d)
}

/// Features as f32 rows: float32, float64 or uint8 (raw values, not pixel-scaled), any strides.
fn features(x: &Bound<'_, PyAny>) -> PyResult<(Vec<f32>, usize, usize)> {
    fn rows<T: Copy>(a: ArrayView2<'_, T>, f: impl Fn(T) -> f32) -> Vec<f32> {
        match a.as_slice() {
            Some(s) => s.iter().map(|&v| f(v)).collect(),
            // Fortran order or strided: ndarray walks it in logical (row-major) order
            None => a.iter().map(|&v| f(v)).collect(),
        }
    }
    if let Ok(a) = x.extract::<PyReadonlyArray2<'_, f32>>() {
        let (n, d) = (a.shape()[0], a.shape()[1]);
        return Ok((rows(a.as_array(), |v| v), n, d));
    }
    if let Ok(a) = x.extract::<PyReadonlyArray2<'_, f64>>() {
        let (n, d) = (a.shape()[0], a.shape()[1]);
        return Ok((rows(a.as_array(), |v| v as f32), n, d));
    }
    if let Ok(a) = x.extract::<PyReadonlyArray2<'_, u8>>() {
        let (n, d) = (a.shape()[0], a.shape()[1]);
        return Ok((rows(a.as_array(), |v| v as f32), n, d));
    }
    Err(PyValueError::new_err("X must be a 2-D float32, float64 or uint8 array"))
}

/// Targets: 1-D int64 class labels (with `classes` given) or 2-D float32 values.
fn targets(y: &Bound<'_, PyAny>, classes: Option<usize>) -> PyResult<Targets> {
    if let Some(num_classes) = classes {
        let a: PyReadonlyArray1<'_, i64> = y.extract()?;
        let labels = a.as_array().iter().map(|&l| l as u32).collect();
        return Ok(Targets::Classes { labels, num_classes });
    }
    let a: PyReadonlyArray2<'_, f32> = y.extract()?;
    let dim = a.shape()[1];
    let data = a.as_array().rows().into_iter().flat_map(|r| r.to_vec()).collect();
    Ok(Targets::Values { data, dim })
}

fn dataset(x: &Bound<'_, PyAny>, y: Option<&Bound<'_, PyAny>>, classes: Option<usize>, outputs: usize) -> PyResult<Dataset> {
    let (f, n, d) = features(x)?;
    let t = match y {
        Some(y) => targets(y, classes)?,
        // predict: placeholder targets of the right kind (the engines only check their shape)
        None => match classes {
            Some(k) => Targets::Classes { labels: vec![0; n], num_classes: k },
            None => Targets::Values { data: vec![0.0; n * outputs], dim: outputs },
        },
    };
    if d == 0 {
        return Err(PyValueError::new_err("X has 0 features"));
    }
    Dataset::new(Features::F32(f), d, t).map_err(py_err)
}

fn params_from(layout: &ParamLayout, flat: &PyReadonlyArray1<'_, f32>) -> PyResult<Params<f32>> {
    let data = flat.as_array().to_vec();
    if data.len() != layout.len {
        return Err(PyValueError::new_err(format!("{} parameters given, the network has {}", data.len(), layout.len)));
    }
    Ok(Params { layout: layout.clone(), data })
}

/// (total length, [(weight offset, bias offset)] per layer) of the flat parameter buffer.
#[pyfunction]
fn layout(sizes: Vec<usize>) -> PyResult<(usize, Vec<(usize, usize)>)> {
    let spec = NetworkSpec::new(&sizes, Activation::Identity, Loss::MeanSquaredError).map_err(py_err)?;
    let l = ParamLayout::new(&spec);
    Ok((l.len, l.layers.iter().map(|s| (s.weight, s.bias)).collect()))
}

/// Training rows per engine call inside an epoch: Ctrl-C is checked between calls.
const CHUNK_ROWS: usize = 8192;

/// Why the loop ended early.
enum Stop {
    Done,
    Interrupted,
}

/// Trains from `params` (and optimizer `slots`/`step` when resuming) on (x, y) for up to
/// `max_epochs` epochs, epoch permutations numbered from `epoch0`. After each epoch, with the
/// GIL, `on_epoch(loss, val_outputs)` returns (stop, next_lr, snapshot): the estimator's
/// stopping rule and schedule, and whether the current weights are the best so far (restored
/// at the end when `restore_best`). Ctrl-C stops within 8,192 rows' steps (the partial epoch
/// is not counted; its steps are kept, as scikit-learn's).
#[pyfunction]
#[pyo3(signature = (setup, x, y, classes, params, slots, step, lr, epoch0, max_epochs, shuffle, x_val, on_epoch, restore_best))]
#[allow(clippy::too_many_arguments)]
fn train<'py>(
    py: Python<'py>,
    setup: &str,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    classes: Option<usize>,
    params: PyReadonlyArray1<'py, f32>,
    slots: Option<Vec<PyReadonlyArray1<'py, f32>>>,
    step: u64,
    lr: f64,
    epoch0: u64,
    max_epochs: usize,
    shuffle: bool,
    x_val: Option<&Bound<'py, PyAny>>,
    on_epoch: Py<PyAny>,
    restore_best: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let s = Setup::parse(setup)?;
    let ts = s.train_setup().map_err(py_err)?;
    let layout = ParamLayout::new(&ts.spec);
    let start = params_from(&layout, &params)?;
    let opt_state = slots.map(|v| OptimizerState { slots: v.iter().map(|a| a.as_array().to_vec()).collect(), step });
    let outputs = ts.spec.outputs();
    let data = dataset(x, Some(y), classes, outputs)?;
    let val = match x_val {
        Some(xv) => Some(dataset(xv, None, classes, outputs)?),
        None => None,
    };
    let seed = s.seed;
    let chunk = (CHUNK_ROWS / ts.batch).max(1) * ts.batch;
    let device = s.device().map_err(py_err)?;

    let result = py.detach(move || -> PyResult<_> {
        device.check(&ts).map_err(py_err)?;
        let mut engine = device.engine(ts, start).map_err(py_err)?;
        if let Some(st) = &opt_state {
            engine.set_optimizer_state(st).map_err(py_err)?;
        }
        let rows = data.len;
        engine.load_train_owned(data).map_err(py_err)?;
        // what went wrong while the GPU engine chose its kernels (a cache file ignored, say)
        // reaches Python as warnings; a successful tuning is not worth one
        let problems = engine.tuning().map(|t| t.notes).unwrap_or_default();
        if !problems.is_empty() {
            Python::attach(|py| -> PyResult<()> {
                let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
                for n in problems {
                    let text = std::ffi::CString::new(format!("wgpu_mlp: {n}")).unwrap_or_default();
                    PyErr::warn(py, &category, &text, 1)?;
                }
                Ok(())
            })?;
        }
        let mut lr = lr;
        let (mut epochs, mut snapped, mut end) = (0usize, false, Stop::Done);
        let mut failure = None;
        while epochs < max_epochs {
            let order = epoch_order(rows, seed, epoch0 + epochs as u64, shuffle);
            // the epoch in whole-batch chunks, so Ctrl-C is seen within a chunk's steps; the
            // engine's step counter runs on across chunks, so the steps are the epoch's
            let (mut loss_sum, mut samples, mut cut) = (0.0, 0u64, false);
            let parts: Vec<&[u32]> = order.chunks(chunk).collect();
            for (i, part) in parts.iter().enumerate() {
                let st = engine.train_epoch(part, lr).map_err(py_err)?;
                loss_sum += st.loss_sum;
                samples += st.samples;
                if i + 1 < parts.len() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        cut = true;
                        if !Python::attach(|py| e.is_instance_of::<PyKeyboardInterrupt>(py)) {
                            failure = Some(e);
                        }
                        break;
                    }
                }
            }
            if cut {
                end = Stop::Interrupted;
                break;
            }
            let mean_loss = loss_sum / samples.max(1) as f64;
            epochs += 1;
            let val_out = match &val {
                Some(v) => Some(engine.predict(v).map_err(py_err)?),
                None => None,
            };
            let verdict = Python::attach(|py| -> PyResult<(bool, f64, bool)> {
                py.check_signals()?;
                let vo = val_out.map(|o| {
                    let rows = o.len() / outputs;
                    o.into_pyarray(py).reshape([rows, outputs]).map(|a| a.into_any().unbind())
                });
                let vo = vo.transpose()?;
                on_epoch.call1(py, (mean_loss, vo))?.extract(py)
            });
            match verdict {
                Ok((stop, next_lr, snapshot)) => {
                    if snapshot {
                        engine.snapshot_params().map_err(py_err)?;
                        snapped = true;
                    }
                    lr = next_lr;
                    if stop {
                        break;
                    }
                }
                Err(e) => {
                    let interrupt = Python::attach(|py| e.is_instance_of::<PyKeyboardInterrupt>(py));
                    if interrupt {
                        end = Stop::Interrupted;
                    } else {
                        failure = Some(e);
                    }
                    break;
                }
            }
        }
        if restore_best && snapped {
            engine.restore_snapshot().map_err(py_err)?;
        }
        let p = engine.params().map_err(py_err)?;
        let st = engine.optimizer_state().map_err(py_err)?;
        Ok((p, st, epochs, end, failure))
    })?;
    let (p, st, epochs, end, failure) = result;
    if let Some(e) = failure {
        return Err(e);
    }
    let out = PyDict::new(py);
    out.set_item("params", p.data.into_pyarray(py))?;
    let slots: Vec<Bound<'py, PyArray1<f32>>> = st.slots.into_iter().map(|v| v.into_pyarray(py)).collect();
    out.set_item("slots", slots)?;
    out.set_item("step", st.step)?;
    out.set_item("epochs", epochs)?;
    out.set_item("interrupted", matches!(end, Stop::Interrupted))?;
    Ok(out)
}

/// Network outputs for `x`: probabilities (softmax / sigmoid) or values, [n, outputs] float32.
#[pyfunction]
fn predict<'py>(py: Python<'py>, setup: &str, x: &Bound<'py, PyAny>, params: PyReadonlyArray1<'py, f32>) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let s = Setup::parse(setup)?;
    let mut ts = s.train_setup().map_err(py_err)?;
    ts.keep.clear();
    let layout = ParamLayout::new(&ts.spec);
    let p = params_from(&layout, &params)?;
    let outputs = ts.spec.outputs();
    let classes = ts.spec.loss.is_classification().then(|| outputs.max(2));
    let data = dataset(x, None, classes, outputs)?;
    let device = s.device().map_err(py_err)?;
    let rows = data.len;
    let out = py.detach(move || -> wgpu_mlp::Result<Vec<f32>> {
        let mut engine = device.engine(ts, p)?;
        engine.predict(&data)
    });
    let out = out.map_err(py_err)?;
    out.into_pyarray(py).reshape([rows, outputs])
}

/// Writes the CLI's model file: `layers.{i}.weight` [out, in], `layers.{i}.bias`, metadata.
#[pyfunction]
fn save_model(path: &str, setup: &str, params: PyReadonlyArray1<'_, f32>, metadata: &str) -> PyResult<()> {
    let s = Setup::parse(setup)?;
    let spec = s.spec().map_err(py_err)?;
    let p = params_from(&ParamLayout::new(&spec), &params)?;
    let meta: serde_json::Value = serde_json::from_str(metadata).map_err(|e| PyValueError::new_err(format!("metadata: {e}")))?;
    save_file(path, &spec, &p, meta).map_err(py_err)
}

/// Reads a model file: (sizes, activations, loss, flat params, metadata JSON).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn load_model<'py>(py: Python<'py>, path: &str) -> PyResult<(Vec<usize>, Vec<String>, String, Bound<'py, PyArray1<f32>>, String)> {
    let (spec, params, meta) = load_file(path).map_err(py_err)?;
    let acts = spec.activations.iter().map(|a| a.to_string()).collect();
    Ok((spec.sizes.clone(), acts, spec.loss.to_string(), params.data.into_pyarray(py), meta.to_string()))
}

/// Whether a GPU adapter is there for `device='gpu'` (any adapter, software ones included).
#[pyfunction]
fn gpu_available() -> bool {
    open_device(DeviceChoice::Gpu).is_ok()
}

/// What `device` resolves to ("cpu (f32, 2 threads)", "gpu: ..."), for verbose output and tests.
#[pyfunction]
fn describe_device(device: &str) -> PyResult<String> {
    let s = Setup { device: device.to_string(), ..Setup::parse(r#"{"sizes":[1,1],"activation":"identity","loss":"mse"}"#)? };
    let d = s.device().map_err(py_err)?;
    let ts = s.train_setup().map_err(py_err)?;
    let p = Params::zeros(&ParamLayout::new(&ts.spec));
    Ok(d.engine(ts, p).map_err(py_err)?.describe())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(layout, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(save_model, m)?)?;
    m.add_function(wrap_pyfunction!(load_model, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_available, m)?)?;
    m.add_function(wrap_pyfunction!(describe_device, m)?)?;
    Ok(())
}
