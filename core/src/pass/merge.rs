//! Stage 2: duplicates among stored entries merge; statements that repeat
//! a stored entry are dropped.

use crate::dedup::UnionFind;
use crate::entry::MemoryEntry;
use crate::paraphrase::{self, Agreement};
use crate::proposal::{entry_quote, Change, ChangeKind};
use crate::sentence::keeps_facts;

use super::builder::{placeholder_id, union_sources, union_tags, Builder};
use super::items::WARM_BATCH;
use super::{Question, UnsettledGroup};

impl Builder<'_, '_> {
    /// Duplicates among stored entries merge; statements that repeat a
    /// stored entry are dropped.
    pub(super) fn merge_duplicates(&mut self) {
        let mut uf = UnionFind::new(self.items.len());
        // The pairs joined, with their scores: a group's justification names
        // its weakest pair.
        let mut joined: Vec<(usize, f32)> = Vec::new();
        // Pairs are taken in order of their first item. An exact group
        // joins at its first member still unclaimed when its turn comes,
        // with every later member: as if each pair of the group were
        // taken, since the pairs of later members would join nothing more.
        let exact = std::mem::take(&mut self.exact);
        let mut members: Vec<(usize, usize)> = exact
            .iter()
            .enumerate()
            .flat_map(|(g, group)| group.iter().map(move |&i| (i, g)))
            .collect();
        members.sort_unstable();
        let mut joined_group = vec![false; exact.len()];
        let (mut near, mut members) = (0, members.into_iter().peekable());
        loop {
            let next_near = self.pairs.get(near);
            match (next_near, members.peek()) {
                (_, Some(&(m, g))) if next_near.is_none_or(|p| m <= p.a) => {
                    members.next();
                    if joined_group[g] || !self.free(m) {
                        continue;
                    }
                    joined_group[g] = true;
                    for &other in exact.get(g).iter().filter(|&&other| other > m) {
                        self.join_duplicates(&mut uf, &mut joined, m, other, 1.0);
                    }
                }
                (Some(&p), _) => {
                    near += 1;
                    self.join_duplicates(&mut uf, &mut joined, p.a, p.b, p.score);
                }
                (None, _) => break,
            }
        }
        // A group's root is its smallest member, so the lowest score per
        // root, sorted by root, lines up with the groups in order.
        let mut weakest: Vec<(usize, f32)> =
            joined.into_iter().map(|(a, score)| (uf.find(a), score)).collect();
        weakest.sort_unstable_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
        weakest.dedup_by_key(|w| w.0);
        let mut weakest = weakest.into_iter().peekable();
        let groups = uf.groups();
        self.reserve(groups.len());
        for g in 0..groups.len() {
            if g % WARM_BATCH == 0 {
                self.items.warm_entries((g..g + WARM_BATCH).flat_map(|k| groups.get(k)).copied());
            }
            let group = groups.get(g);
            let score = weakest.peek().filter(|w| w.0 == group[0]).map_or(1.0, |w| w.1);
            while weakest.next_if(|w| w.0 <= group[0]).is_some() {}
            let members: smallvec::SmallVec<[usize; 8]> =
                group.iter().copied().filter(|&i| self.free(i)).collect();
            if members.len() < 2 {
                continue;
            }
            // Pairs chain: "a man is running" is a duplicate of "... in a
            // field" and of "... on the road", which are not duplicates of
            // each other. The entry kept says what the most members say;
            // only those join it, the rest stay for later.
            let Some((survivor, members)) = self.survivor(&members) else { continue };
            let entries: smallvec::SmallVec<[&MemoryEntry; 8]> =
                members.iter().filter_map(|&i| self.items[i].entry).collect();
            let kept = self.items[survivor].entry.expect("merge members are entries");
            // The entry kept must say every number and name the others say,
            // as written; near duplicates that differ in one ("Alice" and
            // "Bob", "1,000" and "1000") are for the model or a person. (A
            // sentence's first word was compared with the others already.)
            if !keeps_facts(entries.iter().map(|e| e.text.as_str()), &kept.text, false) {
                self.unsettled.push(UnsettledGroup {
                    entries: entries.iter().map(|e| e.id.clone()).collect(),
                    score,
                    question: Question::SameFact,
                });
                continue;
            }
            let mut result = kept.clone();
            result.provenance.trust =
                entries.iter().map(|e| e.provenance.trust).min().unwrap_or(result.provenance.trust);
            result.provenance.sources = union_sources(&entries);
            result.tags = union_tags(&entries);
            result.confidence =
                entries.iter().map(|e| e.confidence).fold(result.confidence, f32::max);
            result.observed_at = entries.iter().map(|e| e.observed()).max();
            for &m in &members {
                self.claimed[m] = true;
            }
            let first = self.items[members[0]].features.norm_hash;
            let exact = members.iter().all(|&m| self.items[m].features.norm_hash == first);
            self.push(
                Change {
                    id: placeholder_id(),
                    kind: ChangeKind::Merge,
                    targets: entries.iter().map(|e| e.id.clone()).collect(),
                    justification: if exact {
                        format!("{} entries say the same thing word for word", entries.len())
                    } else {
                        format!(
                            "{} entries say the same thing (word overlap {:.0}%)",
                            entries.len(),
                            score * 100.0
                        )
                    },
                    evidence: entries.iter().map(|e| entry_quote(e)).collect(),
                    confidence: if exact { 0.99 } else { 0.6 + 0.35 * score },
                    result: Some(result),
                    risk: Vec::new(),
                    sessions_seen: None,
                    made_by: None,
                },
                &members,
            );
        }
    }

