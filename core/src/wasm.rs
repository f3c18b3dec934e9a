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
use crate::review::ReviewHistory;
use crate::session::Session;
use crate::store::MemoryStore;

fn parse<T: DeserializeOwned>(what: &'static str, json: &str) -> Result<T, JsError> {
    serde_json::from_str(json).map_err(|e| JsError::new(&Error::Json { what, message: e.to_string() }.to_string()))
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
    config: PassConfig,
}

/// Runs a rules-only pass. Input: `{store, sessions?, history?,
/// embeddings?, config}`; output: `{proposal, unsettled}`.
#[wasm_bindgen(js_name = runPass)]
pub fn run_pass_json(request: &str) -> Result<String, JsError> {
    let req: PassRequest = parse("pass request", request)?;
    let input = PassInput {
        store: &req.store,
        sessions: &req.sessions,
        history: &req.history,
        embeddings: req.embeddings.as_ref(),
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
    #[wasm_bindgen(constructor)]
    pub fn new(entries: u32, seed: u32) -> SyntheticBench {
        SyntheticBench { store: crate::synth::generate(entries as usize, u64::from(seed)).store }
    }

    /// Runs the pass and returns the number of changes proposed.
    #[wasm_bindgen(js_name = runPass)]
    pub fn run_pass(&self) -> Result<u32, JsError> {
        let history = ReviewHistory::default();
        let input = PassInput { store: &self.store, sessions: &[], history: &history, embeddings: None };
        let n = self.store.entries.len() as i64;
        let id = Id::new("bench").map_err(|e| JsError::new(&e.to_string()))?;
        let config = PassConfig::recommended(id, crate::entry::Timestamp(n * 60_000 + crate::entry::Timestamp::DAY));
        let out = run_pass(&input, &config).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(out.proposal.changes.len() as u32)
    }
}
