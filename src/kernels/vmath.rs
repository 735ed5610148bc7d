//! `exp` and `ln` without branches, tables or calls, so that loops over them vectorize
//! (libm's are calls, one element at a time).
//!
//! ```text
//! exp x = 2ⁿ · e^r          n = round(x / ln 2),  r = x − n ln 2 ∈ [−ln2/2, ln2/2]
//! ln x  = k ln 2 + ln m     x = 2ᵏ m,  m ∈ [√½, √2),  ln m = 2 atanh s,  s = (m − 1)/(m + 1)
//! ```
//!
//! `e^r` is its Taylor polynomial (degree 13 for f64, 7 for f32) and `2 atanh s` its odd
//! series (to s²¹ and s⁹), evaluated by Horner's rule; `ln 2` is split in two so that
//! `n ln 2` is exact. Both stay within 2 ulp of the correctly rounded result (the tests
//! compare them with libm over millions of arguments). Special cases follow libm —
//! `ln 0 = −∞`, `ln` of a negative number or NaN is NaN, NaN in gives NaN out — except that
//! `exp` flushes results below the smallest normal number to 0 and overflows from
//! `x > 709` (f64) or `x > 88` (f32), slightly before libm does. The network only takes
//! exponentials of clipped (sigmoid) or non-positive (softmax) arguments.

/// `e^x`, see the module's notes.
#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    let y = exp_f64_within(x.clamp(-708.0, 709.0));
    let y = if x > 709.0 { f64::INFINITY } else { y };
    let y = if x < -708.0 { 0.0 } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// `e^x` for `x` in `[−708, 709]` or NaN (NaN out), with none of `exp_f64`'s checks: for
/// callers that have bounded `x` already (the sigmoid). Equal to `exp_f64` there.
#[inline(always)]
pub fn exp_f64_within(x: f64) -> f64 {
    const SHIFT: f64 = 6755399441055744.0; // 1.5 · 2⁵², rounds to an integer when added
    const LN2_HI: f64 = 6.931_471_803_691_238e-1; // 0x3fe62e42fee00000
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const INV_FACT: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362880.0,
        1.0 / 3628800.0,
        1.0 / 39916800.0,
        1.0 / 479001600.0,
        1.0 / 6227020800.0,
    ];
    let t = x * std::f64::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = INV_FACT[13];
    for &c in INV_FACT[..13].iter().rev() {
        p = p * r + c;
    }
    // n sits in the low bits of t; 2ⁿ is built from its exponent field. A NaN x makes p
    // NaN, and NaN times any scale is NaN.
    let n_int = t.to_bits().wrapping_sub(SHIFT.to_bits());
    let scale = f64::from_bits(n_int.wrapping_add(1023) << 52);
    p * scale
}

/// `e^x`, see the module's notes.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let y = exp_f32_within(x.clamp(-87.0, 88.0));
    let y = if x > 88.0 { f32::INFINITY } else { y };
    let y = if x < -87.0 { 0.0 } else { y };
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// `e^x` for `x` in `[−87, 88]` or NaN (NaN out), with none of `exp_f32`'s checks; equal
/// to `exp_f32` there.
#[inline(always)]
pub fn exp_f32_within(x: f32) -> f32 {
    const SHIFT: f32 = 12582912.0; // 1.5 · 2²³
    const LN2_HI: f32 = 6.931_457_5e-1;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const INV_FACT: [f32; 8] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
    ];
    let t = x * std::f32::consts::LOG2_E + SHIFT;
    let n = t - SHIFT;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = INV_FACT[7];
    for &c in INV_FACT[..7].iter().rev() {
        p = p * r + c;
    }
    let n_int = t.to_bits().wrapping_sub(SHIFT.to_bits());
    let scale = f32::from_bits(n_int.wrapping_add(127) << 23);
    p * scale
}

/// `ln x`, see the module's notes.
#[inline(always)]
pub fn ln_f64(x: f64) -> f64 {
    const SQRT_HALF_BITS: u64 = 0x3fe6_a09e_667f_3bcd;
    const SHIFT: f64 = 6755399441055744.0;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1; // 0x3fe62e42fee00000
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // 2 / (2j + 1) for j = 1..=10: 2 atanh s = 2s + s · Σ_j (2 / (2j + 1)) s^(2j).
    const C: [f64; 10] = [
        2.0 / 3.0,
        2.0 / 5.0,
        2.0 / 7.0,
        2.0 / 9.0,
        2.0 / 11.0,
        2.0 / 13.0,
        2.0 / 15.0,
        2.0 / 17.0,
        2.0 / 19.0,
        2.0 / 21.0,
    ];
    // Subnormal arguments are scaled into the normal range first.
    let tiny = x < f64::MIN_POSITIVE;
    let xs = if tiny { x * 4503599627370496.0 } else { x }; // · 2⁵²
    let bits = xs.to_bits().wrapping_sub(SQRT_HALF_BITS);
    let k = (bits as i64) >> 52; // arithmetic: the exponent relative to √½
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff).wrapping_add(SQRT_HALF_BITS));
    let k = k - if tiny { 52 } else { 0 };
    // k as f64 without a conversion instruction (AVX2 has none for 64-bit integers).
    let kf = f64::from_bits(SHIFT.to_bits().wrapping_add(k as u64)) - SHIFT;
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let mut w = C[9];
    for &c in C[..9].iter().rev() {
        w = w * z + c;
    }
    let ln_m = (2.0 * s) + s * (w * z);
    let y = kf * LN2_HI + (ln_m + kf * LN2_LO);
    let y = if x == f64::INFINITY { x } else { y };
    let y = if x == 0.0 { f64::NEG_INFINITY } else { y };
    if x < 0.0 || x.is_nan() {
        f64::NAN
    } else {
        y
    }
}

