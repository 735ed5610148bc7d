//! Gradient-descent updates, in order of increasing complexity. Each sees the gradient
//! `g` (`dW` or `db`) of a parameter `θ` (`W` or `b`) and the step size `η`:
//!
//! ```text
//! Sgd:       θ −= η g
//! Momentum:  v = μ v − η g;   θ += v                 (Nesterov: θ += μ v − η g)
//! Adam:      m = β₁ m + (1 − β₁) g;   s = β₂ s + (1 − β₂) g²;   t += 1
//!            θ −= η √(1 − β₂ᵗ) / (1 − β₁ᵗ) · m / (√s + ε)
//! AdamW:     θ ·= 1 − η λ;   m += (1 − β₁)(g − m);   s = β₂ s + (1 − β₂) g²;   t += 1
//!            θ −= η / (1 − β₁ᵗ) · m / (√s / √(1 − β₂ᵗ) + ε)
//! SGD's weight decay λ:  g ← g + λ θ, before the rule
//! ```
//!
//! Sgd, Momentum and Adam are scikit-learn's (`sklearn.neural_network._stochastic_optimizers`),
//! so the two libraries take the same steps from the same state. AdamW and SGD's weight
//! decay are PyTorch's (`torch.optim.AdamW`, `torch.optim.SGD(weight_decay=λ)`, their
//! single-tensor CPU code, operation for operation): AdamW's ε sits where PyTorch puts it,
//! after the bias correction of `√s`, where Adam's (scikit-learn's) is before it. Weight
//! decay applies to the weights `W` only, never the biases (as the L2 penalty `alpha`):
//! PyTorch's equivalent puts the biases in a parameter group with `weight_decay=0`.
//!
//! Each rule is written once, for one value (`sgd_value`, `momentum_value`, `adam_value`,
//! `adamw_value`, and `decayed` for SGD's weight decay);
//! `kernels/elementwise.rs` runs it over contiguous slices at the CPU's vector level, large
//! parameters in pieces on all threads.

use crate::kernels::elementwise::{self, on_threads};
use crate::nn::layer::{copy_array, try_clone, try_zeros, try_zeros1};
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

/// SGD's weight decay (PyTorch's): the gradient `g + λ θ` of a weight `θ`.
#[inline(always)]
fn decayed<T: Float>(g: T, p: T, weight_decay: T) -> T {
    g + weight_decay * p
}

/// PyTorch's AdamW for one value: the decoupled decay, `m` by `lerp` (its two forms, as
/// PyTorch picks by the weight), `s`, then `θ + (−η/(1 − β₁ᵗ)) m / (√s / √(1 − β₂ᵗ) + ε)`.
#[inline(always)]
fn adamw_value<T: Float>(p: &mut T, g: T, m: &mut T, s: &mut T, h: AdamWStep<T>) {
    *p *= h.decay;
    *m = match h.small_w1 {
        true => *m + h.w1 * (g - *m),
        false => g - (g - *m) * (T::one() - h.w1),
    };
    *s = *s * h.b2 + h.w2 * g * g;
    *p += h.neg_step * *m / (s.sqrt() / h.bc2_sqrt + h.eps);
}

/// AdamW's constants for one step of one parameter.
#[derive(Clone, Copy)]
struct AdamWStep<T> {
    /// `1 − β₁`, and whether it is below 0.5 (which form of `lerp`).
    w1: T,
    small_w1: bool,
    b2: T,
    /// `1 − β₂`.
    w2: T,
    eps: T,
    /// `−η / (1 − β₁ᵗ)` and `√(1 − β₂ᵗ)`.
    neg_step: T,
    bc2_sqrt: T,
    /// `1 − η λ` for weights, 1 for biases.
    decay: T,
}

/// Adam's constants for one step.
#[derive(Clone, Copy)]
struct AdamStep<T> {
    b1: T,
    b2: T,
    eps: T,
    lr_t: T,
}

/// Plain SGD; with `wd` > 0, of the decayed gradient (a loop of its own, so that `wd = 0`
/// takes exactly the steps it took before weight decay existed).
fn sgd<T: Float, D: Dimension>(p: &mut Array<T, D>, g: &Array<T, D>, lr: T, wd: T) {
    let decay = wd != T::zero();
    match (p.as_slice_mut(), g.as_slice()) {
        (Some(p), Some(g)) => on_threads((p, g), &|(p, g)| match decay {
            false => elementwise::update(p, g, move |p, g| sgd_value(p, g, lr)),
            true => elementwise::update(p, g, move |p, g| {
                let g = decayed(g, *p, wd);
                sgd_value(p, g, lr)
            }),
        }),
        _ => Zip::from(p).and(g).for_each(|p, &g| match decay {
            false => sgd_value(p, g, lr),
            true => {
                let g = decayed(g, *p, wd);
                sgd_value(p, g, lr)
            }
        }),
    }
}

