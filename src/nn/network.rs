//! A multilayer perceptron: dense layers, a loss, and the tutorial's step API.
//!
//! ```text
//! forward(X):   a_0 = X;  z_k = a_{k−1} W_k + b_k;  a_k = f_k(z_k)       → ŷ = a_L
//! backward(y):  da_L = dL/dŷ;  dz_L = (ŷ − y)/N where fused, else da_L ⊙ f_L'(z_L)
//!               for k = L … 1:  dW_k = a_{k−1}ᵀ dz_k;  db_k = Σ_rows dz_k;
//!                               da_{k−1} = dz_k W_kᵀ;  dz_{k−1} = da_{k−1} ⊙ f'(z_{k−1})
//! update(η):    W_k −= η dW_k;  b_k −= η db_k
//! ```
//!
//! The step API keeps the values of the last pass (`z, a, dz, da, dW, db` of every layer)
//! for inspection. `predict`, `loss` and `gradient_check` leave them untouched.
//!
//! Dropout (`nn/dropout.rs`): `forward_train` and `fit` multiply each hidden layer's
//! output by a mask, `a_k = f_k(z_k) ⊙ m_k`, and `dz_k = da_k ⊙ f_k'(z_k) ⊙ m_k`;
//! `forward`, `predict` and `loss` never drop.

use crate::nn::dropout::{self, MaskKey};
use crate::nn::init;
use crate::nn::layer::{copy_array, shape_text, try_clone, try_filled, try_zeros};
use crate::nn::loss::{batch_weights, scale_rows, WeightSum};
use crate::{
    Activation, Dense, Error, Float, Gradient, LayerCache, Loss, Optimizer, Result, Target,
};
use ndarray::{
    s, Array, Array1, Array2, ArrayView, ArrayView1, ArrayView2, ArrayViewMut2, Dimension,
};

/// The architecture of a network: what `Network::new` builds from.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    /// Units per layer, input first: `[n_0, n_1, …, n_L]`.
    pub layer_sizes: Vec<usize>,
    /// One activation per layer after the input (`L` of them).
    pub activations: Vec<Activation>,
    pub loss: Loss,
    /// Dropout's rate of each hidden layer (`L − 1` of them, each in `[0, 1)`), applied in
    /// training passes only (`nn/dropout.rs`).
    pub dropout: Vec<f64>,
}

impl NetworkConfig {
    /// An architecture without dropout.
    pub fn new(layer_sizes: Vec<usize>, activations: Vec<Activation>, loss: Loss) -> Self {
        NetworkConfig {
            dropout: vec![0.0; layer_sizes.len().saturating_sub(2)],
            layer_sizes,
            activations,
            loss,
        }
    }

    /// The same architecture with dropout rates `rates`, one per hidden layer.
    pub fn with_dropout(mut self, rates: Vec<f64>) -> Self {
        self.dropout = rates;
        self
    }

    /// Refuses an architecture that cannot be built (before anything is allocated).
    pub fn validate(&self) -> Result<()> {
        let sizes = &self.layer_sizes;
        if sizes.len() < 2 {
            return Err(Error::value(
                "layer_sizes",
                format!(
                    "must have at least 2 entries (inputs and outputs), got {}: {sizes:?}",
                    sizes.len()
                ),
            ));
        }
        let wide: Vec<i128> = sizes.iter().map(|&n| n as i128).collect();
        crate::check::counts("layer_sizes", &wide)?;
        if self.activations.len() != sizes.len() - 1 {
            return Err(Error::shape(
                "activations",
                format!("{} names (one per layer after the input)", sizes.len() - 1),
                format!("{}", self.activations.len()),
            ));
        }
        let last = self.activations.len() - 1;
        if let Some(i) = self.activations[..last]
            .iter()
            .position(|&a| a == Activation::Softmax)
        {
            return Err(Error::value(
                "activations",
                format!("may have softmax on the output layer only, got it at position {i}"),
            ));
        }
        self.loss.check_output(self.activations[last])?;
        if self.dropout.len() != sizes.len() - 2 {
            return Err(Error::shape(
                "dropout",
                format!("{} rates (one per hidden layer)", sizes.len() - 2),
                format!("{}", self.dropout.len()),
            ));
        }
        crate::nn::dropout::check_rates(&self.dropout)?;
        // Overflow-safe count of parameters; the allocation itself is fallible too.
        sizes
            .windows(2)
            .try_fold(0usize, |total, w| {
                w[0].checked_mul(w[1])?
                    .checked_add(w[1])?
                    .checked_add(total)
            })
            .ok_or_else(|| {
                Error::value(
                    "layer_sizes",
                    format!(
                        "must give fewer than 2**{} parameters, got {sizes:?}",
                        usize::BITS
                    ),
                )
            })?;
        Ok(())
    }
}

/// A multilayer perceptron with the buffers of its last step-API pass.
#[derive(Debug, Clone)]
pub struct Network<T> {
    layers: Vec<Dense<T>>,
    loss: Loss,
    /// Dropout's rate of each hidden layer (see `NetworkConfig::dropout`).
    dropout: Vec<f64>,
    /// The values of the last `forward`/`backward` (exactly `rows` rows).
    cache: Vec<LayerCache<T>>,
    /// `a_0`: the input of the last `forward`.
    x: Array2<T>,
    state: StepState,
    /// The optimizer of the last `fit`, kept so that the next `fit` with the same optimizer
    /// settings continues from its state (momentum, Adam's moments and step count).
    pub(crate) optimizer: Option<Optimizer<T>>,
}

/// Where the step API stands: which calls are valid next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepState {
    /// No forward pass since the weights last changed.
    Fresh,
    Forwarded,
    Backwarded,
}

