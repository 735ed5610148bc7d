//! The training loop: epochs of (optionally shuffled) minibatches, each a forward pass, a
//! backward pass and an optimizer step, all in one call.
//!
//! ```text
//! for epoch in 1..=epochs:
//!     order = shuffle(0..n) if shuffle else 0..n        (one seeded stream per fit)
//!     for batch in chunks(order, batch_size):
//!         ŷ = forward(X[batch]);  loss_b = L(ŷ, y[batch])
//!         backward(y[batch]);  optimizer.step(η)
//!     history[epoch] = Σ_b loss_b · |b| / n
//! ```
//!
//! Buffers (layer caches, the gathered batch, a weight snapshot) are allocated once per
//! fit; the steady state allocates nothing. The loss of each batch is checked: if it is not
//! finite, the weights of the start of the epoch are restored and training stops with an
//! error.

use crate::layer::{try_collect, try_filled, try_zeros, try_zeros1};
use crate::loss::batch_weights;
use crate::narrow;
use crate::network::{
    backward_pass, first_overflow, forward_pass, forward_workspace, overflow_error, workspace,
};
use crate::stopping::{self, Metric, Schedule, Stop, Stopping, Tracker};
use crate::{Dense, Error, Float, LayerCache, Network, Optimizer, OptimizerConfig, Result, Target};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis, Zip};
use rand::seq::SliceRandom;

/// What `fit` does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitConfig {
    pub epochs: usize,
    pub learning_rate: f64,
    /// Rows per minibatch; `None` for the full batch. Larger than `n` means `n`.
    pub batch_size: Option<usize>,
    /// Shuffle the rows at the start of each epoch (minibatches only).
    pub shuffle: bool,
    /// Seed of the shuffling stream.
    pub seed: u64,
    pub optimizer: OptimizerConfig,
    /// L2 penalty: each batch's loss gains `α/2 · Σ‖W‖² / Σw` (biases are not penalized),
    /// with `Σw` the batch's total sample weight (its row count without weights).
    pub alpha: f64,
    /// How the step size evolves (constant unless plain SGD).
    pub schedule: Schedule,
    /// When to stop before `epochs`.
    pub stopping: Stopping,
}

/// Data held out to score the network after each epoch.
#[derive(Debug, Clone, Copy)]
pub struct Validation<'a, T> {
    pub x: ArrayView2<'a, T>,
    pub y: Target<'a, T>,
    pub metric: Metric,
}

/// What a fit did, epoch by epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Mean training loss of each epoch (penalty included).
    pub loss: Vec<f64>,
    /// Loss and score on the validation data after each epoch (empty without it).
    pub val_loss: Vec<f64>,
    pub val_score: Vec<f64>,
    /// The step size used in each epoch.
    pub learning_rate: Vec<f64>,
    /// Samples seen (rows × epochs).
    pub samples_seen: u64,
    pub best_loss: f64,
    pub best_val_score: Option<f64>,
    pub stopped: Stop,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 100,
            learning_rate: 0.01,
            batch_size: None,
            shuffle: true,
            seed: 0,
            optimizer: OptimizerConfig::default(),
            alpha: 0.0,
            schedule: Schedule::Constant,
            stopping: Stopping::default(),
        }
    }
}

impl FitConfig {
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::value("epochs", "must be at least 1, got 0"));
        }
        crate::network::check_learning_rate(self.learning_rate)?;
        if self.batch_size == Some(0) {
            return Err(Error::value("batch_size", "must be at least 1, got 0"));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(Error::value(
                "alpha",
                format!("must be non-negative and finite, got {}", self.alpha),
            ));
        }
        if let Schedule::InvScaling { power_t } = self.schedule {
            if !(power_t.is_finite() && power_t >= 0.0) {
                return Err(Error::value(
                    "power_t",
                    format!("must be non-negative and finite, got {power_t}"),
                ));
            }
        }
        let sgd = matches!(self.optimizer, OptimizerConfig::Sgd { .. });
        if self.schedule != Schedule::Constant && !sgd {
            return Err(Error::value(
                "schedule",
                "learning-rate schedules apply to optimizer=\"sgd\" only (Adam adapts its own steps)",
            ));
        }
        let tol = self.stopping.tol;
        if !(tol.is_finite() && tol >= 0.0) {
            return Err(Error::value(
                "tol",
                format!("must be non-negative and finite, got {tol}"),
            ));
        }
        if self.stopping.n_iter_no_change == Some(0) {
            return Err(Error::value(
                "n_iter_no_change",
                "must be at least 1, got 0",
            ));
        }
        self.optimizer.validate()
    }
}

/// What the caller says after each epoch (and between batches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochControl {
    Continue,
    Stop,
}

/// Hooks the loop calls, always on the thread that called `fit` (never on a pool thread, so
/// a hook may block: take a lock, wait for an interpreter). An error from any of them ends
/// training with the weights of the last full step.
pub trait Monitor<T> {
    /// Between batches, when the loop runs on the calling thread (small networks).
    fn between_batches(&mut self) -> Result<()> {
        Ok(())
    }
    /// Every `PUBLISH_EVERY` while the loop runs on the pool; `Stop` ends training at the
    /// next batch with `Error::Interrupted`.
    fn poll(&mut self) -> EpochControl {
        EpochControl::Continue
    }
    /// After an epoch with its mean loss and the network as it stands: after every epoch
    /// if `every_epoch`, otherwise after the last epoch of each run of epochs (at least
    /// every `PUBLISH_EVERY`) and after the last one.
    fn epoch_end(&mut self, _epoch: usize, _loss: f64, _net: &Network<T>) -> Result<EpochControl> {
        Ok(EpochControl::Continue)
    }
    fn every_epoch(&self) -> bool {
        true
    }
}

