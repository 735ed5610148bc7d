//! Losses, each the MEAN over the batch, with the exact gradient of that mean.
//!
//! With `ŷ` the output `a_L` of shape `(n, k)`, `p = clip(ŷ, ε, 1 − ε)` (ε the dtype's
//! machine epsilon) and `N = n · k`:
//!
//! | name                   | L                                      | dL/dŷ                   |
//! |------------------------|----------------------------------------|-------------------------|
//! | `binary_cross_entropy` | −Σ [y ln p + (1 − y) ln(1 − p)] / N    | (p − y) / (p (1 − p) N) |
//! | `cross_entropy`        | −Σ y ln p / n   (y one-hot or labels)  | −y / (p n)              |
//! | `mean_squared_error`   | Σ (ŷ − y)² / N                         | 2 (ŷ − y) / N           |
//! | `huber`                | Σ h(ŷ − y) / N                         | clip(ŷ − y, ±1) / N     |
//! | `mean_absolute_error`  | Σ abs(ŷ − y) / N                       | sign(ŷ − y) / N         |
//! | `poisson`              | Σ [y ln(y / ŷ) − y + ŷ] / N            | (1 − y / ŷ) / N         |
//!
//! `h(d) = d²/2` if `|d| < 1`, else `|d| − 1/2` (PyTorch's `HuberLoss` with `delta=1`);
//! `sign(0) = 0` (PyTorch's `L1Loss` subgradient). `poisson` is half the Poisson deviance,
//! `y ln(y/ŷ)` being 0 where `y = 0`: scikit-learn's `MLPRegressor(loss="poisson")` reports
//! it (times its number of outputs), and it is PyTorch's `PoissonNLLLoss` on `ln ŷ` plus
//! the constant `Σ (y ln y − y) / N`, which makes it 0 where `ŷ = y`.
//!
//! At a sigmoid output with binary cross-entropy, a softmax output with cross-entropy, and
//! an exponential output with the Poisson loss, the output delta collapses to
//! `dz_L = (ŷ − y) / N` (resp. `/ n`): computed that way, it is exact and stable. Binary
//! cross-entropy requires a sigmoid output, cross-entropy a softmax output, `poisson` an
//! `exp` output; the other losses accept any output activation.

use crate::kernels::simd::{interleaved, LANES};
use crate::{clamp, Activation, Error, Float, Result};
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2, Axis, Zip};

/// A loss function, mean-reduced over the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Loss {
    BinaryCrossEntropy,
    CrossEntropy,
    MeanSquaredError,
    Huber,
    MeanAbsoluteError,
    Poisson,
}

