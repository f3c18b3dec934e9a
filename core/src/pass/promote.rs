//! Stage 6: corrections, failures and preferences seen in enough sessions
//! become explicit entries.

use std::collections::BTreeMap;

use crate::dedup::{any_similar, exact_groups, similar_pairs, UnionFind};
use crate::entry::{EntryKind, Id, MemoryEntry, Provenance, Trust};
use crate::learn::{observations, ObservationKind};
use crate::proposal::{Change, ChangeKind, Evidence};
use crate::session::Session;
use crate::text::{Features, FeaturesRef};

use super::builder::{message_ref, placeholder_id, said_quote, Builder};

impl Builder<'_, '_> {
    /// Corrections, failures and preferences seen in enough sessions become
    /// explicit entries citing every session.
    pub(super) fn promote_patterns(&mut self, sessions: &[Session]) {
        let obs = observations(sessions);
        let features: Vec<Features> = obs.iter().map(|o| Features::of(&o.said.quote)).collect();
        let mut uf = UnionFind::new(obs.len());
        for p in similar_pairs(&features[..], 0.5) {
            if obs[p.a].kind == obs[p.b].kind {
                uf.union(p.a, p.b);
            }
        }
        for g in exact_groups(&features[..]).iter() {
            for w in g.windows(2) {
                if obs[w[0]].kind == obs[w[1]].kind {
                    uf.union(w[0], w[1]);
                }
            }
        }
        let groups = uf.groups();
        if groups.is_empty() {
            return;
        }
        // The groups seen in enough sessions, each with one piece of
        // evidence per session: the session's first observation.
        let recurring: Vec<BTreeMap<&Id, usize>> = groups
            .iter()
            .map(|group| {
                let mut per_session: BTreeMap<&Id, usize> = BTreeMap::new();
                for &i in group {
                    per_session.entry(&obs[i].said.session_id).or_insert(i);
                }
                per_session
            })
            .filter(|per_session| per_session.len() as u32 >= self.config.min_pattern_sessions)
            .collect();
        let representative = |per_session: &BTreeMap<&Id, usize>| {
            *per_session.values().next().expect("groups have members")
        };
        // Memory after this proposal: stored entries, and statements this
        // pass adds ("I prefer short answers" said in three sessions is
        // one entry, not an addition and a promotion); and what open
        // proposals would add.
        let patterned = |kind: EntryKind| {
            matches!(kind, EntryKind::Pattern | EntryKind::Mistake | EntryKind::Preference)
        };
        let waiting: Vec<Features> = self
            .input
            .open
            .iter()
            .filter(|c| c.targets.is_empty())
            .filter_map(|c| c.result.as_ref())
            .filter(|e| patterned(e.kind))
            .map(|e| Features::of(&e.text))
            .collect();
        let known: Vec<FeaturesRef<'_>> = self
            .items
            .iter()
            .enumerate()
            .filter(|&(i, item)| {
                patterned(item.kind) && (item.entry.is_some() || self.created.contains_key(&i))
            })
            .map(|(i, _)| self.items.features(i))
            .chain(waiting.iter().map(Features::borrowed))
            .collect();
        let quoted: Vec<FeaturesRef<'_>> =
            recurring.iter().map(|p| features[representative(p)].borrowed()).collect();
        let already_known = any_similar(&known, &quoted, 0.5);
        for (per_session, _) in recurring.iter().zip(already_known).filter(|(_, known)| !known) {
            let n = per_session.len() as u32;
            let representative = representative(per_session);
            let quote = obs[representative].said.quote.trim();
            let (kind, label) = match obs[representative].kind {
                ObservationKind::Correction => (EntryKind::Pattern, "Recurring user correction"),
                ObservationKind::ToolFailure => (EntryKind::Mistake, "Recurring tool failure"),
                ObservationKind::Preference => (EntryKind::Preference, "Repeated user preference"),
            };
            let mut entry = MemoryEntry::new(
                self.new_entry_id(),
                format!("{label} ({n} sessions): \"{quote}\""),
                kind,
                self.config.now,
            );
            let evidence: Vec<Evidence> =
                per_session.values().map(|&i| said_quote(&obs[i].said)).collect();
            let trusts: Vec<Trust> = per_session.values().map(|&i| obs[i].said.trust).collect();
            entry.provenance = Provenance {
                trust: trusts.iter().copied().max().unwrap_or(Trust::Agent),
                sources: per_session.values().map(|&i| message_ref(&obs[i].said)).collect(),
            };
            entry.observed_at = per_session.values().map(|&i| obs[i].said.at).max();
            entry.confidence = (0.5 + 0.1 * n as f32).min(0.95);
            self.push(
                Change {
                    id: placeholder_id(),
                    kind: ChangeKind::Promote,
                    targets: Vec::new(),
                    justification: format!("{label} seen in {n} sessions"),
                    evidence,
                    confidence: entry.confidence,
                    result: Some(entry),
                    risk: Vec::new(),
                    sessions_seen: Some(n),
                    made_by: None,
                },
                &[],
            );
        }
    }
}
