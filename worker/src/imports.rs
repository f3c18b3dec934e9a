//! Memory kept in other tools' formats: `POST /agents/{id}/imports` reads
//! a bundle of files into the agent's store, keeping the files and where
//! each entry sits in them; `GET /stores/{id}/export` writes that bundle
//! back as a version of the store has it, changing only the bytes of
//! entries a review changed.

use reverie_api as api;
use reverie_core::audit::AuditAction;
use reverie_core::formats::{self, Base, Format, Layout};
use reverie_core::pass::PassConfig;
use reverie_core::{Id, MemoryStore};
use worker::Request;

use crate::entries::{active_count, event};
use crate::http::{self, ApiError, ApiResult, Query};
use crate::repo::agents::AgentRow;
use crate::repo::imports::NewImport;
use crate::stores::{self, Commit};
use crate::{agents, repo, Cx};

/// The most files one import may hold: a large memory folder.
const MAX_FILES: usize = 20_000;

/// The most entries one push may add, and may delete: each is written and
/// audited in the push's one version.
const MAX_ENTRIES: usize = 50_000;

/// Imports of a store whose files are kept for export: the latest few, so
/// a push can be compared with the one before and an export written again.
const KEEP_IMPORTS: i64 = 3;

/// `POST /agents/{id}/imports`: `{"format"?, "files": [{path, content}]}`,
/// a push of memory files. Against the store's last push of this format
/// from the same `source`,
/// file by file: a file as pushed then changes nothing; a file changed
/// here adds its new entries and deletes those gone from it; a file
/// changed here and, by a review not yet exported, in the store is a
/// conflict (409), and nothing is written. All as one store version.
pub(crate) async fn create(cx: &Cx, agent_id: &str, req: &mut Request) -> ApiResult {
    cx.who.can_ingest(agent_id)?;
    let agent = agents::readable(cx, agent_id).await?;
    let body = import_body(req).await?;
    // A push of deletions alone names its format.
    let format = match body.format {
        Some(f) if body.files.is_empty() && !body.deleted.is_empty() => f,
        _ => bundle_format(&body.files, body.format)?,
    };
    let source = source_of(body.source.as_deref())?;
    let (done, _, _) = push(cx, &agent, format, source, &body.files, &body.deleted).await?;
    http::json_status(201, &done)
}

/// An import's request, in any of the shapes it may come in: JSON (a
/// `NewImport`); `multipart/form-data` with the files as `files` parts
/// (each named by its file name, which may hold a path) and `format`,
/// `source` and `deleted` as fields; or a single document of any other
/// type, named by `?path=`, with `?format=` and `?source=`.
async fn import_body(req: &mut Request) -> ApiResult<api::NewImport> {
    let kind = req.headers().get("content-type")?.unwrap_or_default().to_ascii_lowercase();
    let kind = kind.split(';').next().unwrap_or_default().trim().to_string();
    if kind.is_empty() || kind == "application/json" {
        return http::json_body(req, http::limits::LARGE).await;
    }
    let named_format = |given: Option<&str>| {
        given
            .map(|f| {
                Format::named(f).ok_or_else(|| {
                    ApiError::new(422, format!("`format`: `{f}` is none of {}", Format::names()))
                })
            })
            .transpose()
    };
    if kind == "multipart/form-data" {
        let declared =
            req.headers().get("content-length")?.and_then(|v| v.trim().parse::<usize>().ok());
        match declared {
            None => {
                return Err(ApiError::new(
                    411,
                    "a multipart import must say its Content-Length (its size is checked \
                     before it is read)",
                ))
            }
            Some(n) if n > http::limits::LARGE => {
                return Err(ApiError::new(
                    413,
                    format!(
                        "the request body is {n} bytes; the limit here is {}",
                        http::limits::LARGE
                    ),
                ))
            }
            Some(_) => {}
        }
        let form = req
            .form_data()
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read the multipart body: {e}")))?;
        let mut files = Vec::new();
        for part in form.get_all("files").unwrap_or_default() {
            let worker::FormEntry::File(f) = part else {
                return Err(ApiError::new(422, "`files` parts must be files, with a file name"));
            };
            let path = f.name();
            let bytes = f.bytes().await?;
            let content = String::from_utf8(bytes).map_err(|e| {
                ApiError::bad_request(format!(
                    "file `{path}` is not valid UTF-8 at byte {}: send text encoded as UTF-8",
                    e.utf8_error().valid_up_to()
                ))
            })?;
            files.push(formats::File { path, content });
        }
        let text = |name: &str| -> ApiResult<Vec<String>> {
            form.get_all(name)
                .unwrap_or_default()
                .into_iter()
                .map(|entry| match entry {
                    worker::FormEntry::Field(v) => Ok(v),
                    worker::FormEntry::File(_) => Err(ApiError::new(
                        422,
                        format!("`{name}` must be a text field, not a file"),
                    )),
                })
                .collect()
        };
        let one = |name: &str| -> ApiResult<Option<String>> {
            let mut values = text(name)?;
            match values.len() {
                0 | 1 => Ok(values.pop()),
                n => Err(ApiError::new(422, format!("`{name}` is given {n} times; give it once"))),
            }
        };
        return Ok(api::NewImport {
            format: named_format(one("format")?.as_deref())?,
            files,
            source: one("source")?,
            deleted: text("deleted")?,
        });
    }
    // One document: its bytes are the file.
    let q = Query::of(req)?;
    let Some(path) = q.str("path").map(str::to_string) else {
        return Err(ApiError::new(
            422,
            format!(
                "a `{kind}` body is one file: name it with `?path=` (for example \
                 ?path=memory.jsonl), or send JSON or multipart/form-data"
            ),
        ));
    };
    let format = named_format(q.str("format"))?;
    let source = q.str("source").map(str::to_string);
    let content = http::body_text(req, http::limits::LARGE).await?;
    Ok(api::NewImport {
        format,
        files: vec![formats::File { path, content }],
        source,
        deleted: Vec::new(),
    })
}