/// The targets of a batch: dense `(n, k)` values, or integer class labels `(n,)` (for
/// `cross_entropy` only).
#[derive(Debug, Clone, Copy)]
pub enum Target<'a, T> {
    Dense(ArrayView2<'a, T>),
    Labels(ArrayView1<'a, usize>),
}

impl<'a, T: Float> Target<'a, T> {
    /// Number of samples (rows).
    pub fn len(&self) -> usize {
        match self {
            Target::Dense(y) => y.nrows(),
            Target::Labels(l) => l.len(),
        }
    }

    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Loss {
    /// Every loss.
    pub const ALL: [Loss; 6] = [
        Loss::BinaryCrossEntropy,
        Loss::CrossEntropy,
        Loss::MeanSquaredError,
        Loss::Huber,
        Loss::MeanAbsoluteError,
        Loss::Poisson,
    ];

    /// The loss's API name.
    pub fn name(self) -> &'static str {
        match self {
            Loss::BinaryCrossEntropy => "binary_cross_entropy",
            Loss::CrossEntropy => "cross_entropy",
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::Huber => "huber",
            Loss::MeanAbsoluteError => "mean_absolute_error",
            Loss::Poisson => "poisson",
        }
    }

    /// Parses an API name, ignoring case.
    pub fn from_name(name: &str) -> Result<Self> {
        crate::check::pick("loss", name, &Self::ALL.map(|l| (l.name(), l)))
    }

    /// Refuses an output activation this loss is not defined for.
    pub fn check_output(self, output: Activation) -> Result<()> {
        let needed = match self {
            Loss::BinaryCrossEntropy => Activation::Sigmoid,
            Loss::CrossEntropy => Activation::Softmax,
            Loss::Poisson => Activation::Exp,
            Loss::MeanSquaredError | Loss::Huber | Loss::MeanAbsoluteError => return Ok(()),
        };
        if output == needed {
            Ok(())
        } else {
            Err(Error::value(
                "activations",
                format!(
                    "must end with {:?} for loss {:?}, got {:?}",
                    needed.name(),
                    self.name(),
                    output.name()
                ),
            ))
        }
    }

    /// True where the output delta is fused to `(ŷ − y) / N`.
    pub fn is_fused(self, output: Activation) -> bool {
        matches!(
            (self, output),
            (Loss::BinaryCrossEntropy, Activation::Sigmoid)
                | (Loss::CrossEntropy, Activation::Softmax)
                | (Loss::Poisson, Activation::Exp)
        )
    }

    /// Validates targets against an output of `n` rows and `k` columns: shape, finiteness
    /// and the range the loss needs. Runs before any kernel.
    pub fn check_target<T: Float>(self, y: &Target<T>, n: usize, k: usize) -> Result<()> {
        match *y {
            Target::Labels(labels) => {
                if self != Loss::CrossEntropy {
                    return Err(Error::Type {
                        arg: "y",
                        expected: format!(
                            "float targets of shape ({n}, {k}) for {:?}",
                            self.name()
                        ),
                        got: "integer class labels".into(),
                    });
                }
                if labels.len() != n {
                    return Err(Error::shape(
                        "y",
                        format!("{n} labels (one per row of X)"),
                        format!("{}", labels.len()),
                    ));
                }
                if let Some(bad) = labels.iter().find(|&&c| c >= k) {
                    let hint = match labels.iter().min() {
                        Some(&1) if *bad == k => {
                            ": labels count from 0 (subtract 1, or number the classes with \
                             numpy.unique(y, return_inverse=True))"
                        }
                        _ => ": out of range",
                    };
                    return Err(Error::value("y", format!("must hold class labels in [0, {k}) (the output layer has {k} units), got {bad}{hint}")));
                }
            }
            Target::Dense(y) => {
                if y.dim() != (n, k) {
                    return Err(self.shape_error(y.dim(), n, k));
                }
                if y.iter().any(|v| !v.is_finite()) {
                    return Err(Error::value("y", "must be finite, got NaN or infinity"));
                }
                match self {
                    Loss::BinaryCrossEntropy | Loss::CrossEntropy => {
                        if y.iter().any(|&v| v < T::zero() || v > T::one()) {
                            return Err(self.range_error(y));
                        }
                    }
                    Loss::Poisson => {
                        if y.iter().any(|&v| v < T::zero()) {
                            return Err(self.range_error(y));
                        }
                    }
                    Loss::MeanSquaredError | Loss::Huber | Loss::MeanAbsoluteError => {}
                }
                if self == Loss::CrossEntropy {
                    let tol = T::epsilon().sqrt();
                    if let Some(i) = y
                        .rows()
                        .into_iter()
                        .position(|r| (r.sum() - T::one()).abs() > tol)
                    {
                        return Err(Error::value("y", format!("must be one-hot or probability rows summing to 1 for cross_entropy, got row {i} summing to {}", y.row(i).sum())));
                    }
                }
            }
        }
        Ok(())
    }

    /// Dense targets of shape `got` against an output of `n` rows and `k` columns: what is
    /// wrong, and the likely remedy (one-hot rows for a one-output network, X and y of
    /// different lengths).
    fn shape_error(self, got: (usize, usize), n: usize, k: usize) -> Error {
        let expected = format!("shape ({n}, {k})");
        if got.0 != n {
            return Error::value(
                "y",
                format!(
                    "has {} rows but X has {n}: X and y need one row per sample (expected \
                     {expected}, got shape {got:?})",
                    got.0
                ),
            );
        }
        if k == 1 && self == Loss::BinaryCrossEntropy {
            return Error::value(
                "y",
                format!(
                    "has {} columns but the network has 1 output (expected {expected}): for \
                     one-hot targets use loss \"cross_entropy\" with a softmax output of {} \
                     units, or give 0/1 labels of shape ({n},) for binary_cross_entropy",
                    got.1, got.1
                ),
            );
        }
        Error::shape("y", expected, format!("shape {got:?}"))
    }

    /// Targets outside `[0, 1]` for a cross-entropy: the range received, and what to give.
    fn range_error<T: Float>(self, y: ArrayView2<T>) -> Error {
        let (lo, hi) = y
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v.f64()), hi.max(v.f64()))
            });
        if self == Loss::Poisson {
            return Error::value(
                "y",
                format!(
                    "must be non-negative for \"poisson\" (counts or rates), got values in \
                     [{lo}, {hi}]"
                ),
            );
        }
        let hint = match self {
            Loss::BinaryCrossEntropy => {
                "binary_cross_entropy needs 0/1 labels or probabilities: map the two classes \
                 to 0 and 1, or for several classes use loss \"cross_entropy\" with a softmax \
                 output and integer labels 0..k-1"
            }
            _ => "cross_entropy needs one-hot or probability rows, or 1-D integer labels",
        };
        Error::value(
            "y",
            format!(
                "must lie in [0, 1] for {:?}, got values in [{lo}, {hi}]: {hint}",
                self.name()
            ),
        )
    }

    /// The mean loss of predictions `yhat` against `y` (accumulated in f64).
    pub fn value<T: Float>(self, yhat: ArrayView2<T>, y: Target<T>) -> f64 {
        self.value_weighted(yhat, y, None)
    }

    /// The loss with row `i`'s share multiplied by `row_scale[i]` (all ones, or `None`, is
    /// the plain mean; `w_i · n / Σw` makes it the `w`-weighted mean).
    pub fn value_weighted<T: Float>(
        self,
        yhat: ArrayView2<T>,
        y: Target<T>,
        row_scale: Option<ArrayView1<T>>,
    ) -> f64 {
        let (n, k) = yhat.dim();
        let eps = T::epsilon();
        let one = T::one();
        let count = if self == Loss::CrossEntropy { n } else { n * k };
        // One output (binary classification, one regression target): a contiguous pass.
        if let (1, Target::Dense(y), None) = (k, y, row_scale) {
            if let (Some(p), Some(y)) = (yhat.column(0).to_slice(), y.column(0).to_slice()) {
                return column_sum(self, p, y) / count as f64;
            }
        }
        let element = |p: T, y: T| self.element(p, y).f64();
        let row = |i: usize| -> f64 {
            match y {
                Target::Labels(labels) => -clamp(yhat[[i, labels[i]]], eps, one).vln().f64(),
                Target::Dense(y) => Zip::from(yhat.row(i))
                    .and(y.row(i))
                    .fold(0.0, |s, &p, &y| s + element(p, y)),
            }
        };
        let sum: f64 = match row_scale {
            None => (0..n).map(row).sum(),
            Some(scale) => (0..n).map(|i| row(i) * scale[i].f64()).sum(),
        };
        sum / count as f64
    }

    /// The (positive) loss of one element of a dense target.
    #[inline(always)]
    fn element<T: Float>(self, p: T, y: T) -> T {
        let (eps, one) = (T::epsilon(), T::one());
        match self {
            Loss::CrossEntropy => -(y * clamp(p, eps, one).vln()),
            Loss::BinaryCrossEntropy => {
                let p = clamp(p, eps, one - eps);
                // One logarithm for 0/1 targets (the other term is exactly 0).
                let term = if y == one {
                    p.vln()
                } else if y == T::zero() {
                    (one - p).vln()
                } else {
                    y * p.vln() + (one - y) * (one - p).vln()
                };
                -term
            }
            Loss::MeanSquaredError => (p - y) * (p - y),
            Loss::Huber => {
                let d = (p - y).abs();
                if d < one {
                    T::c(0.5) * d * d
                } else {
                    d - T::c(0.5)
                }
            }
            Loss::MeanAbsoluteError => (p - y).abs(),
            Loss::Poisson => {
                if y == T::zero() {
                    p
                } else {
                    y * (y / p).vln() - y + p
                }
            }
        }
    }

    /// `da = dL/dŷ` of the mean loss.
    pub fn gradient<T: Float>(self, yhat: ArrayView2<T>, y: Target<T>, mut da: ArrayViewMut2<T>) {
        let (n, k) = yhat.dim();
        let eps = T::epsilon();
        let one = T::one();
        match (self, y) {
            (Loss::CrossEntropy, Target::Labels(labels)) => {
                let scale = T::c(1.0 / n as f64);
                da.fill(T::zero());
                for (i, &c) in labels.iter().enumerate() {
                    da[[i, c]] = -scale / clamp(yhat[[i, c]], eps, one);
                }
            }
            (Loss::CrossEntropy, Target::Dense(y)) => {
                let scale = T::c(1.0 / n as f64);
                Zip::from(&mut da)
                    .and(&yhat)
                    .and(&y)
                    .for_each(|da, &p, &y| {
                        *da = -y * scale / clamp(p, eps, one);
                    });
            }
            (Loss::BinaryCrossEntropy, Target::Dense(y)) => {
                let scale = T::c(1.0 / (n * k) as f64);
                Zip::from(&mut da)
                    .and(&yhat)
                    .and(&y)
                    .for_each(|da, &p, &y| {
                        let p = clamp(p, eps, one - eps);
                        *da = (p - y) / (p * (one - p)) * scale;
                    });
            }
            (Loss::MeanSquaredError, Target::Dense(y)) => {
                let scale = T::c(2.0 / (n * k) as f64);
                Zip::from(&mut da)
                    .and(&yhat)
                    .and(&y)
                    .for_each(|da, &p, &y| *da = (p - y) * scale);
            }
            (Loss::Huber, Target::Dense(y)) => {
                let scale = T::c(1.0 / (n * k) as f64);
                Zip::from(&mut da)
                    .and(&yhat)
                    .and(&y)
                    .for_each(|da, &p, &y| *da = clamp(p - y, -one, one) * scale);
            }
            (Loss::MeanAbsoluteError, Target::Dense(y)) => {
                let scale = T::c(1.0 / (n * k) as f64);
                Zip::from(&mut da)
                    .and(&yhat)
                    .and(&y)
                    .for_each(|da, &p, &y| {
                        let d = p - y;
                        // sign(0) = 0, PyTorch's subgradient (`signum` would give ±1).
                        let sign = if d > T::zero() {
                            one
                        } else if d < T::zero() {
                            -one
                        } else {
                            d
                        };
                        *da = sign * scale;
                    });
            }
            (Loss::Poisson, Target::Dense(y)) => {
                let scale = T::c(1.0 / (n * k) as f64);
                Zip::from(&mut da)
                    .and(&yhat)
                    .and(&y)
                    .for_each(|da, &p, &y| *da = (one - y / p) * scale);
            }
            (_, Target::Labels(_)) => unreachable!("labels are refused by check_target"),
        }
    }

    /// The output layer's gradient of the mean loss, row `i` times `row_scale[i]` (sample
    /// weights): the fused `dz_L` into `dz` where `output` and the loss fuse (`is_fused`),
    /// else `da_L` into `da`. Returns whether it wrote `dz`. Both engines start their
    /// backward pass here.
    pub fn output_gradient<T: Float>(
        self,
        output: Activation,
        yhat: ArrayView2<T>,
        y: Target<T>,
        row_scale: Option<ArrayView1<T>>,
        mut dz: ArrayViewMut2<T>,
        mut da: ArrayViewMut2<T>,
    ) -> bool {
        let fused = self.is_fused(output);
        if fused {
            self.fused_delta(yhat, y, dz.view_mut());
            scale_rows(dz, row_scale);
        } else {
            self.gradient(yhat, y, da.view_mut());
            scale_rows(da, row_scale);
        }
        fused
    }

    /// The fused output delta `dz_L = (ŷ − y) / N` of a sigmoid+BCE, softmax+CE or
    /// exp+Poisson output.
    pub fn fused_delta<T: Float>(
        self,
        yhat: ArrayView2<T>,
        y: Target<T>,
        mut dz: ArrayViewMut2<T>,
    ) {
        let (n, k) = yhat.dim();
        let count = if self == Loss::CrossEntropy { n } else { n * k };
        let scale = T::c(1.0 / count as f64);
        match y {
            Target::Dense(y) => match (dz.as_slice_mut(), yhat.as_slice(), y.as_slice()) {
                (Some(dz), Some(p), Some(y)) => {
                    // Over slices at the CPU's vector level: with the tutorial's tiny layers
                    // this delta is a visible part of the epoch.
                    crate::kernels::elementwise::zip_map(dz, p, y, move |p, y| {
                        delta_value(p, y, scale)
                    })
                }
                _ => Zip::from(&mut dz)
                    .and(&yhat)
                    .and(&y)
                    .for_each(|dz, &p, &y| *dz = delta_value(p, y, scale)),
            },
            Target::Labels(labels) => {
                Zip::from(&mut dz)
                    .and(&yhat)
                    .for_each(|dz, &p| *dz = p * scale);
                // (p − 1)·scale, rounded exactly as the one-hot path rounds it.
                for (i, &c) in labels.iter().enumerate() {
                    dz[[i, c]] = (yhat[[i, c]] - T::one()) * scale;
                }
            }
        }
    }
}

