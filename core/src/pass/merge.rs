//! Stage 2: duplicates among stored entries merge; statements that repeat
//! a stored entry are dropped.

use crate::dedup::UnionFind;
use crate::entry::MemoryEntry;
use crate::proposal::{Change, ChangeKind};
use crate::sentence::keeps_facts;
use crate::text::FeaturesRef;

use super::builder::{entry_quote, placeholder_id, union_sources, union_tags, Builder};
use super::items::WARM_BATCH;
use super::UnsettledGroup;

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
                    if joined_group[g] || self.claimed[m] {
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
                group.iter().copied().filter(|&i| !self.claimed[i]).collect();
            if members.len() < 2 {
                continue;
            }
            let survivor = *members
                .iter()
                .max_by(|&&x, &&y| {
                    let (a, b) = (&self.items[x], &self.items[y]);
                    a.features
                        .content
                        .len()
                        .cmp(&b.features.content.len())
                        .then(b.trust.cmp(&a.trust))
                        .then(y.cmp(&x))
                })
                .expect("groups have members");
            // Pairs chain: "a man is running" is a duplicate of "... in a
            // field" and of "... on the road", which are not duplicates of
            // each other. Only members the kept entry duplicates join it;
            // the rest stay for later. (A pair was checked as it was
            // joined.)
            let pair = members.len() == 2;
            let survivor_features = self.items.features(survivor);
            let members: smallvec::SmallVec<[usize; 8]> = members
                .iter()
                .copied()
                .filter(|&m| {
                    let score = self.items.features(m).jaccard(&survivor_features);
                    pair || m == survivor || self.duplicates(m, survivor, score)
                })
                .collect();
            if members.len() < 2 {
                continue;
            }
            let entries: smallvec::SmallVec<[&MemoryEntry; 8]> =
                members.iter().filter_map(|&i| self.items[i].entry).collect();
            let kept = self.items[survivor].entry.expect("merge members are entries");
            // The entry kept must say every number and name the others say,
            // as written; near duplicates that differ in one ("Alice" and
            // "Bob", "1,000" and "1000") are for the model or a person.
            if !keeps_facts(entries.iter().map(|e| e.text.as_str()), &kept.text, true) {
                self.unsettled.push(UnsettledGroup {
                    entries: entries.iter().map(|e| e.id.clone()).collect(),
                    score,
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

    /// Whether items `a` and `b`, whose content words score `score`, say
    /// the same thing: duplicates by their features, and, unless their
    /// normalized texts are equal, with their shared words in nearly the
    /// same order.
    fn duplicates(&self, a: usize, b: usize, score: f32) -> bool {
        let (fa, fb) = (self.items.features(a), self.items.features(b));
        is_duplicate(&fa, &fb, score, self.config.merge_threshold)
            && (fa.norm_hash == fb.norm_hash
                || same_order(
                    self.text(a),
                    self.text(b),
                    crate::text::intersection_len(fa.content, fb.content),
                ))
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
        if self.claimed[a] || self.claimed[b] || !self.duplicates(a, b, score) {
            return;
        }
        match (self.items[a].entry, self.items[b].entry) {
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

/// Whether two texts say the same thing: close enough, or one adding
/// nothing to the other, and never when numbers or negation differ.
pub(super) fn is_duplicate(
    a: &FeaturesRef<'_>,
    b: &FeaturesRef<'_>,
    score: f32,
    merge_threshold: f32,
) -> bool {
    if a.negated != b.negated || a.numbers != b.numbers {
        return false;
    }
    if a.norm_hash == b.norm_hash || score >= merge_threshold {
        return true;
    }
    let (only_a, only_b) = a.difference_sizes(b);
    (only_a == 0 || only_b == 0) && score >= 0.6
}

/// Content words of a text in the order written (at most 48), hashed as
/// `text::Features` hashes them.
fn sequence(text: &str) -> smallvec::SmallVec<[u64; 16]> {
    thread_local! {
        /// The normalized text, in a buffer kept between calls.
        static NORMALIZED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    NORMALIZED.with_borrow_mut(|normalized| {
        crate::text::normalize_into(text, normalized);
        let mut words = smallvec::SmallVec::new();
        crate::text::scan(normalized, |h| {
            if words.len() < 48 {
                words.push(h);
            }
        });
        words
    })
}

/// Whether the `shared` content words of two texts come in nearly the same
/// order (the longest common subsequence holds four in five of them). A
/// rewording keeps who does what to whom; the same words scrambled ("two
/// angels are making snow on the lying children", "two children are lying
/// in the snow making snow angels") say something else.
fn same_order(a: &str, b: &str, shared: usize) -> bool {
    if shared == 0 {
        return true;
    }
    let (a, b) = (sequence(a), sequence(b));
    // Longest common subsequence, one row at a time.
    let mut row = vec![0u16; b.len() + 1];
    for &x in &a {
        let mut diagonal = 0;
        for (j, &y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y { diagonal + 1 } else { above.max(row[j]) };
            diagonal = above;
        }
    }
    let lcs = usize::from(row[b.len()]).min(shared);
    lcs * 5 >= shared * 4
}

#[cfg(test)]
mod tests {
    use crate::text::{intersection_len, Features};

    fn same_order(a: &str, b: &str) -> bool {
        let shared = intersection_len(&Features::of(a).content, &Features::of(b).content);
        super::same_order(a, b, shared)
    }

    #[test]
    fn rewordings_keep_the_order_of_shared_words_scrambles_do_not() {
        assert!(same_order(
            "The user prefers dark mode in the editor.",
            "User preferred dark mode in editors"
        ));
        assert!(same_order(
            "Five children are standing in a wooden hut.",
            "Five children stand in a hut."
        ));
        assert!(!same_order(
            "Two angels are making snow on the lying children.",
            "Two children are lying in the snow and are making snow angels."
        ));
        assert!(!same_order(
            "A nude lady is walking in front of a crowd in body paint.",
            "A nude crowd in body paint is walking in front of a lady."
        ));
        assert!(!same_order(
            "A man with a camera is studying the subject.",
            "The study subject is a camera man."
        ));
    }
}