    /// The text of item `i`, an entry's or a statement's.
    fn text(&self, i: usize) -> &str {
        let item = &self.items[i];
        item.entry
            .map(|e| e.text.as_str())
            .or(item.statement.map(|s| s.text.as_str()))
            .unwrap_or("")
    }

    /// Whether items `a` and `b` say the same thing, and which says more:
    /// never when their numbers or negations differ, else as their words
    /// compare (see `paraphrase`).
    fn agreement(&self, a: usize, b: usize) -> Option<Agreement> {
        let (fa, fb) = (self.items.features(a), self.items.features(b));
        if fa.negated != fb.negated || fa.numbers != fb.numbers {
            return None;
        }
        if fa.norm_hash == fb.norm_hash {
            return Some(Agreement::Same);
        }
        thread_local! {
            /// The normalized texts, in buffers kept between calls.
            static NORMALIZED: std::cell::RefCell<(String, String)> =
                const { std::cell::RefCell::new((String::new(), String::new())) };
        }
        NORMALIZED.with_borrow_mut(|(na, nb)| {
            crate::text::normalize_into(self.text(a), na);
            crate::text::normalize_into(self.text(b), nb);
            paraphrase::compare(na, nb)
        })
    }

    /// The member of a group of duplicates to keep, and the members it
    /// stands for: the one saying everything the most others say; among
    /// those alike, the newest wording; for one wording, the most trusted
    /// and earliest copy. `None` when it stands for no other.
    fn survivor(&self, members: &[usize]) -> Option<(usize, smallvec::SmallVec<[usize; 8]>)> {
        // Wordings are compared, not copies: ten thousand copies of one
        // text are one wording.
        let hash = |m: usize| self.items[m].features.norm_hash;
        let mut sorted: smallvec::SmallVec<[usize; 8]> = members.into();
        sorted.sort_unstable_by_key(|&m| (hash(m), m));
        let wordings: smallvec::SmallVec<[&[usize]; 8]> =
            sorted.chunk_by(|&x, &y| hash(x) == hash(y)).collect();
        let copy = |w: &[usize]| {
            *w.iter().min_by_key(|&&m| (self.items[m].trust, m)).expect("wordings have copies")
        };
        let newest = |w: &[usize]| w.iter().map(|&m| self.items[m].observed).max();
        // (wording, members it stands for)
        let mut best: Option<(usize, usize)> = None;
        let mut best_covered: smallvec::SmallVec<[usize; 8]> = smallvec::SmallVec::new();
        for (k, w) in wordings.iter().enumerate() {
            let covered: smallvec::SmallVec<[usize; 8]> = (0..wordings.len())
                .filter(|&j| {
                    j == k
                        || matches!(
                            self.agreement(copy(w), copy(wordings[j])),
                            Some(Agreement::Same | Agreement::FirstSaysMore)
                        )
                })
                .collect();
            let count: usize = covered.iter().map(|&j| wordings[j].len()).sum();
            let better = best
                .is_none_or(|(b, c)| count > c || count == c && newest(w) > newest(wordings[b]));
            if better {
                best = Some((k, count));
                best_covered = covered;
            }
        }
        let (k, count) = best?;
        if count < 2 {
            return None;
        }
        let mut stands_for: smallvec::SmallVec<[usize; 8]> =
            best_covered.iter().flat_map(|&j| wordings[j].iter().copied()).collect();
        stands_for.sort_unstable();
        Some((copy(wordings[k]), stands_for))
    }

    /// Joins two duplicates (`a < b`) unless either is already used: two
    /// entries into one group, an entry and a statement by dropping the
    /// statement, two statements by keeping the earlier.
    pub(super) fn join_duplicates(
        &mut self,
        uf: &mut UnionFind,
        joined: &mut Vec<(usize, f32)>,
        a: usize,
        b: usize,
        score: f32,
    ) {
        if self.claimed[a] || self.claimed[b] || self.agreement(a, b).is_none() {
            return;
        }
        match (self.items[a].entry, self.items[b].entry) {
            // An entry an open proposal has is left to it.
            (Some(_), Some(_)) if self.open[a] || self.open[b] => {}
            (Some(_), Some(_)) => {
                uf.union(a, b);
                joined.push((a, score));
            }
            // A statement already in memory adds nothing.
            (Some(_), None) => self.claimed[b] = true,
            (None, Some(_)) => self.claimed[a] = true,
            // Two statements saying the same: keep the earlier.
            (None, None) => self.claimed[b] = true,
        }
    }
}