/// Row `i` of `m` times `scale[i]`, if there are scales.
pub fn scale_rows<T: Float>(m: ArrayViewMut2<T>, scale: Option<ArrayView1<T>>) {
    if let Some(scale) = scale {
        Zip::from(m)
            .and_broadcast(scale.insert_axis(Axis(1)))
            .for_each(|v, &s| *v *= s);
    }
}

/// The total sample weight `Σw` of a batch, held as `2^e · s` (`2^e` the largest weight's
/// power of two, so `s ≥ 1`): dividing by it neither overflows nor loses the quotient when
/// `Σw` itself is out of range (`x / weight_sum` is `x / Σw`, rounded once where `Σw` is a
/// normal number).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightSum {
    power: f64,
    sum: f64,
}

impl WeightSum {
    /// The weight of `m` unweighted rows.
    pub fn rows(m: usize) -> Self {
        WeightSum {
            power: 1.0,
            sum: m as f64,
        }
    }

    /// `Σw` (infinite if it overflows).
    pub fn value(self) -> f64 {
        self.power * self.sum
    }
}

impl std::ops::Div<WeightSum> for f64 {
    type Output = f64;
    fn div(self, w: WeightSum) -> f64 {
        let total = w.power * w.sum;
        if total.is_normal() {
            self / total
        } else {
            self / w.power / w.sum
        }
    }
}

