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
//! The same equations as layer.rs on transposed buffers. With a handful of units per layer
//! (the tutorial's 2 → 4 → 3 → 1) the row-major products of linalg.rs run over rows of 1
//! to 16 values, too short for SIMD; here every loop runs over up to a batch of samples.
//! Activations, the loss and its delta are the functions of activation.rs and loss.rs,
//! called on transposed views, so each f and f' is still written once.
//!
//! The kernels hold their sums in registers of eight lanes (simd.rs) and are compiled for
//! AVX-512F, AVX2 and baseline x86-64, chosen at run time (`dispatch!` in lib.rs); dot
//! products keep `TILE` partial sums combined in a fixed order, so results depend on
//! neither the CPU nor the thread count. Hidden ReLU and identity layers apply their
//! activation as the forward product is stored, and ReLU's backward step as the backward
//! product is.

use crate::layer::try_zeros;
use crate::simd::{Lanes, Level, LANES};
use crate::{Activation, Dense, Float, LayerCache, Loss, Result, Target};
use ndarray::{s, Array2, ArrayView1, ArrayView2, ArrayViewMut2};

/// Networks of at most `MAX_INPUTS` inputs and `MAX_UNITS` units per layer train here.
///
/// Chosen by measurement (fit's epoch, float64 / float32, µs, best of 21, this layout
/// against the row-major one with gemm): 16-16-16-1 batch 64: 234 / 150 against 323 / 235;
/// 16-16-16-4 batch 64: 443 / 287 against 507 / 357. But with 32 units the row-major
/// layout wins: 2-32-32-1 batch 32: 339 / 237 against 324 / 229; 8-32-32-1: 378 / 264
/// against 343 / 235.
pub const MAX_UNITS: usize = 16;
pub const MAX_INPUTS: usize = 16;

/// Whether `fit` trains these layers in this module's layout.
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
    /// One layer's `dz` back in sample-major layout, `(batch, WIDTH · ⌈n_out / WIDTH⌉)`,
    /// zero-padded, for `outer_gradients`.
    dz_rows: Array2<T>,
    /// The largest `|x|` of the loaded samples.
    x_max: f64,
    /// The first layer whose `z` was not finite in the last forward pass.
    overflowed: Option<usize>,
}

/// The first `n` columns (samples) of a buffer; no slicing for a whole batch, the usual
/// case (slicing costs as much as a narrow layer's activation).
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

fn rows<T: Float>(m: &Array2<T>, n: usize) -> Rows<'_, T> {
    let data = m.as_slice().expect("workspace buffers are contiguous");
    Rows {
        data,
        stride: m.ncols(),
        n,
    }
}

fn rows_mut<T: Float>(m: &mut Array2<T>, n: usize) -> RowsMut<'_, T> {
    let stride = m.ncols();
    let data = m.as_slice_mut().expect("workspace buffers are contiguous");
    RowsMut { data, stride, n }
}

