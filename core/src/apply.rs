//! Applying a reviewed proposal: accepted changes (some with edited text)
//! make store version N+1, every touched entry gets an audit event, and a
//! store that moved under the proposal is a conflict, never an overwrite.
//! Rolling back makes a new version equal to an old one.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::audit::{AuditAction, AuditEvent};
use crate::entry::{Id, MemoryEntry, Status, Timestamp, MAX_TEXT_BYTES};
use crate::error::{Error, Result};
use crate::proposal::{Change, ChangeKind, Fingerprint, Proposal};
use crate::store::MemoryStore;

/// A reviewer's decision on one change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Accept the change as proposed.
    Accept {
        /// The reviewer's comment, kept as its audit events' note.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// Reject the change.
    Reject {
        /// Why, kept as the audit event's note; None when not given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Accept with the resulting entry's text replaced.
    Edit {
        /// The new text: not blank, at most `MAX_TEXT_BYTES` bytes.
        text: String,
        /// The reviewer's comment, kept as its audit events' note.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
}

/// A reviewer's note on a decision (a comment, or a rejection's reason)
/// is at most this many characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

impl Decision {
    /// Accept, with no comment.
    pub const ACCEPT: Decision = Decision::Accept { comment: None };

    /// An edit to `text`, with no comment.
    pub fn edit(text: impl Into<String>) -> Decision {
        Decision::Edit { text: text.into(), comment: None }
    }

    /// Whether the change is applied: accepted as proposed or edited.
    pub fn applies(&self) -> bool {
        !matches!(self, Decision::Reject { .. })
    }

    /// What the reviewer wrote beside the decision: a comment, or a
    /// rejection's reason.
    pub fn note(&self) -> Option<&str> {
        match self {
            Decision::Accept { comment } | Decision::Edit { comment, .. } => comment.as_deref(),
            Decision::Reject { reason } => reason.as_deref(),
        }
    }

    /// The decision with `note` as its comment (or a rejection's reason).
    pub fn with_note(mut self, note: Option<String>) -> Decision {
        match &mut self {
            Decision::Accept { comment } | Decision::Edit { comment, .. } => *comment = note,
            Decision::Reject { reason } => *reason = note,
        }
        self
    }

    /// The decision with its note trimmed, and dropped when blank; an
    /// error naming the note when it is longer than `MAX_NOTE_CHARS`.
    pub fn tidied(self) -> std::result::Result<Decision, String> {
        let note = self.note().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
        if let Some(n) = note.as_deref().filter(|n| n.chars().count() > MAX_NOTE_CHARS) {
            let what = if matches!(self, Decision::Reject { .. }) { "reason" } else { "comment" };
            return Err(format!(
                "`{what}` holds {} characters; at most {MAX_NOTE_CHARS}",
                n.chars().count()
            ));
        }
        Ok(self.with_note(note))
    }
}

/// A review of a whole proposal: a decision for every change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// Who reviewed; each audit event names them.
    pub actor: String,
    /// When the review was made; each audit event's time.
    pub at: Timestamp,
    /// The decision on each change, by change id; every change needs one.
    pub decisions: BTreeMap<Id, Decision>,
}

impl Review {
    /// Every change accepted as proposed.
    pub fn approve_all(proposal: &Proposal, actor: &str, at: Timestamp) -> Review {
        let decisions = proposal.changes.iter().map(|c| (c.id.clone(), Decision::ACCEPT)).collect();
        Review { actor: actor.to_string(), at, decisions }
    }

    /// Every change rejected, with one reason.
    pub fn reject_all(proposal: &Proposal, actor: &str, at: Timestamp, reason: &str) -> Review {
        let decisions = proposal
            .changes
            .iter()
            .map(|c| (c.id.clone(), Decision::Reject { reason: Some(reason.to_string()) }))
            .collect();
        Review { actor: actor.to_string(), at, decisions }
    }
}

/// What `apply` made of a review.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The next version, or the same store when nothing was accepted.
    pub store: MemoryStore,
    /// Audit events: one per entry changed and one per rejected change.
    pub events: Vec<AuditEvent>,
    /// Ids of the changes accepted, as proposed or edited, in proposal order.
    pub accepted: Vec<Id>,
    /// Ids of the changes rejected, in proposal order.
    pub rejected: Vec<Id>,
}

