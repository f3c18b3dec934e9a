//! The one error type of the core's public API: each variant says what was
//! wrong and with which input, so the service can answer with a precise 4xx.

use std::fmt;

/// What was wrong with an input to the core.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// JSON that does not parse or does not fit the expected shape.
    Json {
        /// What was being read, e.g. "memory store".
        what: &'static str,
        /// What did not parse or fit, and where.
        message: String,
    },
    /// A value that parsed but breaks a rule (empty text, oversize entry…).
    Invalid {
        /// The path of the value, e.g. `entries[m1].text`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// An id that names nothing in the given input.
    UnknownId {
        /// What the id should name, e.g. "entry" or "change".
        kind: &'static str,
        /// The id as given.
        id: String,
    },
    /// The same id twice where ids must be unique.
    DuplicateId {
        /// What the id names, e.g. "entry" or "session".
        kind: &'static str,
        /// The repeated id.
        id: String,
    },
    /// The store moved since the proposal was made and these changes touch
    /// entries that moved.
    Conflict {
        /// The store version the proposal was made against.
        base_version: u64,
        /// The store's version now.
        current_version: u64,
        /// Ids of the accepted changes whose target entries moved.
        changes: Vec<String>,
    },
    /// A decision or answer that does not fit the proposal it is about.
    Review {
        /// What does not fit.
        message: String,
    },
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

/// The core's result type; the error is [`Error`] unless given.
pub type Result<T, E = Error> = std::result::Result<T, E>;
