//! Memory kept as a listing of records in a service: mem0's `get_all`
//! (`{"results": [{id, memory, hash, metadata, user_id, agent_id, run_id,
//! created_at, updated_at}]}`) and a memory store's listing (`{"data":
//! [{id, path, content, content_sha256}]}`, ids `mem_…`). Each record is
//! an entry under the service's own id. A service is not a file: an
//! export is the list of operations to send it, by id, never the listing
//! rewritten (see [`operations`]).

use serde_json::{json, Value};

use crate::entry::{EntryKind, Id, MemoryEntry, Provenance, Timestamp, Trust};
use crate::error::{Error, Result};

use super::jsonl::{array_at, object_at, Member};
use super::{line_of, Fate, File, Format, Skipped, Span};

/// Where a service keeps what the entry needs.
struct Shape {
    /// The key of the list in a listing object.
    list: &'static str,
    /// The record's text.
    text: &'static str,
    /// The record's content hash, sent back so an update applies only to
    /// the record as it was read.
    hash: &'static str,
}

fn shape(format: Format) -> Shape {
    match format {
        Format::Mem0 => Shape { list: "results", text: "memory", hash: "hash" },
        _ => Shape { list: "data", text: "content", hash: "content_sha256" },
    }
}

/// The rows of mem0's history (`{"results": [...]}` or a bare array of
/// `{memory_id, event, old_memory, new_memory, created_at, updated_at}`),
/// if `doc` is one.
fn history_rows(doc: &Value) -> Option<&Vec<Value>> {
    let rows = match doc {
        Value::Object(o) => o.get("results")?.as_array()?,
        Value::Array(rows) => rows,
        _ => return None,
    };
    let first = rows.first()?;
    (first.get("memory_id").is_some_and(Value::is_string)
        && first.get("event").is_some_and(Value::is_string))
    .then_some(rows)
}

/// The listing `content` is, if it is one: an object with a format's list
/// key, or an array whose first record has its text key (mem0's history
/// counts as mem0's). Parsed once for both formats.
pub(super) fn listing_format(content: &str) -> Option<Format> {
    let doc = serde_json::from_str::<Value>(content.trim_start_matches('\u{feff}')).ok()?;
    if history_rows(&doc).is_some() {
        return Some(Format::Mem0);
    }
    [Format::Mem0, Format::AnthropicMemoryStore].into_iter().find(|&format| {
        let shape = shape(format);
        let list = match &doc {
            Value::Object(o) => o.get(shape.list),
            list @ Value::Array(_) => Some(list),
            _ => None,
        };
        list.and_then(Value::as_array).and_then(|l| l.first()).is_some_and(|r| {
            r.get(shape.text).is_some_and(Value::is_string) && r.get("id").is_some()
        })
    })
}

/// What mem0's history files say of each memory: when it last changed,
/// and whether that change deleted it.
#[derive(Default)]
pub(super) struct History {
    /// By memory id: the latest event's time and whether it was `DELETE`.
    last: std::collections::HashMap<String, (Timestamp, bool)>,
    /// Files read as history: path, rows, memories.
    files: Vec<(String, usize, usize)>,
}

/// Reads `f` as mem0 history if it is one (no entries: its rows give the
/// times of the listing's memories; see [`History::apply`]).
pub(super) fn read_history(f: &File, history: &mut History) -> bool {
    let Ok(doc) = serde_json::from_str::<Value>(f.content.trim_start_matches('\u{feff}')) else {
        return false;
    };
    let Some(rows) = history_rows(&doc) else { return false };
    let mut memories = std::collections::HashSet::new();
    for row in rows {
        let Some(id) = row.get("memory_id").and_then(Value::as_str) else { continue };
        let time = ["updated_at", "created_at"]
            .iter()
            .filter_map(|k| row.get(*k).and_then(Value::as_str))
            .find_map(crate::import::parse_rfc3339);
        let Some(time) = time else { continue };
        memories.insert(id.to_string());
        let deleted = row.get("event").and_then(Value::as_str) == Some("DELETE");
        let last = history.last.entry(id.to_string()).or_insert((time, deleted));
        if time >= last.0 {
            *last = (time, deleted);
        }
    }
    history.files.push((f.path.clone(), rows.len(), memories.len()));
    true
}

impl History {
    /// The listing's memories take their last change's time where the
    /// listing gives none; a memory the history deleted but the listing
    /// still holds, and the files read, are said in `skipped`.
    pub(super) fn apply(self, entries: &mut [MemoryEntry], skipped: &mut Vec<Skipped>) {
        for e in entries.iter_mut() {
            let Some(&(time, deleted)) = self.last.get(e.id.as_str()) else { continue };
            if e.observed_at.is_none() {
                e.observed_at = Some(time);
            }
            if deleted {
                skipped.push(Skipped {
                    path: self.files.first().map(|f| f.0.clone()).unwrap_or_default(),
                    line: None,
                    reason: format!(
                        "memory {} was deleted in mem0's history but is still listed; read as \
                         listed",
                        e.id
                    ),
                });
            }
        }
        for (path, rows, memories) in self.files {
            skipped.push(Skipped {
                path,
                line: None,
                reason: format!(
                    "mem0 history, {rows} rows of {memories} memories: read for when each \
                     memory last changed, kept as it is"
                ),
            });
        }
    }
}

