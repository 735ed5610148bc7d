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
use ndarray::{ArrayView2, Axis};

/// How the step size evolves over the epochs (plain SGD only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    Constant,
    /// `η = η₀ / (t + 1)^power_t` after each epoch, `t` the samples seen.
    InvScaling {
        power_t: f64,
    },
    /// `η / 5` each time the no-improvement count runs out; stop below 1e-6.
    Adaptive,
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

/// The running state of the no-improvement rule.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    count: usize,
    pub best_loss: f64,
    pub best_score: f64,
}

impl Tracker {
    pub fn new() -> Self {
        Tracker {
            count: 0,
            best_loss: f64::INFINITY,
            best_score: f64::NEG_INFINITY,
        }
    }

    /// Takes an epoch's loss and validation score; true if the score is a new best.
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

    pub fn reset_count(&mut self) {
        self.count = 0;
    }
}

/// The validation score of predictions `yhat` (output activation `output`) against `y`;
/// NaN if a prediction is not finite.
pub fn score<T: Float>(
    metric: Metric,
    loss: Loss,
    output: Activation,
    yhat: ArrayView2<T>,
    y: Target<T>,
) -> Result<f64> {
    if yhat.iter().any(|v| !v.is_finite()) {
        return Ok(f64::NAN);
    }
    let n = yhat.nrows() as f64;
    Ok(match metric {
        Metric::Loss => -loss.value(yhat, y),
        Metric::Accuracy => {
            let argmax = |row: ndarray::ArrayView1<T>| {
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
            let right = match y {
                Target::Labels(labels) => yhat
                    .axis_iter(Axis(0))
                    .zip(labels)
                    .filter(|(row, &c)| argmax(*row) == c)
                    .count(),
                Target::Dense(y) if output == Activation::Softmax => yhat
                    .axis_iter(Axis(0))
                    .zip(y.axis_iter(Axis(0)))
                    .filter(|(p, t)| argmax(*p) == argmax(*t))
                    .count(),
                Target::Dense(y) => yhat
                    .axis_iter(Axis(0))
                    .zip(y.axis_iter(Axis(0)))
                    .filter(|(p, t)| p.iter().zip(t).all(|(&p, &t)| (p > half) == (t > half)))
                    .count(),
            };
            right as f64 / n
        }
        Metric::R2 => {
            let Target::Dense(y) = y else {
                return Err(Error::Type {
                    arg: "validation_metric",
                    expected: "real targets for \"r2\"".into(),
                    got: "class labels".into(),
                });
            };
            let k = y.ncols();
            let mut total = 0.0;
            for j in 0..k {
                let (t, p) = (y.column(j), yhat.column(j));
                let mean = t.iter().map(|v| v.f64()).sum::<f64>() / n;
                let ss_tot: f64 = t.iter().map(|v| (v.f64() - mean).powi(2)).sum();
                let ss_res: f64 = t
                    .iter()
                    .zip(p)
                    .map(|(a, b)| (a.f64() - b.f64()).powi(2))
                    .sum();
                // scikit-learn's convention for constant targets.
                total += if ss_tot == 0.0 {
                    if ss_res == 0.0 {
                        1.0
                    } else {
                        0.0
                    }
                } else {
                    1.0 - ss_res / ss_tot
                };
            }
            total / k as f64
        }
    })
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
        );
        assert_eq!(acc.unwrap(), 2.0 / 3.0);
        let multilabel = array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
        let acc = score(
            Metric::Accuracy,
            Loss::BinaryCrossEntropy,
            Activation::Sigmoid,
            p.view(),
            Target::Dense(multilabel.view()),
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
        );
        assert_eq!(r2.unwrap(), 1.0 - 1.0 / 2.0);
        let nan = array![[f64::NAN], [1.0], [1.0]];
        let s = score(
            Metric::R2,
            Loss::MeanSquaredError,
            Activation::Identity,
            nan.view(),
            Target::Dense(y.view()),
        );
        assert!(s.unwrap().is_nan());
    }

    #[test]
    fn no_improvement_rule_counts_like_scikit_learn() {
        let rule = Stopping {
            n_iter_no_change: Some(2),
            tol: 0.1,
            early_stopping: false,
        };
        let mut t = Tracker::new();
        for (loss, exhausted) in [(1.0, false), (0.95, false), (0.93, false), (0.92, true)] {
            t.observe(&rule, loss, None);
            assert_eq!(t.exhausted(&rule), exhausted, "{loss}");
        }
        let rule = Stopping {
            early_stopping: true,
            ..rule
        };
        let mut t = Tracker::new();
        assert!(t.observe(&rule, 1.0, Some(0.5)));
        assert!(!t.observe(&rule, 1.0, Some(f64::NAN))); // NaN: no new best, count reset
        assert!(!t.exhausted(&rule));
    }
}
