//! Training passes of small networks in feature-major layout: every buffer holds one row
//! per unit and one column per sample, so the loops run along a batch's samples.
//!
//! ```text
//! forward:   zᵀ[j, :]      = b[j] + Σ_k W[k, j] · a_prevᵀ[k, :]     (axpy over samples)
//! backward:  dW[k, j]      = a_prevᵀ[k, :] · dzᵀ[j, :]              (dot over samples)
//!            db[j]         = Σ dzᵀ[j, :]
//!            da_prevᵀ[k, :] = Σ_j W[k, j] · dzᵀ[j, :]              (axpy over samples)
//! ```
//!
//! The same equations as `nn/layer.rs` on transposed buffers. With a handful of units per
//! layer (the tutorial's 2 → 4 → 3 → 1) the row-major products of `kernels/linalg.rs` run
//! over rows of 1 to 16 values, too short for SIMD; here every loop runs over up to a
//! batch of samples. Activations, the loss and its delta are the functions of
//! `nn/activation.rs` and `nn/loss.rs`, called on transposed views, so each f and f' is
//! still written once.
//!
//! This file is the engine: its buffers, and which kernel each step of the passes calls.
//! The kernels are in `kernels/feature_major.rs`. Hidden ReLU and identity layers apply
//! their activation as the forward product is stored, and ReLU's backward step as the
//! backward product is.
//!
//! Dropout (`nn/dropout.rs`) multiplies a hidden layer's stored `a` by its mask after the
//! product (`f(z)` kept in `fz` for `f'`), and its `dz` after the backward step: the masks
//! are those the row-major passes draw, by sample and unit. ReLU's fused backward step
//! (`a > 0`) reads the dropped `a`, which is positive where `z` is and the unit kept.

use crate::kernels::feature_major::{
    abs_sum, combine_rows, combine_rows_checked, gradients, outer_gradients, padded, rows,
    rows_mut, Finish, Tiles, MAX_INPUTS, MAX_UNITS, WIDTH,
};
use crate::nn::dropout::{self, MaskKey};
use crate::nn::layer::try_zeros;
use crate::{Activation, Dense, Float, Gradient, Loss, Result, Target};
use ndarray::{s, Array2, ArrayView1, ArrayView2, ArrayViewMut2};

/// Whether `fit` trains these layers in this module's layout: at most `MAX_INPUTS` inputs
/// and `MAX_UNITS` units per layer. Beyond 16 units the row-major passes' products are
/// long enough for SIMD and win (`benches/compare.py`'s small networks measure both).
pub fn eligible<T: Float>(layers: &[Dense<T>]) -> bool {
    layers[0].n_in() <= MAX_INPUTS && layers.iter().all(|l| l.n_out() <= MAX_UNITS)
}

/// The transposed buffers of a training pass, allocated once for `batch` samples.
pub struct Workspace<T> {
    /// The batch's inputs, `(n_in, batch)`.
    x: Array2<T>,
    /// Per layer, `(n_out, batch)` each.
    z: Vec<Array2<T>>,
    a: Vec<Array2<T>>,
    dz: Vec<Array2<T>>,
    da: Vec<Array2<T>>,
    /// Per layer, dropout's mask and `f(z)` before it, `(n_out, batch)` each; empty (0 × 0)
    /// where the layer drops nothing (see `with_masks`).
    mask: Vec<Array2<T>>,
    fz: Vec<Array2<T>>,
    /// Per layer, the mask's scale `1/(1 − p)` (1 without dropout), for `bounds`.
    scale: Vec<f64>,
    /// One layer's `dz` back in sample-major layout, `(batch, WIDTH · ⌈n_out / WIDTH⌉)`,
    /// zero-padded, for `outer_gradients`.
    dz_rows: Array2<T>,
    /// The largest `|x|` of the loaded samples.
    x_max: f64,
    /// The first layer whose `z` was not finite in the last forward pass.
    overflowed: Option<usize>,
}

/// The first `n` columns (samples) of a buffer; no slicing for a whole batch, the usual
/// case (slicing costs as much as a small layer's activation).
fn cols<T: Float>(m: &Array2<T>, n: usize) -> ArrayView2<'_, T> {
    match n == m.ncols() {
        true => m.view(),
        false => m.slice(s![.., ..n]),
    }
}

fn cols_mut<T: Float>(m: &mut Array2<T>, n: usize) -> ArrayViewMut2<'_, T> {
    match n == m.ncols() {
        true => m.view_mut(),
        false => m.slice_mut(s![.., ..n]),
    }
}