/// Which changes of a proposal may be applied with no person present (the
/// agent's owner turned the approval gate off), and which wait.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AutoPlan {
    /// Changes that may be applied now.
    pub apply: Vec<Id>,
    /// Each waiting change with the reason it waits.
    pub wait: Vec<(Id, String)>,
}

/// The share of a store's active entries an unattended apply may retire.
pub const AUTO_RETIRE_SHARE: f64 = 0.05;

/// The rule for unattended applies: a change with any risk flag (suspected
/// poisoning, untrusted-only evidence, a shared store, a large deletion,
/// a secret in the new entry) waits for a person. If the remaining changes together would retire more
/// than `max(large_deletion, 5% of the active entries)` entries, every
/// change that retires entries waits too, and only additions apply.
pub fn auto_apply_plan(
    proposal: &Proposal,
    active_entries: usize,
    large_deletion: usize,
) -> AutoPlan {
    let mut plan = AutoPlan::default();
    let (risky, safe): (Vec<&Change>, Vec<&Change>) =
        proposal.changes.iter().partition(|c| c.is_risky());
    for c in risky {
        let flags: Vec<&str> = c.risk.iter().map(|r| r.detail.as_str()).collect();
        plan.wait.push((c.id.clone(), format!("risk flagged: {}", flags.join("; "))));
    }
    let retiring: usize = safe.iter().map(|c| crate::pass::retired_by(c)).sum();
    let limit = large_deletion.max((active_entries as f64 * AUTO_RETIRE_SHARE).floor() as usize);
    for c in safe {
        if retiring > limit && crate::pass::retired_by(c) > 0 {
            let why =
                format!("together the changes retire {retiring} of {active_entries} active entries (limit {limit})");
            plan.wait.push((c.id.clone(), why));
        } else {
            plan.apply.push(c.id.clone());
        }
    }
    plan
}

/// The ids of accepted changes whose target entries differ from what the
/// proposal saw at its base version.
pub fn moved_changes(store: &MemoryStore, proposal: &Proposal, accepted: &[&Change]) -> Vec<Id> {
    let seen = &proposal.base_fingerprints;
    let targets = accepted.iter().flat_map(|c| &c.targets);
    let moved = moved_entries(store, targets.filter_map(|t| seen.get_key_value(t)));
    accepted
        .iter()
        .filter(|c| c.targets.iter().any(|t| !seen.contains_key(t) || moved.contains(t)))
        .map(|c| c.id.clone())
        .collect()
}

/// Of the entries `seen` as a proposal saw them (id and fingerprint), those
/// that differ in `store` now or are gone from it: one pass over the
/// store, holding only the entries asked about.
pub fn moved_entries<'a>(
    store: &MemoryStore,
    seen: impl IntoIterator<Item = (&'a Id, &'a Fingerprint)>,
) -> HashSet<&'a Id> {
    let mut same: HashMap<&Id, (&Fingerprint, bool)> =
        seen.into_iter().map(|(id, print)| (id, (print, false))).collect();
    if !same.is_empty() {
        for e in &store.entries {
            if let Some((print, same)) = same.get_mut(&e.id) {
                *same = Fingerprint::of(e) == **print;
            }
        }
    }
    same.into_iter().filter(|(_, (_, same))| !same).map(|(id, _)| id).collect()
}