/// Reads the records of a listing as entries, each under its own id.
pub(super) fn read(
    format: Format,
    f: &File,
    created_at: Timestamp,
    entries: &mut Vec<MemoryEntry>,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Span>> {
    let shape = shape(format);
    let text = f.content.as_str();
    let start = text.len() - text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']).len();
    let not_listing = || {
        Error::invalid(
            format!("{}:{}", f.path, line_of(text, start)),
            format!(
                "is not a listing: expected {{\"{}\": [...]}} or a list of records",
                shape.list
            ),
        )
    };
    let open = match text.as_bytes().get(start) {
        Some(b'[') => start,
        Some(b'{') => {
            let (members, _) = object_at(text, start).ok_or_else(not_listing)?;
            let list =
                members.iter().rev().find(|m| m.key == shape.list).ok_or_else(not_listing)?;
            list.value.start
        }
        _ => return Err(not_listing()),
    };
    let elements = array_at(text, open).ok_or_else(not_listing)?;
    let mut owners: Vec<String> = Vec::new();
    let mut spans = Vec::new();
    for element in elements {
        let line = line_of(text, element.start);
        let skip = |reason: &str| Skipped {
            path: f.path.clone(),
            line: Some(line),
            reason: reason.into(),
        };
        let Some((members, _)) = object_at(text, element.start) else {
            skipped.push(skip("not a record (an object)"));
            continue;
        };
        let get = |key: &str| members.iter().rev().find(|m: &&Member| m.key == key);
        let string = |key: &str| {
            get(key)
                .filter(|m| m.is_string)
                .and_then(|m| serde_json::from_str::<String>(&text[m.value.clone()]).ok())
        };
        let Some(value) = get(shape.text).filter(|m| m.is_string) else {
            skipped.push(skip(&format!("no `{}` text", shape.text)));
            continue;
        };
        let Some(body) = string(shape.text).filter(|t| !t.trim().is_empty()) else {
            skipped.push(skip("empty text"));
            continue;
        };
        if body.len() > crate::MAX_TEXT_BYTES {
            skipped.push(skip("longer than an entry may be; kept as it is"));
            continue;
        }
        let Some(id) = string("id").and_then(|id| Id::new(id).ok()) else {
            skipped.push(skip("no `id` usable as an entry id (letters, digits, _ - . :)"));
            continue;
        };
        let mut e = MemoryEntry::new(id.clone(), body, EntryKind::Fact, created_at);
        // The service extracted the record from conversations.
        e.provenance = Provenance { trust: Trust::Agent, sources: Vec::new() };
        if let Some(t) = string("created_at").as_deref().and_then(crate::import::parse_rfc3339) {
            e.created_at = t;
        }
        e.observed_at = string("updated_at").as_deref().and_then(crate::import::parse_rfc3339);
        if let Some(path) = string("path") {
            e.subject = Some(path);
        }
        let mut owner = Vec::new();
        for key in ["user_id", "agent_id", "run_id"] {
            if let Some(v) = string(key) {
                e.tags.push(format!("{key}:{v}"));
                owner.push(format!("{key} {v}"));
            }
        }
        let owner = owner.join(", ");
        if !owners.contains(&owner) {
            owners.push(owner);
        }
        entries.push(e);
        spans.push(Span {
            entry: id,
            start: value.value.start,
            end: value.value.end,
            remove_start: element.start,
            remove_end: element.end,
        });
    }
    // Memories of different people or runs are never one store's: a pass
    // would merge one user's facts into another's.
    if owners.len() > 1 {
        return Err(Error::invalid(
            f.path.clone(),
            format!(
                "holds the memories of {} owners ({}); import each one's into an agent of its own",
                owners.len(),
                owners.iter().take(5).map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(spans)
}

/// The operations that bring the service's records in line with the
/// store, as a JSON document: `update` (the record's id, the hash it had
/// when read, the new text) and `delete` (id and hash), and the entries a
/// pass added, which are not sent: a service adds records by extracting
/// them itself (mem0's `add` re-reads them as a conversation).
pub(super) fn operations(
    format: Format,
    content: &str,
    spans: &[Span],
    fates: &[Fate<'_>],
    appended: &[&MemoryEntry],
) -> String {
    let shape = shape(format);
    let mut ops = Vec::new();
    for (span, fate) in spans.iter().zip(fates) {
        let record: Value = serde_json::from_str(&content[span.remove_start..span.remove_end])
            .unwrap_or(Value::Null);
        let hash = record.get(shape.hash).cloned().unwrap_or(Value::Null);
        match fate {
            Fate::Keep => {}
            Fate::Write(text) => ops.push(json!({
                "op": "update", "id": span.entry.as_str(), "expected_hash": hash, "text": text,
            })),
            Fate::Remove => ops.push(json!({
                "op": "delete", "id": span.entry.as_str(), "expected_hash": hash,
            })),
        }
    }
    let not_sent: Vec<Value> = appended
        .iter()
        .map(|e| json!({ "text": e.text, "reason": "new entries are not sent: add them through the service, which extracts its own records" }))
        .collect();
    let doc = json!({ "format": format.as_str(), "operations": ops, "not_sent": not_sent });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