impl<T: Float> Workspace<T> {
    /// The number of values it holds, in all its buffers.
    pub fn n_values(&self) -> usize {
        let all = |v: &[Array2<T>]| v.iter().map(|m| m.len()).sum::<usize>();
        self.x.len()
            + all(&self.z)
            + all(&self.a)
            + all(&self.dz)
            + all(&self.da)
            + all(&self.mask)
            + all(&self.fz)
            + self.dz_rows.len()
    }

    pub fn new(layers: &[Dense<T>], batch: usize) -> Result<Self> {
        let per_layer = || -> Result<Vec<Array2<T>>> {
            layers.iter().map(|l| try_zeros(l.n_out(), batch)).collect()
        };
        Ok(Workspace {
            x: try_zeros(layers[0].n_in(), batch)?,
            z: per_layer()?,
            a: per_layer()?,
            dz: per_layer()?,
            da: per_layer()?,
            mask: layers.iter().map(|_| Array2::zeros((0, 0))).collect(),
            fz: layers.iter().map(|_| Array2::zeros((0, 0))).collect(),
            scale: vec![1.0; layers.len()],
            dz_rows: {
                let wide = layers.iter().map(|l| l.n_out()).filter(|&m| m >= WIDTH);
                try_zeros(batch, wide.map(padded).max().unwrap_or(0))?
            },
            x_max: 0.0,
            overflowed: None,
        })
    }

    /// Gives each layer `k` with `rates[k] > 0` a dropout mask, applied by every later pass.
    pub fn with_masks(&mut self, rates: &[f64]) -> Result<()> {
        for (k, &p) in rates.iter().enumerate() {
            if p > 0.0 {
                let dim = self.z[k].dim();
                self.mask[k] = try_zeros(dim.0, dim.1)?;
                self.fz[k] = try_zeros(dim.0, dim.1)?;
                self.scale[k] = 1.0 / (1.0 - p);
            }
        }
        Ok(())
    }

    /// Draws the masks of the first `n` samples, the first being sample `key.first`: the
    /// values `network::draw_masks` gives the row-major passes.
    pub fn draw_masks(&mut self, rates: &[f64], key: MaskKey, n: usize) {
        for (k, &p) in rates.iter().enumerate() {
            if p > 0.0 {
                dropout::fill(cols_mut(&mut self.mask[k], n).reversed_axes(), p, key, k, 0);
            }
        }
    }

    /// Copies rows `rows` of `x` into the first `rows.len()` columns of the input buffer.
    pub fn load(&mut self, x: ArrayView2<T>, rows: &[usize]) {
        let mut max = T::zero();
        for (mut x_t, column) in self.x.rows_mut().into_iter().zip(x.columns()) {
            let x_t = x_t
                .as_slice_mut()
                .expect("workspace buffers are contiguous");
            let mut copy = |v: &mut T, value: T| {
                *v = value;
                max = if value.abs() > max { value.abs() } else { max };
            };
            match column.as_slice() {
                Some(column) => x_t
                    .iter_mut()
                    .zip(rows)
                    .for_each(|(v, &r)| copy(v, column[r])),
                None => x_t
                    .iter_mut()
                    .zip(rows)
                    .for_each(|(v, &r)| copy(v, column[r])),
            }
        }
        self.x_max = max.f64();
    }