impl<T: Float> Workspace<T> {
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
            dz_rows: {
                let wide = layers.iter().map(|l| l.n_out()).filter(|&m| m >= WIDTH);
                try_zeros(batch, wide.map(padded).max().unwrap_or(0))?
            },
            x_max: 0.0,
            overflowed: None,
        })
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
                    let a = cols_mut(&mut before[0], n);
                    layer.activation.forward(z.t(), a.reversed_axes())
                }
            };
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
        grads: &mut [LayerCache<T>],
        loss: Loss,
        y: Target<T>,
        n: usize,
        row_scale: Option<ArrayView1<T>>,
    ) {
        let last = layers.len() - 1;
        let out = &layers[last];
        {
            let yhat = cols(&self.a[last], n);
            let scaled = |mut m: ArrayViewMut2<T>| {
                if let Some(scale) = row_scale {
                    for mut unit in m.rows_mut() {
                        unit.zip_mut_with(&scale, |v, &s| *v *= s);
                    }
                }
            };
            if loss.is_fused(out.activation) {
                let dz = cols_mut(&mut self.dz[last], n);
                loss.fused_delta(yhat.t(), y, dz.reversed_axes());
                scaled(cols_mut(&mut self.dz[last], n));
            } else {
                let da = cols_mut(&mut self.da[last], n);
                loss.gradient(yhat.t(), y, da.reversed_axes());
                scaled(cols_mut(&mut self.da[last], n));
            }
        }
        for k in (0..=last).rev() {
            let layer = &layers[k];
            let done = match k < last {
                true => fused(layers, k, last).is_some(),
                false => loss.is_fused(out.activation),
            };
            if !done {
                layer.activation.backward(
                    cols(&self.z[k], n).t(),
                    cols(&self.a[k], n).t(),
                    cols(&self.da[k], n).t(),
                    cols_mut(&mut self.dz[k], n).reversed_axes(),
                );
            }
            let a_prev = match k {
                0 => rows(&self.x, n),
                _ => rows(&self.a[k - 1], n),
            };
            let dz = rows(&self.dz[k], n);
            let LayerCache { dw, db, .. } = &mut grads[k];
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
/// within the type's range cannot overflow. ReLU, leaky ReLU and identity keep
/// `|a| ≤ |z|`; tanh, the sigmoid and softmax keep `|a| ≤ 1`. A NaN or infinite weight
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
        (true, _) => z_max,
        (false, _) => f64::INFINITY,
    };
    (bounded, a_max)
}

dispatch!(abs_sum, abs_sum_avx2, abs_sum_avx512, abs_sum_body, (v: &[T]) -> f64);

/// `Σ |v|` in f64, in `LANES` partial sums (a NaN or infinity makes it NaN or infinite).
#[inline(always)]
#[allow(clippy::extra_unused_type_parameters)] // `dispatch!` passes the level
fn abs_sum_body<T: Float, L>(v: &[T]) -> f64 {
    let mut sums = [0.0f64; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (s, x) in sums.iter_mut().zip(chunk) {
            *s += x.abs().f64();
        }
    }
    sums.iter().sum::<f64>() + rest.iter().map(|x| x.abs().f64()).sum::<f64>()
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

dispatch!(combine_rows, combine_rows_avx2, combine_rows_avx512, combine_rows_body, (coef: ArrayView2<T>, init: Option<&[T]>, x: Rows<T>, out: RowsMut<T>, finish: Finish<T>));
dispatch!(combine_rows_checked, combine_rows_checked_avx2, combine_rows_checked_avx512, combine_rows_checked_body, (coef: ArrayView2<T>, init: Option<&[T]>, x: Rows<T>, out: RowsMut<T>, finish: Finish<T>) -> T);
dispatch!(gradients, gradients_avx2, gradients_avx512, gradients_body, (a: Rows<T>, dz: Rows<T>, dw: ArrayViewMut2<T>, db: &mut [T]));
dispatch!(outer_gradients, outer_gradients_avx2, outer_gradients_avx512, outer_gradients_body, (a: Rows<T>, dz: Rows<T>, dw: ArrayViewMut2<T>, db: &mut [T], scratch: &mut [T]));

/// The first `n` values of each row of a row-major buffer: row `i` is
/// `data[i * stride..][..n]`.
#[derive(Clone, Copy)]
struct Rows<'a, T> {
    data: &'a [T],
    stride: usize,
    n: usize,
}

impl<'a, T> Rows<'a, T> {
    fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.stride..][..self.n]
    }
}

/// Whole tiles of the first `rows` rows of a `Rows`, read without bounds checks: `new`
/// checks them all at once, for the kernels' inner loops.
#[derive(Clone, Copy)]
struct Tiles<'a, T> {
    data: &'a [T],
    stride: usize,
    rows: usize,
    /// Whole tiles per row.
    tiles: usize,
}

