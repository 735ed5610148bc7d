//! The three matrix products of a dense layer, and the bias gradient:
//!
//! ```text
//! forward:   z  = a · W + b      (n, k) · (k, m) + (m,)
//! backward:  dW = aᵀ · dz        (k, n) · (n, m)
//!            da = dz · Wᵀ        (n, m) · (m, k)
//!            db = Σ_rows dz
//! ```
//!
//! Products go through the `gemm` crate (AVX2 or AVX-512 kernels chosen at run time,
//! threads from ferroprop's pool, `pool.rs`, for large products), except for small layers —
//! at most `FIXED_K` inputs and `FIXED_M` units, like the tutorial's 2 → 4 → 3 → 1 — where
//! packing the operands costs more than the arithmetic: there, row loops with a
//! compile-time width keep a row of accumulators in registers. (Row loops with a run-time
//! width do not vectorize, and are slower than a packed product.) gemm splits a product
//! between threads by blocks of the output, never along `k`, and the largest products are
//! split in two blocks of columns here whatever the thread count (`SPLIT_MACS`), so results
//! do not depend on the thread count (`FERROPROP_NUM_THREADS`; tests/test_determinism.py).
//!
//! `da = dz · Wᵀ` reads W across its rows. For the largest products it is computed from a
//! tiled transposed copy of W, for mid-sized ones into a column-major buffer (see `a_bt`).
//! Both go into the layer's dW, whose memory is free until dW is computed after da (the
//! transposed copy by blocks of columns, as it is a little larger), or, for a caller with
//! no such memory, into a thread-local scratch allocated once. gemm's own packing buffers
//! come from the blocks of `packing.rs`.

use crate::kernels::simd::{Lanes, LANES};
use crate::Float;
use ndarray::{s, ArrayView1, ArrayView2, ArrayViewMut2, Axis, ShapeBuilder};

/// Products of at least this many multiply-adds use several threads.
const THREADED_MACS: usize = 1 << 20;

pub use crate::pool::num_threads;

/// Whether an `(m, k) · (k, n)` product runs on several threads.
pub fn threaded(m: usize, k: usize, n: usize) -> bool {
    num_threads() > 1 && large(m, k, n) && !SERIAL.with(|s| s.get())
}

/// Whether an `(m × k) · (k × n)` product has enough multiply-adds for threads, whatever
/// the number of threads.
pub fn large(m: usize, k: usize, n: usize) -> bool {
    m.saturating_mul(k).saturating_mul(n) >= THREADED_MACS
}

thread_local! {
    /// Set while `serial` runs: the products stay on their thread.
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether work may be split between threads here: there are several, and the caller is
/// not inside `serial`.
pub fn parallel() -> bool {
    num_threads() > 1 && !SERIAL.with(|s| s.get())
}

/// Passes over at least this many values (the bias written into `z`, the activation and
/// its derivative, the column sums of `dz`) are split between two threads: in a large batch
/// they are serial gaps between the threaded products. Each value's result, and each
/// column's order of summation, stay the same, so the bits do too.
pub const PARALLEL_PASS: usize = 1 << 16;

/// Where to split the `rows` rows of a pass over `len` values between two threads, if it
/// is split (see `PARALLEL_PASS`).
pub fn split_rows(rows: usize, len: usize) -> Option<usize> {
    (rows >= 2 && len >= PARALLEL_PASS && parallel()).then_some(rows / 2)
}

/// Whether a pass of `rows` rows through a layer of `k` inputs and `m` units splits work
/// between threads (a threaded product, one row through a large layer, a long elementwise
/// pass). A caller outside the pool then runs the whole pass on it (`pool::install`):
/// handing each product's halves over from outside costs a wake-up of a thread each.
pub fn splits_pass(rows: usize, k: usize, m: usize) -> bool {
    parallel()
        && (large(rows, k, m)
            || (rows == 1 && k.saturating_mul(m) >= FEW_ROWS_THREADED)
            || rows.saturating_mul(m) >= PARALLEL_PASS)
}

/// Runs `f` with every product on the calling thread (for work already split across
/// threads, see `train/engine.rs`).
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    let before = SERIAL.with(|s| s.replace(true));
    let result = f();
    SERIAL.with(|s| s.set(before));
    result
}

/// `c = a · b`, or `c += a · b` if `accumulate`, through gemm.
fn product<T: Float>(
    a: ArrayView2<T>,
    b: ArrayView2<T>,
    mut c: ArrayViewMut2<T>,
    accumulate: bool,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    assert!(b.nrows() == k && c.dim() == (m, n), "product shapes");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(T::zero());
        }
        return;
    }
    let threads = match threaded(m, k, n) {
        true => num_threads(),
        false => 1,
    };
    // Large products in two blocks of output columns, one per thread (see `SPLIT_MACS`).
    if m.saturating_mul(k).saturating_mul(n) >= SPLIT_MACS && n >= 2 * SPLIT_ALIGN {
        let half = (n / 2).div_ceil(SPLIT_ALIGN) * SPLIT_ALIGN;
        let (b_1, b_2) = b.split_at(Axis(1), half);
        let (c_1, c_2) = c.split_at(Axis(1), half);
        match threads {
            1 => {
                gemm_call(a, b_1, c_1, accumulate, 1);
                gemm_call(a, b_2, c_2, accumulate, 1);
            }
            _ => {
                let inner = (threads / 2).max(1);
                crate::pool::join(
                    || gemm_call(a, b_1, c_1, accumulate, inner),
                    || gemm_call(a, b_2, c_2, accumulate, inner),
                );
            }
        }
        return;
    }
    gemm_call(a, b, c, accumulate, threads);
}