    /// The forward pass of the first `n` loaded samples.
    ///
    /// A hidden ReLU or identity layer's activation is applied as its product is stored,
    /// into `a`; its `z` is left unwritten (the backward pass reads ReLU's `a` instead).
    ///
    /// Returns the first layer whose `z` is not finite, if one is: that layer's `a` is then
    /// all NaN, and so is the output (see `Activation::forward`). A fused layer's products
    /// are checked only where bounds on `|z|` from `|W|`, `|b|` and the inputs' largest
    /// values do not rule an overflow out (see `bounds`).
    pub fn forward(&mut self, layers: &[Dense<T>], n: usize) -> Option<usize> {
        let last = layers.len() - 1;
        self.overflowed = None;
        let mut a_max = self.x_max;
        for (k, layer) in layers.iter().enumerate() {
            let (done, before) = self.a.split_at_mut(k);
            let a_prev = match k {
                0 => rows(&self.x, n),
                _ => rows(&done[k - 1], n),
            };
            let b = Some(layer.b.as_slice().expect("biases are contiguous"));
            let w = layer.w.t();
            let (bounded, next_max) = bounds(layer, a_max);
            a_max = next_max;
            let masked = self.mask[k].nrows() > 0;
            if masked {
                a_max *= self.scale[k]; // a kept unit is scaled by 1/(1 − p)
            }
            let finite = match fused(layers, k, last) {
                Some(finish) if bounded => {
                    combine_rows(w, b, a_prev, rows_mut(&mut before[0], n), finish);
                    true
                }
                Some(finish) => {
                    let out = rows_mut(&mut before[0], n);
                    let finite = combine_rows_checked(w, b, a_prev, out, finish) == T::zero();
                    if !finite {
                        cols_mut(&mut before[0], n).fill(T::nan());
                    }
                    finite
                }
                None => {
                    combine_rows(w, b, a_prev, rows_mut(&mut self.z[k], n), Finish::Sum);
                    let z = cols(&self.z[k], n);
                    let f = match masked {
                        true => cols_mut(&mut self.fz[k], n),
                        false => cols_mut(&mut before[0], n),
                    };
                    layer.activation.forward(z.t(), f.reversed_axes())
                }
            };
            if masked {
                let mask = cols(&self.mask[k], n);
                let a = cols_mut(&mut before[0], n);
                match fused(layers, k, last) {
                    // The product stored f(z) in `a`: drop in place.
                    Some(_) => dropout::forward_in_place(a, mask),
                    None => dropout::forward(cols(&self.fz[k], n), mask, a),
                }
            }
            if !finite {
                // NaN from here on: every later layer must check, or ReLU would clear it.
                a_max = f64::INFINITY;
                self.overflowed = self.overflowed.or(Some(k));
            }
        }
        self.overflowed
    }

    /// The first layer whose `z` was not finite in the last forward pass.
    pub fn overflowed(&self) -> Option<usize> {
        self.overflowed
    }

    /// The network's output for the first `n` samples, `(n, n_out)` as everywhere else.
    pub fn output(&self, n: usize) -> ArrayView2<'_, T> {
        let last = self.a.len() - 1;
        cols(&self.a[last], n).reversed_axes()
    }

    /// The backward pass after `forward(layers, n)`: `dW` and `db` of every layer into
    /// `grads`. With `row_scale`, sample `i`'s output gradient is multiplied by
    /// `row_scale[i]`, as in `network::backward_pass`.
    pub fn backward(
        &mut self,
        layers: &[Dense<T>],
        grads: &mut [Gradient<T>],
        loss: Loss,
        y: Target<T>,
        n: usize,
        row_scale: Option<ArrayView1<T>>,
    ) {
        let last = layers.len() - 1;
        let out = &layers[last];
        loss.output_gradient(
            out.activation,
            cols(&self.a[last], n).t(),
            y,
            row_scale,
            cols_mut(&mut self.dz[last], n).reversed_axes(),
            cols_mut(&mut self.da[last], n).reversed_axes(),
        );
        for k in (0..=last).rev() {
            let layer = &layers[k];
            let done = match k < last {
                true => fused(layers, k, last).is_some(),
                false => loss.is_fused(out.activation),
            };
            let masked = self.mask[k].nrows() > 0;
            if !done {
                let f = match masked {
                    true => &self.fz[k],
                    false => &self.a[k],
                };
                layer.activation.backward(
                    cols(&self.z[k], n).t(),
                    cols(f, n).t(),
                    cols(&self.da[k], n).t(),
                    cols_mut(&mut self.dz[k], n).reversed_axes(),
                );
            }
            if masked {
                // dz = da ⊙ f'(z) ⊙ mask, whichever step computed da ⊙ f'(z).
                dropout::backward(cols_mut(&mut self.dz[k], n), cols(&self.mask[k], n));
            }
            let a_prev = match k {
                0 => rows(&self.x, n),
                _ => rows(&self.a[k - 1], n),
            };
            let dz = rows(&self.dz[k], n);
            let Gradient { dw, db } = &mut grads[k];
            let db = db.as_slice_mut().expect("gradients are contiguous");
            if layer.n_out() >= WIDTH {
                let scratch = self.dz_rows.as_slice_mut().expect("contiguous");
                outer_gradients(a_prev, dz, dw.view_mut(), db, scratch);
            } else {
                gradients(a_prev, dz, dw.view_mut(), db);
            }
            if k > 0 {
                // Into `dz` directly where the activation's step is fused.
                let (w, a_prev) = (layer.w.view(), rows(&self.a[k - 1], n));
                let (below, from) = self.dz.split_at_mut(k);
                let dz = rows(&from[0], n);
                let (into, finish) = match fused(layers, k - 1, last) {
                    Some(Finish::Relu) => {
                        let mask = Tiles::new(a_prev, layers[k - 1].n_out());
                        (&mut below[k - 1], Finish::WherePositive(mask))
                    }
                    Some(_) => (&mut below[k - 1], Finish::Sum),
                    None => (&mut self.da[k - 1], Finish::Sum),
                };
                combine_rows(w, None, dz, rows_mut(into, n), finish);
            }
        }
    }
}

