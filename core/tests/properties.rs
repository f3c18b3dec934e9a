//! Invariants no single example covers, checked over many seeded random
//! stores and transcripts: results do not depend on input order, and no
//! change references an entry that does not exist.

use std::collections::HashSet;

use reverie_core::apply::{apply, Review};
use reverie_core::pass::{run_pass, PassConfig, PassInput};
use reverie_core::review::ReviewHistory;
use reverie_core::synth::{generate, Rng};
use reverie_core::{
    EntryKind, EvidenceSource, Id, MemoryEntry, MemoryStore, Message, Role, Session, Timestamp,
};

const CASES: u64 = 60;

fn config() -> PassConfig {
    PassConfig::recommended(Id::new("p").unwrap(), Timestamp(10_000 * Timestamp::DAY))
}

fn pass(store: &MemoryStore) -> reverie_core::pass::PassOutput {
    pass_with(store, &[])
}

fn pass_with(store: &MemoryStore, sessions: &[Session]) -> reverie_core::pass::PassOutput {
    let history = ReviewHistory::default();
    run_pass(&PassInput::new(store, sessions, &history), &config()).unwrap()
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
                .map(|_| match rng.below(8) {
                    0 if rng.chance(0.5) => {
                        Message::new(Role::User, format!("I live in {}.", CITIES[rng.below(4)]))
                    }
                    0 => Message::new(Role::User, format!("I moved to {}.", CITIES[rng.below(4)])),
                    6 => Message::new(Role::User, "I use Slack for chat."),
                    7 => Message::new(Role::User, "I no longer use Slack."),
                    1 => {
                        Message::new(Role::User, format!("My editor is {}.", EDITORS[rng.below(3)]))
                    }
                    2 => Message::new(Role::User, "No, use tabs for indentation, not spaces."),
                    3 => Message::new(
                        Role::User,
                        format!("I prefer {} for quick edits.", EDITORS[rng.below(3)]),
                    ),
                    4 => Message::new(
                        Role::Tool,
                        "Error: permission denied while writing the lockfile.",
                    ),
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
            .filter(|c| {
                c.evidence.iter().any(|e| matches!(e.source, EvidenceSource::Message { .. }))
            })
            .count();
    }
    assert!(changes_from_sessions > 30, "{changes_from_sessions} changes cite sessions");
}

#[test]
fn memory_keeps_only_the_last_value_the_user_stated() {
    for seed in 0..CASES / 2 {
        let mut store = generate(50 + (seed as usize * 11) % 200, seed).store;
        for (id, text) in [
            ("editor", "User's editor is Emacs."),
            ("city", "User lives in Paris."),
            ("chat", "User uses Slack for chat."),
        ] {
            store.entries.push(MemoryEntry::new(
                Id::new(id).unwrap(),
                text,
                EntryKind::Fact,
                Timestamp(8_000 * Timestamp::DAY),
            ));
        }
        let mut sessions = sessions(3 + seed as usize % 9, seed);
        let out = pass_with(&store, &sessions);
        let applied =
            apply(&store, &out.proposal, &Review::approve_all(&out.proposal, "u", Timestamp(0)))
                .unwrap();
        sessions.sort_by_key(|s| s.started_at);
        // The last thing said with one of some prefixes, in time order,
        // with the prefix it was said with.
        let said = |prefixes: &[&str]| {
            let mut said = sessions.iter().flat_map(|s| &s.messages).filter_map(|m| {
                prefixes.iter().find_map(|&p| Some((p.to_string(), m.content.strip_prefix(p)?)))
            });
            said.next_back().map(|(p, rest)| (p, rest.to_string()))
        };
        // What memory holds after any of some prefixes.
        let kept = |prefixes: &[&str]| -> Vec<String> {
            let held = applied
                .store
                .active()
                .filter_map(|e| prefixes.iter().find_map(|&p| e.text.strip_prefix(p)));
            held.map(str::to_string).collect()
        };
        let editor = said(&["My editor is "]).map_or("Emacs.".into(), |(_, value)| value);
        assert_eq!(kept(&["User's editor is "]), [editor], "seed {seed}");
        let city = said(&["I live in ", "I moved to "]).map_or("Paris.".into(), |(_, value)| value);
        assert_eq!(kept(&["User lives in ", "User moved to "]), [city], "seed {seed}");
        let chat = match said(&["I use Slack", "I no longer use Slack"]) {
            Some((p, _)) if p.contains("no longer") => vec![],
            _ => vec![" for chat.".to_string()],
        };
        assert_eq!(kept(&["User uses Slack"]), chat, "seed {seed}");
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
                assert!(
                    out.proposal.base_fingerprints.contains_key(t),
                    "seed {seed}: no fingerprint for {t}"
                );
            }
        }
    }
}
