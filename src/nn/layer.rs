//! A dense layer in matrix form, rows are samples.
//!
//! ```text
//! forward:   z = a_prev · W + b          a = f(z)
//! backward:  dz = da ⊙ f'(z)             (the activation's part, see activation.rs)
//!            dW = a_prevᵀ · dz           db = Σ_rows dz          da_prev = dz · Wᵀ
//! ```
//!
//! # Shapes
//! `a_prev: (n, n_in)`, `W: (n_in, n_out)`, `b: (n_out,)`, `z, a, dz, da: (n, n_out)`.
//!
//! The layer holds parameters only; what a pass computes lives in a [`LayerCache`], whose
//! buffers are allocated once for a number of rows and reused: a batch of `n` rows uses the
//! first `n` rows of each buffer. Its [`Gradient`] (`dW`, `db`, shaped like the parameters)
//! is what an optimizer reads.

use crate::kernels::linalg;
use crate::nn::dropout;
use crate::{Activation, Error, Float, Result};
use ndarray::{s, Array, Array1, Array2, ArrayView2, ArrayViewMut2, Axis, Dimension};

/// Parameters of a dense layer: `z = a_prev · W + b`, `a = activation(z)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense<T> {
    /// Weights, `(n_in, n_out)`.
    pub w: Array2<T>,
    /// Biases, `(n_out,)`.
    pub b: Array1<T>,
    pub activation: Activation,
}

/// The gradient of a loss with respect to one layer's parameters: `dW` shaped like `W`,
/// `db` like `b`. What a backward pass leaves for an optimizer.
#[derive(Debug, Clone, PartialEq)]
pub struct Gradient<T> {
    /// `∂L/∂W`, `(n_in, n_out)`.
    pub dw: Array2<T>,
    /// `∂L/∂b`, `(n_out,)`.
    pub db: Array1<T>,
}

impl<T: Float> Gradient<T> {
    /// The number of values it holds.
    pub fn n_values(&self) -> usize {
        self.dw.len() + self.db.len()
    }

    /// A zero gradient for a layer of shape `(n_in, n_out)`, allocated fallibly.
    pub fn new(n_in: usize, n_out: usize) -> Result<Self> {
        Ok(Gradient {
            dw: try_zeros(n_in, n_out)?,
            db: try_zeros1(n_out)?,
        })
    }

    /// One zero gradient per layer of `layers`.
    pub fn for_layers(layers: &[Dense<T>]) -> Result<Vec<Self>> {
        layers
            .iter()
            .map(|l| Gradient::new(l.n_in(), l.n_out()))
            .collect()
    }
}

/// The values of one pass through a layer: forward `z`, `a`; backward `dz`,
/// `da = ∂L/∂a` (the gradient with respect to this layer's output) and the gradient
/// `(dW, db)` of the parameters. With dropout (`nn/dropout.rs`), `a` is the dropped output
/// `f(z) ⊙ mask`, what the next layer reads.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerCache<T> {
    pub z: Array2<T>,
    pub a: Array2<T>,
    pub dz: Array2<T>,
    pub da: Array2<T>,
    pub grad: Gradient<T>,
    /// Dropout's mask (0 or `1/(1 − p)`), shaped like `z`; empty (0 × 0) when the pass
    /// drops nothing in this layer, and then no pass reads or writes it.
    pub mask: Array2<T>,
    /// `f(z)` before the mask, which `f'` reads; empty with `mask`.
    pub fz: Array2<T>,
}

impl<T: Float> LayerCache<T> {
    /// The number of values it holds, in all its buffers.
    pub fn n_values(&self) -> usize {
        [&self.z, &self.a, &self.dz, &self.da, &self.mask, &self.fz]
            .iter()
            .map(|m| m.len())
            .sum::<usize>()
            + self.grad.n_values()
    }

    /// Buffers for up to `rows` rows through a layer of shape `(n_in, n_out)`; an error,
    /// not an abort, if they cannot be allocated.
    pub fn new(rows: usize, n_in: usize, n_out: usize) -> Result<Self> {
        Ok(LayerCache {
            dz: try_zeros(rows, n_out)?,
            ..Self::training(rows, n_in, n_out)?
        })
    }

