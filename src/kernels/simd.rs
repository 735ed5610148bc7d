//! Eight lanes of `f32` or `f64` as one value, in the registers of each instruction level.
//!
//! The feature-major kernels (feature_major.rs) keep blocks of partial sums in registers. Written on
//! plain arrays, the compiler spills such blocks to the stack and adds them one lane at a
//! time; written on these types, a block of sums is a block of registers. Every operation
//! is one IEEE operation per lane (no fused multiply-add), so the three levels give the
//! same bits.

use crate::Float;

/// Lanes per value, whatever the type and the level.
pub(crate) const LANES: usize = 8;

/// `out[i] = f(i)`, four groups of `LANES` per iteration: the compiler vectorizes the loop
/// and keeps four independent vectors in flight, where one would wait on its own long
/// chain (an exponential's or a logarithm's polynomial).
#[inline(always)]
pub(crate) fn interleaved<T: Copy>(out: &mut [T; 4 * LANES], f: impl Fn(usize) -> T) {
    for l in 0..LANES {
        out[l] = f(l);
        out[LANES + l] = f(LANES + l);
        out[2 * LANES + l] = f(2 * LANES + l);
        out[3 * LANES + l] = f(3 * LANES + l);
    }
}

/// Eight lanes of `T`.
pub(crate) trait Lanes<T>: Copy {
    /// Every lane `v`.
    fn splat(v: T) -> Self;
    /// The lanes `s[0..8]`.
    fn load(s: &[T; LANES]) -> Self;
    /// The lanes as an array.
    fn to_array(self) -> [T; LANES];
    /// Lane by lane `self + o`.
    fn add(self, o: Self) -> Self;
    /// Lane by lane `self · o`.
    fn mul(self, o: Self) -> Self;
    /// Stores the lanes in `s[0..8]`.
    fn store(self, s: &mut [T; LANES]);
    /// Lane by lane `self` if `self > 0`, else 0 (so NaN gives 0): ReLU, as
    /// `Activation::Relu` computes it.
    fn relu(self) -> Self;
    /// Lane by lane `self` where `mask > 0`, else 0 (NaN in `mask` gives 0): ReLU's
    /// backward step, `mask` being ReLU's output.
    fn where_positive(self, mask: Self) -> Self;
}

/// The lane types of each level for one float type.
pub(crate) trait HasLanes: Sized + Copy {
    /// With AVX2.
    type Avx2: Lanes<Self>;
    /// With AVX-512F.
    type Avx512: Lanes<Self>;
}

/// An instruction level: which type holds eight lanes of each float type.
pub(crate) trait Level {
    type V<T: Float>: Lanes<T>;
}

/// Baseline x86-64 (or another architecture): arrays, vectorized as the compiler can.
pub(crate) struct Baseline;
/// AVX2.
pub(crate) struct Avx2;
/// AVX-512F.
pub(crate) struct Avx512;

impl Level for Baseline {
    type V<T: Float> = [T; LANES];
}

impl Level for Avx2 {
    type V<T: Float> = <T as HasLanes>::Avx2;
}

impl Level for Avx512 {
    type V<T: Float> = <T as HasLanes>::Avx512;
}

impl<T: Float> Lanes<T> for [T; LANES] {
    #[inline(always)]
    fn splat(v: T) -> Self {
        [v; LANES]
    }
    #[inline(always)]
    fn load(s: &[T; LANES]) -> Self {
        *s
    }
    #[inline(always)]
    fn to_array(self) -> [T; LANES] {
        self
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        std::array::from_fn(|l| self[l] + o[l])
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        std::array::from_fn(|l| self[l] * o[l])
    }
    #[inline(always)]
    fn store(self, s: &mut [T; LANES]) {
        *s = self;
    }
    #[inline(always)]
    fn relu(self) -> Self {
        std::array::from_fn(|l| {
            if self[l] > T::zero() {
                self[l]
            } else {
                T::zero()
            }
        })
    }
    #[inline(always)]
    fn where_positive(self, mask: Self) -> Self {
        std::array::from_fn(|l| {
            if mask[l] > T::zero() {
                self[l]
            } else {
                T::zero()
            }
        })
    }
}

#[cfg(not(target_arch = "x86_64"))]
impl HasLanes for f32 {
    type Avx2 = [f32; LANES];
    type Avx512 = [f32; LANES];
}

#[cfg(not(target_arch = "x86_64"))]
impl HasLanes for f64 {
    type Avx2 = [f64; LANES];
    type Avx512 = [f64; LANES];
}

