//! The builder every stage records its changes on: which items are used,
//! the review history's verdicts, risk flags, fingerprints of the targets,
//! and the proposal at the end.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::dedup::{cosine, exact_groups, similar_pairs, Groups};
use crate::entry::{Id, MemoryEntry, MessageRef, Provenance};
use crate::learn::Said;
use crate::proposal::{
    entry_quote, Change, ChangeKind, Evidence, EvidenceSource, Fingerprint, Proposal, RiskFlag,
    RiskKind, Summary, TokenCost,
};
use crate::review::RejectedIndex;
use crate::risk::add_risk_flags;
use crate::session::Session;

use super::items::Items;
use super::{retired_by, PassConfig, PassInput, PassOutput, UnsettledGroup};

pub(super) struct Builder<'a, 'i> {
    pub(super) input: &'a PassInput<'a>,
    pub(super) config: &'a PassConfig,
    pub(super) items: &'i Items<'a>,
    /// The review history's rejected groups, by entry.
    pub(super) rejected: RejectedIndex<'a>,
    /// Items already used by a change: each entry is touched by at most one.
    pub(super) claimed: Vec<bool>,
    /// Entries a change of an open proposal touches: left to it.
    pub(super) open: Vec<bool>,
    /// The new entry created for a transcript statement, once made.
    pub(super) created: HashMap<usize, MemoryEntry>,
    /// Near-duplicate candidates, sorted by `(a, b)`.
    pub(super) pairs: Vec<crate::dedup::SimilarPair>,
    /// Groups of items whose normalized texts are identical, until
    /// `merge_duplicates` uses them up.
    pub(super) exact: Groups,
    pub(super) changes: Vec<Change>,
    /// Fingerprint of every target entry at the base version, hashed while
    /// the entry is at hand and kept by item: items are in id order, so
    /// sorting by item sorts by id without comparing a single string.
    pub(super) fingerprints: Vec<(u32, Id, Fingerprint)>,
    pub(super) sessions: HashMap<&'a Id, &'a Session>,
    /// Transcript messages already read for risk flags.
    messages_read: crate::risk::MessagesRead<'a>,
    pub(super) held_back: u32,
    /// Changes found once the proposal held `max_changes`.
    deferred: u32,
    pub(super) unsettled: Vec<UnsettledGroup>,
    pub(super) next_entry: u32,
}

impl<'a, 'i> Builder<'a, 'i> {
    pub(super) fn new(
        input: &'a PassInput<'a>,
        config: &'a PassConfig,
        items: &'i Items<'a>,
    ) -> Self {
        let min = config.consolidate_threshold.min(config.candidate_threshold);
        // Near duplicates as scored pairs, sorted; exact duplicates as
        // groups: a group of k copies is k - 1 joins, where its pairs would
        // be k(k - 1)/2 (ten thousand copies, fifty million pairs).
        // Embeddings join the score of near duplicates only.
        let mut pairs = similar_pairs(items, min);
        let exact = exact_groups(items);
        if let Some(embeddings) = input.embeddings {
            for p in &mut pairs {
                let (Some(a), Some(b)) = (items[p.a].entry, items[p.b].entry) else { continue };
                if let (Some(va), Some(vb)) = (embeddings.get(&a.id), embeddings.get(&b.id)) {
                    if let Some(c) = cosine(va, vb) {
                        p.score = (p.score + c.max(0.0)) / 2.0;
                    }
                }
            }
        }
        let (open, claimed) = left_to_open_proposals(items, input.open);
        Builder {
            input,
            config,
            items,
            rejected: input.history.rejected_index(),
            claimed,
            open,
            created: HashMap::default(),
            pairs,
            exact,
            changes: Vec::new(),
            fingerprints: Vec::new(),
            sessions: input.sessions.iter().map(|s| (&s.id, s)).collect(),
            messages_read: Default::default(),
            held_back: 0,
            deferred: 0,
            unsettled: Vec::new(),
            next_entry: 0,
        }
    }

