//! Memory kept in other tools' formats: `POST /agents/{id}/imports` reads
//! a bundle of files into the agent's store, keeping the files and where
//! each entry sits in them; `GET /stores/{id}/export` writes that bundle
//! back as a version of the store has it, changing only the bytes of
//! entries a review changed.

use reverie_api as api;
use reverie_core::audit::AuditAction;
use reverie_core::formats::{self, Format, Layout};
use reverie_core::Id;
use worker::Request;

use crate::entries::{active_count, event, MAX_BATCH};
use crate::http::{self, ApiError, ApiResult, Query};
use crate::repo::imports::NewImport;
use crate::stores::{self, Commit};
use crate::{agents, repo, Cx};

/// The most files one import may hold.
const MAX_FILES: usize = 2000;

/// `POST /agents/{id}/imports`: `{"format"?, "files": [{path, content}]}`.
/// New entries are added as one store version; entries the store holds
/// already, as read, are left alone; an entry the store holds with other
/// text is a conflict, and nothing is written.
pub(crate) async fn create(cx: &Cx, agent_id: &str, req: &mut Request) -> ApiResult {
    cx.who.can_ingest(agent_id)?;
    let agent = agents::readable(cx, agent_id).await?;
    let body: api::NewImport = http::json_body(req, http::limits::LARGE).await?;
    if body.files.is_empty() || body.files.len() > MAX_FILES {
        return Err(ApiError::new(
            422,
            format!("`files` holds {} files; send 1 to {MAX_FILES}", body.files.len()),
        ));
    }
    let format = match body.format {
        Some(f) => f,
        None => Format::detect(&body.files).ok_or_else(|| {
            ApiError::new(
                422,
                "could not tell the files' format from their names and content; name it in \
                 `format` (markdown, mcp_memory)",
            )
        })?,
    };
    let imported = formats::import(format, &body.files, cx.now)?;
    if imported.entries.len() > MAX_BATCH {
        return Err(ApiError::new(
            422,
            format!(
                "the files hold {} entries; one import takes at most {MAX_BATCH}: import the \
                 folder in parts",
                imported.entries.len()
            ),
        ));
    }
    let config = agent.config()?;
    let row =
        stores::ensure(&cx.db, config.memory_store.as_str(), &agent.id, false, cx.now).await?;
    let ids: Vec<&Id> = imported.entries.iter().map(|e| &e.id).collect();
    let held = repo::entries::by_id(&cx.db, &row.id, &ids).await?;
    let held: std::collections::HashMap<&str, &reverie_core::MemoryEntry> =
        held.iter().map(|e| (e.id.as_str(), e)).collect();
    let changed: Vec<String> = imported
        .entries
        .iter()
        .filter(|e| held.get(e.id.as_str()).is_some_and(|h| h.text != e.text))
        .map(|e| e.id.to_string())
        .collect();
    if !changed.is_empty() {
        return Err(ApiError::conflict(format!(
            "{} entries read from these files differ from the store's (export the store's \
             version and merge by hand, or import into a new store): {}",
            changed.len(),
            changed.iter().take(20).cloned().collect::<Vec<_>>().join(", ")
        ))
        .with_details(api::ErrorDetails { existing_ids: changed, ..Default::default() }));
    }
    let fresh: Vec<_> =
        imported.entries.iter().filter(|e| !held.contains_key(e.id.as_str())).cloned().collect();
    let (added, unchanged) = (fresh.len(), imported.entries.len() - fresh.len());
    let import_id = format!("imp_{}", &crate::random_hex()[..16]);
    let version = if added > 0 { row.version + 1 } else { row.version };
    let record = repo::imports::insert(
        &cx.db,
        &NewImport {
            id: &import_id,
            agent_id: &agent.id,
            store_id: &row.id,
            format,
            version,
            at: cx.now,
            actor: &cx.who.actor(),
            entries: imported.entries.len(),
            files: &body.files,
            documents: &imported.layout.documents,
        },
    )?;
    if added > 0 {
        let active = active_count(cx, &row).await? + added;
        let events = fresh
            .into_iter()
            .map(|e| event(cx, &row, AuditAction::AddEntry, None, Some(e)))
            .collect::<ApiResult<Vec<_>>>()?;
        stores::commit(
            &cx.db,
            Commit {
                store_id: row.id.clone(),
                from_version: row.version,
                to_version: version,
                actor: cx.who.actor(),
                at: cx.now,
                cause: "import",
                proposal_id: None,
                note: Some(format!("import {import_id} ({})", format.as_str())),
                active_entries: active,
                events,
                extra: record,
            },
        )
        .await?;
    } else {
        cx.db.batch(record).await?;
    }
    http::json_status(
        201,
        &api::Imported {
            import_id,
            store_id: row.id.clone(),
            version,
            format,
            files: body.files.len(),
            entries: imported.entries.len(),
            added,
            unchanged,
            skipped: imported.skipped,
        },
    )
}

/// `GET /stores/{id}/export?import=&version=`: the files of an import (the
/// store's latest when not named) as `version` (the current one when not
/// named) has their entries.
pub(crate) async fn export(cx: &Cx, store_id: &str, q: &Query) -> ApiResult {
    let (row, _) = stores::readable(cx, store_id).await?;
    let import =
        repo::imports::find(&cx.db, &row.id, q.str("import")).await?.ok_or_else(|| {
            match q.str("import") {
                Some(id) => ApiError::not_found("import", &format!("{id} of store {}", row.id)),
                None => ApiError::not_found("import", &format!("of store {} (none yet)", row.id)),
            }
        })?;
    let version = match q.str("version") {
        None => row.version,
        Some(v) => v.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!("`version` must be a whole number, got `{v}`"))
        })?,
    };
    if version < import.version {
        return Err(ApiError::new(
            422,
            format!(
                "version {version} is older than import {} (which made version {}): its files \
                 can be written only as a later version has them",
                import.id, import.version
            ),
        ));
    }
    let store = stores::load_version(&cx.db, &row, version).await?;
    let (files, documents) = repo::imports::files(&cx.db, &import.id).await?;
    let layout = Layout { format: import.format, documents };
    let changed = formats::export(&layout, &files, &store)?;
    http::json(&api::StoreExport {
        store_id: import.store_id,
        version,
        import_id: import.id,
        format: import.format,
        unchanged: files.len() - changed.len(),
        changed,
    })
}