    /// Buffers for training passes through a hidden layer: `dz` is computed in place over
    /// `da` (`Activation::backward_in_place`), so it has no buffer of its own (0 × 0) —
    /// a training pass reads neither after the next layer's backward step, and a layer of
    /// 1024 units on 4096 rows holds 32 MiB less in float64. The step API keeps both
    /// (`new`): it shows `da` and `dz` after `backward`.
    pub fn training(rows: usize, n_in: usize, n_out: usize) -> Result<Self> {
        Ok(LayerCache {
            z: try_zeros(rows, n_out)?,
            a: try_zeros(rows, n_out)?,
            dz: Array2::zeros((0, 0)),
            da: try_zeros(rows, n_out)?,
            grad: Gradient::new(n_in, n_out)?,
            mask: Array2::zeros((0, 0)),
            fz: Array2::zeros((0, 0)),
        })
    }

    /// Whether `dz` is computed in place over `da` (`training`).
    pub fn delta_in_da(&self) -> bool {
        self.dz.nrows() == 0 && self.da.nrows() > 0
    }

    /// Whether passes through this cache apply a dropout mask (`with_mask`).
    pub fn masked(&self) -> bool {
        self.mask.nrows() > 0
    }

    /// Gives the cache a dropout mask, shaped like `z`, for its passes to apply.
    pub fn with_mask(&mut self) -> Result<()> {
        let (rows, n_out) = self.z.dim();
        self.mask = try_zeros(rows, n_out)?;
        self.fz = try_zeros(rows, n_out)?;
        Ok(())
    }

    /// Removes the mask: passes through this cache drop nothing.
    pub fn without_mask(&mut self) {
        self.mask = Array2::zeros((0, 0));
        self.fz = Array2::zeros((0, 0));
    }

    /// Buffers for a forward pass only (`z` and `a`); the backward buffers are empty.
    pub fn forward_only(rows: usize, n_out: usize) -> Result<Self> {
        Ok(LayerCache {
            z: try_zeros(rows, n_out)?,
            a: try_zeros(rows, n_out)?,
            dz: Array2::zeros((0, 0)),
            da: Array2::zeros((0, 0)),
            grad: Gradient {
                dw: Array2::zeros((0, 0)),
                db: Array1::zeros(0),
            },
            mask: Array2::zeros((0, 0)),
            fz: Array2::zeros((0, 0)),
        })
    }

    /// The number of rows the buffers hold.
    pub fn rows(&self) -> usize {
        self.z.nrows()
    }

    /// The first `n` rows of the output `a`.
    pub fn a(&self, n: usize) -> ArrayView2<'_, T> {
        self.a.slice(s![..n, ..])
    }

    /// The first `n` rows of `da`, for the next layer's backward to write into.
    pub fn da_mut(&mut self, n: usize) -> ArrayViewMut2<'_, T> {
        self.da.slice_mut(s![..n, ..])
    }
}

/// A zero `(rows, cols)` array, allocated fallibly: sizes that overflow or do not fit in
/// memory are an error, not an abort.
pub fn try_zeros<T: Float>(rows: usize, cols: usize) -> Result<Array2<T>> {
    let v = try_zeroed(rows as u128 * cols as u128, || {
        format!("an array of shape ({rows}, {cols})")
    })?;
    Array2::from_shape_vec((rows, cols), v)
        .map_err(|_| Error::memory(format!("an array of shape ({rows}, {cols})"), 0))
}

/// A zero vector of length `len`, allocated fallibly.
pub fn try_zeros1<T: Float>(len: usize) -> Result<Array1<T>> {
    let v = try_zeroed(len as u128, || format!("an array of shape ({len},)"))?;
    Ok(Array1::from_vec(v))
}

