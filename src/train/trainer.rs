//! `Trainer`: one fit in progress (its buffers, allocated once), its epochs and batches.

use super::batches::{gather_rows, gather_target, slice_target, BatchTarget};
use super::engine::{Batch, Engine};
use super::schedule::{self, Clock};
use super::stopping::{self, Metric, Progress, Schedule, Stop};
use super::{shapes, Divergence, EpochReport, FitBuffers, FitConfig, History, Mt19937, Validation};
use crate::nn::dropout::MaskKey;
use crate::nn::layer::{copy_array, try_clone, try_collect, try_filled, try_zeros, try_zeros1};
use crate::nn::loss::batch_weights;
use crate::nn::network::{forward_pass, forward_workspace, overflow_error};
use crate::{Error, Float, LayerCache, Network, Optimizer, Result, Target};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2};
use rand::seq::SliceRandom;

/// The data of a fit.
#[derive(Clone, Copy)]
pub(super) struct Data<'a, T> {
    pub x: ArrayView2<'a, T>,
    pub y: Target<'a, T>,
    pub sample_weight: Option<ArrayView1<'a, T>>,
    pub validation: Option<Validation<'a, T>>,
}

/// A fit in progress: the network, its optimizer and every buffer of the loop, allocated
/// once; `epochs` advances it.
pub(super) struct Trainer<'a, 'd, T: Float> {
    pub net: &'a mut Network<T>,
    data: Data<'d, T>,
    config: &'a FitConfig,
    optimizer: &'a mut Optimizer<T>,
    /// Rows per batch.
    batch: usize,
    engine: Engine<T>,
    /// The row-major passes' buffers, each layer's gradient among them (none for the
    /// feature-major engine, which keeps its own): see `Engine::new`, `Engine::gradients`.
    caches: Vec<LayerCache<T>>,
    /// Dropout's rate per hidden layer; empty when every rate is 0.
    dropout: Vec<f64>,
    shuffling: bool,
    /// Gathered batches (only when shuffling; otherwise batches are views of x and y).
    gathering_x: bool,
    xb: Array2<T>,
    yb: BatchTarget<T>,
    /// Per-row gradient scales w_i · n_b / Σw of the current batch.
    scale: Array1<T>,
    order: Vec<usize>,
    stream: Stream,
    /// The epoch (1-based) that diverged, with `Divergence::Record`: it and every later
    /// epoch are recorded as NaN (see `diverged_epoch`).
    diverged: Option<usize>,
    /// The weights at the start of the epoch, restored if it diverges (when
    /// `start_saved`); allocated when first needed (see `save_start`).
    snapshot: Vec<(Array2<T>, Array1<T>)>,
    /// Whether `snapshot` holds the weights of the start of the current epoch; if not, the
    /// monitor keeps them (the first epoch of a run, see `begin_run`).
    start_saved: bool,
    /// Set by `begin_run` when the monitor keeps the weights of the start of the coming run;
    /// cleared when its first epoch starts.
    run_start_kept: bool,
    /// An epoch whose start the monitor keeps diverged: its weights are to be put back by
    /// the monitor (`take_restore`).
    restore_pending: bool,
    /// The weights of the best validation score (early stopping only); the initial ones to
    /// start, as scikit-learn does.
    best: Vec<(Array2<T>, Array1<T>)>,
    val_ws: Vec<LayerCache<T>>,
    /// The rule's state, the samples seen and the step size.
    progress: Progress,
    /// Batches per epoch, and the epochs of a schedule without `t_max` (`Clock`).
    batches: u64,
    horizon: u64,
    /// The step size of this epoch of a `Schedule::Callable` fit (`set_rate`).
    callable_rate: f64,
    pub history: History,
    /// The last epoch's.
    pub report: Option<EpochReport>,
    /// An epoch whose validation score the caller computes (`Metric::External`): its mean
    /// loss and penalty, waiting for `judge_pending`.
    pending: Option<(f64, f64)>,
}