    /// Whether item `i` may take part in a new change: no change of this
    /// pass or of an open proposal has it.
    pub(super) fn free(&self, i: usize) -> bool {
        !self.claimed[i] && !self.open[i]
    }

    pub(super) fn new_entry_id(&mut self) -> Id {
        self.next_entry += 1;
        // Proposal ids are at most 128 bytes; keep the suffix inside the limit.
        let base: String = self.config.proposal_id.as_str().chars().take(110).collect();
        Id::new(format!("{base}.e{}", self.next_entry))
            .unwrap_or_else(|_| self.config.proposal_id.clone())
    }

    /// The entry a transcript statement becomes (made once, then reused).
    pub(super) fn entry_for_statement(&mut self, item: usize) -> MemoryEntry {
        if let Some(e) = self.created.get(&item) {
            return e.clone();
        }
        let it = &self.items[item];
        let s = it.statement.expect("statement items carry their statement");
        let text = crate::learn::dated(&s.text, s.said.at);
        let mut e = MemoryEntry::new(self.new_entry_id(), text, s.kind, self.config.now);
        e.subject = Some("user".into());
        e.observed_at = Some(s.said.at);
        e.provenance = Provenance { trust: s.said.trust, sources: vec![message_ref(&s.said)] };
        e.confidence = 0.75;
        self.created.insert(item, e.clone());
        e
    }

    /// Makes room for `n` more changes, so the list of changes (a few
    /// hundred bytes each) is not copied again and again as it grows.
    pub(super) fn reserve(&mut self, n: usize) {
        let room = self.config.max_changes.map_or(n, |m| m.saturating_sub(self.changes.len()));
        self.changes.reserve(n.min(room));
        self.fingerprints.reserve(2 * n.min(room));
    }

    /// Records a change. `involved` are the items whose entries it targets
    /// or quotes: risk flags and base fingerprints come from them, so no
    /// lookup over the whole store is needed.
    pub(super) fn push(&mut self, mut change: Change, involved: &[usize]) {
        if change.confidence < self.input.history.threshold(change.kind) {
            self.held_back += 1;
            return;
        }
        if matches!(change.kind, ChangeKind::Merge | ChangeKind::Consolidate) {
            let ids: smallvec::SmallVec<[&Id; 8]> = change.targets.iter().collect();
            if self.rejected.together(&ids) {
                self.held_back += 1;
                return;
            }
        }
        if self.config.max_changes.is_some_and(|m| self.changes.len() >= m) {
            self.deferred += 1;
            return;
        }
        change.id = crate::proposal::change_id(self.changes.len() + 1);
        let entries: smallvec::SmallVec<[&MemoryEntry; 8]> =
            involved.iter().filter_map(|&i| self.items[i].entry).collect();
        {
            // Sorted, as a merge of ten thousand copies targets ten thousand.
            let mut targets: smallvec::SmallVec<[&Id; 8]> = change.targets.iter().collect();
            targets.sort_unstable();
            for &i in involved {
                if let Some(e) =
                    self.items[i].entry.filter(|e| targets.binary_search(&&e.id).is_ok())
                {
                    self.fingerprints.push((i as u32, e.id.clone(), Fingerprint::of(e)));
                }
            }
        }
        add_risk_flags(
            &mut change,
            &entries,
            self.input.store.scope.is_shared(),
            &self.sessions,
            &mut self.messages_read,
            self.config.large_deletion,
        );
        self.changes.push(change);
    }

    pub(super) fn quote_of(&self, item: usize) -> Evidence {
        let it = &self.items[item];
        match (it.entry, it.statement) {
            (Some(e), _) => entry_quote(e),
            (None, Some(s)) => said_quote(&s.said),
            (None, None) => unreachable!("every item is an entry or a statement"),
        }
    }

