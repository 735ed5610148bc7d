//! Seeded weight initialisation.
//!
//! - He (normal): `W ~ N(0, 2 / n_in)` for layers followed by `relu` or `leaky_relu`;
//! - Glorot (uniform): `W ~ U(−l, l)`, `l = √(6 / (n_in + n_out))`, for every other layer;
//! - biases start at zero, except in relu/leaky_relu layers where they start at
//!   `RELU_BIAS = 0.1`: each unit then starts active on a little more than half of
//!   centred data, which keeps small networks from losing units for good early in
//!   training: with zero biases, more of the tutorial's runs end with a dead second
//!   layer (README, "How well the demo trains").
//!
//! Draws are made in f64 from one PCG-64 stream seeded with `seed`, layer by layer, then
//! rounded to the network's dtype: a seed gives the same network on every platform, and
//! the f32 network is the rounded f64 one.

use crate::nn::layer::{try_zeros, try_zeros1};
use crate::{Activation, Float, Result};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// Initial bias of relu and leaky_relu units.
pub const RELU_BIAS: f64 = 0.1;

/// The random number generator of the core (initialisation and shuffling).
pub type CoreRng = rand_pcg::Pcg64;

/// A generator for `seed`.
pub fn rng(seed: u64) -> CoreRng {
    CoreRng::seed_from_u64(seed)
}

/// Initial `(W, b)` of a layer of shape `(n_in, n_out)` followed by `activation`.
pub fn layer<T: Float>(
    n_in: usize,
    n_out: usize,
    activation: Activation,
    rng: &mut CoreRng,
) -> Result<(Array2<T>, Array1<T>)> {
    let mut w = try_zeros::<T>(n_in, n_out)?;
    let mut b = try_zeros1::<T>(n_out)?;
    match activation {
        Activation::Relu | Activation::LeakyRelu => {
            let std = (2.0 / n_in as f64).sqrt();
            w.iter_mut().for_each(|v| {
                let z: f64 = StandardNormal.sample(rng);
                *v = T::c(z * std);
            });
            b.fill(T::c(RELU_BIAS));
        }
        _ => {
            let limit = (6.0 / (n_in + n_out) as f64).sqrt();
            w.iter_mut()
                .for_each(|v| *v = T::c(rng.random_range(-limit..limit)));
        }
    }
    Ok((w, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_weights_and_f32_is_rounded_f64() {
        let (a, _) = layer::<f64>(3, 4, Activation::Relu, &mut rng(7)).unwrap();
        let (b, _) = layer::<f64>(3, 4, Activation::Relu, &mut rng(7)).unwrap();
        let (c, _) = layer::<f32>(3, 4, Activation::Relu, &mut rng(7)).unwrap();
        let (d, _) = layer::<f64>(3, 4, Activation::Relu, &mut rng(8)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.mapv(|v| v as f32), c);
        assert_ne!(a, d);
    }

    #[test]
    fn scales_follow_he_and_glorot() {
        let (w, b) = layer::<f64>(200, 300, Activation::Relu, &mut rng(0)).unwrap();
        let var = w.mapv(|v| v * v).mean().unwrap();
        assert!((var / (2.0 / 200.0) - 1.0).abs() < 0.03, "{var}");
        assert!(b.iter().all(|&v| v == RELU_BIAS));
        let (w, b) = layer::<f64>(200, 300, Activation::Tanh, &mut rng(0)).unwrap();
        assert!(b.iter().all(|&v| v == 0.0));
        let limit = (6.0f64 / 500.0).sqrt();
        assert!(w.iter().all(|v| v.abs() < limit));
        let var = w.mapv(|v| v * v).mean().unwrap();
        assert!((var / (limit * limit / 3.0) - 1.0).abs() < 0.03, "{var}");
    }
}
