//! Memory stores in D1: loading a store (now or at any version), committing
//! a new version with its audit records in one transaction, and the
//! history routes (versions, a version's diff, rollback, audit log and its
//! verification).

use std::collections::BTreeMap;

use reverie_api as api;
use reverie_core::audit::{self, AuditEvent, AuditRecord};
use reverie_core::diff::entry_diffs;
use reverie_core::{Id, MemoryEntry, MemoryStore, Scope, Timestamp};
use serde::{Deserialize, Serialize};
use worker::{D1PreparedStatement, Request};

use crate::db::{self, Db};
use crate::http::{self, ApiError, ApiResult, Query};
use crate::{repo, Cx};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoreRow {
    pub id: String,
    pub scope: String,
    pub owner_agent: Option<String>,
    pub version: i64,
    pub created_at: f64,
}

impl StoreRow {
    pub fn is_shared(&self) -> bool {
        self.scope == "shared"
    }
}

pub(crate) async fn find(db: &Db, id: &str) -> ApiResult<Option<StoreRow>> {
    db.first(
        "SELECT id, scope, owner_agent, version, created_at FROM stores WHERE id = ?1",
        &[db::s(id)],
    )
    .await
}

pub(crate) async fn get(db: &Db, id: &str) -> ApiResult<StoreRow> {
    find(db, id).await?.ok_or_else(|| ApiError::not_found("memory store", id))
}

#[derive(Deserialize)]
struct AgentId {
    id: String,
}

/// The agents whose config names this store.
pub(crate) async fn agents_using(db: &Db, store_id: &str) -> ApiResult<Vec<String>> {
    let rows: Vec<AgentId> =
        db.all("SELECT id FROM agents WHERE store_id = ?1 ORDER BY id", &[db::s(store_id)]).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
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
    let entries: Vec<MemoryEntry> = db
        .json_rows(
            "SELECT id AS key, body FROM entries WHERE store_id = ?3 AND id > ?1 ORDER BY id LIMIT ?2",
            db::s(""),
            &[db::s(&row.id)],
        )
        .await?;
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
    let sql = format!(
        "SELECT h.id AS key, h.body AS body FROM entry_history h WHERE h.store_id = ?3 AND h.id > ?1 AND {} \
         ORDER BY h.id LIMIT ?2",
        as_of("?4")
    );
    let entries: Vec<MemoryEntry> =
        db.json_rows(&sql, db::s(""), &[db::s(&row.id), db::n(version)]).await?;
    assemble(db, row, version, entries).await
}

/// The SQL condition that `entry_history h` is its entry's state as of the
/// version in parameter `version`: the latest at or before it, and not a
/// removal.
pub(crate) fn as_of(version: &str) -> String {
    format!(
        "h.body IS NOT NULL AND h.version = (SELECT MAX(p.version) FROM entry_history p \
         WHERE p.store_id = h.store_id AND p.id = h.id AND p.version <= {version})"
    )
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
    if let Some(row) = find(db, id).await? {
        if !row.is_shared() && row.owner_agent.as_deref() != Some(agent) {
            return Err(ApiError::conflict(format!(
                "memory store `{id}` is private to agent `{}`; name another store, or create a shared one",
                row.owner_agent.as_deref().unwrap_or("?")
            )));
        }
        return Ok(row);
    }
    let row = StoreRow {
        id: id.to_string(),
        scope: if shared { "shared" } else { "private" }.into(),
        owner_agent: (!shared).then(|| agent.to_string()),
        version: 0,
        created_at: at.0 as f64,
    };
    create_row(db, &row, &format!("agent:{agent}")).await?;
    Ok(row)
}

