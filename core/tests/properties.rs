//! Invariants no single example covers, checked over many seeded random
//! stores: results do not depend on input order, and no change references
//! an entry that does not exist.

use std::collections::HashSet;

use reverie_core::pass::{run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::synth::{generate, Rng};
use reverie_core::{Id, MemoryStore, Timestamp};

const CASES: u64 = 60;

fn config() -> PassConfig {
    PassConfig::recommended(Id::new("p").unwrap(), Timestamp(10_000 * Timestamp::DAY))
}

fn pass(store: &MemoryStore) -> reverie_core::pass::PassOutput {
    let history = ReviewHistory::default();
    run_pass(&PassInput { store, sessions: &[], history: &history, embeddings: None }, &config()).unwrap()
}

fn shuffled(store: &MemoryStore, seed: u64) -> MemoryStore {
    let mut s = store.clone();
    let mut rng = Rng::new(seed);
    for i in (1..s.entries.len()).rev() {
        let j = rng.below(i + 1);
        s.entries.swap(i, j);
    }
    s
}

#[test]
fn proposals_do_not_depend_on_entry_order() {
    for seed in 0..CASES {
        let store = generate(50 + (seed as usize * 7) % 300, seed).store;
        let a = pass(&store);
        let b = pass(&shuffled(&store, seed ^ 0xdead));
        assert_eq!(a, b, "seed {seed}");
    }
}

#[test]
fn changes_reference_only_existing_active_entries_once() {
    for seed in 0..CASES {
        let store = generate(50 + (seed as usize * 13) % 400, seed).store;
        let ids: HashSet<&Id> = store.active().map(|e| &e.id).collect();
        let out = pass(&store);
        let mut touched = HashSet::new();
        for c in &out.proposal.changes {
            for t in &c.targets {
                assert!(ids.contains(t), "seed {seed}: {} targets unknown {t}", c.id);
                assert!(touched.insert(t.clone()), "seed {seed}: {t} touched twice");
                assert!(out.proposal.base_fingerprints.contains_key(t), "seed {seed}: no fingerprint for {t}");
            }
        }
    }
}