/// Products of at least this many multiply-adds are computed as two products of half the
/// output columns each, on two threads. gemm (after turning a row-major product into its
/// transpose) packs the matrix that gives the output its columns — `W`, `Wᵀ` or `dz` —
/// once per thread that works on any output block, and its threads split the output along
/// the other side, so with two threads the whole matrix was packed twice. Split at this
/// level, each thread packs half. Whether to split depends on the sizes only, so the
/// results do not depend on the thread count. (`cargo bench`'s 784-1024-1024-10 epoch
/// measures the gain.)
const SPLIT_MACS: usize = 1 << 24;
/// Output columns per block are a multiple of this (a whole number of gemm's row blocks).
const SPLIT_ALIGN: usize = 64;

/// `c = a · b` or `c += a · b` through gemm, on `threads` threads.
fn gemm_call<T: Float>(
    a: ArrayView2<T>,
    b: ArrayView2<T>,
    mut c: ArrayViewMut2<T>,
    accumulate: bool,
    threads: usize,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    let parallelism = match threads {
        1 => gemm::Parallelism::None,
        t => gemm::Parallelism::Rayon(t),
    };

    // (row stride, column stride) in elements; gemm takes them the other way round.
    let strides = |s: &[isize]| (s[0], s[1]);
    let ((a_rs, a_cs), (b_rs, b_cs), (c_rs, c_cs)) = (
        strides(a.strides()),
        strides(b.strides()),
        strides(c.strides()),
    );
    // SAFETY: the pointers and element strides describe the three views, whose shapes were
    // checked above; `c` is borrowed mutably, so it aliases neither input; T is f32 or f64
    // (the only `Float`s), both of which gemm supports.
    let mut call = move || unsafe {
        // Its packing buffer from the kept blocks (see `packing.rs`).
        super::packing::packing(|| {
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                c_cs,
                c_rs,
                accumulate,
                a.as_ptr(),
                a_cs,
                a_rs,
                b.as_ptr(),
                b_cs,
                b_rs,
                T::one(),
                T::one(),
                false,
                false,
                false,
                parallelism,
            )
        })
    };
    // gemm's threads are those of the pool it is called on: ferroprop's.
    match threads {
        1 => call(),
        _ => crate::pool::install(call),
    }
}

/// Layers with at most this many units and inputs use the fixed-width row loops (at 16
/// units, as in the 2-16-16-1 network, a packed product is already faster).
pub const FIXED_M: usize = 8;
pub const FIXED_K: usize = 32;

/// Calls `$f::<T, M>($args)` for the run-time width `$m` in `1..=FIXED_M`.
macro_rules! by_width {
    ($m:expr, $f:ident, $t:ty, ($($arg:expr),*)) => {
        match $m {
            1 => $f::<$t, 1>($($arg),*),
            2 => $f::<$t, 2>($($arg),*),
            3 => $f::<$t, 3>($($arg),*),
            4 => $f::<$t, 4>($($arg),*),
            5 => $f::<$t, 5>($($arg),*),
            6 => $f::<$t, 6>($($arg),*),
            7 => $f::<$t, 7>($($arg),*),
            _ => $f::<$t, 8>($($arg),*),
        }
    };
}

fn fixed_width(k: usize, m: usize) -> bool {
    (1..=FIXED_M).contains(&m) && (1..=FIXED_K).contains(&k)
}

fn fixed_affine<T: Float, const M: usize>(a: &[T], k: usize, w: &[T], b: &[T], z: &mut [T]) {
    let mut bias = [T::zero(); M];
    bias.copy_from_slice(b);
    for (z_row, a_row) in z.chunks_exact_mut(M).zip(a.chunks_exact(k)) {
        let mut acc = bias;
        for (&a_ik, w_row) in a_row.iter().zip(w.chunks_exact(M)) {
            for j in 0..M {
                acc[j] += a_ik * w_row[j];
            }
        }
        z_row.copy_from_slice(&acc);
    }
}

fn fixed_at_b<T: Float, const M: usize>(a: &[T], k: usize, dz: &[T], dw: &mut [T]) {
    // One row of dW at a time, its accumulators in registers, summing over the batch in
    // row order (a column of `a` is read with stride k, small here).
    for (kk, dw_row) in dw.chunks_exact_mut(M).enumerate() {
        let mut acc = [T::zero(); M];
        for (&a_ik, dz_row) in a[kk..].iter().step_by(k).zip(dz.chunks_exact(M)) {
            for j in 0..M {
                acc[j] += a_ik * dz_row[j];
            }
        }
        dw_row.copy_from_slice(&acc);
    }
}