impl<'a, T> Tiles<'a, T> {
    fn new(x: Rows<'a, T>, rows: usize) -> Self {
        assert!(rows == 0 || (rows - 1) * x.stride + x.n <= x.data.len());
        Tiles {
            data: x.data,
            stride: x.stride,
            rows,
            tiles: x.n / TILE,
        }
    }

    /// Tile `t` of row `r`.
    ///
    /// # Safety
    /// `r < self.rows` and `t < self.tiles`.
    #[inline(always)]
    unsafe fn get(&self, r: usize, t: usize) -> &'a [T; TILE] {
        debug_assert!(r < self.rows && t < self.tiles);
        // SAFETY: the tile lies within row r's first n values, within `data` (`new`).
        unsafe { &*(self.data.as_ptr().add(r * self.stride + t * TILE) as *const [T; TILE]) }
    }
}

struct RowsMut<'a, T> {
    data: &'a mut [T],
    stride: usize,
    n: usize,
}

/// Samples per tile, and units per tile: a tile of `UNITS × TILE` accumulators stays in
/// registers (8 AVX2 registers of `f64`) while a pass runs over the inputs.
const TILE: usize = LANES;
const UNITS: usize = 4;
// `combine_rows_body` and `gradients_body` match remainders of 1 to UNITS − 1 units.
const _: () = assert!(UNITS == 4);

/// What `combine_rows` stores of each sum `v`.
#[derive(Clone, Copy)]
enum Finish<'a, T> {
    /// `v`.
    Sum,
    /// `relu(v)`: a hidden ReLU layer's forward pass.
    Relu,
    /// `v` where `mask > 0`, else 0: the backward pass into a hidden ReLU layer, whose
    /// output (positive exactly where its input is) is `mask`.
    WherePositive(Tiles<'a, T>),
}

/// The largest `q` dimension of `combine_rows`: a layer's inputs or units.
const MAX_Q: usize = if MAX_INPUTS > MAX_UNITS {
    MAX_INPUTS
} else {
    MAX_UNITS
};

/// `out[p, :] = finish(init[p] + Σ_q coef[p, q] · x[q, :])`: the forward product
/// (`coef = Wᵀ`, `init = b`) and the backward one (`coef = W`, no init).
#[inline(always)]
fn combine_rows_body<T: Float, L: Level>(
    coef: ArrayView2<T>,
    init: Option<&[T]>,
    x: Rows<T>,
    out: RowsMut<T>,
    finish: Finish<T>,
) {
    combine_rows_in::<T, L, false>(coef, init, x, out, finish);
}

/// `combine_rows`, returning the sum of `v · 0` over the sums `v`: NaN if one is not
/// finite, 0 otherwise. (Its check registers spill in the unchecked kernel's loops, hence
/// two kernels.)
#[inline(always)]
fn combine_rows_checked_body<T: Float, L: Level>(
    coef: ArrayView2<T>,
    init: Option<&[T]>,
    x: Rows<T>,
    out: RowsMut<T>,
    finish: Finish<T>,
) -> T {
    combine_rows_in::<T, L, true>(coef, init, x, out, finish)
}

