//! Diffs for reviewers: word-level diffs of an entry's text (structured
//! spans for the dashboard), per-entry diffs between two versions of a
//! store, and a unified text diff of a whole store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use similar::TextDiff;

use crate::entry::{Id, MemoryEntry, Status};

/// Whether a span of a word diff is kept, inserted or deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffTag {
    /// In both texts.
    Equal,
    /// Only in the text after.
    Insert,
    /// Only in the text before.
    Delete,
}

/// A run of text with one tag. Equal and deleted spans concatenate to the
/// text before, equal and inserted spans to the text after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSpan {
    /// Whether the text is kept, inserted or deleted.
    pub tag: DiffTag,
    /// The words, with the whitespace between them.
    pub text: String,
}

/// Word-level diff of two texts; whitespace stays inside the spans and
/// adjacent spans with the same tag are joined. The texts are cut into
/// runs of whitespace and runs of anything else, and the longest common
/// run of tokens is kept; where a token is deleted and another inserted,
/// the deletion comes first.
///
/// Written here rather than taken from a diff library: the dashboard
/// links this, and one word diff does not need a library's algorithms.
pub fn word_diff(before: &str, after: &str) -> Vec<DiffSpan> {
    let (a, b) = (tokens(before), tokens(after));
    // Common ends are kept as they are; only the middle is compared.
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail =
        a[head..].iter().rev().zip(b[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (mid_a, mid_b) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut spans: Vec<DiffSpan> = Vec::new();
    let mut push = |tag: DiffTag, text: &str| match spans.last_mut() {
        Some(last) if last.tag == tag => last.text.push_str(text),
        _ if text.is_empty() => {}
        _ => spans.push(DiffSpan { tag, text: text.to_string() }),
    };
    a[..head].iter().for_each(|t| push(DiffTag::Equal, t));
    for (tag, t) in middle(mid_a, mid_b) {
        push(tag, t);
    }
    a[a.len() - tail..].iter().for_each(|t| push(DiffTag::Equal, t));
    spans
}

/// The most cells the comparison of two middles may take (a megabyte of
/// lengths); past it the middles are shown as one deletion and one
/// insertion, which is still a true diff, only a coarser one.
const MAX_CELLS: usize = 1 << 18;

/// The tokens of two middles, tagged: a longest common subsequence kept,
/// the rest deleted or inserted, deletions first.
fn middle<'t>(a: &[&'t str], b: &[&'t str]) -> Vec<(DiffTag, &'t str)> {
    let (n, m) = (a.len(), b.len());
    if (n + 1).saturating_mul(m + 1) > MAX_CELLS {
        let deleted = a.iter().map(|t| (DiffTag::Delete, *t));
        return deleted.chain(b.iter().map(|t| (DiffTag::Insert, *t))).collect();
    }
    // lcs[i * (m + 1) + j]: the longest common subsequence of a[i..], b[j..].
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * (m + 1) + j] = if a[i] == b[j] {
                lcs[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
            };
        }
    }
    let mut out = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push((DiffTag::Equal, a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
            out.push((DiffTag::Delete, a[i]));
            i += 1;
        } else {
            out.push((DiffTag::Insert, b[j]));
            j += 1;
        }
    }
    out
}

/// A text as runs of whitespace and runs of anything else, in order.
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut space = None;
    for (k, c) in text.char_indices() {
        let is_space = c.is_whitespace();
        if space.is_some_and(|s| s != is_space) {
            out.push(&text[start..k]);
            start = k;
        }
        space = Some(is_space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Whether an entry was added, removed or changed between two versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryChange {
    /// Only in the later version.
    Added,
    /// Only in the earlier version.
    Removed,
    /// In both versions, differing in some field.
    Changed,
}

/// How one entry differs between two versions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryDiff {
    /// The entry's id.
    pub id: Id,
    /// Whether the entry was added, removed or changed.
    pub change: EntryChange,
    /// Word diff of the text (all inserted for an added entry, all deleted
    /// for a removed one).
    pub text: Vec<DiffSpan>,
    /// The status before, as `status_name` gives it; None for an added entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_before: Option<String>,
    /// The status after, as `status_name` gives it; None for a removed entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_after: Option<String>,
    /// Once retired in this version: the entry that took its place (merged
    /// into, superseded by), or why it was pruned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<Retired>,
}

/// How an entry left the active set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retired {
    /// Folded into this entry.
    MergedInto(Id),
    /// Replaced by this entry.
    SupersededBy(Id),
    /// Pruned, for this reason.
    Pruned(String),
}

