//! Activation functions `a = f(z)`, each with its derivative next to it.
//!
//! | name         | f(z)                          | backward: dz = da ⊙ f'(z)          |
//! |--------------|-------------------------------|------------------------------------|
//! | `identity`   | z                             | da                                 |
//! | `relu`       | max(z, 0)                     | da · [z > 0]   (ReLU'(0) = 0)      |
//! | `leaky_relu` | z if z > 0 else 0.01 z        | da · (1 if z > 0 else 0.01)        |
//! | `sigmoid`    | 1 / (1 + e^(−clip(z, ±500)))  | da · a (1 − a)                     |
//! | `tanh`       | tanh z                        | da · (1 − a²)                      |
//! | `softmax`    | e^(z_i) / Σ_j e^(z_j), by row | a ⊙ (da − Σ_j da_j a_j), by row    |
//!
//! Softmax couples the units of a row, so it is allowed on the output layer only.

use crate::{clamp, Error, Float, Result};
use ndarray::{ArrayView2, ArrayViewMut2, Axis, Zip};

/// Slope of `leaky_relu` for negative inputs.
pub const LEAKY_RELU_SLOPE: f64 = 0.01;
/// Sigmoid clips its input to `[-SIGMOID_CLIP, SIGMOID_CLIP]` (as the tutorial does).
pub const SIGMOID_CLIP: f64 = 500.0;

/// An elementwise (or, for softmax, row-wise) activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    Identity,
    Relu,
    LeakyRelu,
    Sigmoid,
    Tanh,
    Softmax,
}

impl Activation {
    /// Every activation, in the order of the names list in error messages.
    pub const ALL: [Activation; 6] = [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
    ];

    /// The activation's API name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
        }
    }

    /// Parses an API name (`"relu"`, ...).
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| Error::unknown("activation", name, Self::ALL.map(Self::name)))
    }

    /// `a = f(z)`. `z` and `a` have the same shape. Returns whether every `z` is finite; if
    /// one is not (the layer overflowed), every `a` is NaN instead, so that no activation
    /// (ReLU's 0 for NaN, the sigmoid's clip, tanh's ±1 for ±∞, softmax's 0 for −∞) passes
    /// the overflow off as a value downstream.
    pub fn forward<T: Float>(self, z: ArrayView2<T>, mut a: ArrayViewMut2<T>) -> bool {
        // Each loop also sums z · 0, which is 0 if every z is finite and NaN otherwise.
        let check = self.forward_checked(z, a.view_mut());
        let finite = check == T::zero();
        if !finite {
            a.fill(T::nan());
        }
        finite
    }

    /// `a = f(z)` and `Σ z · 0`.
    fn forward_checked<T: Float>(self, z: ArrayView2<T>, mut a: ArrayViewMut2<T>) -> T {
        let zero = T::zero();
        if self == Activation::Softmax {
            a.assign(&z);
            let mut check = zero;
            for mut row in a.axis_iter_mut(Axis(0)) {
                let (max, row_check) = row.fold((T::neg_infinity(), zero), |(m, c), &v| {
                    (m.max(v), c + v * zero)
                });
                check += row_check;
                row.mapv_inplace(|v| (v - max).vexp());
                let sum = row.sum();
                row.mapv_inplace(|v| v / sum);
            }
            return check;
        }
        if z.strides() == a.strides() {
            if let (Some(z), Some(a)) = (z.as_slice_memory_order(), a.as_slice_memory_order_mut()) {
                return elementwise(self, z, a);
            }
        }
        // Otherwise by rows or columns, whichever both have contiguous.
        let unit = |axis: usize| a.strides()[axis] == 1 && z.strides()[axis] == 1;
        match (unit(1), unit(0)) {
            (true, _) | (_, true) => {
                let axis = Axis(if unit(1) { 1 } else { 0 });
                let mut check = zero;
                Zip::from(a.lanes_mut(axis))
                    .and(z.lanes(axis))
                    .for_each(|mut a, z| match (z.as_slice(), a.as_slice_mut()) {
                        (Some(z), Some(a)) => check += elementwise(self, z, a),
                        _ => unreachable!("lanes along a unit-stride axis are contiguous"),
                    });
                check
            }
            _ => Zip::from(&mut a).and(&z).fold(zero, |check, a, &z| {
                *a = self.value(z);
                check + z * zero
            }),
        }
    }

    /// `f(z)` of one element (softmax excepted: it normalizes a row).
    #[inline(always)]
    fn value<T: Float>(self, z: T) -> T {
        match self {
            Activation::Identity => z,
            Activation::Relu => {
                if z > T::zero() {
                    z
                } else {
                    T::zero()
                }
            }
            Activation::LeakyRelu => {
                if z > T::zero() {
                    z
                } else {
                    T::c(LEAKY_RELU_SLOPE) * z
                }
            }
            Activation::Sigmoid => {
                let clip = T::c(SIGMOID_CLIP);
                T::one() / (T::one() + (-clamp(z, -clip, clip)).vexp_clipped())
            }
            Activation::Tanh => z.tanh(),
            Activation::Softmax => unreachable!("softmax normalizes rows, see forward"),
        }
    }

    /// `dz = da ⊙ f'(z)` (for softmax, the Jacobian-vector product), from the cached `z`
    /// and `a = f(z)` of the forward pass.
    pub fn backward<T: Float>(
        self,
        z: ArrayView2<T>,
        a: ArrayView2<T>,
        da: ArrayView2<T>,
        mut dz: ArrayViewMut2<T>,
    ) {
        let zip = Zip::from(&mut dz).and(&da);
        match self {
            Activation::Identity => dz.assign(&da),
            Activation::Relu => zip
                .and(&z)
                .for_each(|dz, &da, &z| *dz = if z > T::zero() { da } else { T::zero() }),
            Activation::LeakyRelu => {
                let slope = T::c(LEAKY_RELU_SLOPE);
                zip.and(&z)
                    .for_each(|dz, &da, &z| *dz = if z > T::zero() { da } else { slope * da })
            }
            Activation::Sigmoid => zip
                .and(&a)
                .for_each(|dz, &da, &a| *dz = da * a * (T::one() - a)),
            Activation::Tanh => zip
                .and(&a)
                .for_each(|dz, &da, &a| *dz = da * (T::one() - a * a)),
            Activation::Softmax => {
                Zip::from(dz.rows_mut())
                    .and(da.rows())
                    .and(a.rows())
                    .for_each(|mut dz, da, a| {
                        let dot = da.dot(&a);
                        Zip::from(&mut dz)
                            .and(&da)
                            .and(&a)
                            .for_each(|dz, &da, &a| *dz = a * (da - dot));
                    });
            }
        }
    }
}

