//! Loops over slices, value by value, compiled for each vector level: the math comes in as
//! a closure from `nn/` (an activation's f, the loss's delta, an optimizer's rule) and is
//! inlined into each level's copy of the loop, so that it vectorizes with the widest
//! instructions the CPU has. One IEEE operation at a time and no fused multiply-add, so
//! every level gives the same bits. Large parameters are updated on all threads, by
//! contiguous pieces (`on_threads`).

use super::simd::{interleaved, LANES};
use crate::Float;

/// Defines `$name::<T, F>(args)`, which runs `$body::<T, F>(args)` compiled for AVX-512F,
/// AVX2 or baseline x86-64 (as `simd()` reports); `F: $bound<T>` is the closure holding
/// the math, and `$body` must be `#[inline(always)]`.
macro_rules! by_level {
    ($name:ident, $body:ident, $bound:ident, ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        #[inline]
        pub fn $name<T: Float, F: $bound<T>>($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            fn avx2<T: Float, F: $bound<T>>($($arg: $ty),*) $(-> $ret)? {
                $body::<T, F>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            fn avx512<T: Float, F: $bound<T>>($($arg: $ty),*) $(-> $ret)? {
                $body::<T, F>($($arg),*)
            }
            match crate::kernels::simd() {
                // SAFETY: `simd()` reports a level only if the CPU has its features.
                #[cfg(target_arch = "x86_64")]
                crate::kernels::Simd::Avx512 => unsafe { avx512::<T, F>($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                crate::kernels::Simd::Avx2 => unsafe { avx2::<T, F>($($arg),*) },
                _ => $body::<T, F>($($arg),*),
            }
        }
    };
}

/// `f(z)`, for `map_checked`.
pub trait Unary<T>: Fn(T) -> T + Copy {}
impl<T, F: Fn(T) -> T + Copy> Unary<T> for F {}

/// `f(p, y)`, for `zip_map`.
pub trait Binary<T>: Fn(T, T) -> T + Copy {}
impl<T, F: Fn(T, T) -> T + Copy> Binary<T> for F {}

/// An update of a parameter from its gradient: `f(&mut θ, g)`.
pub trait Update<T>: Fn(&mut T, T) + Copy {}
impl<T, F: Fn(&mut T, T) + Copy> Update<T> for F {}

/// An update with one state value: `f(&mut θ, g, &mut v)`.
pub trait Update1<T>: Fn(&mut T, T, &mut T) + Copy {}
impl<T, F: Fn(&mut T, T, &mut T) + Copy> Update1<T> for F {}

/// An update with two state values: `f(&mut θ, g, &mut m, &mut s)`.
pub trait Update2<T>: Fn(&mut T, T, &mut T, &mut T) + Copy {}
impl<T, F: Fn(&mut T, T, &mut T, &mut T) + Copy> Update2<T> for F {}

by_level!(map_checked, map_checked_body, Unary, (z: &[T], a: &mut [T], f: F) -> T);
by_level!(zip_map, zip_map_body, Binary, (out: &mut [T], p: &[T], y: &[T], f: F));
by_level!(update, update_body, Update, (p: &mut [T], g: &[T], f: F));
by_level!(update1, update1_body, Update1, (p: &mut [T], g: &[T], v: &mut [T], f: F));
by_level!(update2, update2_body, Update2, (p: &mut [T], g: &[T], m: &mut [T], s: &mut [T], f: F));

/// `a = f(z)`, and `Σ z · 0` (NaN if some `z` is not finite, else 0), four vectors at a
/// time, each lane summing its own `z · 0` so that the check adds no chain of dependent
/// additions to the loop.
#[inline(always)]
fn map_checked_body<T: Float, F: Unary<T>>(z: &[T], a: &mut [T], f: F) -> T {
    const CHUNK: usize = 4 * LANES;
    let zero = T::zero();
    let mut checks = [zero; CHUNK];
    let (mut a_chunks, z_chunks) = (a.chunks_exact_mut(CHUNK), z.chunks_exact(CHUNK));
    let z_rest = z_chunks.remainder();
    for (a, z) in a_chunks.by_ref().zip(z_chunks) {
        let z: &[T; CHUNK] = z.try_into().expect("chunks of CHUNK");
        interleaved(a.try_into().expect("chunks of CHUNK"), |i| f(z[i]));
        for (c, &z) in checks.iter_mut().zip(z) {
            *c += z * zero;
        }
    }
    let mut check = checks.iter().fold(zero, |s, &c| s + c);
    for (a, &z) in a_chunks.into_remainder().iter_mut().zip(z_rest) {
        *a = f(z);
        check += z * zero;
    }
    check
}

/// `out = f(p, y)`.
#[inline(always)]
fn zip_map_body<T: Float, F: Binary<T>>(out: &mut [T], p: &[T], y: &[T], f: F) {
    for ((out, &p), &y) in out.iter_mut().zip(p).zip(y) {
        *out = f(p, y);
    }
}

#[inline(always)]
fn update_body<T: Float, F: Update<T>>(p: &mut [T], g: &[T], f: F) {
    for (p, &g) in p.iter_mut().zip(g) {
        f(p, g);
    }
}

#[inline(always)]
fn update1_body<T: Float, F: Update1<T>>(p: &mut [T], g: &[T], v: &mut [T], f: F) {
    for ((p, &g), v) in p.iter_mut().zip(g).zip(v) {
        f(p, g, v);
    }
}

#[inline(always)]
fn update2_body<T: Float, F: Update2<T>>(p: &mut [T], g: &[T], m: &mut [T], s: &mut [T], f: F) {
    for (((p, &g), m), s) in p.iter_mut().zip(g).zip(m).zip(s) {
        f(p, g, m, s);
    }
}

/// Parameters with at least this many values are updated on all threads, by contiguous
/// pieces (each value's update is the same, so the bits are too). A step alone, threads
/// asleep, is faster serial at this size: waking them costs more than the update. In
/// training the threads have just run a product, and a serial step leaves the other cores
/// idle: on 64-256-256-10 (layers of 2¹⁴ and 2¹⁶ weights; `cargo bench`'s `epoch`), a
/// higher threshold makes the epoch slower.
pub const PARALLEL_UPDATE: usize = 1 << 14;

/// Slices of one parameter and its companions (gradient, optimizer state), all of one
/// length, that can be cut in two at the same place.
#[allow(clippy::len_without_is_empty)] // never empty: a parameter's values
pub trait Parts: Sized + Send {
    fn len(&self) -> usize;
    fn split_at(self, at: usize) -> (Self, Self);
}

impl<T: Float> Parts for (&mut [T], &[T]) {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        let ((p_1, p_2), (g_1, g_2)) = (self.0.split_at_mut(at), self.1.split_at(at));
        ((p_1, g_1), (p_2, g_2))
    }
}

impl<T: Float> Parts for (&mut [T], &[T], &mut [T]) {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        let ((p, g), (p_2, g_2)) = (self.0, self.1).split_at(at);
        let (v, v_2) = self.2.split_at_mut(at);
        ((p, g, v), (p_2, g_2, v_2))
    }
}

impl<T: Float> Parts for (&mut [T], &[T], &mut [T], &mut [T]) {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        let ((p, g, m), (p_2, g_2, m_2)) = (self.0, self.1, self.2).split_at(at);
        let (s, s_2) = self.3.split_at_mut(at);
        ((p, g, m, s), (p_2, g_2, m_2, s_2))
    }
}

