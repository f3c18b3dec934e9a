//! The memory a review would leave: the store's active entries with the
//! decisions so far applied to them (the draft's and those already made),
//! each marked with what a decision does to it, so a reviewer sees the
//! result before submitting.

use std::collections::BTreeMap;

use reverie_api::ChangeView;
use reverie_core::apply::Decision;
use reverie_core::MemoryEntry;

use crate::Draft;

/// What the decisions do to an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Nothing.
    Kept,
    /// A change's result replaces its text.
    Reworded {
        /// The change.
        by: String,
    },
    /// A change adds it.
    New {
        /// The change.
        by: String,
    },
    /// A change retires it (merged, superseded or pruned).
    Retired {
        /// The change.
        by: String,
    },
}

/// One entry of the memory after.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The entry's id.
    pub id: String,
    /// Its text after the decisions (before, for a retired one).
    pub text: String,
    /// What they do to it.
    pub mark: Mark,
}

/// The store's `entries` (its active ones are read; a page of a large
/// store) and every entry a change touches, as the decisions on `changes`
/// would leave them: each accepted or edited change's targets retired but
/// for its result, the result's text (the reviewer's, when edited) in
/// place or added. Rejected and undecided changes do nothing. A result
/// made at or after `made_at` (when the pass ran) is new; an older one is
/// an entry of the store that `entries` did not hold. Entries first in the
/// store's order, then those only the changes hold, then the new ones.
pub fn memory_after(
    entries: &[MemoryEntry],
    changes: &[ChangeView],
    draft: &Draft,
    made_at: i64,
) -> Vec<Row> {
    let row =
        |e: &MemoryEntry| Row { id: e.id.to_string(), text: e.text.clone(), mark: Mark::Kept };
    let mut rows: Vec<Row> = entries.iter().filter(|e| e.is_active()).map(row).collect();
    let mut at: BTreeMap<String, usize> =
        rows.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
    let mut beyond: BTreeMap<String, &MemoryEntry> = BTreeMap::new();
    for c in changes {
        let results = c.change.result.iter().filter(|r| r.created_at.0 < made_at);
        for e in c.before.iter().chain(results) {
            if e.is_active() && !at.contains_key(e.id.as_str()) {
                beyond.entry(e.id.to_string()).or_insert(e);
            }
        }
    }
    for (id, e) in beyond {
        at.insert(id, rows.len());
        rows.push(row(e));
    }
    for c in changes {
        let id = c.change.id.to_string();
        let decision = draft.get(&id).or(c.decision.as_ref());
        let text = match decision {
            Some(Decision::Accept { .. }) => c.change.result.as_ref().map(|r| r.text.clone()),
            Some(Decision::Edit { text, .. }) => Some(text.clone()),
            Some(Decision::Reject { .. }) | None => continue,
        };
        let result = c.change.result.as_ref().map(|r| r.id.to_string());
        for t in c.change.targets.iter().map(|t| t.to_string()) {
            if Some(&t) == result.as_ref() {
                continue;
            }
            if let Some(&i) = at.get(&t) {
                rows[i].mark = Mark::Retired { by: id.clone() };
            }
        }
        if let (Some(result), Some(text)) = (result, text) {
            match at.get(&result) {
                // A result that keeps its entry's text leaves it as it is.
                Some(&i) if rows[i].text != text => {
                    rows[i].text = text;
                    rows[i].mark = Mark::Reworded { by: id.clone() };
                }
                Some(_) => {}
                None => {
                    at.insert(result.clone(), rows.len());
                    rows.push(Row { id: result, text, mark: Mark::New { by: id.clone() } });
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::change_view as change;
    use reverie_core::{ChangeKind, EntryKind, Id, Timestamp};

    fn entry(id: &str, text: &str) -> MemoryEntry {
        MemoryEntry::new(Id::new(id).unwrap(), text, EntryKind::Fact, Timestamp(0))
    }

    #[test]
    fn the_memory_after_applies_what_is_accepted_or_edited() {
        let entries = [
            entry("m1", "Dark mode."),
            entry("m2", "Dark mode, please."),
            entry("m3", "Shell: bash."),
            entry("m4", "Shell: fish."),
            entry("m5", "Lunch tomorrow."),
        ];
        let changes = [
            change(
                "c1",
                ChangeKind::Merge,
                &["m1", "m2"],
                Some(("m1", "Dark mode in the editor.")),
            ),
            change("c2", ChangeKind::Supersede, &["m3", "m4"], Some(("m4", "Shell: fish."))),
            change("c3", ChangeKind::Prune, &["m5"], None),
            change("c4", ChangeKind::Add, &[], Some(("n1", "Uses Helix."))),
        ];
        let mut draft = Draft::new();
        draft.insert("c1".into(), Decision::edit("Dark mode everywhere."));
        draft.insert("c2".into(), Decision::ACCEPT);
        draft.insert("c3".into(), Decision::Reject { reason: None });
        draft.insert("c4".into(), Decision::ACCEPT);
        let rows = memory_after(&entries, &changes, &draft, 0);
        let seen: Vec<(&str, &str, Mark)> =
            rows.iter().map(|r| (r.id.as_str(), r.text.as_str(), r.mark.clone())).collect();
        let by = |c: &str| c.to_string();
        assert_eq!(
            seen,
            [
                ("m1", "Dark mode everywhere.", Mark::Reworded { by: by("c1") }),
                ("m2", "Dark mode, please.", Mark::Retired { by: by("c1") }),
                ("m3", "Shell: bash.", Mark::Retired { by: by("c2") }),
                ("m4", "Shell: fish.", Mark::Kept),
                ("m5", "Lunch tomorrow.", Mark::Kept),
                ("n1", "Uses Helix.", Mark::New { by: by("c4") }),
            ]
        );
        // Undecided, nothing changes.
        let none = memory_after(&entries, &changes, &Draft::new(), 0);
        assert!(none.iter().all(|r| r.mark == Mark::Kept) && none.len() == 5);
    }

    #[test]
    fn entries_beyond_the_page_read_come_from_the_changes() {
        // A page of a large store: m1 only. The merge's other entry and
        // the entry a supersession keeps lie beyond it; the addition is
        // made by the pass, at 100.
        let entries = [entry("m1", "Dark mode.")];
        let mut merge = change("c1", ChangeKind::Merge, &["m8", "m9"], Some(("m8", "Tabs.")));
        merge.before = vec![entry("m8", "Tabs."), entry("m9", "Tabs, please.")];
        let mut supersede =
            change("c2", ChangeKind::Supersede, &["m7"], Some(("m10", "Shell: fish.")));
        supersede.before = vec![entry("m7", "Shell: bash.")];
        let mut add = change("c3", ChangeKind::Add, &[], Some(("p.e1", "Uses Helix.")));
        add.change.result.as_mut().unwrap().created_at = Timestamp(100);
        let mut draft = Draft::new();
        for c in ["c1", "c2", "c3"] {
            draft.insert(c.into(), Decision::ACCEPT);
        }
        let rows = memory_after(&entries, &[merge, supersede, add], &draft, 100);
        let seen: Vec<(&str, Mark)> =
            rows.iter().map(|r| (r.id.as_str(), r.mark.clone())).collect();
        let by = |c: &str| c.to_string();
        assert_eq!(
            seen,
            [
                ("m1", Mark::Kept),
                ("m10", Mark::Kept),
                ("m7", Mark::Retired { by: by("c2") }),
                ("m8", Mark::Kept),
                ("m9", Mark::Retired { by: by("c1") }),
                ("p.e1", Mark::New { by: by("c3") }),
            ]
        );
    }
}
