//! `--standardize`: every feature shifted and scaled to mean 0 and standard deviation 1 over the
//! training split, as scikit-learn's `StandardScaler` (population deviation; a constant feature
//! keeps scale 1). The model file stores the means and deviations, so eval and predict apply
//! the same transform to what they read.

use super::{Dataset, Features, PIXEL_SCALE};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Per-feature mean and standard deviation: x ↦ (x − mean) / std.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each feature over the training split (pixels as the network sees them, x/255).
    pub mean: Vec<f32>,
    /// Population standard deviation of each feature; 1 where the feature is constant.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Means and deviations of `data`'s features, summed in f64 (two passes: the deviation of a
    /// feature with a large mean keeps its precision).
    pub fn fit(data: &Dataset) -> Self {
        let (n, dim) = (data.len.max(1) as f64, data.dim);
        let mut mean = vec![0.0f64; dim];
        for_rows(data, |row| mean.iter_mut().zip(row).for_each(|(m, x)| *m += x));
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; dim];
        for_rows(data, |row| var.iter_mut().zip(row).zip(&mean).for_each(|((v, x), m)| *v += (x - m) * (x - m)));
        let std = var.iter().map(|v| (v / n).sqrt()).map(|s| if s > 0.0 && s.is_finite() { s as f32 } else { 1.0 }).collect();
        Standardizer { mean: mean.into_iter().map(|m| m as f32).collect(), std }
    }

    /// Features it was fitted on.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// [`Error::Config`] (naming `what`) unless there is one positive, finite deviation and one
    /// finite mean per feature of `dim`: the check of a model file's stored transform.
    pub fn check(&self, dim: usize, what: &str) -> Result<()> {
        if self.mean.len() != dim || self.std.len() != dim {
            return Err(Error::config(what, format!("standardization holds {} means and {} deviations for {dim} inputs", self.mean.len(), self.std.len())));
        }
        if self.mean.iter().any(|m| !m.is_finite()) || self.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(Error::config(what, "standardization holds a non-finite mean or a deviation that is not positive"));
        }
        Ok(())
    }

    /// One row transformed in place.
    pub fn apply_row(&self, row: &mut [f32]) {
        for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *x = (*x - m) / s;
        }
    }

    /// `data` with standardized f32 features (pixels are scaled by 1/255 first, as the engines
    /// would); targets and image shape unchanged.
    pub fn apply(&self, data: &Dataset) -> Dataset {
        let mut out: Vec<f32> = match &data.features {
            Features::F32(v) => v.clone(),
            Features::U8(v) => v.iter().map(|&p| p as f32 * PIXEL_SCALE).collect(),
        };
        for row in out.chunks_exact_mut(data.dim.max(1)) {
            self.apply_row(row);
        }
        Dataset { features: Features::F32(out), ..data.clone() }
    }
}

/// Calls `f` with every row of `data` as f64 values (pixels as x/255).
fn for_rows(data: &Dataset, mut f: impl FnMut(&mut dyn Iterator<Item = f64>)) {
    let dim = data.dim.max(1);
    match &data.features {
        Features::F32(v) => v.chunks_exact(dim).for_each(|r| f(&mut r.iter().map(|&x| x as f64))),
        Features::U8(v) => v.chunks_exact(dim).for_each(|r| f(&mut r.iter().map(|&p| (p as f32 * PIXEL_SCALE) as f64))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;

    fn table(rows: &[[f32; 3]]) -> Dataset {
        let x = rows.iter().flatten().copied().collect();
        Dataset::new(Features::F32(x), 3, Targets::Classes { labels: vec![0; rows.len()], num_classes: 1 }).unwrap()
    }

    /// StandardScaler's numbers: mean 0 and population std 1 per column afterwards; a constant
    /// column keeps scale 1 (it becomes 0), a large offset keeps its precision.
    #[test]
    fn columns_get_mean_zero_and_unit_deviation() {
        let d = table(&[[1.0, 5.0, 1e6 + 1.0], [2.0, 5.0, 1e6 + 2.0], [3.0, 5.0, 1e6 + 3.0], [6.0, 5.0, 1e6 + 6.0]]);
        let s = Standardizer::fit(&d);
        assert_eq!(s.mean, vec![3.0, 5.0, 1e6 + 3.0]);
        // population variance of 1, 2, 3, 6: (4 + 1 + 0 + 9) / 4 = 3.5
        assert!((s.std[0] - 3.5f32.sqrt()).abs() < 1e-6 && s.std[1] == 1.0, "{s:?}");
        assert!((s.std[2] - 3.5f32.sqrt()).abs() < 1e-3, "{s:?}");
        let Features::F32(x) = s.apply(&d).features else { panic!("f32 features") };
        for c in 0..2 {
            let col: Vec<f64> = x.iter().skip(c).step_by(3).map(|&v| v as f64).collect();
            let mean = col.iter().sum::<f64>() / 4.0;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
            assert!(mean.abs() < 1e-6, "column {c} mean {mean}");
            assert!((var - if c == 1 { 0.0 } else { 1.0 }).abs() < 1e-6, "column {c} variance {var}");
        }
    }

    /// Pixels are standardized as the network would see them (x/255).
    #[test]
    fn pixels_are_scaled_first() {
        let d = Dataset::new(Features::U8(vec![0, 255, 255, 255]), 2, Targets::Classes { labels: vec![0, 0], num_classes: 1 }).unwrap();
        let s = Standardizer::fit(&d);
        assert_eq!(s.mean, vec![0.5, 1.0]);
        assert_eq!(s.std, vec![0.5, 1.0]);
        let Features::F32(x) = s.apply(&d).features else { panic!("f32 features") };
        assert_eq!(x, vec![-1.0, 0.0, 1.0, 0.0]);
        assert!(s.check(2, "model").is_ok() && s.check(3, "model").is_err());
    }
}