/// Sample weights: one per row, finite, non-negative, not all zero.
pub fn check_sample_weight<T: Float>(w: ArrayView1<T>, n: usize) -> Result<()> {
    if w.len() != n {
        return Err(Error::shape(
            "sample_weight",
            format!("{n} weights (one per row of X)"),
            format!("{}", w.len()),
        ));
    }
    if let Some(bad) = w.iter().find(|v| !(v.is_finite() && **v >= T::zero())) {
        return Err(Error::value(
            "sample_weight",
            format!("must be finite and non-negative, got {bad}"),
        ));
    }
    if w.iter().all(|v| *v == T::zero()) {
        return Err(Error::value(
            "sample_weight",
            "must have a positive weight, got all weights zero",
        ));
    }
    Ok(())
}

/// The sample weights of a batch as the loss uses them: `Σw`, and the rows' gradient scales
/// `w_i · m / Σw` (`m` the rows of the batch) in `scale[..m]` — or no scales where the
/// weights are all equal, so that uniform weights of any size train exactly as no weights
/// do. `None` if every weight is zero: the batch has nothing to teach. Without weights,
/// `Σw = m`.
///
/// The weights are divided by the largest one's power of two before they are summed, so
/// that `Σw` cannot overflow nor the scales lose their precision to subnormal sums; the
/// scaling is exact, so weights within range give the bits of `w_i · (m / Σw)`. The
/// weights must have passed `check_sample_weight` (finite, non-negative).
pub fn batch_weights<'s, T: Float>(
    sample_weight: Option<ArrayView1<T>>,
    rows: impl ExactSizeIterator<Item = usize> + Clone,
    scale: &'s mut [T],
) -> Option<(WeightSum, Option<ArrayView1<'s, T>>)> {
    let m = rows.len();
    let Some(w) = sample_weight else {
        return Some((WeightSum::rows(m), None));
    };
    let weights = rows.map(|r| w[r].f64());
    let max = weights.clone().fold(0.0, f64::max);
    if max == 0.0 {
        return None;
    }
    // The power of two of `max` (2⁻¹⁰²² for subnormals, whose quotient by it is exact).
    let power = match max.is_normal() {
        true => f64::from_bits(max.to_bits() & 0x7ff0_0000_0000_0000),
        false => f64::MIN_POSITIVE,
    };
    let sum: f64 = weights.clone().map(|v| v / power).sum();
    let weight_sum = WeightSum { power, sum };
    if weights.clone().all(|v| v == max) {
        return Some((weight_sum, None));
    }
    let k = m as f64 / sum;
    for (s, v) in scale.iter_mut().zip(weights) {
        *s = T::c(v / power * k);
    }
    Some((weight_sum, Some(ArrayView1::from(&scale[..m]))))
}