/// `combine_rows`, with the finiteness check if `CHECK` (0 otherwise).
#[inline(always)]
fn combine_rows_in<T: Float, L: Level, const CHECK: bool>(
    coef: ArrayView2<T>,
    init: Option<&[T]>,
    x: Rows<T>,
    mut out: RowsMut<T>,
    finish: Finish<T>,
) -> T {
    let (p_total, q_total) = coef.dim();
    assert!(
        q_total <= MAX_Q,
        "narrow layers have at most {MAX_Q} inputs"
    );
    // `W` or its transposed view: element (p, q) is `data[p · rs + q · cs]`.
    let (rs, cs) = (coef.strides()[0] as usize, coef.strides()[1] as usize);
    let data = coef
        .as_slice_memory_order()
        .expect("weights are contiguous");
    let coef = Coefficients {
        data,
        rs,
        cs,
        q_total,
    };
    // The tiles of `x`, of `out` and of the mask that the kernels read unchecked.
    let (n, x_tiles) = (out.n, Tiles::new(x, q_total));
    assert!(x.n == n && (p_total == 0 || (p_total - 1) * out.stride + n <= out.data.len()));
    if let Finish::WherePositive(mask) = finish {
        assert!(mask.rows >= p_total && mask.tiles >= n / TILE);
    }
    let full = p_total / UNITS * UNITS;
    let mut check = T::zero();
    for p0 in (0..full).step_by(UNITS) {
        check += combine_tile::<T, L, UNITS, CHECK>(coef, init, x, x_tiles, &mut out, finish, p0);
    }
    // The last 1–3 rows in one tile too, so that `x` is read once more, not up to 3 times.
    check
        + match p_total - full {
            1 => combine_tile::<T, L, 1, CHECK>(coef, init, x, x_tiles, &mut out, finish, full),
            2 => combine_tile::<T, L, 2, CHECK>(coef, init, x, x_tiles, &mut out, finish, full),
            3 => combine_tile::<T, L, 3, CHECK>(coef, init, x, x_tiles, &mut out, finish, full),
            _ => T::zero(),
        }
}

/// `init[u] + Σ_q w[u][q] · x[q, tile t0 + g]` for `u < U`, `g < G`; the tiles must exist
/// (`t0 + G ≤ x.tiles`, `q_total ≤ x.rows`).
#[allow(clippy::needless_range_loop)] // `q` indexes `x`'s rows and `w`'s columns alike
#[inline(always)]
fn combine_tiles<T: Float, L: Level, const U: usize, const G: usize>(
    w: &[[T; MAX_Q]; U],
    start: [T; U],
    x: Tiles<T>,
    q_total: usize,
    t0: usize,
) -> [[L::V<T>; G]; U] {
    assert!(t0 + G <= x.tiles && q_total <= x.rows);
    let mut acc: [[L::V<T>; G]; U] = std::array::from_fn(|u| [Lanes::splat(start[u]); G]);
    for q in 0..q_total {
        // SAFETY: q < q_total ≤ x.rows and t0 + g < x.tiles, asserted above.
        let xq: [L::V<T>; G] = std::array::from_fn(|g| Lanes::load(unsafe { x.get(q, t0 + g) }));
        for u in 0..U {
            let w_uq = L::V::<T>::splat(w[u][q]);
            for g in 0..G {
                acc[u][g] = acc[u][g].add(w_uq.mul(xq[g]));
            }
        }
    }
    acc
}

impl<T: Float> Finish<'_, T> {
    /// Stores `finish(v)` as tile `t` of row `p` of `out`.
    ///
    /// # Safety
    /// Row `p`'s first `out.n` values lie within `out.data`, `t < out.n / TILE`, and a
    /// mask has row `p` and tile `t`.
    #[inline(always)]
    unsafe fn store<V: Lanes<T>>(self, v: V, out: &mut RowsMut<T>, p: usize, t: usize) {
        let v = match self {
            Finish::Sum => v,
            Finish::Relu => v.relu(),
            // SAFETY: the caller's contract.
            Finish::WherePositive(mask) => v.where_positive(Lanes::load(unsafe { mask.get(p, t) })),
        };
        let start = p * out.stride + t * TILE;
        debug_assert!(start + TILE <= out.data.len());
        // SAFETY: the tile lies within row p's first out.n values (the caller's contract).
        v.store(unsafe { &mut *(out.data.as_mut_ptr().add(start) as *mut [T; TILE]) });
    }
}

/// A matrix of coefficients with its strides (`W` or `Wᵀ`, neither copied).
#[derive(Clone, Copy)]
struct Coefficients<'a, T> {
    data: &'a [T],
    rs: usize,
    cs: usize,
    q_total: usize,
}

impl<T: Float> Coefficients<'_, T> {
    #[inline(always)]
    fn at(&self, p: usize, q: usize) -> T {
        self.data[p * self.rs + q * self.cs]
    }
}

