//! The review of a proposal: which change is selected, the decisions a
//! reviewer has made on this device (the draft), what the keyboard does,
//! what a submission carries, and how a conflict is set aside.

use std::collections::BTreeMap;

use reverie_api::ChangeView;
use reverie_core::apply::Decision;
use serde::{Deserialize, Serialize};

/// Decisions in progress on one proposal, by change id.
pub type Draft = BTreeMap<String, Decision>;

/// What happens to the changes a submission does not name: the
/// contract's word.
pub use reverie_api::ProposalRest as Rest;

/// Where a submission stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Not yet accepted by the service (offline, or not tried yet).
    Waiting,
    /// The store moved under the proposal: these changes touch moved
    /// entries and need another look.
    Conflict {
        /// The changes to look at again.
        changes: Vec<String>,
        /// The service's words.
        message: String,
    },
    /// Refused for another reason (e.g. decided by someone else already).
    Refused {
        /// The service's words.
        message: String,
    },
}

/// Decisions on one proposal on their way to the service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The proposal.
    pub proposal_id: String,
    /// The decisions named one by one.
    pub decisions: Draft,
    /// What happens to the changes not named.
    pub rest: Rest,
    /// The reason given for rejecting the rest, if any.
    pub reason: Option<String>,
    /// Where it stands.
    #[serde(flatten)]
    pub state: State,
}

/// What a key does on the review screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// j, ↓: the next change.
    Next,
    /// k, ↑: the previous change.
    Previous,
    /// a: accept the selected change and move on.
    Accept,
    /// r: reject the selected change and move on.
    Reject,
    /// e: edit the selected change's text.
    Edit,
    /// ?: show or hide the keys.
    Help,
}

impl Key {
    /// The action of a key (`KeyboardEvent.key`), if it has one.
    pub fn of(key: &str) -> Option<Key> {
        Some(match key {
            "j" | "ArrowDown" => Key::Next,
            "k" | "ArrowUp" => Key::Previous,
            "a" => Key::Accept,
            "r" => Key::Reject,
            "e" => Key::Edit,
            "?" => Key::Help,
            _ => return None,
        })
    }
}

/// One proposal under review: its changes as the service showed them, and
/// whether this reviewer may decide.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    /// Per change: its id, the service's decision (once made), and the
    /// text of its result (what an edit starts from).
    changes: Vec<(String, Option<Decision>, Option<String>)>,
    /// The proposal is open and the reviewer may decide.
    open: bool,
}

impl Review {
    /// The review of `changes`; `open` when the proposal takes decisions
    /// and the reviewer may make them.
    pub fn new(changes: &[ChangeView], open: bool) -> Review {
        let changes = changes
            .iter()
            .map(|c| {
                let result = c.change.result.as_ref().map(|r| r.text.clone());
                (c.change.id.to_string(), c.decision.clone(), result)
            })
            .collect();
        Review { changes, open }
    }

    /// The change a selection of `i` lands on: the last when past the end.
    pub fn clamp(&self, i: usize) -> Option<usize> {
        (!self.changes.is_empty()).then(|| i.min(self.changes.len() - 1))
    }

    /// The decision shown for change `i`: the service's (`true`), else the
    /// draft's (`false`).
    pub fn decision_of(&self, draft: &Draft, i: usize) -> Option<(Decision, bool)> {
        let (id, decided, _) = self.changes.get(i)?;
        if let Some(d) = decided {
            return Some((d.clone(), true));
        }
        draft.get(id).cloned().map(|d| (d, false))
    }

    /// Records (or with `None` withdraws) a decision on change `i` in the
    /// draft. Nothing changes when the review is closed or the service
    /// decided the change already; returns whether the draft changed.
    pub fn decide(&self, draft: &mut Draft, i: usize, decision: Option<Decision>) -> bool {
        if !self.open {
            return false;
        }
        let Some((id, None, _)) = self.changes.get(i) else { return false };
        match decision {
            Some(d) => draft.insert(id.clone(), d.clone()).as_ref() != Some(&d),
            None => draft.remove(id).is_some(),
        }
    }

    /// The text an edit of change `i` starts from: an earlier edit, else
    /// the change's result; `None` when it cannot be edited.
    pub fn edit_text(&self, draft: &Draft, i: usize) -> Option<String> {
        let (id, decided, result) = self.changes.get(i)?;
        if !self.open || decided.is_some() {
            return None;
        }
        if let Some(Decision::Edit { text }) = draft.get(id) {
            return Some(text.clone());
        }
        result.clone()
    }

    /// The changes the service has no decision on.
    pub fn pending_ids(&self) -> Vec<String> {
        self.changes.iter().filter(|c| c.1.is_none()).map(|c| c.0.clone()).collect()
    }

    /// Sets a conflict aside: the conflicting changes leave the draft (and
    /// stay pending, to be looked at again); the others are decided as
    /// before: after "approve all" (`was_all`), each is accepted.
    pub fn set_aside(&self, draft: &mut Draft, conflicts: &[String], was_all: bool) {
        if was_all {
            *draft = self.pending_ids().into_iter().map(|id| (id, Decision::Accept)).collect();
        }
        for id in conflicts {
            draft.remove(id);
        }
    }
}

impl Submission {
    /// A new submission, waiting to be sent.
    pub fn new(proposal_id: &str, decisions: Draft, rest: Rest, reason: Option<String>) -> Self {
        Submission {
            proposal_id: proposal_id.to_string(),
            decisions,
            rest,
            reason,
            state: State::Waiting,
        }
    }

    /// Whether it approves every pending change at once.
    pub fn is_approve_all(&self) -> bool {
        self.decisions.is_empty() && self.rest == Rest::Accept
    }
}

#[cfg(test)]
mod tests;