/// How long the loop runs on the pool before the monitor sees it again (when the monitor
/// does not need every epoch).
pub const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// A monitor that lets training run to the end.
pub struct NoMonitor;
impl<T> Monitor<T> for NoMonitor {
    fn every_epoch(&self) -> bool {
        false
    }
}

/// Trains `net` on `(x, y)`; returns the mean training loss of each epoch (each batch's loss
/// measured in its forward pass, before its update, penalty included; batches weighted by
/// their row counts). The optimizer's state is kept in the network: a later `fit` with the
/// same optimizer settings continues from it.
///
/// With `sample_weight`, each batch's loss is the `w`-weighted mean of its rows' losses, and
/// its gradient that of this weighted mean: a weight of 2 counts a row twice. A batch whose
/// weights are all zero is skipped.
///
/// When some product is large enough for several threads (`uses_threads`), epochs run as
/// tasks of ferroprop's pool (so that the loop's thread is one of the products' threads),
/// and the calling thread waits, calling the monitor between them (see `Monitor`).
pub fn fit<'d, T: Float>(
    net: &mut Network<T>,
    x: ArrayView2<'d, T>,
    y: Target<'d, T>,
    sample_weight: Option<ArrayView1<'d, T>>,
    validation: Option<Validation<'d, T>>,
    config: &FitConfig,
    monitor: &mut dyn Monitor<T>,
) -> Result<History> {
    config.validate()?;
    net.check_input(&x)?;
    net.loss_fn().check_target(&y, x.nrows(), net.n_outputs())?;
    if let Some(w) = sample_weight {
        crate::loss::check_sample_weight(w, x.nrows())?;
    }
    match validation {
        Some(v) => {
            net.check_input(&v.x)
                .map_err(|e| rename(e, "validation_data X"))?;
            net.loss_fn()
                .check_target(&v.y, v.x.nrows(), net.n_outputs())
                .map_err(|e| rename(e, "validation_data y"))?;
        }
        None if config.stopping.early_stopping => {
            return Err(Error::value(
                "early_stopping",
                "needs validation data to judge by",
            ))
        }
        None => {}
    }
    let threaded = uses_threads(net, x.nrows(), config);
    let mut optimizer = match net.optimizer.take() {
        Some(o) if o.config() == config.optimizer => o,
        _ => Optimizer::new(config.optimizer, net.layers())?,
    };
    let data = Data {
        x,
        y,
        sample_weight,
        validation,
    };
    // A threaded fit's buffers are made and freed on the pool, where its epochs use them:
    // the allocator then keeps them for the next fit instead of returning them to the
    // system and faulting them in again.
    let made = on_pool(threaded, || Trainer::new(net, data, config, &mut optimizer));
    let result = match made {
        Ok(mut trainer) => match drive(&mut trainer, threaded, monitor) {
            Ok(()) => Ok(on_pool(threaded, || trainer.finish())),
            Err(e) => {
                on_pool(threaded, || drop(trainer));
                Err(e)
            }
        },
        Err(e) => Err(e),
    };
    // Keep the optimizer's state for the next fit, unless training blew up.
    if !matches!(result, Err(Error::NonFinite(_))) {
        net.optimizer = Some(optimizer);
    }
    result
}

/// The same error, about another argument.
fn rename(err: Error, arg: &'static str) -> Error {
    match err {
        Error::Shape { expected, got, .. } => Error::Shape { arg, expected, got },
        Error::Value { msg, .. } => Error::Value { arg, msg },
        Error::Type { expected, got, .. } => Error::Type { arg, expected, got },
        other => other,
    }
}

/// `f()`, on the pool if `threaded`.
fn on_pool<R: Send>(threaded: bool, f: impl FnOnce() -> R + Send) -> R {
    match threaded {
        true => crate::pool::install(f),
        false => f(),
    }
}

/// Runs the trainer's epochs in runs (on the pool if `threaded`), calling the monitor on
/// this thread after each run.
fn drive<T: Float>(
    trainer: &mut Trainer<'_, '_, T>,
    threaded: bool,
    monitor: &mut dyn Monitor<T>,
) -> Result<()> {
    let every_epoch = monitor.every_epoch();
    let stop = std::sync::atomic::AtomicBool::new(false);
    loop {
        let started = std::time::Instant::now();
        let enough = || every_epoch || started.elapsed() >= PUBLISH_EVERY;
        let ran = match threaded {
            true => {
                let mut stopped = || match stop.load(std::sync::atomic::Ordering::Relaxed) {
                    true => Err(Error::Interrupted),
                    false => Ok(()),
                };
                let work = || trainer.epochs(&mut stopped, &enough);
                crate::pool::run_while(work, PUBLISH_EVERY, || {
                    if monitor.poll() == EpochControl::Stop {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                })
            }
            false => trainer.epochs(&mut || monitor.between_batches(), &enough),
        };
        let finished = ran?;
        let (epoch, loss) = (trainer.history.loss.len(), trainer.last_loss());
        let control = monitor.epoch_end(epoch, loss, trainer.net)?;
        if !finished && control == EpochControl::Stop {
            trainer.history.stopped = Stop::Callback;
        }
        if finished || control == EpochControl::Stop {
            return Ok(());
        }
    }
}

/// The data of a fit.
#[derive(Clone, Copy)]
struct Data<'a, T> {
    x: ArrayView2<'a, T>,
    y: Target<'a, T>,
    sample_weight: Option<ArrayView1<'a, T>>,
    validation: Option<Validation<'a, T>>,
}

