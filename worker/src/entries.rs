//! Entries of a memory store over HTTP: list (paged, by status and kind),
//! get, add (one or a batch), edit and delete. Every write is a new store
//! version with an audit record per entry; a deleted entry leaves the
//! current version only, and stays in history.

use reverie_api as api;
use reverie_core::audit::{AuditAction, AuditEvent};
use reverie_core::{EntryKind, Id, MemoryEntry};
use serde_json::Value;
use worker::Request;

use crate::http::{self, ApiError, ApiResult, Query};
use crate::repo::stores::StoreRow;
use crate::stores::{self, Commit};
use crate::{repo, Cx};

/// The most entries one request may add.
const MAX_BATCH: usize = 5000;

/// A store the caller may write entries to: admin, or the ingest token of
/// an agent that uses it.
async fn writable(cx: &Cx, store_id: &str) -> ApiResult<StoreRow> {
    let (row, agents) = stores::readable(cx, store_id).await?;
    if agents.iter().any(|a| cx.who.can_ingest(a).is_ok()) || cx.who.require_admin().is_ok() {
        Ok(row)
    } else {
        Err(ApiError::forbidden(
            "writing entries needs an admin token or the ingest token of an agent using this store",
        ))
    }
}

/// `GET /stores/{id}/entries?status=&kind=&after=&limit=`.
pub(crate) async fn list(cx: &Cx, store_id: &str, q: &Query) -> ApiResult {
    let (row, _) = stores::readable(cx, store_id).await?;
    let status = q.one_of("status", &["active", "superseded", "merged", "pruned"])?;
    let kind =
        q.one_of("kind", &["fact", "preference", "instruction", "pattern", "mistake", "note"])?;
    let limit = q.limit(100, 5000)?;
    let entries = repo::entries::list(
        &cx.db,
        &row.id,
        q.str("after").unwrap_or(""),
        status.as_deref(),
        kind.as_deref(),
        limit,
    )
    .await?;
    let next =
        (entries.len() as i64 == limit).then(|| entries.last().map(|e| e.id.to_string())).flatten();
    http::json_at_version(
        &api::EntryPage {
            store_id: row.id.clone(),
            version: row.version,
            entries,
            next_after: next,
        },
        row.version,
    )
}

async fn current(cx: &Cx, row: &StoreRow, entry_id: &str) -> ApiResult<MemoryEntry> {
    repo::entries::find(&cx.db, &row.id, entry_id)
        .await?
        .ok_or_else(|| ApiError::not_found("entry", &format!("{entry_id} in store {}", row.id)))
}

/// `GET /stores/{id}/entries/{entry}`.
pub(crate) async fn show(cx: &Cx, store_id: &str, entry_id: &str) -> ApiResult {
    let (row, _) = stores::readable(cx, store_id).await?;
    http::json_at_version(&current(cx, &row, entry_id).await?, row.version)
}

pub(crate) fn event(
    cx: &Cx,
    row: &StoreRow,
    action: AuditAction,
    before: Option<MemoryEntry>,
    after: Option<MemoryEntry>,
) -> ApiResult<AuditEvent> {
    Ok(AuditEvent {
        at: cx.now,
        actor: cx.who.actor(),
        action,
        store_id: Id::new(row.id.clone())?,
        store_version: row.version as u64 + 1,
        proposal_id: None,
        change_id: None,
        entry_id: after.as_ref().or(before.as_ref()).map(|e| e.id.clone()),
        before,
        after,
        note: None,
    })
}

/// Active entries of the store's current version, as its version row
/// records them (one key lookup, not a count over every entry).
pub(crate) async fn active_count(cx: &Cx, row: &StoreRow) -> ApiResult<usize> {
    let found = repo::stores::active_entries(&cx.db, &row.id, row.version).await?;
    Ok(found.map_or(0, |a| a.max(0) as usize))
}

async fn save(cx: &Cx, row: &StoreRow, events: Vec<AuditEvent>, active: usize) -> ApiResult<()> {
    stores::commit(
        &cx.db,
        Commit {
            store_id: row.id.clone(),
            from_version: row.version,
            to_version: row.version + 1,
            actor: cx.who.actor(),
            at: cx.now,
            cause: "entries",
            proposal_id: None,
            note: None,
            active_entries: active,
            events,
            extra: Vec::new(),
        },
    )
    .await?;
    Ok(())
}