/// Rows `p0..p0 + U` of `combine_rows`, `TILE` samples at a time in registers; with
/// `CHECK`, returns `Σ v · 0` over the sums `v`.
#[inline(always)]
fn combine_tile<T: Float, L: Level, const U: usize, const CHECK: bool>(
    coef: Coefficients<T>,
    init: Option<&[T]>,
    x: Rows<T>,
    x_tiles: Tiles<T>,
    out: &mut RowsMut<T>,
    finish: Finish<T>,
    p0: usize,
) -> T {
    let q_total = coef.q_total.min(MAX_Q);
    // The block's coefficients, copied where the loop reads them without bounds checks.
    let mut w = [[T::zero(); MAX_Q]; U];
    for (u, w_u) in w.iter_mut().enumerate() {
        for (q, w_uq) in w_u[..q_total].iter_mut().enumerate() {
            *w_uq = coef.at(p0 + u, q);
        }
    }
    let start: [T; U] = std::array::from_fn(|u| init.map_or(T::zero(), |b| b[p0 + u]));
    let n = out.n;
    let tiles = n / TILE;
    // One check per unit: no long chain of dependent additions.
    let zero = L::V::<T>::splat(T::zero());
    let mut checks = [zero; U];
    // Two tiles at a time where there are two: each coefficient is broadcast once for both.
    let mut t = 0;
    while t + 2 <= tiles {
        let sums: [[L::V<T>; 2]; U] = combine_tiles::<T, L, U, 2>(&w, start, x_tiles, q_total, t);
        for (u, [first, second]) in sums.into_iter().enumerate() {
            if CHECK {
                checks[u] = checks[u].add(first.mul(zero)).add(second.mul(zero));
            }
            // SAFETY: p0 + u < p_total and t + 1 < n / TILE, with the rows of `out` and of
            // the mask checked by `combine_rows_in`.
            unsafe {
                finish.store(first, out, p0 + u, t);
                finish.store(second, out, p0 + u, t + 1);
            }
        }
        t += 2;
    }
    if t < tiles {
        let sums: [[L::V<T>; 1]; U] = combine_tiles::<T, L, U, 1>(&w, start, x_tiles, q_total, t);
        for (u, [sum]) in sums.into_iter().enumerate() {
            if CHECK {
                checks[u] = checks[u].add(sum.mul(zero));
            }
            // SAFETY: as above, for tile t < n / TILE.
            unsafe { finish.store(sum, out, p0 + u, t) };
        }
    }
    let mut check = match CHECK {
        true => checks
            .iter()
            .flat_map(|c| c.to_array())
            .fold(T::zero(), |s, c| s + c),
        false => T::zero(),
    };
    for i in tiles * TILE..n {
        for (u, &b) in start.iter().enumerate() {
            let mut v = b;
            for (q, &w_uq) in w[u][..q_total].iter().enumerate() {
                v += w_uq * x.data[q * x.stride + i];
            }
            if CHECK {
                check += v * T::zero();
            }
            out.data[(p0 + u) * out.stride + i] = match finish {
                Finish::Sum => v,
                Finish::Relu => [v; LANES].relu()[0],
                Finish::WherePositive(mask) => {
                    [v; LANES].where_positive([mask.data[(p0 + u) * mask.stride + i]; LANES])[0]
                }
            };
        }
    }
    check
}

