//! Another system's dream, reviewed like one of ours: given the entries of
//! a memory before (as the store holds them) and the entries of the same
//! memory after the other system rewrote it, the difference as typed
//! changes, each decided on its own.
//!
//! Entries are matched by content, not by file or place:
//! - an after entry with the text of a before entry (words and case
//!   aside) is that entry, unchanged;
//! - an after entry holding most of the words of one before entry rewrites
//!   it (`edit`); of several, joins them (`merge` when it keeps one's
//!   text, else `consolidate`);
//! - an after entry holding none is new (`add`);
//! - a before entry no after entry holds is dropped (`prune`), never
//!   silently.
//!
//! A rewrite that loses a number, a name or a negation of what it replaces
//! says so, and is proposed with low confidence.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::entry::{Id, MemoryEntry, Timestamp};
use crate::proposal::{
    change_id, entry_quote, Change, ChangeKind, Evidence, Fingerprint, Proposal, Summary, TokenCost,
};
use crate::risk::{add_risk_flags, MessagesRead};
use crate::store::MemoryStore;
use crate::text::{intersection_len, normalize, Features};

/// The share of a before entry's content words an after entry must hold
/// to be taken for its rewrite.
const HOLDS: f32 = 0.6;

/// The proposal that turns `before` (active entries of `store`) into
/// `after` (entries read from the other system's version).
pub fn compare(
    store: &MemoryStore,
    before: &[&MemoryEntry],
    after: &[MemoryEntry],
    proposal_id: Id,
    now: Timestamp,
    large_deletion: usize,
) -> Proposal {
    let words = |text: &str| Features::of(text).content.to_vec();
    let before_words: Vec<Vec<u64>> = before.iter().map(|e| words(&e.text)).collect();
    let after_words: Vec<Vec<u64>> = after.iter().map(|e| words(&e.text)).collect();
    // 1. The same text: unchanged.
    let mut by_text: HashMap<String, Vec<usize>> = HashMap::new();
    for (b, e) in before.iter().enumerate().rev() {
        by_text.entry(normalize(&e.text)).or_default().push(b);
    }
    let mut before_done = vec![false; before.len()];
    let mut exact: Vec<Option<usize>> = vec![None; after.len()];
    for (a, e) in after.iter().enumerate() {
        if let Some(b) = by_text.get_mut(&normalize(&e.text)).and_then(Vec::pop) {
            before_done[b] = true;
            exact[a] = Some(b);
        }
    }
    // 2. Each remaining before entry goes to the after entry holding the
    // largest share of its words, if that share is large enough (one kept
    // as it was included: what it holds was merged into it).
    let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
    for (a, w) in after_words.iter().enumerate() {
        for &word in w {
            index.entry(word).or_default().push(a);
        }
    }
    let mut holds: Vec<Vec<usize>> = vec![Vec::new(); after.len()];
    for (b, w) in before_words.iter().enumerate() {
        if before_done[b] {
            continue;
        }
        let candidates: HashSet<usize> =
            w.iter().filter_map(|word| index.get(word)).flatten().copied().collect();
        let best = candidates
            .into_iter()
            .map(|a| (intersection_len(w, &after_words[a]), a))
            .filter(|&(shared, _)| {
                !w.is_empty() && shared as f32 >= HOLDS * w.len() as f32 && shared >= w.len().min(2)
            })
            .max_by_key(|&(shared, a)| (shared * 1000 / w.len().max(1), std::cmp::Reverse(a)));
        if let Some((_, a)) = best {
            holds[a].push(b);
            before_done[b] = true;
        }
    }
    let ids: HashSet<&str> = store.entries.iter().map(|e| e.id.as_str()).collect();
    let mut changes = Vec::new();
    for (a, e) in after.iter().enumerate() {
        let mut sources: Vec<&MemoryEntry> = exact[a].iter().map(|&b| before[b]).collect();
        if !sources.is_empty() && holds[a].is_empty() {
            continue; // Kept as it was.
        }
        sources.extend(holds[a].iter().map(|&b| before[b]));
        changes.push(change_for(e, &sources, &ids, now));
    }
    // 3. Before entries no after entry holds: dropped by the other system.
    for e in before.iter().zip(&before_done).filter(|(_, done)| !**done).map(|(e, _)| e) {
        changes.push(Change {
            id: Id::unassigned(),
            kind: ChangeKind::Prune,
            targets: vec![e.id.clone()],
            result: None,
            justification: "The other system's version no longer has this entry, in these or \
                            other words."
                .into(),
            evidence: vec![entry_quote(e)],
            confidence: 0.5,
            risk: Vec::new(),
            sessions_seen: None,
            made_by: None,
        });
    }
    let shared = store.scope.is_shared();
    let sessions = rustc_hash::FxHashMap::default();
    let mut read = MessagesRead::default();
    let by_id: HashMap<&Id, &MemoryEntry> = before.iter().map(|e| (&e.id, *e)).collect();
    let mut fingerprints = BTreeMap::new();
    for (n, change) in changes.iter_mut().enumerate() {
        change.id = change_id(n + 1);
        let result = change.result.clone();
        let mut entries: Vec<&MemoryEntry> =
            change.targets.iter().filter_map(|t| by_id.get(t).copied()).collect();
        entries.extend(result.as_ref());
        add_risk_flags(change, &entries, shared, &sessions, &mut read, large_deletion);
        for t in &change.targets {
            if let Some(e) = by_id.get(t) {
                fingerprints.insert(t.clone(), Fingerprint::of(e));
            }
        }
    }
    let counts = Summary::count(&changes);
    Proposal {
        id: proposal_id,
        store_id: store.id.clone(),
        base_version: store.version,
        created_at: now,
        changes,
        token_cost: TokenCost::default(),
        summary: Summary { counts, ..Summary::default() },
        base_fingerprints: fingerprints,
    }
}

