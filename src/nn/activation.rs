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
//! | `gelu`       | z Φ(z), Φ(z) = erfc(−z/√2)/2  | da · (Φ(z) + z φ(z))               |
//! | `silu`       | z s(z), s(z) = 1/(1 + e^(−z)) | da · s(z) (1 + z (1 − s(z)))       |
//! | `elu`        | z if z > 0 else e^z − 1       | da · (1 if z > 0 else e^z)         |
//! | `softplus`   | ln(1 + e^z), z if z > 20      | da · e^z/(e^z + 1), da if z > 20   |
//! | `exp`        | e^z                           | da · a                             |
//!
//! Softmax couples the units of a row, so it is allowed on the output layer only. GELU is
//! the exact (erf) form, φ the standard normal density; ELU has α = 1, softplus β = 1 and
//! PyTorch's threshold 20 (`SOFTPLUS_THRESHOLD`): each is `torch.nn.functional`'s default,
//! derivative included. `exp` is the output of a Poisson regression (`Loss::Poisson`), as in
//! scikit-learn's `MLPRegressor(loss="poisson")`. Names are parsed ignoring case, and
//! `"logistic"` (scikit-learn's name) is the sigmoid.

use crate::{clamp, Float, Result};
use ndarray::{ArrayView2, ArrayViewMut2, Axis, Zip};

/// Slope of `leaky_relu` for negative inputs.
pub const LEAKY_RELU_SLOPE: f64 = 0.01;
/// Sigmoid clips its input to `[-SIGMOID_CLIP, SIGMOID_CLIP]` (as the tutorial does).
pub const SIGMOID_CLIP: f64 = 500.0;
/// Softplus is `z` itself above this input (PyTorch's default `threshold`).
pub const SOFTPLUS_THRESHOLD: f64 = 20.0;
/// `1/√2`, for GELU's `Φ(z) = erfc(−z/√2)/2`.
const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// `1/√(2π)`, for GELU's `φ(z) = e^(−z²/2)/√(2π)`.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// An elementwise (or, for softmax, row-wise) activation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    Identity,
    Relu,
    LeakyRelu,
    Sigmoid,
    Tanh,
    Softmax,
    Gelu,
    Silu,
    Elu,
    Softplus,
    Exp,
}