impl<T: Float> Parts for &[T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        <[T]>::split_at(self, at)
    }
}

/// `dst = src`, on all threads by contiguous pieces if they are large: the copies of a
/// network's parameters that fit makes (the private copy it trains, the weights of the
/// start of each epoch, those it publishes) are memory-bound, and one core does not
/// saturate the memory.
pub fn copy<T: Float>(dst: &mut [T], src: &[T]) {
    on_threads((dst, src), &|(d, s): (&mut [T], &[T])| d.copy_from_slice(s));
}

impl<T: Float> Parts for (&mut [std::mem::MaybeUninit<T>], &[T]) {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        let ((d_1, d_2), (s_1, s_2)) = (self.0.split_at_mut(at), self.1.split_at(at));
        ((d_1, s_1), (d_2, s_2))
    }
}

/// `dst = src` into memory not yet written (a new array's), as `copy`.
pub fn copy_uninit<T: Float>(dst: &mut [std::mem::MaybeUninit<T>], src: &[T]) {
    on_threads((dst, src), &|(d, s): (
        &mut [std::mem::MaybeUninit<T>],
        &[T],
    )| {
        for (d, &s) in d.iter_mut().zip(s) {
            d.write(s);
        }
    });
}

/// Whether every value is finite, on all threads by contiguous pieces if there are many.
pub fn all_finite<T: Float>(values: &[T]) -> bool {
    let finite = std::sync::atomic::AtomicBool::new(true);
    on_threads(values, &|piece: &[T]| {
        if !finite_piece(piece) {
            finite.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    });
    finite.into_inner()
}

dispatch!(finite_piece, finite_piece_avx2, finite_piece_avx512, finite_piece_body, (values: &[T]) -> bool);

/// Whether every value is finite: `v · 0` is ±0 for a finite `v` and NaN for an infinite
/// or NaN one, and a sum of those is 0 only if all are; lanes of sums vectorize where a
/// per-value test with an early exit does not. Checked a block at a time, so that a
/// non-finite value stops the scan early.
#[inline(always)]
fn finite_piece_body<T: Float, L: super::simd::Level>(values: &[T]) -> bool {
    const BLOCK: usize = 1024;
    let mut blocks = values.chunks_exact(BLOCK);
    for block in blocks.by_ref() {
        let mut sums = [T::zero(); 4 * LANES];
        for chunk in block.chunks_exact(4 * LANES) {
            for (s, &v) in sums.iter_mut().zip(chunk) {
                *s += v * T::zero();
            }
        }
        if sums.iter().any(|s| *s != T::zero()) {
            return false;
        }
    }
    blocks.remainder().iter().all(|v| v.is_finite())
}

/// `rule(parts)`, on all threads by contiguous pieces if the parameter is large.
pub fn on_threads<P: Parts>(parts: P, rule: &(impl Fn(P) + Sync)) {
    match parts.len() >= PARALLEL_UPDATE {
        true => in_pieces(parts, crate::pool::num_threads(), rule),
        false => rule(parts),
    }
}

/// `rule` on `pieces` contiguous pieces of `parts`, in parallel.
pub fn in_pieces<P: Parts>(parts: P, pieces: usize, rule: &(impl Fn(P) + Sync)) {
    if pieces < 2 {
        return rule(parts);
    }
    // Cut at a multiple of 16 values: whole cache lines in either type.
    let len = parts.len();
    let at = (len * (pieces / 2) / pieces).div_ceil(16) * 16;
    let (first, second) = parts.split_at(at.min(len));
    crate::pool::join(
        || in_pieces(first, pieces / 2, rule),
        || in_pieces(second, pieces - pieces / 2, rule),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_finite_finds_any_non_finite_value() {
        // Blocks of 1024 and a remainder; from 2^14 values the check runs in pieces.
        for len in [0usize, 1, 31, 1024, 1500, 3000, 1 << 15] {
            let finite: Vec<f64> = (0..len).map(|i| (i as f64 - 7.0) * 1e300).collect();
            assert!(all_finite(&finite), "{len}");
            let small: Vec<f32> = (0..len).map(|i| (i as f32 - 7.0) * 1e30).collect();
            assert!(all_finite(&small), "{len}");
            for at in [0, len / 3, len.saturating_sub(1)]
                .into_iter()
                .filter(|&i| i < len)
            {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut v = finite.clone();
                    v[at] = bad;
                    assert!(!all_finite(&v), "{len} {at} {bad}");
                    let mut w = small.clone();
                    w[at] = bad as f32;
                    assert!(!all_finite(&w), "{len} {at} {bad}");
                }
            }
        }
        // The largest finite values: v · 0 is 0, not an overflow.
        assert!(all_finite(&[f64::MAX; 2048]) && all_finite(&[f32::MIN; 2048]));
    }

    #[test]
    fn copies_are_exact() {
        for len in [0, 5, 1 << 14, (1 << 15) + 3] {
            let src: Vec<f64> = (0..len).map(|i| i as f64 * 0.5 - 3.0).collect();
            let mut dst = vec![0.0; len];
            copy(&mut dst, &src);
            assert_eq!(dst, src);
            let mut fresh = Vec::with_capacity(len);
            copy_uninit(&mut fresh.spare_capacity_mut()[..len], &src);
            // SAFETY: every value was written.
            unsafe { fresh.set_len(len) };
            assert_eq!(fresh, src);
        }
    }
}