/// The fused output delta of one value, `(ŷ − y) · scale`.
#[inline(always)]
fn delta_value<T: Float>(p: T, y: T, scale: T) -> T {
    (p - y) * scale
}

dispatch!(column_sum, column_sum_avx2, column_sum_avx512, column_sum_body, (loss: Loss, p: &[T], y: &[T]) -> f64);

/// `Σ_i element(p_i, y_i)` in f64, with the elements computed a chunk at a time so that
/// their logarithms vectorize, and summed in `LANES` partial sums added pairwise at the end
/// (added in order, the sum is one long chain of dependent additions). A chunk of 0/1
/// binary cross-entropy targets takes no logarithm of its own: its `q` multiply into
/// per-lane products, and one logarithm is taken per 16 of them.
#[inline(always)]
fn column_sum_body<T: Float, L: crate::kernels::simd::Level>(loss: Loss, p: &[T], y: &[T]) -> f64 {
    const CHUNK: usize = 4 * LANES;
    let mut sums = [0.0; LANES];
    let (zero, one) = (T::zero(), T::one());
    let bce01 = |p: T, y: T| -bce01_operand(p, y).vln();
    let (p_chunks, y_chunks) = (p.chunks_exact(CHUNK), y.chunks_exact(CHUNK));
    let (p_rest, y_rest) = (p_chunks.remainder(), y_chunks.remainder());
    // 0/1 targets, the usual case: −ln q with q = p or 1 − p, and Σ −ln q = −ln Π q. Each
    // lane multiplies up to `PRODUCT` of its q in f64 before one logarithm: q ≥ ε, so the
    // product stays a normal number (ε¹⁶ ≈ 3·10⁻²⁵¹ for f64, 10⁻¹¹¹ for f32).
    const PRODUCT: usize = 16;
    let mut products = [1.0f64; LANES];
    let mut factors = 0;
    let flush = |products: &mut [f64; LANES], sums: &mut [f64; LANES]| {
        for (sum, q) in sums.iter_mut().zip(products.iter_mut()) {
            *sum -= crate::kernels::vmath::ln_f64(*q);
            *q = 1.0;
        }
    };
    for (p, y) in p_chunks.zip(y_chunks) {
        let (p, y): (&[T; CHUNK], &[T; CHUNK]) = (p.try_into().unwrap(), y.try_into().unwrap());
        match loss {
            Loss::BinaryCrossEntropy if zeros_and_ones(y) => {
                let mut q = [T::zero(); CHUNK];
                interleaved(&mut q, |i| bce01_operand(p[i], y[i]));
                for (l, product) in products.iter_mut().enumerate() {
                    *product *= (q[l].f64() * q[LANES + l].f64())
                        * (q[2 * LANES + l].f64() * q[3 * LANES + l].f64());
                }
                factors += 4;
                if factors == PRODUCT {
                    flush(&mut products, &mut sums);
                    factors = 0;
                }
            }
            _ => {
                let mut terms = [T::zero(); CHUNK];
                interleaved(&mut terms, |i| loss.element(p[i], y[i]));
                for group in terms.chunks(LANES) {
                    for (sum, t) in sums.iter_mut().zip(group) {
                        *sum += t.f64();
                    }
                }
            }
        }
    }
    flush(&mut products, &mut sums);
    let mut terms = [T::zero(); CHUNK];
    let terms = &mut terms[..p_rest.len()];
    for ((t, &p), &y) in terms.iter_mut().zip(p_rest).zip(y_rest) {
        *t = match loss {
            Loss::BinaryCrossEntropy if y == zero || y == one => bce01(p, y),
            _ => loss.element(p, y),
        };
    }
    for group in terms.chunks(LANES) {
        for (sum, t) in sums.iter_mut().zip(group) {
            *sum += t.f64();
        }
    }
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            sums[l] += sums[l + width];
        }
        width /= 2;
    }
    sums[0]
}

