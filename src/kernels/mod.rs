//! The speed work, fenced: run-time SIMD dispatch, vectors of eight lanes, the vectorized
//! `exp` and `ln`, the matrix products and the feature-major kernels. No equation of the
//! tutorial is defined here: the math (f and f', the loss and its delta, the update rules)
//! lives in `nn/`, and the kernels are called with it or compute plain sums and products.

/// Defines `$name`, which runs `$body` compiled for the widest vector instructions the CPU
/// has — AVX-512F, AVX2, or baseline x86-64 — as `simd()` reports (`$body` must be
/// `#[inline(always)]` so that it is compiled into each). The body is generic over the
/// level too, `L: simd::Level`, for the kernels that write their sums on `L::V<T>` (eight
/// lanes in one or two registers); the others leave it unused. None of them fuses
/// multiply-adds and every sum runs in the body's order, so all three give the same bits.
macro_rules! dispatch {
    ($vis:vis $name:ident, $avx2:ident, $avx512:ident, $body:ident, ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        $vis fn $name<T: Float>($($arg: $ty),*) $(-> $ret)? {
            match crate::kernels::simd() {
                // SAFETY: `simd()` reports a level only if the CPU has its features.
                #[cfg(target_arch = "x86_64")]
                crate::kernels::Simd::Avx512 => unsafe { $avx512($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                crate::kernels::Simd::Avx2 => unsafe { $avx2($($arg),*) },
                _ => $body::<T, crate::kernels::simd::Baseline>($($arg),*),
            }
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        fn $avx2<T: Float>($($arg: $ty),*) $(-> $ret)? {
            $body::<T, crate::kernels::simd::Avx2>($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        fn $avx512<T: Float>($($arg: $ty),*) $(-> $ret)? {
            $body::<T, crate::kernels::simd::Avx512>($($arg),*)
        }
    };
}

/// The vector instructions the kernels of `dispatch!` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    Baseline,
    Avx2,
    Avx512,
}

/// The widest level the CPU has, or a narrower one named by `FERROPROP_SIMD` (`baseline`,
/// `avx2`), which the tests use to check that every level gives the same bits.
pub fn simd() -> Simd {
    static LEVEL: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        let cpu = if std::arch::is_x86_feature_detected!("avx512f") {
            Simd::Avx512
        } else if std::arch::is_x86_feature_detected!("avx2") {
            Simd::Avx2
        } else {
            Simd::Baseline
        };
        #[cfg(not(target_arch = "x86_64"))]
        let cpu = Simd::Baseline;
        match std::env::var("FERROPROP_SIMD").as_deref() {
            Ok("baseline") => Simd::Baseline,
            Ok("avx2") => cpu.min(Simd::Avx2),
            _ => cpu,
        }
    })
}

pub mod elementwise;
pub mod feature_major;
pub mod linalg;
pub mod packing;
pub(crate) mod simd;
pub mod vmath;
