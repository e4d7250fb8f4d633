//! Units at their kink: where a ReLU-family unit's pre-activation is within f32 rounding of 0,
//! two f32 engines that sum in different orders may take different branches of the derivative,
//! and the step then legitimately differs in that unit's row and in every layer below it. The
//! lockstep comparison finds those units from an f64 forward pass and leaves the elements they
//! touch out of that step's verdict (counting them).

use crate::cpu::augment::augment_batch;
use crate::cpu::gather::gather_batch;
use crate::cpu::network::{forward, DropoutStep, Workspace};
use crate::data::{check_augmentable, Dataset};
use crate::engine::TrainSetup;
use crate::error::Result;
use crate::model::{Activation, Params};
use crate::rng::seed_key;

/// A pre-activation z with |z| ≤ KINK_ROUNDINGS·√K·2⁻²⁴·(|x|·|w| + |b|) can land on either
/// side of 0 in f32: K products summed in another order differ by about √K roundings of the
/// sum of magnitudes, and this allows eight times that.
const KINK_ROUNDINGS: f64 = 8.0;

/// Per hidden layer (0-based, the layer whose output it is), the units at their kink for some
/// sample of `batch` at optimizer step `step`, from the f64 `params`.
pub fn units_at_kink(setup: &TrainSetup, params: &Params<f64>, data: &Dataset, batch: &[u32], step: u64) -> Result<Vec<Vec<usize>>> {
    let spec = &setup.spec;
    let rows = batch.len();
    let mut ws = Workspace::<f64>::new(setup, params, rows);
    let (mut labels, mut values) = (Vec::new(), Vec::new());
    gather_batch(data, batch, &mut ws.h[0][..rows * data.dim], &mut labels, &mut values);
    let key = seed_key(setup.seed);
    if let Some(aug) = setup.augment.filter(|a| !a.is_identity()) {
        let shape = check_augmentable(&aug, data)?;
        augment_batch(&aug, key, step as u32, shape, &mut ws.h[0][..rows * data.dim]);
    }
    let dropout = setup.has_dropout().then_some(DropoutStep { key, step: step as u32 });
    forward(setup, params, &mut ws, rows, dropout);
    let mut out = vec![Vec::new(); spec.num_layers() - 1];
    for (l, units) in out.iter_mut().enumerate() {
        if !matches!(spec.activations[l], Activation::Relu | Activation::LeakyRelu(_)) {
            continue;
        }
        let (n_out, n_in) = spec.layer_shape(l);
        let input = if dropout.is_some() && !ws.dropped[l].is_empty() { &ws.dropped[l] } else { &ws.h[l] };
        let (w, b) = (params.weight(l), params.bias(l));
        let tau = KINK_ROUNDINGS * (n_in as f64).sqrt() * f64::from(f32::EPSILON) * 0.5;
        for j in 0..n_out {
            let wj = &w[j * n_in..(j + 1) * n_in];
            let at_kink = (0..rows).any(|r| {
                let x = &input[r * n_in..(r + 1) * n_in];
                let (mut z, mut mag) = (b[j], b[j].abs());
                for (xi, wi) in x.iter().zip(wj) {
                    z += xi * wi;
                    mag += (xi * wi).abs();
                }
                z.abs() <= tau * mag
            });
            if at_kink {
                units.push(j);
            }
        }
    }
    Ok(out)
}