/// `ln x`, see the module's notes.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    const SQRT_HALF_BITS: u32 = 0x3f35_04f3;
    const SHIFT: f32 = 12582912.0;
    const LN2_HI: f32 = 6.931_457_5e-1;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const C: [f32; 4] = [2.0 / 3.0, 2.0 / 5.0, 2.0 / 7.0, 2.0 / 9.0];
    let tiny = x < f32::MIN_POSITIVE;
    let xs = if tiny { x * 8388608.0 } else { x }; // · 2²³
    let bits = xs.to_bits().wrapping_sub(SQRT_HALF_BITS);
    let k = (bits as i32) >> 23;
    let m = f32::from_bits((bits & 0x007f_ffff).wrapping_add(SQRT_HALF_BITS));
    let k = k - if tiny { 23 } else { 0 };
    let kf = f32::from_bits(SHIFT.to_bits().wrapping_add(k as u32)) - SHIFT;
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let mut w = C[3];
    for &c in C[..3].iter().rev() {
        w = w * z + c;
    }
    let ln_m = (2.0 * s) + s * (w * z);
    let y = kf * LN2_HI + (ln_m + kf * LN2_LO);
    let y = if x == f32::INFINITY { x } else { y };
    let y = if x == 0.0 { f32::NEG_INFINITY } else { y };
    if x < 0.0 || x.is_nan() {
        f32::NAN
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place, through the ordered integer representation.
    fn ulps64(a: f64, b: f64) -> u64 {
        let key = |v: f64| {
            let i = v.to_bits() as i64;
            if i < 0 {
                i64::MIN - i
            } else {
                i
            }
        };
        key(a).abs_diff(key(b))
    }

    fn ulps32(a: f32, b: f32) -> u32 {
        let key = |v: f32| {
            let i = v.to_bits() as i32;
            if i < 0 {
                i32::MIN - i
            } else {
                i
            }
        };
        key(a).abs_diff(key(b))
    }

    /// A deterministic spread of arguments over `[lo, hi]`.
    fn sweep(lo: f64, hi: f64, count: usize) -> impl Iterator<Item = f64> {
        (0..=count).map(move |i| lo + (hi - lo) * (i as f64 / count as f64))
    }

    #[test]
    fn exp_within_equals_exp_in_its_range() {
        for x in sweep(-708.0, 709.0, 1_000_000).chain([-708.0, 709.0, 0.0, -0.0]) {
            assert_eq!(exp_f64_within(x).to_bits(), exp_f64(x).to_bits(), "{x}");
        }
        for x in sweep(-87.0, 88.0, 1_000_000).map(|x| x as f32) {
            assert_eq!(exp_f32_within(x).to_bits(), exp_f32(x).to_bits(), "{x}");
        }
        assert!(exp_f64_within(f64::NAN).is_nan() && exp_f32_within(f32::NAN).is_nan());
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let worst = sweep(-708.0, 709.0, 2_000_000)
            .chain(sweep(-1.0, 1.0, 1_000_000))
            .map(|x| ulps64(exp_f64(x), x.exp()))
            .max();
        assert!(worst.unwrap() <= 2, "{worst:?}");
        let worst = sweep(-87.0, 88.0, 2_000_000)
            .chain(sweep(-1.0, 1.0, 1_000_000))
            .map(|x| ulps32(exp_f32(x as f32), (x as f32).exp()))
            .max();
        assert!(worst.unwrap() <= 2, "{worst:?}");
    }

    #[test]
    fn ln_is_within_two_ulp_of_libm() {
        let args = || {
            sweep(1e-300, 1e300, 1_000_000)
                .chain(sweep(0.5, 2.0, 1_000_000))
                .chain(sweep(-300.0, 300.0, 1_000_000).map(|e| 10f64.powf(e)))
                .chain([f64::MIN_POSITIVE, 5e-324, 1e-310, f64::MAX, 1.0])
        };
        let worst = args().map(|x| ulps64(ln_f64(x), x.ln())).max();
        assert!(worst.unwrap() <= 2, "{worst:?}");
        let worst = args()
            .map(|x| x as f32)
            .filter(|&x| x > 0.0 && x.is_finite())
            .map(|x| ulps32(ln_f32(x), x.ln()))
            .max();
        assert!(worst.unwrap() <= 2, "{worst:?}");
    }

    #[test]
    fn special_values() {
        // The split of ln 2 is the exact one (its high part has 32 trailing zero bits).
        assert_eq!(6.931_471_803_691_238e-1f64.to_bits(), 0x3fe6_2e42_fee0_0000);
        assert_eq!(ln_f64(0.0), f64::NEG_INFINITY);
        assert_eq!(ln_f64(f64::INFINITY), f64::INFINITY);
        assert!(ln_f64(-1.0).is_nan() && ln_f64(f64::NAN).is_nan());
        assert_eq!(ln_f64(1.0), 0.0);
        assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
        assert!(ln_f32(-1.0).is_nan() && ln_f32(f32::NAN).is_nan());
        assert_eq!(exp_f64(0.0), 1.0);
        assert_eq!(exp_f64(-1000.0), 0.0);
        assert_eq!(exp_f64(1000.0), f64::INFINITY);
        assert!(exp_f64(f64::NAN).is_nan());
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-100.0), 0.0);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
    }
}
