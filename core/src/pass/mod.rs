//! A consolidation pass, rules only: from a store, the sessions since the
//! last pass and the team's review history to a proposal. Deterministic:
//! the same inputs in any order give the same proposal.
//!
//! `run_pass` reads every active entry and transcript statement once into
//! `items::Items`, then runs the stages in order, one file each, on one
//! `builder::Builder` that records changes (each entry touched by at most
//! one): `supersede`, `merge`, `prune`, `consolidate`, `add`, `promote`.

mod add;
mod builder;
mod consolidate;
mod items;
mod merge;
mod promote;
mod prune;
mod supersede;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use rustc_hash::FxHashSet as HashSet;
use serde::{Deserialize, Serialize};

use crate::entry::{Id, MemoryEntry, Timestamp};
use crate::error::{Error, Result};
use crate::learn::statements;
use crate::proposal::{Change, ChangeKind, Proposal};
use crate::review::ReviewHistory;
use crate::session::Session;
use crate::store::MemoryStore;

use builder::Builder;
use items::Items;

/// Settings of a pass. `recommended` gives the defaults the service uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassConfig {
    /// The id of the proposal made; ids of new entries are made from it.
    pub proposal_id: Id,
    /// When the pass runs: the creation time of new entries, and the moment
    /// staleness is measured from.
    pub now: Timestamp,
    /// Content Jaccard at or above which two entries are duplicates.
    #[serde(default = "defaults::merge_threshold")]
    pub merge_threshold: f32,
    /// Pairs between this and `merge_threshold` are left to the LLM.
    #[serde(default = "defaults::candidate_threshold")]
    pub candidate_threshold: f32,
    /// Related notes at or above this similarity may be consolidated.
    #[serde(default = "defaults::consolidate_threshold")]
    pub consolidate_threshold: f32,
    /// Most entries folded into one consolidated entry.
    #[serde(default = "defaults::max_consolidate")]
    pub max_consolidate: usize,
    /// Sessions a pattern must recur in to be promoted.
    #[serde(default = "defaults::min_pattern_sessions")]
    pub min_pattern_sessions: u32,
    /// Time-bound entries ("tomorrow", "this week") older than this are pruned.
    #[serde(default = "defaults::stale_after_days")]
    pub stale_after_days: i64,
    /// A change retiring this many entries or more is a large deletion.
    #[serde(default = "defaults::large_deletion")]
    pub large_deletion: usize,
    /// Most changes one proposal holds; None for no bound. The changes the
    /// rules find beyond it are left for a later pass (their entries stay
    /// as they are) and counted in the summary's `deferred`: a proposal a
    /// person can review, and a pass that fits a Worker's memory.
    #[serde(default)]
    pub max_changes: Option<usize>,
}

/// The recommended settings, one function per field for serde's defaults.
mod defaults {
    pub fn merge_threshold() -> f32 {
        0.8
    }
    pub fn candidate_threshold() -> f32 {
        0.5
    }
    pub fn consolidate_threshold() -> f32 {
        0.34
    }
    pub fn max_consolidate() -> usize {
        8
    }
    pub fn min_pattern_sessions() -> u32 {
        3
    }
    pub fn stale_after_days() -> i64 {
        14
    }
    pub fn large_deletion() -> usize {
        10
    }
}

impl PassConfig {
    /// The recommended settings; a JSON config may name only `proposal_id`
    /// and `now` and get these.
    pub fn recommended(proposal_id: Id, now: Timestamp) -> Self {
        PassConfig {
            proposal_id,
            now,
            merge_threshold: defaults::merge_threshold(),
            candidate_threshold: defaults::candidate_threshold(),
            consolidate_threshold: defaults::consolidate_threshold(),
            max_consolidate: defaults::max_consolidate(),
            min_pattern_sessions: defaults::min_pattern_sessions(),
            stale_after_days: defaults::stale_after_days(),
            large_deletion: defaults::large_deletion(),
            max_changes: None,
        }
    }

    /// Rejects settings no pass can work with.
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &str, v: f32| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::invalid(format!("config.{name}"), format!("{v} is outside 0..=1")))
            }
        };
        unit("merge_threshold", self.merge_threshold)?;
        unit("candidate_threshold", self.candidate_threshold)?;
        unit("consolidate_threshold", self.consolidate_threshold)?;
        if self.max_consolidate < 2 {
            return Err(Error::invalid("config.max_consolidate", "must be at least 2"));
        }
        if self.min_pattern_sessions < 1 {
            return Err(Error::invalid("config.min_pattern_sessions", "must be at least 1"));
        }
        if self.stale_after_days < 0 {
            return Err(Error::invalid("config.stale_after_days", "must not be negative"));
        }
        if self.max_changes == Some(0) {
            return Err(Error::invalid("config.max_changes", "must be at least 1"));
        }
        Ok(())
    }
}