/// A fit in progress: the network, its optimizer and every buffer of the loop, allocated
/// once; `epochs` advances it.
struct Trainer<'a, 'd, T: Float> {
    net: &'a mut Network<T>,
    data: Data<'d, T>,
    config: &'a FitConfig,
    optimizer: &'a mut Optimizer<T>,
    /// Rows per batch.
    batch: usize,
    /// Small networks train in feature-major buffers (narrow.rs); `caches` then only holds
    /// the gradients.
    narrow: Option<narrow::Workspace<T>>,
    caches: Vec<LayerCache<T>>,
    /// Batches of large layers are split in two halves, each passed forward and backward on
    /// a thread of its own with serial products, their gradients then averaged: one
    /// fork-join per batch instead of one per product, and the elementwise steps in
    /// parallel too. Decided by sizes only (never by the number of threads), so that the
    /// result does not depend on it.
    halves: bool,
    caches_2: Vec<LayerCache<T>>,
    shuffling: bool,
    /// Gathered batches (only when shuffling; otherwise batches are views of x and y).
    gathering_x: bool,
    xb: Array2<T>,
    yb: BatchTarget<T>,
    /// Per-row gradient scales w_i · n_b / Σw of the current batch.
    scale: Array1<T>,
    order: Vec<usize>,
    rng: crate::init::CoreRng,
    /// The weights at the start of the epoch, restored if it diverges.
    snapshot: Vec<(Array2<T>, Array1<T>)>,
    /// The weights of the best validation score (early stopping only); the initial ones to
    /// start, as scikit-learn does.
    best: Vec<(Array2<T>, Array1<T>)>,
    val_ws: Vec<LayerCache<T>>,
    tracker: Tracker,
    lr: f64,
    history: History,
}

impl<'a, 'd, T: Float> Trainer<'a, 'd, T> {
    fn new(
        net: &'a mut Network<T>,
        data: Data<'d, T>,
        config: &'a FitConfig,
        optimizer: &'a mut Optimizer<T>,
    ) -> Result<Self> {
        let n = data.x.nrows();
        let batch = config.batch_size.unwrap_or(n).min(n);
        let narrow = match narrow::eligible(net.layers()) {
            true => Some(narrow::Workspace::new(net.layers(), batch)?),
            false => None,
        };
        let caches = workspace(net.layers(), if narrow.is_some() { 0 } else { batch })?;
        let halves = narrow.is_none() && splits(net.layers(), batch);
        let caches_2 = workspace(net.layers(), if halves { batch - batch / 2 } else { 0 })?;
        let shuffling = config.shuffle && batch < n;
        let gathering_x = shuffling && narrow.is_none();
        let xb = try_zeros::<T>(if gathering_x { batch } else { 0 }, data.x.ncols())?;
        let yb = match data.y {
            Target::Dense(y) => {
                BatchTarget::Dense(try_zeros(if shuffling { batch } else { 0 }, y.ncols())?)
            }
            Target::Labels(_) => {
                let len = if shuffling { batch } else { 0 };
                BatchTarget::Labels(try_filled(len as u128, 0, || format!("{len} labels"))?.into())
            }
        };
        let scale = try_zeros1::<T>(if data.sample_weight.is_some() {
            batch
        } else {
            0
        })?;
        let order = try_collect(0..n, || format!("the order of {n} rows"))?;
        let snapshot = net.get_weights()?;
        let best = match config.stopping.early_stopping {
            true => net.get_weights()?,
            false => Vec::new(),
        };
        let val_ws = match data.validation {
            Some(v) => forward_workspace(net.layers(), v.x.nrows())?,
            None => Vec::new(),
        };
        Ok(Trainer {
            net,
            data,
            config,
            optimizer,
            batch,
            narrow,
            caches,
            halves,
            caches_2,
            shuffling,
            gathering_x,
            xb,
            yb,
            scale,
            order,
            rng: crate::init::rng(config.seed),
            snapshot,
            best,
            val_ws,
            tracker: Tracker::new(),
            lr: config.learning_rate,
            // Grown an epoch at a time: `epochs` may be far more than are run.
            history: History {
                loss: Vec::new(),
                val_loss: Vec::new(),
                val_score: Vec::new(),
                learning_rate: Vec::new(),
                samples_seen: 0,
                best_loss: f64::INFINITY,
                best_val_score: None,
                stopped: Stop::MaxEpochs,
            },
        })
    }

    fn last_loss(&self) -> f64 {
        self.history.loss.last().copied().unwrap_or(f64::NAN)
    }

