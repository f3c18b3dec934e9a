//! What the screens' tests build their proposals from.

use reverie_api::ChangeView;
use reverie_core::{Change, ChangeKind, EntryKind, Id, MemoryEntry, Timestamp};

/// A pending change of `kind` on `targets`, writing `result` (the entry's
/// id and text) if any.
pub(crate) fn change_view(
    id: &str,
    kind: ChangeKind,
    targets: &[&str],
    result: Option<(&str, &str)>,
) -> ChangeView {
    let entry = |id: &str, text: &str| {
        MemoryEntry::new(Id::new(id).unwrap(), text, EntryKind::Fact, Timestamp(0))
    };
    ChangeView {
        change: Change {
            id: Id::new(id).unwrap(),
            kind,
            targets: targets.iter().map(|t| Id::new(*t).unwrap()).collect(),
            result: result.map(|(id, text)| entry(id, text)),
            justification: "alike".into(),
            evidence: Vec::new(),
            confidence: 0.9,
            risk: Vec::new(),
            sessions_seen: None,
            made_by: None,
        },
        seq: 1,
        before: Vec::new(),
        diff: Vec::new(),
        decision: None,
        decided_by: None,
        decided_at: None,
        applied_version: None,
    }
}