async fn create_row(db: &Db, row: &StoreRow, actor: &str) -> ApiResult<()> {
    db.batch(vec![
        db.stmt(
            "INSERT INTO stores (id, scope, owner_agent, version, created_at) VALUES (?1, ?2, ?3, 0, ?4)",
            &[db::s(&row.id), db::s(&row.scope), db::opt_s(row.owner_agent.as_deref()), db::n(row.created_at as i64)],
        )?,
        db.stmt(
            "INSERT INTO store_versions (store_id, version, created_at, actor, cause, active_entries) \
             VALUES (?1, 0, ?2, ?3, 'created', 0)",
            &[db::s(&row.id), db::n(row.created_at as i64), db::s(actor)],
        )?,
    ])
    .await?;
    Ok(())
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
    let sid = db::s(&commit.store_id);
    let version = db::n(commit.to_version);
    let mut batch = Vec::new();
    if commit.to_version != commit.from_version {
        batch.extend(claim_version(db, &commit, commit.active_entries, None)?);
        let writes = writes_of(&commit.events);
        let upserts: Vec<&MemoryEntry> = writes.values().filter_map(|e| *e).collect();
        let removals: Vec<&Id> =
            writes.iter().filter(|(_, e)| e.is_none()).map(|(id, _)| *id).collect();
        for chunk in db::json_chunks(&upserts)? {
            let c = db::s(&chunk);
            batch.push(db.stmt(
                "INSERT INTO entries (store_id, id, status, kind, version, body) \
                 SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.status'), json_extract(value, '$.kind'), ?2, value \
                 FROM json_each(?3) WHERE true \
                 ON CONFLICT (store_id, id) DO UPDATE SET status = excluded.status, kind = excluded.kind, \
                 version = excluded.version, body = excluded.body",
                &[sid.clone(), version.clone(), c.clone()],
            )?);
            batch.push(db.stmt(
                "INSERT INTO entry_history (store_id, id, version, body) \
                 SELECT ?1, json_extract(value, '$.id'), ?2, value FROM json_each(?3)",
                &[sid.clone(), version.clone(), c],
            )?);
        }
        for chunk in db::json_chunks(&removals)? {
            let c = db::s(&chunk);
            batch.push(db.stmt(
                "DELETE FROM entries WHERE store_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
                &[sid.clone(), c.clone()],
            )?);
            batch.push(db.stmt(
                "INSERT INTO entry_history (store_id, id, version, body) SELECT ?1, value, ?2, NULL FROM json_each(?3)",
                &[sid.clone(), version.clone(), c],
            )?);
        }
    }
    for chunk in db::json_chunks(&records)? {
        batch.push(db.stmt(
            "INSERT INTO audit (store_id, seq, at, actor, action, store_version, proposal_id, record) \
             SELECT ?1, json_extract(value, '$.seq'), json_extract(value, '$.at'), json_extract(value, '$.actor'), \
             json_extract(value, '$.action'), json_extract(value, '$.store_version'), json_extract(value, '$.proposal_id'), value \
             FROM json_each(?2)",
            &[sid.clone(), db::s(&chunk)],
        )?);
    }
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
    let (sid, version) = (db::s(&commit.store_id), db::n(commit.to_version));
    Ok(vec![
        db.stmt(
            "INSERT INTO store_versions (store_id, version, created_at, actor, cause, proposal_id, note, active_entries) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[
                sid.clone(),
                version.clone(),
                db::n(commit.at.0),
                db::s(&commit.actor),
                db::s(commit.cause),
                db::opt_s(commit.proposal_id.as_deref()),
                db::opt_s(commit.note.as_deref()),
                db::n(active_entries as i64),
            ],
        )?,
        // While a decision holds the store (see `hold`), any other write
        // sets the version NULL, which the column refuses: the batch
        // fails whole, and the caller gets a 409 to try again.
        db.stmt(
            "UPDATE stores SET version = CASE WHEN held_by IS NOT NULL AND held_by IS NOT ?4 \
             AND held_until > ?5 THEN NULL ELSE ?2 END, \
             held_by = NULL, held_until = NULL WHERE id = ?1 AND version = ?3",
            &[sid, version, db::n(commit.from_version), db::opt_s(holder), db::n(crate::now().0)],
        )?,
    ])
}

/// How long a decision may hold its store before the hold runs out.
const HOLD_MS: i64 = 5 * 60_000;

