//! Evaluation metrics: loss, accuracy, per-class precision/recall/F1 and the confusion matrix of
//! a classifier; mean absolute and root-mean-square error of a regressor. The math is here (and
//! unit-tested); `evaluate` feeds it from an engine.

use crate::data::{Dataset, Targets};
use crate::engine::Engine;
use crate::error::Result;
use serde::Serialize;

/// counts[t·k + p]: samples of true class t predicted as p.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfusionMatrix {
    /// k, the number of classes.
    pub classes: usize,
    /// (k, k) row-major: rows are true classes, columns predicted ones.
    pub counts: Vec<u64>,
}

/// Precision and recall are None where undefined (no sample predicted as / belonging to the
/// class), where scikit-learn would print 0 with a warning.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// The class index.
    pub class: usize,
    /// Of the samples predicted as this class, the share that belong to it.
    pub precision: Option<f64>,
    /// Of the samples of this class, the share predicted as it.
    pub recall: Option<f64>,
    /// Harmonic mean of precision and recall (0 when both are 0; None when either is undefined).
    pub f1: Option<f64>,
    /// Samples whose true class this is.
    pub support: u64,
}

impl ConfusionMatrix {
    /// All counts zero for `classes` classes.
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix { classes, counts: vec![0; classes * classes] }
    }

    /// Counts one sample; panics if either class is not below `classes`.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth * self.classes + predicted] += 1;
    }

    /// Samples of class `truth` predicted as `predicted`.
    pub fn get(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.classes + predicted]
    }

    /// Adds `other`'s counts (same number of classes) to these.
    pub fn merge(&mut self, other: &ConfusionMatrix) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Samples on the diagonal (predicted as their true class).
    pub fn correct(&self) -> u64 {
        (0..self.classes).map(|c| self.get(c, c)).sum()
    }

    /// correct / total, in [0, 1] (0 when nothing was counted).
    pub fn accuracy(&self) -> f64 {
        self.correct() as f64 / self.total().max(1) as f64
    }

    /// Precision, recall, F1 and support of every class, in class order.
    pub fn per_class(&self) -> Vec<ClassMetrics> {
        let k = self.classes;
        (0..k)
            .map(|c| {
                let predicted: u64 = (0..k).map(|t| self.get(t, c)).sum();
                let support: u64 = (0..k).map(|p| self.get(c, p)).sum();
                metrics(c, self.get(c, c), predicted, support)
            })
            .collect()
    }

    /// Unweighted means over the classes where each is defined (scikit-learn's "macro avg").
    pub fn macro_avg(&self) -> (Option<f64>, Option<f64>, Option<f64>) {
        macro_avg(&self.per_class())
    }
}

/// Up to this many classes a report keeps (and `eval` prints) the full confusion matrix; above
/// it only the per-class counts, which grow with the classes, not with their square (a model
/// of 40,000 classes would need a 12.8 GB matrix).
pub const CONFUSION_MAX_CLASSES: usize = 100;

/// Per-class counts of a classifier's predictions: O(classes) memory whatever the class count,
/// plus the confusion matrix when there are at most [`CONFUSION_MAX_CLASSES`] classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassCounts {
    /// k, the number of classes.
    pub classes: usize,
    /// Samples of class c predicted as c.
    pub true_positives: Vec<u64>,
    /// Samples predicted as class c.
    pub predicted: Vec<u64>,
    /// Samples of class c.
    pub support: Vec<u64>,
    /// The full matrix, kept only up to [`CONFUSION_MAX_CLASSES`] classes.
    pub matrix: Option<ConfusionMatrix>,
}

impl ClassCounts {
    /// All counts zero for `classes` classes.
    pub fn new(classes: usize) -> Self {
        ClassCounts {
            classes,
            true_positives: vec![0; classes],
            predicted: vec![0; classes],
            support: vec![0; classes],
            matrix: (classes <= CONFUSION_MAX_CLASSES).then(|| ConfusionMatrix::new(classes)),
        }
    }

