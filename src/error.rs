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
    /// names, quoted (see `Error::unknown`).
    #[error("unknown {kind} '{name}'; expected one of {expected}")]
    UnknownName {
        kind: &'static str,
        name: String,
        expected: String,
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

    /// `name` is not one of `choices`, the names of the `kind` (an argument's name).
    pub(crate) fn unknown<'a>(
        kind: &'static str,
        name: &str,
        choices: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let quoted: Vec<String> = choices.into_iter().map(|c| format!("'{c}'")).collect();
        Error::UnknownName {
            kind,
            name: name.escape_debug().to_string(),
            expected: quoted.join(", "),
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
