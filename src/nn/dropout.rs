//! Inverted dropout on the outputs of hidden layers, in training passes only.
//!
//! ```text
//! forward:   a = f(z) ⊙ m        m_ij = 1/(1 − p) with probability 1 − p, else 0
//! backward:  dz = da ⊙ f'(z) ⊙ m  (da: the gradient with respect to the dropped output a)
//! ```
//!
//! The next layer reads the dropped `a` (`z' = a · W' + b'`, `dW' = aᵀ · dz'`), so only a
//! layer's own `dz` changes. `f'` reads `f(z)` before the mask (`LayerCache::fz`).
//!
//! Masks are a pure function of a key, not of a sequential stream: unit `j` of a row is
//! kept iff `u ≥ p`, with `u = (h >> 11) · 2⁻⁵³` and `h` a SplitMix64-style hash of
//! `(seed, layer, sample, j)`, where `sample` counts the rows a fit has passed forward
//! (`MaskKey::first` plus the row's position in its batch). Any engine, any split of a
//! batch across threads and any thread count draw the same mask. A rate of 0 draws
//! nothing: no mask is allocated and a pass is exactly a pass without dropout.

use crate::{check, Error, Float, Result};
use ndarray::{ArrayView2, ArrayViewMut2, Zip};

/// Where a batch's masks come from: the fit's `seed`, and the sample count of the batch's
/// first row (`Progress::samples_seen` at the start of its epoch plus the rows of the
/// epoch's earlier batches; 0 for the step API's `forward`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskKey {
    pub seed: u64,
    pub first: u64,
}

const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's finalizer: a bijection of `u64` that mixes every bit into every other.
#[inline(always)]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether unit `unit` of sample `sample` in layer `layer` is kept at rate `p`, from the
/// hash of the layer (`layer_hash`).
#[inline(always)]
fn kept(layer_hash: u64, sample: u64, unit: u64, p: f64) -> bool {
    let h = mix(mix(layer_hash ^ sample) ^ unit);
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64) >= p
}

/// The hash of `(seed, layer)` that each unit's draw starts from.
fn layer_hash(seed: u64, layer: usize) -> u64 {
    mix(mix(seed.wrapping_add(GAMMA)) ^ layer as u64)
}

/// The mask of layer `layer` at rate `p` (in `(0, 1)`) for the rows of `mask`, the first
/// being sample `key.first + row0`: `1/(1 − p)` where a unit is kept, 0 where it is dropped.
pub fn fill<T: Float>(mut mask: ArrayViewMut2<T>, p: f64, key: MaskKey, layer: usize, row0: u64) {
    let scale = T::c(1.0 / (1.0 - p));
    let h = layer_hash(key.seed, layer);
    for (i, mut row) in mask.rows_mut().into_iter().enumerate() {
        let sample = key.first.wrapping_add(row0).wrapping_add(i as u64);
        for (j, m) in row.iter_mut().enumerate() {
            *m = match kept(h, sample, j as u64, p) {
                true => scale,
                false => T::zero(),
            };
        }
    }
}

/// `a = fz ⊙ m`: the dropped output.
pub fn forward<T: Float>(fz: ArrayView2<T>, mask: ArrayView2<T>, a: ArrayViewMut2<T>) {
    Zip::from(a)
        .and(&fz)
        .and(&mask)
        .for_each(|a, &f, &m| *a = f * m);
}

/// `a ⊙= m`: the dropped output, where `a` holds `f(z)` (a product that stores it).
pub fn forward_in_place<T: Float>(a: ArrayViewMut2<T>, mask: ArrayView2<T>) {
    Zip::from(a).and(&mask).for_each(|a, &m| *a *= m);
}

/// `dz ⊙= m`, after `dz = da ⊙ f'(z)`.
pub fn backward<T: Float>(dz: ArrayViewMut2<T>, mask: ArrayView2<T>) {
    Zip::from(dz).and(&mask).for_each(|dz, &m| *dz *= m);
}

/// The rates of a network with `hidden` hidden layers, one per hidden layer, from one rate
/// for all (`Rate`) or a list (`Rates`), each in `[0, 1)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Rates {
    Rate(f64),
    Rates(Vec<f64>),
}