/// A push of `files` to the agent's store (see `create`): what it did,
/// how it laid out the files, and the store as the push left it.
async fn push(
    cx: &Cx,
    agent: &AgentRow,
    format: Format,
    source: &str,
    files: &[formats::File],
    deleted: &[String],
) -> ApiResult<(api::Imported, Layout, MemoryStore)> {
    let config = agent.config()?;
    let row =
        stores::ensure(&cx.db, config.memory_store.as_str(), &agent.id, false, cx.now).await?;
    let base = repo::imports::find(&cx.db, &row.id, None, Some((format, source))).await?;
    let base_files = match &base {
        Some(b) => Some(repo::imports::files(&cx.db, &b.id).await?),
        None => None,
    };
    let base_layout =
        base_files.as_ref().map(|(_, documents)| Layout { format, documents: documents.clone() });
    let mut store = stores::load(&cx.db, &row).await?;
    let synced = formats::sync(
        format,
        files,
        deleted,
        base_layout
            .as_ref()
            .zip(base_files.as_ref())
            .map(|(layout, (files, _))| Base { layout, files }),
        &store,
        cx.now,
    )?;
    if !synced.conflicts.is_empty() {
        return Err(ApiError::conflict(format!(
            "changed here and, by a review, in the store since the last push: {}; export the \
             store's version of them (GET /stores/{}/export), apply your edits to it, and push \
             again",
            synced.conflicts.join(", "),
            row.id
        )));
    }
    let touched = synced.added.len() + synced.removed.len() + synced.edited.len();
    if synced.added.len() > MAX_ENTRIES || synced.removed.len() > MAX_ENTRIES {
        return Err(ApiError::new(
            422,
            format!(
                "the push adds {} and removes {} entries; one push takes at most {MAX_ENTRIES} \
                 of each: push the folder in parts",
                synced.added.len(),
                synced.removed.len()
            ),
        ));
    }
    let import_id = format!("imp_{}", &crate::random_hex()[..16]);
    let version = if touched > 0 { row.version + 1 } else { row.version };
    let entries = synced.layout.documents.iter().map(|d| d.spans.len()).sum();
    let mut statements = repo::imports::insert(
        &cx.db,
        &NewImport {
            id: &import_id,
            agent_id: &agent.id,
            store_id: &row.id,
            format,
            source,
            version,
            at: cx.now,
            actor: &cx.who.actor(),
            entries,
            files: &synced.files,
            documents: &synced.layout.documents,
        },
    )?;
    statements.push(repo::imports::forget_files(&cx.db, &row.id, source, KEEP_IMPORTS)?);
    if touched > 0 {
        let held: std::collections::HashMap<&str, &reverie_core::MemoryEntry> =
            store.entries.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut events = Vec::with_capacity(touched);
        for e in &synced.added {
            events.push(event(cx, &row, AuditAction::AddEntry, None, Some(e.clone()))?);
        }
        for e in &synced.edited {
            let before = held.get(e.id.as_str()).map(|h| (*h).clone());
            events.push(event(cx, &row, AuditAction::EditEntry, before, Some(e.clone()))?);
        }
        for id in &synced.removed {
            let before = held.get(id.as_str()).map(|e| (*e).clone());
            events.push(event(cx, &row, AuditAction::DeleteEntry, before, None)?);
        }
        let active = (active_count(cx, &row).await? + synced.added.len())
            .saturating_sub(synced.removed.len());
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
                extra: statements,
            },
        )
        .await?;
        // The store as committed, without reading it again.
        let removed: std::collections::HashSet<&Id> = synced.removed.iter().collect();
        store.entries.retain(|e| !removed.contains(&e.id));
        for edited in &synced.edited {
            if let Some(e) = store.entries.iter_mut().find(|e| e.id == edited.id) {
                *e = edited.clone();
            }
        }
        store.entries.extend(synced.added.iter().cloned());
        store.version = version as u64;
    } else {
        cx.db.batch(statements).await?;
    }
    let done = api::Imported {
        import_id,
        store_id: row.id.clone(),
        version,
        format,
        files: files.len(),
        entries,
        added: synced.added.len(),
        removed: synced.removed.len(),
        edited: synced.edited.len(),
        unchanged: synced.unchanged,
        skipped: synced.skipped,
    };
    Ok((done, synced.layout, store))
}

