//! The one error type of the core. The binding maps `Error::Type` to `TypeError`,
//! `Error::Memory` to `MemoryError`, `Error::Io` to the `OSError` subclass of its cause and
//! every other variant to `ValueError`; each message names the argument, what was received
//! and what was expected. Values read as a sentence, `"{arg} must be …, got {value}"`: the
//! rules and their messages are in `check.rs`.

/// Everything that can go wrong in the core, before or during a computation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// An argument has the wrong shape or size.
    #[error("{arg}: expected {expected}, got {got}")]
    Shape {
        arg: &'static str,
        expected: String,
        got: String,
    },
    /// An argument has an invalid value (empty, out of range, not finite, ...). Displayed
    /// as `"{arg} {msg}"`: `msg` continues the sentence (`"must be at least 1, got 0"`).
    #[error("{arg} {msg}")]
    Value { arg: &'static str, msg: String },
    /// A name (activation, loss, optimizer, dtype, ...) is not known; `expected` lists the
    /// names, quoted, and `hint` is `"; did you mean 'x'?"` for a near miss, else empty
    /// (see `Error::unknown`).
    #[error("unknown {kind} '{name}'; expected one of {expected}{hint}")]
    UnknownName {
        kind: &'static str,
        name: String,
        expected: String,
        hint: String,
    },
    /// An argument has the wrong type.
    #[error("{arg}: expected {expected}, got {got}")]
    Type {
        arg: &'static str,
        expected: String,
        got: String,
    },
    /// A method was called in the wrong order (e.g. `backward` before `forward`).
    #[error("{0}")]
    State(String),
    /// Training produced a non-finite loss; the weights were restored.
    #[error("{0}")]
    NonFinite(String),
    /// Reading or writing a file failed.
    #[error("{msg}")]
    Io {
        kind: std::io::ErrorKind,
        msg: String,
    },
    /// An array sized by the input could not be allocated (`MemoryError` in Python).
    #[error("out of memory: {what} needs {bytes} bytes, which could not be allocated")]
    Memory { what: String, bytes: u128 },
    /// Training was interrupted (Ctrl-C); the weights are consistent.
    #[error("training interrupted")]
    Interrupted,
}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn shape(
        arg: &'static str,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Self {
        Error::Shape {
            arg,
            expected: expected.into(),
            got: got.into(),
        }
    }

    pub(crate) fn memory(what: impl Into<String>, bytes: u128) -> Self {
        Error::Memory {
            what: what.into(),
            bytes,
        }
    }

    /// `name` is not one of `choices`, the names of the `kind` (an argument's name); the
    /// message suggests the nearest choice if it is a near miss (`did_you_mean`).
    pub(crate) fn unknown<'a>(
        kind: &'static str,
        name: &str,
        choices: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let choices: Vec<&str> = choices.into_iter().collect();
        let quoted: Vec<String> = choices.iter().map(|c| format!("'{c}'")).collect();
        let hint = match did_you_mean(name, &choices) {
            Some(c) => format!("; did you mean '{c}'?"),
            None => String::new(),
        };
        Error::UnknownName {
            kind,
            name: name.escape_debug().to_string(),
            expected: quoted.join(", "),
            hint,
        }
    }

    /// `arg` has an invalid value; `msg` continues the sentence after the argument's name.
    pub(crate) fn value(arg: &'static str, msg: impl Into<String>) -> Self {
        Error::Value {
            arg,
            msg: msg.into(),
        }
    }
}

/// The choice nearest to `name` (ignoring case) if it is a near miss: at most 2 edits away
/// and fewer edits than `name` has characters, or a choice that `name` (3 characters or
/// more) begins. The first of equally near choices.
fn did_you_mean<'a>(name: &str, choices: &[&'a str]) -> Option<&'a str> {
    let name = name.to_lowercase();
    let length = name.chars().count();
    let (distance, nearest) = choices
        .iter()
        .map(|&c| (edit_distance(&name, &c.to_lowercase()), c))
        .min_by_key(|&(d, _)| d)?;
    if distance <= 2 && distance < length {
        return Some(nearest);
    }
    let begun = |c: &&&str| length >= 3 && c.to_lowercase().starts_with(&name);
    choices.iter().find(begun).copied()
}

/// Levenshtein distance: the fewest insertions, deletions and substitutions of characters
/// that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_by_hand() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("relu", "relu"), 0);
        assert_eq!(edit_distance("rleu", "relu"), 2);
        assert_eq!(edit_distance("sigmod", "sigmoid"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn near_misses_are_suggested() {
        let names = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu"];
        let text = |name: &str| Error::unknown("activation", name, names).to_string();
        assert!(
            text("sigmod").ends_with("; did you mean 'sigmoid'?"),
            "{}",
            text("sigmod")
        );
        assert!(text("TANH_").ends_with("; did you mean 'tanh'?"));
        assert!(text("leaky").ends_with("; did you mean 'leaky_relu'?"));
        // Equally near: the first listed.
        assert!(text("selu").ends_with("; did you mean 'relu'?"));
        // Far from every name: the list only.
        assert!(text("x").ends_with("'tanh', 'gelu'"), "{}", text("x"));
        assert!(text("hinge").ends_with("'tanh', 'gelu'"));
        assert!(text("ab").ends_with("'tanh', 'gelu'"));
    }
}