impl Activation {
    /// Every activation, in the order of the names list in error messages.
    pub const ALL: [Activation; 11] = [
        Activation::Identity,
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::Gelu,
        Activation::Silu,
        Activation::Elu,
        Activation::Softplus,
        Activation::Exp,
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
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
            Activation::Elu => "elu",
            Activation::Softplus => "softplus",
            Activation::Exp => "exp",
        }
    }

    /// Parses an API name (`"relu"`, ...), ignoring case; `"logistic"` is the sigmoid.
    pub fn from_name(name: &str) -> Result<Self> {
        if name.eq_ignore_ascii_case("logistic") {
            return Ok(Activation::Sigmoid);
        }
        crate::check::pick("activation", name, &Self::ALL.map(|a| (a.name(), a)))
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
            Activation::Gelu => z * gelu_cdf(z),
            Activation::Silu => z / (T::one() + (-z).vexp()),
            Activation::Elu => {
                if z > T::zero() {
                    z
                } else {
                    z.exp_m1()
                }
            }
            Activation::Softplus => {
                if z > T::c(SOFTPLUS_THRESHOLD) {
                    z
                } else {
                    z.exp().ln_1p()
                }
            }
            Activation::Exp => z.vexp(),
        }
    }

    /// `f'(z)` of one element of the activations whose `backward` multiplies by it, from
    /// `z` and `a = f(z)` (those of the first six are written in `backward` itself).
    #[inline(always)]
    fn derivative<T: Float>(self, z: T, a: T) -> T {
        let one = T::one();
        match self {
            Activation::Gelu => {
                gelu_cdf(z) + z * (T::c(-0.5) * z * z).exp() * T::c(FRAC_1_SQRT_2PI)
            }
            Activation::Silu => {
                let s = one / (one + (-z).vexp());
                s * (one + z * (one - s))
            }
            Activation::Elu => {
                if z > T::zero() {
                    one
                } else {
                    z.exp()
                }
            }
            Activation::Softplus => {
                if z > T::c(SOFTPLUS_THRESHOLD) {
                    one
                } else {
                    let e = z.exp();
                    e / (e + one)
                }
            }
            Activation::Exp => a,
            _ => unreachable!("{self:?}'s derivative is written in backward"),
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
        match self {
            Activation::Identity => dz.assign(&da),
            Activation::Relu => Zip::from(&mut dz)
                .and(&da)
                .and(&z)
                .for_each(|dz, &da, &z| *dz = if z > T::zero() { da } else { T::zero() }),
            Activation::LeakyRelu => {
                let slope = T::c(LEAKY_RELU_SLOPE);
                Zip::from(&mut dz)
                    .and(&da)
                    .and(&z)
                    .for_each(|dz, &da, &z| *dz = if z > T::zero() { da } else { slope * da })
            }
            Activation::Sigmoid => Zip::from(&mut dz)
                .and(&da)
                .and(&a)
                .for_each(|dz, &da, &a| *dz = da * a * (T::one() - a)),
            Activation::Tanh => Zip::from(&mut dz)
                .and(&da)
                .and(&a)
                .for_each(|dz, &da, &a| *dz = da * (T::one() - a * a)),
            Activation::Gelu
            | Activation::Silu
            | Activation::Elu
            | Activation::Softplus
            | Activation::Exp => Zip::from(&mut dz)
                .and(&da)
                .and(&z)
                .and(&a)
                .for_each(|dz, &da, &z, &a| *dz = da * self.derivative(z, a)),
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

    /// `backward` in place: `d` holds `da` and is overwritten with `dz = da ⊙ f'(z)`, each
    /// value computed as `backward` computes it (the same bits). A training pass keeps
    /// one buffer for both (`LayerCache::training`).
    pub fn backward_in_place<T: Float>(
        self,
        z: ArrayView2<T>,
        a: ArrayView2<T>,
        mut d: ArrayViewMut2<T>,
    ) {
        match self {
            Activation::Identity => {}
            Activation::Relu => Zip::from(&mut d)
                .and(&z)
                .for_each(|d, &z| *d = if z > T::zero() { *d } else { T::zero() }),
            Activation::LeakyRelu => {
                let slope = T::c(LEAKY_RELU_SLOPE);
                Zip::from(&mut d)
                    .and(&z)
                    .for_each(|d, &z| *d = if z > T::zero() { *d } else { slope * *d })
            }
            Activation::Sigmoid => Zip::from(&mut d)
                .and(&a)
                .for_each(|d, &a| *d = *d * a * (T::one() - a)),
            Activation::Tanh => Zip::from(&mut d)
                .and(&a)
                .for_each(|d, &a| *d *= T::one() - a * a),
            Activation::Gelu
            | Activation::Silu
            | Activation::Elu
            | Activation::Softplus
            | Activation::Exp => Zip::from(&mut d)
                .and(&z)
                .and(&a)
                .for_each(|d, &z, &a| *d *= self.derivative(z, a)),
            Activation::Softmax => Zip::from(d.rows_mut()).and(a.rows()).for_each(|mut d, a| {
                let dot = d.dot(&a);
                Zip::from(&mut d)
                    .and(&a)
                    .for_each(|d, &a| *d = a * (*d - dot));
            }),
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
        Activation::Gelu => map_checked(z, a, |z| Activation::Gelu.value(z)),
        Activation::Silu => map_checked(z, a, |z| Activation::Silu.value(z)),
        Activation::Elu => map_checked(z, a, |z| Activation::Elu.value(z)),
        Activation::Softplus => map_checked(z, a, |z| Activation::Softplus.value(z)),
        Activation::Exp => map_checked(z, a, |z| Activation::Exp.value(z)),
    }
}

/// GELU's `Φ(z) = erfc(−z/√2)/2`, the standard normal distribution function: `erfc` keeps
/// its relative accuracy where `Φ` is tiny (PyTorch's `(1 + erf(z/√2))/2` rounds to 0 there).
#[inline(always)]
fn gelu_cdf<T: Float>(z: T) -> T {
    T::c(0.5) * (-z * T::c(FRAC_1_SQRT_2)).erfc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn backward_in_place_gives_backwards_bits() {
        let z = Array2::from_shape_fn((7, 5), |(i, j)| ((i * 5 + j) as f64 * 0.73).sin() * 3.0);
        let da = Array2::from_shape_fn((7, 5), |(i, j)| ((i * 5 + j) as f64 * 1.37).cos());
        for act in Activation::ALL {
            let a = fwd(act, &z);
            let mut dz = Array2::zeros(z.raw_dim());
            act.backward(z.view(), a.view(), da.view(), dz.view_mut());
            let mut d = da.clone();
            act.backward_in_place(z.view(), a.view(), d.view_mut());
            let bits = |m: &Array2<f64>| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&d), bits(&dz), "{act:?}");
            assert!(
                act == Activation::Identity || d != da,
                "{act:?} changed nothing"
            );
        }
    }

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
        let err = Activation::from_name("mish").unwrap_err().to_string();
        assert!(
            err.contains("'mish'") && err.contains("'softplus'"),
            "{err}"
        );
        for (name, act) in [
            ("GELU", Activation::Gelu),
            ("SiLU", Activation::Silu),
            ("logistic", Activation::Sigmoid),
            ("Logistic", Activation::Sigmoid),
            ("Leaky_ReLU", Activation::LeakyRelu),
        ] {
            assert_eq!(Activation::from_name(name).unwrap(), act, "{name}");
        }
        assert_eq!(Activation::from_name("logistic").unwrap().name(), "sigmoid");
        let err = Activation::from_name("gelus").unwrap_err().to_string();
        assert!(err.ends_with("; did you mean 'gelu'?"), "{err}");
    }

    /// Each new activation and its derivative at points worked by hand (or from the
    /// closed forms in f64, with the constants to 17 digits).
    #[test]
    fn gelu_silu_elu_softplus_exp_by_hand() {
        let z = array![[-30.0, -1.0, 0.0, 1.0, 25.0]];
        let ones = Array2::ones((1, 5));
        let close = |got: f64, want: f64| (got - want).abs() <= 4.0 * f64::EPSILON * want.abs();
        // Φ(−1) = 0.15865525393145707, φ(1) = 0.24197072451914337, Φ(−30) = erfc(30 · 0.7071067811865476)/2 (glibc).
        let (phi_m1, density1) = (0.158_655_253_931_457_07, 0.241_970_724_519_143_37);
        let a = fwd(Activation::Gelu, &z);
        let want = [
            -30.0 * 4.906_713_927_148_024e-198,
            -phi_m1,
            0.0,
            1.0 - phi_m1,
            25.0,
        ];
        for (j, w) in want.iter().enumerate() {
            assert!(
                close(a[[0, j]], *w),
                "gelu({}) = {} != {w}",
                z[[0, j]],
                a[[0, j]]
            );
        }
        let dz = bwd(Activation::Gelu, &z, &ones);
        assert_eq!(dz[[0, 2]], 0.5);
        assert!(close(dz[[0, 3]], 1.0 - phi_m1 + density1));
        assert!(close(dz[[0, 1]], phi_m1 - density1));
        assert_eq!(dz[[0, 4]], 1.0);
        let a = fwd(Activation::Silu, &z);
        assert_eq!(a[[0, 2]], 0.0);
        assert!(close(a[[0, 3]], 1.0 / (1.0 + (-1f64).exp())));
        assert!(close(a[[0, 0]], -30.0 / (1.0 + 30f64.exp())));
        let dz = bwd(Activation::Silu, &z, &ones);
        assert_eq!(dz[[0, 2]], 0.5);
        let s = 1.0 / (1.0 + (-1f64).exp());
        assert!(close(dz[[0, 3]], s * (1.0 + (1.0 - s))));
        let a = fwd(Activation::Elu, &z);
        assert_eq!(a[[0, 2]], 0.0);
        assert_eq!(a[[0, 3]], 1.0);
        assert_eq!(a[[0, 1]], (-1f64).exp_m1());
        assert_eq!(a[[0, 0]], (-30f64).exp_m1());
        let dz = bwd(Activation::Elu, &z, &ones);
        assert_eq!(
            dz.row(0).to_vec(),
            vec![(-30f64).exp(), (-1f64).exp(), 1.0, 1.0, 1.0]
        );
        let a = fwd(Activation::Softplus, &z);
        assert_eq!(a[[0, 2]], 2f64.ln());
        assert_eq!(a[[0, 4]], 25.0); // above the threshold: z itself
        assert!(close(a[[0, 0]], (-30f64).exp().ln_1p()));
        let dz = bwd(Activation::Softplus, &z, &ones);
        assert_eq!(dz[[0, 2]], 0.5);
        assert_eq!(dz[[0, 4]], 1.0);
        let a = fwd(Activation::Exp, &z);
        assert_eq!(a[[0, 2]], 1.0);
        assert!(close(a[[0, 3]], std::f64::consts::E));
        let dz = bwd(Activation::Exp, &z, &(2.0 * &ones));
        assert_eq!(dz, 2.0 * &a);
    }

    /// libm's erfc against values of the error function to 17 digits, in both dtypes.
    #[test]
    fn erfc_is_accurate() {
        let table = [
            (0.0f64, 1.0f64),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (-1.0, 1.842_700_792_949_715),
            (3.0, 2.209_049_699_858_543_8e-5),
            (10.0, 2.088_487_583_762_545e-45),
        ];
        for (x, want) in table {
            let got = Float::erfc(x);
            assert!((got - want).abs() <= 2.0 * f64::EPSILON * want, "erfc({x})");
            let got = Float::erfc(x as f32) as f64;
            let tol = 4.0 * f32::EPSILON as f64 * want + f32::MIN_POSITIVE as f64;
            assert!((got - want).abs() <= tol, "erfcf({x}) = {got}");
        }
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
                // e^z of a huge z is rightly infinite: the loss or `check_output` catch it.
                if act != Activation::Exp {
                    assert!(a.iter().all(|v| v.is_finite()), "{act:?}");
                }
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