/// `POST /agents/{id}/imports/compare`: `{"format"?, "before": [files],
/// "after": [files]}`, another system's consolidation of a memory. The
/// `before` files are pushed (as `create` does); the difference to
/// `after` becomes a proposal of typed changes on their entries, reviewed
/// like a pass's. An export after review writes the accepted changes into
/// the `before` files.
pub(crate) async fn compare(cx: &Cx, agent_id: &str, req: &mut Request) -> ApiResult {
    cx.who.can_ingest(agent_id)?;
    let agent = agents::readable(cx, agent_id).await?;
    let body: api::NewComparison = http::json_body(req, http::limits::LARGE).await?;
    let format = bundle_format(&body.before, body.format)?;
    bundle_format(&body.after, Some(format))?;
    if Format::detect(&body.after).is_some_and(|f| f != format) {
        return Err(ApiError::new(
            422,
            format!("`after` is not in the format of `before` ({})", format.as_str()),
        ));
    }
    let after = formats::import(format, &body.after, cx.now)
        .map_err(|e| ApiError::new(422, format!("after: {e}")))?;
    // A comparison's files are its own: no later push is compared with them.
    let source = format!("compare:{}", &crate::random_hex()[..16]);
    // Its source is new, so the layout holds the `before` files alone.
    let (pushed, layout, store) = push(cx, &agent, format, &source, &body.before, &[]).await?;
    let ids: std::collections::HashSet<&str> =
        layout.documents.iter().flat_map(|d| d.spans.iter().map(|s| s.entry.as_str())).collect();
    let before: Vec<&reverie_core::MemoryEntry> =
        store.active().filter(|e| ids.contains(e.id.as_str())).collect();
    let proposal_id = Id::new(format!("prop_{}", &crate::random_hex()[..12]))?;
    let large_deletion = PassConfig::recommended(proposal_id.clone(), cx.now).large_deletion;
    let proposal =
        formats::compare(&store, &before, &after.entries, proposal_id, cx.now, large_deletion);
    repo::proposals::save_changes(&cx.db, &proposal).await?;
    if let Err(e) =
        cx.db.batch(vec![repo::proposals::save(&cx.db, &proposal, &agent.id, None)?]).await
    {
        repo::proposals::forget_changes(&cx.db, proposal.id.as_str()).await;
        return Err(e);
    }
    http::json_status(
        201,
        &api::DreamCompared {
            import_id: pushed.import_id,
            store_id: pushed.store_id,
            version: pushed.version,
            proposal_id: proposal.id.to_string(),
            changes: proposal.changes.len(),
            by_kind: proposal.summary.counts.clone(),
            skipped: pushed.skipped,
        },
    )
}

