//! Memory stores in D1: loading a store (now or at any version), committing
//! a new version with its audit records in one transaction, and the
//! history routes (versions, a version's diff, rollback, audit log and its
//! verification).

use std::collections::BTreeMap;

use reverie_api as api;
use reverie_core::audit::{self, AuditEvent, AuditRecord};
use reverie_core::diff::entry_diffs;
use reverie_core::{Id, MemoryEntry, MemoryStore, Scope, Timestamp};
use worker::{D1PreparedStatement, Request};

use crate::db::Db;
use crate::http::{self, ApiError, ApiResult, Query};
use crate::repo::stores::NewVersion;
use crate::{repo, Cx};

use crate::repo::audit::last_record;
use crate::repo::stores::{agents_using, find, StoreRow};

/// The store `id`, or a 404.
pub(crate) async fn get(db: &Db, id: &str) -> ApiResult<StoreRow> {
    find(db, id).await?.ok_or_else(|| ApiError::not_found("memory store", id))
}

/// A store the caller may read: one of its agents is granted.
pub(crate) async fn readable(cx: &Cx, id: &str) -> ApiResult<(StoreRow, Vec<String>)> {
    let row = get(&cx.db, id).await?;
    let mut agents = agents_using(&cx.db, id).await?;
    if let Some(owner) = &row.owner_agent {
        if !agents.contains(owner) {
            agents.push(owner.clone());
        }
    }
    cx.who.can_read_any(&agents)?;
    Ok((row, agents))
}

fn scope_of(row: &StoreRow, agents: Vec<String>) -> ApiResult<Scope> {
    let ids = |v: Vec<String>| v.into_iter().map(Id::new).collect::<Result<Vec<_>, _>>();
    Ok(match &row.owner_agent {
        Some(owner) if !row.is_shared() => Scope::Private { agent_id: Id::new(owner.clone())? },
        _ => Scope::Shared { agent_ids: ids(agents)? },
    })
}

/// The store as it is now, entries in id order.
pub(crate) async fn load(db: &Db, row: &StoreRow) -> ApiResult<MemoryStore> {
    let entries = repo::entries::all(db, &row.id).await?;
    assemble(db, row, row.version, entries).await
}

/// The store as it was at `version`.
pub(crate) async fn load_version(db: &Db, row: &StoreRow, version: i64) -> ApiResult<MemoryStore> {
    if version == row.version {
        return load(db, row).await;
    }
    if !(0..row.version).contains(&version) {
        return Err(ApiError::not_found(
            "version",
            &format!("{version} of store {} (now at {})", row.id, row.version),
        ));
    }
    let entries = repo::entries::all_at(db, &row.id, version).await?;
    assemble(db, row, version, entries).await
}

async fn assemble(
    db: &Db,
    row: &StoreRow,
    version: i64,
    mut entries: Vec<MemoryEntry>,
) -> ApiResult<MemoryStore> {
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    let agents = agents_using(db, &row.id).await?;
    Ok(MemoryStore {
        id: Id::new(row.id.clone())?,
        version: version as u64,
        scope: scope_of(row, agents)?,
        entries,
    })
}

/// Creates the store if it does not exist: private to `agent` unless
/// `shared`. Naming another agent's private store is a conflict.
pub(crate) async fn ensure(
    db: &Db,
    id: &str,
    agent: &str,
    shared: bool,
    at: Timestamp,
) -> ApiResult<StoreRow> {
    let (row, exists) = existing_or_new(db, id, agent, shared, at).await?;
    if !exists {
        repo::stores::create(db, &row, &format!("agent:{agent}")).await?;
    }
    Ok(row)
}

/// The store `ensure` would give, without creating it: the row, and
/// whether it exists (an empty store at version 0 when not).
pub(crate) async fn existing_or_new(
    db: &Db,
    id: &str,
    agent: &str,
    shared: bool,
    at: Timestamp,
) -> ApiResult<(StoreRow, bool)> {
    if let Some(row) = find(db, id).await? {
        if !row.is_shared() && row.owner_agent.as_deref() != Some(agent) {
            return Err(ApiError::conflict(format!(
                "memory store `{id}` is private to agent `{}`; name another store, or create a shared one",
                row.owner_agent.as_deref().unwrap_or("?")
            )));
        }
        return Ok((row, true));
    }
    let row = StoreRow {
        id: id.to_string(),
        scope: if shared { "shared" } else { "private" }.into(),
        owner_agent: (!shared).then(|| agent.to_string()),
        version: 0,
        created_at: at.0 as f64,
    };
    Ok((row, false))
}

