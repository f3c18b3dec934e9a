//! Reverie's consolidation engine: pure functions from (memory store, session
//! transcripts, review history) to a reviewable proposal, and from a reviewed
//! proposal to the next store version.
//!
//! Nothing in this crate reads a clock, touches the network or storage, or
//! draws random numbers: callers pass `now`, ids and seeds in. That keeps
//! every rule testable in microseconds and lets the same code run natively,
//! in the worker and in the browser.

#![warn(missing_docs)]

pub mod apply;
pub mod audit;
pub mod config;
mod dedup;
pub mod diff;
mod entry;
mod error;
pub mod formats;
mod groups;
mod hash;
pub mod import;
mod learn;
mod lexicon;
pub mod llm;
pub mod outcomes;
mod paraphrase;
pub mod pass;
mod proposal;
mod radix;
pub mod review;
mod risk;
mod rng;
pub mod schedule;
mod sentence;
mod session;
mod store;
mod supersede;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
mod text;
mod yaml;

pub use entry::{
    EntryKind, Id, MemoryEntry, MessageRef, Provenance, Status, Timestamp, Trust, MAX_TEXT_BYTES,
};
pub use error::{Error, Result};
pub use hash::hash_str;
pub use proposal::{
    Change, ChangeKind, Evidence, EvidenceSource, Fingerprint, LlmStage, MadeBy, Proposal,
    RiskFlag, RiskKind, Summary, TokenCost,
};
/// The signs of injected text in a string (instructions to an AI, fake
/// role markers, encoded payloads, …), described; empty when none.
pub use risk::poison::signals as injection_signals;
pub use risk::poison::signals_from as injection_signals_from;
pub use risk::sensitive::{redact as redact_secrets, redact_in_place as redact_secrets_in};
pub use sentence::names;
pub use session::{Message, Role, Session};
pub use store::{MemoryStore, Scope};
pub use text::normalize;

/// The engine's version, reported by the service's health check.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(feature = "wasm")]
pub mod wasm;
