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
//!
//! Each rule is written once, for one value (`sgd_value`, `momentum_value`, `adam_value`);
//! `kernels/elementwise.rs` runs it over contiguous slices at the CPU's vector level, large
//! parameters in pieces on all threads.

use crate::kernels::elementwise::{self, on_threads};
use crate::nn::layer::{try_clone, try_zeros, try_zeros1};
use crate::{Dense, Error, Float, Gradient, Result};
use ndarray::{Array, Array1, Array2, Dimension, Zip};

// The rule of each optimizer for one value, run over contiguous slices by the loops of
// `kernels/elementwise.rs` (compiled for each vector level: one IEEE operation at a time,
// so the bits are the same) and by `Zip` for arrays that are not.

#[inline(always)]
fn sgd_value<T: Float>(p: &mut T, g: T, lr: T) {
    *p += lr * g;
}

#[inline(always)]
fn momentum_value<T: Float>(p: &mut T, g: T, v: &mut T, mu: T, lr: T, nesterov: bool) {
    *v = mu * *v - lr * g;
    *p += if nesterov { mu * *v - lr * g } else { *v };
}

#[inline(always)]
fn adam_value<T: Float>(p: &mut T, g: T, m: &mut T, s: &mut T, h: AdamStep<T>) {
    let one = T::one();
    *m = h.b1 * *m + (one - h.b1) * g;
    *s = h.b2 * *s + (one - h.b2) * g * g;
    *p -= h.lr_t * *m / (s.sqrt() + h.eps);
}

/// Adam's constants for one step.
#[derive(Clone, Copy)]
struct AdamStep<T> {
    b1: T,
    b2: T,
    eps: T,
    lr_t: T,
}

fn sgd<T: Float, D: Dimension>(p: &mut Array<T, D>, g: &Array<T, D>, lr: T) {
    match (p.as_slice_mut(), g.as_slice()) {
        (Some(p), Some(g)) => on_threads((p, g), &|(p, g)| {
            elementwise::update(p, g, move |p, g| sgd_value(p, g, lr))
        }),
        _ => Zip::from(p).and(g).for_each(|p, &g| sgd_value(p, g, lr)),
    }
}

fn momentum<T: Float, D: Dimension>(
    p: &mut Array<T, D>,
    g: &Array<T, D>,
    v: &mut Array<T, D>,
    (mu, lr, nesterov): (T, T, bool),
) {
    match (p.as_slice_mut(), g.as_slice(), v.as_slice_mut()) {
        // One loop per case, so that each vectorizes without a branch per value.
        (Some(p), Some(g), Some(v)) => on_threads((p, g, v), &|(p, g, v)| match nesterov {
            true => elementwise::update1(p, g, v, move |p, g, v| {
                momentum_value(p, g, v, mu, lr, true)
            }),
            false => elementwise::update1(p, g, v, move |p, g, v| {
                momentum_value(p, g, v, mu, lr, false)
            }),
        }),
        _ => Zip::from(p)
            .and(g)
            .and(v)
            .for_each(|p, &g, v| momentum_value(p, g, v, mu, lr, nesterov)),
    }
}

fn adam<T: Float, D: Dimension>(
    p: &mut Array<T, D>,
    g: &Array<T, D>,
    m: &mut Array<T, D>,
    s: &mut Array<T, D>,
    h: AdamStep<T>,
) {
    match (
        p.as_slice_mut(),
        g.as_slice(),
        m.as_slice_mut(),
        s.as_slice_mut(),
    ) {
        (Some(p), Some(g), Some(m), Some(s)) => on_threads((p, g, m, s), &|(p, g, m, s)| {
            elementwise::update2(p, g, m, s, move |p, g, m, s| adam_value(p, g, m, s, h))
        }),
        _ => Zip::from(p)
            .and(g)
            .and(m)
            .and(s)
            .for_each(|p, &g, m, s| adam_value(p, g, m, s, h)),
    }
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

    /// Buffers of state per parameter: none for plain SGD, the velocity with momentum,
    /// both moments for Adam.
    pub fn state_buffers(&self) -> usize {
        match *self {
            OptimizerConfig::Sgd { momentum: 0.0, .. } => 0,
            OptimizerConfig::Sgd { .. } => 1,
            OptimizerConfig::Adam { .. } => 2,
        }
    }

    /// Refuses hyperparameters outside their domain (the rules are `check.rs`'s):
    /// `momentum`, `beta_1` and `beta_2` in `[0, 1)`, `epsilon` positive and finite.
    pub fn validate(&self) -> Result<()> {
        use crate::check::{below_one, positive};
        match *self {
            OptimizerConfig::Sgd { momentum, .. } => below_one("momentum", momentum).map(drop),
            OptimizerConfig::Adam {
                beta_1,
                beta_2,
                epsilon,
            } => {
                below_one("beta_1", beta_1)?;
                below_one("beta_2", beta_2)?;
                positive("epsilon", epsilon).map(drop)
            }
        }
    }
}

