//! Stage 1: newer claims about the same slot retire older ones.

use std::num::NonZeroU64;

use rustc_hash::FxHashSet as HashSet;

use crate::entry::Timestamp;
use crate::proposal::{entry_quote, Change, ChangeKind};
use crate::supersede::{relation, restates, Claim, ClaimRef, Older, Relation};

use super::builder::{placeholder_id, Builder};
use super::items::{Item, Items, WARM_BATCH};

impl Builder<'_, '_> {
    /// Newer claims about the same slot retire older ones.
    pub(super) fn supersede(&mut self) {
        let items = self.items;
        let subjects = &self.items.subjects;
        let relate = |newer: ClaimRef<'_>, older: usize| {
            relation(
                newer,
                &Older {
                    claim: items.claim(older),
                    subject: subjects[older].map(NonZeroU64::get),
                    content: items.content(older),
                },
            )
        };
        // Every (older, newer) pair that may retire the older item, with
        // the newer's time: sorted at the end, the earliest newer one wins.
        // A list, not a map kept sorted as it grows, whose every insert
        // would walk a tree larger than the cache.
        let mut offers: Vec<(usize, Timestamp, usize, Relation)> = Vec::new();
        let mut offer = |older: usize, newer: usize, rel: Relation, items: &[Item<'_>]| {
            if items[newer].observed > items[older].observed {
                offers.push((older, items[newer].observed, newer, rel));
            }
        };

        // One read of the claims sorts them by kind. Slots are grouped by
        // (subject, attribute) with a radix sort of packed keys, not a hash
        // map: a million claims must not mean a million small allocations.
        // `relate` checks the full subject and attribute, so keys that agree
        // only on their 40 packed bits change nothing.
        let mut slot_keys: Vec<u64> = Vec::new();
        let (mut switches, mut retractions) = (Vec::new(), Vec::new());
        for i in 0..items.len() {
            match items.claim(i) {
                Some(Claim::Slot { subject, attribute, .. }) if i < crate::dedup::MAX_ITEMS => {
                    let key = crate::text::mix(subject ^ attribute.rotate_left(17))
                        & !crate::dedup::INDEX_MASK;
                    slot_keys.push(key | i as u64);
                }
                Some(Claim::Switch { .. }) => switches.push(i),
                Some(Claim::Retract { .. }) => retractions.push(i),
                _ => {}
            }
        }
        crate::radix::radix_sort_keys(&mut slot_keys, &mut Vec::new());
        let key = |k: &u64| k & !crate::dedup::INDEX_MASK;
        let groups: Vec<&[u64]> =
            slot_keys.chunk_by(|x, y| key(x) == key(y)).filter(|g| g.len() > 1).collect();
        let item = |k: &u64| (k & crate::dedup::INDEX_MASK) as usize;
        let (mut by_time, mut next_other): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
        for (g, group) in groups.iter().enumerate() {
            if g % WARM_BATCH == 0 {
                items.warm_claims(
                    groups[g..].iter().take(WARM_BATCH).flat_map(|group| group.iter().map(item)),
                );
            }
            // Members by time: an older member's successor is the first
            // later one that replaces it, so a slot restated ten thousand
            // times is not a hundred million comparisons. Members making
            // the same claim as the one before bear on an older member the
            // same way, so a run of them is passed over at once.
            by_time.clear();
            by_time.extend(group.iter().map(item));
            by_time.sort_unstable_by_key(|&i| (items[i].observed, i));
            let claim = |i: usize| items.claim(i).expect("slot members have claims");
            next_other.clear();
            next_other.extend(1..=by_time.len());
            // Runs are worth finding only in a slot stated many times.
            if by_time.len() > WARM_BATCH {
                for p in (0..by_time.len() - 1).rev() {
                    if claim(by_time[p + 1]) == claim(by_time[p]) {
                        next_other[p] = next_other[p + 1];
                    }
                }
            }
            for &older in by_time.iter() {
                let mut p =
                    by_time.partition_point(|&i| items[i].observed <= items[older].observed);
                while let Some(&newer) = by_time.get(p) {
                    if relate(claim(newer), older) == Relation::Replaces {
                        offer(older, newer, Relation::Replaces, self.items);
                        break;
                    }
                    p = next_other[p];
                }
            }
        }
        // Switches: "switched from X to Y" retires slots whose value names X.
        // Retractions: "no longer X" retires items containing all of X.
        // Each is kept under (subject, word named, time, item), sorted, and
        // each item that may be retired looks up the words it holds: its
        // successor is the first later cue that bears on it, found by
        // binary search, however many cues name the same word.
        let first_after =
            |cues: &[(u64, u64, Timestamp, usize)], older: usize, subject: u64, word: u64, rel| {
                let at = items[older].observed;
                let start = cues.partition_point(|&(s, w, t, _)| (s, w, t) <= (subject, word, at));
                cues[start..]
                    .iter()
                    .take_while(|&&(s, w, ..)| (s, w) == (subject, word))
                    .map(|&(.., newer)| newer)
                    .find(|&newer| {
                        relate(items.claim(newer).expect("cues have claims"), older) == rel
                    })
            };
        let mut switched: Vec<(u64, u64, Timestamp, usize)> = Vec::new();
        for &i in &switches {
            if let Some(Claim::Switch { subject, old, .. }) = items.claim(i) {
                switched.extend(old.iter().map(|&w| (subject, w, items[i].observed, i)));
            }
        }
        switched.sort_unstable();
        // Most items name no word a cue names: a set says so in one lookup.
        let named = |cues: &[(u64, u64, Timestamp, usize)]| -> HashSet<(u64, u64)> {
            cues.iter().map(|&(s, w, ..)| (s, w)).collect()
        };
        let switch_named = named(&switched);
        if !switched.is_empty() {
            for older in 0..items.len() {
                let Some(Claim::Slot { subject, value, .. }) = items.claim(older) else { continue };
                for &w in value.iter().filter(|&&w| switch_named.contains(&(subject, w))) {
                    if let Some(newer) =
                        first_after(&switched, older, subject, w, Relation::Replaces)
                    {
                        offer(older, newer, Relation::Replaces, self.items);
                    }
                }
            }
        }
        let mut retracting: Vec<(u64, u64, Timestamp, usize)> = Vec::new();
        for &i in &retractions {
            if let Some(Claim::Retract { subject, what: [w, ..] }) = items.claim(i) {
                retracting.push((subject, *w, items[i].observed, i));
            }
        }
        retracting.sort_unstable();
        let retract_named = named(&retracting);
        if !retracting.is_empty() {
            for (older, subject) in subjects.iter().enumerate() {
                let Some(s) = subject.map(NonZeroU64::get) else { continue };
                for &w in items.content(older).iter().filter(|&&w| retract_named.contains(&(s, w)))
                {
                    if let Some(newer) = first_after(&retracting, older, s, w, Relation::Retracts) {
                        offer(older, newer, Relation::Retracts, self.items);
                    }
                }
            }
        }