    /// Runs epochs until `enough()` after one, or training ends; `Ok(true)` if it ended.
    /// `between_batches` is called before each batch but the first of an epoch.
    fn epochs(
        &mut self,
        between_batches: &mut dyn FnMut() -> Result<()>,
        enough: &dyn Fn() -> bool,
    ) -> Result<bool> {
        loop {
            self.epoch(between_batches)?;
            let finished = self.history.stopped != Stop::MaxEpochs
                || self.history.loss.len() >= self.config.epochs;
            if finished || enough() {
                return Ok(finished);
            }
        }
    }

    /// One epoch: its batches, the weights' check, the history, validation and stopping.
    fn epoch(&mut self, between_batches: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        let epoch = self.history.loss.len();
        for ((w, b), l) in self.snapshot.iter_mut().zip(self.net.layers()) {
            w.assign(&l.w);
            b.assign(&l.b);
        }
        if self.shuffling {
            self.order.shuffle(&mut self.rng);
        }
        let n = self.data.x.nrows();
        let mut total = 0.0;
        let order = std::mem::take(&mut self.order);
        let result = order
            .chunks(self.batch)
            .enumerate()
            .try_for_each(|(i, rows)| {
                if i > 0 {
                    between_batches()?;
                }
                total += self.step(epoch, i, rows)?;
                Ok(())
            });
        self.order = order;
        result?;
        if self
            .net
            .layers()
            .iter()
            .any(|l| l.w.iter().chain(&l.b).any(|v| !v.is_finite()))
        {
            restore(self.net, &self.snapshot);
            return Err(Error::NonFinite(format!(
                "the weights became non-finite during epoch {}; the weights from the start of \
                 that epoch were restored: lower the learning_rate",
                epoch + 1
            )));
        }
        let epoch_loss = total / n as f64;
        self.history.loss.push(epoch_loss);
        self.history.learning_rate.push(self.lr);
        self.history.samples_seen += n as u64;
        self.end_epoch(epoch_loss)
    }

    /// Validation, the stopping rule and the schedule after an epoch.
    fn end_epoch(&mut self, epoch_loss: f64) -> Result<()> {
        let (config, loss) = (self.config, self.net.loss_fn());
        let score = match self.data.validation {
            Some(v) => {
                if let Some(k) = forward_pass(self.net.layers(), &mut self.val_ws, v.x) {
                    return Err(overflow_error("validation_data X", k));
                }
                let yhat = self.val_ws[self.val_ws.len() - 1].a.view();
                let output = self.net.layers()[self.net.layers().len() - 1].activation;
                let val_loss = loss.value(yhat, v.y);
                let s = stopping::score(v.metric, loss, output, yhat, v.y)?;
                self.history.val_loss.push(val_loss);
                self.history.val_score.push(s);
                Some(s)
            }
            None => None,
        };
        let improved = self.tracker.observe(&config.stopping, epoch_loss, score);
        if improved && config.stopping.early_stopping {
            for ((w, b), l) in self.best.iter_mut().zip(self.net.layers()) {
                w.assign(&l.w);
                b.assign(&l.b);
            }
        }
        if let Schedule::InvScaling { power_t } = config.schedule {
            let seen = self.history.samples_seen as f64;
            self.lr = config.learning_rate / (seen + 1.0).powf(power_t);
        }
        if self.tracker.exhausted(&config.stopping) {
            if config.schedule != Schedule::Adaptive {
                self.history.stopped = Stop::NoImprovement;
            } else if self.lr <= 1e-6 {
                self.history.stopped = Stop::LearningRate;
            } else {
                self.lr /= 5.0;
                self.tracker.reset_count();
            }
        }
        Ok(())
    }

    /// One batch `rows` (batch `i` of epoch `epoch`, both 0-based): forward, loss,
    /// backward, update. Returns the batch's loss times its row count.
    fn step(&mut self, epoch: usize, i: usize, rows: &[usize]) -> Result<f64> {
        let (x, y, sample_weight) = (self.data.x, self.data.y, self.data.sample_weight);
        let (config, loss) = (self.config, self.net.loss_fn());
        let n = x.nrows();
        let m = rows.len();
        let r = rows[0]..rows[0] + m; // the rows, when not shuffling
        let yv = match self.shuffling {
            true => gather_target(y, rows, &mut self.yb),
            false => slice_target(&y, r.clone()),
        };
        let xv = match (self.gathering_x, &self.narrow) {
            (_, Some(_)) => x.slice(s![..0, ..]), // loaded into the workspace instead
            (true, None) => gather_rows(x, rows, &mut self.xb),
            (false, None) => x.slice(s![r, ..]),
        };
        // Σw of the batch, and the rows' gradient scales (none for equal weights).
        let scale = self.scale.as_slice_mut().expect("contiguous");
        let Some((weight_sum, row_scale)) =
            batch_weights(sample_weight, rows.iter().copied(), scale)
        else {
            return Ok(0.0); // nothing to learn from this batch
        };
        let layers = self.net.layers_mut();
        let (caches, caches_2) = (&mut self.caches, &mut self.caches_2);
        let mut batch_loss = match &mut self.narrow {
            Some(ws) => {
                // One batch in a fixed order (full batch, no shuffling): loaded once.
                if epoch == 0 || self.shuffling || m < n {
                    ws.load(x, rows);
                }
                ws.forward(layers, m);
                loss.value_weighted(ws.output(m), yv, row_scale)
            }
            None if self.halves && m >= 2 => {
                halves_pass(layers, (caches, caches_2), loss, xv, yv, row_scale)
            }
            None => {
                forward_pass(layers, caches, xv);
                loss.value_weighted(caches[caches.len() - 1].a(m), yv, row_scale)
            }
        };
        if config.alpha > 0.0 {
            let squares: f64 = layers
                .iter()
                .flat_map(|l| l.w.iter())
                .map(|w| (*w * *w).f64())
                .sum();
            batch_loss += 0.5 * config.alpha * squares / weight_sum;
        }
        if !batch_loss.is_finite() {
            let overflowed = match &self.narrow {
                Some(ws) => ws.overflowed(),
                None => first_overflow(caches).or_else(|| first_overflow(caches_2)),
            };
            restore(self.net, &self.snapshot);
            return Err(diverged(batch_loss, overflowed, epoch, i));
        }
        match &mut self.narrow {
            Some(ws) => ws.backward(layers, caches, loss, yv, m, row_scale),
            None if self.halves && m >= 2 => {} // done with the forward passes
            None => backward_pass(layers, caches, loss, xv, yv, false, row_scale),
        }
        if config.alpha > 0.0 {
            let a = T::c(config.alpha / weight_sum);
            for (l, c) in layers.iter().zip(caches.iter_mut()) {
                c.dw.scaled_add(a, &l.w);
            }
        }
        self.optimizer.step(layers, caches, self.lr);
        Ok(batch_loss * m as f64)
    }