impl<T: Float> Network<T> {
    /// A network with freshly initialised weights (He for relu/leaky_relu layers, Glorot
    /// otherwise; biases 0.1 in relu layers, 0 elsewhere) drawn from `seed`.
    pub fn new(config: &NetworkConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut rng = init::rng(seed);
        let layers = config
            .layer_sizes
            .windows(2)
            .zip(&config.activations)
            .map(|(n, &activation)| {
                let (w, b) = init::layer(n[0], n[1], activation, &mut rng)?;
                Ok(Dense { w, b, activation })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Network {
            layers,
            loss: config.loss,
            dropout: config.dropout.clone(),
            cache: Vec::new(),
            x: Array2::zeros((0, 0)),
            state: StepState::Fresh,
            optimizer: None,
        })
    }

    /// The architecture.
    pub fn config(&self) -> NetworkConfig {
        let mut layer_sizes = vec![self.layers[0].n_in()];
        layer_sizes.extend(self.layers.iter().map(|l| l.n_out()));
        NetworkConfig {
            layer_sizes,
            activations: self.layers.iter().map(|l| l.activation).collect(),
            loss: self.loss,
            dropout: self.dropout.clone(),
        }
    }

    /// Dropout's rate of each hidden layer (0 where the layer drops nothing).
    pub fn dropout(&self) -> &[f64] {
        &self.dropout
    }

    pub fn layers(&self) -> &[Dense<T>] {
        &self.layers
    }

    pub(crate) fn layers_mut(&mut self) -> &mut [Dense<T>] {
        // Whoever changes the weights makes the cached pass stale.
        self.state = StepState::Fresh;
        &mut self.layers
    }

    pub fn loss_fn(&self) -> Loss {
        self.loss
    }

    pub fn n_inputs(&self) -> usize {
        self.layers[0].n_in()
    }

    pub fn n_outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].n_out()
    }

    /// The values of the last step-API pass, one cache per layer (empty before the first
    /// `forward`). Gradients are meaningful after `backward`.
    pub fn cache(&self) -> &[LayerCache<T>] {
        &self.cache
    }

    /// The input of the last `forward`.
    pub fn last_input(&self) -> ArrayView2<'_, T> {
        self.x.view()
    }

    /// A copy of the parameters, the loss and the optimizer state, without the values of
    /// the last step-API pass; `Error::Memory` if it does not fit in memory.
    pub fn clone_params(&self) -> Result<Self> {
        Ok(Network {
            layers: self
                .layers
                .iter()
                .map(|l| {
                    Ok(Dense {
                        w: try_clone(&l.w)?,
                        b: try_clone(&l.b)?,
                        activation: l.activation,
                    })
                })
                .collect::<Result<_>>()?,
            loss: self.loss,
            dropout: self.dropout.clone(),
            cache: Vec::new(),
            x: Array2::zeros((0, 0)),
            state: StepState::Fresh,
            optimizer: self.optimizer.as_ref().map(|o| o.try_clone()).transpose()?,
        })
    }

    /// `clone_params`, written into the arrays of `spare` (a network no longer needed, of
    /// the same shapes) instead of new ones: no allocation, and pages already faulted in.
    /// A `spare` of other shapes is dropped and the copy allocated.
    pub fn clone_params_into(&self, mut spare: Self) -> Result<Self> {
        let shapes = |net: &Self| net.layers.iter().map(|l| l.w.dim()).collect::<Vec<_>>();
        if shapes(&spare) != shapes(self) {
            drop(spare);
            return self.clone_params();
        }
        for (copy, layer) in spare.layers.iter_mut().zip(&self.layers) {
            copy_array(&mut copy.w, &layer.w);
            copy_array(&mut copy.b, &layer.b);
            copy.activation = layer.activation;
        }
        spare.optimizer = match (&self.optimizer, spare.optimizer.take()) {
            (None, _) => None,
            (Some(src), Some(mut copy)) => match copy.copy_from(src) {
                true => Some(copy),
                false => Some(src.try_clone()?),
            },
            (Some(src), None) => Some(src.try_clone()?),
        };
        Ok(Network {
            loss: self.loss,
            dropout: self.dropout.clone(),
            cache: Vec::new(),
            x: Array2::zeros((0, 0)),
            state: StepState::Fresh,
            ..spare
        })
    }

    /// The bytes of its parameters and optimizer state.
    pub fn param_bytes(&self) -> usize {
        let params: usize = self.layers.iter().map(|l| l.w.len() + l.b.len()).sum();
        let state = self.optimizer.as_ref().map_or(0, Optimizer::n_values);
        (params + state) * std::mem::size_of::<T>()
    }

    /// Forgets the optimizer's state (momentum, Adam's moments and step count): the next
    /// `fit` starts its optimizer afresh.
    pub fn reset_optimizer(&mut self) {
        self.optimizer = None;
    }

    /// Copies the weights of `other`, a network of the same architecture.
    pub fn assign_weights(&mut self, other: &Network<T>) {
        for (l, o) in self.layers_mut().iter_mut().zip(&other.layers) {
            copy_array(&mut l.w, &o.w);
            copy_array(&mut l.b, &o.b);
        }
    }

    /// `[(W, b), …]`, copied; `Error::Memory` if the copy does not fit in memory.
    pub fn get_weights(&self) -> Result<Vec<(Array2<T>, Array1<T>)>> {
        self.layers
            .iter()
            .map(|l| Ok((try_clone(&l.w)?, try_clone(&l.b)?)))
            .collect()
    }

    /// Replaces every `(W, b)` after checking shapes and finiteness (all or nothing).
    pub fn set_weights(
        &mut self,
        weights: &[(ArrayView2<T>, ndarray::ArrayView1<T>)],
    ) -> Result<()> {
        if weights.len() != self.layers.len() {
            return Err(Error::shape(
                "weights",
                format!("{} (W, b) pairs", self.layers.len()),
                format!("{}", weights.len()),
            ));
        }
        for (k, (l, (w, b))) in self.layers.iter().zip(weights).enumerate() {
            if w.dim() != l.w.dim() {
                return Err(Error::shape(
                    "weights",
                    format!("W of layer {k} with shape {:?}", l.w.dim()),
                    format!("shape {:?}", w.dim()),
                ));
            }
            if b.len() != l.b.len() {
                return Err(Error::shape(
                    "weights",
                    format!("b of layer {k} with shape ({},)", l.b.len()),
                    format!("shape ({},)", b.len()),
                ));
            }
            if w.iter().chain(b.iter()).any(|v| !v.is_finite()) {
                return Err(Error::value(
                    "weights",
                    format!("must be finite, got NaN or infinity in layer {k}"),
                ));
            }
        }
        for (l, (w, b)) in self.layers_mut().iter_mut().zip(weights) {
            l.w.assign(w);
            l.b.assign(b);
        }
        // New weights, new trajectory: the optimizer's state does not carry over.
        self.optimizer = None;
        Ok(())
    }

    /// Checks an input batch: 2-D, at least one row, `n_inputs` columns, finite.
    pub fn check_input(&self, x: &ArrayView2<T>) -> Result<()> {
        if x.nrows() == 0 {
            return Err(Error::value(
                "X",
                "must have at least one row (sample), got an empty array",
            ));
        }
        if x.ncols() != self.n_inputs() {
            return Err(Error::shape(
                "X",
                format!("{} features (columns)", self.n_inputs()),
                format!("shape {:?}", x.dim()),
            ));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(Error::value("X", "must be finite, got NaN or infinity"));
        }
        Ok(())
    }

    /// `ŷ = a_L`, keeping `z` and `a` of every layer for `backward`. Drops nothing.
    pub fn forward(&mut self, x: ArrayView2<T>) -> Result<ArrayView2<'_, T>> {
        self.forward_masked(x, None)
    }

    /// `forward` in training mode: each hidden layer with a dropout rate drops units by the
    /// mask of `MaskKey { seed, first: 0 }` (that of the first batch of a `fit` with `seed`),
    /// kept in its cache's `mask` for `backward`. The layers' `a` are the dropped outputs.
    pub fn forward_train(&mut self, x: ArrayView2<T>, seed: u64) -> Result<ArrayView2<'_, T>> {
        self.forward_masked(x, Some(MaskKey { seed, first: 0 }))
    }

    fn forward_masked(
        &mut self,
        x: ArrayView2<T>,
        key: Option<MaskKey>,
    ) -> Result<ArrayView2<'_, T>> {
        self.check_input(&x)?;
        let n = x.nrows();
        if self.cache.first().map(|c| c.rows()) != Some(n) {
            self.cache = workspace(&self.layers, n)?;
            self.x = try_zeros(n, self.n_inputs())?;
        }
        self.x.assign(&x);
        self.state = StepState::Fresh;
        // A mask where this pass drops units (the output layer has no rate), none elsewhere.
        for (k, c) in self.cache.iter_mut().enumerate() {
            let drops = key.is_some() && self.dropout.get(k).is_some_and(|&p| p > 0.0);
            match (drops, c.masked()) {
                (true, false) => c.with_mask()?,
                (true, true) => {}
                (false, _) => c.without_mask(),
            }
        }
        if let Some(key) = key {
            draw_masks(&mut self.cache, &self.dropout, key, n, 0);
        }
        forward_checked(&self.layers, &mut self.cache, self.x.view())?;
        check_output(self.cache[self.cache.len() - 1].a.view())?;
        self.state = StepState::Forwarded;
        Ok(self.cache[self.cache.len() - 1].a.view())
    }

    /// The gradients of the mean loss of the last `forward` against targets `y`: fills
    /// `da, dz, dW, db` of every layer.
    pub fn backward(&mut self, y: Target<T>) -> Result<()> {
        if self.state == StepState::Fresh {
            return Err(Error::State(
                "backward needs a forward pass with the current weights first: call forward(X)"
                    .into(),
            ));
        }
        self.loss
            .check_target(&y, self.x.nrows(), self.n_outputs())?;
        backward_pass(
            &self.layers,
            &mut self.cache,
            self.loss,
            self.x.view(),
            y,
            true,
            None,
        );
        // No update from gradients that overflowed: the state stays `Forwarded`.
        check_gradients(self.cache.iter().map(|c| &c.grad))?;
        self.state = StepState::Backwarded;
        Ok(())
    }

    /// One gradient-descent step: `W −= η dW`, `b −= η db`.
    pub fn update(&mut self, learning_rate: T) -> Result<()> {
        check_learning_rate(learning_rate)?;
        if self.state != StepState::Backwarded {
            return Err(Error::State(
                "update needs gradients: call forward(X) and backward(y) first".into(),
            ));
        }
        // All or nothing: a step that would overflow any weight is refused whole.
        let lr = learning_rate;
        let stays_finite = self.layers.iter().zip(&self.cache).all(|(l, c)| {
            let ok = |p: &T, g: &T| (*p - lr * *g).is_finite();
            l.w.iter().zip(&c.grad.dw).all(|(p, g)| ok(p, g))
                && l.b.iter().zip(&c.grad.db).all(|(p, g)| ok(p, g))
        });
        if !stays_finite {
            return Err(Error::NonFinite(
                "this step would make weights non-finite (gradients or learning_rate too \
                 large); the weights were left unchanged"
                    .into(),
            ));
        }
        for (l, c) in self.layers.iter_mut().zip(&self.cache) {
            l.w.scaled_add(-learning_rate, &c.grad.dw);
            l.b.scaled_add(-learning_rate, &c.grad.db);
        }
        // z and a no longer match the weights: another backward would mix the two.
        self.state = StepState::Fresh;
        Ok(())
    }

    /// `ŷ` for `x`, in fresh buffers: the step API's cache is left alone.
    pub fn predict(&self, x: ArrayView2<T>) -> Result<Array2<T>> {
        self.predict_with(x, &mut Vec::new())
    }

    /// `predict`, passing the rows through the forward buffers `ws` of an earlier call if
    /// they are large enough (replaced by new ones if not): a caller that predicts again
    /// and again (`CoreNetwork.predict`) keeps them, so that each call does not allocate
    /// and fault in its own.
    pub fn predict_with(&self, x: ArrayView2<T>, ws: &mut Vec<LayerCache<T>>) -> Result<Array2<T>> {
        self.check_input(&x)?;
        let mut out = try_zeros(x.nrows(), self.n_outputs())?;
        self.forward_into(x, ws, out.view_mut())?;
        Ok(out)
    }

    /// The mean loss of `x` against `y` (the step API's cache is left alone).
    pub fn loss(&self, x: ArrayView2<T>, y: Target<T>) -> Result<f64> {
        self.check_input(&x)?;
        self.loss.check_target(&y, x.nrows(), self.n_outputs())?;
        let mut out = try_zeros(x.nrows(), self.n_outputs())?;
        self.forward_into(x, &mut Vec::new(), out.view_mut())?;
        check_loss(self.loss.value(out.view(), y))
    }

    /// The output of `x` into `out`, by passes of at most `predict_rows` rows through `ws`
    /// (made anew if it is too small), an error if it is not finite.
    fn forward_into(
        &self,
        x: ArrayView2<T>,
        ws: &mut Vec<LayerCache<T>>,
        mut out: ArrayViewMut2<T>,
    ) -> Result<()> {
        let n = x.nrows();
        let widest = self.layers.iter().map(|l| l.n_out()).max().unwrap_or(1);
        let rows = predict_rows(n, widest);
        let fits = ws.len() == self.layers.len()
            && ws
                .iter()
                .zip(&self.layers)
                .all(|(c, l)| c.rows() >= rows && c.a.ncols() == l.n_out());
        if !fits {
            *ws = forward_workspace(&self.layers, rows)?;
        }
        on_pool_if_split(&self.layers, rows, || {
            (0..n).step_by(rows.max(1)).try_for_each(|start| {
                let end = (start + rows).min(n);
                forward_checked(&self.layers, ws, x.slice(s![start..end, ..]))?;
                let last = ws.last().expect("a network has at least one layer");
                out.slice_mut(s![start..end, ..])
                    .assign(&last.a(end - start));
                Ok(())
            })
        })?;
        check_output(out.view())
    }

    /// The objective of full-batch training and its gradient, in one pass: the
    /// (`sample_weight`-weighted) mean loss of `x` against `y`, the L2 penalty
    /// `α/2 · Σ‖W‖² / Σw`, and `(dW, db)` of their sum for every layer — what a
    /// quasi-Newton optimizer (L-BFGS) asks for at each point. The step-API values are left
    /// alone.
    pub fn loss_and_gradient(
        &self,
        x: ArrayView2<T>,
        y: Target<T>,
        sample_weight: Option<ArrayView1<T>>,
        alpha: f64,
    ) -> Result<LossAndGradient<T>> {
        self.check_input(&x)?;
        let n = x.nrows();
        self.loss.check_target(&y, n, self.n_outputs())?;
        crate::check::non_negative("alpha", alpha)?;
        if let Some(w) = sample_weight {
            crate::nn::loss::check_sample_weight(w, n)?;
        }
        let mut scale = try_filled(sample_weight.map_or(0, |_| n) as u128, T::zero(), || {
            format!("the row scales of {n} sample weights")
        })?;
        let (weight_sum, scale) = batch_weights(sample_weight, 0..n, &mut scale)
            .expect("check_sample_weight refuses weights that are all zero");
        let mut ws = training_workspace(&self.layers, n)?;
        forward_checked(&self.layers, &mut ws, x)?;
        check_output(ws[ws.len() - 1].a.view())?;
        let data_loss = check_loss(
            self.loss
                .value_weighted(ws[ws.len() - 1].a.view(), y, scale),
        )?;
        backward_pass(&self.layers, &mut ws, self.loss, x, y, false, scale);
        let squares: f64 = self
            .layers
            .iter()
            .flat_map(|l| l.w.iter())
            .map(|w| (*w * *w).f64())
            .sum();
        let penalty = l2_penalty(alpha, squares, weight_sum)?;
        let k = T::c(alpha / weight_sum);
        let gradients = ws
            .into_iter()
            .zip(&self.layers)
            .map(|(c, l)| {
                let mut g = c.grad;
                g.dw.scaled_add(k, &l.w);
                g
            })
            .collect::<Vec<_>>();
        check_gradients(gradients.iter())?;
        Ok(LossAndGradient {
            data_loss,
            penalty,
            gradients,
        })
    }

    /// The largest relative error between the backpropagated gradient (in the network's
    /// dtype) and central finite differences `(L(θ + h) − L(θ − h)) / 2h` of the same
    /// network evaluated in f64, over every weight and bias:
    /// `max |g − g_fd| / max(|g|, |g_fd|, floor)`.
    ///
    /// - `h` defaults to ε₆₄^(1/3) (~6e-6), which balances truncation (~h²) and rounding
    ///   (~ε/h): the difference is then accurate to ~1e-10 absolutely;
    /// - `floor = max(ε₆₄^(1/4), ε^(1/2))` (1.2e-4 for f64 networks, 3.5e-4 for f32): below
    ///   it a relative error would measure rounding rather than the gradient, so smaller
    ///   gradients are compared absolutely, to `floor`.
    ///
    /// Differencing in f64 makes the check as sharp for an f32 network as the f32 gradient
    /// itself is: it measures that gradient's error, not the coarseness of f32 differences.
    pub fn gradient_check(&self, x: ArrayView2<T>, y: Target<T>, h: Option<f64>) -> Result<f64> {
        self.gradient_check_masked(x, y, h, &[])
    }

    /// `gradient_check` of a training pass with fixed dropout masks: `masks` holds one
    /// entry per hidden layer (or none at all), each `None` or a finite `(n, n_out)` array
    /// that multiplies the layer's output `f(z)` (`nn/dropout.rs`), in both the
    /// backpropagated gradient and every finite difference.
    pub fn gradient_check_masked(
        &self,
        x: ArrayView2<T>,
        y: Target<T>,
        h: Option<f64>,
        masks: &[Option<ArrayView2<T>>],
    ) -> Result<f64> {
        self.check_input(&x)?;
        self.loss.check_target(&y, x.nrows(), self.n_outputs())?;
        let h = crate::check::positive("eps", h.unwrap_or(f64::EPSILON.cbrt()))?;
        self.check_masks(masks, x.nrows())?;
        let floor = f64::EPSILON.sqrt().sqrt().max(T::epsilon().f64().sqrt());
        let mut ws = workspace(&self.layers, x.nrows())?;
        set_masks(&mut ws, masks, |m| try_clone(&m))?;
        forward_checked(&self.layers, &mut ws, x)?;
        check_loss(self.loss.value(ws[ws.len() - 1].a.view(), y))?;
        backward_pass(&self.layers, &mut ws, self.loss, x, y, false, None);
        check_gradients(ws.iter().map(|c| &c.grad))?;
        // Backpropagated gradients, in the order of `param_mut`'s index: W row-major, then b.
        let grads = ws
            .iter()
            .flat_map(|c| c.grad.dw.iter().chain(c.grad.db.iter()).map(|g| g.f64()));

        // The same network, inputs and targets in f64 (exact conversions).
        let mut probe: Vec<Dense<f64>> = self
            .layers
            .iter()
            .map(|l| {
                Ok(Dense {
                    w: to_f64(l.w.view())?,
                    b: to_f64(l.b.view())?,
                    activation: l.activation,
                })
            })
            .collect::<Result<_>>()?;
        let x64 = to_f64(x)?;
        let y64 = match y {
            Target::Dense(y) => Some(to_f64(y)?),
            Target::Labels(_) => None,
        };
        let y64 = match (&y64, y) {
            (Some(y), _) => Target::Dense(y.view()),
            (None, Target::Labels(l)) => Target::Labels(l),
            (None, Target::Dense(_)) => unreachable!("dense targets were converted"),
        };
        let mut ws64 = forward_workspace(&probe, x.nrows())?;
        set_masks(&mut ws64, masks, |m| to_f64(m))?;
        let mut loss_at = |layers: &[Dense<f64>]| {
            forward_pass(layers, &mut ws64, x64.view());
            self.loss.value(ws64[ws64.len() - 1].a.view(), y64)
        };
        let params: usize = ws.iter().map(|c| c.grad.dw.len() + c.grad.db.len()).sum();
        let mut fd = Vec::new();
        fd.try_reserve_exact(params).map_err(|_| {
            Error::memory(format!("{params} finite differences"), params as u128 * 8)
        })?;
        for k in 0..probe.len() {
            for i in 0..probe[k].w.len() + probe[k].b.len() {
                let original = *param_mut(&mut probe[k], i);
                *param_mut(&mut probe[k], i) = original + h;
                let up = loss_at(&probe);
                *param_mut(&mut probe[k], i) = original - h;
                let down = loss_at(&probe);
                *param_mut(&mut probe[k], i) = original;
                if !(up.is_finite() && down.is_finite()) {
                    return Err(Error::NonFinite(format!(
                        "the loss at a step of ±{h} from parameter {i} of layer {k} (W \
                         row-major, then b) is {up} and {down}: it overflowed; scale X, y or \
                         the weights down"
                    )));
                }
                // The step actually taken, after rounding θ ± h.
                fd.push((up - down) / ((original + h) - (original - h)));
            }
        }
        Ok(grads
            .zip(fd)
            .map(|(g, fd)| (g - fd).abs() / g.abs().max(fd.abs()).max(floor))
            .fold(0.0, f64::max))
    }
}

