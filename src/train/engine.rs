//! The engines: three ways to pass a batch forward and backward, one interface. Chosen
//! once per fit by layer sizes only (never by the number of threads), so that the result
//! depends on neither; each leaves the batch's gradient (a `Gradient` per layer) where
//! `Engine::gradients` finds it for the optimizer.
//!
//! - `FeatureMajor`: networks within `feature_major::MAX_INPUTS` × `MAX_UNITS`, in
//!   transposed buffers (`train/feature_major.rs`).
//! - `Halves`: batches of large layers split in two halves, each passed forward and
//!   backward on a thread of its own with serial products, their gradients then averaged:
//!   one fork-join per batch instead of one per product, and the elementwise steps in
//!   parallel too.
//! - `RowMajor`: the passes of `nn/network.rs` (`forward_pass`, `backward_pass`), the
//!   step API's own.
//!
//! Dropout: every engine draws each batch's masks by sample and unit (`nn/dropout.rs`):
//! `draw_masks` for the row-major passes (each half of `Halves` its own rows),
//! `Workspace::draw_masks` for `FeatureMajor`; all drop the same units.

use super::batches::slice_target;
use super::feature_major::{self, Workspace};
use super::FitConfig;
use crate::nn::dropout::MaskKey;
use crate::nn::network::{
    backward_pass, draw_masks, first_overflow, forward_pass, training_workspace,
};
use crate::{Dense, Float, Gradient, LayerCache, Loss, Network, Result, Target};
use ndarray::{s, ArrayView1, ArrayView2, ArrayViewMut2, Axis, Zip};

/// How a fit passes its batches forward and backward (see the module's doc).
pub(super) enum Engine<T> {
    /// Its transposed buffers, and the gradients its backward pass writes (it needs no
    /// `LayerCache`s).
    FeatureMajor(Box<Workspace<T>>, Vec<Gradient<T>>),
    /// The second half's buffers (the first half uses the trainer's `caches`).
    Halves(Vec<LayerCache<T>>),
    RowMajor,
}

/// One batch, as the engines take it.
#[derive(Clone, Copy)]
pub(super) struct Batch<'b, T> {
    /// Its rows of X (none for an engine that keeps its own copy: see `Engine::load`).
    pub x: ArrayView2<'b, T>,
    pub y: Target<'b, T>,
    /// Per-row gradient scales, for sample weights (see `loss::batch_weights`).
    pub row_scale: Option<ArrayView1<'b, T>>,
    /// Its number of rows.
    pub m: usize,
    /// Dropout's rate per hidden layer and the batch's mask key (`None` without dropout).
    pub dropout: Option<(&'b [f64], MaskKey)>,
}

impl<T: Float> Engine<T> {
    /// The engine for `layers` with dropout rates `dropout` (one per hidden layer) and
    /// batches of up to `batch` rows, and the caches of the row-major passes, which hold
    /// each layer's gradient too (none for `FeatureMajor`, which keeps its own gradients).
    pub(super) fn new(
        layers: &[Dense<T>],
        dropout: &[f64],
        batch: usize,
    ) -> Result<(Self, Vec<LayerCache<T>>)> {
        if feature_major::eligible(layers) {
            let mut ws = Workspace::new(layers, batch)?;
            ws.with_masks(dropout)?;
            let grads = Gradient::for_layers(layers)?;
            return Ok((Engine::FeatureMajor(Box::new(ws), grads), Vec::new()));
        }
        let caches = masked_workspace(layers, dropout, batch)?;
        match splits(layers, batch) {
            true => Ok((
                Engine::Halves(masked_workspace(layers, dropout, batch - batch / 2)?),
                caches,
            )),
            false => Ok((Engine::RowMajor, caches)),
        }
    }

    /// Whether the engine reads X from its own copy (`load`) rather than from `Batch::x`.
    pub(super) fn copies_x(&self) -> bool {
        matches!(self, Engine::FeatureMajor(..))
    }

    /// Copies rows `rows` of `x` into the engine's own buffers, if it keeps them.
    pub(super) fn load(&mut self, x: ArrayView2<T>, rows: &[usize]) {
        if let Engine::FeatureMajor(ws, _) = self {
            ws.load(x, rows);
        }
    }

    /// The forward pass of `batch` and its loss (weighted by `row_scale`, penalty
    /// excluded). `Halves` runs the backward pass too, on the same threads.
    pub(super) fn forward(
        &mut self,
        layers: &[Dense<T>],
        caches: &mut [LayerCache<T>],
        loss: Loss,
        batch: &Batch<T>,
    ) -> f64 {
        let Batch {
            x,
            y,
            row_scale,
            m,
            dropout,
        } = *batch;
        match self {
            Engine::FeatureMajor(ws, _) => {
                if let Some((rates, key)) = dropout {
                    ws.draw_masks(rates, key, m);
                }
                ws.forward(layers, m);
                loss.value_weighted(ws.output(m), y, row_scale)
            }
            Engine::Halves(caches_2) if m >= 2 => {
                halves_pass(layers, (caches, caches_2), loss, batch)
            }
            Engine::Halves(_) | Engine::RowMajor => {
                if let Some((rates, key)) = dropout {
                    draw_masks(caches, rates, key, m, 0);
                }
                forward_pass(layers, caches, x);
                loss.value_weighted(caches[caches.len() - 1].a(m), y, row_scale)
            }
        }
    }

    /// The first layer whose `z` was not finite in the last forward pass.
    pub(super) fn overflowed(&self, caches: &[LayerCache<T>]) -> Option<usize> {
        match self {
            Engine::FeatureMajor(ws, _) => ws.overflowed(),
            Engine::Halves(caches_2) => first_overflow(caches).or_else(|| first_overflow(caches_2)),
            Engine::RowMajor => first_overflow(caches),
        }
    }