impl<'a, 'd, T: Float> Trainer<'a, 'd, T> {
    pub(super) fn new(
        net: &'a mut Network<T>,
        data: Data<'d, T>,
        config: &'a FitConfig,
        optimizer: &'a mut Optimizer<T>,
        reuse: Option<FitBuffers<T>>,
    ) -> Result<Self> {
        let n = data.x.nrows();
        let batch = config.batch_size.unwrap_or(n).min(n);
        // An earlier fit's buffers (`fit_reusing` checked that they fit), or new ones.
        let (engine, caches, snapshot) = match reuse {
            Some(b) => (b.engine, b.caches, b.snapshot),
            None => {
                let (engine, caches) = Engine::new(net.layers(), net.dropout(), batch)?;
                (engine, caches, Vec::new())
            }
        };
        let dropout = match net.dropout().iter().any(|&p| p > 0.0) {
            true => try_collect(net.dropout().iter().copied(), || "dropout rates".into())?,
            false => Vec::new(),
        };
        // NumPy's stream is drawn each epoch, as scikit-learn does, even for a full batch.
        let shuffling = config.shuffle && (batch < n || config.numpy_stream.is_some());
        let gathering_x = shuffling && !engine.copies_x();
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
        let best = match (
            config.stopping.early_stopping,
            data.validation.and_then(|v| v.best),
        ) {
            (true, Some(best)) => best
                .iter()
                .map(|(w, b)| Ok((try_clone(w)?, try_clone(b)?)))
                .collect::<Result<_>>()?,
            (true, None) => net.get_weights()?,
            (false, _) => Vec::new(),
        };
        let progress = config
            .resume
            .unwrap_or(Progress::start(config.learning_rate));
        let val_ws = match data.validation {
            Some(v) => forward_workspace(net.layers(), v.x.nrows())?,
            None => Vec::new(),
        };
        let end = progress.epochs.saturating_add(config.epochs as u64);
        let horizon = end.saturating_sub(config.warmup as u64).max(1);
        Ok(Trainer {
            net,
            data,
            config,
            optimizer,
            batch,
            engine,
            caches,
            dropout,
            shuffling,
            gathering_x,
            xb,
            yb,
            scale,
            order,
            stream: match config.numpy_stream {
                Some(state) => Stream::NumPy(Box::new(state)),
                None => Stream::Core(crate::nn::init::rng(config.seed)),
            },
            diverged: None,
            snapshot,
            start_saved: false,
            run_start_kept: false,
            restore_pending: false,
            best,
            val_ws,
            progress,
            batches: n.div_ceil(batch) as u64,
            horizon,
            callable_rate: 0.0,
            // Grown an epoch at a time: `epochs` may be far more than are run.
            history: History {
                loss: Vec::new(),
                val_loss: Vec::new(),
                val_score: Vec::new(),
                learning_rate: Vec::new(),
                best_val_score: None,
                stopped: Stop::MaxEpochs,
                diverged: None,
                numpy_stream: None,
                progress,
            },
            report: None,
            pending: None,
        })
    }

    /// Runs epochs until `enough()` after one, or training ends; `Ok(true)` if it ended.
    /// `between_batches` is called before each batch but the first of an epoch.
    pub(super) fn epochs(
        &mut self,
        between_batches: &mut dyn FnMut() -> Result<()>,
        enough: &dyn Fn() -> bool,
    ) -> Result<bool> {
        loop {
            self.epoch(between_batches)?;
            if self.pending.is_some() {
                return Ok(false);
            }
            let finished = self.finished();
            if finished || enough() {
                return Ok(finished);
            }
        }
    }

    /// Whether training has ended (stopped, or every epoch run).
    pub(super) fn finished(&self) -> bool {
        self.history.stopped != Stop::MaxEpochs || self.history.loss.len() >= self.config.epochs
    }

