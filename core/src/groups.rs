//! Disjoint sets, for turning pairs of alike items into groups, and the
//! groups themselves, all in one array however many there are.

/// Disjoint sets over `0..n`, for turning pairs into groups.
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind { parent: (0..n as u32).collect() }
    }

    pub fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] as usize != x {
            let grand = self.parent[self.parent[x] as usize];
            self.parent[x] = grand;
            x = grand as usize;
        }
        x
    }

    /// Joins the sets of `a` and `b`; the smaller root becomes the root, so
    /// the result does not depend on the order of unions.
    pub fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi] = lo as u32;
        }
    }

    /// The sets with two or more members, each sorted, ordered by first
    /// member. Only items that were joined are sorted, not all of them.
    pub fn groups(&mut self) -> Groups {
        // A root is its set's smallest member (`union` keeps the smaller
        // root), so sorting by root, then member, lines the groups up by
        // first member, each sorted.
        let joined: Vec<usize> =
            (0..self.parent.len()).filter(|&i| self.parent[i] as usize != i).collect();
        let mut by_root: Vec<u64> = Vec::with_capacity(joined.len() * 2);
        for i in joined {
            let root = self.find(i) as u64;
            by_root.push(root << 32 | i as u64);
            by_root.push(root << 32 | root);
        }
        by_root.sort_unstable();
        by_root.dedup();
        let mut groups = Groups { members: Vec::with_capacity(by_root.len()), ends: Vec::new() };
        for run in by_root.chunk_by(|x, y| x >> 32 == y >> 32).filter(|run| run.len() > 1) {
            groups.members.extend(run.iter().map(|&k| (k & u64::from(u32::MAX)) as usize));
            groups.ends.push(groups.members.len());
        }
        groups
    }
}

/// Sets of two or more from `UnionFind::groups`, each sorted, ordered by
/// first member; all in one array, however many there are.
#[derive(Debug, Default, PartialEq)]
pub struct Groups {
    pub(crate) members: Vec<usize>,
    /// Where each group ends in `members`.
    pub(crate) ends: Vec<usize>,
}

impl Groups {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Group `k`; empty past the last.
    pub fn get(&self, k: usize) -> &[usize] {
        let Some(&end) = self.ends.get(k) else { return &[] };
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.members[start..end]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[usize]> + '_ {
        (0..self.len()).map(|k| self.get(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_find_groups_are_order_independent() {
        let mut a = UnionFind::new(6);
        a.union(4, 1);
        a.union(1, 3);
        a.union(5, 0);
        let mut b = UnionFind::new(6);
        b.union(0, 5);
        b.union(3, 1);
        b.union(1, 4);
        let groups = a.groups();
        assert_eq!(groups.iter().collect::<Vec<_>>(), [&[0, 5][..], &[1, 3, 4]]);
        assert_eq!((groups.len(), groups.get(2)), (2, &[][..]));
        assert_eq!(groups, b.groups());
        assert!(UnionFind::new(3).groups().is_empty());
    }
}