    /// The history, after restoring the best weights (early stopping).
    fn finish(self) -> History {
        let mut history = self.history;
        history.best_loss = self.tracker.best_loss;
        if self.data.validation.is_some() {
            history.best_val_score = Some(self.tracker.best_score);
        }
        if self.config.stopping.early_stopping {
            restore(self.net, &self.best);
        }
        history
    }
}

/// Forward and backward passes of a batch in two halves on two threads (see
/// `Trainer::halves`); `caches` ends with the batch's mean gradient. Returns its loss.
fn halves_pass<T: Float>(
    layers: &[Dense<T>],
    (caches, caches_2): (&mut [LayerCache<T>], &mut [LayerCache<T>]),
    loss: crate::Loss,
    xv: ArrayView2<T>,
    yv: Target<T>,
    row_scale: Option<ArrayView1<T>>,
) -> f64 {
    let m = xv.nrows();
    let h = m / 2;
    let half = |caches: &mut [LayerCache<T>], r: std::ops::Range<usize>| {
        let (x, y) = (xv.slice(s![r.clone(), ..]), slice_target(&yv, r.clone()));
        let row_scale = row_scale.map(|s| s.slice_move(s![r]));
        let mut pass = || {
            forward_pass(layers, caches, x);
            let n = x.nrows();
            let l = loss.value_weighted(caches[caches.len() - 1].a(n), y, row_scale);
            backward_pass(layers, caches, loss, x, y, false, row_scale);
            l
        };
        // Two threads are taken by the halves; more thread the products.
        match crate::linalg::num_threads() > 2 {
            true => pass(),
            false => crate::linalg::serial(pass),
        }
    };
    let (l_1, l_2) = match crate::linalg::num_threads() > 1 {
        true => crate::pool::join(|| half(caches, 0..h), || half(caches_2, h..m)),
        false => (half(caches, 0..h), half(caches_2, h..m)),
    };
    // The batch's mean gradient and loss: the halves' weighted by their rows.
    let (f_1, f_2) = (h as f64 / m as f64, (m - h) as f64 / m as f64);
    let (t_1, t_2) = (T::c(f_1), T::c(f_2));
    for (c_1, c_2) in caches.iter_mut().zip(caches_2.iter()) {
        weigh(c_1.dw.view_mut(), c_2.dw.view(), t_1, t_2);
        let (db_1, db_2) = (c_1.db.view_mut(), c_2.db.view());
        weigh(
            db_1.insert_axis(Axis(0)),
            db_2.insert_axis(Axis(0)),
            t_1,
            t_2,
        );
    }
    l_1 * f_1 + l_2 * f_2
}

/// `a = a · t_1 + b · t_2`, the rows in two halves on two threads if there are.
fn weigh<T: Float>(mut a: ArrayViewMut2<T>, b: ArrayView2<T>, t_1: T, t_2: T) {
    let rows = a.nrows();
    if crate::linalg::num_threads() > 1 && rows >= 2 && a.len() >= 1 << 14 {
        let (a_1, a_2) = a.split_at(Axis(0), rows / 2);
        let (b_1, b_2) = b.split_at(Axis(0), rows / 2);
        crate::pool::join(|| weigh(a_1, b_1, t_1, t_2), || weigh(a_2, b_2, t_1, t_2));
        return;
    }
    Zip::from(&mut a)
        .and(&b)
        .for_each(|a, &b| *a = *a * t_1 + b * t_2);
}

