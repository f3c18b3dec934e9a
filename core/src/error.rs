//! The one error type of the core's public API: each variant says what was
//! wrong and with which input, so the service can answer with a precise 4xx.

use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// JSON that does not parse or does not fit the expected shape.
    Json { what: &'static str, message: String },
    /// A value that parsed but breaks a rule (empty text, oversize entry…).
    Invalid { field: String, message: String },
    /// An id that names nothing in the given input.
    UnknownId { kind: &'static str, id: String },
    /// The same id twice where ids must be unique.
    DuplicateId { kind: &'static str, id: String },
    /// The store moved since the proposal was made and these changes touch
    /// entries that moved.
    Conflict { base_version: u64, current_version: u64, changes: Vec<String> },
    /// A decision or answer that does not fit the proposal it is about.
    Review { message: String },
}

impl Error {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Json { what, message } => write!(f, "malformed {what}: {message}"),
            Error::Invalid { field, message } => write!(f, "invalid `{field}`: {message}"),
            Error::UnknownId { kind, id } => write!(f, "unknown {kind} id `{id}`"),
            Error::DuplicateId { kind, id } => write!(f, "duplicate {kind} id `{id}`"),
            Error::Conflict { base_version, current_version, changes } => write!(
                f,
                "the store moved from version {base_version} to {current_version}; changes touching moved entries: {}",
                changes.join(", ")
            ),
            Error::Review { message } => write!(f, "review does not fit the proposal: {message}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
