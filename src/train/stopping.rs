//! When to change the step size and when to stop training, as scikit-learn's MLPs decide:
//!
//! ```text
//! after each epoch (loss L, validation score S when there is validation data):
//!     early stopping:  count = count + 1 if S < best_S + tol else 0;  best_S = max(best_S, S)
//!     otherwise:       count = count + 1 if L > best_L − tol else 0;  best_L = min(best_L, L)
//!     invscaling:      η = η₀ / (t + 1)^power_t       (t: samples seen so far)
//!     if count > n_iter_no_change:
//!         adaptive:    stop if η ≤ 1e−6, else η = η / 5 and count = 0
//!         otherwise:   stop
//! ```
//!
//! Validation scores are higher-is-better: accuracy, R² (averaged over outputs), or the
//! negated loss.

use crate::{Activation, Error, Float, Loss, Result, Target};
use ndarray::{ArrayView1, ArrayView2};

/// How the step size evolves over the epochs, for every optimizer: scikit-learn's three
/// (here), PyTorch's (their formulas in `schedule.rs`), or a caller's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    Constant,
    /// `η = η₀ / (t + 1)^power_t` after each epoch, `t` the samples seen.
    InvScaling {
        power_t: f64,
    },
    /// `η / 5` each time the no-improvement count runs out; stop below 1e-6.
    Adaptive,
    /// PyTorch's `CosineAnnealingLR` (to 0) over `t_max` epochs (`None`: to the fit's end).
    Cosine {
        t_max: Option<usize>,
    },
    /// PyTorch's `StepLR`: `η₀ γ^⌊e / step_size⌋`.
    Step {
        step_size: usize,
        gamma: f64,
    },
    /// PyTorch's `OneCycleLR`, by batch, over `t_max` epochs (`None`: to the fit's end).
    OneCycle {
        t_max: Option<usize>,
    },
    /// Each epoch's step size from the monitor (`Monitor::learning_rate`).
    Callable,
}

/// The validation score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `−loss`.
    Loss,
    /// Fraction of rows predicted right (all outputs of a row, for several sigmoids).
    Accuracy,
    /// The coefficient of determination, averaged over outputs.
    R2,
    /// 1: the accuracy of a classifier of one class, whose predictions cannot be wrong
    /// (scikit-learn's, for early stopping on such data).
    OneClass,
    /// A score the caller computes from the predictions (`Monitor::score`): a user's metric.
    External,
}

/// The no-improvement rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stopping {
    /// Epochs without improvement tolerated; `None` never stops early.
    pub n_iter_no_change: Option<usize>,
    /// The improvement that counts.
    pub tol: f64,
    /// Judge by the validation score (and restore the best weights at the end) rather
    /// than by the training loss.
    pub early_stopping: bool,
}

impl Default for Stopping {
    fn default() -> Self {
        Stopping {
            n_iter_no_change: None,
            tol: 1e-4,
            early_stopping: false,
        }
    }
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    MaxEpochs,
    NoImprovement,
    LearningRate,
    Callback,
}

impl Stop {
    pub fn name(self) -> &'static str {
        match self {
            Stop::MaxEpochs => "max_epochs",
            Stop::NoImprovement => "no_improvement",
            Stop::LearningRate => "learning_rate",
            Stop::Callback => "callback",
        }
    }
}

/// Where a fit stands between epochs: the no-improvement rule's count and best values, the
/// samples seen and the step size. A fit starts from `Progress::start` or, to continue
/// where another left off (scikit-learn's `warm_start` and `partial_fit`), from the
/// `History::progress` that one returned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Epochs in a row without improvement.
    pub count: usize,
    /// The best judged loss and validation score so far.
    pub best_loss: f64,
    pub best_score: f64,
    /// Rows seen, `t` of the `InvScaling` schedule.
    pub samples_seen: u64,
    /// The step size of the next epoch, in the schedule's units (see `Scales::step`), as
    /// scikit-learn's schedules keep it (η₀ for the others, whose step sizes follow `epochs`).
    pub learning_rate: f64,
    /// Epochs run (the clock of the schedules of `schedule.rs`, warm-up included).
    pub epochs: u64,
}