        // Per older item, the earliest newer one, ties to the first item. A
        // pair offered twice comes from one rule, with one relation.
        offers.sort_unstable_by_key(|&(older, at, newer, _)| (older, at, newer));
        offers.dedup_by_key(|&mut (older, ..)| older);
        let successor: Vec<(usize, (usize, Relation))> =
            offers.into_iter().map(|(older, _, newer, rel)| (older, (newer, rel))).collect();
        self.reserve(successor.len());
        for (k, &(older, (newer, rel))) in successor.iter().enumerate() {
            if k % WARM_BATCH == 0 {
                self.items.warm_entries(
                    successor[k..].iter().take(WARM_BATCH).flat_map(|&(o, (n, _))| [o, n]),
                );
            }
            // Only stored entries can be retired; a statement superseded by a
            // later statement is simply not added.
            let Some(old_entry) = self.items[older].entry else {
                self.claimed[older] = true;
                continue;
            };
            // An entry an open proposal has is left to it, as replaced or
            // as replacing.
            if !self.free(older) || self.open[newer] {
                continue;
            }
            // A statement that a later statement replaces in turn is never
            // added, so the entry is retired by the last of them: memory
            // must not end up holding an intermediate value next to it.
            let first = newer;
            let (newer, rel) = last_in_chain(&successor, self.items, newer, rel);
            // The last word may be the entry's own value again ("Zed", then
            // "Vim" again): the entry stands, and the statement repeating it
            // is dropped as its duplicate.
            if newer != first
                && items.claim(newer).zip(items.claim(older)).is_some_and(|(n, o)| restates(n, o))
            {
                continue;
            }
            let newer_item = &self.items[newer];
            let retraction_statement = newer_item.statement.is_some_and(|s| s.retraction);
            // The evidence is the entry, what replaced it first and, when
            // that was replaced in turn, the last word on it.
            let mut evidence = vec![entry_quote(old_entry), self.quote_of(first)];
            if newer != first {
                evidence.push(self.quote_of(newer));
            }
            let replaced_first =
                |why: String| match self.items[first].statement.filter(|_| newer != first) {
                    Some(s) => format!("{why}, after \"{}\"", s.said.quote),
                    None => why,
                };
            if retraction_statement {
                // The user said it no longer holds and gave no successor.
                let reason = replaced_first(format!(
                    "contradicted by the user: \"{}\"",
                    newer_item.statement.map(|s| s.said.quote.as_str()).unwrap_or("")
                ));
                self.claimed[older] = true;
                self.claimed[newer] = true;
                self.push(
                    Change {
                        id: placeholder_id(),
                        kind: ChangeKind::Prune,
                        targets: vec![old_entry.id.clone()],
                        result: None,
                        justification: reason,
                        evidence,
                        confidence: 0.8,
                        risk: Vec::new(),
                        sessions_seen: None,
                        made_by: None,
                    },
                    &[older, newer],
                );
                continue;
            }
            let result = match newer_item.entry {
                Some(e) => e.clone(),
                None => self.entry_for_statement(newer),
            };
            self.claimed[older] = true;
            if newer_item.statement.is_some() {
                self.claimed[newer] = true;
            }
            let (why, confidence) = match rel {
                Relation::Retracts => ("a newer entry says this no longer holds", 0.8),
                _ => (
                    "a newer entry gives a different value for the same subject and attribute",
                    0.85,
                ),
            };
            self.push(
                Change {
                    id: placeholder_id(),
                    kind: ChangeKind::Supersede,
                    targets: vec![old_entry.id.clone()],
                    justification: replaced_first(replaces(why, &result.text, &old_entry.text)),
                    result: Some(result),
                    evidence,
                    confidence,
                    risk: Vec::new(),
                    sessions_seen: None,
                    made_by: None,
                },
                &[older, newer],
            );
        }