/// Whether `layer` cannot overflow given a bound `a_max` on `|a_prev|`, and a bound on
/// `|a|` (infinite where there is none).
///
/// `|z_j| ≤ |b_j| + Σ_q |W_qj| · a_max ≤ Σ|b| + Σ|W| · a_max`; the rounded sums exceed the
/// middle term by a factor of at most `(1 + ε)^(n_in + 1)` (with `n_in ≤ 16`), as does
/// the bound computed in f64: twice it bounds `|z_j|`, and a layer whose bound lies
/// within the type's range cannot overflow. ReLU, leaky ReLU, identity, GELU, SiLU and ELU
/// keep `|a| ≤ |z|` (`|z Φ(z)|`, `|z s(z)|` and `|e^z − 1|` for `z < 0` are at most `|z|`);
/// softplus keeps `|a| ≤ max(z, 0) + ln 2`, exp `a ≤ e^z`; tanh, the sigmoid and softmax
/// keep `|a| ≤ 1`. A NaN or infinite weight
/// gives no bound, as it should. Coarse, but the bound of a trained network of this size
/// is far below the type's range, and it costs a sum over the weights.
fn bounds<T: Float>(layer: &Dense<T>, a_max: f64) -> (bool, f64) {
    let w = layer
        .w
        .as_slice_memory_order()
        .expect("weights are contiguous");
    let b = layer.b.as_slice().expect("biases are contiguous");
    let z_max = 2.0 * (abs_sum(b) + abs_sum(w) * a_max);
    let bounded = z_max < T::max_value().f64();
    let a_max = match (bounded, layer.activation) {
        (_, Activation::Tanh | Activation::Sigmoid | Activation::Softmax) => 1.0,
        (true, Activation::Softplus) => z_max + std::f64::consts::LN_2,
        (true, Activation::Exp) => z_max.exp(),
        (true, _) => z_max,
        (false, _) => f64::INFINITY,
    };
    (bounded, a_max)
}

