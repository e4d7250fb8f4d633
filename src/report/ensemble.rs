//! The score of an ensemble: the mean of several models' outputs (probabilities for
//! classification, values for regression) scored with the models' own loss, as k-fold's
//! fold ensemble on the test split is.

use crate::data::{Dataset, Targets};
use crate::engine::EvalStats;
use crate::model::{Loss, COSINE_EPS};

/// Σ of the outputs of models run on the same data: add each model's [len, width] outputs, then
/// [`OutputSum::score`] the mean.
#[derive(Clone, Debug, Default)]
pub struct OutputSum {
    sum: Vec<f64>,
    models: usize,
}

impl OutputSum {
    /// Adds one model's outputs ([len, width] row-major, the same shape every time).
    pub fn add(&mut self, outputs: &[f32]) {
        if self.sum.is_empty() {
            self.sum = vec![0.0; outputs.len()];
        }
        for (s, &o) in self.sum.iter_mut().zip(outputs) {
            *s += o as f64;
        }
        self.models += 1;
    }

    /// Models added.
    pub fn models(&self) -> usize {
        self.models
    }

    /// The mean output, [len, width].
    pub fn mean(&self) -> Vec<f64> {
        let n = self.models.max(1) as f64;
        self.sum.iter().map(|s| s / n).collect()
    }

    /// Loss (no penalty) and correct count of the mean output on `data`, for `loss`: the
    /// cross-entropies from the mean probabilities, MSE and cosine from the mean values.
    pub fn score(&self, loss: Loss, data: &Dataset) -> EvalStats {
        let mean = self.mean();
        let n = data.len;
        let width = mean.len().checked_div(n).unwrap_or(0);
        let mut s = EvalStats { samples: n as u64, ..EvalStats::default() };
        if width == 0 {
            return s;
        }
        // a probability of 0 would make the loss infinite; PyTorch's BCELoss clamps its log at −100
        let ln = |p: f64| p.ln().max(-100.0);
        for b in 0..n {
            let p = &mean[b * width..(b + 1) * width];
            let t = |k: usize| -> f64 {
                match &data.targets {
                    Targets::Classes { labels, .. } if width == 1 => f64::from(labels[b] == 1),
                    Targets::Classes { labels, .. } => f64::from(labels[b] as usize == k),
                    Targets::Values { data: v, .. } => v[b * width + k] as f64,
                }
            };
            if let Targets::Classes { labels, .. } = &data.targets {
                s.correct += u64::from(predicted(p) == labels[b] as usize);
            }
            s.loss_sum += match loss {
                Loss::SoftmaxCrossEntropy => -(0..width).map(|k| t(k) * ln(p[k])).sum::<f64>(),
                Loss::BinaryCrossEntropy => -(0..width).map(|k| t(k) * ln(p[k]) + (1.0 - t(k)) * ln(1.0 - p[k])).sum::<f64>() / width as f64,
                Loss::MeanSquaredError => (0..width).map(|k| (p[k] - t(k)).powi(2)).sum::<f64>() / width as f64,
                Loss::Cosine => {
                    let (pp, tt, pt) = (0..width).fold((0.0, 0.0, 0.0), |(a, b, c), k| (a + p[k] * p[k], b + t(k) * t(k), c + p[k] * t(k)));
                    1.0 - pt / (pp.sqrt().max(COSINE_EPS) * tt.sqrt().max(COSINE_EPS))
                }
            };
        }
        s
    }
}

/// argmax (first on ties), or p > 0.5 for a single sigmoid output: `predicted_class` in f64.
fn predicted(p: &[f64]) -> usize {
    if p.len() == 1 {
        return usize::from(p[0] > 0.5);
    }
    (1..p.len()).fold(0, |best, k| if p[k] > p[best] { k } else { best })
}

#[cfg(test)]
mod tests {
    use super::OutputSum;
    use crate::data::{Dataset, Features, Targets};
    use crate::model::Loss;

    #[test]
    fn mean_probabilities_scored_by_cross_entropy_and_argmax() {
        let data = Dataset::new(Features::F32(vec![0.0; 2]), 1, Targets::Classes { labels: vec![0, 1], num_classes: 2 }).unwrap();
        let mut sum = OutputSum::default();
        sum.add(&[0.9, 0.1, 0.6, 0.4]);
        sum.add(&[0.5, 0.5, 0.2, 0.8]);
        // means: [0.7, 0.3] (label 0, right) and [0.4, 0.6] (label 1, right)
        let s = sum.score(Loss::SoftmaxCrossEntropy, &data);
        assert_eq!((s.samples, s.correct, sum.models()), (2, 2, 2));
        assert!((s.mean_loss() - -(0.7f64.ln() + 0.6f64.ln()) / 2.0).abs() < 1e-6, "{}", s.mean_loss());
    }
}
