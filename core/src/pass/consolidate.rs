//! Stage 4: related notes about one subject become one entry.

use std::num::NonZeroU64;

use crate::dedup::UnionFind;
use crate::entry::{EntryKind, Id, MemoryEntry, Provenance, Trust};
use crate::proposal::{Change, ChangeKind};
use crate::sentence::{bare, keeps_facts, lowercase_is};
use crate::supersede::is_quantity;
use crate::text::{is_stopword, Features};

use super::builder::{entry_quote, placeholder_id, union_sources, union_tags, Builder};
use super::{Question, UnsettledGroup};
use crate::supersede::Claim;

impl Builder<'_, '_> {
    /// Related notes about the same subject become one entry that keeps
    /// every distinct sentence once. Pairs too close to call as duplicates
    /// and too far to consolidate are left for the LLM.
    pub(super) fn consolidate(&mut self) {
        let subjects = &self.items.subjects;
        let mut uf = UnionFind::new(self.items.len());
        for p in &self.pairs {
            let (a, b) = (&self.items[p.a], &self.items[p.b]);
            let (Some(ea), Some(eb)) = (a.entry, b.entry) else { continue };
            if self.claimed[p.a] || self.claimed[p.b] {
                continue;
            }
            // Texts this alike that did not merge differ in a detail (a
            // name, a number, a negation, a word of different meaning) or
            // in wording the rules cannot read: only a person or the LLM
            // can say whether they are one fact, or which holds.
            if p.score >= self.config.candidate_threshold {
                // Two values of one slot the supersession rules did not
                // retire (a preference, a multi-valued attribute, an
                // answer they could not read): which holds is the question.
                let slot = |c: Option<crate::supersede::ClaimRef<'_>>| match c {
                    Some(Claim::Slot { subject, attribute, .. }) => Some((subject, attribute)),
                    _ => None,
                };
                let question = match (slot(self.items.claim(p.a)), slot(self.items.claim(p.b))) {
                    (Some(x), Some(y)) if x == y => Question::Supersedes,
                    _ => Question::SameFact,
                };
                self.unsettled.push(UnsettledGroup {
                    entries: vec![ea.id.clone(), eb.id.clone()],
                    score: p.score,
                    question,
                });
            }
            // Pairs this close are near-duplicates the rules could not
            // settle; folding both sentences into one note would only
            // repeat them.
            if p.score >= self.config.candidate_threshold {
                continue;
            }
            let consolidatable = matches!(a.kind, EntryKind::Note | EntryKind::Fact);
            if p.score >= self.config.consolidate_threshold
                && a.kind == b.kind
                && consolidatable
                && subjects[p.a].is_some()
                && subjects[p.a] == subjects[p.b]
                && stands_with_others(ea)
                && stands_with_others(eb)
                && names_its_subject(ea)
                && names_its_subject(eb)
            {
                uf.union(p.a, p.b);
            }
        }
        // Notes about one subject written from one session are related
        // whatever their wording: a session's notes become one entry.
        let mut by_session: Vec<(NonZeroU64, &Id, usize)> = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            // Rows say which items are notes: only a note's entry is read.
            let (Some(e), Some(subject)) = (item.entry, subjects[i]) else { continue };
            if self.claimed[i] || item.kind != EntryKind::Note {
                continue;
            }
            let Some(source) = e.provenance.sources.first() else { continue };
            if stands_with_others(e) && names_its_subject(e) {
                by_session.push((subject, &source.session_id, i));
            }
        }
        by_session.sort_unstable();
        for run in by_session.chunk_by(|x, y| (x.0, x.1) == (y.0, y.1)) {
            for w in run.windows(2) {
                uf.union(w[0].2, w[1].2);
            }
        }
        // Notes under one heading ("Billing API: ...") are related too.
        let mut by_topic: Vec<(NonZeroU64, usize)> = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            let Some(topic) = self.items.topics[i] else { continue };
            if item.entry.is_some_and(stands_with_others)
                && !self.claimed[i]
                && item.kind == EntryKind::Note
            {
                by_topic.push((topic, i));
            }
        }
        by_topic.sort_unstable();
        for run in by_topic.chunk_by(|x, y| x.0 == y.0) {
            for w in run.windows(2) {
                uf.union(w[0].1, w[1].1);
            }
        }
        for group in uf.groups().iter() {
            let mut members = group.to_vec();
            members.sort_by_key(|&i| (self.items[i].observed, i));
            for chunk in members.chunks(self.config.max_consolidate.max(2)) {
                if chunk.len() < 2 {
                    continue;
                }
                let entries: Vec<&MemoryEntry> =
                    chunk.iter().filter_map(|&i| self.items[i].entry).collect();
                let Some(text) = distinct_sentences(&entries) else { continue };
                let first = entries[0];
                let mut result =
                    MemoryEntry::new(self.new_entry_id(), text, first.kind, self.config.now);
                result.subject = entries.iter().find_map(|e| e.subject.clone());
                result.tags = union_tags(&entries);
                result.provenance = Provenance {
                    trust: entries.iter().map(|e| e.provenance.trust).max().unwrap_or(Trust::Agent),
                    sources: union_sources(&entries),
                };
                result.observed_at = entries.iter().map(|e| e.observed()).max();
                result.confidence = entries.iter().map(|e| e.confidence).fold(0.0, f32::max);
                if result.text.len() > crate::entry::MAX_TEXT_BYTES {
                    continue;
                }
                for &m in chunk {
                    self.claimed[m] = true;
                }
                self.push(
                    Change {
                        id: placeholder_id(),
                        kind: ChangeKind::Consolidate,
                        targets: entries.iter().map(|e| e.id.clone()).collect(),
                        justification: format!(
                            "{} related notes about the same subject, combined keeping every distinct sentence once",
                            entries.len()
                        ),
                        evidence: entries.iter().map(|e| entry_quote(e)).collect(),
                        confidence: 0.6,
                        result: Some(result),
                        risk: Vec::new(),
                        sessions_seen: None,
                    },
                    chunk,
                );
            }
        }
        self.unsettled.retain(|g| !g.entries.is_empty());
    }
}