/// The change that makes after entry `e` from the before entries it holds.
fn change_for(
    e: &MemoryEntry,
    sources: &[&MemoryEntry],
    ids: &HashSet<&str>,
    now: Timestamp,
) -> Change {
    let mut result = e.clone();
    result.created_at = now;
    let kept = sources.iter().find(|s| normalize(&s.text) == normalize(&e.text));
    let (kind, justification) = match (sources, kept) {
        ([], _) => (ChangeKind::Add, "The other system's version adds this entry.".to_string()),
        ([only], _) => {
            result.id = only.id.clone();
            result.kind = only.kind;
            result.subject.clone_from(&only.subject);
            result.provenance = only.provenance.clone();
            result.created_at = only.created_at;
            (ChangeKind::Edit, "The other system's version rewords this entry.".to_string())
        }
        (_, Some(k)) => {
            result = (*k).clone();
            (
                ChangeKind::Merge,
                format!("The other system's version keeps one of {} entries.", sources.len()),
            )
        }
        (_, None) => (
            ChangeKind::Consolidate,
            format!("The other system's version combines {} entries into one.", sources.len()),
        ),
    };
    // A new entry needs an id of its own in the store.
    if matches!(kind, ChangeKind::Add | ChangeKind::Consolidate) && ids.contains(result.id.as_str())
    {
        result.id = (2..)
            .filter_map(|n| Id::new(format!("{}.r{n}", e.id)).ok())
            .find(|id| !ids.contains(id.as_str()))
            .expect("an unbounded range finds a free id");
    }
    let keeps = sources.is_empty()
        || crate::sentence::keeps_facts(sources.iter().map(|s| s.text.as_str()), &e.text, false);
    let evidence: Vec<Evidence> = sources.iter().map(|s| entry_quote(s)).collect();
    Change {
        id: Id::unassigned(),
        kind,
        targets: sources.iter().map(|s| s.id.clone()).collect(),
        justification: if keeps {
            justification
        } else {
            format!(
                "{justification} It does not keep every number, name and negation of what it \
                 replaces: check it before accepting."
            )
        },
        evidence,
        confidence: if keeps { 0.7 } else { 0.3 },
        result: Some(result),
        risk: Vec::new(),
        sessions_seen: None,
        made_by: None,
    }
}
