//! The review of a proposal: which change is selected, the decisions a
//! reviewer has made on this device (the draft), what the keyboard does,
//! what a submission carries, and how a conflict is set aside.

use std::collections::BTreeMap;

use reverie_api::ChangeView;
use reverie_core::apply::Decision;
use reverie_core::diff::DiffTag;
use reverie_core::{ChangeKind, RiskKind};
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
    /// n: the next change with no decision yet.
    NextUndecided,
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
            "n" => Key::NextUndecided,
            "?" => Key::Help,
            _ => return None,
        })
    }
}

/// One proposal under review: its changes as the service showed them, and
/// whether this reviewer may decide.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    changes: Vec<Row>,
    /// The proposal is open and the reviewer may decide.
    open: bool,
}

/// What the review keeps of a change.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    id: String,
    kind: ChangeKind,
    /// The service's decision, once made.
    decided: Option<Decision>,
    /// The text of its result: what an edit starts from.
    result: Option<String>,
    /// A risk flag of its own: decided by itself, never in bulk.
    flagged: bool,
    /// Its result's and targets' texts, lowercased, for search.
    text: String,
}

/// Which changes the list shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    /// Only changes of this kind.
    pub kind: Option<ChangeKind>,
    /// Only changes with (`Some(true)`) or without a flag of their own.
    pub flagged: Option<bool>,
    /// Only changes decided (`Some(true)`, here or by the service) or not.
    pub decided: Option<bool>,
    /// Only changes whose texts hold these words, in any case.
    pub search: String,
}

impl Filter {
    /// Whether it lets every change through.
    pub fn is_empty(&self) -> bool {
        self.kind.is_none()
            && self.flagged.is_none()
            && self.decided.is_none()
            && self.search.trim().is_empty()
    }
}

/// The change j (`forward`) or k lands on from change `from`, among
/// `shown` (a filter's changes, in order): the next or previous one shown,
/// else the last or first; `None` when none is shown.
pub fn step(shown: &[usize], from: usize, forward: bool) -> Option<usize> {
    if forward {
        shown.iter().copied().find(|&i| i > from).or(shown.last().copied())
    } else {
        shown.iter().rev().copied().find(|&i| i < from).or(shown.first().copied())
    }
}

/// The pending changes a bulk decision would take, as its confirmation
/// shows them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bulk {
    /// Pending changes, by kind, in the kinds' order.
    pub by_kind: Vec<(ChangeKind, usize)>,
    /// Pending changes in all.
    pub pending: usize,
    /// The pending changes with a flag of their own, by place in the list:
    /// "approve" leaves them for their own decisions.
    pub flagged: Vec<usize>,
}

impl Bulk {
    /// How many changes "approve" accepts.
    pub fn approvable(&self) -> usize {
        self.pending - self.flagged.len()
    }
}