impl<T: Float> Network<T> {
    /// Refuses masks for `gradient_check_masked` that are not one per hidden layer, of
    /// shape `(n, n_out)` and finite.
    fn check_masks(&self, masks: &[Option<ArrayView2<T>>], n: usize) -> Result<()> {
        let hidden = self.layers.len() - 1;
        if !masks.is_empty() && masks.len() != hidden {
            return Err(Error::shape(
                "masks",
                format!("{hidden} entries (one per hidden layer)"),
                format!("{}", masks.len()),
            ));
        }
        for (k, m) in masks.iter().enumerate() {
            let Some(m) = m else { continue };
            let want = (n, self.layers[k].n_out());
            if m.dim() != want {
                return Err(Error::shape(
                    "masks",
                    format!("masks[{k}] of shape {want:?} (rows of X, units of layer {k})"),
                    format!("shape {:?}", m.dim()),
                ));
            }
            if m.iter().any(|v| !v.is_finite()) {
                return Err(Error::value(
                    "masks",
                    format!("must be finite, got NaN or infinity in masks[{k}]"),
                ));
            }
        }
        Ok(())
    }
}

/// Gives each cache whose layer has a mask in `masks` that mask (converted by `copy`).
fn set_masks<T: Float, U: Float>(
    caches: &mut [LayerCache<U>],
    masks: &[Option<ArrayView2<T>>],
    copy: impl Fn(ArrayView2<T>) -> Result<Array2<U>>,
) -> Result<()> {
    for (c, m) in caches.iter_mut().zip(masks) {
        if let Some(m) = m {
            c.with_mask()?;
            c.mask.assign(&copy(*m)?);
        }
    }
    Ok(())
}