    /// Counts one sample; panics if either class is not below `classes`.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.support[truth] += 1;
        self.predicted[predicted] += 1;
        if truth == predicted {
            self.true_positives[truth] += 1;
        }
        if let Some(m) = &mut self.matrix {
            m.add(truth, predicted);
        }
    }

    /// These counts for `k >= classes` classes (the matrix dropped if `k` is above the bound).
    fn grown(&self, k: usize) -> Self {
        let mut out = ClassCounts::new(k);
        let c = self.classes;
        out.true_positives[..c].copy_from_slice(&self.true_positives);
        out.predicted[..c].copy_from_slice(&self.predicted);
        out.support[..c].copy_from_slice(&self.support);
        if let (Some(big), Some(small)) = (&mut out.matrix, &self.matrix) {
            for t in 0..c {
                for p in 0..c {
                    big.counts[t * k + p] = small.get(t, p);
                }
            }
        }
        out
    }

    /// Samples counted.
    pub fn total(&self) -> u64 {
        self.support.iter().sum()
    }

    /// Samples predicted as their true class.
    pub fn correct(&self) -> u64 {
        self.true_positives.iter().sum()
    }

    /// Precision, recall, F1 and support of every class, in class order (as
    /// [`ConfusionMatrix::per_class`], in O(classes)).
    pub fn per_class(&self) -> Vec<ClassMetrics> {
        (0..self.classes).map(|c| metrics(c, self.true_positives[c], self.predicted[c], self.support[c])).collect()
    }
}

fn metrics(class: usize, tp: u64, predicted: u64, support: u64) -> ClassMetrics {
    let tp = tp as f64;
    let precision = (predicted > 0).then(|| tp / predicted as f64);
    let recall = (support > 0).then(|| tp / support as f64);
    let f1 = match (precision, recall) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    };
    ClassMetrics { class, precision, recall, f1, support }
}

/// Unweighted means over the classes where each is defined (scikit-learn's "macro avg").
fn macro_avg(pc: &[ClassMetrics]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let mean = |f: &dyn Fn(&ClassMetrics) -> Option<f64>| {
        let v: Vec<f64> = pc.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    (mean(&|m| m.precision), mean(&|m| m.recall), mean(&|m| m.f1))
}

/// The class a row of network outputs predicts: argmax (first on ties), or p > 0.5 for a single
/// sigmoid output.
pub fn predicted_class(probabilities: &[f32]) -> usize {
    if probabilities.len() == 1 {
        return usize::from(probabilities[0] > 0.5);
    }
    let mut best = 0;
    for (k, &p) in probabilities.iter().enumerate().skip(1) {
        if p > probabilities[best] {
            best = k;
        }
    }
    best
}

/// Sums over samples; `finish` turns them into a report. Accumulating over several datasets gives
/// the report of their union (`eval --split all`).
#[derive(Clone, Debug, Default)]
pub struct EvalAccumulator {
    /// Samples added.
    pub samples: u64,
    /// Σ of the per-sample data loss.
    pub loss_sum: f64,
    /// Classification: the per-class counts so far (None until class targets are added).
    pub classes: Option<ClassCounts>,
    /// Regression: Σ |output − target| over all output values.
    pub abs_err_sum: f64,
    /// Regression: Σ (output − target)² over all output values.
    pub sq_err_sum: f64,
    /// Regression: output values added (samples × width).
    pub values: u64,
}

/// What `eval` reports for a dataset: the classification fields are `Some` for class targets,
/// `mae`/`rmse` for real-valued ones.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    /// Samples evaluated.
    pub samples: u64,
    /// Mean data loss (no regularisation penalty), as training reports it.
    pub loss: f64,
    /// Share of samples classified correctly, in [0, 1].
    pub accuracy: Option<f64>,
    /// Samples classified correctly.
    pub correct: Option<u64>,
    /// Precision, recall, F1 and support per class.
    pub per_class: Option<Vec<ClassMetrics>>,
    /// Unweighted mean precision over the classes where it is defined.
    pub macro_precision: Option<f64>,
    /// Unweighted mean recall over the classes where it is defined.
    pub macro_recall: Option<f64>,
    /// Unweighted mean F1 over the classes where it is defined.
    pub macro_f1: Option<f64>,
    /// Classes of a classifier's report (its per-class entries); None for regression.
    pub classes: Option<usize>,
    /// Counts of (true class, predicted class); None for regression and for more than
    /// [`CONFUSION_MAX_CLASSES`] classes.
    pub confusion: Option<ConfusionMatrix>,
    /// Regression: mean absolute error over all output values.
    pub mae: Option<f64>,
    /// Regression: root-mean-square error over all output values.
    pub rmse: Option<f64>,
}