/// One write to a store: the entries it changes, the audit events, and
/// any statements that must commit with it (proposal states, review
/// memory). `to_version == from_version` writes audit records only.
pub(crate) struct Commit {
    pub store_id: String,
    pub from_version: i64,
    pub to_version: i64,
    pub actor: String,
    pub at: Timestamp,
    pub cause: &'static str,
    pub proposal_id: Option<String>,
    pub note: Option<String>,
    pub active_entries: usize,
    pub events: Vec<AuditEvent>,
    pub extra: Vec<D1PreparedStatement>,
}

/// The entry writes the audit events describe: the last state of each
/// touched entry (`None`: removed from the store).
pub(crate) fn writes_of(events: &[AuditEvent]) -> BTreeMap<&Id, Option<&MemoryEntry>> {
    let mut writes = BTreeMap::new();
    for e in events {
        if let Some(id) = &e.entry_id {
            if e.after.is_some() || e.before.is_some() {
                writes.insert(id, e.after.as_ref());
            }
        }
    }
    writes
}

/// Commits in one D1 batch. The version row (or the audit sequence
/// numbers) are claimed by primary key, so a write racing from the same
/// version fails as a whole with 409 and leaves nothing behind.
pub(crate) async fn commit(db: &Db, commit: Commit) -> ApiResult<Vec<AuditRecord>> {
    let last = last_record(db, &commit.store_id).await?;
    let records = audit::chain(last.as_ref(), commit.events.clone());
    let mut batch = Vec::new();
    if commit.to_version != commit.from_version {
        batch.extend(claim_version(db, &commit, commit.active_entries, None)?);
        let writes = writes_of(&commit.events);
        let upserts: Vec<&MemoryEntry> = writes.values().filter_map(|e| *e).collect();
        let removals: Vec<&Id> =
            writes.iter().filter(|(_, e)| e.is_none()).map(|(id, _)| *id).collect();
        batch.extend(repo::entries::write(
            db,
            &commit.store_id,
            commit.to_version,
            &upserts,
            &removals,
        )?);
    }
    batch.extend(repo::audit::append(db, &commit.store_id, &records)?);
    batch.extend(commit.extra);
    db.batch(batch).await?;
    Ok(records)
}

/// The statements that make `commit.to_version` the store's version:
/// the version's row, claimed by primary key (a write racing from the
/// same version fails there, as a whole), and the store's pointer.
fn claim_version(
    db: &Db,
    commit: &Commit,
    active_entries: usize,
    holder: Option<&str>,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let version = NewVersion {
        store_id: &commit.store_id,
        from_version: commit.from_version,
        to_version: commit.to_version,
        at: commit.at,
        actor: &commit.actor,
        cause: commit.cause,
        proposal_id: commit.proposal_id.as_deref(),
        note: commit.note.as_deref(),
        active_entries,
    };
    repo::stores::claim_version(db, &version, holder, crate::now())
}

/// How long a decision may hold its store before the hold runs out.
const HOLD_MS: i64 = 5 * 60_000;

/// Holds store `row` at its version for the staging `token`: other writes
/// are refused until the staging commits or is dropped. A 409 when the
/// store moved or another decision holds it.
pub(crate) async fn hold(db: &Db, row: &StoreRow, token: &str) -> ApiResult<()> {
    let now = crate::now().0;
    let held = repo::stores::hold(db, &row.id, row.version, token, now + HOLD_MS, now).await?;
    if !held {
        return Err(ApiError::conflict(format!(
            "store `{}` moved or another decision is being applied to it; reload and try again",
            row.id
        )));
    }
    Ok(())
}

/// Commits what staging `token` holds (see `repo::staging`) as one write
/// to the store, in one D1 batch, with `commit.extra`; `commit.events`
/// are staged already and ignored here. On failure the staging is
/// dropped, and a write that took the version first makes it a 409.
pub(crate) async fn commit_staged(db: &Db, token: &str, commit: Commit) -> ApiResult<()> {
    let proposal_id = commit.proposal_id.clone().unwrap_or_default();
    let mut batch = Vec::new();
    if commit.to_version != commit.from_version {
        // The active count is taken once the entries are in place.
        batch.extend(claim_version(db, &commit, 0, Some(token))?);
    }
    batch.extend(repo::staging::finish(
        db,
        token,
        &commit.store_id,
        commit.to_version,
        &proposal_id,
        (&commit.actor, commit.at),
    )?);
    batch.extend(commit.extra);
    if let Err(e) = db.batch(batch).await {
        repo::staging::discard(db, token).await;
        return Err(e);
    }
    Ok(())
}

/// A store holding only `entries`, at the row's version (with none: its
/// id, version and scope, for pages of changes to fill in).
pub(crate) async fn partial(
    db: &Db,
    row: &StoreRow,
    entries: Vec<MemoryEntry>,
) -> ApiResult<MemoryStore> {
    assemble(db, row, row.version, entries).await
}