/// Whether `fit` splits batches of `batch` rows in two halves (its `halves`): some layer's
/// product of half a batch is large enough for threads, and none is so large that its
/// own threads would do as well. Measured (fit's epoch, 2 threads, float64 / float32):
/// 64-256-256-10 batch 128 (half-batch products up to 2²² multiply-adds) 83–88 / 49 ms
/// whole, 68–70 / 38–39 ms in halves; 784-1024-1024-10 batch 256 (2²⁷) 946–963 / 527–547
/// ms whole, 986–1032 / 551–575 ms in halves.
fn splits<T: Float>(layers: &[Dense<T>], batch: usize) -> bool {
    const SPLIT_MACS: usize = 1 << 24;
    let half = batch / 2;
    let macs = |l: &Dense<T>| half.saturating_mul(l.n_in()).saturating_mul(l.n_out());
    half >= 8
        && layers
            .iter()
            .any(|l| crate::linalg::large(half, l.n_in(), l.n_out()))
        && layers.iter().all(|l| macs(l) < SPLIT_MACS)
}

/// Whether fitting `net` on `n` samples runs matrix products on several threads.
pub fn uses_threads<T: Float>(net: &Network<T>, n: usize, config: &FitConfig) -> bool {
    let batch = config.batch_size.unwrap_or(n).min(n);
    !narrow::eligible(net.layers())
        && net
            .layers()
            .iter()
            .any(|l| crate::linalg::threaded(batch, l.n_in(), l.n_out()))
}

/// Owned buffers for a gathered batch of targets.
enum BatchTarget<T> {
    Dense(Array2<T>),
    Labels(Array1<usize>),
}

/// Copies rows `rows` of `x` into the first rows of `xb`.
fn gather_rows<'b, T: Float>(
    x: ArrayView2<T>,
    rows: &[usize],
    xb: &'b mut Array2<T>,
) -> ArrayView2<'b, T> {
    let m = rows.len();
    Zip::from(xb.slice_mut(s![..m, ..]).rows_mut())
        .and(rows)
        .for_each(|mut dst, &r| dst.assign(&x.row(r)));
    xb.slice(s![..m, ..])
}

/// Copies rows `rows` of `y` into the first rows of the batch buffer.
fn gather_target<'b, T: Float>(
    y: Target<T>,
    rows: &[usize],
    yb: &'b mut BatchTarget<T>,
) -> Target<'b, T> {
    let m = rows.len();
    match (y, yb) {
        (Target::Dense(y), BatchTarget::Dense(buf)) => {
            Zip::from(buf.slice_mut(s![..m, ..]).rows_mut())
                .and(rows)
                // Element by element: a row of targets is a few values, short for memcpy.
                .for_each(|dst, &r| dst.into_iter().zip(y.row(r)).for_each(|(d, &v)| *d = v));
            Target::Dense(buf.slice(s![..m, ..]))
        }
        (Target::Labels(labels), BatchTarget::Labels(buf)) => {
            Zip::from(buf.slice_mut(s![..m]))
                .and(rows)
                .for_each(|dst, &r| *dst = labels[r]);
            Target::Labels(buf.slice(s![..m]))
        }
        _ => unreachable!("batch buffers are made for the kind of target"),
    }
}

fn slice_target<'s, T: Float>(y: &'s Target<'_, T>, r: std::ops::Range<usize>) -> Target<'s, T> {
    match y {
        Target::Dense(y) => Target::Dense(y.slice_axis(Axis(0), r.into())),
        Target::Labels(l) => Target::Labels(l.slice_axis(Axis(0), r.into())),
    }
}

/// The error of a batch whose loss is not finite: the layer whose `z` overflowed, if one
/// did, and what to change — before the first update, the data or the initial weights are
/// to blame, not the learning rate.
fn diverged(loss: f64, overflowed: Option<usize>, epoch: usize, batch: usize) -> Error {
    let what = match overflowed {
        Some(k) => {
            format!("the pre-activation z of layer {k} (layers[{k}]) overflowed (inf or NaN)")
        }
        None => format!("the training loss became {loss}"),
    };
    let advice = match (epoch, batch) {
        (0, 0) => "this was before any update: scale X or y (or alpha) down",
        _ => "lower the learning_rate (or alpha), or scale X or y down",
    };
    Error::NonFinite(format!(
        "{what} at epoch {} (batch {}); the weights from the start of that epoch were \
         restored: {advice}",
        epoch + 1,
        batch + 1
    ))
}