/// `POST /stores/{id}/entries`: one entry, or `{"entries": [...]}` (up to
/// 5,000), as one new version. An id already in the store is a conflict,
/// and nothing of the batch is saved.
pub(crate) async fn add(cx: &Cx, store_id: &str, req: &mut Request) -> ApiResult {
    let row = writable(cx, store_id).await?;
    let body: Value = http::json_body(req, http::limits::LARGE).await?;
    let (items, prefix) = match body {
        Value::Object(mut o) if o.contains_key("entries") => match o.remove("entries") {
            Some(Value::Array(items)) => (items, "entries"),
            _ => return Err(ApiError::bad_request("`entries` must be a list of entries")),
        },
        single @ Value::Object(_) => (vec![single], "entry"),
        _ => return Err(ApiError::bad_request("expected an entry object or {\"entries\": [...]}")),
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::new(
            422,
            format!("`entries` holds {} entries; send 1 to {MAX_BATCH}", items.len()),
        ));
    }
    let mut entries = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let path = if prefix == "entries" { format!("entries[{i}]") } else { "entry".into() };
        let new: api::NewEntry = serde_json::from_value(item)
            .map_err(|e| ApiError::bad_request(format!("{path}: {e}")))?;
        let id = match new.id {
            Some(id) => Id::new(id).map_err(|e| ApiError::new(422, format!("{path}.id: {e}")))?,
            None => Id::new(format!("m_{}", &crate::random_hex()[..16]))?,
        };
        let mut entry = MemoryEntry::new(id, new.text, new.kind.unwrap_or(EntryKind::Note), cx.now);
        entry.subject = new.subject;
        entry.tags = new.tags;
        entry.provenance = new.provenance.unwrap_or_default();
        entry.observed_at = new.observed_at;
        if let Some(c) = new.confidence {
            entry.confidence = c;
        }
        entry.validate().map_err(|e| ApiError::new(422, format!("{path}: {e}")))?;
        entries.push(entry);
    }
    let mut ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(ApiError::new(
            422,
            format!("entry id `{}` appears twice in the request", w[0]),
        ));
    }
    let taken = repo::entries::existing_ids(&cx.db, &row.id, &ids).await?;
    if !taken.is_empty() {
        return Err(ApiError::conflict(format!(
            "entries already in the store (edit them instead): {}",
            taken.join(", ")
        ))
        .with_details(api::ErrorDetails { existing_ids: taken, ..Default::default() }));
    }
    let active = active_count(cx, &row).await? + entries.len();
    let ids: Vec<String> = entries.iter().map(|e| e.id.to_string()).collect();
    let events = entries
        .into_iter()
        .map(|e| event(cx, &row, AuditAction::AddEntry, None, Some(e)))
        .collect::<ApiResult<Vec<_>>>()?;
    save(cx, &row, events, active).await?;
    http::json_status(
        201,
        &api::EntriesAdded {
            store_id: row.id.clone(),
            version: row.version + 1,
            added: ids.len(),
            ids,
        },
    )
}

/// `PATCH /stores/{id}/entries/{entry}`.
pub(crate) async fn edit(cx: &Cx, store_id: &str, entry_id: &str, req: &mut Request) -> ApiResult {
    let row = writable(cx, store_id).await?;
    let edit: api::EntryEdit = http::json_body(req, http::limits::SMALL).await?;
    http::expect_version(req, None, &row.id, row.version)?;
    let before = current(cx, &row, entry_id).await?;
    let mut after = before.clone();
    if let Some(text) = edit.text {
        after.text = text;
    }
    if let Some(kind) = edit.kind {
        after.kind = kind;
    }
    if let Some(subject) = edit.subject {
        after.subject = Some(subject).filter(|s| !s.trim().is_empty());
    }
    if let Some(tags) = edit.tags {
        after.tags = tags;
    }
    if let Some(c) = edit.confidence {
        after.confidence = c;
    }
    after.validate().map_err(|e| ApiError::new(422, e.to_string()))?;
    if after == before {
        return http::json(&api::EntryWritten {
            store_id: row.id.clone(),
            version: row.version,
            entry: after,
            changed: false,
        });
    }
    let active = active_count(cx, &row).await?;
    save(
        cx,
        &row,
        vec![event(cx, &row, AuditAction::EditEntry, Some(before), Some(after.clone()))?],
        active,
    )
    .await?;
    http::json(&api::EntryWritten {
        store_id: row.id.clone(),
        version: row.version + 1,
        entry: after,
        changed: true,
    })
}

/// `DELETE /stores/{id}/entries/{entry}`.
pub(crate) async fn delete(cx: &Cx, store_id: &str, entry_id: &str, req: &Request) -> ApiResult {
    let row = writable(cx, store_id).await?;
    http::expect_version(req, None, &row.id, row.version)?;
    let before = current(cx, &row, entry_id).await?;
    let active = active_count(cx, &row).await?.saturating_sub(usize::from(before.is_active()));
    save(cx, &row, vec![event(cx, &row, AuditAction::DeleteEntry, Some(before), None)?], active)
        .await?;
    http::json(&api::EntryDeleted {
        store_id: row.id.clone(),
        version: row.version + 1,
        deleted: entry_id.to_string(),
    })
}