impl Progress {
    /// Nothing seen yet, and the step size `learning_rate`.
    pub fn start(learning_rate: f64) -> Self {
        Progress {
            count: 0,
            best_loss: f64::INFINITY,
            best_score: f64::NEG_INFINITY,
            samples_seen: 0,
            learning_rate,
            epochs: 0,
        }
    }

    /// Takes an epoch's judged loss and validation score; true if the score is a new best.
    pub fn observe(&mut self, rule: &Stopping, loss: f64, score: Option<f64>) -> bool {
        let mut new_best = false;
        match score {
            Some(s) if rule.early_stopping => {
                // Written as scikit-learn does, so that a NaN score counts as no change.
                if s < self.best_score + rule.tol {
                    self.count += 1;
                } else {
                    self.count = 0;
                }
                if s > self.best_score {
                    self.best_score = s;
                    new_best = true;
                }
            }
            _ => {
                if loss > self.best_loss - rule.tol {
                    self.count += 1;
                } else {
                    self.count = 0;
                }
            }
        }
        if loss < self.best_loss {
            self.best_loss = loss;
        }
        if let (Some(s), false) = (score, rule.early_stopping) {
            self.best_score = self.best_score.max(s);
        }
        new_best
    }

    pub fn exhausted(&self, rule: &Stopping) -> bool {
        rule.n_iter_no_change.is_some_and(|n| self.count > n)
    }
}

/// What the stopping rule and the steps are measured in, for callers whose loss and step
/// size are multiples of ferroprop's (scikit-learn's estimators: its loss is `s` times
/// ferroprop's, its penalty and gradient `g` times). The rule judges
/// `loss · (L − P) + penalty · P` of an epoch of mean loss `L` with penalty part `P`
/// (compared with `tol` and reported as `EpochReport::judged_loss`), and each step is
/// `learning_rate · step` with `learning_rate` in the schedule's units. All 1 by default:
/// ferroprop's own units, and not one bit changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scales {
    pub loss: f64,
    pub penalty: f64,
    pub step: f64,
}

impl Default for Scales {
    fn default() -> Self {
        Scales {
            loss: 1.0,
            penalty: 1.0,
            step: 1.0,
        }
    }
}

impl Scales {
    /// The judged loss of an epoch of mean loss `loss`, `penalty` of it the L2 penalty's.
    pub fn judge(&self, loss: f64, penalty: f64) -> f64 {
        // `loss · L + (penalty − loss) · P`: exactly `loss · L` when the two scales agree.
        self.loss * loss + (self.penalty - self.loss) * penalty
    }
}

/// The validation score of predictions `yhat` (output activation `output`) against `y`,
/// each row weighted by `weight` if given (as scikit-learn's scores take `sample_weight`);
/// NaN if a prediction is not finite.
pub fn score<T: Float>(
    metric: Metric,
    loss: Loss,
    output: Activation,
    yhat: ArrayView2<T>,
    y: Target<T>,
    weight: Option<ArrayView1<T>>,
) -> Result<f64> {
    if yhat.iter().any(|v| !v.is_finite()) {
        return Ok(f64::NAN);
    }
    Ok(match metric {
        Metric::OneClass => 1.0,
        Metric::External => {
            return Err(Error::value(
                "validation_metric",
                "an external metric is computed by the caller, not by score",
            ))
        }
        Metric::Loss => match weight {
            None => -loss.value(yhat, y),
            Some(weight) => {
                // The weighted mean: rows scaled by w_i · n / Σw (see `Loss::value_weighted`).
                let (n, total) = (
                    yhat.nrows() as f64,
                    weight.iter().map(|v| v.f64()).sum::<f64>(),
                );
                let scale = weight.mapv(|v| T::c(v.f64() * n / total));
                -loss.value_weighted(yhat, y, Some(scale.view()))
            }
        },
        Metric::Accuracy => accuracy(output, yhat, y, weight),
        Metric::R2 => match y {
            Target::Dense(y) => r2(yhat, y, weight),
            Target::Labels(_) => {
                return Err(Error::Type {
                    arg: "validation_metric",
                    expected: "real targets for \"r2\"".into(),
                    got: "class labels".into(),
                })
            }
        },
    })
}

