//! Invariants no single example covers, checked over many seeded random
//! stores and transcripts: results do not depend on input order, and no
//! change references an entry that does not exist.

use std::collections::HashSet;

use reverie_core::apply::{apply, Review};
use reverie_core::pass::{run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::synth::{generate, Rng};
use reverie_core::{EntryKind, EvidenceSource, Id, MemoryEntry, MemoryStore, Message, Role, Session, Timestamp};

const CASES: u64 = 60;

fn config() -> PassConfig {
    PassConfig::recommended(Id::new("p").unwrap(), Timestamp(10_000 * Timestamp::DAY))
}

fn pass(store: &MemoryStore) -> reverie_core::pass::PassOutput {
    pass_with(store, &[])
}

fn pass_with(store: &MemoryStore, sessions: &[Session]) -> reverie_core::pass::PassOutput {
    let history = ReviewHistory::default();
    run_pass(&PassInput { store, sessions, history: &history, embeddings: None }, &config()).unwrap()
}

fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = Rng::new(seed);
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

fn shuffled(store: &MemoryStore, seed: u64) -> MemoryStore {
    let mut s = store.clone();
    shuffle(&mut s.entries, seed);
    s
}

/// Sessions of statements, corrections, preferences and tool failures
/// drawn from small vocabularies, so that they restate, contradict and
/// recur across sessions. Their ids are not in the order of their times.
fn sessions(count: usize, seed: u64) -> Vec<Session> {
    const CITIES: [&str; 4] = ["Lyon", "Berlin", "Porto", "Oslo"];
    const EDITORS: [&str; 3] = ["Helix", "Vim", "Zed"];
    let mut days: Vec<i64> = (0..count as i64).collect();
    shuffle(&mut days, seed ^ 0x5eed);
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|k| {
            let messages = (0..2 + rng.below(5))
                .map(|_| match rng.below(6) {
                    0 => Message::new(Role::User, format!("I live in {}.", CITIES[rng.below(4)])),
                    1 => Message::new(Role::User, format!("My editor is {}.", EDITORS[rng.below(3)])),
                    2 => Message::new(Role::User, "No, use tabs for indentation, not spaces."),
                    3 => Message::new(Role::User, format!("I prefer {} for quick edits.", EDITORS[rng.below(3)])),
                    4 => Message::new(Role::Tool, "Error: permission denied while writing the lockfile."),
                    _ => Message::new(Role::Assistant, "Noted, I will keep that in mind."),
                })
                .collect();
            Session {
                id: Id::new(format!("s{k:03}")).unwrap(),
                agent_id: Id::new("agent").unwrap(),
                started_at: Timestamp((9_000 + days[k]) * Timestamp::DAY),
                ended_at: None,
                messages,
            }
        })
        .collect()
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
fn proposals_do_not_depend_on_session_order() {
    let mut changes_from_sessions = 0;
    for seed in 0..CASES / 2 {
        let store = generate(50 + (seed as usize * 11) % 200, seed).store;
        let sessions = sessions(3 + seed as usize % 9, seed);
        let a = pass_with(&store, &sessions);
        let mut reordered = sessions.clone();
        shuffle(&mut reordered, seed ^ 0xbeef);
        let b = pass_with(&shuffled(&store, seed ^ 0xdead), &reordered);
        assert_eq!(a, b, "seed {seed}");
        changes_from_sessions += a
            .proposal
            .changes
            .iter()
            .filter(|c| c.evidence.iter().any(|e| matches!(e.source, EvidenceSource::Message { .. })))
            .count();
    }
    assert!(changes_from_sessions > 30, "{changes_from_sessions} changes cite sessions");
}

#[test]
fn memory_keeps_only_the_last_value_the_user_stated() {
    for seed in 0..CASES / 2 {
        let mut store = generate(50 + (seed as usize * 11) % 200, seed).store;
        store.entries.push(MemoryEntry::new(
            Id::new("editor").unwrap(),
            "User's editor is Emacs.",
            EntryKind::Fact,
            Timestamp(8_000 * Timestamp::DAY),
        ));
        let mut sessions = sessions(3 + seed as usize % 9, seed);
        let out = pass_with(&store, &sessions);
        let applied = apply(&store, &out.proposal, &Review::approve_all(&out.proposal, "u", Timestamp(0))).unwrap();
        sessions.sort_by_key(|s| s.started_at);
        // The last thing said with a prefix, in time order.
        let said = |prefix: &str| {
            let mut said = sessions.iter().flat_map(|s| &s.messages).filter_map(|m| m.content.strip_prefix(prefix));
            said.next_back().map(str::to_string)
        };
        let kept = |prefix: &str| -> Vec<String> {
            applied.store.active().filter_map(|e| e.text.strip_prefix(prefix)).map(str::to_string).collect()
        };
        let editor = said("My editor is ").unwrap_or_else(|| "Emacs.".into());
        assert_eq!(kept("User's editor is "), [editor], "seed {seed}");
        assert_eq!(kept("User lives in "), Vec::from_iter(said("I live in ")), "seed {seed}");
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