    /// The backward pass after `forward(.., batch)`: the batch's gradient into `caches`, or
    /// the engine's own gradients (see `gradients`).
    pub(super) fn backward(
        &mut self,
        layers: &[Dense<T>],
        caches: &mut [LayerCache<T>],
        loss: Loss,
        batch: &Batch<T>,
    ) {
        let Batch {
            x, y, row_scale, m, ..
        } = *batch;
        match self {
            Engine::FeatureMajor(ws, grads) => ws.backward(layers, grads, loss, y, m, row_scale),
            Engine::Halves(_) if m >= 2 => {} // done with the forward passes
            Engine::Halves(_) | Engine::RowMajor => {
                backward_pass(layers, caches, loss, x, y, false, row_scale)
            }
        }
    }

    /// Each layer's gradient from the last `backward`, in order: the engine's own
    /// (`FeatureMajor`) or those in `caches` (the row-major passes').
    pub(super) fn gradients<'s>(
        &'s mut self,
        caches: &'s mut [LayerCache<T>],
    ) -> impl Iterator<Item = &'s mut Gradient<T>> {
        let own: &mut [Gradient<T>] = match self {
            Engine::FeatureMajor(_, grads) => grads,
            Engine::Halves(_) | Engine::RowMajor => &mut [],
        };
        // One of the two is empty (`new` gives `FeatureMajor` no caches).
        own.iter_mut().chain(caches.iter_mut().map(|c| &mut c.grad))
    }
}

/// Forward and backward passes of a batch in two halves on two threads (`Engine::Halves`);
/// `caches` ends with the batch's mean gradient. Returns its loss.
fn halves_pass<T: Float>(
    layers: &[Dense<T>],
    (caches, caches_2): (&mut [LayerCache<T>], &mut [LayerCache<T>]),
    loss: Loss,
    batch: &Batch<T>,
) -> f64 {
    let (xv, yv, row_scale) = (batch.x, batch.y, batch.row_scale);
    let m = xv.nrows();
    let h = m / 2;
    let half = |caches: &mut [LayerCache<T>], r: std::ops::Range<usize>| {
        if let Some((rates, key)) = batch.dropout {
            draw_masks(caches, rates, key, r.len(), r.start as u64);
        }
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
        match crate::kernels::linalg::num_threads() > 2 {
            true => pass(),
            false => crate::kernels::linalg::serial(pass),
        }
    };
    let (l_1, l_2) = match crate::kernels::linalg::num_threads() > 1 {
        true => crate::pool::join(|| half(caches, 0..h), || half(caches_2, h..m)),
        false => (half(caches, 0..h), half(caches_2, h..m)),
    };
    // The batch's mean gradient and loss: the halves' weighted by their rows.
    let (f_1, f_2) = (h as f64 / m as f64, (m - h) as f64 / m as f64);
    let (t_1, t_2) = (T::c(f_1), T::c(f_2));
    for (c_1, c_2) in caches.iter_mut().zip(caches_2.iter()) {
        let (g_1, g_2) = (&mut c_1.grad, &c_2.grad);
        weigh(g_1.dw.view_mut(), g_2.dw.view(), t_1, t_2);
        let (db_1, db_2) = (g_1.db.view_mut(), g_2.db.view());
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
    if crate::kernels::linalg::num_threads() > 1 && rows >= 2 && a.len() >= 1 << 14 {
        let (a_1, a_2) = a.split_at(Axis(0), rows / 2);
        let (b_1, b_2) = b.split_at(Axis(0), rows / 2);
        crate::pool::join(|| weigh(a_1, b_1, t_1, t_2), || weigh(a_2, b_2, t_1, t_2));
        return;
    }
    Zip::from(&mut a)
        .and(&b)
        .for_each(|a, &b| *a = *a * t_1 + b * t_2);
}

/// Whether `fit` splits batches of `batch` rows in two halves (`Engine::Halves`): some layer's
/// product of half a batch is large enough for threads, and none is so large that its
/// own threads would do as well (`SPLIT_MACS` is where timing fit's epoch both ways
/// crossed over: `benches/compare.py` measures such workloads).
pub(super) fn splits<T: Float>(layers: &[Dense<T>], batch: usize) -> bool {
    const SPLIT_MACS: usize = 1 << 24;
    let half = batch / 2;
    let macs = |l: &Dense<T>| half.saturating_mul(l.n_in()).saturating_mul(l.n_out());
    half >= 8
        && layers
            .iter()
            .any(|l| crate::kernels::linalg::large(half, l.n_in(), l.n_out()))
        && layers.iter().all(|l| macs(l) < SPLIT_MACS)
}

/// `training_workspace`, with a dropout mask in the cache of each layer with a nonzero
/// rate.
fn masked_workspace<T: Float>(
    layers: &[Dense<T>],
    dropout: &[f64],
    batch: usize,
) -> Result<Vec<LayerCache<T>>> {
    let mut caches = training_workspace(layers, batch)?;
    for (c, &p) in caches.iter_mut().zip(dropout) {
        if p > 0.0 {
            c.with_mask()?;
        }
    }
    Ok(caches)
}

/// Whether fitting `net` on `n` samples runs matrix products on several threads.
pub fn uses_threads<T: Float>(net: &Network<T>, n: usize, config: &FitConfig) -> bool {
    let batch = config.batch_size.unwrap_or(n).min(n);
    !feature_major::eligible(net.layers())
        && net
            .layers()
            .iter()
            .any(|l| crate::kernels::linalg::threaded(batch, l.n_in(), l.n_out()))
}