/// `dW[k, j] = aᵀ[k, :] · dzᵀ[j, :]`, `db[j] = Σ dzᵀ[j, :]`: each sum in `TILE` partial
/// sums, added in a fixed order, then the tail. Blocks of up to `UNITS × UNITS` sums stay
/// in registers, so each tile of `a` and `dz` is loaded once per block.
#[inline(always)]
fn gradients_body<T: Float, L: Level>(
    a: Rows<T>,
    dz: Rows<T>,
    mut dw: ArrayViewMut2<T>,
    db: &mut [T],
) {
    let (k_total, j_total) = dw.dim();
    let dw = dw.as_slice_mut().expect("gradients are contiguous");
    let mut k0 = 0;
    while k0 < k_total {
        let kb = UNITS.min(k_total - k0);
        let mut j0 = 0;
        while j0 < j_total {
            let jb = UNITS.min(j_total - j0);
            let block = Block { a, dz, k0, j0 };
            let db = (k0 == 0).then_some(&mut db[j0..j0 + jb]);
            match (kb, jb) {
                (4, 4) => block.sums::<L, 4, 4>(dw, j_total, db),
                (4, 3) => block.sums::<L, 4, 3>(dw, j_total, db),
                (4, 2) => block.sums::<L, 4, 2>(dw, j_total, db),
                (4, 1) => block.sums::<L, 4, 1>(dw, j_total, db),
                (3, 4) => block.sums::<L, 3, 4>(dw, j_total, db),
                (3, 3) => block.sums::<L, 3, 3>(dw, j_total, db),
                (3, 2) => block.sums::<L, 3, 2>(dw, j_total, db),
                (3, 1) => block.sums::<L, 3, 1>(dw, j_total, db),
                (2, 4) => block.sums::<L, 2, 4>(dw, j_total, db),
                (2, 3) => block.sums::<L, 2, 3>(dw, j_total, db),
                (2, 2) => block.sums::<L, 2, 2>(dw, j_total, db),
                (2, 1) => block.sums::<L, 2, 1>(dw, j_total, db),
                (1, 4) => block.sums::<L, 1, 4>(dw, j_total, db),
                (1, 3) => block.sums::<L, 1, 3>(dw, j_total, db),
                (1, 2) => block.sums::<L, 1, 2>(dw, j_total, db),
                _ => block.sums::<L, 1, 1>(dw, j_total, db),
            }
            j0 += jb;
        }
        k0 += kb;
    }
}

/// Rows `k0..` of `a` and `j0..` of `dz`, whose products `gradients_body` sums.
#[derive(Clone, Copy)]
struct Block<'a, T> {
    a: Rows<'a, T>,
    dz: Rows<'a, T>,
    k0: usize,
    j0: usize,
}

impl<T: Float> Block<'_, T> {
    /// `dw[(k0 + i) · stride + j0 + u] = aᵀ[k0 + i, :] · dzᵀ[j0 + u, :]` for `i < K`,
    /// `u < J`; and, with `db`, `db[u] = Σ dzᵀ[j0 + u, :]`.
    #[inline(always)]
    fn sums<L: Level, const K: usize, const J: usize>(
        self,
        dw: &mut [T],
        stride: usize,
        db: Option<&mut [T]>,
    ) {
        let n = self.a.n;
        let tiles = n / TILE;
        let a: [&[T]; K] = std::array::from_fn(|i| self.a.row(self.k0 + i));
        let dz: [&[T]; J] = std::array::from_fn(|u| self.dz.row(self.j0 + u));
        let zero = L::V::<T>::splat(T::zero());
        let mut acc = [[zero; J]; K];
        let mut acc_db = [zero; J];
        let with_db = db.is_some();
        for t in 0..tiles {
            let dzt: [L::V<T>; J] = std::array::from_fn(|u| Lanes::load(tile(dz[u], t)));
            for i in 0..K {
                let at = L::V::<T>::load(tile(a[i], t));
                for u in 0..J {
                    acc[i][u] = acc[i][u].add(at.mul(dzt[u]));
                }
            }
            if with_db {
                for u in 0..J {
                    acc_db[u] = acc_db[u].add(dzt[u]);
                }
            }
        }
        let rest = tiles * TILE;
        for i in 0..K {
            for u in 0..J {
                let tail = a[i][rest..]
                    .iter()
                    .zip(&dz[u][rest..])
                    .fold(T::zero(), |s, (&x, &y)| s + x * y);
                dw[(self.k0 + i) * stride + self.j0 + u] = add_up(acc[i][u].to_array()) + tail;
            }
        }
        if let Some(db) = db {
            for u in 0..J {
                let tail = dz[u][rest..].iter().fold(T::zero(), |s, &x| s + x);
                db[u] = add_up(acc_db[u].to_array()) + tail;
            }
        }
    }
}