        // A statement restating a value memory will hold (a stored entry
        // left standing, or a statement just made an entry) adds nothing.
        // After supersession every such holder in a slot has the slot's
        // last value, so one holder is enough to compare with.
        if items.len() == items.entries {
            return;
        }
        for group in groups.iter().filter(|g| g.iter().any(|k| item(k) >= items.entries)) {
            let holds = |i: usize| {
                (items[i].entry.is_some() && !self.claimed[i]) || self.created.contains_key(&i)
            };
            let Some(holder) = group
                .iter()
                .map(item)
                .filter(|&i| holds(i))
                .max_by_key(|&i| (items[i].observed, i))
            else {
                continue;
            };
            for i in group.iter().map(item).filter(|&i| i >= items.entries && i != holder) {
                if !self.claimed[i]
                    && items.claim(i).zip(items.claim(holder)).is_some_and(|(s, h)| restates(s, h))
                {
                    self.claimed[i] = true;
                }
            }
        }
    }
}

/// Where a chain of successors starting at `newer` ends: statements
/// (which are not entries yet) are followed to their own successors, until
/// a stored entry, a retraction or a statement nothing replaces.
/// `successor` is sorted by its first field; successors are strictly later,
/// so a chain cannot loop.
pub(super) fn last_in_chain(
    successor: &[(usize, (usize, Relation))],
    items: &Items<'_>,
    mut newer: usize,
    mut rel: Relation,
) -> (usize, Relation) {
    while items[newer].entry.is_none() && items[newer].statement.is_some_and(|s| !s.retraction) {
        let Ok(k) = successor.binary_search_by_key(&newer, |&(older, _)| older) else { break };
        (newer, rel) = successor[k].1;
    }
    (newer, rel)
}

/// A supersession's justification, `why: "new" replaces "old"`, made in
/// one allocation of its exact size (`format!` guesses, then grows).
pub(super) fn replaces(why: &str, new: &str, old: &str) -> String {
    let mut out = String::with_capacity(why.len() + new.len() + old.len() + 16);
    for part in [why, ": \"", new, "\" replaces \"", old, "\""] {
        out.push_str(part);
    }
    out
}
