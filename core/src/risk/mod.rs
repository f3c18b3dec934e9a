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
use crate::proposal::{Change, ChangeKind, EvidenceSource, RiskFlag, RiskKind};
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
                                (
                                    poison::signals_from(&m.content, m.trust()),
                                    Pasted::of(&m.content),
                                )
                            });
                        (m.claim_trust_in(pasted, &ev.quote), signals.clone())
                    }
                    None => (Trust::External, poison::signals_from(&ev.quote, Trust::External)),
                }
            }
            EvidenceSource::Entry { entry_id } => entry(entry_id).map_or_else(
                || (Trust::External, poison::signals_from(&ev.quote, Trust::External)),
                |e| (e.provenance.trust, poison::signals_from(&e.text, e.provenance.trust)),
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
        let signals = poison::signals_from(&result.text, result.provenance.trust);
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
    if change.kind == ChangeKind::Merge {
        let targets: Vec<&MemoryEntry> =
            entries.iter().copied().filter(|e| change.targets.contains(&e.id)).collect();
        if let Some(names) = different_names(&targets) {
            flags.insert(
                RiskKind::DifferentNames,
                format!("joins entries naming different things: {}", names.join(", ")),
            );
        }
    }
    change.risk = flags.into_iter().map(|(kind, detail)| RiskFlag { kind, detail }).collect();
}

/// The names that set merged entries apart, when two of them each name
/// something the other never says ("Umbrella renewed …" and "Zorg
/// renewed …"); `None` when no two do. A name the other entry says in any
/// case or place ("Production deploys" and "Deploys to production") is
/// shared, and one entry adding a name to the other is more detail, not
/// another thing. Words of the language seen only opening a sentence
/// ("Somebody is …" and "Someone is …") set nothing apart by themselves:
/// one of the names must be capitalized inside a sentence or be no such
/// word.
fn different_names(entries: &[&MemoryEntry]) -> Option<Vec<String>> {
    if entries.len() < 2 || entries.len() > 64 {
        return None;
    }
    let words = |text: &str| -> Vec<String> {
        text.split_whitespace()
            .map(|w| {
                crate::text::normalize(crate::sentence::without_possessive(crate::sentence::bare(
                    w,
                )))
            })
            .collect()
    };
    type Name<'t> = (String, &'t str, bool);
    let read: Vec<(Vec<Name>, Vec<String>)> =
        entries.iter().map(|e| (crate::sentence::names(&e.text), words(&e.text))).collect();
    let strong = |(n, _, inside): &&Name| *inside || crate::lexicon::lemmas(n).is_empty();
    let mut apart: Vec<String> = Vec::new();
    for (i, (names_a, words_a)) in read.iter().enumerate() {
        for (names_b, words_b) in &read[i + 1..] {
            let only_a: Vec<&Name> =
                names_a.iter().filter(|(n, _, _)| !words_b.contains(n)).collect();
            let only_b: Vec<&Name> =
                names_b.iter().filter(|(n, _, _)| !words_a.contains(n)).collect();
            let told = only_a.iter().chain(&only_b).any(strong);
            if !only_a.is_empty() && !only_b.is_empty() && told {
                for (_, written, _) in only_a.into_iter().chain(only_b) {
                    if !apart.iter().any(|a| a == written) {
                        apart.push(written.to_string());
                    }
                }
            }
        }
    }
    (!apart.is_empty()).then_some(apart)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{EntryKind, Timestamp};

    fn entry(id: &str, text: &str) -> MemoryEntry {
        MemoryEntry::new(Id::new(id).unwrap(), text, EntryKind::Fact, Timestamp(0))
    }

    fn names_apart(texts: &[&str]) -> Option<Vec<String>> {
        let entries: Vec<MemoryEntry> =
            texts.iter().enumerate().map(|(i, t)| entry(&format!("e{i}"), t)).collect();
        different_names(&entries.iter().collect::<Vec<_>>())
    }

    #[test]
    fn a_merge_of_entries_naming_different_things_is_told_apart() {
        assert_eq!(
            names_apart(&["Umbrella's plan is Pro.", "Zorg's plan is Pro."]),
            Some(vec!["Umbrella".to_string(), "Zorg".to_string()])
        );
        assert_eq!(
            names_apart(&[
                "Umbrella renewed its Pro plan in March.",
                "Zorg renewed its Pro plan in March.",
            ]),
            Some(vec!["Umbrella".to_string(), "Zorg".to_string()])
        );
        // Four entries about two companies.
        let four = names_apart(&[
            "Zorg renewed on the Pro plan.",
            "Zorg renewed its Pro plan.",
            "Umbrella Corp renewed on the Pro plan.",
            "Umbrella Corp renewed its Pro plan.",
        ]);
        assert_eq!(
            four,
            Some(vec!["Zorg".to_string(), "Umbrella".to_string(), "Corp".to_string()])
        );
        // One adding a name is more detail; openers of the language are no
        // names; the same names in other places agree.
        assert_eq!(
            names_apart(&["The editor is Helix.", "The editor is Helix, set up by Dana."]),
            None
        );
        assert_eq!(
            names_apart(&[
                "Deploys to production happen only on Tuesdays.",
                "Production deploys are scheduled for Tuesdays.",
            ]),
            None
        );
        assert_eq!(
            names_apart(&["Alice approves refunds.", "Refunds need Alice's approval."]),
            None
        );
        assert_eq!(
            names_apart(&["Somebody is cutting a tomato.", "Someone is cutting a tomato."]),
            None
        );
    }
}