/// Tile `t` of a row: its values `t · TILE..(t + 1) · TILE`.
#[inline(always)]
fn tile<T: Float>(row: &[T], t: usize) -> &[T; TILE] {
    row[t * TILE..][..TILE].try_into().unwrap()
}

/// Partial sums added pairwise, in a fixed order.
#[inline(always)]
fn add_up<T: Float>(mut acc: [T; TILE]) -> T {
    let mut width = TILE / 2;
    while width > 0 {
        for l in 0..width {
            let upper = acc[l + width];
            acc[l] += upper;
        }
        width /= 2;
    }
    acc[0]
}

/// Gradient accumulators per register group: two AVX2 registers of `f64`, one of `f32`.
const WIDTH: usize = LANES;
// `outer_gradients_body` matches layers of one or two vectors of units.
const _: () = assert!(MAX_UNITS <= 2 * WIDTH);

/// `m` rounded up to a multiple of `WIDTH`.
fn padded(m: usize) -> usize {
    m.div_ceil(WIDTH) * WIDTH
}

/// `gradients` for layers of at least `WIDTH` units: `dW = Σ_s a[:, s] ⊗ dz[:, s]` and
/// `db = Σ_s dz[:, s]`, summed over the samples in order, from `dz` copied into
/// sample-major rows so that a row of `dW` accumulates in registers with no horizontal
/// sums (which cost more than the products when a batch is a few tens of samples).
#[inline(always)]
fn outer_gradients_body<T: Float, L: Level>(
    a: Rows<T>,
    dz: Rows<T>,
    mut dw: ArrayViewMut2<T>,
    db: &mut [T],
    scratch: &mut [T],
) {
    let m = dw.ncols();
    let (n, width) = (dz.n, padded(m));
    let dz_rows = &mut scratch[..n * width];
    for j in 0..width {
        let column = dz_rows[j..].iter_mut().step_by(width);
        match j < m {
            true => column.zip(dz.row(j)).for_each(|(v, &d)| *v = d),
            false => column.for_each(|v| *v = T::zero()),
        }
    }
    let dz_rows = &*dz_rows;
    let dw = dw.as_slice_mut().expect("gradients are contiguous");
    match width / WIDTH {
        1 => outer_rows::<T, L, 1>(a, dz_rows, m, dw, db),
        _ => outer_rows::<T, L, 2>(a, dz_rows, m, dw, db),
    }
}

/// `outer_gradients` for `J` vectors of units (`width = J · WIDTH`), four rows of `dW` at
/// a time.
#[inline(always)]
fn outer_rows<T: Float, L: Level, const J: usize>(
    a: Rows<T>,
    dz_rows: &[T],
    m: usize,
    dw: &mut [T],
    db: &mut [T],
) {
    let k_total = dw.len() / m;
    let mut store = |k: usize, acc: [L::V<T>; J]| {
        for (jv, v) in acc.iter().enumerate() {
            let j0 = jv * WIDTH;
            let cols = WIDTH.min(m - j0);
            dw[k * m + j0..][..cols].copy_from_slice(&v.to_array()[..cols]);
        }
    };
    let mut k = 0;
    while k + 4 <= k_total {
        let rows = [a.row(k), a.row(k + 1), a.row(k + 2), a.row(k + 3)];
        let acc = outer_sums::<T, L, 4, J>(rows, dz_rows);
        acc.into_iter()
            .enumerate()
            .for_each(|(u, acc)| store(k + u, acc));
        k += 4;
    }
    match k_total - k {
        3 => {
            let acc = outer_sums::<T, L, 3, J>([a.row(k), a.row(k + 1), a.row(k + 2)], dz_rows);
            acc.into_iter()
                .enumerate()
                .for_each(|(u, acc)| store(k + u, acc));
        }
        2 => {
            let acc = outer_sums::<T, L, 2, J>([a.row(k), a.row(k + 1)], dz_rows);
            acc.into_iter()
                .enumerate()
                .for_each(|(u, acc)| store(k + u, acc));
        }
        1 => {
            let [acc] = outer_sums::<T, L, 1, J>([a.row(k)], dz_rows);
            store(k, acc);
        }
        _ => {}
    }
    let zero = L::V::<T>::splat(T::zero());
    let mut acc = [zero; J];
    for row in dz_rows.chunks_exact(J * WIDTH) {
        for (jv, acc) in acc.iter_mut().enumerate() {
            *acc = acc.add(Lanes::load(tile(row, jv)));
        }
    }
    for (jv, v) in acc.iter().enumerate() {
        let j0 = jv * WIDTH;
        let cols = WIDTH.min(m - j0);
        db[j0..j0 + cols].copy_from_slice(&v.to_array()[..cols]);
    }
}