fn fixed_a_bt<T: Float, const M: usize>(dz: &[T], k: usize, w: &[T], da: &mut [T]) {
    for (da_row, dz_row) in da.chunks_exact_mut(k).zip(dz.chunks_exact(M)) {
        let mut d = [T::zero(); M];
        d.copy_from_slice(dz_row);
        for (da_ik, w_row) in da_row.iter_mut().zip(w.chunks_exact(M)) {
            let mut s = T::zero();
            for j in 0..M {
                s += d[j] * w_row[j];
            }
            *da_ik = s;
        }
    }
}

/// Batches of at most this many rows through layers of fewer than `FEW_ROWS_WEIGHTS`
/// weights, and single rows through any layer, skip the packed product in `affine`.
pub const FEW_ROWS: usize = 4;
pub const FEW_ROWS_WEIGHTS: usize = 1 << 14;
/// A row through at least this many weights is summed in two halves of the rows of W, on
/// two threads if there are (see `affine`).
const FEW_ROWS_THREADED: usize = 1 << 18;

/// `z = a · W + b`.
///
/// For one row (predicting one sample, say), or a few through a small layer, packing W for
/// gemm costs more than the product itself: each row of `z` is instead
/// `b + Σ_k a_k W[k, :]`, summed in the order of `k`, W read row by row (`few_rows`);
/// through at least `FEW_ROWS_THREADED` weights, `(b + Σ_{k<h}) + Σ_{k≥h}` for the two
/// halves of the rows of W, each streamed by a thread of its own. One row is faster this
/// way through layers as large as 1024 × 1024; two rows through 256 × 256 weights already
/// favour gemm, hence `FEW_ROWS_WEIGHTS`
/// (`benches/compare.py` times a one-sample `predict`).
pub fn affine<T: Float>(
    a: ArrayView2<T>,
    w: ArrayView2<T>,
    b: ArrayView1<T>,
    mut z: ArrayViewMut2<T>,
) {
    let (k, m) = w.dim();
    if fixed_width(k, m) {
        if let (Some(a_s), Some(w_s), Some(b_s)) = (a.as_slice(), w.as_slice(), b.as_slice()) {
            if let Some(z_s) = z.as_slice_mut() {
                return by_width!(m, fixed_affine, T, (a_s, k, w_s, b_s, z_s));
            }
        }
    }
    let rows = a.nrows();
    let few = (rows == 1 || (rows <= FEW_ROWS && k * m < FEW_ROWS_WEIGHTS))
        && m > 0
        && z.strides()[1] == 1;
    if let (true, Some(w_s), Some(b_s)) = (few, w.as_slice(), b.as_slice()) {
        // Large layers: the rows of W in two halves, each streamed by one thread from
        // start to end (halves of the columns would have each thread read half of every
        // row: shorter runs, which the prefetchers follow worse). The halves' sums are
        // added at the end; whether to split depends on the sizes only, so the bits do
        // not depend on the thread count.
        let split = (k * m >= FEW_ROWS_THREADED && k >= 2 * ROWS).then(|| k / 2 / ROWS * ROWS);
        let threads = parallel();
        // The second half's sums, from zeros.
        let (zeros, mut second) = match split {
            Some(_) => (vec![T::zero(); m], vec![T::zero(); m]),
            None => (Vec::new(), Vec::new()),
        };
        for (mut z_row, a_row) in z.rows_mut().into_iter().zip(a.rows()) {
            let z_row = z_row.as_slice_mut().expect("unit column stride");
            let Some(h) = split else {
                few_rows(a_row, w_s, m, 0, b_s, z_row);
                continue;
            };
            let (a_1, a_2) = a_row.split_at(Axis(0), h);
            let (w_1, w_2) = w_s.split_at(h * m);
            let mut first = || few_rows(a_1, w_1, m, 0, b_s, z_row);
            let mut other = || few_rows(a_2, w_2, m, 0, &zeros, &mut second);
            match threads {
                true => _ = crate::pool::join(first, other),
                false => {
                    first();
                    other();
                }
            }
            for (z, s) in z_row.iter_mut().zip(&second) {
                *z += *s;
            }
        }
        return;
    }
    // The bias is written first and the product accumulated onto it.
    match split_rows(rows, z.len()) {
        Some(h) => {
            let (z_1, z_2) = z.view_mut().split_at(Axis(0), h);
            crate::pool::join(|| assign_rows(z_1, b), || assign_rows(z_2, b));
        }
        None => z.assign(&b),
    }
    product(a, w, z, true);
}

/// Every row of `z` set to `b`.
fn assign_rows<T: Float>(mut z: ArrayViewMut2<T>, b: ArrayView1<T>) {
    z.assign(&b);
}