/// One buffer shaped like `W` and one like `b` per layer.
type State<T> = Vec<(Array2<T>, Array1<T>)>;

/// An optimizer with its state (velocities or moments), one pair of buffers per layer.
#[derive(Debug, Clone)]
pub struct Optimizer<T> {
    config: OptimizerConfig,
    /// Momentum's `v`, Adam's `m` (empty for plain SGD).
    first: State<T>,
    /// Adam's `s` (empty otherwise).
    second: State<T>,
    /// Steps taken.
    t: u64,
}

impl<T: Float> Optimizer<T> {
    /// Zero state for parameters shaped like `layers`.
    pub fn new(config: OptimizerConfig, layers: &[Dense<T>]) -> Result<Self> {
        config.validate()?;
        let zeros = || -> Result<State<T>> {
            layers
                .iter()
                .map(|l| Ok((try_zeros(l.n_in(), l.n_out())?, try_zeros1(l.n_out())?)))
                .collect()
        };
        let (first, second) = match config {
            OptimizerConfig::Sgd { momentum: 0.0, .. } => (vec![], vec![]),
            OptimizerConfig::Sgd { .. } => (zeros()?, vec![]),
            OptimizerConfig::Adam { .. } => (zeros()?, zeros()?),
        };
        Ok(Optimizer {
            config,
            first,
            second,
            t: 0,
        })
    }

    /// A copy, allocated fallibly (`clone` aborts when memory runs out).
    pub fn try_clone(&self) -> Result<Self> {
        let copy = |state: &State<T>| -> Result<State<T>> {
            state
                .iter()
                .map(|(w, b)| Ok((try_clone(w)?, try_clone(b)?)))
                .collect()
        };
        Ok(Optimizer {
            config: self.config,
            first: copy(&self.first)?,
            second: copy(&self.second)?,
            t: self.t,
        })
    }