async fn describe(cx: &Cx, row: &StoreRow, agents: &[String]) -> ApiResult<api::Store> {
    let counts = repo::entries::status_counts(&cx.db, &row.id).await?;
    Ok(api::Store {
        id: row.id.clone(),
        scope: row.scope.clone(),
        owner_agent: row.owner_agent.clone(),
        agents: agents.to_vec(),
        version: row.version,
        created_at: row.created_at as i64,
        entries: counts.values().sum::<i64>(),
        active_entries: counts.get("active").copied().unwrap_or(0),
        by_status: counts,
    })
}

/// `GET /stores`: the stores the caller may read.
pub(crate) async fn list(cx: &Cx) -> ApiResult {
    let rows = repo::stores::list(&cx.db).await?;
    let mut out = Vec::new();
    for row in rows {
        let mut agents = agents_using(&cx.db, &row.id).await?;
        agents.extend(
            row.owner_agent.iter().filter(|o| !agents.contains(o)).cloned().collect::<Vec<_>>(),
        );
        if cx.who.can_read_any(&agents).is_ok() {
            out.push(describe(cx, &row, &agents).await?);
        }
    }
    http::json(&api::StoreList { stores: out })
}

/// `POST /stores`: an empty store, usually a shared one (private stores
/// are made when an agent's config names them).
pub(crate) async fn create(cx: &Cx, req: &mut Request) -> ApiResult {
    cx.who.require_admin()?;
    let new: api::NewStore = http::json_body(req, http::limits::SMALL).await?;
    let id = Id::new(new.id.clone()).map_err(|e| ApiError::new(422, format!("`id`: {e}")))?;
    if new.scope != "shared" {
        return Err(ApiError::new(
            422,
            "`scope`: only shared stores are created here; a private store is made when an agent's config names it",
        ));
    }
    if find(&cx.db, id.as_str()).await?.is_some() {
        return Err(ApiError::conflict(format!("memory store `{id}` exists already")));
    }
    let row = StoreRow {
        id: id.to_string(),
        scope: "shared".into(),
        owner_agent: None,
        version: 0,
        created_at: cx.now.0 as f64,
    };
    repo::stores::create(&cx.db, &row, &cx.who.actor()).await?;
    http::json_status(201, &describe(cx, &row, &[]).await?)
}

/// `GET /stores/{id}`.
pub(crate) async fn show(cx: &Cx, id: &str) -> ApiResult {
    let (row, agents) = readable(cx, id).await?;
    http::json_at_version(&describe(cx, &row, &agents).await?, row.version)
}

/// `GET /stores/{id}/versions`: newest first, paged by `before`.
pub(crate) async fn versions(cx: &Cx, id: &str, q: &Query) -> ApiResult {
    let (row, _) = readable(cx, id).await?;
    let limit = q.limit(50, 500)?;
    let before = q.int("before")?.unwrap_or(i64::MAX);
    let rows = repo::stores::versions(&cx.db, &row.id, before, limit).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.version)).flatten();
    let versions = rows
        .into_iter()
        .map(|v| api::Version {
            version: v.version,
            created_at: v.created_at as i64,
            actor: v.actor,
            cause: v.cause,
            proposal_id: v.proposal_id,
            note: v.note,
            active_entries: v.active_entries,
        })
        .collect();
    http::json(&api::VersionList {
        store_id: row.id.clone(),
        current_version: row.version,
        versions,
        next_before: next,
    })
}

