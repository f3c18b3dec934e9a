//! Risk flags: what makes a change wait for a person even when the agent's
//! owner turned approval off — instruction-like text from untrusted sources
//! (`poison`), evidence that is all untrusted, a shared store, a large
//! deletion, a secret in the new entry (`sensitive`).

pub mod poison;
pub mod sensitive;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use crate::entry::{Id, MemoryEntry, Trust};
use crate::pass::retired_by;
use crate::proposal::{Change, EvidenceSource, RiskFlag, RiskKind};
use crate::session::Session;

/// Sets a change's risk flags from its evidence (`entries` are the ones it
/// quotes or targets), the store's scope and how much it retires.
pub(crate) fn add_risk_flags(
    change: &mut Change,
    entries: &[&MemoryEntry],
    shared: bool,
    sessions: &HashMap<&Id, &Session>,
    large_deletion: usize,
) {
    let mut flags: BTreeMap<RiskKind, String> = BTreeMap::new();
    let mut untrusted_only = !change.evidence.is_empty();
    // Evidence names entries by id, and a change may quote thousands.
    let mut by_id: smallvec::SmallVec<[&MemoryEntry; 8]> = entries.into();
    by_id.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let entry = |id: &Id| by_id.binary_search_by(|e| e.id.cmp(id)).ok().map(|k| by_id[k]);
    for ev in &change.evidence {
        let trust = match &ev.source {
            EvidenceSource::Message { session_id, message_index } => sessions
                .get(session_id)
                .and_then(|s| s.messages.get(*message_index as usize))
                .map(|m| m.trust())
                .unwrap_or(Trust::External),
            EvidenceSource::Entry { entry_id } => {
                entry(entry_id).map(|e| e.provenance.trust).unwrap_or(Trust::External)
            }
        };
        if !trust.is_untrusted() {
            untrusted_only = false;
            continue;
        }
        // The whole message counts, not just the quoted sentence: a change
        // resting on a message that carries instructions is suspect.
        let signals = match &ev.source {
            EvidenceSource::Message { session_id, message_index } => sessions
                .get(session_id)
                .and_then(|s| s.messages.get(*message_index as usize))
                .map(|m| poison::signals(&m.content))
                .unwrap_or_default(),
            EvidenceSource::Entry { entry_id } => entry(entry_id)
                .map_or_else(|| poison::signals(&ev.quote), |e| poison::signals(&e.text)),
        };
        if !signals.is_empty() {
            flags.insert(
                RiskKind::PoisoningSuspected,
                format!("instruction-like text from a {trust:?} source: {}", signals.join(", "))
                    .to_lowercase(),
            );
        }
    }
    if untrusted_only {
        flags.insert(
            RiskKind::UntrustedSource,
            "all evidence comes from tool output or external content".into(),
        );
    }
    if shared {
        flags.insert(RiskKind::SharedStore, "the store is shared by several agents".into());
    }
    let retired = retired_by(change);
    if retired >= large_deletion {
        flags.insert(RiskKind::LargeDeletion, format!("retires {retired} entries at once"));
    }
    if let Some(result) = &change.result {
        let secrets = sensitive::secrets(&result.text);
        if !secrets.is_empty() {
            flags.insert(
                RiskKind::SensitiveData,
                format!(
                    "the new entry would keep what looks like a secret: {}",
                    secrets.join(", ")
                ),
            );
        }
    }
    change.risk = flags.into_iter().map(|(kind, detail)| RiskFlag { kind, detail }).collect();
}