impl Review {
    /// The review of `changes`; `open` when the proposal takes decisions
    /// and the reviewer may make them.
    pub fn new(changes: &[ChangeView], open: bool) -> Review {
        let changes = changes
            .iter()
            .map(|c| Row {
                id: c.change.id.to_string(),
                kind: c.change.kind,
                decided: c.decision.clone(),
                result: c.change.result.as_ref().map(|r| r.text.clone()),
                flagged: c.change.needs_own_decision(),
                text: c
                    .change
                    .result
                    .iter()
                    .map(|r| r.text.as_str())
                    .chain(c.before.iter().map(|e| e.text.as_str()))
                    .collect::<Vec<_>>()
                    .join("\n")
                    .to_lowercase(),
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
        let row = self.changes.get(i)?;
        if let Some(d) = &row.decided {
            return Some((d.clone(), true));
        }
        draft.get(&row.id).cloned().map(|d| (d, false))
    }

    /// Records (or with `None` withdraws) a decision on change `i` in the
    /// draft. Nothing changes when the review is closed or the service
    /// decided the change already; returns whether the draft changed.
    pub fn decide(&self, draft: &mut Draft, i: usize, decision: Option<Decision>) -> bool {
        if !self.open {
            return false;
        }
        let Some(row) = self.changes.get(i).filter(|r| r.decided.is_none()) else {
            return false;
        };
        match decision {
            Some(d) => {
                // A new decision keeps the comment written on the last one.
                let kept = draft.get(&row.id).and_then(Decision::note).map(str::to_string);
                let d = if d.note().is_none() { d.with_note(kept) } else { d };
                draft.insert(row.id.clone(), d.clone()).as_ref() != Some(&d)
            }
            None => draft.remove(&row.id).is_some(),
        }
    }

    /// Sets the comment on the decision drafted for change `i` (for a
    /// rejection, its reason); a blank one removes it. Returns whether the
    /// draft changed: not when nothing is drafted for the change.
    pub fn comment(&self, draft: &mut Draft, i: usize, note: &str) -> bool {
        let Some(row) = self.changes.get(i).filter(|r| self.open && r.decided.is_none()) else {
            return false;
        };
        let Some(d) = draft.get_mut(&row.id) else { return false };
        // The field takes at most the characters a note may hold.
        let Ok(next) = d.clone().with_note(Some(note.to_string())).tidied() else { return false };
        let changed = *d != next;
        *d = next;
        changed
    }

    /// The text an edit of change `i` starts from: an earlier edit, else
    /// the change's result; `None` when it cannot be edited.
    pub fn edit_text(&self, draft: &Draft, i: usize) -> Option<String> {
        let row = self.changes.get(i)?;
        if !self.open || row.decided.is_some() {
            return None;
        }
        if let Some(Decision::Edit { text, .. }) = draft.get(&row.id) {
            return Some(text.clone());
        }
        row.result.clone()
    }

    /// The changes the service has no decision on.
    pub fn pending_ids(&self) -> Vec<String> {
        self.changes.iter().filter(|c| c.decided.is_none()).map(|c| c.id.clone()).collect()
    }

    /// Whether change `i` is decided, here or by the service.
    fn is_decided(&self, draft: &Draft, i: usize) -> bool {
        self.changes.get(i).is_some_and(|r| r.decided.is_some() || draft.contains_key(&r.id))
    }

    /// The changes `filter` lets through, in order.
    pub fn matching(&self, draft: &Draft, filter: &Filter) -> Vec<usize> {
        let words: Vec<String> = filter.search.split_whitespace().map(str::to_lowercase).collect();
        (0..self.changes.len())
            .filter(|&i| {
                let row = &self.changes[i];
                filter.kind.is_none_or(|k| row.kind == k)
                    && filter.flagged.is_none_or(|f| row.flagged == f)
                    && filter.decided.is_none_or(|d| self.is_decided(draft, i) == d)
                    && words.iter().all(|w| row.text.contains(w.as_str()))
            })
            .collect()
    }

    /// Records `decision` in the draft for each of `shown` still open and
    /// without a flag of its own (a flagged change is decided by itself);
    /// returns how many it recorded.
    pub fn decide_shown(&self, draft: &mut Draft, shown: &[usize], decision: &Decision) -> usize {
        let mut n = 0;
        for &i in shown {
            let open =
                self.changes.get(i).is_some_and(|r| !r.flagged && !self.is_decided(draft, i));
            if open && self.decide(draft, i, Some(decision.clone())) {
                n += 1;
            }
        }
        n
    }

    /// Changes decided (here or by the service), and changes in all.
    pub fn progress(&self, draft: &Draft) -> (usize, usize) {
        let decided = (0..self.changes.len()).filter(|&i| self.is_decided(draft, i)).count();
        (decided, self.changes.len())
    }

    /// Of `shown` (a filter's changes, in order), the first after `from`
    /// with no decision yet, going round to the start; `None` when every
    /// one is decided.
    pub fn next_undecided(&self, draft: &Draft, shown: &[usize], from: usize) -> Option<usize> {
        let after = shown.iter().position(|&i| i > from).unwrap_or(shown.len());
        shown[after..].iter().chain(&shown[..after]).copied().find(|&i| !self.is_decided(draft, i))
    }

    /// The kinds of change the proposal holds, in the kinds' order.
    pub fn kinds(&self) -> Vec<ChangeKind> {
        ChangeKind::ALL.into_iter().filter(|k| self.changes.iter().any(|r| r.kind == *k)).collect()
    }

    /// What a bulk decision on the pending changes would take.
    pub fn bulk(&self) -> Bulk {
        let mut bulk = Bulk::default();
        let mut counts = [0usize; ChangeKind::ALL.len()];
        for (i, row) in self.changes.iter().enumerate().filter(|(_, r)| r.decided.is_none()) {
            bulk.pending += 1;
            counts[row.kind as usize] += 1;
            if row.flagged {
                bulk.flagged.push(i);
            }
        }
        bulk.by_kind = ChangeKind::ALL
            .iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (*k, n))
            .collect();
        bulk
    }

    /// Sets a conflict aside: the conflicting changes leave the draft (and
    /// stay pending, to be looked at again); the others are decided as
    /// before: after a bulk approval (`bulk`, the rest it sent with no
    /// change named), each change it would take is accepted.
    pub fn set_aside(&self, draft: &mut Draft, conflicts: &[String], bulk: Option<Rest>) {
        let takes = |row: &Row| match bulk {
            Some(Rest::Accept) => true,
            Some(Rest::AcceptUnflagged) => !row.flagged,
            _ => false,
        };
        if matches!(bulk, Some(Rest::Accept | Rest::AcceptUnflagged)) {
            *draft = self
                .changes
                .iter()
                .filter(|r| r.decided.is_none() && takes(r))
                .map(|r| (r.id.clone(), Decision::ACCEPT))
                .collect();
        }
        for id in conflicts {
            draft.remove(id);
        }
    }
}

/// The proposal's own warnings, once each: what the flags about the whole
/// proposal or store say.
pub fn proposal_warnings(changes: &[ChangeView]) -> Vec<(RiskKind, String)> {
    let mut out: Vec<(RiskKind, String)> = Vec::new();
    for flag in changes.iter().flat_map(|c| &c.change.risk) {
        if flag.kind.is_proposal_wide() && !out.iter().any(|(k, _)| *k == flag.kind) {
            let said = match flag.kind {
                RiskKind::SharedStore => {
                    "the store is shared by several agents: every change waits for a person"
                        .to_string()
                }
                // "retires 3 entries; the proposal retires 88 of 208 …"
                _ => flag.detail.rsplit("; ").next().unwrap_or(&flag.detail).to_string(),
            };
            out.push((flag.kind, said));
        }
    }
    out
}

/// The most related changes a change's detail links to.
pub const MAX_RELATED: usize = 6;

/// What the changes of a proposal touch, read once: for links in a
/// change's detail to the other changes touching an entry it touches (a
/// target or the result), a name its entries or result say ("Umbrella"),
/// or an entry's `subject`.
pub struct Related {
    /// Per change: what it touches (a key) and how to say it.
    keys: Vec<Vec<(String, String)>>,
    /// By key: the changes touching it, in proposal order.
    by_key: std::collections::HashMap<String, Vec<usize>>,
}

impl Related {
    /// Reads what each of `changes` touches.
    pub fn new(changes: &[ChangeView]) -> Related {
        let keys: Vec<Vec<(String, String)>> = changes.iter().map(touches).collect();
        let mut by_key: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for (j, ks) in keys.iter().enumerate() {
            for (k, _) in ks {
                let at = by_key.entry(k.clone()).or_default();
                if at.last() != Some(&j) {
                    at.push(j);
                }
            }
        }
        Related { keys, by_key }
    }