/// The (weighted) fraction of rows predicted right: the arg max against the label or the
/// one-hot row (softmax), or every output on the right side of 0.5 (sigmoids).
fn accuracy<T: Float>(
    output: Activation,
    yhat: ArrayView2<T>,
    y: Target<T>,
    weight: Option<ArrayView1<T>>,
) -> f64 {
    let argmax = |row: ArrayView1<T>| {
        row.iter()
            .enumerate()
            .fold((0, T::neg_infinity()), |(bi, bv), (i, &v)| {
                if v > bv {
                    (i, v)
                } else {
                    (bi, bv)
                }
            })
            .0
    };
    let half = T::c(0.5);
    let right = |i: usize| match y {
        Target::Labels(labels) => argmax(yhat.row(i)) == labels[i],
        Target::Dense(y) if output == Activation::Softmax => {
            argmax(yhat.row(i)) == argmax(y.row(i))
        }
        Target::Dense(y) => yhat
            .row(i)
            .iter()
            .zip(y.row(i))
            .all(|(&p, &t)| (p > half) == (t > half)),
    };
    let n = yhat.nrows();
    match weight {
        None => (0..n).filter(|&i| right(i)).count() as f64 / n as f64,
        Some(w) => {
            let total: f64 = w.iter().map(|v| v.f64()).sum();
            (0..n)
                .filter(|&i| right(i))
                .map(|i| w[i].f64())
                .sum::<f64>()
                / total
        }
    }
}