/// What [`Network::loss_and_gradient`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct LossAndGradient<T> {
    /// The (weighted) mean loss.
    pub data_loss: f64,
    /// `α/2 · Σ‖W‖² / Σw`.
    pub penalty: f64,
    /// The gradient `(dW, db)` of `data_loss + penalty`, one per layer.
    pub gradients: Vec<Gradient<T>>,
}

/// Parameter `i` of a layer: `W` in row-major order, then `b`.
fn param_mut<T: Float>(layer: &mut Dense<T>, i: usize) -> &mut T {
    let n_w = layer.w.len();
    if i < n_w {
        &mut layer.w.as_slice_mut().expect("W is in standard layout")[i]
    } else {
        &mut layer.b[i - n_w]
    }
}

/// `a` converted to f64, allocated fallibly.
fn to_f64<T: Float, D: Dimension>(a: ArrayView<T, D>) -> Result<Array<f64, D>> {
    let what = || format!("an f64 copy of an array of shape {}", shape_text(a.shape()));
    let v = try_filled(a.len() as u128, 0.0, what)?;
    let mut out = Array::from_shape_vec(a.raw_dim(), v).expect("the copy has a's length");
    out.zip_mut_with(&a, |o, &v| *o = v.f64());
    Ok(out)
}

/// `forward_pass`, with a layer whose `z` overflowed an error that names it.
fn forward_checked<T: Float>(
    layers: &[Dense<T>],
    caches: &mut [LayerCache<T>],
    x: ArrayView2<T>,
) -> Result<()> {
    match forward_pass(layers, caches, x) {
        None => Ok(()),
        Some(k) => Err(overflow_error("X", k)),
    }
}