fn restore<T: Float>(net: &mut Network<T>, snapshot: &[(Array2<T>, Array1<T>)]) {
    for (l, (w, b)) in net.layers_mut().iter_mut().zip(snapshot) {
        l.w.assign(w);
        l.b.assign(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, Loss, NetworkConfig};

    /// `fit` without sample weights, validation or monitor.
    fn train<'d, T: Float>(
        net: &mut Network<T>,
        x: ArrayView2<'d, T>,
        y: Target<'d, T>,
        cfg: &FitConfig,
    ) -> Result<History> {
        fit(net, x, y, None, None, cfg, &mut NoMonitor)
    }
    use ndarray::array;

    fn xor() -> (Network<f64>, Array2<f64>, Array2<f64>) {
        let config = NetworkConfig::new(
            vec![2, 8, 1],
            vec![Activation::Tanh, Activation::Sigmoid],
            Loss::BinaryCrossEntropy,
        );
        let x = array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
        let y = array![[0.0], [1.0], [1.0], [0.0]];
        (Network::new(&config, 1).unwrap(), x, y)
    }

    #[test]
    fn full_batch_sgd_is_the_step_api_repeated() {
        let (mut a, x, y) = xor();
        let mut b = a.clone();
        let config = FitConfig {
            epochs: 5,
            learning_rate: 0.5,
            ..FitConfig::default()
        };
        let history = train(&mut a, x.view(), Target::Dense(y.view()), &config).unwrap();
        assert_eq!(history.loss.len(), 5);
        for &epoch_loss in &history.loss {
            let loss = b.loss(x.view(), Target::Dense(y.view())).unwrap();
            assert_eq!(epoch_loss, loss);
            b.forward(x.view()).unwrap();
            b.backward(Target::Dense(y.view())).unwrap();
            b.update(0.5).unwrap();
        }
        assert_eq!(a.get_weights(), b.get_weights());
    }

    /// Batches split in halves (large layers) give the step API's losses and weights, to
    /// rounding: the halves' gradients are averaged rather than summed over the batch at
    /// once. With sample weights and an odd batch too.
    #[test]
    fn halved_batches_are_the_step_api_repeated() {
        let config = NetworkConfig::new(
            vec![300, 256, 3],
            vec![Activation::Relu, Activation::Softmax],
            Loss::CrossEntropy,
        );
        let n = 63;
        let x = Array2::from_shape_fn((n, 300), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
        let y = Array2::from_shape_fn((n, 3), |(i, j)| (i % 3 == j) as u8 as f64);
        let w = Array1::from_shape_fn(n, |i| 0.5 + (i % 4) as f64);
        let mut a = Network::<f64>::new(&config, 4).unwrap();
        assert!(splits(a.layers(), n) && !narrow::eligible(a.layers()));
        let mut b = a.clone();
        let cfg = FitConfig {
            epochs: 3,
            learning_rate: 0.1,
            ..FitConfig::default()
        };
        let target = Target::Dense(y.view());
        let history = fit(
            &mut a,
            x.view(),
            target,
            Some(w.view()),
            None,
            &cfg,
            &mut NoMonitor,
        );
        let close = |p: f64, q: f64| (p - q).abs() <= 1e-12 * (1.0 + q.abs());
        for &epoch_loss in &history.unwrap().loss {
            let got = b
                .loss_and_gradient(x.view(), target, Some(w.view()), 0.0)
                .unwrap();
            assert!(
                close(epoch_loss, got.data_loss),
                "{epoch_loss} {}",
                got.data_loss
            );
            for (l, (dw, db)) in b.layers_mut().iter_mut().zip(&got.gradients) {
                l.w.scaled_add(-0.1, dw);
                l.b.scaled_add(-0.1, db);
            }
        }
        for ((wa, ba), (wb, bb)) in a
            .get_weights()
            .unwrap()
            .iter()
            .zip(&b.get_weights().unwrap())
        {
            assert!(wa
                .iter()
                .chain(ba)
                .zip(wb.iter().chain(bb))
                .all(|(&p, &q)| close(p, q)));
        }
    }

    #[test]
    fn adam_learns_xor_and_same_seed_is_bit_identical() {
        let run = |seed| {
            let (mut net, x, y) = xor();
            let config = FitConfig {
                epochs: 300,
                learning_rate: 0.05,
                batch_size: Some(2),
                seed,
                optimizer: OptimizerConfig::adam(),
                ..FitConfig::default()
            };
            let h = train(&mut net, x.view(), Target::Dense(y.view()), &config).unwrap();
            (h, net.get_weights())
        };
        let (h1, w1) = run(4);
        let (h2, w2) = run(4);
        let (_, w3) = run(5);
        assert_eq!((h1.clone(), w1.clone()), (h2, w2));
        assert_ne!(w1, w3);
        assert!(h1.loss[299] < 0.05, "{}", h1.loss[299]);
    }

    #[test]
    fn divergence_stops_with_the_epoch_start_weights() {
        let config = NetworkConfig::new(
            vec![1, 4, 1],
            vec![Activation::Identity, Activation::Identity],
            Loss::MeanSquaredError,
        );
        let mut net = Network::<f64>::new(&config, 0).unwrap();
        let x = array![[1e3], [-2e3], [3e3]];
        let y = array![[1.0], [2.0], [3.0]];
        let cfg = FitConfig {
            epochs: 1000,
            learning_rate: 10.0,
            batch_size: Some(1),
            ..FitConfig::default()
        };
        let err = train(&mut net, x.view(), Target::Dense(y.view()), &cfg).unwrap_err();
        assert!(matches!(err, Error::NonFinite(_)), "{err}");
        assert!(err.to_string().contains("restored"), "{err}");
        let finite = |l: &crate::Dense<f64>| l.w.iter().chain(&l.b).all(|v| v.is_finite());
        assert!(net.layers().iter().all(finite));
    }

    #[test]
    fn a_monitor_can_stop_training() {
        struct StopAt(usize);
        impl Monitor<f64> for StopAt {
            fn epoch_end(
                &mut self,
                epoch: usize,
                _: f64,
                _: &Network<f64>,
            ) -> Result<EpochControl> {
                Ok(if epoch == self.0 {
                    EpochControl::Stop
                } else {
                    EpochControl::Continue
                })
            }
        }
        let (mut net, x, y) = xor();
        let labels_net = fit(
            &mut net,
            x.view(),
            Target::Dense(y.view()),
            None,
            None,
            &FitConfig::default(),
            &mut StopAt(3),
        );
        let h = labels_net.unwrap();
        assert_eq!((h.loss.len(), h.stopped), (3, Stop::Callback));
    }

    #[test]
    fn shuffled_minibatches_of_labels() {
        let config = NetworkConfig::new(
            vec![2, 8, 2],
            vec![Activation::Relu, Activation::Softmax],
            Loss::CrossEntropy,
        );
        let mut net = Network::<f32>::new(&config, 0).unwrap();
        let x = array![
            [0.0f32, 0.0],
            [0.0, 1.0],
            [1.0, 0.0],
            [1.0, 1.0],
            [0.9, 0.1]
        ];
        let labels = array![0usize, 1, 1, 0, 1];
        let cfg = FitConfig {
            epochs: 400,
            learning_rate: 0.05,
            batch_size: Some(2),
            optimizer: OptimizerConfig::adam(),
            ..FitConfig::default()
        };
        let h = train(&mut net, x.view(), Target::Labels(labels.view()), &cfg).unwrap();
        assert!(h.loss[399] < 0.1 * h.loss[0], "{h:?}");
        let bad = array![0usize, 1, 2, 0, 1];
        let err = train(&mut net, x.view(), Target::Labels(bad.view()), &cfg);
        assert!(err.unwrap_err().to_string().contains("out of range"));
    }

    fn regression() -> (Network<f64>, Array2<f64>, Array2<f64>) {
        let config = NetworkConfig::new(
            vec![2, 6, 1],
            vec![Activation::Tanh, Activation::Identity],
            Loss::MeanSquaredError,
        );
        let x = Array2::from_shape_fn((40, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 5.0 - 1.0);
        let y = Array2::from_shape_fn((40, 1), |(i, _)| (x[[i, 0]] * 2.0 - x[[i, 1]]).sin());
        (Network::new(&config, 2).unwrap(), x, y)
    }

    #[test]
    fn invscaling_follows_the_samples_seen() {
        let (mut net, x, y) = regression();
        let cfg = FitConfig {
            epochs: 4,
            learning_rate: 0.1,
            schedule: Schedule::InvScaling { power_t: 0.5 },
            ..FitConfig::default()
        };
        let h = train(&mut net, x.view(), Target::Dense(y.view()), &cfg).unwrap();
        let want: Vec<f64> = (0..4)
            .map(|e| {
                if e == 0 {
                    0.1
                } else {
                    0.1 / ((40 * e) as f64 + 1.0).sqrt()
                }
            })
            .collect();
        assert_eq!(h.learning_rate, want);
        assert_eq!(h.samples_seen, 160);
    }

    #[test]
    fn no_improvement_stops_and_adaptive_divides_by_five() {
        let (net, x, y) = regression();
        // A tolerance no epoch can beat: every epoch after the first counts as no change.
        let stopping = Stopping {
            n_iter_no_change: Some(2),
            tol: 1e9,
            early_stopping: false,
        };
        let cfg = FitConfig {
            epochs: 50,
            learning_rate: 0.01,
            stopping,
            ..FitConfig::default()
        };
        let h = train(&mut net.clone(), x.view(), Target::Dense(y.view()), &cfg).unwrap();
        assert_eq!((h.loss.len(), h.stopped), (4, Stop::NoImprovement));
        let cfg = FitConfig {
            schedule: Schedule::Adaptive,
            epochs: 100,
            ..cfg
        };
        let h = train(&mut net.clone(), x.view(), Target::Dense(y.view()), &cfg).unwrap();
        assert_eq!(h.stopped, Stop::LearningRate);
        assert_eq!(
            &h.learning_rate[..6],
            &[0.01, 0.01, 0.01, 0.01, 0.002, 0.002]
        );
        assert!(*h.learning_rate.last().unwrap() <= 1e-6);
    }

    #[test]
    fn early_stopping_restores_the_best_validation_weights() {
        let (mut net, x, y) = regression();
        let (xv, yv) = (x.slice(s![30.., ..]), y.slice(s![30.., ..]));
        let validation = Validation {
            x: xv,
            y: Target::Dense(yv),
            metric: Metric::R2,
        };
        let stopping = Stopping {
            n_iter_no_change: Some(3),
            tol: 0.0,
            early_stopping: true,
        };
        // A step size large enough to make the validation score wander.
        let cfg = FitConfig {
            epochs: 60,
            learning_rate: 0.5,
            batch_size: Some(4),
            stopping,
            ..FitConfig::default()
        };
        let h = fit(
            &mut net,
            x.slice(s![..30, ..]),
            Target::Dense(y.slice(s![..30, ..])),
            None,
            Some(validation),
            &cfg,
            &mut NoMonitor,
        )
        .unwrap();
        let best = h.best_val_score.unwrap();
        assert_eq!(
            best,
            h.val_score
                .iter()
                .cloned()
                .fold(f64::NEG_INFINITY, f64::max)
        );
        let output = Activation::Identity;
        let now = stopping::score(
            Metric::R2,
            Loss::MeanSquaredError,
            output,
            net.predict(xv).unwrap().view(),
            Target::Dense(yv),
        )
        .unwrap();
        assert_eq!(now, best);
        assert!(matches!(
            train(&mut net, x.view(), Target::Dense(y.view()), &cfg),
            Err(Error::Value {
                arg: "early_stopping",
                ..
            })
        ));
    }
}