/// What a pass reads.
pub struct PassInput<'a> {
    /// The store the proposal is for.
    pub store: &'a MemoryStore,
    /// Transcripts since the last pass, in any order; their ids must be unique.
    pub sessions: &'a [Session],
    /// Past review decisions: rejected merges are not proposed again, and
    /// changes below their kind's confidence threshold are held back.
    pub history: &'a ReviewHistory,
    /// Optional embedding per entry id; when both entries of a candidate
    /// pair have one, their cosine joins the score.
    pub embeddings: Option<&'a BTreeMap<Id, Vec<f32>>>,
    /// Changes still waiting for a decision in the store's open proposals.
    /// The entries they target are left to them, and what they would add
    /// (the messages their new entries cite, the patterns they promote)
    /// is not proposed again: a proposal left unreviewed does not come
    /// back in the next one.
    pub open: &'a [Change],
}

impl<'a> PassInput<'a> {
    /// What a pass reads with no embeddings and no open proposals.
    pub fn new(
        store: &'a MemoryStore,
        sessions: &'a [Session],
        history: &'a ReviewHistory,
    ) -> PassInput<'a> {
        PassInput { store, sessions, history, embeddings: None, open: &[] }
    }
}

/// A group the rules could not settle: for the LLM, when one is configured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnsettledGroup {
    /// The entries in question, two or more.
    pub entries: Vec<Id>,
    /// The lowest similarity among the pairs that joined the group.
    pub score: f32,
    /// What the rules suspect.
    #[serde(default)]
    pub question: Question,
}

/// What the rules suspect of an unsettled group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Question {
    /// Alike in wording: one fact, or different ones?
    #[default]
    SameFact,
    /// Claims about one subject's attribute with different values: does
    /// the newer replace the older, or do both hold?
    Supersedes,
}

/// What a pass produces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassOutput {
    /// The proposed changes, for review.
    pub proposal: Proposal,
    /// Groups the rules left open, sorted by their entries.
    pub unsettled: Vec<UnsettledGroup>,
}

/// Runs a pass (see the module comment). Fails on an invalid config, store or
/// session, a session id given twice, or more than 4 billion words in all.
pub fn run_pass(input: &PassInput<'_>, config: &PassConfig) -> Result<PassOutput> {
    config.validate()?;
    // Items are read as validation walks the store, while it is in id
    // order (stores usually are); otherwise they are read from the sorted
    // entries. Canonical order, so results do not depend on input order.
    let mut buffer = String::new();
    let store = input.store;
    let mut items = Items::with_capacity(store.entries.len());
    if !store.validate_visiting(|e| items.read_entry(&mut buffer, e))? {
        let mut entries: Vec<&MemoryEntry> = store.active().collect();
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        items = Items::with_capacity(entries.len());
        for e in entries {
            items.read_entry(&mut buffer, e);
        }
    }
    let mut seen = HashSet::default();
    for s in input.sessions {
        s.validate()?;
        if !seen.insert(&s.id) {
            return Err(Error::DuplicateId { kind: "session", id: s.id.to_string() });
        }
    }
    let mut sessions: Vec<Session> = input.sessions.to_vec();
    if !sessions.is_sorted_by(|a, b| a.id <= b.id) {
        sessions.sort_by(|a, b| a.id.cmp(&b.id));
    }
    let said_statements = statements(&sessions);
    // Statements of one session said at one time (messages without times
    // of their own take the session's start) are a millisecond apart in
    // the order they were said, so that the later one replaces the earlier.
    let mut previous: Option<(&Id, Timestamp)> = None;
    let mut tie = 0;
    for s in &said_statements {
        let at = (&s.said.session_id, s.said.at);
        tie = if previous == Some(at) { tie + 1 } else { 0 };
        previous = Some(at);
        items.read(
            &mut buffer,
            &s.text,
            None,
            Some(s),
            s.kind,
            None,
            Timestamp(s.said.at.0.saturating_add(tie)),
            s.said.trust,
        );
    }
    if items.too_many_words {
        return Err(Error::invalid("store", "holds more than 4 billion words; split it"));
    }
    let mut pass = Builder::new(input, config, &items);
    pass.supersede();
    pass.merge_duplicates();
    pass.prune();
    pass.consolidate();
    pass.add_statements();
    pass.promote_patterns(&sessions);
    Ok(pass.finish())
}

/// Entries a change takes out of the active set.
pub fn retired_by(change: &Change) -> usize {
    match change.kind {
        ChangeKind::Merge => change.targets.len().saturating_sub(1),
        ChangeKind::Supersede | ChangeKind::Prune | ChangeKind::Consolidate => change.targets.len(),
        ChangeKind::Promote | ChangeKind::Add | ChangeKind::Edit => 0,
    }
}
