//! Gradient-descent updates, in order of increasing complexity. Each sees the gradient
//! `g` (`dW` or `db`) of a parameter `θ` (`W` or `b`) and the step size `η`:
//!
//! ```text
//! Sgd:       θ −= η g
//! Momentum:  v = μ v − η g;   θ += v                 (Nesterov: θ += μ v − η g)
//! Adam:      m = β₁ m + (1 − β₁) g;   s = β₂ s + (1 − β₂) g²;   t += 1
//!            θ −= η √(1 − β₂ᵗ) / (1 − β₁ᵗ) · m / (√s + ε)
//! ```
//!
//! The formulas are scikit-learn's (`sklearn.neural_network._stochastic_optimizers`), so
//! the two libraries take the same steps from the same state.

use crate::{Dense, Error, Float, LayerCache, Result};
use ndarray::{Array1, Array2, Zip};

/// Parameters with at least this many values are updated on all threads (the values split
/// among them; each value's update is the same, so the bits are too). Measured on 64-256-256-10
/// (layers of 2¹⁴ and 2¹⁶ weights): a serial step took 6 % of the epoch with the other
/// core idle.
const PARALLEL_UPDATE: usize = 1 << 14;

/// `zip.for_each(rule)`, or `par_for_each` where the parameter is large and there are
/// threads.
macro_rules! each {
    ($zip:expr, $rule:expr) => {{
        let zip = $zip;
        match zip.size() >= PARALLEL_UPDATE && crate::linalg::num_threads() > 1 {
            true => zip.par_for_each($rule),
            false => zip.for_each($rule),
        }
    }};
}

/// Which optimizer, with its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerConfig {
    /// Plain gradient descent (`momentum = 0`) or with (Nesterov's) momentum.
    Sgd { momentum: f64, nesterov: bool },
    Adam {
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
    },
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
        }
    }
}

impl OptimizerConfig {
    /// Adam with the usual `β₁ = 0.9, β₂ = 0.999, ε = 1e−8`.
    pub fn adam() -> Self {
        OptimizerConfig::Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
        }
    }

    /// Refuses hyperparameters outside their domain.
    pub fn validate(&self) -> Result<()> {
        let in_unit = |arg: &'static str, v: f64| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::value(arg, format!("must be in [0, 1), got {v}")))
            }
        };
        match *self {
            OptimizerConfig::Sgd { momentum, .. } => in_unit("momentum", momentum),
            OptimizerConfig::Adam {
                beta_1,
                beta_2,
                epsilon,
            } => {
                in_unit("beta_1", beta_1)?;
                in_unit("beta_2", beta_2)?;
                if epsilon.is_finite() && epsilon > 0.0 {
                    Ok(())
                } else {
                    Err(Error::value(
                        "epsilon",
                        format!("must be positive and finite, got {epsilon}"),
                    ))
                }
            }
        }
    }
}

/// An optimizer with its state (velocities or moments), one pair of buffers per layer.
#[derive(Debug, Clone)]
pub struct Optimizer<T> {
    config: OptimizerConfig,
    /// Momentum's `v`, Adam's `m` (empty for plain SGD).
    first: Vec<(Array2<T>, Array1<T>)>,
    /// Adam's `s` (empty otherwise).
    second: Vec<(Array2<T>, Array1<T>)>,
    /// Steps taken.
    t: u64,
}

impl<T: Float> Optimizer<T> {
    /// Zero state for parameters shaped like `layers`.
    pub fn new(config: OptimizerConfig, layers: &[Dense<T>]) -> Result<Self> {
        config.validate()?;
        let zeros = || {
            layers
                .iter()
                .map(|l| (Array2::zeros(l.w.raw_dim()), Array1::zeros(l.b.raw_dim())))
                .collect()
        };
        let (first, second) = match config {
            OptimizerConfig::Sgd { momentum: 0.0, .. } => (vec![], vec![]),
            OptimizerConfig::Sgd { .. } => (zeros(), vec![]),
            OptimizerConfig::Adam { .. } => (zeros(), zeros()),
        };
        Ok(Optimizer {
            config,
            first,
            second,
            t: 0,
        })
    }