/// `Σ_s a_u[s] · dz_rows[s, :]` for each of the `U` rows `a_u`, `dz_rows` being `J` vectors
/// wide.
#[inline(always)]
fn outer_sums<T: Float, L: Level, const U: usize, const J: usize>(
    a: [&[T]; U],
    dz_rows: &[T],
) -> [[L::V<T>; J]; U] {
    let zero = L::V::<T>::splat(T::zero());
    let mut acc = [[zero; J]; U];
    for (s, row) in dz_rows.chunks_exact(J * WIDTH).enumerate() {
        let d: [L::V<T>; J] = std::array::from_fn(|jv| Lanes::load(tile(row, jv)));
        for u in 0..U {
            let a_us = L::V::<T>::splat(a[u][s]);
            for jv in 0..J {
                acc[u][jv] = acc[u][jv].add(a_us.mul(d[jv]));
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{backward_pass, forward_pass, workspace};
    use crate::{Activation, Network, NetworkConfig};
    use ndarray::{Array1, Zip};

    /// An overflow in any layer — fused ReLU or identity, or an activation of its own; in a
    /// pair of tiles, a single tile or the tail of the batch; in a full block of units or
    /// the remainder — is reported by both engines, with the output all NaN.
    #[test]
    fn an_overflow_is_reported_by_both_engines() {
        use Activation::*;
        let hidden = [Relu, Identity, Tanh, LeakyRelu];
        let n = 37; // tiles 0–3 in pairs, samples 32–36 in the tail
        for first in hidden {
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

    /// Both layouts compute the same output and gradients, with and without row scales, on
    /// a partial batch, for layers narrower and wider than `WIDTH`.
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
            // As many inputs and units as a narrow network has.
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
            for row_scale in [None, Some(scale.view())] {
                let mut want = workspace(layers, n).unwrap();
                forward_pass(layers, &mut want, x.view());
                let target = Target::Dense(y.view());
                backward_pass(layers, &mut want, loss, x.view(), target, false, row_scale);

                let mut ws = Workspace::new(layers, n + 3).unwrap();
                let mut got = workspace(layers, 0).unwrap();
                let rows: Vec<usize> = (0..n).collect();
                ws.load(x.view(), &rows);
                ws.forward(layers, n);
                ws.backward(layers, &mut got, loss, target, n, row_scale);
                let output = ws.output(n);
                let want_output = want[want.len() - 1].a.view();
                // The sums of the dot products run in another order.
                let close = |p: f64, q: f64| (p - q).abs() <= 1e-13 * (1.0 + q.abs());
                assert!(Zip::from(output).and(want_output).all(|&p, &q| close(p, q)));
                for (g, w) in got.iter().zip(&want) {
                    let (got, want) = (g.dw.iter().chain(&g.db), w.dw.iter().chain(&w.db));
                    assert!(got.zip(want).all(|(&p, &q)| close(p, q)), "{sizes:?}");
                }
            }
        }
    }
}
