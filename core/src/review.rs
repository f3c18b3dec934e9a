//! Review memory: what a team's past decisions teach the next pass. A merge
//! the team rejected is never proposed again for the same entries, and a
//! change kind the team keeps rejecting must clear a higher confidence bar.
//!
//! The rule, for each change kind: with fewer than `MIN_DECISIONS` reviewed
//! changes the bar is `BASE_THRESHOLD`; past that, when the share rejected
//! `r` exceeds one half, the bar is `BASE_THRESHOLD + (r - 0.5) * 0.9`, so a
//! kind rejected every time needs confidence 0.95.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::entry::Id;
use crate::proposal::ChangeKind;

pub const BASE_THRESHOLD: f32 = 0.5;
pub const MIN_DECISIONS: u32 = 5;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub accepted: u32,
    pub rejected: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviewHistory {
    /// Entry sets whose merge or consolidation was rejected, each sorted.
    #[serde(default)]
    pub rejected_groups: BTreeSet<Vec<Id>>,
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

    /// Whether merging these entries (or a superset of two of them) was
    /// rejected before.
    pub fn rejected_together(&self, ids: &[&Id]) -> bool {
        self.rejected_groups.iter().any(|group| ids.iter().filter(|id| group.binary_search(id).is_ok()).count() >= 2)
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
                self.rejected_groups.insert(group);
            }
        }
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
        assert!(h.rejected_together(&[&id("m1"), &id("m3")]));
        assert!(!h.rejected_together(&[&id("m1"), &id("m9")]));
        h.record(ChangeKind::Merge, &[id("m5"), id("m6")], true);
        assert!(!h.rejected_together(&[&id("m5"), &id("m6")]));
    }
}