/// A shape as NumPy prints it: `(2, 3)`, `(4,)`.
pub(crate) fn shape_text(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A copy of `a` in standard layout, allocated fallibly (`clone` aborts when memory runs
/// out).
pub fn try_clone<T: Float, S: ndarray::Data<Elem = T>, D: Dimension>(
    a: &ndarray::ArrayBase<S, D>,
) -> Result<Array<T, D>> {
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(a.len()).map_err(|_| {
        let bytes = a.len() as u128 * std::mem::size_of::<T>() as u128;
        Error::memory(
            format!("a copy of an array of shape {}", shape_text(a.shape())),
            bytes,
        )
    })?;
    huge_pages(v.as_mut_ptr().cast(), a.len() * std::mem::size_of::<T>());
    match a.as_slice() {
        Some(s) => {
            crate::kernels::elementwise::copy_uninit(&mut v.spare_capacity_mut()[..s.len()], s);
            // SAFETY: the first `s.len()` values of the capacity were just written.
            unsafe { v.set_len(s.len()) };
        }
        None => v.extend(a.iter().copied()),
    }
    Ok(Array::from_shape_vec(a.raw_dim(), v).expect("the copy has the array's length"))
}

/// The items of `iter` in a vector, allocated fallibly (`Error::Memory` naming `what`).
pub fn try_collect<T>(
    iter: impl ExactSizeIterator<Item = T>,
    what: impl Fn() -> String,
) -> Result<Vec<T>> {
    let len = iter.len();
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| Error::memory(what(), len as u128 * std::mem::size_of::<T>() as u128))?;
    v.extend(iter);
    Ok(v)
}

/// `len` zeros, allocated fallibly, as `try_filled` — but zeroed by the allocator
/// (`calloc`), which gets memory fresh from the system already zero: a fit's buffers of
/// tens of MiB are then not written twice (zeros, then their values), and their pages are
/// first touched where the (threaded) passes write them.
fn try_zeroed<T: Float>(len: u128, what: impl Fn() -> String) -> Result<Vec<T>> {
    let bytes = len.saturating_mul(std::mem::size_of::<T>() as u128);
    let fail = || Error::memory(what(), bytes);
    let len = usize::try_from(len).map_err(|_| fail())?;
    let layout = std::alloc::Layout::array::<T>(len).map_err(|_| fail())?;
    if layout.size() == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the layout's size is not zero.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        return Err(fail());
    }
    huge_pages(ptr.cast(), layout.size());
    // SAFETY: `ptr` was allocated by the global allocator with the layout of `[T; len]`
    // (T's alignment, `len` values), and every value is initialized: all-zero bytes are
    // 0.0 in f32 and f64, the only `Float`s.
    Ok(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

/// Asks Linux to back the whole 2 MiB pages inside a fresh allocation of `bytes` bytes at
/// `ptr` with huge pages (`MADV_HUGEPAGE`), for allocations of 4 MiB or more.
///
/// The batch buffers of a large fit are tens to hundreds of MiB that a fit on a fresh
/// network touches for the first time: with 4 KiB pages that is a page fault per 4 KiB,
/// with huge pages one per 2 MiB, and the products after see fewer TLB misses. A
/// one-epoch fit of [32, 1024, 1024, 10] on 4096 rows in float64 took 8 % less time with
/// them (interleaved runs on a 2-core Zen 3). The copies of the weights a fit trains get
/// the same advice (`try_clone`). Where transparent huge pages are `never`, or none are
/// free, this is a no-op; where they are `always`, it changes nothing.
fn huge_pages(ptr: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        if bytes < 2 * HUGE {
            return;
        }
        let start = (ptr as usize).next_multiple_of(HUGE);
        let end = (ptr as usize + bytes) / HUGE * HUGE;
        if end > start {
            // SAFETY: [start, end) lies inside the allocation; MADV_HUGEPAGE is advice
            // that changes no value (an error, e.g. a kernel without THP, is ignored).
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes);
}

/// `dst = src` for two arrays of one shape, on all threads if they are large (see
/// `elementwise::copy`).
pub fn copy_array<T: Float, D: Dimension>(dst: &mut Array<T, D>, src: &Array<T, D>) {
    match (dst.as_slice_mut(), src.as_slice()) {
        (Some(d), Some(s)) if d.len() == s.len() => crate::kernels::elementwise::copy(d, s),
        _ => dst.assign(src),
    }
}

/// A vector of `len` copies of `value`, allocated fallibly: a length that overflows or
/// does not fit in memory is `Error::Memory` naming `what`, not an abort.
pub fn try_filled<T: Clone>(len: u128, value: T, what: impl Fn() -> String) -> Result<Vec<T>> {
    let bytes = len.saturating_mul(std::mem::size_of::<T>() as u128);
    let fail = || Error::memory(what(), bytes);
    if bytes > isize::MAX as u128 {
        return Err(fail());
    }
    let len = len as usize;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| fail())?;
    v.resize(len, value);
    Ok(v)
}

impl<T: Float> Dense<T> {
    /// Number of inputs.
    pub fn n_in(&self) -> usize {
        self.w.nrows()
    }

    /// Number of outputs (units).
    pub fn n_out(&self) -> usize {
        self.w.ncols()
    }

    /// `z = a_prev · W + b`, `a = f(z)` into the first `n = a_prev.nrows()` rows of `cache`,
    /// `a = f(z) ⊙ mask` if the cache has a dropout mask (`f(z)` kept in `fz`).
    /// Returns whether every `z` is finite; if not, `a` is all NaN (see
    /// `Activation::forward`).
    pub fn forward(&self, a_prev: ArrayView2<T>, cache: &mut LayerCache<T>) -> bool {
        let n = a_prev.nrows();
        let masked = cache.masked();
        let LayerCache { z, a, mask, fz, .. } = cache;
        let mut z = z.slice_mut(s![..n, ..]);
        linalg::affine(a_prev, self.w.view(), self.b.view(), z.view_mut());
        if !masked {
            return activate(self.activation, z.view(), a.slice_mut(s![..n, ..]));
        }
        let finite = activate(self.activation, z.view(), fz.slice_mut(s![..n, ..]));
        dropout::forward(
            fz.slice(s![..n, ..]),
            mask.slice(s![..n, ..]),
            a.slice_mut(s![..n, ..]),
        );
        finite
    }

    /// `dz = da ⊙ f'(z)` from the cached forward values (not used at a fused output), then
    /// `dz ⊙= mask` if the cache has a dropout mask; in place over `da` in a training
    /// cache (`LayerCache::training`).
    pub fn activation_backward(&self, n: usize, cache: &mut LayerCache<T>) {
        let masked = cache.masked();
        let in_place = cache.delta_in_da();
        let LayerCache {
            z,
            a,
            dz,
            da,
            mask,
            fz,
            ..
        } = cache;
        let f = if masked { fz } else { a };
        let (z, f) = (z.slice(s![..n, ..]), f.slice(s![..n, ..]));
        // The step API keeps da apart: dz starts as a copy of it.
        let mut dz = match in_place {
            true => da.slice_mut(s![..n, ..]),
            false => {
                let mut dz = dz.slice_mut(s![..n, ..]);
                dz.assign(&da.slice(s![..n, ..]));
                dz
            }
        };
        let act = self.activation;
        match linalg::split_rows(n, dz.len()) {
            Some(h) => {
                let (z_1, z_2) = z.split_at(Axis(0), h);
                let (f_1, f_2) = f.split_at(Axis(0), h);
                let (d_1, d_2) = dz.view_mut().split_at(Axis(0), h);
                crate::pool::join(
                    || act.backward_in_place(z_1, f_1, d_1),
                    || act.backward_in_place(z_2, f_2, d_2),
                );
            }
            None => act.backward_in_place(z, f, dz.view_mut()),
        }
        if masked {
            dropout::backward(dz.view_mut(), mask.slice(s![..n, ..]));
        }
    }

    /// `dW = a_prevᵀ · dz`, `db = Σ_rows dz` (into `cache.grad`) and, if asked,
    /// `da_prev = dz · Wᵀ`, from the first `n = a_prev.nrows()` rows of `cache.dz`.
    pub fn param_backward(
        &self,
        a_prev: ArrayView2<T>,
        cache: &mut LayerCache<T>,
        da_prev: Option<ArrayViewMut2<T>>,
    ) {
        let n = a_prev.nrows();
        let in_place = cache.delta_in_da();
        let LayerCache { dz, da, grad, .. } = cache;
        let dz = if in_place { da } else { dz }.slice(s![..n, ..]);
        // da first: until dW is computed, its memory is free for the product's scratch.
        if let Some(da_prev) = da_prev {
            let spare = grad.dw.as_slice_mut().expect("dW is contiguous");
            linalg::a_bt(dz, self.w.view(), da_prev, spare);
        }
        linalg::at_b(a_prev, dz, grad.dw.view_mut());
        linalg::column_sums(dz, &mut grad.db);
    }
}

/// `a = f(z)`, as `Activation::forward` (all NaN if some `z` is not), by halves of the rows
/// on two threads if the batch is large.
fn activate<T: Float>(f: Activation, z: ArrayView2<T>, mut a: ArrayViewMut2<T>) -> bool {
    let Some(h) = linalg::split_rows(z.nrows(), z.len()) else {
        return f.forward(z, a);
    };
    let (z_1, z_2) = z.split_at(Axis(0), h);
    let (a_1, a_2) = a.view_mut().split_at(Axis(0), h);
    let (finite_1, finite_2) = crate::pool::join(|| f.forward(z_1, a_1), || f.forward(z_2, a_2));
    let finite = finite_1 && finite_2;
    if !finite {
        a.fill(T::nan());
    }
    finite
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn layer() -> Dense<f64> {
        Dense {
            w: array![[1.0, -1.0, 0.5], [2.0, 0.0, -0.5]],
            b: array![0.5, 0.25, -1.0],
            activation: Activation::Relu,
        }
    }

    #[test]
    fn huge_buffers_are_an_error_not_an_abort() {
        assert!(try_zeros::<f64>(usize::MAX, 2).is_err());
        assert!(try_zeros::<f64>(1 << 40, 1 << 20).is_err());
        assert!(LayerCache::<f32>::new(1 << 31, 1, 1 << 31).is_err());
    }

    /// The `VmFlags` of the mapping of this process that holds `addr`.
    #[cfg(target_os = "linux")]
    fn vm_flags(addr: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let hex = |s: &str| usize::from_str_radix(s, 16).ok();
        let mut inside = false;
        for line in smaps.lines() {
            // A mapping's first line starts with its address range: `lo-hi perms ...`.
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((Some(lo), Some(hi))) = first.split_once('-').map(|(l, h)| (hex(l), hex(h)))
            {
                inside = (lo..hi).contains(&addr);
            } else if let Some(flags) = line.strip_prefix("VmFlags:").filter(|_| inside) {
                return Some(flags.trim().to_string());
            }
        }
        None
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn large_buffers_are_advised_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            eprintln!("skipped: this kernel has no transparent huge pages");
            return;
        }
        let advised = |a: &[f64]| {
            let start = (a.as_ptr() as usize).next_multiple_of(2 << 20);
            vm_flags(start).map(|f| f.split(' ').any(|f| f == "hg"))
        };
        let big = try_zeros::<f64>(1024, 1024).unwrap(); // 8 MiB
        assert_eq!(advised(big.as_slice().unwrap()), Some(true));
        assert!(big.iter().all(|&v| v == 0.0));
        let copy = try_clone(&big).unwrap();
        assert_eq!(advised(copy.as_slice().unwrap()), Some(true));
    }

    #[test]
    fn forward_by_hand() {
        let l = layer();
        let x = array![[1.0, 2.0], [-1.0, 0.0]];
        let mut c = LayerCache::new(2, 2, 3).unwrap();
        l.forward(x.view(), &mut c);
        assert_eq!(c.z, array![[5.5, -0.75, -1.5], [-0.5, 1.25, -1.5]]);
        assert_eq!(c.a, array![[5.5, 0.0, 0.0], [0.0, 1.25, 0.0]]);
    }

    #[test]
    fn dropout_by_hand() {
        let l = layer();
        let x = array![[1.0, 2.0], [-1.0, 0.0]];
        let mut c = LayerCache::new(2, 2, 3).unwrap();
        c.with_mask().unwrap();
        c.mask.assign(&array![[2.0, 2.0, 0.0], [0.0, 2.0, 2.0]]);
        l.forward(x.view(), &mut c);
        assert_eq!(c.fz, array![[5.5, 0.0, 0.0], [0.0, 1.25, 0.0]]);
        assert_eq!(c.a, array![[11.0, 0.0, 0.0], [0.0, 2.5, 0.0]]);
        c.da.assign(&array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        l.activation_backward(2, &mut c);
        // dz = da ⊙ [z > 0] ⊙ mask
        assert_eq!(c.dz, array![[2.0, 0.0, 0.0], [0.0, 10.0, 0.0]]);
        c.without_mask();
        l.forward(x.view(), &mut c);
        assert_eq!(c.a, array![[5.5, 0.0, 0.0], [0.0, 1.25, 0.0]]);
    }

    #[test]
    fn backward_by_hand_and_on_a_partial_batch() {
        let l = layer();
        let x = array![[1.0, 2.0], [-1.0, 0.0]];
        // Room for 4 rows, used for 2: the extra rows must not leak into the gradients.
        let mut c = LayerCache::new(4, 2, 3).unwrap();
        c.z.fill(7.0);
        c.da.fill(9.0);
        l.forward(x.view(), &mut c);
        c.da.slice_mut(s![..2, ..])
            .assign(&array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        l.activation_backward(2, &mut c);
        assert_eq!(
            c.dz.slice(s![..2, ..]),
            array![[1.0, 0.0, 0.0], [0.0, 5.0, 0.0]]
        );
        let mut da_prev = Array2::zeros((2, 2));
        l.param_backward(x.view(), &mut c, Some(da_prev.view_mut()));
        assert_eq!(c.grad.dw, array![[1.0, -5.0, 0.0], [2.0, 0.0, 0.0]]);
        assert_eq!(c.grad.db, array![1.0, 5.0, 0.0]);
        assert_eq!(da_prev, array![[1.0, 2.0], [-5.0, 0.0]]);
    }
}
