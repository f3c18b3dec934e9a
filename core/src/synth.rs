//! Seeded synthetic memory stores with planted duplicates, paraphrases and
//! superseded facts, and the ground truth to score a pass against. Used by
//! the scale benchmark (natively and in WASM) and by property tests.

use std::collections::HashSet;

use crate::entry::{EntryKind, Id, MemoryEntry, Timestamp};
pub use crate::rng::Rng;
use crate::store::{MemoryStore, Scope};

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ren", "sa", "to", "vi", "dor", "el", "fu", "gan", "hi", "jo", "ku", "lan",
    "mor", "ne", "pa", "qui", "ro", "sen", "ta", "ul", "ve", "wy", "xo", "ya", "zen",
];
const ATTRIBUTES: &[&str] = &[
    "editor",
    "shell",
    "timezone",
    "deploy day",
    "database",
    "language",
    "framework",
    "cloud region",
    "ticket queue",
    "on-call rotation",
    "build tool",
    "test runner",
    "package manager",
    "CI provider",
    "issue tracker",
    "chat tool",
    "code review tool",
    "home city",
    "employer",
    "team",
    "manager",
    "laptop",
    "keyboard layout",
    "browser",
    "terminal font",
    "color theme",
    "monitoring tool",
    "log store",
    "message queue",
    "cache",
    "VPN",
    "password manager",
    "calendar",
    "meeting day",
    "lunch spot",
    "coffee order",
    "favourite snack",
    "pet",
    "gym",
    "commute",
];
const FILLERS: &[&str] =
    &["currently", "for now", "these days", "as of this quarter", "per the last review"];

/// What the generator planted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Truth {
    /// (original, copy): the copy says the same as the original.
    pub duplicates: Vec<(Id, Id)>,
    /// (old, new): the new entry supersedes the old.
    pub supersessions: Vec<(Id, Id)>,
}

impl Truth {
    /// Every pair of entries the planted duplicates make alike, directly
    /// or through a chain of copies, each pair in id order.
    pub fn duplicate_pairs(&self) -> std::collections::BTreeSet<(Id, Id)> {
        let Some(first) = self.duplicates.first() else { return Default::default() };
        let mut index: std::collections::BTreeMap<&Id, usize> = std::collections::BTreeMap::new();
        for (a, b) in &self.duplicates {
            for id in [a, b] {
                let n = index.len();
                index.entry(id).or_insert(n);
            }
        }
        let mut names: Vec<&Id> = vec![&first.0; index.len()];
        for (&id, &i) in &index {
            names[i] = id;
        }
        let mut uf = crate::dedup::UnionFind::new(index.len());
        for (a, b) in &self.duplicates {
            uf.union(index[a], index[b]);
        }
        let mut pairs = std::collections::BTreeSet::new();
        for g in uf.groups().iter() {
            for (k, &a) in g.iter().enumerate() {
                for &b in &g[k + 1..] {
                    let (x, y) = (names[a].clone(), names[b].clone());
                    pairs.insert(if x <= y { (x, y) } else { (y, x) });
                }
            }
        }
        pairs
    }
}

/// A generated store and what was planted in it.
pub struct Synthetic {
    /// The store.
    pub store: MemoryStore,
    /// The planted duplicates and supersessions.
    pub truth: Truth,
}