fn momentum<T: Float, D: Dimension>(
    p: &mut Array<T, D>,
    g: &Array<T, D>,
    v: &mut Array<T, D>,
    (mu, lr, nesterov, wd): (T, T, bool, T),
) {
    let decay = wd != T::zero();
    match (p.as_slice_mut(), g.as_slice(), v.as_slice_mut()) {
        // One loop per case, so that each vectorizes without a branch per value.
        (Some(p), Some(g), Some(v)) => {
            on_threads((p, g, v), &|(p, g, v)| match (nesterov, decay) {
                (true, false) => elementwise::update1(p, g, v, move |p, g, v| {
                    momentum_value(p, g, v, mu, lr, true)
                }),
                (false, false) => elementwise::update1(p, g, v, move |p, g, v| {
                    momentum_value(p, g, v, mu, lr, false)
                }),
                (true, true) => elementwise::update1(p, g, v, move |p, g, v| {
                    let g = decayed(g, *p, wd);
                    momentum_value(p, g, v, mu, lr, true)
                }),
                (false, true) => elementwise::update1(p, g, v, move |p, g, v| {
                    let g = decayed(g, *p, wd);
                    momentum_value(p, g, v, mu, lr, false)
                }),
            })
        }
        _ => Zip::from(p).and(g).and(v).for_each(|p, &g, v| {
            let g = if decay { decayed(g, *p, wd) } else { g };
            momentum_value(p, g, v, mu, lr, nesterov)
        }),
    }
}

/// A rule with two moment buffers (Adam's, AdamW's) over one parameter: over slices at the
/// CPU's vector level (large parameters in pieces on all threads), else by `Zip`.
fn two_moments<T: Float, D: Dimension, F: elementwise::Update2<T> + Send + Sync>(
    p: &mut Array<T, D>,
    g: &Array<T, D>,
    m: &mut Array<T, D>,
    s: &mut Array<T, D>,
    rule: F,
) {
    match (
        p.as_slice_mut(),
        g.as_slice(),
        m.as_slice_mut(),
        s.as_slice_mut(),
    ) {
        (Some(p), Some(g), Some(m), Some(s)) => on_threads((p, g, m, s), &|(p, g, m, s)| {
            elementwise::update2(p, g, m, s, rule)
        }),
        _ => Zip::from(p)
            .and(g)
            .and(m)
            .and(s)
            .for_each(|p, &g, m, s| rule(p, g, m, s)),
    }
}

