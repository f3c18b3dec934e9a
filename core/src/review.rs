//! Review memory: what a team's past decisions teach the next pass. A merge
//! the team rejected is never proposed again for the same entries, and a
//! change kind the team keeps rejecting must clear a higher confidence bar.
//!
//! The rule, for each change kind: with fewer than `MIN_DECISIONS` reviewed
//! changes the bar is `BASE_THRESHOLD`; past that, when the share rejected
//! `r` exceeds one half, the bar is `BASE_THRESHOLD + (r - 0.5) * 0.9`, so a
//! kind rejected every time needs confidence 0.95.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::entry::Id;
use crate::proposal::ChangeKind;

/// The confidence a change needs while its kind has too few decisions or is
/// rejected at most half the time.
pub const BASE_THRESHOLD: f32 = 0.5;
/// Reviewed changes of one kind needed before rejections can raise its bar.
pub const MIN_DECISIONS: u32 = 5;

/// Reviewed changes of one kind, by decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Changes accepted.
    pub accepted: u32,
    /// Changes rejected.
    pub rejected: u32,
}

/// What past reviews teach a pass: rejected groups and per-kind tallies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviewHistory {
    /// Entry sets whose merge or consolidation was rejected, each sorted.
    #[serde(default)]
    pub rejected_groups: BTreeSet<Vec<Id>>,
    /// Accepted and rejected counts per change kind.
    #[serde(default)]
    pub tallies: BTreeMap<ChangeKind, Tally>,
}

impl ReviewHistory {
    /// The confidence a change of `kind` needs to be proposed.
    pub fn threshold(&self, kind: ChangeKind) -> f32 {
        let tally = self.tallies.get(&kind).copied().unwrap_or_default();
        let total = tally.accepted + tally.rejected;
        if total < MIN_DECISIONS {
            return BASE_THRESHOLD;
        }
        let rejected_share = tally.rejected as f32 / total as f32;
        BASE_THRESHOLD + (rejected_share - 0.5).max(0.0) * 0.9
    }

    /// The rejected groups indexed by entry, for asking about many changes:
    /// each question then costs the entries it names, not the history.
    pub fn rejected_index(&self) -> RejectedIndex<'_> {
        let mut groups_of: FxHashMap<&Id, SmallVec<[u32; 2]>> = FxHashMap::default();
        let mut members: SmallVec<[&Id; 8]> = SmallVec::new();
        for (g, group) in self.rejected_groups.iter().enumerate() {
            // Groups come from callers too: an id listed twice is one member.
            members.clear();
            members.extend(group);
            members.sort_unstable();
            members.dedup();
            for &id in &members {
                groups_of.entry(id).or_default().push(g as u32);
            }
        }
        RejectedIndex { groups_of }
    }

    /// Learns from one reviewed change.
    pub fn record(&mut self, kind: ChangeKind, targets: &[Id], accepted: bool) {
        let tally = self.tallies.entry(kind).or_default();
        if accepted {
            tally.accepted += 1;
        } else {
            tally.rejected += 1;
            if matches!(kind, ChangeKind::Merge | ChangeKind::Consolidate) && targets.len() >= 2 {
                let mut group = targets.to_vec();
                group.sort();
                group.dedup();
                self.rejected_groups.insert(group);
            }
        }
    }
}

/// Which rejected groups each entry is in (see `ReviewHistory::rejected_index`).
pub struct RejectedIndex<'h> {
    groups_of: FxHashMap<&'h Id, SmallVec<[u32; 2]>>,
}

impl RejectedIndex<'_> {
    /// Whether merging these entries (or a superset of two of them) was
    /// rejected before: two of them share a rejected group.
    pub fn together(&self, ids: &[&Id]) -> bool {
        if self.groups_of.is_empty() {
            return false;
        }
        let mut groups: SmallVec<[u32; 8]> =
            ids.iter().filter_map(|id| self.groups_of.get(id)).flatten().copied().collect();
        groups.sort_unstable();
        groups.windows(2).any(|w| w[0] == w[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    #[test]
    fn thresholds_rise_with_rejections() {
        let check = |accepted: u32, rejected: u32, expected: f32| {
            let mut h = ReviewHistory::default();
            h.tallies.insert(ChangeKind::Consolidate, Tally { accepted, rejected });
            let got = h.threshold(ChangeKind::Consolidate);
            assert!((got - expected).abs() < 1e-6, "{accepted}/{rejected}: {got}");
            assert_eq!(h.threshold(ChangeKind::Merge), BASE_THRESHOLD);
        };
        check(0, 4, 0.5); // too few decisions to judge
        check(5, 5, 0.5);
        check(1, 4, 0.77);
        check(0, 10, 0.95);
    }

    #[test]
    fn a_rejected_merge_is_remembered_for_any_pair_of_its_entries() {
        let mut h = ReviewHistory::default();
        h.record(ChangeKind::Merge, &[id("m3"), id("m1"), id("m2")], false);
        h.record(ChangeKind::Consolidate, &[id("m4"), id("m1")], false);
        h.record(ChangeKind::Merge, &[id("m5"), id("m6")], true);
        let rejected = h.rejected_index();
        let check = |ids: &[&str], expected: bool| {
            let ids: Vec<Id> = ids.iter().map(|s| id(s)).collect();
            let ids: Vec<&Id> = ids.iter().collect();
            assert_eq!(rejected.together(&ids), expected, "{ids:?}");
        };
        check(&["m1", "m3"], true);
        check(&["m9", "m2", "m3"], true);
        check(&["m4", "m1"], true);
        // m1 is in both groups, but m4 and m3 never met in one.
        check(&["m4", "m3"], false);
        check(&["m1", "m9"], false);
        check(&["m1"], false);
        check(&["m5", "m6"], false);
        // Histories are also read from JSON: unsorted groups and repeated ids.
        let mut h = ReviewHistory::default();
        h.rejected_groups.insert(vec![id("e2"), id("e1")]);
        h.rejected_groups.insert(vec![id("e7"), id("e7")]);
        let rejected = h.rejected_index();
        assert!(rejected.together(&[&id("e1"), &id("e2")]));
        assert!(!rejected.together(&[&id("e7"), &id("e8")]));
        assert!(!ReviewHistory::default().rejected_index().together(&[&id("m1"), &id("m3")]));
    }
}