impl EvalAccumulator {
    /// Adds a dataset's targets against `outputs` ([len, width] probabilities or values) and the
    /// summed loss the engine measured.
    pub fn add(&mut self, data: &Dataset, outputs: &[f32], width: usize, loss_sum: f64) {
        self.samples += data.len as u64;
        self.loss_sum += loss_sum;
        match &data.targets {
            Targets::Classes { labels, num_classes } => {
                let k = (*num_classes).max(width).max(2);
                let cm = self.classes.get_or_insert_with(|| ClassCounts::new(k));
                if cm.classes < k {
                    *cm = cm.grown(k);
                }
                for (i, &t) in labels.iter().enumerate() {
                    cm.add(t as usize, predicted_class(&outputs[i * width..(i + 1) * width]));
                }
            }
            Targets::Values { data: v, .. } => {
                for (o, t) in outputs.iter().zip(v) {
                    let e = (*o - *t) as f64;
                    self.abs_err_sum += e.abs();
                    self.sq_err_sum += e * e;
                    self.values += 1;
                }
            }
        }
    }

    /// The report of everything added: means over samples (loss) and values (MAE, RMSE).
    pub fn finish(self) -> EvalReport {
        let n = self.samples.max(1) as f64;
        let loss = self.loss_sum / n;
        match self.classes {
            Some(cm) => {
                let per_class = cm.per_class();
                let (p, r, f) = macro_avg(&per_class);
                EvalReport {
                    samples: self.samples,
                    loss,
                    accuracy: Some(cm.correct() as f64 / cm.total().max(1) as f64),
                    correct: Some(cm.correct()),
                    per_class: Some(per_class),
                    macro_precision: p,
                    macro_recall: r,
                    macro_f1: f,
                    classes: Some(cm.classes),
                    confusion: cm.matrix,
                    mae: None,
                    rmse: None,
                }
            }
            None => {
                let m = self.values.max(1) as f64;
                EvalReport {
                    samples: self.samples,
                    loss,
                    accuracy: None,
                    correct: None,
                    per_class: None,
                    macro_precision: None,
                    macro_recall: None,
                    macro_f1: None,
                    classes: None,
                    confusion: None,
                    mae: Some(self.abs_err_sum / m),
                    rmse: Some((self.sq_err_sum / m).sqrt()),
                }
            }
        }
    }
}

/// Most output values one `predict` call of [`evaluate_into`] returns: a wide output layer is
/// evaluated a slice of rows at a time, so memory stays bounded whatever the class count.
pub const EVAL_OUTPUT_VALUES: usize = 1 << 22;

/// Evaluates `data` with the engine's current parameters into `acc`.
pub fn evaluate_into<E: Engine + ?Sized>(engine: &mut E, data: &Dataset, acc: &mut EvalAccumulator) -> Result<()> {
    let width = engine.setup().spec.outputs();
    let rows = (EVAL_OUTPUT_VALUES / width.max(1)).max(1);
    if rows >= data.len {
        let stats = engine.evaluate(data)?;
        let outputs = engine.predict(data)?;
        acc.add(data, &outputs, width, stats.loss_sum);
        return Ok(());
    }
    for start in (0..data.len).step_by(rows) {
        let part = data.slice(start..(start + rows).min(data.len));
        let stats = engine.evaluate(&part)?;
        let outputs = engine.predict(&part)?;
        acc.add(&part, &outputs, width, stats.loss_sum);
    }
    Ok(())
}