impl Retired {
    /// How `status` retired an entry; `None` for an active one.
    pub fn of(status: &Status) -> Option<Retired> {
        match status {
            Status::Active => None,
            Status::Merged { merged_into } => Some(Retired::MergedInto(merged_into.clone())),
            Status::Superseded { superseded_by, .. } => {
                Some(Retired::SupersededBy(superseded_by.clone()))
            }
            Status::Pruned { reason } => Some(Retired::Pruned(reason.clone())),
        }
    }
}

/// The name of a status, as the dashboard shows it.
pub fn status_name(status: &Status) -> &'static str {
    match status {
        Status::Active => "active",
        Status::Superseded { .. } => "superseded",
        Status::Merged { .. } => "merged",
        Status::Pruned { .. } => "pruned",
    }
}

/// Entries added, removed or changed between two versions, by id;
/// unchanged entries are left out.
pub fn entry_diffs(before: &[MemoryEntry], after: &[MemoryEntry]) -> Vec<EntryDiff> {
    let old: BTreeMap<&Id, &MemoryEntry> = before.iter().map(|e| (&e.id, e)).collect();
    let new: BTreeMap<&Id, &MemoryEntry> = after.iter().map(|e| (&e.id, e)).collect();
    let mut ids: Vec<&Id> = old.keys().chain(new.keys()).copied().collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| {
            let (b, a) = (old.get(id).copied(), new.get(id).copied());
            let change = match (b, a) {
                (None, Some(_)) => EntryChange::Added,
                (Some(_), None) => EntryChange::Removed,
                (Some(b), Some(a)) if b != a => EntryChange::Changed,
                _ => return None,
            };
            Some(EntryDiff {
                id: id.clone(),
                change,
                text: word_diff(
                    b.map_or("", |e| e.text.as_str()),
                    a.map_or("", |e| e.text.as_str()),
                ),
                status_before: b.map(|e| status_name(&e.status).to_string()),
                status_after: a.map(|e| status_name(&e.status).to_string()),
                // Said only when this version retired it.
                retired: a
                    .filter(|a| b.is_none_or(|b| b.status != a.status))
                    .and_then(|a| Retired::of(&a.status)),
            })
        })
        .collect()
}

/// One line per entry, sorted by id: `<id> [<kind>] (<status>) <text>`,
/// newlines in the text shown as `⏎`.
fn render(entries: &[MemoryEntry]) -> String {
    let mut sorted: Vec<&MemoryEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = String::new();
    for e in sorted {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} [{kind}] ({}) {}\n",
            e.id,
            status_name(&e.status),
            e.text.replace('\n', "⏎")
        ));
    }
    out
}