fn word(rng: &mut Rng, syllables: usize) -> String {
    (0..syllables).map(|_| SYLLABLES[rng.below(SYLLABLES.len())]).collect()
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// A store of `n` active entries: about 80% distinct facts and notes, 8%
/// exact duplicates (case and punctuation changed), 6% paraphrases and 6%
/// newer values for an existing fact. Subjects are drawn from 28^5 (17
/// million) made-up names and values from 28^4-word vocabularies, so that up
/// to a million entries the background stays distinct and only the planted
/// pairs are alike: the work per entry should not depend on the size.
pub fn generate(n: usize, seed: u64) -> Synthetic {
    let mut rng = Rng::new(seed);
    let mut entries: Vec<MemoryEntry> = Vec::with_capacity(n);
    let mut truth = Truth::default();
    // Facts that may still be copied or superseded: (entry index, subject, attribute).
    let mut facts: Vec<(usize, String, &str)> = Vec::new();
    let mut used_slots: HashSet<(String, &str)> = HashSet::new();
    // An entry is either copied or superseded, never both, so the truth
    // stays unambiguous.
    let mut touched: HashSet<usize> = HashSet::new();
    let day = Timestamp::DAY;
    for i in 0..n {
        let id = Id::new(format!("m{i:07}")).expect("generated ids are valid");
        let at = Timestamp(i as i64 * 60_000);
        let roll = rng.below(100);
        let pick = (!facts.is_empty()).then(|| rng.below(facts.len()));
        let entry = match (roll, pick) {
            (0..=7, Some(k)) if !touched.contains(&facts[k].0) => {
                let original = &entries[facts[k].0];
                let text = if rng.chance(0.5) {
                    original.text.to_uppercase()
                } else {
                    original.text.trim_end_matches('.').to_lowercase()
                };
                truth.duplicates.push((original.id.clone(), id.clone()));
                touched.insert(facts[k].0);
                let mut e = MemoryEntry::new(id, text, original.kind, at);
                e.subject = original.subject.clone();
                e
            }
            (8..=13, Some(k)) if !touched.contains(&facts[k].0) => {
                let original = &entries[facts[k].0];
                let filler = FILLERS[rng.below(FILLERS.len())];
                let text = if rng.chance(0.5) {
                    format!("{} {filler}", original.text.trim_end_matches('.'))
                } else {
                    original.text.replacen(" is ", " is set to ", 1).replacen(
                        " mentioned ",
                        " brought up ",
                        1,
                    )
                };
                truth.duplicates.push((original.id.clone(), id.clone()));
                touched.insert(facts[k].0);
                let mut e = MemoryEntry::new(id, text, original.kind, at);
                e.subject = original.subject.clone();
                e
            }
            (14..=19, Some(k)) if !touched.contains(&facts[k].0) && facts[k].2 != "note" => {
                let (old_index, subject, attribute) = facts[k].clone();
                let old = &entries[old_index];
                let value = format!("{} {}", word(&mut rng, 4), word(&mut rng, 4));
                let text = if rng.chance(0.5) {
                    format!("{}'s {attribute} is {value}.", capitalized(&subject))
                } else {
                    let old_value =
                        old.text.rsplit(" is ").next().unwrap_or("").trim_end_matches('.');
                    format!("{} switched from {old_value} to {value}.", capitalized(&subject))
                };
                truth.supersessions.push((old.id.clone(), id.clone()));
                touched.insert(old_index);
                let mut e = MemoryEntry::new(id, text, EntryKind::Fact, at);
                e.observed_at = Some(Timestamp(at.0 + day));
                e
            }
            _ if rng.chance(0.75) => {
                let (subject, attribute) = loop {
                    let s = word(&mut rng, 5);
                    let a = ATTRIBUTES[rng.below(ATTRIBUTES.len())];
                    if used_slots.insert((s.clone(), a)) {
                        break (s, a);
                    }
                };
                let value = format!("{} {}", word(&mut rng, 4), word(&mut rng, 4));
                facts.push((i, subject.clone(), attribute));
                MemoryEntry::new(
                    id,
                    format!("{}'s {attribute} is {value}.", capitalized(&subject)),
                    EntryKind::Fact,
                    at,
                )
            }
            _ => {
                let subject = word(&mut rng, 5);
                let words: Vec<String> = (0..6).map(|_| word(&mut rng, 4)).collect();
                let text = format!(
                    "{} mentioned {} near {}.",
                    capitalized(&subject),
                    words[..3].join(" "),
                    words[3..].join(" ")
                );
                facts.push((i, subject, "note"));
                MemoryEntry::new(id, text, EntryKind::Note, at)
            }
        };
        entries.push(entry);
    }
    let store = MemoryStore {
        id: Id::new("synthetic").expect("valid literal"),
        version: 1,
        scope: Scope::Private { agent_id: Id::new("agent_synthetic").expect("valid literal") },
        entries,
    };
    Synthetic { store, truth }
}