/// The error of a forward pass of `arg` in which the `z` of layer `k` overflowed.
pub(crate) fn overflow_error(arg: &str, k: usize) -> Error {
    Error::NonFinite(format!(
        "{arg}: the pre-activation z of layer {k} (layers[{k}]) overflowed in the forward \
         pass: it is not finite (inf or NaN) for these inputs; scale {arg} or the weights down"
    ))
}

/// The first layer whose output `a` holds a value that is not finite, after `forward_pass`
/// (which makes a layer's `a` NaN where its `z` overflowed; rows beyond the pass hold
/// earlier, finite values).
pub fn first_overflow<T: Float>(caches: &[LayerCache<T>]) -> Option<usize> {
    caches
        .iter()
        .position(|c| c.a.iter().any(|v| !v.is_finite()))
}

/// A loss that is a number, or an error saying it overflowed.
fn check_loss(value: f64) -> Result<f64> {
    match value.is_finite() {
        true => Ok(value),
        false => Err(Error::NonFinite(format!(
            "the loss is {value}: it overflowed (outputs or targets too large); scale X or \
             y down"
        ))),
    }
}

/// `α/2 · Σ‖W‖² / Σw`, or an error naming `alpha` if it overflows.
fn l2_penalty(alpha: f64, squares: f64, weight_sum: WeightSum) -> Result<f64> {
    let penalty = match 0.5 * alpha * squares / weight_sum {
        p if p.is_finite() => p,
        // The product overflowed first: divide before multiplying.
        _ => 0.5 * (alpha / weight_sum) * squares,
    };
    match penalty.is_finite() {
        true => Ok(penalty),
        false => Err(Error::value(
            "alpha",
            format!(
                "is too large for these weights: the L2 penalty alpha/2 · Σ‖W‖² / Σw \
                 overflowed (Σ‖W‖² = {squares}, Σw = {}); lower alpha",
                weight_sum.value()
            ),
        )),
    }
}

/// Refuses gradients of which one value is not finite: the backward pass overflowed.
/// The layer named is the first the backward pass reached (the last one).
fn check_gradients<'a, T: Float>(
    grads: impl DoubleEndedIterator<Item = &'a Gradient<T>> + ExactSizeIterator,
) -> Result<()> {
    for (k, g) in grads.enumerate().rev() {
        let name = match () {
            _ if g.dw.iter().any(|v| !v.is_finite()) => "dW",
            _ if g.db.iter().any(|v| !v.is_finite()) => "db",
            _ => continue,
        };
        return Err(Error::NonFinite(format!(
            "the gradient {name} of layer {k} (layers[{k}]) overflowed in the backward pass: \
             it is not finite (inf or NaN); the weights, alpha or the targets are too large"
        )));
    }
    Ok(())
}

