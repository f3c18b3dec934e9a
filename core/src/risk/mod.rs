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
use crate::session::{Pasted, Session};

/// What was read from each transcript message a change cited: its signs
/// of injection and where it holds pasted text. A message many changes
/// cite (a long user turn with many statements) is read once per pass.
#[derive(Default)]
pub(crate) struct MessagesRead<'a>(HashMap<(&'a Id, u32), (Vec<&'static str>, Pasted)>);

/// Sets a change's risk flags from its evidence (`entries` are the ones it
/// quotes or targets), the store's scope and how much it retires.
pub(crate) fn add_risk_flags<'a>(
    change: &mut Change,
    entries: &[&MemoryEntry],
    shared: bool,
    sessions: &HashMap<&'a Id, &'a Session>,
    read: &mut MessagesRead<'a>,
    large_deletion: usize,
) {
    let mut flags: BTreeMap<RiskKind, String> = BTreeMap::new();
    let mut untrusted = 0;
    // Evidence names entries by id, and a change may quote thousands.
    let mut by_id: smallvec::SmallVec<[&MemoryEntry; 8]> = entries.into();
    by_id.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let entry = |id: &Id| by_id.binary_search_by(|e| e.id.cmp(id)).ok().map(|k| by_id[k]);
    let mut suspect: Vec<(Trust, Vec<&'static str>)> = Vec::new();
    let mut overreach: Vec<&'static str> = Vec::new();
    for ev in &change.evidence {
        // A claim learned from a transcript is the speaker's word about the
        // speaker; anything reaching further waits for a person.
        if let EvidenceSource::Message { .. } = ev.source {
            overreach.extend(poison::overreach(&ev.quote));
        }
        // The whole message or entry counts, not just the quoted sentence:
        // a change resting on text that carries instructions is suspect,
        // whoever wrote it.
        let (trust, signals) = match &ev.source {
            EvidenceSource::Message { session_id, message_index } => {
                let message = sessions
                    .get_key_value(session_id)
                    .and_then(|(id, s)| Some((*id, s.messages.get(*message_index as usize)?)));
                match message {
                    Some((id, m)) => {
                        let (signals, pasted) =
                            read.0.entry((id, *message_index)).or_insert_with(|| {
                                (poison::signals(&m.content), Pasted::of(&m.content))
                            });
                        (m.claim_trust_in(pasted, &ev.quote), signals.clone())
                    }
                    None => (Trust::External, poison::signals(&ev.quote)),
                }
            }
            EvidenceSource::Entry { entry_id } => entry(entry_id).map_or_else(
                || (Trust::External, poison::signals(&ev.quote)),
                |e| (e.provenance.trust, poison::signals(&e.text)),
            ),
        };
        if trust.is_untrusted() {
            untrusted += 1;
        }
        if !signals.is_empty() {
            suspect.push((trust, signals));
        }
    }
    if let Some(result) = &change.result {
        let signals = poison::signals(&result.text);
        if !signals.is_empty() {
            suspect.push((result.provenance.trust, signals));
        }
    }
    if let Some((trust, _)) = suspect.first() {
        let mut signs: Vec<&str> = suspect.iter().flat_map(|(_, s)| s.iter().copied()).collect();
        signs.sort_unstable();
        signs.dedup();
        flags.insert(
            RiskKind::PoisoningSuspected,
            format!(
                "text that reads as injected, from a {} source: {}",
                trust.as_str(),
                signs.join(", ")
            ),
        );
    }
    if !overreach.is_empty() && !flags.contains_key(&RiskKind::PoisoningSuspected) {
        overreach.sort_unstable();
        overreach.dedup();
        flags.insert(
            RiskKind::Overreach,
            format!("a claim reaching beyond its speaker: {}", overreach.join(", ")),
        );
    }
    // Tool output and external content never write memory unattended, not
    // even mixed with trusted evidence: consolidation would launder them.
    if untrusted > 0 {
        let detail = if untrusted == change.evidence.len() {
            "all evidence comes from tool output or external content".to_string()
        } else {
            format!(
                "{untrusted} of {} pieces of evidence come from tool output or external content",
                change.evidence.len()
            )
        };
        flags.insert(RiskKind::UntrustedSource, detail);
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