/// Rows of W `few_rows` adds to `z` in one pass over it.
const ROWS: usize = 4;

dispatch!(few_rows, few_rows_avx2, few_rows_avx512, few_rows_body, (a: ArrayView1<T>, w: &[T], m: usize, from: usize, b: &[T], z: &mut [T]));

/// `z = b + Σ_k a_k W[k, from..from + z.len()]` for the `m` columns of a row-major `w`, the
/// sum in the order of `k`.
///
/// W is read row by row, in the order it lies in memory, `ROWS` rows per pass over `z`:
/// each vector of `z` is loaded, gets `a_k · W[k, j..]` added for those rows in the
/// order of `k`, and is stored back. `z` (a row of at most a few thousand values) stays
/// in L1 while W streams from memory; walking W a block of columns at a time instead,
/// down all its rows, reads it with a stride of a whole row, which the hardware does
/// not prefetch well (2.4× slower on 784 → 1024 → 1024 in float64).
#[inline(always)]
fn few_rows_body<T: Float, L: crate::kernels::simd::Level>(
    a: ArrayView1<T>,
    w: &[T],
    m: usize,
    from: usize,
    b: &[T],
    z: &mut [T],
) {
    z.copy_from_slice(b);
    let n = z.len();
    let w_rows = w.chunks_exact(m).map(|row| &row[from..][..n]);
    let mut rows = a.iter().copied().zip(w_rows);
    loop {
        let group: [Option<(T, &[T])>; ROWS] = std::array::from_fn(|_| rows.next());
        match group {
            [Some(r0), Some(r1), Some(r2), Some(r3)] => add_rows::<T, L, ROWS>([r0, r1, r2, r3], z),
            _ => {
                for row in group.into_iter().flatten() {
                    add_rows::<T, L, 1>([row], z);
                }
                return;
            }
        }
    }
}

/// `z += a_0 W_0 + a_1 W_1 + …`, added to each value of `z` in that order.
#[inline(always)]
fn add_rows<T: Float, L: crate::kernels::simd::Level, const R: usize>(
    rows: [(T, &[T]); R],
    z: &mut [T],
) {
    let splats: [L::V<T>; R] = std::array::from_fn(|r| L::V::<T>::splat(rows[r].0));
    let whole = z.len() / LANES * LANES;
    let (z_whole, z_rest) = z.split_at_mut(whole);
    for (j, z_j) in z_whole.chunks_exact_mut(LANES).enumerate() {
        let z_j: &mut [T; LANES] = z_j.try_into().unwrap();
        let mut acc = L::V::<T>::load(z_j);
        for (splat, (_, w_row)) in splats.iter().zip(&rows) {
            let w_j = L::V::<T>::load(w_row[j * LANES..][..LANES].try_into().unwrap());
            acc = acc.add(splat.mul(w_j));
        }
        acc.store(z_j);
    }
    for (i, z_i) in z_rest.iter_mut().enumerate() {
        for &(a_k, w_row) in &rows {
            *z_i += a_k * w_row[whole + i];
        }
    }
}

/// `dW = aᵀ · dz` (overwrites `dw`).
pub fn at_b<T: Float>(a: ArrayView2<T>, dz: ArrayView2<T>, mut dw: ArrayViewMut2<T>) {
    let (k, m) = dw.dim();
    if let (true, Some(a_s), Some(dz_s)) = (fixed_width(k, m), a.as_slice(), dz.as_slice()) {
        if let Some(dw_s) = dw.as_slice_mut() {
            return by_width!(m, fixed_at_b, T, (a_s, k, dz_s, dw_s));
        }
    }
    product(a.t(), dz, dw, false);
}