/// Refuses a non-finite network output: some layer overflowed, and a NaN or infinity
/// passed off as a prediction would be silent garbage.
fn check_output<T: Float>(a: ArrayView2<T>) -> Result<()> {
    match a.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFinite(format!(
            "the network's output is not finite ({} at row {}): a layer overflowed; \
             scale the inputs or the weights down",
            a.iter().nth(i).expect("found above"),
            i / a.ncols().max(1)
        ))),
    }
}

pub(crate) fn check_learning_rate<T: Float>(learning_rate: T) -> Result<()> {
    crate::check::positive("learning_rate", learning_rate.f64()).map(drop)
}

/// `predict` and `loss` pass their rows through the layers this many values of the widest
/// layer at a time (4 MiB in float64): a pass's buffers stay in the caches from one layer
/// to the next, a prediction of a million rows needs no more buffers than one of a few
/// hundred, and a few hundred rows through a layer of 1024 units still make products
/// large enough for both threads.
const PREDICT_VALUES: usize = 1 << 19;

/// The rows of each pass of a prediction of `n` rows through layers of at most `widest`
/// units: at most `PREDICT_VALUES` values of the widest layer, the passes as even as can
/// be. Each row's output is the same whichever pass it is in — products sum each value
/// over `k` in an order set by `k` alone, elementwise passes and softmax work by value or
/// by row — except through the kernel of at most `FEW_ROWS` rows, so a pass of a longer
/// input never has that few (at least 10 rows, and even passes of at least half the
/// most). `tests/test_determinism.py` compares them with `forward`'s single pass.
fn predict_rows(n: usize, widest: usize) -> usize {
    let most = (PREDICT_VALUES / widest.max(1)).max(2 * (crate::kernels::linalg::FEW_ROWS + 1));
    n.div_ceil(n.div_ceil(most).max(1))
}

/// Forward-only caches (`z` and `a`), for `predict` and `loss`.
pub(crate) fn forward_workspace<T: Float>(
    layers: &[Dense<T>],
    rows: usize,
) -> Result<Vec<LayerCache<T>>> {
    layers
        .iter()
        .map(|l| LayerCache::forward_only(rows, l.n_out()))
        .collect()
}

/// One cache per layer, with room for `rows` rows.
pub fn workspace<T: Float>(layers: &[Dense<T>], rows: usize) -> Result<Vec<LayerCache<T>>> {
    layers
        .iter()
        .map(|l| LayerCache::new(rows, l.n_in(), l.n_out()))
        .collect()
}

/// `workspace` for training passes, which need no `dz` of a hidden layer once its
/// gradient is taken: each hidden layer's `dz` is computed in place over its `da`
/// (`LayerCache::training`); the output layer's cache keeps both (the fused delta writes
/// `dz` alone).
pub fn training_workspace<T: Float>(
    layers: &[Dense<T>],
    rows: usize,
) -> Result<Vec<LayerCache<T>>> {
    let last = layers.len().saturating_sub(1);
    layers
        .iter()
        .enumerate()
        .map(|(k, l)| match k < last {
            true => LayerCache::training(rows, l.n_in(), l.n_out()),
            false => LayerCache::new(rows, l.n_in(), l.n_out()),
        })
        .collect()
}

/// `f()`, on the pool if a pass of `rows` rows through some layer splits work between
/// threads (see `linalg::splits_pass`): one hand-over instead of one per product.
fn on_pool_if_split<T: Float, R: Send>(
    layers: &[Dense<T>],
    rows: usize,
    f: impl FnOnce() -> R + Send,
) -> R {
    match layers
        .iter()
        .any(|l| crate::kernels::linalg::splits_pass(rows, l.n_in(), l.n_out()))
    {
        true => crate::pool::install(f),
        false => f(),
    }
}

/// The forward pass of `x` (its `n` rows) through every layer, into the first `n` rows of
/// each cache. Returns the first layer whose `z` is not finite, if one is: that layer's `a`
/// is then NaN, and so is the output.
pub fn forward_pass<T: Float>(
    layers: &[Dense<T>],
    caches: &mut [LayerCache<T>],
    x: ArrayView2<T>,
) -> Option<usize> {
    let n = x.nrows();
    let mut overflowed = None;
    for (k, layer) in layers.iter().enumerate() {
        let (before, after) = caches.split_at_mut(k);
        let a_prev = match before.last() {
            Some(prev) => prev.a(n),
            None => x,
        };
        if !layer.forward(a_prev, &mut after[0]) && overflowed.is_none() {
            overflowed = Some(k);
        }
    }
    overflowed
}

/// Draws the dropout masks of the first `n` rows of `caches` for a batch whose row 0 is
/// sample `key.first + row0`: each layer `k` with `rates[k] > 0` (its cache has a mask; the
/// output layer has no rate).
pub fn draw_masks<T: Float>(
    caches: &mut [LayerCache<T>],
    rates: &[f64],
    key: MaskKey,
    n: usize,
    row0: u64,
) {
    for (k, (c, &p)) in caches.iter_mut().zip(rates).enumerate() {
        if p > 0.0 {
            dropout::fill(c.mask.slice_mut(s![..n, ..]), p, key, k, row0);
        }
    }
}

