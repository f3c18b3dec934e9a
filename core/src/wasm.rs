//! JavaScript bindings (feature `wasm`): JSON in, JSON out, so any host can
//! call the engine without knowing Rust types. Errors become exceptions
//! carrying the core's error message.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::entry::Id;
use crate::error::Error;
use crate::pass::{run_pass, PassConfig, PassInput};
use crate::proposal::Change;
use crate::review::ReviewHistory;
use crate::session::Session;
use crate::store::MemoryStore;

fn parse<T: DeserializeOwned>(what: &'static str, json: &str) -> Result<T, JsError> {
    serde_json::from_str(json)
        .map_err(|e| JsError::new(&Error::Json { what, message: e.to_string() }.to_string()))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(|e| JsError::new(&e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PassRequest {
    store: MemoryStore,
    #[serde(default)]
    sessions: Vec<Session>,
    #[serde(default)]
    history: ReviewHistory,
    #[serde(default)]
    embeddings: Option<BTreeMap<Id, Vec<f32>>>,
    #[serde(default)]
    open: Vec<Change>,
    config: PassConfig,
}

/// Runs a rules-only pass. Input: `{store, sessions?, history?,
/// embeddings?, open?, config}`; output: `{proposal, unsettled}`.
#[wasm_bindgen(js_name = runPass)]
pub fn run_pass_json(request: &str) -> Result<String, JsError> {
    let req: PassRequest = parse("pass request", request)?;
    let input = PassInput {
        store: &req.store,
        sessions: &req.sessions,
        history: &req.history,
        embeddings: req.embeddings.as_ref(),
        open: &req.open,
    };
    let out = run_pass(&input, &req.config).map_err(|e| JsError::new(&e.to_string()))?;
    to_json(&out)
}

/// A synthetic store held in WASM memory, so a benchmark can time the pass
/// alone.
#[wasm_bindgen]
pub struct SyntheticBench {
    store: MemoryStore,
}

#[wasm_bindgen]
impl SyntheticBench {
    /// A store of `entries` entries generated from `seed`.
    #[wasm_bindgen(constructor)]
    pub fn new(entries: u32, seed: u32) -> SyntheticBench {
        SyntheticBench { store: crate::synth::generate(entries as usize, u64::from(seed)).store }
    }

    /// Runs the pass and returns the number of changes proposed.
    #[wasm_bindgen(js_name = runPass)]
    pub fn run_pass(&self) -> Result<u32, JsError> {
        let history = ReviewHistory::default();
        let input = PassInput::new(&self.store, &[], &history);
        let n = self.store.entries.len() as i64;
        let id = Id::new("bench").map_err(|e| JsError::new(&e.to_string()))?;
        let config = PassConfig::recommended(
            id,
            crate::entry::Timestamp(n * 60_000 + crate::entry::Timestamp::DAY),
        );
        let out = run_pass(&input, &config).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(out.proposal.changes.len() as u32)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyRequest {
    store: MemoryStore,
    proposal: crate::proposal::Proposal,
    review: crate::apply::Review,
}

#[derive(Serialize)]
struct Applied<'a> {
    store: &'a MemoryStore,
    events: &'a [crate::audit::AuditEvent],
    accepted: &'a [Id],
    rejected: &'a [Id],
}

/// Applies a review. Input: `{store, proposal, review}`; output: `{store,
/// events, accepted, rejected}`. A moved store throws a conflict naming
/// the changes.
#[wasm_bindgen(js_name = applyReview)]
pub fn apply_review_json(request: &str) -> Result<String, JsError> {
    let req: ApplyRequest = parse("apply request", request)?;
    let out = crate::apply::apply(&req.store, &req.proposal, &req.review)
        .map_err(|e| JsError::new(&e.to_string()))?;
    to_json(&Applied {
        store: &out.store,
        events: &out.events,
        accepted: &out.accepted,
        rejected: &out.rejected,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    current: MemoryStore,
    target: MemoryStore,
    actor: String,
    at: crate::entry::Timestamp,
}

/// Rolls back. Input: `{current, target, actor, at}`; output: `{store,
/// events}`.
#[wasm_bindgen(js_name = rollback)]
pub fn rollback_json(request: &str) -> Result<String, JsError> {
    let req: RollbackRequest = parse("rollback request", request)?;
    let (store, events) = crate::apply::rollback(&req.current, &req.target, &req.actor, req.at)
        .map_err(|e| JsError::new(&e.to_string()))?;
    // A struct, not `json!`: a `Value` would widen f32 confidences to f64
    // and print 0.8 as 0.800000011920929.
    #[derive(Serialize)]
    struct RolledBack {
        store: MemoryStore,
        events: Vec<crate::audit::AuditEvent>,
    }
    to_json(&RolledBack { store, events })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    #[serde(default)]
    anchor: Option<crate::audit::AuditRecord>,
    records: Vec<crate::audit::AuditRecord>,
}

/// Verifies an audit chain. Input: `{anchor?, records}`; output: `{ok,
/// records, first_bad_seq?, problem?}`.
#[wasm_bindgen(js_name = verifyAudit)]
pub fn verify_audit_json(request: &str) -> Result<String, JsError> {
    let req: VerifyRequest = parse("audit verification request", request)?;
    to_json(&crate::audit::verify(req.anchor.as_ref(), &req.records))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainRequest {
    #[serde(default)]
    last: Option<crate::audit::AuditRecord>,
    events: Vec<crate::audit::AuditEvent>,
}

/// Appends audit events after the last record. Input: `{last?, events}`;
/// output: the new records, hashed and chained.
#[wasm_bindgen(js_name = chainAudit)]
pub fn chain_audit_json(request: &str) -> Result<String, JsError> {
    let req: ChainRequest = parse("audit chain request", request)?;
    to_json(&crate::audit::chain(req.last.as_ref(), req.events))
}

/// Word-level diff of two texts: `[{tag, text}]`.
#[wasm_bindgen(js_name = wordDiff)]
pub fn word_diff_json(before: &str, after: &str) -> Result<String, JsError> {
    to_json(&crate::diff::word_diff(before, after))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreDiffRequest {
    before: MemoryStore,
    after: MemoryStore,
}

/// Differences between two versions of a store. Input: `{before, after}`;
/// output: `{entries: [EntryDiff], unified: "..."}`.
#[wasm_bindgen(js_name = storeDiff)]
pub fn store_diff_json(request: &str) -> Result<String, JsError> {
    let req: StoreDiffRequest = parse("store diff request", request)?;
    #[derive(Serialize)]
    struct StoreDiff {
        entries: Vec<crate::diff::EntryDiff>,
        unified: String,
    }
    let label = |s: &MemoryStore| format!("{}@{}", s.id, s.version);
    to_json(&StoreDiff {
        entries: crate::diff::entry_diffs(&req.before.entries, &req.after.entries),
        unified: crate::diff::store_unified_diff(
            &req.before.entries,
            &label(&req.before),
            &req.after.entries,
            &label(&req.after),
        ),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompareRequest {
    baseline: Vec<crate::outcomes::SessionMetrics>,
    candidate: Vec<crate::outcomes::SessionMetrics>,
    config: crate::outcomes::CompareConfig,
}

/// Compares outcome metrics of two windows. Input: `{baseline, candidate,
/// config}`; output: `{metrics, regressions}`.
#[wasm_bindgen(js_name = compareOutcomes)]
pub fn compare_outcomes_json(request: &str) -> Result<String, JsError> {
    let req: CompareRequest = parse("outcome comparison request", request)?;
    to_json(&crate::outcomes::compare(&req.baseline, &req.candidate, &req.config))
}