/// `da = dz · Wᵀ` (overwrites `da`). `spare` is memory the caller has no use for until
/// the product is done (the layer's `dW`, computed after it); large products put their
/// transposed copy of W there instead of in a buffer of their own.
pub fn a_bt<T: Float>(
    dz: ArrayView2<T>,
    w: ArrayView2<T>,
    mut da: ArrayViewMut2<T>,
    spare: &mut [T],
) {
    let (k, m) = w.dim();
    if let (true, Some(dz_s), Some(w_s)) = (fixed_width(k, m), dz.as_slice(), w.as_slice()) {
        if let Some(da_s) = da.as_slice_mut() {
            return by_width!(m, fixed_a_bt, T, (dz_s, k, w_s, da_s));
        }
    }
    let n = dz.nrows();
    let macs = n.saturating_mul(m).saturating_mul(k);
    if let (true, Some(w_s)) = (macs >= SPLIT_MACS, w.as_slice()) {
        // gemm makes a row-major product its transpose and packs the operand that gives
        // the output its columns: here W, gathered a row at a time at a stride of 4 or
        // 8 KiB, which maps every row to the same cache set. A blocked transposed copy of
        // W (`transpose_into`, into rows padded by a cache line) costs less than that
        // gather, and the product from it packs contiguous rows, like the forward product
        // (`cargo bench`'s 784-1024-1024-10 epoch measures it). On 64-256-256-10 it does
        // no better than the column-major path below. The padded copy is a little larger
        // than `spare`: it is made, and used, for blocks of `width` columns of da in turn.
        let mut by_blocks = |scratch: &mut [T], width: usize| {
            for start in (0..k).step_by(width) {
                let cols = width.min(k - start);
                let w_t = Strided::new(m, cols, cols + pad::<T>());
                transpose_into(&w_s[start * m..], Strided::new(cols, m, m), scratch, w_t);
                let copy = &scratch[..w_t.len()];
                let w_t = ArrayView2::from_shape((m, cols).strides((w_t.stride, 1)), copy)
                    .expect("the scratch holds the strided copy");
                product(dz, w_t, da.slice_mut(s![.., start..start + cols]), false);
            }
        };
        match transposed_width::<T>(k, m, spare.len()) {
            Some(width) => return by_blocks(spare, width),
            None => {
                if with_scratch(m * (k + pad::<T>()), |scratch| by_blocks(scratch, k)).is_some() {
                    return;
                }
            }
        }
    }
    if let (true, true, Some(da_s)) = (large(n, m, k), n < k, da.as_slice_mut()) {
        // For mid-sized products with fewer batch rows than layer inputs, the product goes
        // into a column-major buffer instead: gemm then packs `dz`, the smaller operand,
        // and the copy back costs less than the difference (`cargo bench`'s 64-256-256-10
        // epoch measures it).
        let columns = Strided::new(k, n, n + pad::<T>());
        let mut by_columns = |scratch: &mut [T]| {
            // `daᵀ`, row-major with padded rows: `da` column-major.
            let mut da_t = ArrayViewMut2::from_shape((n, k).strides((1, columns.stride)), scratch)
                .expect("the scratch holds the strided product");
            product(dz, w.t(), da_t.view_mut(), false);
            transpose_into(scratch, columns, da_s, Strided::new(n, k, k));
        };
        if spare.len() >= columns.len() {
            return by_columns(&mut spare[..columns.len()]);
        }
        if with_scratch(columns.len(), by_columns).is_some() {
            return;
        }
    }
    // Also where the scratch could not be allocated: the same product, read in place.
    product(dz, w.t(), da, false);
}

/// The width of the blocks of columns in which the padded transposed copy of a `k × m`
/// matrix fits in `spare` values: `k` if it fits whole, otherwise blocks as even as can be
/// in multiples of `SPLIT_ALIGN` columns (so that each block's product still splits evenly
/// between two threads); None if not even one such block fits.
fn transposed_width<T>(k: usize, m: usize, spare: usize) -> Option<usize> {
    let cols = (spare / m.max(1)).checked_sub(pad::<T>())?;
    if k <= cols {
        return Some(k);
    }
    let widest = cols / SPLIT_ALIGN * SPLIT_ALIGN;
    let blocks = k.div_ceil((widest > 0).then_some(widest)?);
    Some(k.div_ceil(blocks).div_ceil(SPLIT_ALIGN) * SPLIT_ALIGN)
}

/// Values of padding after each row of a transposed copy: one cache line. Rows a power of
/// two bytes apart map to the same cache set, and the copy, which writes eight rows at
/// once, evicts its own lines.
fn pad<T>() -> usize {
    64 / std::mem::size_of::<T>()
}

/// A matrix in a slice: `rows × cols` values, row `r` starting at `r · stride`.
#[derive(Clone, Copy)]
struct Strided {
    rows: usize,
    cols: usize,
    stride: usize,
}

impl Strided {
    fn new(rows: usize, cols: usize, stride: usize) -> Self {
        assert!(stride >= cols, "stride");
        Strided { rows, cols, stride }
    }

    /// The values the matrix spans.
    fn len(self) -> usize {
        match self.rows {
            0 => 0,
            r => (r - 1) * self.stride + self.cols,
        }
    }
}

/// `dst = srcᵀ`, `src` being `rows × cols` and `dst` `cols × rows`. Copies of at least
/// `TRANSPOSE_SPLIT` values are split between two threads by halves of `dst` (a 1024 × 784
/// copy gains from the second thread, a 512 × 512 one does not).
fn transpose_into<T: Float>(src: &[T], s: Strided, dst: &mut [T], d: Strided) {
    assert!(d.rows == s.cols && d.cols == s.rows && src.len() >= s.len() && dst.len() >= d.len());
    let values = s.rows * s.cols;
    // Halves of whole blocks of columns; fewer than two blocks stay on one thread.
    let half = (s.cols / 2).div_ceil(8) * 8;
    if values >= TRANSPOSE_SPLIT && half < s.cols && num_threads() > 1 && !SERIAL.with(|c| c.get())
    {
        let (d_1, d_2) = dst.split_at_mut(half * d.stride);
        crate::pool::join(
            || transpose_cols(src, s, 0..half, d_1, d.stride),
            || transpose_cols(src, s, half..s.cols, d_2, d.stride),
        );
    } else {
        transpose_cols(src, s, 0..s.cols, dst, d.stride);
    }
}