/// Loss, accuracy, per-class metrics and the confusion matrix (or MAE/RMSE) of `data`.
pub fn evaluate<E: Engine + ?Sized>(engine: &mut E, data: &Dataset) -> Result<EvalReport> {
    let mut acc = EvalAccumulator::default();
    evaluate_into(engine, data, &mut acc)?;
    Ok(acc.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Features;

    fn cm(k: usize, pairs: &[(usize, usize)]) -> ConfusionMatrix {
        let mut m = ConfusionMatrix::new(k);
        for &(t, p) in pairs {
            m.add(t, p);
        }
        m
    }

    #[test]
    fn precision_recall_f1_match_hand_computation() {
        // true 0: predicted 0,0,1 ; true 1: predicted 1 ; true 2: predicted 0, 2
        let m = cm(3, &[(0, 0), (0, 0), (0, 1), (1, 1), (2, 0), (2, 2)]);
        assert_eq!(m.total(), 6);
        assert_eq!(m.correct(), 4);
        assert!((m.accuracy() - 4.0 / 6.0).abs() < 1e-15);
        let pc = m.per_class();
        // class 0: tp 2, predicted 3, support 3
        assert_eq!((pc[0].precision, pc[0].recall, pc[0].support), (Some(2.0 / 3.0), Some(2.0 / 3.0), 3));
        // class 1: tp 1, predicted 2, support 1
        assert_eq!((pc[1].precision, pc[1].recall), (Some(0.5), Some(1.0)));
        assert!((pc[1].f1.unwrap() - 2.0 / 3.0).abs() < 1e-15);
        // class 2: tp 1, predicted 1, support 2
        assert_eq!((pc[2].precision, pc[2].recall), (Some(1.0), Some(0.5)));
        let (p, r, _) = m.macro_avg();
        assert!((p.unwrap() - (2.0 / 3.0 + 0.5 + 1.0) / 3.0).abs() < 1e-15);
        assert!((r.unwrap() - (2.0 / 3.0 + 1.0 + 0.5) / 3.0).abs() < 1e-15);
    }

    #[test]
    fn undefined_precision_and_recall_are_none() {
        // class 2 never occurs and is never predicted; class 1 is never predicted
        let m = cm(3, &[(0, 0), (1, 0)]);
        let pc = m.per_class();
        assert_eq!(pc[1].precision, None);
        assert_eq!(pc[1].recall, Some(0.0));
        assert_eq!(pc[1].f1, None);
        assert_eq!((pc[2].precision, pc[2].recall, pc[2].support), (None, None, 0));
        assert_eq!(m.macro_avg().0, Some(0.5)); // only class 0 defines precision
    }

    #[test]
    fn many_classes_keep_per_class_counts_without_a_matrix() {
        let k = CONFUSION_MAX_CLASSES + 1;
        let mut c = ClassCounts::new(k);
        assert!(c.matrix.is_none());
        c.add(0, 0);
        c.add(k - 1, 0);
        let pc = c.per_class();
        assert_eq!((pc[0].precision, pc[0].recall, pc[k - 1].support), (Some(0.5), Some(1.0), 1));
        // a small set of counts grown past the bound keeps its counts and drops its matrix
        let mut small = ClassCounts::new(3);
        small.add(2, 1);
        let big = small.grown(k);
        assert_eq!((big.support[2], big.predicted[1], big.matrix.is_none()), (1, 1, true));
        let same = small.grown(4);
        assert_eq!(same.matrix.unwrap().get(2, 1), 1);
    }

    #[test]
    fn argmax_and_single_sigmoid_output() {
        assert_eq!(predicted_class(&[0.1, 0.7, 0.2]), 1);
        assert_eq!(predicted_class(&[0.5, 0.5]), 0);
        assert_eq!(predicted_class(&[0.6]), 1);
        assert_eq!(predicted_class(&[0.4]), 0);
    }

    #[test]
    fn accumulator_reports_classes_and_regression() {
        let ds = Dataset::new(Features::F32(vec![0.0; 4]), 1, Targets::Classes { labels: vec![0, 1, 1, 0], num_classes: 2 }).unwrap();
        let mut acc = EvalAccumulator::default();
        acc.add(&ds, &[0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7], 2, 2.0);
        let r = acc.finish();
        assert_eq!((r.samples, r.correct, r.loss), (4, Some(2), 0.5));
        let c = r.confusion.unwrap();
        assert_eq!(c.counts, vec![1, 1, 1, 1]);

        let ds = Dataset::new(Features::F32(vec![0.0; 2]), 1, Targets::Values { data: vec![1.0, 3.0], dim: 1 }).unwrap();
        let mut acc = EvalAccumulator::default();
        acc.add(&ds, &[2.0, 3.0], 1, 1.0);
        let r = acc.finish();
        assert_eq!(r.mae, Some(0.5));
        assert!((r.rmse.unwrap() - 0.5f64.sqrt()).abs() < 1e-15);
        assert_eq!(r.accuracy, None);
    }
}
