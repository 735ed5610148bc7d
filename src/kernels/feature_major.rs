//! The kernels of the feature-major engine (`train/feature_major.rs`): products whose
//! loops run along a batch's samples, in registers of eight lanes (simd.rs), compiled for
//! AVX-512F, AVX2 and baseline x86-64 and chosen at run time (`dispatch!`). Dot products
//! keep `TILE` partial sums combined in a fixed order, so results depend on neither the
//! CPU nor the thread count. A `Finish` applies ReLU (or its backward mask) as a product is
//! stored; the activations themselves are those of `nn/activation.rs`.

use crate::kernels::simd::{Lanes, Level, LANES};
use crate::Float;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// The widest layers the kernels take: inputs, and units of any layer.
pub const MAX_INPUTS: usize = 16;
pub const MAX_UNITS: usize = 16;

pub(crate) fn rows<T: Float>(m: &Array2<T>, n: usize) -> Rows<'_, T> {
    let data = m.as_slice().expect("workspace buffers are contiguous");
    Rows {
        data,
        stride: m.ncols(),
        n,
    }
}

pub(crate) fn rows_mut<T: Float>(m: &mut Array2<T>, n: usize) -> RowsMut<'_, T> {
    let stride = m.ncols();
    let data = m.as_slice_mut().expect("workspace buffers are contiguous");
    RowsMut { data, stride, n }
}

dispatch!(pub(crate) abs_sum, abs_sum_avx2, abs_sum_avx512, abs_sum_body, (v: &[T]) -> f64);

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

dispatch!(pub(crate) combine_rows, combine_rows_avx2, combine_rows_avx512, combine_rows_body, (coef: ArrayView2<T>, init: Option<&[T]>, x: Rows<T>, out: RowsMut<T>, finish: Finish<T>));
dispatch!(pub(crate) combine_rows_checked, combine_rows_checked_avx2, combine_rows_checked_avx512, combine_rows_checked_body, (coef: ArrayView2<T>, init: Option<&[T]>, x: Rows<T>, out: RowsMut<T>, finish: Finish<T>) -> T);
dispatch!(pub(crate) gradients, gradients_avx2, gradients_avx512, gradients_body, (a: Rows<T>, dz: Rows<T>, dw: ArrayViewMut2<T>, db: &mut [T]));
dispatch!(pub(crate) outer_gradients, outer_gradients_avx2, outer_gradients_avx512, outer_gradients_body, (a: Rows<T>, dz: Rows<T>, dw: ArrayViewMut2<T>, db: &mut [T], scratch: &mut [T]));

/// The first `n` values of each row of a row-major buffer: row `i` is
/// `data[i * stride..][..n]`.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a, T> {
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
pub(crate) struct Tiles<'a, T> {
    data: &'a [T],
    stride: usize,
    rows: usize,
    /// Whole tiles per row.
    tiles: usize,
}

impl<'a, T> Tiles<'a, T> {
    pub(crate) fn new(x: Rows<'a, T>, rows: usize) -> Self {
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

pub(crate) struct RowsMut<'a, T> {
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
pub(crate) enum Finish<'a, T> {
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
        "feature-major layers have at most {MAX_Q} inputs"
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
pub(crate) const WIDTH: usize = LANES;
// `outer_gradients_body` matches layers of one or two vectors of units.
const _: () = assert!(MAX_UNITS <= 2 * WIDTH);

/// `m` rounded up to a multiple of `WIDTH`.
pub(crate) fn padded(m: usize) -> usize {
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
