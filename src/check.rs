//! The rules of argument values, one function per rule, each refusing with one message
//! style: `"{arg} must be …, got {value}"` (`Error::Value`) or `"unknown {kind} '{name}';
//! expected one of …"` (`Error::UnknownName`). Every value the API takes is checked by one
//! of these, in the core: `FitConfig::validate`, `OptimizerConfig::validate`,
//! `NetworkConfig::validate`, the step API. The Python binding converts its integers
//! (Python's are unbounded) with `count` and `seed`, so that no integer is ever refused
//! anywhere else.

use crate::{Error, Result};

/// A float as Python prints it (`nan`, `inf`, `1e-08` as `1e-8`): `Debug`, which uses
/// exponents for large and small values, with the non-finite values in lower case.
pub fn show(value: f64) -> String {
    match value {
        v if v.is_nan() => "nan".to_owned(),
        v if v.is_infinite() => (if v > 0.0 { "inf" } else { "-inf" }).to_owned(),
        v => format!("{v:?}"),
    }
}

/// A count (a size, epochs, a batch size, ...): at least 1, and held by `usize`.
pub fn count(arg: &'static str, value: i128) -> Result<usize> {
    if value < 1 {
        return Err(Error::value(
            arg,
            format!("must be at least 1, got {value}"),
        ));
    }
    usize::try_from(value)
        .map_err(|_| Error::value(arg, format!("must be at most {}, got {value}", usize::MAX)))
}

/// A count that may be 0 (`warmup`): at least 0, at most `usize::MAX`.
pub fn count_or_zero(arg: &'static str, value: i128) -> Result<usize> {
    match value {
        0 => Ok(0),
        v if v < 0 => Err(Error::value(arg, format!("must be at least 0, got {v}"))),
        v => count(arg, v),
    }
}

/// Counts in a list (`layer_sizes`): each at least 1 and held by `usize`.
pub fn counts(arg: &'static str, values: &[i128]) -> Result<Vec<usize>> {
    let each = |(i, &value): (usize, &i128)| {
        count(arg, value).map_err(|_| {
            let rule = match value < 1 {
                true => "at least 1".to_owned(),
                false => format!("at most {}", usize::MAX),
            };
            Error::value(
                arg,
                format!("must hold sizes of {rule}, got {arg}[{i}] = {value}"),
            )
        })
    };
    values.iter().enumerate().map(each).collect()
}

/// A seed: in `[0, 2**64)`.
pub fn seed(arg: &'static str, value: i128) -> Result<u64> {
    u64::try_from(value)
        .map_err(|_| Error::value(arg, format!("must be in [0, 2**64), got {value}")))
}

/// Positive and finite (a step size, Adam's epsilon, a finite-difference step).
pub fn positive(arg: &'static str, value: f64) -> Result<f64> {
    match value.is_finite() && value > 0.0 {
        true => Ok(value),
        false => Err(Error::value(
            arg,
            format!("must be positive and finite, got {}", show(value)),
        )),
    }
}

/// Non-negative and finite (a penalty, a tolerance, an exponent).
pub fn non_negative(arg: &'static str, value: f64) -> Result<f64> {
    match value.is_finite() && value >= 0.0 {
        true => Ok(value),
        false => Err(Error::value(
            arg,
            format!("must be non-negative and finite, got {}", show(value)),
        )),
    }
}

/// In `[0, 1)` (a momentum, a decay rate).
pub fn below_one(arg: &'static str, value: f64) -> Result<f64> {
    match (0.0..1.0).contains(&value) {
        true => Ok(value),
        false => Err(Error::value(
            arg,
            format!("must be in [0, 1), got {}", show(value)),
        )),
    }
}

/// The value named `name` among `choices` (ignoring ASCII case), or `Error::UnknownName`
/// listing the names.
pub fn pick<T: Copy>(kind: &'static str, name: &str, choices: &[(&str, T)]) -> Result<T> {
    match choices.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some(&(_, value)) => Ok(value),
        None => Err(Error::unknown(kind, name, choices.iter().map(|&(n, _)| n))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_argument_the_rule_and_the_value() {
        let text = |r: Result<f64>| r.unwrap_err().to_string();
        assert_eq!(
            text(below_one("momentum", 1.5)),
            "momentum must be in [0, 1), got 1.5"
        );
        assert_eq!(
            text(positive("epsilon", f64::NAN)),
            "epsilon must be positive and finite, got nan"
        );
        assert_eq!(
            text(non_negative("tol", f64::NEG_INFINITY)),
            "tol must be non-negative and finite, got -inf"
        );
        assert_eq!(
            count("epochs", 0).unwrap_err().to_string(),
            "epochs must be at least 1, got 0"
        );
        assert_eq!(
            count("epochs", -5).unwrap_err().to_string(),
            "epochs must be at least 1, got -5"
        );
        let huge = 1i128 << 70;
        assert!(count("batch_size", huge)
            .unwrap_err()
            .to_string()
            .ends_with(&format!("got {huge}")));
        assert_eq!(count("epochs", 3), Ok(3));
        assert_eq!(seed("seed", u64::MAX as i128), Ok(u64::MAX));
        assert_eq!(
            seed("seed", -1).unwrap_err().to_string(),
            "seed must be in [0, 2**64), got -1"
        );
        assert_eq!(
            pick("optimizer", "x", &[("sgd", 0), ("adam", 1)])
                .unwrap_err()
                .to_string(),
            "unknown optimizer 'x'; expected one of 'sgd', 'adam'"
        );
        assert_eq!(
            counts("layer_sizes", &[2, -3, 1]).unwrap_err().to_string(),
            "layer_sizes must hold sizes of at least 1, got layer_sizes[1] = -3"
        );
        assert_eq!(counts("layer_sizes", &[2, 1]), Ok(vec![2, 1]));
        assert_eq!(pick("optimizer", "ADAM", &[("sgd", 0), ("adam", 1)]), Ok(1));
        assert_eq!(
            pick("optimizer", "adma", &[("sgd", 0), ("adam", 1)])
                .unwrap_err()
                .to_string(),
            "unknown optimizer 'adma'; expected one of 'sgd', 'adam'; did you mean 'adam'?"
        );
        assert_eq!(show(1e-8), "1e-8");
        assert_eq!(show(0.0), "0.0");
    }
}