/// Whether a note may be combined with others: not one that asks a
/// question and answers it ("Who won in 2018? France."), whose answer must
/// stay with its question and whose question is its subject.
fn stands_with_others(e: &MemoryEntry) -> bool {
    e.text.split_once("? ").is_none_or(|(_, answer)| !answer.chars().any(char::is_alphanumeric))
}

/// Whether a note names who or what it is about: its `subject` field, a
/// name ("Acme API ...", "... by Alice"), or an owner ("the user's team");
/// not "a man" or "the woman", which two notes may say of two people.
fn names_its_subject(e: &MemoryEntry) -> bool {
    if e.subject.as_deref().is_some_and(|s| !s.trim().is_empty()) {
        return true;
    }
    let mut words = e.text.split_whitespace().map(bare);
    let Some(first) = words.next() else { return false };
    let capital = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    let generic = |w: &str| is_stopword(w) || is_generic_noun(w) || is_quantity(w);
    if capital(first) && !lowercase_is(first, generic) {
        return true;
    }
    // The phrase that opens the note, up to its verb: a name or an owner
    // there names the subject.
    words
        .take(5)
        .take_while(|w| !matches!(*w, "is" | "are" | "was" | "were" | "has" | "have"))
        .any(|w| capital(w) || w.ends_with("'s") || w.ends_with("\u{2019}s"))
}

/// Nouns that name a kind of person or thing rather than one.
fn is_generic_noun(word: &str) -> bool {
    matches!(
        word,
        "man"
            | "woman"
            | "men"
            | "women"
            | "boy"
            | "girl"
            | "boys"
            | "girls"
            | "child"
            | "children"
            | "kid"
            | "kids"
            | "person"
            | "people"
            | "someone"
            | "somebody"
            | "group"
            | "dog"
            | "dogs"
            | "cat"
            | "player"
            | "players"
    )
}

/// The text of a consolidated entry: every sentence of the notes in order,
/// except a sentence whose content words another kept sentence already
/// holds, or one that is only a greeting or a reaction. No content word of
/// the notes is lost; and as a check of the rule's own work, every number
/// and name of a sentence left out must be in the text as written, or
/// there is no text (`None`).
pub(super) fn distinct_sentences(entries: &[&MemoryEntry]) -> Option<String> {
    let mut kept: Vec<(Features, &str)> = Vec::new();
    let mut covered_sentences: Vec<&str> = Vec::new();
    for e in entries {
        for s in crate::sentence::sentences(&e.text) {
            let f = Features::of(s);
            if f.no_information {
                continue;
            }
            let covered = |k: &Features| {
                k.norm_hash == f.norm_hash
                    || (k.numbers == f.numbers
                        && k.negated == f.negated
                        && crate::text::intersection_len(&k.content, &f.content) == f.content.len())
            };
            if kept.iter().any(|(k, _)| covered(k)) {
                covered_sentences.push(s);
                continue;
            }
            kept.push((f, s));
        }
    }
    let mut out = String::new();
    for (_, s) in kept {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s);
        if !s.ends_with(['.', '!', '?']) {
            out.push('.');
        }
    }
    keeps_facts(covered_sentences, &out, false).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Id, Timestamp};

    fn note(text: &str) -> MemoryEntry {
        MemoryEntry::new(Id::new("n").unwrap(), text, EntryKind::Note, Timestamp(0))
    }

    #[test]
    fn a_subject_is_named_not_a_kind_or_a_count() {
        for named in [
            "Acme API needs a token.",
            "The user's team deploys on Fridays.",
            "Billing at Initech is monthly.",
        ] {
            assert!(names_its_subject(&note(named)), "{named:?}");
        }
        for generic in [
            "A woman is boiling eggs.",
            "The man is a guitar player.",
            "Two boys are playing a video game.",
            "Four people are walking on the beach.",
            "A group of people is on a beach.",
        ] {
            assert!(!names_its_subject(&note(generic)), "{generic:?}");
        }
        let mut with_field = note("Deploys on Fridays.");
        with_field.subject = Some("release train".into());
        assert!(names_its_subject(&with_field));
        assert!(!stands_with_others(&note("Who won the 2018 World Cup? France.")));
        assert!(stands_with_others(&note("Acme API: does it page? ")));
    }
}