/// The (weighted) coefficient of determination, averaged over outputs; scikit-learn's
/// convention for a constant target: 1 if predicted exactly, else 0.
fn r2<T: Float>(yhat: ArrayView2<T>, y: ArrayView2<T>, weight: Option<ArrayView1<T>>) -> f64 {
    let n = yhat.nrows();
    let w = |i: usize| weight.map_or(1.0, |w| w[i].f64());
    let total: f64 = (0..n).map(w).sum();
    let k = y.ncols();
    let mut sum = 0.0;
    for j in 0..k {
        let (t, p) = (y.column(j), yhat.column(j));
        let mean = match weight {
            None => t.iter().map(|v| v.f64()).sum::<f64>() / n as f64,
            Some(_) => {
                t.iter()
                    .enumerate()
                    .map(|(i, v)| w(i) * v.f64())
                    .sum::<f64>()
                    / total
            }
        };
        let ss_tot: f64 = t
            .iter()
            .enumerate()
            .map(|(i, v)| w(i) * (v.f64() - mean).powi(2))
            .sum();
        let ss_res: f64 = t
            .iter()
            .zip(p)
            .enumerate()
            .map(|(i, (a, b))| w(i) * (a.f64() - b.f64()).powi(2))
            .sum();
        sum += match (ss_tot == 0.0, ss_res == 0.0) {
            (true, true) => 1.0,
            (true, false) => 0.0,
            (false, _) => 1.0 - ss_res / ss_tot,
        };
    }
    sum / k as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn scores_by_hand() {
        let p = array![[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]];
        let labels = array![0usize, 1, 1];
        let acc = score(
            Metric::Accuracy,
            Loss::CrossEntropy,
            Activation::Softmax,
            p.view(),
            Target::Labels(labels.view()),
            None,
        );
        assert_eq!(acc.unwrap(), 2.0 / 3.0);
        let multilabel = array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
        let acc = score(
            Metric::Accuracy,
            Loss::BinaryCrossEntropy,
            Activation::Sigmoid,
            p.view(),
            Target::Dense(multilabel.view()),
            None,
        );
        assert_eq!(acc.unwrap(), 2.0 / 3.0);
        let y = array![[1.0], [2.0], [3.0]];
        let yhat = array![[1.0], [2.0], [4.0]];
        let r2 = score(
            Metric::R2,
            Loss::MeanSquaredError,
            Activation::Identity,
            yhat.view(),
            Target::Dense(y.view()),
            None,
        );
        assert_eq!(r2.unwrap(), 1.0 - 1.0 / 2.0);
        let nan = array![[f64::NAN], [1.0], [1.0]];
        let s = score(
            Metric::R2,
            Loss::MeanSquaredError,
            Activation::Identity,
            nan.view(),
            Target::Dense(y.view()),
            None,
        );
        assert!(s.unwrap().is_nan());
    }

    /// Weights of 2 count a row twice; equal weights change nothing.
    #[test]
    fn weighted_scores_count_rows_by_their_weights() {
        let p = array![[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]];
        let labels = array![0usize, 1, 1];
        let (twice, p2) = (
            array![0usize, 1, 1, 1],
            array![[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.6, 0.4]],
        );
        let w = array![1.0, 1.0, 2.0];
        for metric in [Metric::Accuracy, Metric::Loss] {
            let (loss, out) = (Loss::CrossEntropy, Activation::Softmax);
            let weighted = score(
                metric,
                loss,
                out,
                p.view(),
                Target::Labels(labels.view()),
                Some(w.view()),
            );
            let repeated = score(
                metric,
                loss,
                out,
                p2.view(),
                Target::Labels(twice.view()),
                None,
            );
            assert!(
                (weighted.unwrap() - repeated.unwrap()).abs() < 1e-15,
                "{metric:?}"
            );
        }
        let y = array![[1.0, 0.0], [2.0, 1.0], [3.0, 5.0]];
        let yhat = array![[1.5, 0.0], [2.0, 2.0], [2.0, 4.0]];
        let y2 = array![[1.0, 0.0], [2.0, 1.0], [3.0, 5.0], [3.0, 5.0]];
        let yhat2 = array![[1.5, 0.0], [2.0, 2.0], [2.0, 4.0], [2.0, 4.0]];
        let (loss, out) = (Loss::MeanSquaredError, Activation::Identity);
        let weighted = score(
            Metric::R2,
            loss,
            out,
            yhat.view(),
            Target::Dense(y.view()),
            Some(w.view()),
        );
        let repeated = score(
            Metric::R2,
            loss,
            out,
            yhat2.view(),
            Target::Dense(y2.view()),
            None,
        );
        assert!((weighted.unwrap() - repeated.unwrap()).abs() < 1e-15);
        let equal = array![3.0, 3.0, 3.0];
        let r2 = |w| {
            score(
                Metric::R2,
                loss,
                out,
                yhat.view(),
                Target::Dense(y.view()),
                w,
            )
            .unwrap()
        };
        assert_eq!(r2(Some(equal.view())), r2(None));
        let one = score(
            Metric::OneClass,
            loss,
            out,
            yhat.view(),
            Target::Dense(y.view()),
            None,
        );
        assert_eq!(one.unwrap(), 1.0);
    }

    #[test]
    fn no_improvement_rule_counts_like_scikit_learn() {
        let rule = Stopping {
            n_iter_no_change: Some(2),
            tol: 0.1,
            early_stopping: false,
        };
        let mut t = Progress::start(0.0);
        for (loss, exhausted) in [(1.0, false), (0.95, false), (0.93, false), (0.92, true)] {
            t.observe(&rule, loss, None);
            assert_eq!(t.exhausted(&rule), exhausted, "{loss}");
        }
        let rule = Stopping {
            early_stopping: true,
            ..rule
        };
        let mut t = Progress::start(0.0);
        assert!(t.observe(&rule, 1.0, Some(0.5)));
        assert!(!t.observe(&rule, 1.0, Some(f64::NAN))); // NaN: no new best, count reset
        assert!(!t.exhausted(&rule));
    }
}
