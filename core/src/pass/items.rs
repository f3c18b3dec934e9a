//! The table every stage reads: one 64-byte row per active entry and
//! transcript statement, with what only one rule reads in columns of its
//! own.

use std::num::NonZeroU64;

use crate::dedup::FeatureTable;
use crate::entry::{EntryKind, MemoryEntry, Timestamp, Trust};
use crate::learn::Statement;
use crate::supersede::{answer_claim, claim_of, subject_of_text, Claim, ClaimRef};
use crate::text::{Features, FeaturesRef, Span};

/// A hash as a column keeps it: eight bytes, not sixteen. A hash of 0
/// (odds 2^-64) is read as 1, one more way two hashes may collide.
pub(super) fn hash_key(hash: u64) -> NonZeroU64 {
    NonZeroU64::new(hash).unwrap_or(NonZeroU64::MIN)
}

pub(super) const TIME_BOUND: &[&str] =
    &["today", "tomorrow", "tonight", "this week", "next week", "this weekend", "right now"];

/// The heading of a note that starts "Heading: ..." (one to four words
/// before a colon near the start), normalized and hashed.
pub(super) fn topic_of(text: &str) -> Option<u64> {
    // A heading is at most 48 bytes, so only the start of the text is
    // searched for its colon.
    let colon = text.bytes().take(49).position(|b| b == b':')?;
    let (head, rest) = (&text[..colon], &text[colon + 1..]);
    let words = head.split_whitespace().count();
    if !(1..=4).contains(&words) || rest.trim().is_empty() || rest.starts_with("//") {
        return None;
    }
    Some(crate::text::hash_str(&crate::text::normalize(head)))
}

/// The first time-bound phrase in a normalized text, if any, as its place
/// in `TIME_BOUND`.
pub(super) fn time_bound_phrase(normalized: &str) -> Option<u8> {
    let mut previous = "";
    for word in normalized.split_ascii_whitespace() {
        // Every word of every phrase is 3 to 8 letters long.
        if !(3..=8).contains(&word.len()) {
            previous = word;
            continue;
        }
        for (k, phrase) in TIME_BOUND.iter().enumerate() {
            let hit = match phrase.split_once(' ') {
                Some((first, second)) => previous == first && word == second,
                None => word == *phrase,
            };
            if hit {
                return Some(k as u8);
            }
        }
        previous = word;
    }
    None
}

/// One thing the pass reasons about: an active entry, or a statement read
/// from a transcript that may become one.
pub(super) struct Item<'a> {
    pub(super) entry: Option<&'a MemoryEntry>,
    pub(super) statement: Option<&'a Statement>,
    pub(super) kind: EntryKind,
    pub(super) observed: Timestamp,
    pub(super) trust: Trust,
    /// Content words are in `Items::words`.
    pub(super) features: Features<Span>,
}

const _: () = assert!(std::mem::size_of::<Item<'_>>() <= 64, "an item row fits a cache line");
const _: () =
    assert!(std::mem::size_of::<Option<Claim<Span>>>() <= 32, "a claim is half a cache line");

/// Groups or pairs of items `Items::warm_claims` and `warm_entries` load
/// at once.
pub(super) const WARM_BATCH: usize = 8;

/// Every item of a pass, with what only one rule reads kept in columns of
/// its own: the stages that go over every item then move 64 bytes an item.
/// Content words of every item share one array, so reading a million
/// texts makes no allocation per text.
pub(super) struct Items<'a> {
    pub(super) rows: Vec<Item<'a>>,
    pub(super) words: Vec<u64>,
    /// How many rows are the store's active entries (they come first, then
    /// transcript statements).
    pub(super) entries: usize,
    /// Set when `words` outgrew its 32-bit offsets (billions of words).
    pub(super) too_many_words: bool,
    /// What each text claims, when it is one sentence with a slot; the
    /// words of every claim are in `claim_words`.
    pub(super) claims: Vec<Option<Claim<Span>>>,
    pub(super) claim_words: Vec<u64>,
    /// Who or what each text is about, as supersession reads it.
    pub(super) subjects: Vec<Option<NonZeroU64>>,
    /// The time-bound phrase of a one-sentence text ("tomorrow").
    pub(super) time_bounds: Vec<Option<u8>>,
    /// The heading of a note written as "Heading: ...".
    pub(super) topics: Vec<Option<NonZeroU64>>,
}

/// The rows, as a slice: what most rules read.
impl<'a> std::ops::Deref for Items<'a> {
    type Target = [Item<'a>];
    fn deref(&self) -> &[Item<'a>] {
        &self.rows
    }
}

impl FeatureTable for Items<'_> {
    fn count(&self) -> usize {
        self.rows.len()
    }
    fn features(&self, i: usize) -> FeaturesRef<'_> {
        Items::features(self, i)
    }
}