/// Which optimizer, with its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerConfig {
    /// Plain gradient descent (`momentum = 0`) or with (Nesterov's) momentum; a
    /// `weight_decay` λ > 0 adds `λ W` to each weight's gradient first (PyTorch's).
    Sgd {
        momentum: f64,
        nesterov: bool,
        weight_decay: f64,
    },
    /// scikit-learn's Adam.
    Adam {
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
    },
    /// PyTorch's AdamW: Adam with PyTorch's ε and the weights decayed by `1 − η λ` before
    /// each step (decoupled weight decay; biases are not decayed).
    AdamW {
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
        weight_decay: f64,
    },
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
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

    /// AdamW with PyTorch's `β₁ = 0.9, β₂ = 0.999, ε = 1e−8` and `weight_decay`.
    pub fn adamw(weight_decay: f64) -> Self {
        OptimizerConfig::AdamW {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay,
        }
    }

    /// Buffers of state per parameter: none for plain SGD, the velocity with momentum,
    /// both moments for Adam and AdamW.
    pub fn state_buffers(&self) -> usize {
        match *self {
            OptimizerConfig::Sgd { momentum: 0.0, .. } => 0,
            OptimizerConfig::Sgd { .. } => 1,
            OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. } => 2,
        }
    }

    /// Refuses hyperparameters outside their domain (the rules are `check.rs`'s):
    /// `momentum`, `beta_1` and `beta_2` in `[0, 1)`, `epsilon` positive and finite,
    /// `weight_decay` non-negative and finite.
    pub fn validate(&self) -> Result<()> {
        use crate::check::{below_one, non_negative, positive};
        match *self {
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                ..
            } => {
                below_one("momentum", momentum)?;
                non_negative("weight_decay", weight_decay).map(drop)
            }
            OptimizerConfig::Adam {
                beta_1,
                beta_2,
                epsilon,
            } => {
                below_one("beta_1", beta_1)?;
                below_one("beta_2", beta_2)?;
                positive("epsilon", epsilon).map(drop)
            }
            OptimizerConfig::AdamW {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            } => {
                below_one("beta_1", beta_1)?;
                below_one("beta_2", beta_2)?;
                positive("epsilon", epsilon)?;
                non_negative("weight_decay", weight_decay).map(drop)
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
            OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. } => (zeros()?, zeros()?),
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

    /// Copies `src`'s state into this one's arrays, if they have the same shapes (false,
    /// and nothing copied, otherwise).
    pub fn copy_from(&mut self, src: &Self) -> bool {
        let same = |a: &State<T>, b: &State<T>| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.0.dim() == y.0.dim() && x.1.dim() == y.1.dim())
        };
        if !(same(&self.first, &src.first) && same(&self.second, &src.second)) {
            return false;
        }
        let pairs = self
            .first
            .iter_mut()
            .zip(&src.first)
            .chain(self.second.iter_mut().zip(&src.second));
        for ((w, b), (src_w, src_b)) in pairs {
            copy_array(w, src_w);
            copy_array(b, src_b);
        }
        self.config = src.config;
        self.t = src.t;
        true
    }

    /// The values its state holds.
    pub fn n_values(&self) -> usize {
        self.first
            .iter()
            .chain(&self.second)
            .map(|(w, b)| w.len() + b.len())
            .sum()
    }

    pub fn config(&self) -> OptimizerConfig {
        self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// Momentum's velocities `v` or Adam's (AdamW's) first moments `m`, one `(W, b)` pair per layer
    /// shaped like the layer's parameters (empty for plain SGD).
    pub fn first(&self) -> &[(Array2<T>, Array1<T>)] {
        &self.first
    }

    /// Adam's (AdamW's) second moments `s`, one `(W, b)` pair per layer (empty otherwise).
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
            OptimizerConfig::Sgd {
                momentum: 0.0,
                weight_decay,
                ..
            } => {
                // `θ + (−η) g`, rounded as `scaled_add` rounds it.
                let (lr, wd, zero) = (T::c(-learning_rate), T::c(weight_decay), T::zero());
                for (l, g) in layers.iter_mut().zip(grads) {
                    sgd(&mut l.w, &g.dw, lr, wd);
                    sgd(&mut l.b, &g.db, lr, zero);
                }
            }
            OptimizerConfig::Sgd {
                momentum: mu,
                nesterov,
                weight_decay,
            } => {
                let h = (T::c(mu), T::c(learning_rate), nesterov, T::c(weight_decay));
                let h_b = (h.0, h.1, h.2, T::zero());
                for ((l, g), (vw, vb)) in layers.iter_mut().zip(grads).zip(&mut self.first) {
                    momentum(&mut l.w, &g.dw, vw, h);
                    momentum(&mut l.b, &g.db, vb, h_b);
                }
            }
            OptimizerConfig::AdamW {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            } => {
                let h = adamw_step(
                    (beta_1, beta_2, epsilon, weight_decay),
                    self.t,
                    learning_rate,
                );
                let h_b = AdamWStep {
                    decay: T::one(),
                    ..h
                };
                let state = self.first.iter_mut().zip(&mut self.second);
                for ((l, g), ((mw, mb), (sw, sb))) in layers.iter_mut().zip(grads).zip(state) {
                    two_moments(&mut l.w, &g.dw, mw, sw, move |p, g, m, s| {
                        adamw_value(p, g, m, s, h)
                    });
                    two_moments(&mut l.b, &g.db, mb, sb, move |p, g, m, s| {
                        adamw_value(p, g, m, s, h_b)
                    });
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
                    two_moments(&mut l.w, &g.dw, mw, sw, move |p, g, m, s| {
                        adam_value(p, g, m, s, h)
                    });
                    two_moments(&mut l.b, &g.db, mb, sb, move |p, g, m, s| {
                        adam_value(p, g, m, s, h)
                    });
                }
            }
        }
    }
}