    pub(super) fn finish(mut self) -> PassOutput {
        let store = self.input.store;
        let active = self.items.entries;
        let retired: usize = self.changes.iter().map(retired_by).sum();
        let proposal_wide_large = retired >= self.config.large_deletion && retired * 4 > active;
        if proposal_wide_large {
            for change in &mut self.changes {
                let n = retired_by(change);
                if n > 0 {
                    change.risk.push(RiskFlag {
                        kind: RiskKind::ProposalWideDeletion,
                        detail: format!(
                            "retires {n} entries; the proposal retires {retired} of {active} active entries"
                        ),
                    });
                    change.risk.sort_by_key(|r| r.kind);
                }
            }
        }
        self.fingerprints.sort_unstable_by_key(|f| f.0);
        self.fingerprints.dedup_by_key(|f| f.0);
        let base_fingerprints: BTreeMap<Id, Fingerprint> = std::mem::take(&mut self.fingerprints)
            .into_iter()
            .map(|(_, id, fp)| (id, fp))
            .collect();
        let counts = Summary::count(&self.changes);
        self.unsettled.sort_by(|a, b| a.entries.cmp(&b.entries));
        self.unsettled.dedup_by(|a, b| a.entries == b.entries);
        PassOutput {
            proposal: Proposal {
                id: self.config.proposal_id.clone(),
                store_id: store.id.clone(),
                base_version: store.version,
                created_at: self.config.now,
                changes: self.changes,
                token_cost: TokenCost::default(),
                summary: Summary {
                    counts,
                    held_back: self.held_back,
                    dropped_llm_changes: 0,
                    unsettled_groups: self.unsettled.len() as u32,
                    deferred: self.deferred,
                    waiting: u32::try_from(self.input.open.len()).unwrap_or(u32::MAX),
                },
                base_fingerprints,
            },
            unsettled: self.unsettled,
        }
    }
}

pub(super) fn union_sources(entries: &[&MemoryEntry]) -> Vec<MessageRef> {
    let set: BTreeSet<MessageRef> =
        entries.iter().flat_map(|e| e.provenance.sources.iter().cloned()).collect();
    set.into_iter().collect()
}

pub(super) fn union_tags(entries: &[&MemoryEntry]) -> Vec<String> {
    let set: BTreeSet<String> = entries.iter().flat_map(|e| e.tags.iter().cloned()).collect();
    set.into_iter().collect()
}

pub(super) fn said_quote(s: &Said) -> Evidence {
    Evidence {
        quote: s.quote.clone(),
        source: EvidenceSource::Message {
            session_id: s.session_id.clone(),
            message_index: s.message_index,
        },
    }
}

pub(super) fn message_ref(s: &Said) -> MessageRef {
    MessageRef { session_id: s.session_id.clone(), message_index: s.message_index }
}

/// The id of a change not yet numbered: `Builder::push` numbers it.
pub(super) fn placeholder_id() -> Id {
    Id::unassigned()
}

/// Of the items, the entries the `open` changes target or keep, and the
/// transcript statements their new entries cite (already proposed, so
/// claimed from the start).
fn left_to_open_proposals(items: &Items<'_>, open: &[Change]) -> (Vec<bool>, Vec<bool>) {
    let mut touched = vec![false; items.len()];
    let mut claimed = vec![false; items.len()];
    if open.is_empty() {
        return (touched, claimed);
    }
    let stored = &items[..items.entries];
    for change in open {
        for id in change.targets.iter().chain(change.result.as_ref().map(|r| &r.id)) {
            if let Ok(i) = stored.binary_search_by(|item| {
                item.entry.map_or(std::cmp::Ordering::Less, |e| e.id.cmp(id))
            }) {
                touched[i] = true;
            }
        }
    }
    let cited: HashSet<(&Id, u32)> = open
        .iter()
        .filter_map(|c| c.result.as_ref())
        .flat_map(|r| r.provenance.sources.iter().map(|s| (&s.session_id, s.message_index)))
        .collect();
    for i in items.entries..items.len() {
        if let Some(s) = items[i].statement {
            claimed[i] = cited.contains(&(&s.said.session_id, s.said.message_index));
        }
    }
    (touched, claimed)
}