/// The `q` of a 0/1 target's binary cross-entropy `−ln q`: `p` clipped to `[ε, 1 − ε]` for
/// `y = 1`, one minus it for `y = 0`.
#[inline(always)]
fn bce01_operand<T: Float>(p: T, y: T) -> T {
    let one = T::one();
    let p = clamp(p, T::epsilon(), one - T::epsilon());
    if y == one {
        p
    } else {
        one - p
    }
}

/// Whether every value is 0 or 1 (no early exit: the loop vectorizes).
#[inline(always)]
fn zeros_and_ones<T: Float>(y: &[T]) -> bool {
    y.iter()
        .fold(true, |all, &y| all & ((y == T::zero()) | (y == T::one())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1, Array2};

    #[test]
    fn bce_by_hand() {
        let yhat = array![[0.5, 0.25]];
        let y = array![[1.0, 0.0]];
        let l = Loss::BinaryCrossEntropy.value(yhat.view(), Target::Dense(y.view()));
        assert!((l - (-(0.5f64.ln()) - 0.75f64.ln()) / 2.0).abs() < 1e-16);
        let mut da = Array2::zeros((1, 2));
        Loss::BinaryCrossEntropy.gradient(yhat.view(), Target::Dense(y.view()), da.view_mut());
        assert_eq!(da, array![[-1.0, 2.0 / 3.0]]); // (p−y)/(p(1−p))/2
        let mut dz = Array2::zeros((1, 2));
        Loss::BinaryCrossEntropy.fused_delta(yhat.view(), Target::Dense(y.view()), dz.view_mut());
        assert_eq!(dz, array![[-0.25, 0.125]]);
    }

    /// The chunked sum against the plain sum of `element`, over lengths that leave every
    /// remainder, for 0/1 and fractional targets, tiny and huge probabilities.
    #[test]
    fn column_sum_is_the_sum_of_the_elements() {
        fn check<T: Float>(tol: f64) {
            for n in [0, 1, 7, 31, 32, 33, 64, 100, 129, 1000] {
                let p: Vec<T> = (0..n)
                    .map(|i| match i % 7 {
                        0 => T::zero(),
                        1 => T::one(),
                        _ => T::c(((i * 37) % 101) as f64 / 101.0),
                    })
                    .collect();
                for fractional in [false, true] {
                    let y: Vec<T> = (0..n)
                        .map(|i| match fractional && i % 5 == 0 {
                            true => T::c(0.25),
                            false => T::c((i % 2) as f64),
                        })
                        .collect();
                    for loss in [
                        Loss::BinaryCrossEntropy,
                        Loss::MeanSquaredError,
                        Loss::Huber,
                        Loss::MeanAbsoluteError,
                        Loss::Poisson,
                    ] {
                        // Poisson predictions are positive.
                        let shift = T::c(if loss == Loss::Poisson { 0.25 } else { 0.0 });
                        let p: Vec<T> = p.iter().map(|&v| v + shift).collect();
                        let got = column_sum(loss, &p, &y);
                        let want: f64 = p
                            .iter()
                            .zip(&y)
                            .map(|(&p, &y)| loss.element(p, y).f64())
                            .sum();
                        assert!(
                            (got - want).abs() <= tol * want.abs().max(1.0),
                            "{n} {loss:?}: {got} {want}"
                        );
                    }
                }
            }
        }
        check::<f64>(1e-14);
        check::<f32>(1e-6);
    }

    /// Equal weights of any size give no scales (the unweighted passes); others give
    /// `w_i · m / Σw` with the old formula's bits where it does not overflow, and the same
    /// scales for weights scaled by any power of two; `Σw` never overflows.
    #[test]
    fn batch_weights_of_any_size() {
        fn check<T: Float>() {
            let rows = [3usize, 0, 4, 1];
            let mut scale = vec![T::zero(); 4];
            for c in [1.0, 3.0, 0.1, 1e-310, 5e-324, 1e308, f64::MAX] {
                let c = T::c(c);
                if c == T::zero() || !c.is_finite() {
                    continue; // beyond f32's range
                }
                let w = Array1::from_elem(5, c);
                let (sum, scales) =
                    batch_weights(Some(w.view()), rows.iter().copied(), &mut scale).unwrap();
                assert!(scales.is_none(), "{c}");
                assert!((c.f64() / sum - 0.25).abs() < 1e-15, "{c}");
            }
            let w = Array1::from_vec([2.0, 1.0, 0.0, 3.0, 0.5].map(T::c).to_vec());
            let (sum, scales) =
                batch_weights(Some(w.view()), rows.iter().copied(), &mut scale).unwrap();
            let total = 3.0 + 2.0 + 0.5 + 1.0;
            assert_eq!(sum.value(), total);
            let want: Vec<T> = rows
                .iter()
                .map(|&r| T::c(w[r].f64() * (4.0 / total)))
                .collect();
            assert_eq!(scales.unwrap().to_vec(), want);
            for shift in [-1000, -60, 60, 1000] {
                let scaled = w.mapv(|v| T::c(v.f64() * 2f64.powi(shift)));
                if scaled
                    .iter()
                    .zip(&w)
                    .any(|(v, w)| *w != T::zero() && !v.is_normal())
                {
                    continue; // beyond the type's normal range: not the same weights
                }
                let mut other = vec![T::zero(); 4];
                let (sum, scales) =
                    batch_weights(Some(scaled.view()), rows.iter().copied(), &mut other).unwrap();
                assert_eq!(scales.unwrap().to_vec(), want, "2^{shift}");
                assert_eq!(1.0 / sum * 2f64.powi(shift), 1.0 / total, "2^{shift}");
            }
            // Huge weights whose sum overflows: the ratios are what counts.
            let huge = Array1::from_vec([T::max_value(), T::max_value(), T::zero()].to_vec());
            let (sum, scales) =
                batch_weights(Some(huge.view()), [0, 1, 2].into_iter(), &mut scale).unwrap();
            assert_eq!(sum.value(), 2.0 * T::max_value().f64()); // infinite for f64
            assert!(1.0 / sum > 0.0);
            assert_eq!(scales.unwrap().to_vec(), [1.5, 1.5, 0.0].map(T::c).to_vec());
            let zeros = Array1::from_elem(5, T::zero());
            assert!(batch_weights(Some(zeros.view()), 0..5, &mut [T::zero(); 5]).is_none());
            let (sum, scales) = batch_weights::<T>(None, 0..7, &mut []).unwrap();
            assert_eq!((sum, scales), (WeightSum::rows(7), None));
        }
        check::<f64>();
        check::<f32>();
    }

    #[test]
    fn bce_clips_at_machine_epsilon() {
        let yhat = array![[0.0f64]];
        let y = array![[1.0f64]];
        let l = Loss::BinaryCrossEntropy.value(yhat.view(), Target::Dense(y.view()));
        assert!((l - 52.0 * std::f64::consts::LN_2).abs() < 1e-14); // −ln 2⁻⁵²
    }

    #[test]
    fn cross_entropy_labels_equal_one_hot() {
        let yhat = array![[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]];
        let onehot = array![[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let labels = array![1usize, 2];
        let ce = Loss::CrossEntropy;
        let a = ce.value(yhat.view(), Target::Dense(onehot.view()));
        let b = ce.value(yhat.view(), Target::Labels(labels.view()));
        assert_eq!(a, b);
        assert!((a - (-(0.5f64.ln()) - 0.8f64.ln()) / 2.0).abs() < 1e-16);
        let (mut d1, mut d2) = (Array2::zeros((2, 3)), Array2::zeros((2, 3)));
        ce.fused_delta(yhat.view(), Target::Dense(onehot.view()), d1.view_mut());
        ce.fused_delta(yhat.view(), Target::Labels(labels.view()), d2.view_mut());
        assert_eq!(d1, d2);
        let want = array![[0.1, -0.25, 0.15], [0.05, 0.05, -0.1]];
        assert!(
            d1.iter()
                .zip(&want)
                .all(|(a, b): (&f64, &f64)| (a - b).abs() < 1e-16),
            "{d1}"
        );
        ce.gradient(yhat.view(), Target::Dense(onehot.view()), d1.view_mut());
        ce.gradient(yhat.view(), Target::Labels(labels.view()), d2.view_mut());
        assert_eq!(d1, d2);
        assert_eq!(d1[[0, 1]], -1.0 / 0.5 / 2.0);
    }

    #[test]
    fn mse_by_hand_with_correct_sign() {
        let yhat = array![[1.0, 3.0]];
        let y = array![[0.0, 0.0]];
        let mse = Loss::MeanSquaredError;
        assert_eq!(mse.value(yhat.view(), Target::Dense(y.view())), 5.0);
        let mut da = Array2::zeros((1, 2));
        mse.gradient(yhat.view(), Target::Dense(y.view()), da.view_mut());
        assert_eq!(da, array![[1.0, 3.0]]); // 2(ŷ − y)/N: positive when ŷ > y
    }

    /// Huber (δ = 1) on both sides of |d| = 1, the L1 subgradient 0 at d = 0, and the half
    /// Poisson deviance with y = 0, by hand; mean over all elements.
    #[test]
    fn huber_mae_poisson_by_hand() {
        let yhat = array![[0.5, 3.0], [-2.0, 1.0]];
        let y = array![[0.0, 0.0], [0.0, 1.0]];
        let t = Target::Dense(y.view());
        let huber = Loss::Huber.value(yhat.view(), t);
        assert_eq!(huber, (0.125 + 2.5 + 1.5 + 0.0) / 4.0);
        let mut da = Array2::zeros((2, 2));
        Loss::Huber.gradient(yhat.view(), t, da.view_mut());
        assert_eq!(da, array![[0.125, 0.25], [-0.25, 0.0]]);
        let mae = Loss::MeanAbsoluteError.value(yhat.view(), t);
        assert_eq!(mae, (0.5 + 3.0 + 2.0 + 0.0) / 4.0);
        Loss::MeanAbsoluteError.gradient(yhat.view(), t, da.view_mut());
        assert_eq!(da, array![[0.25, 0.25], [-0.25, 0.0]]);
        let (p, y) = (array![[2.0, 0.5]], array![[0.0, 3.0]]);
        let t = Target::Dense(y.view());
        let dev = Loss::Poisson.value(p.view(), t);
        let want = (2.0 + (3.0 * 6f64.ln() - 3.0 + 0.5)) / 2.0;
        assert!((dev - want).abs() < 1e-15, "{dev} {want}");
        // Zero where the prediction is the target.
        assert!(Loss::Poisson.value(y.view(), t).abs() < 1e-15);
        let mut da = Array2::zeros((1, 2));
        Loss::Poisson.gradient(p.view(), t, da.view_mut());
        assert_eq!(da, array![[0.5, -2.5]]); // (1 − y/ŷ)/N
        let mut dz = Array2::zeros((1, 2));
        Loss::Poisson.fused_delta(p.view(), t, dz.view_mut());
        assert_eq!(dz, array![[1.0, -1.25]]); // (ŷ − y)/N
        assert!(Loss::Poisson.is_fused(Activation::Exp));
        assert!(Loss::Poisson.check_output(Activation::Identity).is_err());
        assert!(Loss::Huber.check_output(Activation::Gelu).is_ok());
        let negative = array![[1.0, -0.5]];
        let e = Loss::Poisson
            .check_target(&Target::Dense(negative.view()), 1, 2)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "y must be non-negative for \"poisson\" (counts or rates), got values in [-0.5, 1]"
        );
        assert_eq!(Loss::from_name("Huber").unwrap(), Loss::Huber);
        let e = Loss::from_name("poison").unwrap_err().to_string();
        assert!(e.ends_with("; did you mean 'poisson'?"), "{e}");
    }

    #[test]
    fn pairs_and_targets_are_validated() {
        assert!(Loss::BinaryCrossEntropy
            .check_output(Activation::Relu)
            .is_err());
        assert!(Loss::CrossEntropy
            .check_output(Activation::Sigmoid)
            .is_err());
        assert!(Loss::MeanSquaredError
            .check_output(Activation::Softmax)
            .is_ok());
        let y = array![[0.5, 2.0]];
        let e = Loss::BinaryCrossEntropy.check_target(&Target::Dense(y.view()), 1, 2);
        assert!(e.unwrap_err().to_string().contains("[0, 1]"));
        let e = Loss::MeanSquaredError.check_target(&Target::Dense(y.view()), 2, 2);
        assert!(e.unwrap_err().to_string().contains("(2, 2)"));
        let labels = array![3usize];
        let e = Loss::CrossEntropy.check_target::<f64>(&Target::Labels(labels.view()), 1, 3);
        assert!(e.unwrap_err().to_string().contains("out of range"));
        let nan = array![[f64::NAN]];
        assert!(Loss::MeanSquaredError
            .check_target(&Target::Dense(nan.view()), 1, 1)
            .is_err());
        let unnormalised = array![[0.5, 0.2]];
        assert!(Loss::CrossEntropy
            .check_target(&Target::Dense(unnormalised.view()), 1, 2)
            .is_err());
    }
}