const TRANSPOSE_SPLIT: usize = 1 << 19;

/// `dst[c − cols.start][r] = src[r][c]` for the columns `cols` of `src` (checked by
/// `transpose_into`), in blocks of 8 × 8 float32 or 4 × 4 float64 values: with AVX, one
/// register per row of a block, transposed by shuffles.
fn transpose_cols<T: Float>(
    src: &[T],
    s: Strided,
    cols: std::ops::Range<usize>,
    dst: &mut [T],
    d_stride: usize,
) {
    let k = if std::mem::size_of::<T>() == 4 { 8 } else { 4 };
    // The bounds the blocks below rely on (checked here, not only by the caller).
    assert!(
        cols.end <= s.cols && src.len() >= s.len(),
        "transposed columns in bounds"
    );
    assert!(cols.is_empty() || dst.len() >= (cols.len() - 1) * d_stride + s.rows);
    assert!(d_stride >= s.rows, "destination stride");
    let full_rows = s.rows / k * k;
    let full_cols = cols.start + cols.len() / k * k;
    #[cfg(target_arch = "x86_64")]
    let avx = crate::kernels::simd() != crate::kernels::Simd::Baseline;
    #[cfg(not(target_arch = "x86_64"))]
    let avx = false;
    let at = |r: usize, c: usize| (r * s.stride + c, (c - cols.start) * d_stride + r);
    for r0 in (0..full_rows).step_by(k) {
        for c0 in (cols.start..full_cols).step_by(k) {
            let (from, to) = at(r0, c0);
            if avx {
                // SAFETY: simd() found AVX2 (so AVX) on this CPU. The block's last value
                // is at `from + (k − 1) · stride + k − 1 < s.len()` in `src` (r0 + k ≤
                // rows, c0 + k ≤ cols.end ≤ s.cols) and at `to + (k − 1) · d_stride + k − 1`
                // in `dst`, below `(cols.len() − 1) · d_stride + rows ≤ dst.len()` (the
                // asserts above).
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    transpose_block_avx(
                        src.as_ptr().add(from),
                        s.stride,
                        dst.as_mut_ptr().add(to),
                        d_stride,
                    )
                };
            } else {
                for r in 0..k {
                    for c in 0..k {
                        dst[to + c * d_stride + r] = src[from + r * s.stride + c];
                    }
                }
            }
        }
    }
    // The rows below the last whole block, then the columns right of it.
    for (rows, cs) in [
        (full_rows..s.rows, cols.clone()),
        (0..full_rows, full_cols..cols.end),
    ] {
        for r in rows {
            for c in cs.clone() {
                let (from, to) = at(r, c);
                dst[to] = src[from];
            }
        }
    }
}

/// Transposes the 8 × 8 float32 or 4 × 4 float64 block at `src` (rows `s_stride` apart)
/// into the block at `dst` (rows `d_stride` apart).
///
/// # Safety
/// AVX must be available, and both blocks in bounds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_block_avx<T: Float>(
    src: *const T,
    s_stride: usize,
    dst: *mut T,
    d_stride: usize,
) {
    use std::arch::x86_64::*;
    if std::mem::size_of::<T>() == 4 {
        let (src, dst) = (src as *const f32, dst as *mut f32);
        let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * s_stride)));
        // Pairs of rows interleaved, then quadruples, then the 128-bit halves exchanged.
        let t: [__m256; 8] = std::array::from_fn(|i| match i % 2 {
            0 => _mm256_unpacklo_ps(r[i], r[i + 1]),
            _ => _mm256_unpackhi_ps(r[i - 1], r[i]),
        });
        let u = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
        ];
        for i in 0..4 {
            _mm256_storeu_ps(
                dst.add(i * d_stride),
                _mm256_permute2f128_ps::<0x20>(u[i], u[i + 4]),
            );
            _mm256_storeu_ps(
                dst.add((i + 4) * d_stride),
                _mm256_permute2f128_ps::<0x31>(u[i], u[i + 4]),
            );
        }
    } else {
        let (src, dst) = (src as *const f64, dst as *mut f64);
        let r: [__m256d; 4] = std::array::from_fn(|i| _mm256_loadu_pd(src.add(i * s_stride)));
        let t = [
            _mm256_unpacklo_pd(r[0], r[1]),
            _mm256_unpackhi_pd(r[0], r[1]),
            _mm256_unpacklo_pd(r[2], r[3]),
            _mm256_unpackhi_pd(r[2], r[3]),
        ];
        for i in 0..2 {
            _mm256_storeu_pd(
                dst.add(i * d_stride),
                _mm256_permute2f128_pd::<0x20>(t[i], t[i + 2]),
            );
            _mm256_storeu_pd(
                dst.add((i + 2) * d_stride),
                _mm256_permute2f128_pd::<0x31>(t[i], t[i + 2]),
            );
        }
    }
}