/// Holds store `row` at its version for the staging `token`: other writes
/// are refused until the staging commits or is dropped. A 409 when the
/// store moved or another decision holds it.
pub(crate) async fn hold(db: &Db, row: &StoreRow, token: &str) -> ApiResult<()> {
    let now = crate::now().0;
    let held = db
        .run(
            "UPDATE stores SET held_by = ?2, held_until = ?3 WHERE id = ?1 AND version = ?4 \
             AND (held_by IS NULL OR held_until < ?5)",
            &[db::s(&row.id), db::s(token), db::n(now + HOLD_MS), db::n(row.version), db::n(now)],
        )
        .await?;
    if held == 0 {
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

/// The last audit record of a store, which the next one chains to.
pub(crate) async fn last_record(db: &Db, store_id: &str) -> ApiResult<Option<AuditRecord>> {
    let last: Option<RecordRow> = db
        .first(
            "SELECT record FROM audit WHERE store_id = ?1 ORDER BY seq DESC LIMIT 1",
            &[db::s(store_id)],
        )
        .await?;
    Ok(last.map(|r| serde_json::from_str(&r.record)).transpose()?)
}

/// The entries of a store among `ids`, as they are now.
pub(crate) async fn entries_by_id(
    db: &Db,
    store_id: &str,
    ids: &[&Id],
) -> ApiResult<Vec<MemoryEntry>> {
    let mut out = Vec::new();
    for chunk in db::json_chunks(ids)? {
        out.extend(
            db.bodies::<MemoryEntry>(
                "SELECT body FROM entries WHERE store_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
                &[db::s(store_id), db::s(&chunk)],
            )
            .await?,
        );
    }
    Ok(out)
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

#[derive(Deserialize)]
struct RecordRow {
    record: String,
}

/// Counts of a store's entries by status.
#[derive(Deserialize, Serialize)]
pub(crate) struct StatusCount {
    pub status: String,
    pub n: i64,
}

pub(crate) async fn status_counts(db: &Db, store_id: &str) -> ApiResult<BTreeMap<String, i64>> {
    let rows: Vec<StatusCount> = db
        .all(
            "SELECT status, COUNT(*) AS n FROM entries WHERE store_id = ?1 GROUP BY status",
            &[db::s(store_id)],
        )
        .await?;
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}

async fn describe(cx: &Cx, row: &StoreRow, agents: &[String]) -> ApiResult<api::Store> {
    let counts = status_counts(&cx.db, &row.id).await?;
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
    let rows: Vec<StoreRow> = cx
        .db
        .all("SELECT id, scope, owner_agent, version, created_at FROM stores ORDER BY id", &[])
        .await?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStore {
    id: String,
    scope: String,
}

/// `POST /stores`: an empty store, usually a shared one (private stores
/// are made when an agent's config names them).
pub(crate) async fn create(cx: &Cx, req: &mut Request) -> ApiResult {
    cx.who.require_admin()?;
    let new: NewStore = http::json_body(req, http::limits::SMALL).await?;
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
    create_row(&cx.db, &row, &cx.who.actor()).await?;
    http::json_status(201, &describe(cx, &row, &[]).await?)
}

/// `GET /stores/{id}`.
pub(crate) async fn show(cx: &Cx, id: &str) -> ApiResult {
    let (row, agents) = readable(cx, id).await?;
    http::json_at_version(&describe(cx, &row, &agents).await?, row.version)
}

#[derive(Serialize, Deserialize)]
struct VersionRow {
    version: i64,
    created_at: f64,
    actor: String,
    cause: String,
    proposal_id: Option<String>,
    note: Option<String>,
    active_entries: i64,
}

/// `GET /stores/{id}/versions`: newest first, paged by `before`.
pub(crate) async fn versions(cx: &Cx, id: &str, q: &Query) -> ApiResult {
    let (row, _) = readable(cx, id).await?;
    let limit = q.limit(50, 500)?;
    let before = q.int("before")?.unwrap_or(i64::MAX);
    let rows: Vec<VersionRow> = cx
        .db
        .all(
            "SELECT version, created_at, actor, cause, proposal_id, note, active_entries FROM store_versions \
             WHERE store_id = ?1 AND version < ?2 ORDER BY version DESC LIMIT ?3",
            &[db::s(&row.id), db::n(before), db::n(limit)],
        )
        .await?;
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

#[derive(Deserialize)]
struct ChangedAt {
    after: Option<String>,
    before: Option<String>,
}

/// `GET /stores/{id}/versions/{v}`: the entries at that version (paged by
/// entry id), or with `diff=previous` what changed from the version before.
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
    if q.one_of("diff", &["previous"])?.is_some() {
        let rows: Vec<ChangedAt> = cx
            .db
            .all(
                "SELECT h.body AS after, (SELECT p.body FROM entry_history p WHERE p.store_id = h.store_id \
                 AND p.id = h.id AND p.version < h.version ORDER BY p.version DESC LIMIT 1) AS before \
                 FROM entry_history h WHERE h.store_id = ?1 AND h.version = ?2 ORDER BY h.id",
                &[db::s(&row.id), db::n(version)],
            )
            .await?;
        let parse =
            |s: &Option<String>| s.as_deref().map(serde_json::from_str::<MemoryEntry>).transpose();
        let mut before = Vec::new();
        let mut after = Vec::new();
        for r in &rows {
            before.extend(parse(&r.before)?);
            after.extend(parse(&r.after)?);
        }
        let diffs = entry_diffs(&before, &after);
        return http::json(&api::VersionDiff {
            store_id: row.id.clone(),
            version,
            against: version - 1,
            diffs,
        });
    }
    let limit = q.limit(500, 5000)?;
    let after_id = q.str("after").unwrap_or("");
    let (sql, args) = if version == row.version {
        (
            "SELECT body FROM entries WHERE store_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                .to_string(),
            vec![db::s(&row.id), db::s(after_id), db::n(limit)],
        )
    } else {
        (
            format!(
                "SELECT h.body AS body FROM entry_history h WHERE h.store_id = ?1 AND h.id > ?2 AND {} \
                 ORDER BY h.id LIMIT ?3",
                as_of("?4")
            ),
            vec![db::s(&row.id), db::s(after_id), db::n(limit), db::n(version)],
        )
    };
    let entries: Vec<MemoryEntry> = cx.db.bodies(&sql, &args).await?;
    let next =
        (entries.len() as i64 == limit).then(|| entries.last().map(|e| e.id.to_string())).flatten();
    http::json(&api::EntryPage { store_id: row.id.clone(), version, entries, next_after: next })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackRequest {
    version: i64,
    #[serde(default)]
    reason: Option<String>,
    /// The store version the caller saw (or `If-Match`); another is 409.
    #[serde(default)]
    expected_version: Option<i64>,
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
    let body: RollbackRequest = http::json_body(req, http::limits::SMALL).await?;
    http::expect_version(req, body.expected_version, &row.id, row.version)?;
    let current = load(&cx.db, &row).await?;
    let target = load_version(&cx.db, &row, body.version).await?;
    let (next, mut events) =
        reverie_core::apply::rollback(&current, &target, &cx.who.actor(), cx.now)?;
    if let Some(reason) = body.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        for e in &mut events {
            e.note = Some(format!(
                "rolled back to version {}: {}",
                body.version,
                http::clip(reason, 500)
            ));
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
    let rows: Vec<RecordRow> = if desc {
        let before = q.int("before")?.unwrap_or(i64::MAX);
        cx.db
            .all(
                "SELECT record FROM audit WHERE store_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
                &[db::s(&row.id), db::n(before), db::n(limit)],
            )
            .await?
    } else {
        let after = q.int("after")?.unwrap_or(-1);
        cx.db
            .all(
                "SELECT record FROM audit WHERE store_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                &[db::s(&row.id), db::n(after), db::n(limit)],
            )
            .await?
    };
    let records: Vec<AuditRecord> =
        rows.iter().map(|r| serde_json::from_str(&r.record)).collect::<Result<_, _>>()?;
    let cursor = (records.len() as i64 == limit).then(|| records.last().map(|r| r.seq)).flatten();
    let (next_before, next_after) = if desc { (cursor, None) } else { (None, cursor) };
    http::json(&api::AuditPage { store_id: row.id.clone(), records, next_before, next_after })
}

/// `GET /stores/{id}/audit/verify`: recomputes the whole hash chain.
pub(crate) async fn verify(cx: &Cx, id: &str) -> ApiResult {
    let (row, _) = readable(cx, id).await?;
    let records: Vec<AuditRecord> = cx
        .db
        .json_rows(
            "SELECT seq AS key, record AS body FROM audit WHERE store_id = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2",
            db::n(-1),
            &[db::s(&row.id)],
        )
        .await?;
    let verification = audit::verify(None, &records);
    http::json(&api::Verified { store_id: row.id.clone(), verification })
}