/// The backward pass after `forward_pass(x)`: `dz, dW, db` of every layer and `da` of every
/// layer but the output's, which is filled only if `output_da` (the fused delta does not
/// need it). With `row_scale`, row `i` of the output gradient is multiplied by
/// `row_scale[i]` (sample weights: `w_i · n / Σw`).
pub fn backward_pass<T: Float>(
    layers: &[Dense<T>],
    caches: &mut [LayerCache<T>],
    loss: Loss,
    x: ArrayView2<T>,
    y: Target<T>,
    output_da: bool,
    row_scale: Option<ArrayView1<T>>,
) {
    let n = x.nrows();
    let last = layers.len() - 1;
    {
        let out = &layers[last];
        let LayerCache { a, dz, da, .. } = &mut caches[last];
        let yhat = a.slice(s![..n, ..]);
        let (dz, mut da) = (dz.slice_mut(s![..n, ..]), da.slice_mut(s![..n, ..]));
        let fused = loss.output_gradient(out.activation, yhat, y, row_scale, dz, da.view_mut());
        if fused && output_da {
            // The step API shows da_L too.
            loss.gradient(yhat, y, da.view_mut());
            scale_rows(da, row_scale);
        }
        if !fused {
            out.activation_backward(n, &mut caches[last]);
        }
    }
    for k in (0..=last).rev() {
        if k < last {
            layers[k].activation_backward(n, &mut caches[k]);
        }
        let (before, after) = caches.split_at_mut(k);
        match before.last_mut() {
            Some(prev) => {
                let LayerCache { a, da, .. } = prev;
                layers[k].param_backward(
                    a.slice(s![..n, ..]),
                    &mut after[0],
                    Some(da.slice_mut(s![..n, ..])),
                );
            }
            None => layers[k].param_backward(x, &mut after[0], None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn tiny() -> Network<f64> {
        let config = NetworkConfig::new(
            vec![2, 2, 1],
            vec![Activation::Identity, Activation::Sigmoid],
            Loss::BinaryCrossEntropy,
        );
        let mut net = Network::new(&config, 0).unwrap();
        let (w1, b1) = (array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0]);
        let (w2, b2) = (array![[1.0], [-1.0]], array![1.0]);
        net.set_weights(&[(w1.view(), b1.view()), (w2.view(), b2.view())])
            .unwrap();
        net
    }

    #[test]
    fn step_api_by_hand() {
        let mut net = tiny();
        let x = array![[1.0, 2.0]];
        let y = array![[1.0]];
        // z1 = a1 = [1, 2]; z2 = 1 − 2 + 1 = 0; ŷ = 0.5; L = ln 2.
        assert_eq!(net.forward(x.view()).unwrap(), array![[0.5]]);
        assert_eq!(
            net.loss(x.view(), Target::Dense(y.view())).unwrap(),
            2f64.ln()
        );
        net.backward(Target::Dense(y.view())).unwrap();
        let c = net.cache();
        assert_eq!(c[0].z, array![[1.0, 2.0]]);
        assert_eq!(c[1].da, array![[-2.0]]); // dL/dŷ = (ŷ − y)/(ŷ(1 − ŷ))
        assert_eq!(c[1].dz, array![[-0.5]]); // fused (ŷ − y)/N
        assert_eq!(c[1].grad.dw, array![[-0.5], [-1.0]]);
        assert_eq!(c[1].grad.db, array![-0.5]);
        assert_eq!(c[0].da, array![[-0.5, 0.5]]);
        assert_eq!(c[0].dz, array![[-0.5, 0.5]]);
        assert_eq!(c[0].grad.dw, array![[-0.5, 0.5], [-1.0, 1.0]]);
        assert_eq!(c[0].grad.db, array![-0.5, 0.5]);
        net.update(0.5).unwrap();
        assert_eq!(net.layers()[1].w, array![[1.25], [-0.5]]);
        assert_eq!(net.layers()[1].b, array![1.25]);
        assert_eq!(net.layers()[0].w, array![[1.25, -0.25], [0.5, 0.5]]);
    }

    #[test]
    fn overflow_is_an_error_not_a_prediction() {
        let config = NetworkConfig::new(
            vec![2, 3, 1],
            vec![Activation::Identity, Activation::Sigmoid],
            Loss::BinaryCrossEntropy,
        );
        let mut net = Network::<f64>::new(&config, 0).unwrap();
        let w1 = array![[1.0, -1.0, 1.0], [1.0, -1.0, 1.0]];
        let b1 = array![0.0, 0.0, 0.0];
        let (w2, b2) = (array![[1.0], [1.0], [1.0]], array![0.0]);
        net.set_weights(&[(w1.view(), b1.view()), (w2.view(), b2.view())])
            .unwrap();
        // z1 = [inf, -inf, inf]: z2 = inf − inf = NaN, which sigmoid's clip must not hide.
        let x = array![[0.5, 0.5], [1e308, 1e308]];
        let y = array![[1.0], [0.0]];
        let target = Target::Dense(y.view());
        let layer_0 = |r: Result<_>| match r {
            Err(Error::NonFinite(msg)) => msg.contains("X: the pre-activation z of layer 0"),
            _ => false,
        };
        assert!(layer_0(net.predict(x.view()).map(|_| ())));
        assert!(layer_0(net.forward(x.view()).map(|_| ())));
        assert!(layer_0(net.loss(x.view(), target).map(|_| ())));
        assert!(layer_0(
            net.loss_and_gradient(x.view(), target, None, 0.0)
                .map(|_| ())
        ));
        assert!(layer_0(
            net.gradient_check(x.view(), target, None).map(|_| ())
        ));
        assert!(matches!(net.backward(target), Err(Error::State(_))));
    }

    /// Gradients that overflow in the backward pass are refused by `backward` (and `update`
    /// then has nothing to apply), `loss_and_gradient` and `gradient_check`.
    #[test]
    fn a_gradient_overflow_is_an_error() {
        let config = NetworkConfig::new(
            vec![1, 1, 1],
            vec![Activation::Identity, Activation::Identity],
            Loss::MeanSquaredError,
        );
        let mut net = Network::<f64>::new(&config, 0).unwrap();
        let (w1, b1) = (array![[1.0]], array![0.0]);
        let (w2, b2) = (array![[1e308]], array![0.0]);
        net.set_weights(&[(w1.view(), b1.view()), (w2.view(), b2.view())])
            .unwrap();
        // ŷ = 1e308 and y = −1.5e308 are finite; ŷ − y is not.
        let (x, y) = (array![[1.0]], array![[-1.5e308]]);
        let target = Target::Dense(y.view());
        net.forward(x.view()).unwrap();
        let err = net.backward(target).unwrap_err().to_string();
        assert!(err.contains("gradient dW of layer 1"), "{err}");
        assert!(matches!(net.update(0.1), Err(Error::State(_))));
        assert_eq!(net.layers()[1].w, w2);
        assert!(net.loss_and_gradient(x.view(), target, None, 0.0).is_err());
        assert!(net.gradient_check(x.view(), target, None).is_err());
        // A penalty too large to represent names alpha; a large finite one is a number,
        // even where α · Σ‖W‖² alone overflows (Σ‖W‖² = 8).
        let two = array![[2.0]];
        net.set_weights(&[(two.view(), b1.view()), (two.view(), b1.view())])
            .unwrap();
        let (x, y) = (array![[0.5], [0.25], [0.0], [1.0]], Array2::zeros((4, 1)));
        let target = Target::Dense(y.view());
        let one = (x.slice(s![..1, ..]), Target::Dense(y.slice(s![..1, ..])));
        let err = net
            .loss_and_gradient(one.0, one.1, None, f64::MAX)
            .unwrap_err();
        assert!(matches!(err, Error::Value { arg: "alpha", .. }), "{err}");
        let got = net
            .loss_and_gradient(x.view(), target, None, 1e308)
            .unwrap();
        assert_eq!(got.penalty, 1e308);
        let finite = |g: &Gradient<f64>| g.dw.iter().chain(&g.db).all(|v| v.is_finite());
        assert!(got.gradients.iter().all(finite));
    }

    #[test]
    fn loss_and_gradient_is_the_penalized_weighted_objective() {
        let net = tiny();
        let x = array![[1.0, 2.0], [0.5, -1.0], [0.0, 0.3]];
        let y = array![[1.0], [0.0], [1.0]];
        // Integer weights are repeated rows.
        let w = array![2.0, 1.0, 3.0];
        let rows = [0, 0, 1, 2, 2, 2];
        let xr = Array2::from_shape_fn((6, 2), |(i, j)| x[[rows[i], j]]);
        let yr = Array2::from_shape_fn((6, 1), |(i, j)| y[[rows[i], j]]);
        let a = net
            .loss_and_gradient(x.view(), Target::Dense(y.view()), Some(w.view()), 0.3)
            .unwrap();
        let b = net
            .loss_and_gradient(xr.view(), Target::Dense(yr.view()), None, 0.3)
            .unwrap();
        assert!((a.data_loss - b.data_loss).abs() < 1e-15);
        assert!((a.penalty - b.penalty).abs() < 1e-15);
        let squares: f64 = net
            .layers()
            .iter()
            .flat_map(|l| l.w.iter())
            .map(|v| v * v)
            .sum();
        assert_eq!(b.penalty, 0.5 * 0.3 * squares / 6.0);
        for (g_a, g_b) in a.gradients.iter().zip(&b.gradients) {
            assert!(g_a
                .dw
                .iter()
                .zip(&g_b.dw)
                .all(|(p, q)| (p - q).abs() < 1e-15));
            assert!(g_a
                .db
                .iter()
                .zip(&g_b.db)
                .all(|(p, q)| (p - q).abs() < 1e-15));
        }
        // Without weights or penalty it is the step API's gradient.
        let mut step = net.clone();
        step.forward(x.view()).unwrap();
        step.backward(Target::Dense(y.view())).unwrap();
        let c = net
            .loss_and_gradient(x.view(), Target::Dense(y.view()), None, 0.0)
            .unwrap();
        for (g, cache) in c.gradients.iter().zip(step.cache()) {
            assert_eq!(g, &cache.grad);
        }
    }

    #[test]
    fn step_api_refuses_calls_out_of_order() {
        let mut net = tiny();
        let x = array![[1.0, 2.0]];
        let y = array![[1.0]];
        assert!(matches!(
            net.backward(Target::Dense(y.view())),
            Err(Error::State(_))
        ));
        net.forward(x.view()).unwrap();
        assert!(matches!(net.update(0.1), Err(Error::State(_))));
        net.backward(Target::Dense(y.view())).unwrap();
        net.update(0.1).unwrap();
        // The weights moved: z and a are stale, a second backward would mix the two.
        assert!(matches!(
            net.backward(Target::Dense(y.view())),
            Err(Error::State(_))
        ));
        assert!(net
            .update(-1.0)
            .unwrap_err()
            .to_string()
            .contains("learning_rate"));
    }

    #[test]
    fn predict_leaves_the_step_cache_alone() {
        let mut net = tiny();
        let x = array![[1.0, 2.0], [0.0, -1.0]];
        let yhat = net.forward(x.view()).unwrap().to_owned();
        let cache = net.cache().to_vec();
        assert_eq!(
            net.predict(x.slice(s![..1, ..])).unwrap(),
            yhat.slice(s![..1, ..])
        );
        assert_eq!(net.cache(), &cache[..]);
        assert_eq!(net.predict(x.view()).unwrap(), yhat);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let config = NetworkConfig::new(
            vec![3, 5, 4, 3],
            vec![Activation::Tanh, Activation::LeakyRelu, Activation::Softmax],
            Loss::CrossEntropy,
        );
        let net = Network::<f64>::new(&config, 3).unwrap();
        let x = array![
            [0.1, -0.7, 1.3],
            [2.0, 0.3, -0.4],
            [-1.1, 0.9, 0.5],
            [0.6, 0.6, -1.8]
        ];
        let labels = array![0usize, 2, 1, 2];
        let err = net
            .gradient_check(x.view(), Target::Labels(labels.view()), None)
            .unwrap();
        assert!(err < 1e-7, "{err}");
        // Softmax through its Jacobian (mean squared error) rather than the fused delta.
        let mut mse = net.clone();
        mse.loss = Loss::MeanSquaredError;
        let y = array![
            [1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0]
        ];
        let err = mse
            .gradient_check(x.view(), Target::Dense(y.view()), None)
            .unwrap();
        assert!(err < 1e-7, "{err}");
        // A step far too large for the curvature shows up: the check can fail.
        let coarse = net
            .gradient_check(x.view(), Target::Labels(labels.view()), Some(0.5))
            .unwrap();
        assert!(coarse > 1e-3, "{coarse}");
    }

    #[test]
    fn bad_configs_and_inputs_are_refused() {
        use Activation::*;
        let bad = [
            (vec![3], vec![], Loss::MeanSquaredError, "at least 2"),
            (
                vec![3, 0, 1],
                vec![Relu, Identity],
                Loss::MeanSquaredError,
                "at least 1",
            ),
            (
                vec![3, 1],
                vec![Relu, Relu],
                Loss::MeanSquaredError,
                "1 names",
            ),
            (
                vec![3, 2, 2],
                vec![Softmax, Softmax],
                Loss::CrossEntropy,
                "output layer only",
            ),
            (vec![3, 1], vec![Relu], Loss::BinaryCrossEntropy, "sigmoid"),
            (
                vec![usize::MAX, 2, 1],
                vec![Relu, Identity],
                Loss::MeanSquaredError,
                "fewer than 2**64 parameters",
            ),
        ];
        for (sizes, acts, loss, msg) in bad {
            let err = Network::<f64>::new(&NetworkConfig::new(sizes, acts, loss), 0).unwrap_err();
            assert!(err.to_string().contains(msg), "{err} lacks {msg:?}");
        }
        let mut net = tiny();
        let wrong = array![[1.0, 2.0, 3.0]];
        assert!(net
            .forward(wrong.view())
            .unwrap_err()
            .to_string()
            .contains("2 features"));
        let nan = array![[1.0, f64::NAN]];
        assert!(net
            .predict(nan.view())
            .unwrap_err()
            .to_string()
            .contains("NaN"));
        let empty = Array2::<f64>::zeros((0, 2));
        assert!(net
            .predict(empty.view())
            .unwrap_err()
            .to_string()
            .contains("empty"));
        let w = array![[1.0]];
        let b = array![1.0];
        assert!(net.set_weights(&[(w.view(), b.view())]).is_err());
    }
}