/// `GET /stores/{id}/versions/{v}`: the entries at that version (paged by
/// entry id); with `diff=previous` what changed from the version before;
/// with `diff=current` what a rollback to it would change in the store as
/// it is now (a rollback's preview).
pub(crate) async fn version(cx: &Cx, id: &str, v: &str, q: &Query) -> ApiResult {
    let (row, _) = readable(cx, id).await?;
    let version: i64 = v
        .parse()
        .map_err(|_| ApiError::bad_request(format!("version `{v}` is not a whole number")))?;
    if !(0..=row.version).contains(&version) {
        return Err(ApiError::not_found(
            "version",
            &format!("{version} of store {} (now at {})", row.id, row.version),
        ));
    }
    let diff = q.one_of("diff", &["previous", "current"])?;
    if diff.as_deref() == Some("current") {
        let current = load(&cx.db, &row).await?;
        let target = load_version(&cx.db, &row, version).await?;
        return http::json(&api::VersionDiff {
            store_id: row.id.clone(),
            version,
            against: row.version,
            diffs: entry_diffs(&current.entries, &target.entries),
            by_change: Default::default(),
        });
    }
    if diff.is_some() {
        let rows = repo::entries::changed_at(&cx.db, &row.id, version).await?;
        let parse =
            |s: &Option<String>| s.as_deref().map(serde_json::from_str::<MemoryEntry>).transpose();
        let mut before = Vec::new();
        let mut after = Vec::new();
        for r in &rows {
            before.extend(parse(&r.before)?);
            after.extend(parse(&r.after)?);
        }
        let diffs = entry_diffs(&before, &after);
        let by_change = repo::proposals::applied_in(&cx.db, &row.id, version).await?;
        return http::json(&api::VersionDiff {
            store_id: row.id.clone(),
            version,
            against: version - 1,
            diffs,
            by_change,
        });
    }
    let limit = q.limit(500, 5000)?;
    let after_id = q.str("after").unwrap_or("");
    let entries = if version == row.version {
        repo::entries::page(&cx.db, &row.id, after_id, limit).await?
    } else {
        repo::entries::page_at(&cx.db, &row.id, version, after_id, limit).await?
    };
    let next =
        (entries.len() as i64 == limit).then(|| entries.last().map(|e| e.id.to_string())).flatten();
    http::json(&api::EntryPage { store_id: row.id.clone(), version, entries, next_after: next })
}

/// `POST /stores/{id}/rollback`: a new version equal to an earlier one.
/// (The route tells the store's webhooks: `webhooks` reads stores, so
/// stores do not call it.)
pub(crate) async fn rollback(cx: &Cx, id: &str, req: &mut Request) -> ApiResult<api::RolledBack> {
    let (row, agents) = readable(cx, id).await?;
    let reviewer = agents.iter().any(|a| cx.who.can_review(a).is_ok());
    if !reviewer && cx.who.require_admin().is_err() {
        return Err(ApiError::forbidden(
            "rolling back needs a reviewer or admin token granted this store's agent",
        ));
    }
    let body: api::RollbackRequest = http::json_body(req, http::limits::SMALL).await?;
    let reason = body.reason.as_deref().map(|r| http::reason_text(r, 500)).transpose()?;
    http::expect_version(req, body.expected_version, &row.id, row.version)?;
    let current = load(&cx.db, &row).await?;
    let target = load_version(&cx.db, &row, body.version).await?;
    let (next, mut events) =
        reverie_core::apply::rollback(&current, &target, &cx.who.actor(), cx.now)?;
    if let Some(reason) = reason.filter(|r| !r.is_empty()) {
        for e in &mut events {
            e.note = Some(format!("rolled back to version {}: {reason}", body.version));
        }
    }
    let changed = events.len();
    commit(
        &cx.db,
        Commit {
            store_id: row.id.clone(),
            from_version: row.version,
            to_version: next.version as i64,
            actor: cx.who.actor(),
            at: cx.now,
            cause: "rollback",
            proposal_id: None,
            note: Some(format!("rolled back to version {}", body.version)),
            active_entries: next.active().count(),
            events,
            extra: Vec::new(),
        },
    )
    .await?;
    Ok(api::RolledBack {
        store_id: row.id.clone(),
        version: next.version as i64,
        rolled_back_to: body.version,
        entries_changed: changed,
    })
}

/// `GET /stores/{id}/audit`: records oldest first from `after`, or newest
/// first with `order=desc` from `before`.
pub(crate) async fn audit_log(cx: &Cx, id: &str, q: &Query) -> ApiResult {
    let (row, _) = readable(cx, id).await?;
    let limit = q.limit(100, 1000)?;
    let desc = q.one_of("order", &["asc", "desc"])?.as_deref() == Some("desc");
    let records = if desc {
        let before = q.int("before")?.unwrap_or(i64::MAX);
        repo::audit::page(&cx.db, &row.id, before, limit, true).await?
    } else {
        let after = q.int("after")?.unwrap_or(-1);
        repo::audit::page(&cx.db, &row.id, after, limit, false).await?
    };
    let cursor = (records.len() as i64 == limit).then(|| records.last().map(|r| r.seq)).flatten();
    let (next_before, next_after) = if desc { (cursor, None) } else { (None, cursor) };
    http::json(&api::AuditPage { store_id: row.id.clone(), records, next_before, next_after })
}

/// `GET /stores/{id}/audit/verify`: recomputes the whole hash chain.
pub(crate) async fn verify(cx: &Cx, id: &str) -> ApiResult {
    let (row, _) = readable(cx, id).await?;
    let records = repo::audit::all(&cx.db, &row.id).await?;
    let verification = audit::verify(None, &records);
    http::json(&api::Verified { store_id: row.id.clone(), verification })
}