    pub fn config(&self) -> OptimizerConfig {
        self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One update of every `(W, b)` from the gradients `(dW, db)` in `grads`.
    pub fn step(&mut self, layers: &mut [Dense<T>], grads: &[LayerCache<T>], learning_rate: f64) {
        self.t += 1;
        match self.config {
            OptimizerConfig::Sgd { momentum: 0.0, .. } => {
                // `θ + (−η) g`, rounded as `scaled_add` rounds it.
                let lr = T::c(-learning_rate);
                let rule = |p: &mut T, &g: &T| *p += lr * g;
                for (l, g) in layers.iter_mut().zip(grads) {
                    each!(Zip::from(&mut l.w).and(&g.dw), rule);
                    each!(Zip::from(&mut l.b).and(&g.db), rule);
                }
            }
            OptimizerConfig::Sgd { momentum, nesterov } => {
                let (mu, lr) = (T::c(momentum), T::c(learning_rate));
                let rule = |p: &mut T, &g: &T, v: &mut T| {
                    *v = mu * *v - lr * g;
                    *p += if nesterov { mu * *v - lr * g } else { *v };
                };
                for ((l, g), (vw, vb)) in layers.iter_mut().zip(grads).zip(&mut self.first) {
                    each!(Zip::from(&mut l.w).and(&g.dw).and(vw), rule);
                    each!(Zip::from(&mut l.b).and(&g.db).and(vb), rule);
                }
            }
            OptimizerConfig::Adam {
                beta_1,
                beta_2,
                epsilon,
            } => {
                let t = self.t.min(i32::MAX as u64) as i32;
                let lr_t = learning_rate * (1.0 - beta_2.powi(t)).sqrt() / (1.0 - beta_1.powi(t));
                let (b1, b2, eps, lr_t) = (T::c(beta_1), T::c(beta_2), T::c(epsilon), T::c(lr_t));
                let one = T::one();
                let rule = |p: &mut T, &g: &T, m: &mut T, s: &mut T| {
                    *m = b1 * *m + (one - b1) * g;
                    *s = b2 * *s + (one - b2) * g * g;
                    *p -= lr_t * *m / (s.sqrt() + eps);
                };
                let state = self.first.iter_mut().zip(&mut self.second);
                for ((l, g), ((mw, mb), (sw, sb))) in layers.iter_mut().zip(grads).zip(state) {
                    each!(Zip::from(&mut l.w).and(&g.dw).and(mw).and(sw), rule);
                    each!(Zip::from(&mut l.b).and(&g.db).and(mb).and(sb), rule);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Activation;
    use ndarray::array;

    fn one_param(w: f64) -> (Vec<Dense<f64>>, Vec<LayerCache<f64>>) {
        let layer = Dense {
            w: array![[w]],
            b: array![0.0],
            activation: Activation::Identity,
        };
        let mut cache = LayerCache::new(1, 1, 1).unwrap();
        cache.dw[[0, 0]] = 2.0;
        cache.db[0] = -1.0;
        (vec![layer], vec![cache])
    }

    #[test]
    fn sgd_by_hand() {
        let (mut layers, grads) = one_param(1.0);
        let mut opt = Optimizer::new(OptimizerConfig::default(), &layers).unwrap();
        opt.step(&mut layers, &grads, 0.25);
        assert_eq!(layers[0].w[[0, 0]], 0.5);
        assert_eq!(layers[0].b[0], 0.25);
    }

    #[test]
    fn momentum_and_nesterov_by_hand() {
        for (nesterov, after_two) in [(false, 1.0 - 0.5 - 0.75), (true, 1.0 - 0.75 - 0.875)] {
            let (mut layers, grads) = one_param(1.0);
            let cfg = OptimizerConfig::Sgd {
                momentum: 0.5,
                nesterov,
            };
            let mut opt = Optimizer::new(cfg, &layers).unwrap();
            // v1 = −0.5; v2 = 0.5·v1 − 0.5 = −0.75; nesterov steps: μv − ηg.
            opt.step(&mut layers, &grads, 0.25);
            opt.step(&mut layers, &grads, 0.25);
            assert_eq!(layers[0].w[[0, 0]], after_two, "nesterov={nesterov}");
        }
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let (mut layers, grads) = one_param(1.0);
        let mut opt = Optimizer::new(OptimizerConfig::adam(), &layers).unwrap();
        opt.step(&mut layers, &grads, 0.1);
        // m̂ = g, ŝ = g²: the first step is η·g/(|g| + ε') whatever the scale of g.
        let lr_t = 0.1 * (1.0 - 0.999f64).sqrt() / (1.0 - 0.9);
        let (m, s) = ((1.0 - 0.9) * 2.0, (1.0 - 0.999) * 2.0 * 2.0f64);
        let want = 1.0 - lr_t * m / (s.sqrt() + 1e-8);
        assert_eq!(layers[0].w[[0, 0]], want);
        assert!((layers[0].w[[0, 0]] - 0.9).abs() < 1e-6);
        assert!((layers[0].b[0] - 0.1).abs() < 1e-6);
        assert_eq!(opt.steps(), 1);
    }

    #[test]
    fn bad_hyperparameters_are_refused() {
        let bad = OptimizerConfig::Sgd {
            momentum: 1.0,
            nesterov: false,
        };
        assert!(bad.validate().unwrap_err().to_string().contains("momentum"));
        let bad = OptimizerConfig::Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 0.0,
        };
        assert!(bad.validate().unwrap_err().to_string().contains("epsilon"));
    }
}
