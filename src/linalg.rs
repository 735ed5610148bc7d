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
//! threads from rayon's pool for large products), except for small layers — at most
//! `NARROW_K` inputs and `NARROW_M` units, like the tutorial's 2 → 4 → 3 → 1 — where
//! packing the operands costs more than the arithmetic: there, row loops with a
//! compile-time width keep a row of accumulators in registers. (Row loops with a run-time
//! width were measured 2× slower than a packed product: they do not vectorize.) gemm
//! splits a product between threads by blocks of the output, never along `k`, and the
//! largest products are split in two blocks of columns here whatever the thread count
//! (`SPLIT_MACS`), so results do not depend on the thread count (`FERROPROP_NUM_THREADS`;
//! tests/test_determinism.py).

use crate::Float;
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2, Axis, ShapeBuilder};
use std::sync::OnceLock;

/// Products of at least this many multiply-adds use several threads.
const THREADED_MACS: usize = 1 << 20;

/// Threads for large products: `FERROPROP_NUM_THREADS` if set to a positive integer,
/// otherwise the number of CPUs.
pub fn num_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("FERROPROP_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

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

/// Runs `f` with every product on the calling thread (for work already split across
/// threads, see train.rs).
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
                rayon::join(
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
/// results do not depend on the thread count. Measured on 784-1024-1024-10 (batch 256, fit's
/// epoch, best of 3): float32 526 → 490 ms, float64 925 → 896 ms.
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
    unsafe {
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
    }
}

/// Layers with at most this many units and inputs use the fixed-width row loops (16 units
/// measured slower than a packed product on the 2-16-16-1 network).
pub const NARROW_M: usize = 8;
pub const NARROW_K: usize = 32;

/// Calls `$f::<T, M>($args)` for the run-time width `$m` in `1..=NARROW_M`.
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

fn narrow(k: usize, m: usize) -> bool {
    (1..=NARROW_M).contains(&m) && (1..=NARROW_K).contains(&k)
}

fn narrow_affine<T: Float, const M: usize>(a: &[T], k: usize, w: &[T], b: &[T], z: &mut [T]) {
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

fn narrow_at_b<T: Float, const M: usize>(a: &[T], k: usize, dz: &[T], dw: &mut [T]) {
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

fn narrow_a_bt<T: Float, const M: usize>(dz: &[T], k: usize, w: &[T], da: &mut [T]) {
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
/// weights skip the packed product in `affine` (see there).
pub const FEW_ROWS: usize = 4;
pub const FEW_ROWS_WEIGHTS: usize = 1 << 14;

/// `z = a · W + b`.
///
/// For a few rows (predicting one sample, say) through a small layer, calling gemm costs
/// more than the product itself, so each row of `z` is accumulated as `b + Σ_k a_k W[k, :]`
/// over the contiguous rows of `W`. (For one row through 256 × 256 weights gemm takes
/// 6 µs and this loop 11; through 1024 × 10, 4.5 and 3.4.)
pub fn affine<T: Float>(
    a: ArrayView2<T>,
    w: ArrayView2<T>,
    b: ArrayView1<T>,
    mut z: ArrayViewMut2<T>,
) {
    let (k, m) = w.dim();
    if narrow(k, m) {
        if let (Some(a_s), Some(w_s), Some(b_s)) = (a.as_slice(), w.as_slice(), b.as_slice()) {
            if let Some(z_s) = z.as_slice_mut() {
                return by_width!(m, narrow_affine, T, (a_s, k, w_s, b_s, z_s));
            }
        }
    }
    let few = a.nrows() <= FEW_ROWS && k * m < FEW_ROWS_WEIGHTS && m > 0 && z.strides()[1] == 1;
    if let (true, Some(w_s), Some(b_s)) = (few, w.as_slice(), b.as_slice()) {
        for (mut z_row, a_row) in z.rows_mut().into_iter().zip(a.rows()) {
            let z_row = z_row.as_slice_mut().expect("unit column stride");
            z_row.copy_from_slice(b_s);
            for (&a_k, w_row) in a_row.iter().zip(w_s.chunks_exact(m)) {
                for (z_j, &w_kj) in z_row.iter_mut().zip(w_row) {
                    *z_j += a_k * w_kj;
                }
            }
        }
        return;
    }
    // The bias is written first and the product accumulated onto it.
    z.assign(&b);
    product(a, w, z, true);
}

/// `dW = aᵀ · dz` (overwrites `dw`).
pub fn at_b<T: Float>(a: ArrayView2<T>, dz: ArrayView2<T>, mut dw: ArrayViewMut2<T>) {
    let (k, m) = dw.dim();
    if let (true, Some(a_s), Some(dz_s)) = (narrow(k, m), a.as_slice(), dz.as_slice()) {
        if let Some(dw_s) = dw.as_slice_mut() {
            return by_width!(m, narrow_at_b, T, (a_s, k, dz_s, dw_s));
        }
    }
    product(a.t(), dz, dw, false);
}

/// `da = dz · Wᵀ` (overwrites `da`).
pub fn a_bt<T: Float>(dz: ArrayView2<T>, w: ArrayView2<T>, mut da: ArrayViewMut2<T>) {
    let (k, m) = w.dim();
    if let (true, Some(dz_s), Some(w_s)) = (narrow(k, m), dz.as_slice(), w.as_slice()) {
        if let Some(da_s) = da.as_slice_mut() {
            return by_width!(m, narrow_a_bt, T, (dz_s, k, w_s, da_s));
        }
    }
    let n = dz.nrows();
    let via_columns = large(n, m, k) && n.saturating_mul(m).saturating_mul(k) < SPLIT_MACS;
    if let (true, true, Some(da_s)) = (via_columns, n < k, da.as_slice_mut()) {
        // gemm makes a row-major product its transpose and packs the operand that gives
        // the output its columns: here W, gathered a row of 4 or 8 KiB at a time. Into a
        // column-major buffer the product packs `dz` instead, smaller when the batch has
        // fewer rows than the layer inputs, and the copy back costs less than the
        // difference. Measured (64-256-256-10, fit's epoch, best of 3 runs of 5): float64
        // 58.4–58.8 → 56.1–56.9 ms, float32 32.5–32.8 → 30.1–30.4 ms. Products of
        // `SPLIT_MACS` or more keep the direct path (784-1024-1024-10: 4 % slower this way).
        return with_scratch(n * k, |scratch: &mut [T]| {
            let mut columns = ArrayViewMut2::from_shape((n, k).f(), scratch).expect("n · k values");
            product(dz, w.t(), columns.view_mut(), false);
            transpose_into(columns.view().reversed_axes(), da_s);
        });
    }
    product(dz, w.t(), da, false);
}

/// `dst = srcᵀ` for a row-major `src` of shape `(k, n)` and a row-major `dst` of shape
/// `(n, k)`, in 16 × 16 blocks (a block's rows and columns stay in cache).
fn transpose_into<T: Float>(src: ArrayView2<T>, dst: &mut [T]) {
    const B: usize = 16;
    let (k, n) = src.dim();
    let s = src.as_slice().expect("row-major");
    assert!(dst.len() == n * k && s.len() == n * k);
    for j0 in (0..k).step_by(B) {
        for i0 in (0..n).step_by(B) {
            for j in j0..(j0 + B).min(k) {
                for i in i0..(i0 + B).min(n) {
                    dst[i * k + j] = s[j * n + i];
                }
            }
        }
    }
}

thread_local! {
    /// `with_scratch`'s buffer, one per thread, grown to the largest request and kept.
    static SCRATCH: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` values of this thread's scratch buffer (contents unspecified), which
/// is allocated once and reused: no allocation per training step.
fn with_scratch<T: Float, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut words = cell.borrow_mut();
        let need = (len * std::mem::size_of::<T>()).div_ceil(8);
        if words.len() < need {
            words.resize(need, 0);
        }
        // SAFETY: the buffer holds at least `len · size_of::<T>()` initialized bytes, u64's
        // alignment (8) is at least T's (f32 or f64, the only `Float`s), any bits are a
        // valid f32 or f64, and the borrow of the RefCell keeps the slice exclusive.
        let values = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut T, len) };
        f(values)
    })
}

/// `db = Σ_rows dz` (overwrites `db`).
pub fn column_sums<T: Float>(dz: ArrayView2<T>, db: &mut ndarray::Array1<T>) {
    db.fill(T::zero());
    let m = dz.ncols();
    match (dz.as_slice(), db.as_slice_mut()) {
        // Narrow layers (the tutorial's 4, 3, 1 units): accumulators of a fixed width stay
        // in registers; a runtime-width inner loop of a few columns does not vectorize.
        (Some(dz_s), Some(db_s)) if (1..=NARROW_M).contains(&m) => {
            by_width!(m, narrow_sums, T, (dz_s, db_s))
        }
        (Some(dz_s), Some(db_s)) if m > 0 => {
            for row in dz_s.chunks_exact(m) {
                for (s, &v) in db_s.iter_mut().zip(row) {
                    *s += v;
                }
            }
        }
        _ => {
            for row in dz.rows() {
                *db += &row;
            }
        }
    }
}

/// Column sums of a row-major matrix of `M` columns, rows added in order.
fn narrow_sums<T: Float, const M: usize>(dz: &[T], db: &mut [T]) {
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

    fn seq(n: usize, m: usize, offset: f64) -> Array2<f64> {
        Array2::from_shape_fn((n, m), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f64 * 0.25 - offset
        })
    }

    /// The products and the column sums against ndarray's `dot` (exactly, on these
    /// quarter-integers), for contiguous and strided operands.
    #[test]
    fn kernels_agree_with_ndarray_dot() {
        for (n, k, m) in [
            (5, 2, 4),
            (3, 4, 3),
            (7, 16, 16),
            (4, 40, 30),
            (1, 1, 1),
            (1, 9, 33),
            (2, 130, 130),   // few rows, but too many weights for the row loop
            (256, 320, 512), // ≥ SPLIT_MACS: each product in two column blocks (320 = 192 + 128)
            (64, 256, 128),  // da through the column-major scratch (fewer rows than inputs)
            (37, 300, 100),  // the same, with partial 16 × 16 blocks in the copy back
        ] {
            let a = seq(n, k, 1.0);
            let w = seq(k, m, 0.5);
            let b = Array1::from_shape_fn(m, |j| j as f64);
            let dz = seq(n, m, 0.75);
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
            a_bt(dz.view(), w.view(), da.view_mut());
            column_sums(dz.view(), &mut db);
            assert_eq!(
                (&z, &dw, &da, &db),
                (&want_z, &want_dw, &want_da, &want_db),
                "{n}x{k}x{m}"
            );
            // Strided inputs take the general path and agree too.
            let a2 =
                Array2::from_shape_fn(
                    (n, 2 * k),
                    |(i, j)| {
                        if j % 2 == 0 {
                            a[[i, j / 2]]
                        } else {
                            99.0
                        }
                    },
                );
            let a_strided = a2.slice(s![.., ..;2]);
            affine(a_strided, w.view(), b.view(), z.view_mut());
            assert_eq!(z, want_z);
        }
    }
}
