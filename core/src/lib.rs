//! Reverie's consolidation engine: pure functions from (memory store, session
//! transcripts, review history) to a reviewable proposal, and from a reviewed
//! proposal to the next store version.
//!
//! Nothing in this crate reads a clock, touches the network or storage, or
//! draws random numbers: callers pass `now`, ids and seeds in. That keeps
//! every rule testable in microseconds and lets the same code run natively,
//! in the worker and in the browser.

pub mod apply;
pub mod audit;
pub mod config;
pub mod dedup;
pub mod diff;
pub mod entry;
pub mod error;
mod groups;
mod hash;
pub mod import;
pub mod learn;
pub(crate) mod lexicon;
pub mod llm;
pub mod outcomes;
pub mod paraphrase;
pub mod pass;
pub mod proposal;
mod radix;
pub mod review;
pub mod risk;
pub mod rng;
pub mod schedule;
mod sentence;
pub mod session;
pub mod store;
pub mod supersede;
pub mod synth;
pub mod text;

pub use entry::{EntryKind, Id, MemoryEntry, MessageRef, Provenance, Status, Timestamp, Trust};
pub use error::{Error, Result};
pub use proposal::{
    Change, ChangeKind, Evidence, EvidenceSource, Fingerprint, Proposal, RiskFlag, RiskKind,
};
pub use session::{Message, Role, Session};
pub use store::{MemoryStore, Scope};

/// The engine's version, reported by the service's health check.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(feature = "wasm")]
pub mod wasm;