/// How the forward product of layer `k` stores its activation, if it does: hidden ReLU and
/// identity layers only (the output layer's `z` is kept for the loss's backward step).
fn fused<'a, T: Float>(layers: &[Dense<T>], k: usize, last: usize) -> Option<Finish<'a, T>> {
    match (k < last, layers[k].activation) {
        (true, Activation::Relu) => Some(Finish::Relu),
        (true, Activation::Identity) => Some(Finish::Sum),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::network::{backward_pass, forward_pass, workspace};
    use crate::{Activation, Network, NetworkConfig};
    use ndarray::{Array1, Zip};

    /// An overflow in any layer — fused ReLU or identity, or an activation of its own; in a
    /// pair of tiles, a single tile or the tail of the batch; in a full block of units or
    /// the remainder — is reported by both engines, with the output all NaN.
    #[test]
    fn an_overflow_is_reported_by_both_engines() {
        use Activation::*;
        let hidden = [Relu, Identity, Tanh, LeakyRelu, Gelu, Silu, Elu, Softplus];
        let n = 37; // tiles 0–3 in pairs, samples 32–36 in the tail
                    // exp first only: as the second layer, e^(z ≈ 1e201) is infinite for every sample.
        for first in hidden.into_iter().chain([Exp]) {
            for second in hidden {
                let config = NetworkConfig::new(
                    vec![2, 5, 6, 1],
                    vec![first, second, Sigmoid],
                    Loss::BinaryCrossEntropy,
                );
                let mut net = Network::<f64>::new(&config, 1).unwrap();
                for (k, big) in [(0, 1e300), (1, 1e200)] {
                    // Layer 0 passes 1e200 on where the input is (tanh: 1); layer 1 multiplies.
                    let w0 = Array2::from_elem((2, 5), if k == 0 { 1e10 } else { 1.0 });
                    let w1 = Array2::from_elem((5, 6), 1e200);
                    let weights = [
                        (w0, Array1::zeros(5)),
                        (w1, Array1::zeros(6)),
                        (Array2::from_elem((6, 1), 1e-300), Array1::zeros(1)),
                    ];
                    let views: Vec<_> = weights.iter().map(|(w, b)| (w.view(), b.view())).collect();
                    net.set_weights(&views).unwrap();
                    let layers = net.layers();
                    for sample in [0, 9, 30, 35] {
                        let mut x = Array2::from_elem((n, 2), 0.5);
                        x[[sample, 1]] = big;
                        // Whether the input reaches layer 1 depends on layer 0's activation.
                        let want = match (k, first) {
                            (1, Tanh) => None,
                            _ => Some(k),
                        };
                        let mut row_major = workspace(layers, n).unwrap();
                        let got = forward_pass(layers, &mut row_major, x.view());
                        assert_eq!(got, want, "{first:?} {second:?} layer {k} sample {sample}");
                        let mut ws = Workspace::new(layers, n).unwrap();
                        ws.load(x.view(), &(0..n).collect::<Vec<_>>());
                        assert_eq!(ws.forward(layers, n), want, "{first:?} {second:?}");
                        assert_eq!(ws.overflowed(), want);
                        let outputs = [ws.output(n), row_major[2].a.view()];
                        for output in outputs {
                            let all_nan = output.iter().all(|v| v.is_nan());
                            assert_eq!(all_nan, want.is_some(), "{first:?} {second:?}");
                        }
                    }
                }
            }
        }
    }

    /// The bounds on `|a|` of softplus (`max(z, 0) + ln 2`) and exp (`e^z`): a bound that
    /// overflows leaves the next layer unbounded, so its products are checked.
    #[test]
    fn softplus_and_exp_bound_their_outputs() {
        let config = NetworkConfig::new(
            vec![1, 1, 1, 1],
            vec![Activation::Softplus, Activation::Exp, Activation::Exp],
            Loss::Poisson,
        );
        let mut net = Network::<f64>::new(&config, 0).unwrap();
        let one = (Array2::from_elem((1, 1), 1.0), Array1::zeros(1));
        let views = [(one.0.view(), one.1.view()); 3];
        net.set_weights(&views).unwrap();
        let layers = net.layers();
        // |z| ≤ 2 (|b| + |W| a_max) = 2.
        assert_eq!(
            bounds(&layers[0], 1.0),
            (true, 2.0 + std::f64::consts::LN_2)
        );
        assert_eq!(bounds(&layers[1], 1.0), (true, 2f64.exp()));
        let (bounded, a_max) = bounds(&layers[1], 400.0); // e^800: beyond f64
        assert!(bounded && a_max.is_infinite());
        assert_eq!(bounds(&layers[2], a_max), (false, f64::INFINITY));
    }

    /// Weights too large for the bound to rule an overflow out, whose products cancel: the
    /// checked kernel runs and finds none, and computes what the unchecked one does.
    #[test]
    fn a_loose_bound_is_not_an_overflow() {
        let config = NetworkConfig::new(
            vec![2, 3, 1],
            vec![Activation::Relu, Activation::Identity],
            Loss::MeanSquaredError,
        );
        let mut net = Network::<f64>::new(&config, 0).unwrap();
        let w0 = ndarray::array![[1e308, 1.0, -1e308], [-1e308, 2.0, 1e308]];
        let (b0, w1, b1) = (Array1::zeros(3), Array2::ones((3, 1)), Array1::zeros(1));
        net.set_weights(&[(w0.view(), b0.view()), (w1.view(), b1.view())])
            .unwrap();
        let layers = net.layers();
        assert!(!bounds(&layers[0], 1.0).0);
        let n = 21;
        let x = Array2::from_shape_fn((n, 2), |(i, _)| i as f64 / n as f64);
        let mut ws = Workspace::new(layers, n).unwrap();
        ws.load(x.view(), &(0..n).collect::<Vec<_>>());
        assert_eq!(ws.forward(layers, n), None);
        let want = x.column(0).mapv(|v| v + 2.0 * v);
        assert_eq!(ws.output(n).column(0), want);
    }

    /// Both layouts compute the same output and gradients, with and without row scales and
    /// dropout, on a partial batch, for layers narrower and wider than `WIDTH`.
    #[test]
    fn agrees_with_the_row_major_passes() {
        use Activation::*;
        let cases = [
            (
                vec![2, 4, 3, 1],
                vec![Relu, Relu, Sigmoid],
                Loss::BinaryCrossEntropy,
            ),
            (vec![3, 5, 4], vec![Tanh, Softmax], Loss::CrossEntropy),
            (
                vec![2, 7, 2],
                vec![LeakyRelu, Identity],
                Loss::MeanSquaredError,
            ),
            (
                vec![4, 3, 2],
                vec![Sigmoid, Sigmoid],
                Loss::BinaryCrossEntropy,
            ),
            // The activations and losses without a fused kernel of their own.
            (vec![3, 6, 5, 2], vec![Gelu, Silu, Identity], Loss::Huber),
            (
                vec![3, 12, 9, 2],
                vec![Elu, Softplus, Tanh],
                Loss::MeanAbsoluteError,
            ),
            (vec![2, 5, 3], vec![Softplus, Exp], Loss::Poisson),
            (vec![2, 4, 2], vec![Exp, Gelu], Loss::MeanSquaredError),
            // Dropout on a fused identity layer and a tanh layer (see `dropped` below).
            (
                vec![3, 6, 5, 4, 2],
                vec![Identity, Sigmoid, Tanh, Sigmoid],
                Loss::BinaryCrossEntropy,
            ),
            // As many inputs and units as the engine takes.
            (
                vec![MAX_INPUTS, MAX_UNITS, 3],
                vec![Relu, Softmax],
                Loss::CrossEntropy,
            ),
            // Layers of WIDTH units or more take `outer_gradients` (12 and 9: padded).
            (
                vec![5, 16, 12, 9, 3],
                vec![Relu, Tanh, LeakyRelu, Softmax],
                Loss::CrossEntropy,
            ),
        ];
        for (sizes, acts, loss) in cases {
            let config = NetworkConfig::new(sizes.clone(), acts, loss);
            let net = Network::<f64>::new(&config, 3).unwrap();
            let layers = net.layers();
            let (n_in, n_out, n) = (sizes[0], sizes[sizes.len() - 1], 37);
            let x = Array2::from_shape_fn((n, n_in), |(i, j)| ((i * 5 + j * 3) % 7) as f64 - 3.0);
            let y = Array2::from_shape_fn((n, n_out), |(i, j)| ((i + j) % n_out == 0) as u8 as f64);
            let scale = Array1::from_shape_fn(n, |i| 0.5 + (i % 3) as f64);
            let hidden = sizes.len() - 2;
            let dropped: Vec<f64> = (0..hidden).map(|k| [0.5, 0.0, 0.3][k % 3]).collect();
            let key = MaskKey { seed: 5, first: 40 };
            let settings = [
                (None, None),
                (Some(scale.view()), None),
                (None, Some(&dropped)),
            ];
            for (row_scale, rates) in settings {
                let mut want = workspace(layers, n).unwrap();
                let mut ws = Workspace::new(layers, n + 3).unwrap();
                if let Some(rates) = rates {
                    for (c, &p) in want.iter_mut().zip(rates) {
                        if p > 0.0 {
                            c.with_mask().unwrap();
                        }
                    }
                    crate::nn::network::draw_masks(&mut want, rates, key, n, 0);
                    ws.with_masks(rates).unwrap();
                    ws.draw_masks(rates, key, n);
                    // The same units dropped, in either layout.
                    assert_eq!(ws.mask[0].slice(s![.., ..n]).t(), want[0].mask);
                    assert!(want[0].mask.iter().any(|&m| m == 0.0));
                }
                forward_pass(layers, &mut want, x.view());
                let target = Target::Dense(y.view());
                backward_pass(layers, &mut want, loss, x.view(), target, false, row_scale);

                let mut got = Gradient::for_layers(layers).unwrap();
                let rows: Vec<usize> = (0..n).collect();
                ws.load(x.view(), &rows);
                ws.forward(layers, n);
                ws.backward(layers, &mut got, loss, target, n, row_scale);
                let output = ws.output(n);
                let want_output = want[want.len() - 1].a.view();
                // The sums of the dot products run in another order.
                let close = |p: f64, q: f64| (p - q).abs() <= 1e-13 * (1.0 + q.abs());
                assert!(Zip::from(output).and(want_output).all(|&p, &q| close(p, q)));
                for (g, w) in got.iter().zip(want.iter().map(|c| &c.grad)) {
                    let (got, want) = (g.dw.iter().chain(&g.db), w.dw.iter().chain(&w.db));
                    assert!(got.zip(want).all(|(&p, &q)| close(p, q)), "{sizes:?}");
                }
            }
        }
    }
}