    /// The other changes touching what change `i` touches, each with the
    /// first thing it shares (entries before names), in proposal order,
    /// at most `MAX_RELATED`.
    pub fn of(&self, i: usize) -> Vec<(usize, String)> {
        let mut first: BTreeMap<usize, &str> = BTreeMap::new();
        for (k, said) in self.keys.get(i).map_or(&[][..], Vec::as_slice) {
            for &j in self.by_key.get(k).map_or(&[][..], Vec::as_slice) {
                if j != i {
                    first.entry(j).or_insert(said);
                }
            }
        }
        first.into_iter().take(MAX_RELATED).map(|(j, said)| (j, said.to_string())).collect()
    }
}

/// What a change touches: its entries, then the names and subjects of the
/// entries before it and its result, as keys and as said.
fn touches(c: &ChangeView) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let result = c.change.result.iter();
    for id in c.change.targets.iter().chain(result.clone().map(|r| &r.id)) {
        out.push((format!("entry:{id}"), format!("entry {id}")));
    }
    for e in c.before.iter().chain(result) {
        if let Some(s) = e.subject.as_deref().filter(|s| !s.trim().is_empty()) {
            out.push((format!("name:{}", reverie_core::normalize(s)), s.to_string()));
        }
        for (lower, written, _) in reverie_core::names(&e.text) {
            out.push((format!("name:{lower}"), written.to_string()));
        }
    }
    out
}

/// One line saying what a change does, for its row: a supersession as the
/// words it replaces ("bash → fish · The user's shell is fish."), a merge
/// or consolidation as how many entries become one, a prune as the entry
/// it retires, anything else as its new text. At most 140 characters.
pub fn describe(c: &ChangeView) -> String {
    let result = c.change.result.as_ref().map(|r| r.text.as_str());
    let first_before = c.before.first().map(|e| e.text.as_str()).unwrap_or("");
    let words = |tag: DiffTag| {
        let said: Vec<&str> =
            c.diff.iter().filter(|s| s.tag == tag).map(|s| s.text.trim()).collect();
        said.join(" … ").trim_matches(|ch: char| ch.is_ascii_punctuation()).to_string()
    };
    let line = match (c.change.kind, result) {
        (ChangeKind::Supersede, Some(text)) => {
            let (old, new) = (words(DiffTag::Delete), words(DiffTag::Insert));
            if old.is_empty() || new.is_empty() {
                text.to_string()
            } else {
                format!("{old} → {new} · {text}")
            }
        }
        (ChangeKind::Merge | ChangeKind::Consolidate, Some(text)) => {
            format!("{} → 1 · {text}", c.change.targets.len())
        }
        (ChangeKind::Prune, _) | (_, None) => format!("retire · {first_before}"),
        (_, Some(text)) => text.to_string(),
    };
    line.chars().take(140).collect()
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

    /// The rest it decides in bulk when it names no change: `Accept` (every
    /// pending change) or `AcceptUnflagged` (all but the flagged).
    pub fn bulk_accept(&self) -> Option<Rest> {
        let bulk = matches!(self.rest, Rest::Accept | Rest::AcceptUnflagged);
        (self.decisions.is_empty() && bulk).then_some(self.rest)
    }
}

#[cfg(test)]
mod tests;