/// A push's source as given: a label, not a path the service reads.
fn source_of(given: Option<&str>) -> ApiResult<&str> {
    let source = given.unwrap_or("");
    if source.len() > 512 || source.chars().any(char::is_control) || source.starts_with("compare:")
    {
        return Err(ApiError::new(
            422,
            "`source` must be at most 512 bytes, without control characters, and not start with \
             `compare:`",
        ));
    }
    Ok(source)
}

/// The format of a bundle: as named, or told from its files.
fn bundle_format(files: &[formats::File], named: Option<Format>) -> ApiResult<Format> {
    if files.is_empty() || files.len() > MAX_FILES {
        return Err(ApiError::new(
            422,
            format!("`files` holds {} files; send 1 to {MAX_FILES}", files.len()),
        ));
    }
    match named {
        Some(f) => Ok(f),
        None => Format::detect(files).ok_or_else(|| {
            ApiError::new(
                422,
                format!(
                    "could not tell the files' format from their names and content; name it \
                     in `format` ({})",
                    Format::names()
                ),
            )
        }),
    }
}

/// `GET /stores/{id}/export?import=&version=`: the files of an import (the
/// store's latest when not named) as `version` (the current one when not
/// named) has their entries.
pub(crate) async fn export(cx: &Cx, store_id: &str, q: &Query) -> ApiResult {
    // `archive=tar`, or `format=tar` (`format=json`, the default, is the
    // document of changed files).
    let archive = match (q.str("archive"), q.str("format")) {
        (None, None | Some("json")) => false,
        (Some("tar"), None | Some("tar")) | (None, Some("tar")) => true,
        (Some(other), _) => {
            return Err(ApiError::bad_request(format!(
                "`archive` may be `tar` (every file, as a download), got `{other}`"
            )))
        }
        (None, Some(other)) => {
            return Err(ApiError::bad_request(format!(
                "`format` may be `json` (the changed files) or `tar` (every file, as a \
                 download), got `{other}`"
            )))
        }
    };
    let (row, _) = stores::readable(cx, store_id).await?;
    let import = repo::imports::find(&cx.db, &row.id, q.str("import"), None).await?.ok_or_else(
        || match q.str("import") {
            Some(id) => ApiError::not_found("import", &format!("{id} of store {}", row.id)),
            None => ApiError::not_found("import", &format!("of store {} (none yet)", row.id)),
        },
    )?;
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
    if files.is_empty() && import.files > 0 {
        return Err(ApiError::new(
            410,
            format!(
                "the files of import {} are no longer kept (only the latest {KEEP_IMPORTS} \
                 imports' are); export the latest import",
                import.id
            ),
        ));
    }
    let layout = Layout { format: import.format, documents };
    let changed = formats::export(&layout, &files, &store)?;
    if archive {
        return tar_download(&row.id, version, files, changed, cx.now);
    }
    http::json(&api::StoreExport {
        store_id: import.store_id,
        version,
        import_id: import.id,
        format: import.format,
        unchanged: files.len() - changed.len(),
        changed,
    })
}

/// Every file of the import as `version` has it, as one `.tar` download
/// (a listing's operations beside the listing).
fn tar_download(
    store_id: &str,
    version: i64,
    files: Vec<formats::File>,
    changed: Vec<formats::File>,
    now: reverie_core::Timestamp,
) -> ApiResult {
    let mut changed: std::collections::HashMap<String, formats::File> =
        changed.into_iter().map(|f| (f.path.clone(), f)).collect();
    let mut all: Vec<formats::File> =
        files.into_iter().map(|f| changed.remove(&f.path).unwrap_or(f)).collect();
    // What no file was before (operations files) follows, in path order.
    let mut made: Vec<formats::File> = changed.into_values().collect();
    made.sort_by(|a, b| a.path.cmp(&b.path));
    all.extend(made);
    let bytes = formats::tar(&all, u64::try_from(now.0 / 1000).unwrap_or(0));
    let mut resp = worker::Response::from_bytes(bytes)?;
    let headers = resp.headers_mut();
    headers.set("content-type", "application/x-tar")?;
    let name = format!("{store_id}-v{version}.tar");
    headers.set("content-disposition", &format!("attachment; filename=\"{name}\""))?;
    Ok(resp)
}