/// Applies a review, making the next version of the store. Fails when the
/// proposal is for another store, decisions and changes do not match one to
/// one, a change cannot be applied as decided, or the store moved under an
/// accepted change (`Error::Conflict`).
pub fn apply(store: &MemoryStore, proposal: &Proposal, review: &Review) -> Result<Applied> {
    if proposal.store_id != store.id {
        return Err(Error::Review {
            message: format!(
                "proposal {} is for store {}, not {}",
                proposal.id, proposal.store_id, store.id
            ),
        });
    }
    // A set, not `proposal.change` per decision: a proposal of tens of
    // thousands of changes approved whole would be quadratic.
    let known: rustc_hash::FxHashSet<&Id> = proposal.changes.iter().map(|c| &c.id).collect();
    if let Some(id) = review.decisions.keys().find(|id| !known.contains(id)) {
        return Err(Error::UnknownId { kind: "change", id: id.to_string() });
    }
    let missing: Vec<&str> = proposal
        .changes
        .iter()
        .filter(|c| !review.decisions.contains_key(&c.id))
        .map(|c| c.id.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::Review {
            message: format!("no decision for changes {}", missing.join(", ")),
        });
    }
    let accepted: Vec<&Change> =
        proposal.changes.iter().filter(|c| review.decisions[&c.id].applies()).collect();
    if store.version != proposal.base_version {
        let moved = moved_changes(store, proposal, &accepted);
        if !moved.is_empty() {
            return Err(Error::Conflict {
                base_version: proposal.base_version,
                current_version: store.version,
                changes: moved.iter().map(Id::to_string).collect(),
            });
        }
    }

    let version = if accepted.is_empty() { store.version } else { store.version + 1 };
    let mut next = store.clone();
    next.version = version;
    let index: HashMap<Id, usize> =
        next.entries.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
    let mut w = Writer {
        store: next,
        index,
        events: Vec::new(),
        review,
        proposal_id: &proposal.id,
        version,
    };
    let mut accepted_ids = Vec::new();
    let mut rejected_ids = Vec::new();

    for change in &proposal.changes {
        let result = match &review.decisions[&change.id] {
            Decision::Reject { reason } => {
                rejected_ids.push(change.id.clone());
                w.log(AuditAction::RejectChange, change, None, None, None, reason.clone());
                continue;
            }
            Decision::Accept { .. } => change.result.clone(),
            Decision::Edit { text, .. } => {
                let Some(mut r) = change.result.clone() else {
                    return Err(Error::Review {
                        message: format!("change {} is a prune: it has no text to edit", change.id),
                    });
                };
                if text.trim().is_empty() || text.len() > MAX_TEXT_BYTES {
                    return Err(Error::invalid(
                        format!("decisions[{}].text", change.id),
                        format!("must be 1 to {MAX_TEXT_BYTES} bytes of text"),
                    ));
                }
                r.text = text.clone();
                Some(r)
            }
        };
        accepted_ids.push(change.id.clone());
        for t in &change.targets {
            match w.index.get(t).map(|&i| &w.store.entries[i]) {
                None => return Err(Error::UnknownId { kind: "entry", id: t.to_string() }),
                Some(e) if !e.is_active() => {
                    return Err(Error::Review {
                        message: format!(
                            "change {} targets entry {t}, which is no longer active",
                            change.id
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        match change.kind {
            ChangeKind::Prune => {
                for t in &change.targets {
                    w.retire(change, t, Status::Pruned { reason: change.justification.clone() });
                }
            }
            ChangeKind::Merge => {
                let r = needs_result(change, result)?;
                if !change.targets.contains(&r.id) {
                    return Err(Error::Review {
                        message: format!("merge {} must keep one of its entries", change.id),
                    });
                }
                let survivor = r.id.clone();
                w.upsert(change, r);
                for t in change.targets.iter().filter(|t| **t != survivor) {
                    w.retire(change, t, Status::Merged { merged_into: survivor.clone() });
                }
            }
            ChangeKind::Consolidate => {
                let r = needs_result(change, result)?;
                if w.index.contains_key(&r.id) {
                    return Err(Error::DuplicateId { kind: "entry", id: r.id.to_string() });
                }
                let into = r.id.clone();
                w.upsert(change, r);
                for t in &change.targets {
                    w.retire(change, t, Status::Merged { merged_into: into.clone() });
                }
            }
            ChangeKind::Supersede => {
                let r = needs_result(change, result)?;
                let (by, until) = (r.id.clone(), r.observed());
                if change.targets.contains(&by) {
                    return Err(Error::Review {
                        message: format!(
                            "supersede {} names its own target as successor",
                            change.id
                        ),
                    });
                }
                // The successor may already be in the store (unchanged) or be
                // new, e.g. learnt from a transcript.
                w.upsert(change, r);
                for t in &change.targets {
                    w.retire(
                        change,
                        t,
                        Status::Superseded { superseded_by: by.clone(), valid_until: until },
                    );
                }
            }
            ChangeKind::Add | ChangeKind::Promote => {
                let r = needs_result(change, result)?;
                w.upsert(change, r);
            }
            ChangeKind::Edit => {
                let r = needs_result(change, result)?;
                if change.targets != [r.id.clone()] {
                    return Err(Error::Review {
                        message: format!("edit {} must rewrite exactly its target", change.id),
                    });
                }
                w.upsert(change, r);
            }
        }
    }
    w.store.validate()?;
    Ok(Applied { store: w.store, events: w.events, accepted: accepted_ids, rejected: rejected_ids })
}

/// The store being written, with an audit event for every entry touched.
struct Writer<'a> {
    store: MemoryStore,
    index: HashMap<Id, usize>,
    events: Vec<AuditEvent>,
    review: &'a Review,
    proposal_id: &'a Id,
    version: u64,
}

impl Writer<'_> {
    fn log(
        &mut self,
        action: AuditAction,
        change: &Change,
        entry_id: Option<&Id>,
        before: Option<MemoryEntry>,
        after: Option<MemoryEntry>,
        note: Option<String>,
    ) {
        // An applied change's events carry the reviewer's comment.
        let note = note.or_else(|| {
            self.review.decisions.get(&change.id).and_then(Decision::note).map(str::to_string)
        });
        self.events.push(AuditEvent {
            at: self.review.at,
            actor: self.review.actor.clone(),
            action,
            store_id: self.store.id.clone(),
            store_version: self.version,
            proposal_id: Some(self.proposal_id.clone()),
            change_id: Some(change.id.clone()),
            entry_id: entry_id.cloned(),
            before,
            after,
            note,
        });
    }

    fn retire(&mut self, change: &Change, id: &Id, status: Status) {
        let i = self.index[id];
        let before = self.store.entries[i].clone();
        self.store.entries[i].status = status;
        let after = self.store.entries[i].clone();
        self.log(AuditAction::ApplyChange, change, Some(id), Some(before), Some(after), None);
    }

    /// Inserts `entry`, or replaces the entry with its id.
    fn upsert(&mut self, change: &Change, entry: MemoryEntry) {
        let before = match self.index.get(&entry.id) {
            Some(&i) => Some(std::mem::replace(&mut self.store.entries[i], entry.clone())),
            None => {
                self.index.insert(entry.id.clone(), self.store.entries.len());
                self.store.entries.push(entry.clone());
                None
            }
        };
        if before.as_ref() != Some(&entry) {
            let id = entry.id.clone();
            self.log(AuditAction::ApplyChange, change, Some(&id), before, Some(entry), None);
        }
    }
}

fn needs_result(change: &Change, result: Option<MemoryEntry>) -> Result<MemoryEntry> {
    let r = result.ok_or_else(|| Error::Review {
        message: format!("{} change {} has no resulting entry", change.kind.as_str(), change.id),
    })?;
    r.validate()?;
    Ok(r)
}

/// The events that undo one applied change of a proposal: for each entry
/// it touched, `(id, as it is now, as it was before the change)` (`None`
/// now for an entry gone since, and before for one the change added, which
/// the revert removes), recorded as a rollback of version `version` that
/// names the proposal and the change, with `note`. Entries already as they
/// were make none.
#[allow(clippy::too_many_arguments)]
pub fn revert_change(
    store_id: &Id,
    version: u64,
    entries: Vec<(Id, Option<MemoryEntry>, Option<MemoryEntry>)>,
    actor: &str,
    at: Timestamp,
    proposal_id: &Id,
    change_id: &Id,
    note: &str,
) -> Vec<AuditEvent> {
    entries
        .into_iter()
        .filter(|(_, now, before)| now != before)
        .map(|(id, now, before)| AuditEvent {
            at,
            actor: actor.to_string(),
            action: AuditAction::Rollback,
            store_id: store_id.clone(),
            store_version: version,
            proposal_id: Some(proposal_id.clone()),
            change_id: Some(change_id.clone()),
            entry_id: Some(id),
            before: now,
            after: before,
            note: Some(note.to_string()),
        })
        .collect()
}

/// A new version of `current` whose entries equal `target`'s: history is
/// never destroyed, so rolling back is itself a new version. Every entry
/// that differs gets an audit event.
pub fn rollback(
    current: &MemoryStore,
    target: &MemoryStore,
    actor: &str,
    at: Timestamp,
) -> Result<(MemoryStore, Vec<AuditEvent>)> {
    if current.id != target.id {
        return Err(Error::Review {
            message: format!("cannot roll store {} back to a version of {}", current.id, target.id),
        });
    }
    if target.version >= current.version {
        return Err(Error::invalid(
            "version",
            format!(
                "{} is not earlier than the current version {}",
                target.version, current.version
            ),
        ));
    }
    let mut next = target.clone();
    next.version = current.version + 1;
    let before: HashMap<&Id, &MemoryEntry> = current.entries.iter().map(|e| (&e.id, e)).collect();
    let after: HashMap<&Id, &MemoryEntry> = target.entries.iter().map(|e| (&e.id, e)).collect();
    let mut ids: Vec<&Id> = before.keys().chain(after.keys()).copied().collect();
    ids.sort();
    ids.dedup();
    let note = Some(format!("rolled back to version {}", target.version));
    let events = ids
        .into_iter()
        .filter(|id| before.get(id) != after.get(id))
        .map(|id| AuditEvent {
            at,
            actor: actor.to_string(),
            action: AuditAction::Rollback,
            store_id: current.id.clone(),
            store_version: next.version,
            proposal_id: None,
            change_id: None,
            entry_id: Some(id.clone()),
            before: before.get(id).map(|e| (*e).clone()),
            after: after.get(id).map(|e| (*e).clone()),
            note: note.clone(),
        })
        .collect();
    Ok((next, events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pass::{run_pass, PassConfig, PassInput};
    use crate::review::ReviewHistory;
    use crate::store::Scope;

    const DAY: i64 = Timestamp::DAY;

    fn store() -> MemoryStore {
        let e = |id: &str, text: &str, day: i64| {
            let mut e = MemoryEntry::new(
                Id::new(id).unwrap(),
                text,
                crate::entry::EntryKind::Fact,
                Timestamp(day * DAY),
            );
            e.observed_at = Some(e.created_at);
            e
        };
        MemoryStore {
            id: Id::new("s").unwrap(),
            version: 7,
            scope: Scope::Private { agent_id: Id::new("a").unwrap() },
            entries: vec![
                e("m1", "The user prefers dark mode in the editor.", 1),
                e("m2", "User preferred dark mode in editors", 2),
                e("m3", "The user's shell is bash.", 3),
                e("m4", "The user's shell is fish.", 9),
                e("m5", "Lunch with Dana tomorrow at noon", 10),
            ],
        }
    }

    fn proposal(store: &MemoryStore) -> Proposal {
        let history = ReviewHistory::default();
        let input = PassInput::new(store, &[], &history);
        run_pass(&input, &PassConfig::recommended(Id::new("p1").unwrap(), Timestamp(100 * DAY)))
            .unwrap()
            .proposal
    }

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    fn render(store: &MemoryStore) -> String {
        store
            .entries
            .iter()
            .map(|e| {
                let status = match &e.status {
                    Status::Active => "active".to_string(),
                    Status::Superseded { superseded_by, .. } => {
                        format!("superseded by {superseded_by}")
                    }
                    Status::Merged { merged_into } => format!("merged into {merged_into}"),
                    Status::Pruned { .. } => "pruned".to_string(),
                };
                format!("{} {status}: {}\n", e.id, e.text)
            })
            .collect()
    }

    #[test]
    fn approving_everything_makes_the_next_version() {
        let s = store();
        let p = proposal(&s);
        let applied =
            apply(&s, &p, &Review::approve_all(&p, "user:alice", Timestamp(101 * DAY))).unwrap();
        assert_eq!(applied.store.version, 8);
        assert_eq!(
            render(&applied.store),
            "\
m1 merged into m2: The user prefers dark mode in the editor.
m2 active: User preferred dark mode in editors
m3 superseded by m4: The user's shell is bash.
m4 active: The user's shell is fish.
m5 pruned: Lunch with Dana tomorrow at noon
"
        );
        assert!(applied.events.iter().all(|e| e.actor == "user:alice" && e.store_version == 8));
        // m1, m3 and m5; m2, the newer wording, is kept as it was.
        assert_eq!(applied.events.len(), 3, "{:#?}", applied.events);
    }

    #[test]
    fn partial_accept_with_an_edit() {
        let s = store();
        let p = proposal(&s);
        let merge = p.changes.iter().find(|c| c.kind == ChangeKind::Merge).unwrap().id.clone();
        let mut review = Review::reject_all(&p, "user:bob", Timestamp(101 * DAY), "not now");
        let said = |n: usize| {
            Decision::edit("User prefers dark mode everywhere.")
                .with_note(Some(format!("  {}  ", "é".repeat(n))))
                .tidied()
        };
        let edit = said(MAX_NOTE_CHARS).unwrap();
        let note = edit.note().unwrap().to_string();
        assert_eq!(note, "é".repeat(MAX_NOTE_CHARS), "trimmed, counted in characters");
        assert_eq!(
            said(MAX_NOTE_CHARS + 1),
            Err("`comment` holds 2001 characters; at most 2000".to_string())
        );
        review.decisions.insert(merge.clone(), edit);
        let applied = apply(&s, &p, &review).unwrap();
        assert_eq!(
            render(&applied.store),
            "\
m1 merged into m2: The user prefers dark mode in the editor.
m2 active: User prefers dark mode everywhere.
m3 active: The user's shell is bash.
m4 active: The user's shell is fish.
m5 active: Lunch with Dana tomorrow at noon
"
        );
        assert_eq!(applied.rejected.len(), 2);
        let rejections: Vec<_> =
            applied.events.iter().filter(|e| e.action == AuditAction::RejectChange).collect();
        assert_eq!(rejections.len(), 2);
        assert_eq!(rejections[0].note.as_deref(), Some("not now"));
        // The comment is the note of each event the edited merge makes.
        let merged: Vec<_> =
            applied.events.iter().filter(|e| e.change_id.as_ref() == Some(&merge)).collect();
        assert_eq!(merged.len(), 2);
        assert!(merged.iter().all(|e| e.note.as_deref() == Some(note.as_str())));
        // A blank note is none.
        assert_eq!(Decision::ACCEPT.with_note(Some(" \n ".into())).tidied(), Ok(Decision::ACCEPT));
    }

    #[test]
    fn rejecting_everything_keeps_the_version() {
        let s = store();
        let p = proposal(&s);
        let applied = apply(
            &s,
            &p,
            &Review::reject_all(&p, "user:bob", Timestamp(101 * DAY), "too aggressive"),
        )
        .unwrap();
        assert_eq!(applied.store, s);
    }

    #[test]
    fn a_moved_store_is_a_conflict_naming_the_changes() {
        let s = store();
        let p = proposal(&s);
        let mut moved = s.clone();
        moved.version = 8;
        moved.entries[2].text = "The user's shell is zsh.".into();
        let err = apply(&moved, &p, &Review::approve_all(&p, "u", Timestamp(0))).unwrap_err();
        let supersede =
            p.changes.iter().find(|c| c.kind == ChangeKind::Supersede).unwrap().id.to_string();
        assert_eq!(
            err,
            Error::Conflict { base_version: 7, current_version: 8, changes: vec![supersede] }
        );

        // A store that moved elsewhere still takes the proposal.
        let mut elsewhere = s.clone();
        elsewhere.version = 8;
        elsewhere.entries.push(MemoryEntry::new(
            id("m9"),
            "Unrelated",
            crate::entry::EntryKind::Note,
            Timestamp(0),
        ));
        assert_eq!(
            apply(&elsewhere, &p, &Review::approve_all(&p, "u", Timestamp(0)))
                .unwrap()
                .store
                .version,
            9
        );
    }

    #[test]
    fn reviews_must_fit_the_proposal() {
        let s = store();
        let p = proposal(&s);
        let mut review = Review::approve_all(&p, "u", Timestamp(0));
        review.decisions.insert(id("c9999"), Decision::ACCEPT);
        assert_eq!(
            apply(&s, &p, &review).unwrap_err(),
            Error::UnknownId { kind: "change", id: "c9999".into() }
        );
        let mut review = Review::approve_all(&p, "u", Timestamp(0));
        review.decisions.pop_first();
        assert!(matches!(apply(&s, &p, &review), Err(Error::Review { .. })));
        let prune = p.changes.iter().find(|c| c.kind == ChangeKind::Prune).unwrap().id.clone();
        let mut review = Review::approve_all(&p, "u", Timestamp(0));
        review.decisions.insert(prune, Decision::edit("x"));
        assert!(matches!(apply(&s, &p, &review), Err(Error::Review { .. })));
    }

    #[test]
    fn apply_then_rollback_restores_the_store_byte_for_byte() {
        // Whole and partial reviews: odd seeds accept, reject or edit each
        // change at random.
        let mut edits_seen = 0;
        for seed in 0..30 {
            let s = crate::synth::generate(200, seed).store;
            let p = proposal(&s);
            let mut review = Review::approve_all(&p, "u", Timestamp(0));
            if seed % 2 == 1 {
                let mut rng = crate::rng::Rng::new(seed);
                for c in &p.changes {
                    let decision = match rng.below(3) {
                        0 => Decision::Reject { reason: None },
                        1 if c.result.is_some() => Decision::edit(format!("Edited {}.", c.id)),
                        _ => Decision::ACCEPT,
                    };
                    review.decisions.insert(c.id.clone(), decision);
                }
            }
            let applied = apply(&s, &p, &review).unwrap();
            let edited = applied.store.active().filter(|e| e.text.starts_with("Edited c")).count();
            let edits =
                review.decisions.values().filter(|d| matches!(d, Decision::Edit { .. })).count();
            assert_eq!(edited, edits, "seed {seed}");
            edits_seen += edits;
            let (restored, events) = rollback(&applied.store, &s, "u", Timestamp(1)).unwrap();
            assert_eq!(restored.version, applied.store.version + 1);
            assert_eq!(
                serde_json::to_vec(&restored.entries).unwrap(),
                serde_json::to_vec(&s.entries).unwrap(),
                "seed {seed}"
            );
            let touched: std::collections::BTreeSet<&Id> =
                applied.events.iter().filter_map(|e| e.entry_id.as_ref()).collect();
            let reverted: std::collections::BTreeSet<&Id> =
                events.iter().filter_map(|e| e.entry_id.as_ref()).collect();
            assert_eq!(touched, reverted, "seed {seed}");
        }
        assert!(edits_seen > 20, "{edits_seen} edits");
    }

    #[test]
    fn unattended_applies_hold_back_risky_changes_and_large_deletions() {
        let s = store();
        let mut p = proposal(&s);
        let kinds = |p: &Proposal, ids: &[Id]| {
            ids.iter().map(|i| p.change(i).unwrap().kind.as_str()).collect::<Vec<_>>().join(" ")
        };
        // Merge, supersede and prune retire one entry each: three of five,
        // within a limit of max(10, 5%) but over a limit of max(2, 5%).
        let plan = auto_apply_plan(&p, 5, 10);
        assert_eq!(kinds(&p, &plan.apply), "supersede merge prune");
        assert!(plan.wait.is_empty());
        let plan = auto_apply_plan(&p, 5, 2);
        assert!(plan.apply.is_empty());
        assert_eq!(plan.wait.len(), 3);
        assert!(
            plan.wait[0].1.contains("retire 3 of 5 active entries (limit 2)"),
            "{:?}",
            plan.wait
        );

        p.changes[0].risk.push(crate::proposal::RiskFlag {
            kind: crate::proposal::RiskKind::PoisoningSuspected,
            detail: "instruction-like text from a tool".into(),
        });
        let plan = auto_apply_plan(&p, 5, 10);
        assert_eq!(kinds(&p, &plan.apply), "merge prune");
        assert_eq!(
            plan.wait,
            vec![(
                p.changes[0].id.clone(),
                "risk flagged: instruction-like text from a tool".into()
            )]
        );

        // What waits is reviewed later as a proposal of its own, against
        // the version the unattended part made.
        let first = p.subset(|c| plan.apply.contains(&c.id));
        let applied =
            apply(&s, &first, &Review::approve_all(&first, "auto", Timestamp(0))).unwrap();
        let rest = p.subset(|c| !plan.apply.contains(&c.id));
        assert_eq!(rest.base_fingerprints.len(), 1, "the superseded entry");
        let done =
            apply(&applied.store, &rest, &Review::approve_all(&rest, "user:alice", Timestamp(1)))
                .unwrap();
        assert_eq!(done.store.version, 9);
        assert_eq!(done.store.active().count(), 2);
    }
}