    pub fn config(&self) -> OptimizerConfig {
        self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// Momentum's velocities `v` or Adam's first moments `m`, one `(W, b)` pair per layer
    /// shaped like the layer's parameters (empty for plain SGD).
    pub fn first(&self) -> &[(Array2<T>, Array1<T>)] {
        &self.first
    }

    /// Adam's second moments `s`, one `(W, b)` pair per layer (empty otherwise).
    pub fn second(&self) -> &[(Array2<T>, Array1<T>)] {
        &self.second
    }

    /// The most steps a restored optimizer may have taken: counting on from there never
    /// overflows.
    pub const MAX_STEPS: u64 = i64::MAX as u64;

    /// An optimizer that continues from saved state: `first`, `second` and `steps` as
    /// [`first`](Self::first), [`second`](Self::second) and [`steps`](Self::steps) gave
    /// them, for parameters shaped like `layers`. Refuses an invalid `config`, buffers the
    /// config does not have or lacks, a shape other than its parameter's, a value that is
    /// not finite, a negative second moment, or more than [`MAX_STEPS`](Self::MAX_STEPS).
    pub fn from_state(
        config: OptimizerConfig,
        first: Vec<(Array2<T>, Array1<T>)>,
        second: Vec<(Array2<T>, Array1<T>)>,
        steps: u64,
        layers: &[Dense<T>],
    ) -> Result<Self> {
        config.validate()?;
        let bad = |msg: String| Error::value("optimizer state", msg);
        let n = layers.len();
        let (n_first, n_second) = match config.state_buffers() {
            0 => (0, 0),
            1 => (n, 0),
            _ => (n, n),
        };
        for (name, buffers, want) in [("first", &first, n_first), ("second", &second, n_second)] {
            if buffers.len() != want {
                return Err(bad(format!(
                    "must have {want} {name} buffers for {config:?} (one per layer), got {}",
                    buffers.len()
                )));
            }
            for (k, ((w, b), layer)) in buffers.iter().zip(layers).enumerate() {
                if w.dim() != layer.w.dim() || b.len() != layer.b.len() {
                    return Err(bad(format!(
                        "has {name} buffers of layer {k} of shapes {:?} and ({},), the layer's \
                         W and b {:?} and ({},)",
                        w.dim(),
                        b.len(),
                        layer.w.dim(),
                        layer.b.len()
                    )));
                }
                if w.iter().chain(b).any(|v| !v.is_finite()) {
                    return Err(bad(format!(
                        "has {name} buffers of layer {k} with NaN or infinity"
                    )));
                }
                // Adam's s is a mean of squares; a negative one would make √s NaN.
                if name == "second" && w.iter().chain(b).any(|&v| v < T::zero()) {
                    return Err(bad(format!(
                        "must have non-negative second moments, got a negative one in layer {k}"
                    )));
                }
            }
        }
        if steps > Self::MAX_STEPS {
            return Err(bad(format!(
                "must have at most {} steps, got {steps}",
                Self::MAX_STEPS
            )));
        }
        Ok(Optimizer {
            config,
            first,
            second,
            t: steps,
        })
    }

    /// One update of every `(W, b)` from its layer's gradient `(dW, db)` in `grads` (one per
    /// layer, in order: a slice of them, or references from wherever the pass left them).
    pub fn step<'g>(
        &mut self,
        layers: &mut [Dense<T>],
        grads: impl IntoIterator<Item = &'g Gradient<T>>,
        learning_rate: f64,
    ) where
        T: 'g,
    {
        self.t += 1;
        match self.config {
            OptimizerConfig::Sgd { momentum: 0.0, .. } => {
                // `θ + (−η) g`, rounded as `scaled_add` rounds it.
                let lr = T::c(-learning_rate);
                for (l, g) in layers.iter_mut().zip(grads) {
                    sgd(&mut l.w, &g.dw, lr);
                    sgd(&mut l.b, &g.db, lr);
                }
            }
            OptimizerConfig::Sgd {
                momentum: mu,
                nesterov,
            } => {
                let h = (T::c(mu), T::c(learning_rate), nesterov);
                for ((l, g), (vw, vb)) in layers.iter_mut().zip(grads).zip(&mut self.first) {
                    momentum(&mut l.w, &g.dw, vw, h);
                    momentum(&mut l.b, &g.db, vb, h);
                }
            }
            OptimizerConfig::Adam {
                beta_1,
                beta_2,
                epsilon,
            } => {
                let t = self.t.min(i32::MAX as u64) as i32;
                let lr_t = learning_rate * (1.0 - beta_2.powi(t)).sqrt() / (1.0 - beta_1.powi(t));
                let h = AdamStep {
                    b1: T::c(beta_1),
                    b2: T::c(beta_2),
                    eps: T::c(epsilon),
                    lr_t: T::c(lr_t),
                };
                let state = self.first.iter_mut().zip(&mut self.second);
                for ((l, g), ((mw, mb), (sw, sb))) in layers.iter_mut().zip(grads).zip(state) {
                    adam(&mut l.w, &g.dw, mw, sw, h);
                    adam(&mut l.b, &g.db, mb, sb, h);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Activation;
    use ndarray::{array, Array1, Array2};

    fn one_param(w: f64) -> (Vec<Dense<f64>>, Vec<Gradient<f64>>) {
        let layer = Dense {
            w: array![[w]],
            b: array![0.0],
            activation: Activation::Identity,
        };
        let grad = Gradient {
            dw: array![[2.0]],
            db: array![-1.0],
        };
        (vec![layer], vec![grad])
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

    /// A parameter large enough to be updated by pieces on the threads (and with values a
    /// vector does not divide) gets every value updated exactly once, by the same rule as a
    /// value-by-value loop: three steps of each optimizer.
    #[test]
    fn large_parameters_update_every_value_by_the_rule() {
        let (k, m) = (601, 499); // 299 899 values ≥ PARALLEL_UPDATE
        let value = |i: usize, j: usize, s: f64| ((i * 31 + j * 17) % 23) as f64 * s - 0.3;
        for cfg in [
            OptimizerConfig::default(),
            OptimizerConfig::Sgd {
                momentum: 0.9,
                nesterov: true,
            },
            OptimizerConfig::adam(),
        ] {
            let mut layers = vec![Dense {
                w: Array2::from_shape_fn((k, m), |(i, j)| value(i, j, 0.05)),
                b: Array1::from_shape_fn(m, |j| value(0, j, 0.01)),
                activation: Activation::Relu,
            }];
            let grads = vec![Gradient {
                dw: Array2::from_shape_fn((k, m), |(i, j)| value(j, i, 0.002)),
                db: Array1::from_shape_fn(m, |j| value(j, 1, 0.003)),
            }];
            let (mut w, mut v, mut s) = (
                layers[0].w.clone(),
                Array2::zeros((k, m)),
                Array2::zeros((k, m)),
            );
            let mut opt = Optimizer::new(cfg, &layers).unwrap();
            for t in 1..=3 {
                opt.step(&mut layers, &grads, 0.01);
                for ((p, &g), (v, s)) in w
                    .iter_mut()
                    .zip(&grads[0].dw)
                    .zip(v.iter_mut().zip(s.iter_mut()))
                {
                    match cfg {
                        OptimizerConfig::Sgd { momentum: 0.0, .. } => sgd_value(p, g, -0.01),
                        OptimizerConfig::Sgd { momentum, nesterov } => {
                            momentum_value(p, g, v, momentum, 0.01, nesterov)
                        }
                        OptimizerConfig::Adam {
                            beta_1,
                            beta_2,
                            epsilon,
                        } => {
                            let lr_t =
                                0.01 * (1.0 - beta_2.powi(t)).sqrt() / (1.0 - beta_1.powi(t));
                            let h = AdamStep {
                                b1: beta_1,
                                b2: beta_2,
                                eps: epsilon,
                                lr_t,
                            };
                            adam_value(p, g, v, s, h)
                        }
                    }
                }
                assert_eq!(layers[0].w, w, "{cfg:?}, step {t}");
            }
        }
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