impl Rates {
    /// One checked rate per hidden layer.
    pub fn per_layer(&self, hidden: usize) -> Result<Vec<f64>> {
        match self {
            Rates::Rate(p) => {
                let p = check::below_one("dropout", *p)?;
                if p > 0.0 && hidden == 0 {
                    return Err(Error::value(
                        "dropout",
                        format!(
                            "applies to hidden layers and this network has none, got {}",
                            check::show(p)
                        ),
                    ));
                }
                Ok(vec![p; hidden])
            }
            Rates::Rates(rates) => {
                if rates.len() != hidden {
                    return Err(Error::shape(
                        "dropout",
                        format!("{hidden} rates (one per hidden layer)"),
                        format!("{}", rates.len()),
                    ));
                }
                check_rates(rates)?;
                Ok(rates.clone())
            }
        }
    }
}

/// Refuses a rate outside `[0, 1)`, naming its position.
pub fn check_rates(rates: &[f64]) -> Result<()> {
    for (i, &p) in rates.iter().enumerate() {
        if check::below_one("dropout", p).is_err() {
            return Err(Error::value(
                "dropout",
                format!(
                    "must hold rates in [0, 1), got dropout[{i}] = {}",
                    check::show(p)
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn the_mask_is_a_function_of_its_key() {
        let key = MaskKey {
            seed: 7,
            first: 100,
        };
        let mut whole = Array2::<f64>::zeros((9, 5));
        fill(whole.view_mut(), 0.5, key, 1, 0);
        // Rows drawn in two pieces, the second starting at row 4: the same values.
        let mut parts = Array2::<f64>::zeros((9, 5));
        let (a, b) = parts.view_mut().split_at(ndarray::Axis(0), 4);
        fill(a, 0.5, key, 1, 0);
        fill(b, 0.5, key, 1, 4);
        assert_eq!(whole, parts);
        // The same sample counted from another batch start.
        let mut shifted = Array2::<f64>::zeros((5, 5));
        fill(
            shifted.view_mut(),
            0.5,
            MaskKey {
                seed: 7,
                first: 104,
            },
            1,
            0,
        );
        assert_eq!(shifted, whole.slice(ndarray::s![4.., ..]));
        assert!(whole.iter().all(|&m| m == 0.0 || m == 2.0));
        // Another layer or seed, another mask.
        let mut other = Array2::<f64>::zeros((9, 5));
        fill(other.view_mut(), 0.5, key, 2, 0);
        assert_ne!(other, whole);
        fill(
            other.view_mut(),
            0.5,
            MaskKey {
                seed: 8,
                first: 100,
            },
            1,
            0,
        );
        assert_ne!(other, whole);
    }

    #[test]
    fn units_are_kept_at_rate_one_minus_p() {
        for p in [0.1, 0.5, 0.9] {
            let mut mask = Array2::<f32>::zeros((400, 250));
            fill(mask.view_mut(), p, MaskKey { seed: 3, first: 0 }, 0, 0);
            let scale = (1.0 / (1.0 - p)) as f32;
            assert!(mask.iter().all(|&m| m == 0.0 || m == scale));
            let kept = mask.iter().filter(|&&m| m != 0.0).count() as f64 / mask.len() as f64;
            // 100 000 draws: the standard deviation is at most 0.0016.
            assert!((kept - (1.0 - p)).abs() < 0.01, "p = {p}: kept {kept}");
        }
    }

    #[test]
    fn the_hash_by_hand() {
        // SplitMix64's first output for seed 0 is mix(GAMMA).
        assert_eq!(mix(GAMMA), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn rates_are_checked() {
        assert_eq!(Rates::Rate(0.25).per_layer(2), Ok(vec![0.25, 0.25]));
        assert_eq!(Rates::Rate(0.0).per_layer(0), Ok(vec![]));
        assert_eq!(
            Rates::Rate(1.5).per_layer(2).unwrap_err().to_string(),
            "dropout must be in [0, 1), got 1.5"
        );
        assert_eq!(
            Rates::Rates(vec![0.1, -0.5])
                .per_layer(2)
                .unwrap_err()
                .to_string(),
            "dropout must hold rates in [0, 1), got dropout[1] = -0.5"
        );
        assert!(Rates::Rates(vec![0.1])
            .per_layer(2)
            .unwrap_err()
            .to_string()
            .contains("2 rates"));
        assert!(Rates::Rate(0.5)
            .per_layer(0)
            .unwrap_err()
            .to_string()
            .contains("none"));
        assert!(Rates::Rate(f64::NAN).per_layer(1).is_err());
    }
}
