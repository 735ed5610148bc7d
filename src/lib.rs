//! ferroprop: multilayer perceptrons trained by backpropagation.
//!
//! Rows are samples. A dense layer computes `z = a_prev · W + b` and `a = f(z)`;
//! backpropagation applies the chain rule layer by layer, from the loss back to the input:
//!
//! ```text
//! dz_k     = da_k ⊙ f_k'(z_k)        (fused to (ŷ − y)/n at a sigmoid+BCE or softmax+CE output)
//! dW_k     = a_{k−1}ᵀ · dz_k
//! db_k     = Σ_rows dz_k
//! da_{k−1} = dz_k · W_kᵀ
//! ```
//!
//! The core is pure Rust (no Python); `python/` is the only binding module.
//!
//! ```
//! use ferroprop::{Activation, Loss, Network, NetworkConfig, Target};
//! use ndarray::array;
//!
//! let config = NetworkConfig::new(vec![2, 3, 1], vec![Activation::Tanh, Activation::Sigmoid],
//!                                 Loss::BinaryCrossEntropy);
//! let mut net = Network::<f64>::new(&config, 0).unwrap();
//! let x = array![[0.0, 1.0], [1.0, 0.0]];
//! let y = array![[1.0], [0.0]];
//! let before = net.loss(x.view(), Target::Dense(y.view())).unwrap();
//! for _ in 0..100 {
//!     net.forward(x.view()).unwrap();
//!     net.backward(Target::Dense(y.view())).unwrap();
//!     net.update(0.5).unwrap();
//! }
//! assert!(net.loss(x.view(), Target::Dense(y.view())).unwrap() < before);
//! ```

/// Defines `$name`, which runs `$body` compiled for the widest vector instructions the CPU
/// has — AVX-512F, AVX2, or baseline x86-64 — as `simd()` reports (`$body` must be
/// `#[inline(always)]` so that it is compiled into each). The body is generic over the
/// level too, `L: simd::Level`, for the kernels that write their sums on `L::V<T>` (eight
/// lanes in one or two registers); the others leave it unused. None of them fuses
/// multiply-adds and every sum runs in the body's order, so all three give the same bits.
macro_rules! dispatch {
    ($name:ident, $avx2:ident, $avx512:ident, $body:ident, ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {
        fn $name<T: Float>($($arg: $ty),*) $(-> $ret)? {
            match crate::simd() {
                // SAFETY: `simd()` reports a level only if the CPU has its features.
                #[cfg(target_arch = "x86_64")]
                crate::Simd::Avx512 => unsafe { $avx512($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                crate::Simd::Avx2 => unsafe { $avx2($($arg),*) },
                _ => $body::<T, crate::simd::Baseline>($($arg),*),
            }
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        fn $avx2<T: Float>($($arg: $ty),*) $(-> $ret)? {
            $body::<T, crate::simd::Avx2>($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        fn $avx512<T: Float>($($arg: $ty),*) $(-> $ret)? {
            $body::<T, crate::simd::Avx512>($($arg),*)
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

pub mod activation;
pub mod error;
pub mod init;
pub mod io;
pub mod layer;
pub mod linalg;
pub mod loss;
pub mod narrow;
pub mod network;
pub mod optim;
pub mod pool;
mod simd;
pub mod stopping;
pub mod train;
pub mod vmath;

#[cfg(feature = "python")]
mod python;

pub use activation::Activation;
pub use error::{Error, Result};
pub use layer::{Dense, LayerCache};
pub use loss::{Loss, Target};
pub use network::{LossAndGradient, Network, NetworkConfig};
pub use optim::{Optimizer, OptimizerConfig};
pub use train::{fit, EpochControl, FitConfig};

use std::fmt::{Debug, Display};

/// `x` clamped to `[lo, hi]`, with NaN kept as NaN (`max`/`min` would turn it into a bound
/// and hide an overflow upstream).
#[inline]
pub(crate) fn clamp<T: Float>(x: T, lo: T, hi: T) -> T {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// The floating-point types the core is generic over: `f32` and `f64`.
// `HasLanes` is internal: no other type can be a `Float`.
#[allow(private_bounds)]
pub trait Float:
    num_traits::Float
    + ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + num_traits::FromPrimitive
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + 'static
    + simd::HasLanes
{
    /// The dtype's name as NumPy spells it.
    const NAME: &'static str;
    /// Converts an `f64` constant (rounding to nearest for `f32`).
    fn c(x: f64) -> Self;
    /// Widens to `f64` (exact).
    fn f64(self) -> f64;
    /// `e^x` that vectorizes (vmath.rs).
    fn vexp(self) -> Self;
    /// `ln x` that vectorizes (vmath.rs).
    fn vln(self) -> Self;
    /// `vexp` of an `x` already clipped to `±SIGMOID_CLIP` (or NaN), which spares f64 the
    /// range checks.
    fn vexp_clipped(self) -> Self;
}

impl Float for f32 {
    const NAME: &'static str = "float32";
    #[inline]
    fn c(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn vexp(self) -> Self {
        vmath::exp_f32(self)
    }
    #[inline(always)]
    fn vln(self) -> Self {
        vmath::ln_f32(self)
    }
    #[inline(always)]
    fn vexp_clipped(self) -> Self {
        // e^±500 is out of f32's range: the checks stay.
        vmath::exp_f32(self)
    }
}

impl Float for f64 {
    const NAME: &'static str = "float64";
    #[inline]
    fn c(x: f64) -> Self {
        x
    }
    #[inline]
    fn f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn vexp(self) -> Self {
        vmath::exp_f64(self)
    }
    #[inline(always)]
    fn vln(self) -> Self {
        vmath::ln_f64(self)
    }
    #[inline(always)]
    fn vexp_clipped(self) -> Self {
        const _: () = assert!(activation::SIGMOID_CLIP <= 708.0);
        vmath::exp_f64_within(self)
    }
}