/// The x86-64 lane types.
///
/// Their methods call AVX2 or AVX-512F intrinsics without checking the CPU. They are
/// reached only through `Level::V` in the kernels `dispatch!` compiles for that level,
/// which run only once `simd()` has found the level on the CPU; the methods are
/// `inline(always)`, so the intrinsics compile into those kernels.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{HasLanes, Lanes, LANES};
    use std::arch::x86_64::*;

    impl HasLanes for f32 {
        type Avx2 = F32x8;
        type Avx512 = F32x8;
    }

    impl HasLanes for f64 {
        type Avx2 = F64x8Avx2;
        type Avx512 = F64x8Avx512;
    }

    /// Eight `f32` in one AVX register.
    #[derive(Clone, Copy)]
    pub(crate) struct F32x8(__m256);

    /// Eight `f64` in two AVX registers.
    #[derive(Clone, Copy)]
    pub(crate) struct F64x8Avx2(__m256d, __m256d);

    /// Eight `f64` in one AVX-512 register.
    #[derive(Clone, Copy)]
    pub(crate) struct F64x8Avx512(__m512d);

    // SAFETY (every block below): the CPU has AVX2 (AVX-512F for F64x8Avx512), as the
    // module's comment explains; the loads and stores are unaligned ones of exactly LANES
    // values from and to arrays of LANES values.

    impl Lanes<f32> for F32x8 {
        #[inline(always)]
        fn splat(v: f32) -> Self {
            F32x8(unsafe { _mm256_set1_ps(v) })
        }
        #[inline(always)]
        fn load(s: &[f32; LANES]) -> Self {
            F32x8(unsafe { _mm256_loadu_ps(s.as_ptr()) })
        }
        #[inline(always)]
        fn to_array(self) -> [f32; LANES] {
            let mut out = [0.0; LANES];
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), self.0) };
            out
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            F32x8(unsafe { _mm256_add_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            F32x8(unsafe { _mm256_mul_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn store(self, s: &mut [f32; LANES]) {
            unsafe { _mm256_storeu_ps(s.as_mut_ptr(), self.0) }
        }
        // max(v, 0) is `v > 0 ? v : 0`: it returns its second operand when either is NaN
        // and when both are zeros.
        #[inline(always)]
        fn relu(self) -> Self {
            F32x8(unsafe { _mm256_max_ps(self.0, _mm256_setzero_ps()) })
        }
        #[inline(always)]
        fn where_positive(self, mask: Self) -> Self {
            unsafe {
                let positive = _mm256_cmp_ps::<_CMP_GT_OQ>(mask.0, _mm256_setzero_ps());
                F32x8(_mm256_and_ps(self.0, positive))
            }
        }
    }

    impl Lanes<f64> for F64x8Avx2 {
        #[inline(always)]
        fn splat(v: f64) -> Self {
            let v = unsafe { _mm256_set1_pd(v) };
            F64x8Avx2(v, v)
        }
        #[inline(always)]
        fn load(s: &[f64; LANES]) -> Self {
            let p = s.as_ptr();
            unsafe { F64x8Avx2(_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4))) }
        }
        #[inline(always)]
        fn to_array(self) -> [f64; LANES] {
            let mut out = [0.0; LANES];
            let p = out.as_mut_ptr();
            unsafe {
                _mm256_storeu_pd(p, self.0);
                _mm256_storeu_pd(p.add(4), self.1);
            }
            out
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            unsafe { F64x8Avx2(_mm256_add_pd(self.0, o.0), _mm256_add_pd(self.1, o.1)) }
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            unsafe { F64x8Avx2(_mm256_mul_pd(self.0, o.0), _mm256_mul_pd(self.1, o.1)) }
        }
        #[inline(always)]
        fn store(self, s: &mut [f64; LANES]) {
            let p = s.as_mut_ptr();
            unsafe {
                _mm256_storeu_pd(p, self.0);
                _mm256_storeu_pd(p.add(4), self.1);
            }
        }
        #[inline(always)]
        fn relu(self) -> Self {
            unsafe {
                let zero = _mm256_setzero_pd();
                F64x8Avx2(_mm256_max_pd(self.0, zero), _mm256_max_pd(self.1, zero))
            }
        }
        #[inline(always)]
        fn where_positive(self, mask: Self) -> Self {
            unsafe {
                let zero = _mm256_setzero_pd();
                let lo = _mm256_cmp_pd::<_CMP_GT_OQ>(mask.0, zero);
                let hi = _mm256_cmp_pd::<_CMP_GT_OQ>(mask.1, zero);
                F64x8Avx2(_mm256_and_pd(self.0, lo), _mm256_and_pd(self.1, hi))
            }
        }
    }

    impl Lanes<f64> for F64x8Avx512 {
        #[inline(always)]
        fn splat(v: f64) -> Self {
            F64x8Avx512(unsafe { _mm512_set1_pd(v) })
        }
        #[inline(always)]
        fn load(s: &[f64; LANES]) -> Self {
            F64x8Avx512(unsafe { _mm512_loadu_pd(s.as_ptr()) })
        }
        #[inline(always)]
        fn to_array(self) -> [f64; LANES] {
            let mut out = [0.0; LANES];
            unsafe { _mm512_storeu_pd(out.as_mut_ptr(), self.0) };
            out
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            F64x8Avx512(unsafe { _mm512_add_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            F64x8Avx512(unsafe { _mm512_mul_pd(self.0, o.0) })
        }
        #[inline(always)]
        fn store(self, s: &mut [f64; LANES]) {
            unsafe { _mm512_storeu_pd(s.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        fn relu(self) -> Self {
            F64x8Avx512(unsafe { _mm512_max_pd(self.0, _mm512_setzero_pd()) })
        }
        #[inline(always)]
        fn where_positive(self, mask: Self) -> Self {
            unsafe {
                let positive = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(mask.0, _mm512_setzero_pd());
                F64x8Avx512(_mm512_maskz_mov_pd(positive, self.0))
            }
        }
    }
}