thread_local! {
    /// `with_scratch`'s buffer, one per thread, grown to the largest request and kept.
    static SCRATCH: std::cell::Cell<Vec<u64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs `f` on `len` values of this thread's scratch buffer (contents unspecified), which
/// is allocated once and reused: no allocation per training step. `None`, without running
/// `f`, if the buffer cannot grow to `len`.
///
/// The buffer is taken out of the thread-local for the duration of `f`. A thread waiting
/// in `rayon::join` inside `f` may run another task (another network's `fit`, say), which
/// then finds the slot empty and uses a buffer of its own.
fn with_scratch<T: Float, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> Option<R> {
    let mut words = SCRATCH.with(|cell| cell.take());
    let need = (len * std::mem::size_of::<T>()).div_ceil(8);
    if words.len() < need {
        // Out of memory is no error here: the caller computes without the scratch.
        if words.try_reserve_exact(need - words.len()).is_err() {
            SCRATCH.with(|cell| cell.set(words));
            return None;
        }
        words.resize(need, 0);
    }
    // SAFETY: the buffer holds at least `len · size_of::<T>()` initialized bytes, u64's
    // alignment (8) is at least T's (f32 or f64, the only `Float`s), any bits are a valid
    // f32 or f64, and the buffer is owned here, so the slice is exclusive.
    let values = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut T, len) };
    let result = f(values);
    SCRATCH.with(|cell| cell.set(words));
    Some(result)
}

/// `db = Σ_rows dz` (overwrites `db`). Large ones by halves of the columns on two threads:
/// each column is still summed row by row, in order, so the bits are the same.
pub fn column_sums<T: Float>(dz: ArrayView2<T>, db: &mut ndarray::Array1<T>) {
    column_sums_into(dz, db.view_mut());
}

fn column_sums_into<T: Float>(dz: ArrayView2<T>, mut db: ndarray::ArrayViewMut1<T>) {
    let m = dz.ncols();
    db.fill(T::zero());
    match (dz.as_slice(), db.as_slice_mut()) {
        // Narrow layers (the tutorial's 4, 3, 1 units): accumulators of a fixed width stay
        // in registers; a runtime-width inner loop of a few columns does not vectorize.
        (Some(dz_s), Some(db_s)) if (1..=FIXED_M).contains(&m) => {
            by_width!(m, fixed_sums, T, (dz_s, db_s))
        }
        (Some(dz_s), Some(db_s)) if m >= 32 && dz_s.len() >= PARALLEL_PASS && parallel() => {
            let h = m / 2 / 16 * 16; // whole cache lines of either type
            let (db_1, db_2) = db_s.split_at_mut(h);
            crate::pool::join(
                || range_sums(dz_s, m, 0, db_1),
                || range_sums(dz_s, m, h, db_2),
            );
        }
        (Some(dz_s), Some(db_s)) if m > 0 => range_sums(dz_s, m, 0, db_s),
        _ => {
            for row in dz.rows() {
                db.zip_mut_with(&row, |s, &v| *s += v);
            }
        }
    }
}

/// `db += Σ_rows dz[.., from..from + db.len()]` for a row-major `dz` of `m` columns, rows
/// added in order.
fn range_sums<T: Float>(dz: &[T], m: usize, from: usize, db: &mut [T]) {
    for row in dz.chunks_exact(m) {
        for (s, &v) in db.iter_mut().zip(&row[from..]) {
            *s += v;
        }
    }
}