/// A unified diff (three lines of context) of two versions of a store.
pub fn store_unified_diff(
    before: &[MemoryEntry],
    before_label: &str,
    after: &[MemoryEntry],
    after_label: &str,
) -> String {
    let (old, new) = (render(before), render(after));
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(before_label, after_label)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{EntryKind, Timestamp};

    fn spans(before: &str, after: &str) -> String {
        word_diff(before, after)
            .iter()
            .map(|s| match s.tag {
                DiffTag::Equal => s.text.clone(),
                DiffTag::Insert => format!("{{+{}+}}", s.text),
                DiffTag::Delete => format!("[-{}-]", s.text),
            })
            .collect()
    }

    #[test]
    fn word_diffs_mark_changed_words() {
        let check =
            |before: &str, after: &str, expected: &str| assert_eq!(spans(before, after), expected);
        check(
            "The user's shell is bash.",
            "The user's shell is fish.",
            "The user's shell is [-bash.-]{+fish.+}",
        );
        check("", "new entry", "{+new entry+}");
        check("gone", "", "[-gone-]");
        check("same  text", "same  text", "same  text");
        // A merge's kept text against the entries before it, one a line.
        check(
            "The user prefers dark mode.\nUser preferred dark mode",
            "The user prefers dark mode.",
            "The user prefers dark mode.[-\nUser preferred dark mode-]",
        );
        check("x y", "p y", "[-x-]{+p+} y");
    }

    #[test]
    fn spans_rebuild_both_texts() {
        // Middles too long to compare word by word come out as one
        // deletion and one insertion: still both texts.
        let long_a: String = (0..700).map(|k| format!("a{k} ")).collect();
        let long_b: String = (0..700).map(|k| format!("b{k} ")).collect();
        let pairs = [
            (long_a.as_str(), long_b.as_str()),
            ("", ""),
            ("a b c", "a c d"),
            ("Ünïcode  spaces\nand lines", "Unicode spaces\n\nand lines!"),
            ("Deploys need a green CI run", "Before deploying, CI must be green"),
        ];
        for (before, after) in pairs {
            let d = word_diff(before, after);
            let rebuild = |skip: DiffTag| {
                d.iter().filter(|s| s.tag != skip).map(|s| s.text.as_str()).collect::<String>()
            };
            assert_eq!(rebuild(DiffTag::Insert), before);
            assert_eq!(rebuild(DiffTag::Delete), after);
        }
    }

    fn entry(id: &str, text: &str, status: Status) -> MemoryEntry {
        let mut e = MemoryEntry::new(Id::new(id).unwrap(), text, EntryKind::Fact, Timestamp(0));
        e.status = status;
        e
    }

    #[test]
    fn store_diffs() {
        let before = vec![
            entry("m1", "The user's shell is bash.", Status::Active),
            entry("m2", "Deploys happen on Tuesdays.", Status::Active),
            entry("m3", "Line one\nline two", Status::Active),
        ];
        let after = vec![
            entry(
                "m1",
                "The user's shell is bash.",
                Status::Superseded {
                    superseded_by: Id::new("m4").unwrap(),
                    valid_until: Timestamp(5),
                },
            ),
            entry("m2", "Deploys happen on Tuesdays.", Status::Active),
            entry("m3", "Line one\nline two", Status::Active),
            entry("m4", "The user's shell is fish.", Status::Active),
        ];
        assert_eq!(
            store_unified_diff(&before, "store@3", &after, "store@4"),
            "\
--- store@3
+++ store@4
@@ -1,3 +1,4 @@
-m1 [fact] (active) The user's shell is bash.
+m1 [fact] (superseded) The user's shell is bash.
 m2 [fact] (active) Deploys happen on Tuesdays.
 m3 [fact] (active) Line one⏎line two
+m4 [fact] (active) The user's shell is fish.
"
        );
        let diffs = entry_diffs(&before, &after);
        assert_eq!(diffs[0].retired, Some(Retired::SupersededBy(Id::new("m4").unwrap())));
        assert_eq!(diffs[1].retired, None, "an added entry retired nothing");
        // Said only by the version that retired it: a later edit of its
        // text leaves it out.
        let mut later = after.clone();
        later[0].text = "The user's shell was bash.".into();
        assert_eq!(entry_diffs(&after, &later)[0].retired, None);
        let pruned = vec![entry(
            "m2",
            "Deploys happen on Tuesdays.",
            Status::Pruned { reason: "stale".into() },
        )];
        assert_eq!(
            entry_diffs(&before[1..2], &pruned)[0].retired,
            Some(Retired::Pruned("stale".into()))
        );
        let summary: Vec<(String, EntryChange, Option<String>, Option<String>)> = diffs
            .into_iter()
            .map(|d| (d.id.to_string(), d.change, d.status_before, d.status_after))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "m1".into(),
                    EntryChange::Changed,
                    Some("active".into()),
                    Some("superseded".into())
                ),
                ("m4".into(), EntryChange::Added, None, Some("active".into())),
            ]
        );
    }
}
