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

#[macro_use]
pub mod kernels;

pub mod check;
pub mod error;
pub mod io;
pub mod nn;
pub mod pool;
pub mod train;

#[cfg(feature = "python")]
mod python;

/// The Python extension's allocator (and the tests'): the system's, with gemm's packing
/// buffers kept between products (`kernels/packing.rs`). A Rust program using the crate
/// keeps its own allocator.
#[cfg(any(test, feature = "python"))]
#[global_allocator]
static ALLOCATOR: kernels::packing::Packing = kernels::packing::Packing;

pub use error::{Error, Result};
pub use kernels::Simd;
pub use nn::activation::Activation;
pub use nn::layer::{Dense, Gradient, LayerCache};
pub use nn::loss::{Loss, Target};
pub use nn::network::{LossAndGradient, Network, NetworkConfig};
pub use nn::optim::{Optimizer, OptimizerConfig};
pub use nn::AnyNetwork;
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
    + kernels::simd::HasLanes
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
    /// The complementary error function `erfc x = 1 − erf x` (libm's).
    fn erfc(self) -> Self;
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
        kernels::vmath::exp_f32(self)
    }
    #[inline(always)]
    fn vln(self) -> Self {
        kernels::vmath::ln_f32(self)
    }
    #[inline(always)]
    fn vexp_clipped(self) -> Self {
        // e^±500 is out of f32's range: the checks stay.
        kernels::vmath::exp_f32(self)
    }
    #[inline]
    fn erfc(self) -> Self {
        libm::erfcf(self)
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
        kernels::vmath::exp_f64(self)
    }
    #[inline(always)]
    fn vln(self) -> Self {
        kernels::vmath::ln_f64(self)
    }
    #[inline(always)]
    fn vexp_clipped(self) -> Self {
        const _: () = assert!(nn::activation::SIGMOID_CLIP <= 708.0);
        kernels::vmath::exp_f64_within(self)
    }
    #[inline]
    fn erfc(self) -> Self {
        libm::erfc(self)
    }
}