/// Column sums of a row-major matrix of `M` columns, rows added in order.
fn fixed_sums<T: Float, const M: usize>(dz: &[T], db: &mut [T]) {
    let mut acc = [T::zero(); M];
    for row in dz.chunks_exact(M) {
        for j in 0..M {
            acc[j] += row[j];
        }
    }
    db.copy_from_slice(&acc);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array1, Array2};

    fn seq<T: Float>(n: usize, m: usize, offset: f64) -> Array2<T> {
        Array2::from_shape_fn((n, m), |(i, j)| {
            T::c(((i * 7 + j * 3) % 11) as f64 * 0.25 - offset)
        })
    }

    /// A task run inside `with_scratch` (by a thread waiting in a join) that needs the
    /// scratch too gets a buffer of its own, not a panic or the same memory.
    #[test]
    fn nested_scratch_is_a_different_buffer() {
        with_scratch(64, |outer: &mut [f64]| {
            outer.fill(1.0);
            with_scratch(64, |inner: &mut [f64]| {
                assert_ne!(inner.as_ptr(), outer.as_ptr());
                inner.fill(2.0);
            });
            assert!(outer.iter().all(|&v| v == 1.0));
        });
        // The outer buffer is kept for the next call.
        let first = with_scratch(64, |s: &mut [f64]| s.as_ptr() as usize);
        let again = with_scratch(32, |s: &mut [f64]| s.as_ptr() as usize);
        assert_eq!(first, again);
        // A size no allocation can hold runs nothing and keeps the buffer.
        assert_eq!(with_scratch(usize::MAX / 16, |_: &mut [f64]| ()), None);
        assert_eq!(with_scratch(32, |s: &mut [f64]| s.as_ptr() as usize), first);
    }

    /// Transposed copies against the definition, into rows padded or not, including long
    /// thin matrices (too few columns to split between threads) and partial blocks.
    #[test]
    fn transposes_agree_with_the_definition() {
        for (rows, cols) in [
            (105_000, 5),
            (5, 105_000),
            (1030, 517),
            (37, 41),
            (1, 9),
            (0, 3),
        ] {
            let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            for pad in [0, 16] {
                let d = Strided::new(cols, rows, rows + pad);
                let mut dst = vec![-1.0f32; d.len()];
                transpose_into(&src, Strided::new(rows, cols, cols), &mut dst, d);
                for c in 0..cols {
                    for r in 0..rows {
                        assert_eq!(dst[c * d.stride + r], src[r * cols + c], "{rows}x{cols}");
                    }
                }
            }
            let src: Vec<f64> = src.iter().map(|&v| v as f64).collect();
            let d = Strided::new(cols, rows, rows + 8);
            let mut dst = vec![-1.0f64; d.len()];
            transpose_into(&src, Strided::new(rows, cols, cols), &mut dst, d);
            for c in 0..cols {
                for r in 0..rows {
                    assert_eq!(dst[c * d.stride + r], src[r * cols + c], "{rows}x{cols}");
                }
            }
        }
    }

    /// The products and the column sums against ndarray's `dot` (exactly, on these
    /// quarter-integers), for contiguous and strided operands, in both precisions (the
    /// transposed copies use tiles of 16 float32 or 8 float64 values).
    #[test]
    fn kernels_agree_with_ndarray_dot() {
        agree_with_ndarray_dot::<f64>();
        agree_with_ndarray_dot::<f32>();
    }

    fn agree_with_ndarray_dot<T: Float>() {
        for (n, k, m) in [
            (5, 2, 4),
            (3, 4, 3),
            (7, 16, 16),
            (4, 40, 30),
            (1, 1, 1),
            (1, 9, 33),
            (2, 130, 130),   // few rows, but too many weights for the row loop
            (1, 130, 130),   // one row: 130 = 4·32 + 2 rows of W, 16 vectors + 2 columns
            (3, 70, 100),    // a few rows through a small layer
            (1, 600, 500),   // one row through many weights: rows of W in halves of 300
            (1, 30000, 10),  // the same with few columns
            (1, 1031, 300),  // halves of 512 and 519 rows of W
            (256, 320, 512), // ≥ SPLIT_MACS: each product in two column blocks (320 = 192 + 128)
            (129, 333, 397), // the same; da from a transposed W, with partial tiles
            (40, 731, 723),  // the same, the transposed copy in two halves (≥ TRANSPOSE_SPLIT)
            (64, 256, 128),  // da through the column-major scratch (fewer rows than inputs)
            (37, 300, 100),  // the same, with partial 16 × 16 blocks in the copy back
        ] {
            let a = seq::<T>(n, k, 1.0);
            let w = seq::<T>(k, m, 0.5);
            let b = Array1::from_shape_fn(m, |j| T::c(j as f64));
            let dz = seq::<T>(n, m, 0.75);
            let want_z = a.dot(&w) + &b;
            let want_dw = a.t().dot(&dz);
            let want_da = dz.dot(&w.t());
            let want_db = dz.sum_axis(ndarray::Axis(0));
            let (mut z, mut dw, mut da, mut db) = (
                Array2::zeros((n, m)),
                Array2::zeros((k, m)),
                Array2::zeros((n, k)),
                Array1::zeros(m),
            );
            affine(a.view(), w.view(), b.view(), z.view_mut());
            at_b(a.view(), dz.view(), dw.view_mut());
            // No spare memory (a scratch buffer of its own), the spare memory of a dW,
            // and more than enough of it (one block).
            for spare in [0, k * m, (k + 8) * (m + 8)] {
                a_bt(
                    dz.view(),
                    w.view(),
                    da.view_mut(),
                    &mut vec![T::c(7.0); spare],
                );
                assert_eq!(da, want_da, "{n}x{k}x{m}, {spare} spare values");
            }
            column_sums(dz.view(), &mut db);
            assert_eq!(
                (&z, &dw, &da, &db),
                (&want_z, &want_dw, &want_da, &want_db),
                "{n}x{k}x{m}"
            );
            // Strided inputs take the general path and agree too.
            let a2 = Array2::from_shape_fn((n, 2 * k), |(i, j)| {
                if j % 2 == 0 {
                    a[[i, j / 2]]
                } else {
                    T::c(99.0)
                }
            });
            let a_strided = a2.slice(s![.., ..;2]);
            affine(a_strided, w.view(), b.view(), z.view_mut());
            assert_eq!(z, want_z);
        }
    }
}
