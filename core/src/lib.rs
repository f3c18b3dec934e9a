//! Reverie's consolidation engine: pure functions from (memory store, session
//! transcripts, review history) to a reviewable proposal, and from a reviewed
//! proposal to the next store version.
//!
//! Nothing in this crate reads a clock, touches the network or storage, or
//! draws random numbers: callers pass `now`, ids and seeds in. That keeps
//! every rule testable in microseconds and lets the same code run natively,
//! in the worker and in the browser.

/// The engine's version, reported by the service's health check.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