/// AdamW's constants of step `t` (1 for the first) at step size `lr`, for the weights, as
/// PyTorch computes them in double precision (`β ** t` is C's `pow`, as Python's).
fn adamw_step<T: Float>(
    (beta_1, beta_2, epsilon, weight_decay): (f64, f64, f64, f64),
    t: u64,
    lr: f64,
) -> AdamWStep<T> {
    let t = t as f64;
    let (bc1, bc2) = (1.0 - beta_1.powf(t), 1.0 - beta_2.powf(t));
    let w1 = 1.0 - beta_1;
    AdamWStep {
        w1: T::c(w1),
        small_w1: w1 < 0.5,
        b2: T::c(beta_2),
        w2: T::c(1.0 - beta_2),
        eps: T::c(epsilon),
        neg_step: T::c(-(lr / bc1)),
        bc2_sqrt: T::c(bc2.powf(0.5)),
        decay: T::c(1.0 - lr * weight_decay),
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
                weight_decay: 0.0,
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

    /// PyTorch's `SGD(weight_decay=λ)`: `g + λ W` for the weights, the biases' gradient as
    /// it is; with momentum, the decayed gradient goes into the velocity.
    #[test]
    fn sgd_weight_decay_by_hand() {
        let (mut layers, grads) = one_param(1.0);
        let cfg = OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.5,
        };
        let mut opt = Optimizer::new(cfg, &layers).unwrap();
        opt.step(&mut layers, &grads, 0.25);
        assert_eq!(layers[0].w[[0, 0]], 1.0 - 0.25 * 2.5);
        assert_eq!(layers[0].b[0], 0.25);
        let (mut layers, grads) = one_param(1.0);
        let cfg = OptimizerConfig::Sgd {
            momentum: 0.5,
            nesterov: false,
            weight_decay: 0.5,
        };
        let mut opt = Optimizer::new(cfg, &layers).unwrap();
        // v1 = −0.25·2.5 = −0.625, w1 = 0.375; v2 = 0.5·v1 − 0.25·(2 + 0.5·0.375).
        opt.step(&mut layers, &grads, 0.25);
        opt.step(&mut layers, &grads, 0.25);
        assert_eq!(layers[0].w[[0, 0]], 0.375 + (-0.3125 - 0.25 * 2.1875));
        assert_eq!(layers[0].b[0], 0.25 + 0.375);
    }

    /// AdamW's first step from zero moments: the decay `1 − ηλ`, then `η · g / |g|` (up to
    /// ε), whatever the scale of g; the bias is not decayed.
    #[test]
    fn adamw_first_step_decays_then_steps_by_lr() {
        let (mut layers, grads) = one_param(1.0);
        let mut opt = Optimizer::new(OptimizerConfig::adamw(0.1), &layers).unwrap();
        opt.step(&mut layers, &grads, 0.1);
        assert!((layers[0].w[[0, 0]] - (1.0 * (1.0 - 0.01) - 0.1)).abs() < 1e-8);
        assert!((layers[0].b[0] - 0.1).abs() < 1e-8);
        // Without decay, AdamW's first step is Adam's up to where ε enters.
        let (mut a, grads) = one_param(1.0);
        let (mut b, _) = one_param(1.0);
        let mut adamw = Optimizer::new(OptimizerConfig::adamw(0.0), &a).unwrap();
        let mut adam = Optimizer::new(OptimizerConfig::adam(), &b).unwrap();
        adamw.step(&mut a, &grads, 0.1);
        adam.step(&mut b, &grads, 0.1);
        let diff = (a[0].w[[0, 0]] - b[0].w[[0, 0]]).abs();
        assert!(diff > 0.0 && diff < 1e-7, "{diff}");
        assert_eq!(adamw.steps(), 1);
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
                weight_decay: 0.0,
            },
            OptimizerConfig::Sgd {
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.3,
            },
            OptimizerConfig::Sgd {
                momentum: 0.9,
                nesterov: true,
                weight_decay: 0.3,
            },
            OptimizerConfig::adam(),
            OptimizerConfig::adamw(0.3),
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
                        OptimizerConfig::Sgd {
                            momentum: 0.0,
                            weight_decay,
                            ..
                        } => {
                            let g = decayed(g, *p, weight_decay);
                            sgd_value(p, g, -0.01)
                        }
                        OptimizerConfig::Sgd {
                            momentum,
                            nesterov,
                            weight_decay,
                        } => {
                            let g = decayed(g, *p, weight_decay);
                            momentum_value(p, g, v, momentum, 0.01, nesterov)
                        }
                        OptimizerConfig::AdamW {
                            beta_1,
                            beta_2,
                            epsilon,
                            weight_decay,
                        } => {
                            let h =
                                adamw_step((beta_1, beta_2, epsilon, weight_decay), t as u64, 0.01);
                            adamw_value(p, g, v, s, h)
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
            weight_decay: 0.0,
        };
        assert!(bad.validate().unwrap_err().to_string().contains("momentum"));
        let bad = OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
            weight_decay: -1.0,
        };
        let msg = bad.validate().unwrap_err().to_string();
        assert_eq!(
            msg,
            "weight_decay must be non-negative and finite, got -1.0"
        );
        let msg = OptimizerConfig::adamw(f64::NAN).validate().unwrap_err();
        assert!(msg.to_string().starts_with("weight_decay must be"), "{msg}");
        let bad = OptimizerConfig::Adam {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 0.0,
        };
        assert!(bad.validate().unwrap_err().to_string().contains("epsilon"));
    }
}