    /// The validation predictions of an epoch waiting for its score (`Metric::External`),
    /// or `None`. `judge_pending` takes the score.
    pub(super) fn pending_output(&self) -> Option<ArrayView2<'_, T>> {
        self.pending?;
        Some(self.val_ws[self.val_ws.len() - 1].a.view())
    }

    /// Ends the waiting epoch with the validation score the caller computed; returns
    /// whether training has ended.
    pub(super) fn judge_pending(&mut self, score: f64) -> bool {
        if let Some((epoch_loss, penalty)) = self.pending.take() {
            self.history.val_score.push(score);
            self.judge(epoch_loss, penalty, Some(score));
        }
        self.finished()
    }

    /// Starts a run of epochs; `kept`: the monitor keeps the weights the network has now
    /// and puts them back if the run's first epoch diverges (`Monitor::keeps_run_start`),
    /// so that epoch needs no copy of them.
    pub(super) fn begin_run(&mut self, kept: bool) {
        self.run_start_kept = kept;
    }

    /// Whether an epoch whose start the monitor keeps diverged since the last call: the
    /// monitor is to put those weights back (`Monitor::restore_run_start`).
    pub(super) fn take_restore(&mut self) -> bool {
        std::mem::take(&mut self.restore_pending)
    }

    /// Keeps the weights of the start of this epoch in `snapshot` (allocated the first
    /// time), unless the monitor keeps them: the first epoch of a run (`begin_run`). A fit
    /// whose runs are one epoch each, such as one of a large network or of one epoch,
    /// never allocates the copy.
    fn save_start(&mut self) -> Result<()> {
        self.start_saved = !std::mem::take(&mut self.run_start_kept);
        if !self.start_saved {
            return Ok(());
        }
        match self.snapshot.len() == self.net.layers().len() {
            true => take_snapshot(&mut self.snapshot, self.net),
            false => self.snapshot = self.net.get_weights()?,
        }
        Ok(())
    }

    /// Puts the weights of the start of the epoch back, or, if the monitor keeps them,
    /// asks it to (`take_restore`).
    fn restore_start(&mut self) {
        match self.start_saved {
            true => restore(self.net, &self.snapshot),
            false => self.restore_pending = true,
        }
    }

    /// Whether the step sizes come from `set_rate`, epoch by epoch.
    pub(super) fn callable(&self) -> bool {
        self.config.schedule == Schedule::Callable
    }

    /// The schedule's clock: epochs run, those of the fit resumed included.
    pub(super) fn clock(&self) -> u64 {
        self.progress.epochs
    }

    /// The step size of the coming epoch of a `Schedule::Callable` fit.
    pub(super) fn set_rate(&mut self, rate: f64) {
        self.callable_rate = rate;
    }

    /// The step size of batch `batch` of the coming epoch, in the schedule's units.
    fn rate(&self, batch: usize) -> f64 {
        let current = match self.config.schedule {
            Schedule::Callable => self.callable_rate,
            _ => self.progress.learning_rate,
        };
        let clock = Clock {
            epoch: self.progress.epochs,
            batch: batch as u64,
            batches: self.batches,
            horizon: self.horizon,
        };
        let (config, warmup) = (self.config, self.config.warmup as u64);
        schedule::rate(
            config.schedule,
            warmup,
            config.learning_rate,
            current,
            clock,
        )
    }

    /// One epoch: its batches, the weights' check, the history, validation and stopping.
    fn epoch(&mut self, between_batches: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        let epoch = self.history.loss.len();
        let first_rate = self.rate(0);
        if self.shuffling {
            match &mut self.stream {
                Stream::Core(rng) => self.order.shuffle(rng),
                Stream::NumPy(mt) => mt.shuffle(&mut self.order),
            }
        }
        if self.diverged.is_some() {
            return self.diverged_epoch(first_rate);
        }
        self.save_start()?;
        let n = self.data.x.nrows();
        let (mut total, mut penalty) = (0.0, 0.0);
        let order = std::mem::take(&mut self.order);
        let result = order
            .chunks(self.batch)
            .enumerate()
            .try_for_each(|(i, rows)| {
                if i > 0 {
                    between_batches()?;
                }
                let (batch_loss, batch_penalty) = self.step(epoch, i, rows)?;
                total += batch_loss;
                penalty += batch_penalty;
                Ok(())
            });
        self.order = order;
        match result.and_then(|()| self.check_weights(epoch)) {
            // The weights of the start of the epoch are back (`step`, `check_weights`).
            Err(Error::NonFinite(_)) if self.config.divergence == Divergence::Record => {
                self.diverged = Some(epoch + 1);
                return self.diverged_epoch(first_rate);
            }
            result => result?,
        }
        let epoch_loss = total / n as f64;
        self.history.loss.push(epoch_loss);
        self.history.learning_rate.push(first_rate);
        self.progress.samples_seen += n as u64;
        self.progress.epochs += 1;
        self.end_epoch(epoch_loss, penalty / n as f64)
    }

    /// Restores the weights of the start of the epoch and fails if any became non-finite.
    fn check_weights(&mut self, epoch: usize) -> Result<()> {
        let layers = self.net.layers();
        let finite = |a: &[T]| crate::kernels::elementwise::all_finite(a);
        let contiguous = "a layer's parameters are contiguous";
        if !layers.iter().all(|l| {
            finite(l.w.as_slice().expect(contiguous)) && finite(l.b.as_slice().expect(contiguous))
        }) {
            self.restore_start();
            return Err(Error::NonFinite(format!(
                "the weights became non-finite during epoch {}; the weights from the start of \
                 that epoch were restored: lower the learning_rate",
                epoch + 1
            )));
        }
        Ok(())
    }

    /// An epoch at or after the one that diverged (`Divergence::Record`): a NaN loss and
    /// score, judged by the rule as scikit-learn judges them; nothing is computed.
    fn diverged_epoch(&mut self, rate: f64) -> Result<()> {
        self.history.loss.push(f64::NAN);
        self.history.learning_rate.push(rate);
        self.progress.samples_seen += self.data.x.nrows() as u64;
        self.progress.epochs += 1;
        let score = self.data.validation.map(|_| {
            self.history.val_loss.push(f64::NAN);
            self.history.val_score.push(f64::NAN);
            f64::NAN
        });
        self.judge(f64::NAN, f64::NAN, score);
        Ok(())
    }

    /// Validation, the stopping rule and the schedule after an epoch of mean loss
    /// `epoch_loss`, `penalty` of it the L2 penalty's. With `Metric::External`, the epoch
    /// waits (`pending`) for the caller's score before it is judged.
    fn end_epoch(&mut self, epoch_loss: f64, penalty: f64) -> Result<()> {
        let loss = self.net.loss_fn();
        let score = match self.data.validation {
            Some(v) => {
                if let Some(k) = forward_pass(self.net.layers(), &mut self.val_ws, v.x) {
                    if self.config.divergence == Divergence::Raise {
                        return Err(overflow_error("validation_data X", k));
                    }
                    // Predictions that overflow score NaN, as scikit-learn's would.
                    self.history.val_loss.push(f64::NAN);
                    self.history.val_score.push(f64::NAN);
                    self.judge(epoch_loss, penalty, Some(f64::NAN));
                    return Ok(());
                }
                let yhat = self.val_ws[self.val_ws.len() - 1].a.view();
                let output = self.net.layers()[self.net.layers().len() - 1].activation;
                let val_loss = match v.sample_weight {
                    None => loss.value(yhat, v.y),
                    Some(w) => -stopping::score(Metric::Loss, loss, output, yhat, v.y, Some(w))?,
                };
                self.history.val_loss.push(val_loss);
                if v.metric == Metric::External {
                    self.pending = Some((epoch_loss, penalty));
                    return Ok(());
                }
                let s = stopping::score(v.metric, loss, output, yhat, v.y, v.sample_weight)?;
                self.history.val_score.push(s);
                Some(s)
            }
            None => None,
        };
        self.judge(epoch_loss, penalty, score);
        Ok(())
    }

    /// The stopping rule and the schedule after an epoch (see `end_epoch`), and its report.
    fn judge(&mut self, epoch_loss: f64, penalty: f64, score: Option<f64>) {
        let config = self.config;
        let judged_loss = config.scales.judge(epoch_loss, penalty);
        let progress = &mut self.progress;
        let improved = progress.observe(&config.stopping, judged_loss, score);
        if improved && config.stopping.early_stopping {
            for ((w, b), l) in self.best.iter_mut().zip(self.net.layers()) {
                w.assign(&l.w);
                b.assign(&l.b);
            }
        }
        if let Schedule::InvScaling { power_t } = config.schedule {
            let seen = progress.samples_seen as f64;
            progress.learning_rate = config.learning_rate / (seen + 1.0).powf(power_t);
        }
        let (mut stop, mut divided) = (None, false);
        if progress.exhausted(&config.stopping) {
            if config.schedule != Schedule::Adaptive {
                stop = Some(Stop::NoImprovement);
            } else if progress.learning_rate <= 1e-6 {
                stop = Some(Stop::LearningRate);
            } else {
                progress.learning_rate /= 5.0;
                progress.count = 0;
                divided = true;
            }
        }
        if let Some(stop) = stop {
            self.history.stopped = stop;
        }
        self.report = Some(EpochReport {
            epoch: self.history.loss.len(),
            loss: epoch_loss,
            judged_loss,
            val_score: score,
            stop,
            divided,
            progress: *progress,
            learning_rate: self.history.learning_rate[self.history.learning_rate.len() - 1],
            val_loss: self.history.val_loss.last().copied(),
            last: false, // known to `drive`
        });
    }

    /// One batch `rows` (batch `i` of epoch `epoch`, both 0-based): forward, loss,
    /// backward, update. Returns the batch's loss and its penalty part, each times its row
    /// count.
    fn step(&mut self, epoch: usize, i: usize, rows: &[usize]) -> Result<(f64, f64)> {
        let (x, y, sample_weight) = (self.data.x, self.data.y, self.data.sample_weight);
        let (config, loss) = (self.config, self.net.loss_fn());
        let lr = self.rate(i) * config.scales.step;
        let n = x.nrows();
        let m = rows.len();
        let r = rows[0]..rows[0] + m; // the rows, when not shuffling
        let yv = match self.shuffling {
            true => gather_target(y, rows, &mut self.yb),
            false => slice_target(&y, r.clone()),
        };
        let xv = match (self.gathering_x, self.engine.copies_x()) {
            (_, true) => x.slice(s![..0, ..]), // the engine loads its own copy
            (true, false) => gather_rows(x, rows, &mut self.xb),
            (false, false) => x.slice(s![r, ..]),
        };
        // Σw of the batch, and the rows' gradient scales (none for equal weights).
        let scale = self.scale.as_slice_mut().expect("contiguous");
        let Some((weight_sum, row_scale)) =
            batch_weights(sample_weight, rows.iter().copied(), scale)
        else {
            return Ok((0.0, 0.0)); // nothing to learn from this batch
        };
        // One batch in a fixed order (full batch, no shuffling) is loaded once.
        if epoch == 0 || self.shuffling || m < n {
            self.engine.load(x, rows);
        }
        let layers = self.net.layers_mut();
        let (engine, caches) = (&mut self.engine, &mut self.caches);
        // With dropout, the masks of sample `samples_seen + i · batch + row`: a resumed fit
        // draws new ones.
        let dropout = (!self.dropout.is_empty()).then(|| {
            let first = self
                .progress
                .samples_seen
                .wrapping_add((i * self.batch) as u64);
            let seed = config.seed;
            (&self.dropout[..], MaskKey { seed, first })
        });
        let batch = Batch {
            x: xv,
            y: yv,
            row_scale,
            m,
            dropout,
        };
        let mut batch_loss = engine.forward(layers, caches, loss, &batch);
        let mut batch_penalty = 0.0;
        if config.alpha > 0.0 {
            let squares: f64 = layers
                .iter()
                .flat_map(|l| l.w.iter())
                .map(|w| (*w * *w).f64())
                .sum();
            batch_penalty = 0.5 * config.alpha * squares / weight_sum;
            batch_loss += batch_penalty;
        }
        if !batch_loss.is_finite() {
            let overflowed = engine.overflowed(caches);
            self.restore_start();
            return Err(diverged(batch_loss, overflowed, epoch, i));
        }
        engine.backward(layers, caches, loss, &batch);
        if config.alpha > 0.0 {
            let a = T::c(config.alpha / weight_sum);
            for (l, g) in layers.iter().zip(engine.gradients(caches)) {
                g.dw.scaled_add(a, &l.w);
            }
        }
        let grads = engine.gradients(caches).map(|g| &*g);
        self.optimizer.step(layers, grads, lr);
        Ok((batch_loss * m as f64, batch_penalty * m as f64))
    }

    /// The history, after restoring the best weights (early stopping), and the buffers
    /// for a later fit.
    pub(super) fn finish(self) -> (History, FitBuffers<T>) {
        let mut history = self.history;
        if self.data.validation.is_some() {
            history.best_val_score = Some(self.progress.best_score);
        }
        history.progress = self.progress;
        history.diverged = self.diverged;
        history.numpy_stream = match self.stream {
            Stream::NumPy(mt) => Some(*mt),
            Stream::Core(_) => None,
        };
        if self.config.stopping.early_stopping {
            restore(self.net, &self.best);
        }
        let buffers = FitBuffers {
            batch: self.batch,
            shapes: shapes(self.net),
            dropout: self.net.dropout().to_vec(),
            engine: self.engine,
            caches: self.caches,
            snapshot: self.snapshot,
        };
        (history, buffers)
    }
}

/// Where the shuffling order comes from (see `FitConfig::numpy_stream`).
enum Stream {
    Core(crate::nn::init::CoreRng),
    NumPy(Box<Mt19937>),
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

/// `snapshot = net`'s weights (the inverse of `restore`).
fn take_snapshot<T: Float>(snapshot: &mut [(Array2<T>, Array1<T>)], net: &Network<T>) {
    for ((w, b), l) in snapshot.iter_mut().zip(net.layers()) {
        copy_array(w, &l.w);
        copy_array(b, &l.b);
    }
}

fn restore<T: Float>(net: &mut Network<T>, snapshot: &[(Array2<T>, Array1<T>)]) {
    for (l, (w, b)) in net.layers_mut().iter_mut().zip(snapshot) {
        copy_array(&mut l.w, w);
        copy_array(&mut l.b, b);
    }
}