impl<'a> Items<'a> {
    pub(super) fn with_capacity(n: usize) -> Self {
        Items {
            rows: Vec::with_capacity(n),
            words: Vec::with_capacity(n * 8),
            entries: 0,
            too_many_words: false,
            claims: Vec::with_capacity(n),
            claim_words: Vec::new(),
            subjects: Vec::with_capacity(n),
            time_bounds: Vec::with_capacity(n),
            topics: Vec::with_capacity(n),
        }
    }

    /// Item `i`'s features, its content words borrowed.
    pub(super) fn features(&self, i: usize) -> FeaturesRef<'_> {
        let f = &self.rows[i].features;
        f.with_content(&self.words[f.content.range()])
    }

    pub(super) fn content(&self, i: usize) -> &[u64] {
        &self.words[self.rows[i].features.content.range()]
    }

    /// Item `i`'s claim, its words borrowed.
    pub(super) fn claim(&self, i: usize) -> Option<ClaimRef<'_>> {
        self.claims[i].map(|c| c.with_words(&self.claim_words[c.words().range()]))
    }

    /// Loads what supersession compares of each item in `batch`: its row,
    /// claim, subject and first content word. See `warm_entries`.
    pub(super) fn warm_claims(&self, batch: impl Iterator<Item = usize>) {
        let batch: smallvec::SmallVec<[usize; 2 * WARM_BATCH]> = batch.collect();
        let mut sum = 0u64;
        for &i in &batch {
            let claim = self.claims[i].map_or(0, |c| c.subject());
            sum ^= claim
                ^ self.subjects[i].map_or(0, NonZeroU64::get)
                ^ self.rows[i].observed.millis() as u64;
        }
        for &i in &batch {
            let words = self.claims[i].map_or(&[][..], |c| &self.claim_words[c.words().range()]);
            sum ^=
                words.first().copied().unwrap_or(0) ^ self.content(i).first().copied().unwrap_or(0);
        }
        std::hint::black_box(sum);
    }

    /// Loads what building a change reads of each item's entry in `batch`:
    /// its row, every field of the entry, then its id, text and subject, a
    /// level at a time. The loads of a level are independent, so on a store
    /// larger than the cache their waits on memory overlap; item after
    /// item, each would queue behind the last.
    pub(super) fn warm_entries(&self, batch: impl Iterator<Item = usize>) {
        let mut entries: smallvec::SmallVec<[&MemoryEntry; 2 * WARM_BATCH]> =
            smallvec::SmallVec::new();
        entries.extend(batch.filter_map(|i| self.rows[i].entry));
        let mut sum = 0usize;
        for e in &entries {
            sum ^= e.confidence.to_bits() as usize
                ^ e.text.len()
                ^ e.subject.as_ref().map_or(0, String::len)
                ^ e.tags.len()
                ^ e.provenance.sources.len()
                ^ e.observed().millis() as usize
                ^ usize::from(e.is_active());
        }
        let first = |s: &str| usize::from(s.as_bytes().first().copied().unwrap_or(0));
        for e in &entries {
            sum ^= first(&e.text) ^ e.subject.as_deref().map_or(0, first) ^ first(e.id.as_str());
        }
        std::hint::black_box(sum);
    }

    pub(super) fn read_entry(&mut self, buffer: &mut String, e: &'a MemoryEntry) {
        let (subject, observed, trust) = (e.subject.as_deref(), e.observed(), e.provenance.trust);
        self.read(buffer, &e.text, Some(e), None, e.kind, subject, observed, trust);
    }

    /// Reads `text` once into every feature the rules use; `buffer` is
    /// reused across items to hold the normalized text.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn read(
        &mut self,
        buffer: &mut String,
        text: &str,
        entry: Option<&'a MemoryEntry>,
        statement: Option<&'a Statement>,
        kind: EntryKind,
        subject: Option<&'a str>,
        observed: Timestamp,
        trust: Trust,
    ) {
        // The day a relative time was said on is not part of the claim.
        let text = crate::learn::undated(text);
        crate::text::normalize_into(text, buffer);
        // A claim is one sentence: a note of several sentences says more
        // than one thing, and retiring it for one of them would lose the
        // rest. The same holds for a note that mentions "tomorrow".
        let single = crate::sentence::is_single_sentence(text);
        let Some(features) = Features::append_normalized(buffer, &mut self.words) else {
            self.too_many_words = true;
            return;
        };
        let claim = match if single { claim_of(subject, buffer) } else { answer_claim(text) } {
            Some(c) => match Span::append(&mut self.claim_words, c.words()) {
                Some(words) => Some(c.with_words(words)),
                None => {
                    self.too_many_words = true;
                    return;
                }
            },
            None => None,
        };
        self.rows.push(Item { entry, statement, kind, observed, trust, features });
        self.entries += usize::from(entry.is_some());
        self.claims.push(claim);
        self.subjects.push(subject_of_text(subject, buffer).map(hash_key));
        self.time_bounds.push(if single { time_bound_phrase(buffer) } else { None });
        self.topics.push(topic_of(text).map(hash_key));
    }
}