/// `a = f(z)` over slices and `Σ z · 0` (NaN if some `z` is not finite), by
/// `kernels::elementwise::map_checked`: one loop per activation, so that each vectorizes
/// (the sigmoid's `vexp` included).
fn elementwise<T: Float>(f: Activation, z: &[T], a: &mut [T]) -> T {
    use crate::kernels::elementwise::map_checked;
    match f {
        Activation::Identity => map_checked(z, a, |z| z),
        Activation::Relu => map_checked(z, a, |z| Activation::Relu.value(z)),
        Activation::LeakyRelu => map_checked(z, a, |z| Activation::LeakyRelu.value(z)),
        Activation::Sigmoid => map_checked(z, a, |z| Activation::Sigmoid.value(z)),
        Activation::Tanh => map_checked(z, a, |z| Activation::Tanh.value(z)),
        Activation::Softmax => unreachable!("softmax normalizes rows, see forward"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    fn fwd(act: Activation, z: &Array2<f64>) -> Array2<f64> {
        let mut a = Array2::zeros(z.raw_dim());
        act.forward(z.view(), a.view_mut());
        a
    }

    fn bwd(act: Activation, z: &Array2<f64>, da: &Array2<f64>) -> Array2<f64> {
        let a = fwd(act, z);
        let mut dz = Array2::zeros(z.raw_dim());
        act.backward(z.view(), a.view(), da.view(), dz.view_mut());
        dz
    }

    #[test]
    fn names_round_trip_and_unknown_is_refused() {
        for act in Activation::ALL {
            assert_eq!(Activation::from_name(act.name()).unwrap(), act);
        }
        let err = Activation::from_name("gelu").unwrap_err().to_string();
        assert!(
            err.contains("'gelu'") && err.contains("leaky_relu"),
            "{err}"
        );
    }

    #[test]
    fn relu_family_by_hand() {
        let z = array![[-2.0, 0.0, 3.0]];
        let da = array![[5.0, 5.0, 5.0]];
        assert_eq!(fwd(Activation::Relu, &z), array![[0.0, 0.0, 3.0]]);
        assert_eq!(bwd(Activation::Relu, &z, &da), array![[0.0, 0.0, 5.0]]);
        assert_eq!(fwd(Activation::LeakyRelu, &z), array![[-0.02, 0.0, 3.0]]);
        assert_eq!(
            bwd(Activation::LeakyRelu, &z, &da),
            array![[0.05, 0.05, 5.0]]
        );
        assert_eq!(fwd(Activation::Identity, &z), z);
        assert_eq!(bwd(Activation::Identity, &z, &da), da);
    }

    #[test]
    fn sigmoid_and_tanh_by_hand() {
        let z = array![[0.0, 1000.0, -1000.0]];
        let a = fwd(Activation::Sigmoid, &z);
        assert_eq!(a[[0, 0]], 0.5);
        assert_eq!(a[[0, 1]], 1.0);
        // e^(-500) is the clipped value, not an underflow to 0 (to 2 ulp: vmath.rs).
        let want = 1.0 / (1.0 + 500f64.exp());
        assert!((a[[0, 2]] - want).abs() <= 4.0 * f64::EPSILON * want);
        // NaN stays NaN: clipping must not turn an upstream overflow into a prediction.
        assert!(fwd(Activation::Sigmoid, &array![[f64::NAN]])[[0, 0]].is_nan());
        let dz = bwd(Activation::Sigmoid, &array![[0.0]], &array![[2.0]]);
        assert_eq!(dz[[0, 0]], 0.5); // 2 · 0.5 · 0.5: no spurious factor 2
        let t = fwd(Activation::Tanh, &array![[0.5]]);
        assert_eq!(t[[0, 0]], 0.5f64.tanh());
        let dz = bwd(Activation::Tanh, &array![[0.5]], &array![[1.0]]);
        assert_eq!(dz[[0, 0]], 1.0 - 0.5f64.tanh().powi(2));
    }

    #[test]
    fn softmax_rows_sum_to_one_and_resist_overflow() {
        let z = array![[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0]];
        let a = fwd(Activation::Softmax, &z);
        let e = [1f64.exp(), 2f64.exp(), 3f64.exp()];
        let s: f64 = e.iter().sum();
        for j in 0..3 {
            assert!((a[[0, j]] - e[j] / s).abs() < 1e-15);
        }
        assert_eq!(a.row(1).to_vec(), vec![0.5, 0.5, 0.0]);
    }

    #[test]
    fn softmax_backward_is_the_jacobian_product() {
        let z = array![[0.3, -1.2, 0.7]];
        let da = array![[1.0, -2.0, 0.5]];
        let a = fwd(Activation::Softmax, &z);
        let dz = bwd(Activation::Softmax, &z, &da);
        // J_ij = a_i (δ_ij − a_j); dz_j = Σ_i da_i J_ij
        for j in 0..3 {
            let mut want = 0.0;
            for i in 0..3 {
                let delta = if i == j { 1.0 } else { 0.0 };
                want += da[[0, i]] * a[[0, i]] * (delta - a[[0, j]]);
            }
            assert!((dz[[0, j]] - want).abs() < 1e-15);
        }
    }

    /// A NaN or infinity anywhere in `z` — in a vector chunk or the remainder, in every
    /// layout the loops take — is reported and makes every output NaN; huge finite values
    /// are not.
    #[test]
    fn a_non_finite_z_is_reported_and_poisons_the_output() {
        fn check<T: Float>() {
            let (rows, cols) = (5, 37); // 185 values: chunks of 32 and a remainder
            for act in Activation::ALL {
                let base = Array2::from_shape_fn((rows, cols), |(i, j)| {
                    T::c((i * 7 + j) as f64 / 50.0 - 1.0)
                });
                let mut a = Array2::<T>::zeros((rows, cols));
                let mut huge = base.clone();
                huge[[0, 0]] = T::max_value();
                huge[[4, 36]] = T::min_value();
                assert!(act.forward(huge.view(), a.view_mut()), "{act:?}");
                assert!(a.iter().all(|v| v.is_finite()), "{act:?}");
                for bad in [T::nan(), T::infinity(), T::neg_infinity()] {
                    for (i, j) in [(0, 0), (2, 20), (4, 36)] {
                        let mut z = base.clone();
                        z[[i, j]] = bad;
                        // Contiguous, by rows (`a` a slice of wider rows) and strided.
                        let mut a_rows = Array2::<T>::zeros((rows, cols + 3));
                        let mut wide = Array2::<T>::zeros((rows, 2 * cols));
                        let z_wide = {
                            let mut w = Array2::<T>::zeros((rows, 2 * cols));
                            w.slice_mut(ndarray::s![.., ..;2]).assign(&z);
                            w
                        };
                        let layouts = [
                            act.forward(z.view(), a.view_mut()),
                            act.forward(z.view(), a_rows.slice_mut(ndarray::s![.., ..cols])),
                            act.forward(
                                z_wide.slice(ndarray::s![.., ..;2]),
                                wide.slice_mut(ndarray::s![.., 1..;2]),
                            ),
                        ];
                        assert_eq!(layouts, [false; 3], "{act:?} {bad} at ({i}, {j})");
                        let strided = wide.slice(ndarray::s![.., 1..;2]);
                        let by_rows = a_rows.slice(ndarray::s![.., ..cols]);
                        for out in [a.view(), by_rows, strided] {
                            assert!(out.iter().all(|v| v.is_nan()), "{act:?} {bad}");
                        }
                    }
                }
            }
        }
        check::<f64>();
        check::<f32>();
    }

    #[test]
    fn f32_is_supported() {
        let z = array![[0.0f32, -1.0]];
        let mut a = Array2::<f32>::zeros((1, 2));
        Activation::Sigmoid.forward(z.view(), a.view_mut());
        assert_eq!(a[[0, 0]], 0.5f32);
    }
}
