//! Stage 4: related notes about one subject become one entry.

use std::num::NonZeroU64;

use crate::dedup::UnionFind;
use crate::entry::{EntryKind, Id, MemoryEntry, Provenance, Trust};
use crate::proposal::{entry_quote, Change, ChangeKind};
use crate::sentence::{bare, keeps_facts, lowercase_is};
use crate::supersede::is_quantity;
use crate::text::{hash_str, is_stopword, mix, normalize, stem, Features};

use super::builder::{placeholder_id, union_sources, union_tags, Builder};
use super::{Question, UnsettledGroup};
use crate::supersede::Claim;

impl Builder<'_, '_> {
    /// Related notes about the same subject become one entry that keeps
    /// every distinct sentence once. Pairs too close to call as duplicates
    /// and too far to consolidate are left for the LLM.
    pub(super) fn consolidate(&mut self) {
        let mut uf = UnionFind::new(self.items.len());
        for p in &self.pairs {
            let (a, b) = (&self.items[p.a], &self.items[p.b]);
            let (Some(ea), Some(eb)) = (a.entry, b.entry) else { continue };
            if !self.free(p.a) || !self.free(p.b) {
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
                && stands_with_others(ea)
                && stands_with_others(eb)
                && named_subject(ea).is_some_and(|s| Some(s) == named_subject(eb))
            {
                uf.union(p.a, p.b);
            }
        }
        // Notes about one subject written from one session are related
        // whatever their wording: a session's notes become one entry.
        let mut by_session: Vec<(u64, &Id, usize)> = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            // Rows say which items are notes: only a note's entry is read.
            let Some(e) = item.entry else { continue };
            if !self.free(i) || item.kind != EntryKind::Note {
                continue;
            }
            let Some(source) = e.provenance.sources.first() else { continue };
            if !stands_with_others(e) {
                continue;
            }
            if let Some(subject) = named_subject(e) {
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
                && self.free(i)
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
                        made_by: None,
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

/// Who or what a note is about, as a key: its `subject` field; else the
/// name it opens with ("Acme API", "Shares of Guidant", "Southwest, the
/// airline"); else the owner it opens with ("the user's team"). `None`
/// when it opens with a kind or a count ("A man", "Two boys", "Analysts"),
/// a pronoun or an adverbial ("In all, ..."): two such notes may be about
/// two things, and sharing opening words does not make them one subject.
fn named_subject(e: &MemoryEntry) -> Option<u64> {
    if let Some(s) = e.subject.as_deref().filter(|s| !s.trim().is_empty()) {
        return Some(hash_str(&normalize(s)) | 1);
    }
    let mut tokens = e.text.split_whitespace().peekable();
    while tokens.next_if(|t| lowercase_is(bare(t), is_determiner_or_title)).is_some() {}
    let opening = tokens.next()?;
    let capital = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
    let word_key = |w: &str| {
        let w = bare(w).trim_end_matches("'s").trim_end_matches("\u{2019}s");
        hash_str(stem(&normalize(w)))
    };
    // The name: capitalized words and the small words joining them, up to
    // the first other word or the end of a clause. The opening word counts
    // only when it is not a word of the language capitalized because it
    // opens the sentence ("Shares of Guidant" is about Guidant).
    let (mut key, mut words) = (0x5ab1u64, 0);
    let mut token = Some(opening);
    let mut first = true;
    while let Some(t) = token {
        let w = bare(t);
        if capital(w) {
            if !(first && is_common_word(w)) {
                key = key.wrapping_add(mix(word_key(w)));
                words += 1;
            }
        } else if !is_name_joiner(w) {
            break;
        }
        if t.ends_with([',', ';', ':', ')']) {
            break;
        }
        first = false;
        token = tokens.next();
    }
    if words > 0 {
        return Some(key | 1);
    }
    // An owner: "the user's team", "Alice's plan".
    let w = bare(opening);
    let owner = w.strip_suffix("'s").or_else(|| w.strip_suffix("\u{2019}s"))?;
    (!lowercase_is(owner, is_stopword)).then(|| hash_str(stem(&normalize(owner))) | 1)
}

/// A word that is part of the language, not a name: a stop word, a kind,
/// a count, or a word the lexicon knows (capitalized only because it
/// opens the sentence).
fn is_common_word(word: &str) -> bool {
    let lower = normalize(word);
    is_stopword(&lower)
        || is_generic_noun(&lower)
        || is_quantity(&lower)
        || !crate::lexicon::lemmas(&lower).is_empty()
}

/// Small words inside a name ("Bank of America", "Shares in BA").
fn is_name_joiner(word: &str) -> bool {
    matches!(word, "of" | "in" | "for" | "at" | "de" | "and" | "&")
}

/// Words before a name that are not the name: the determiners and titles
/// supersession skips, and the demonstratives ("this", "those").
fn is_determiner_or_title(word: &str) -> bool {
    crate::supersede::is_determiner(word)
        || crate::supersede::is_title(word)
        || matches!(word, "its" | "your" | "this" | "that" | "these" | "those")
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
        let subject = |text: &str| named_subject(&note(text));
        for named in [
            "Acme API needs a token.",
            "The user's team deploys on Fridays.",
            "Initech bills monthly.",
            "Mr. Geoghan had been living in a protective custody unit.",
        ] {
            assert!(subject(named).is_some(), "{named:?}");
        }
        for generic in [
            "A woman is boiling eggs.",
            "The man is a guitar player.",
            "Two boys are playing a video game.",
            "Four people are walking on the beach.",
            "A group of people is on a beach.",
            "Analysts expect a loss of 28 cents a share.",
            "In all, more than 70,000 troops were deployed.",
            "He said it was a mistake.",
            "The technology-laced index was up 5 points.",
        ] {
            assert_eq!(subject(generic), None, "{generic:?}");
        }
        let mut with_field = note("Deploys on Fridays.");
        with_field.subject = Some("release train".into());
        assert!(named_subject(&with_field).is_some());
    }

    #[test]
    fn one_subject_is_the_whole_name_not_its_first_word() {
        let subject = |text: &str| named_subject(&note(text));
        assert_eq!(subject("Acme API needs a token."), subject("Acme API returns JSON errors."));
        assert_eq!(
            subject("Shares of Guidant rose 4 cents."),
            subject("Guidant shares fell 2 cents.")
        );
        assert_ne!(
            subject("Shares of Guidant rose 4 cents."),
            subject("Shares of National Semiconductor rose 4 cents.")
        );
        assert_ne!(
            subject("Associated Press Writer Jane Roe contributed."),
            subject("Associated Press Writer John Doe contributed.")
        );
        assert_ne!(subject("Mr. Geoghan was moved."), subject("Mr. Mask was moved."));
        assert_eq!(subject("The user's editor is vim."), subject("The user's team is small."));
        assert!(!stands_with_others(&note("Who won the 2018 World Cup? France.")));
        assert!(stands_with_others(&note("Acme API: does it page? ")));
    }
}
