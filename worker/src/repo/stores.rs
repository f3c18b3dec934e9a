//! The `stores` and `store_versions` tables: a store's row with its
//! version pointer and the hold a decision puts on it, and one row per
//! version; and the agents whose config names a store.

use reverie_core::Timestamp;
use serde::{Deserialize, Serialize};
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// A store as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoreRow {
    pub id: String,
    pub scope: String,
    pub owner_agent: Option<String>,
    pub version: i64,
    pub created_at: f64,
}

impl StoreRow {
    /// Whether the store is shared between agents.
    pub fn is_shared(&self) -> bool {
        self.scope == "shared"
    }
}

/// A version of a store as stored.
#[derive(Serialize, Deserialize)]
pub(crate) struct VersionRow {
    pub version: i64,
    pub created_at: f64,
    pub actor: String,
    pub cause: String,
    pub proposal_id: Option<String>,
    pub note: Option<String>,
    pub active_entries: i64,
}

/// The store `id`, if there is one.
pub(crate) async fn find(db: &Db, id: &str) -> ApiResult<Option<StoreRow>> {
    db.first(
        "SELECT id, scope, owner_agent, version, created_at FROM stores WHERE id = ?1",
        &[db::s(id)],
    )
    .await
}

/// Every store, by id.
pub(crate) async fn list(db: &Db) -> ApiResult<Vec<StoreRow>> {
    db.all("SELECT id, scope, owner_agent, version, created_at FROM stores ORDER BY id", &[]).await
}

/// Creates a store's row and its version 0, made by `actor`, in one batch.
pub(crate) async fn create(db: &Db, row: &StoreRow, actor: &str) -> ApiResult<()> {
    db.batch(vec![
        db.stmt(
            "INSERT INTO stores (id, scope, owner_agent, version, created_at) \
             VALUES (?1, ?2, ?3, 0, ?4)",
            &[
                db::s(&row.id),
                db::s(&row.scope),
                db::opt_s(row.owner_agent.as_deref()),
                db::n(row.created_at as i64),
            ],
        )?,
        db.stmt(
            "INSERT INTO store_versions \
             (store_id, version, created_at, actor, cause, active_entries) \
             VALUES (?1, 0, ?2, ?3, 'created', 0)",
            &[db::s(&row.id), db::n(row.created_at as i64), db::s(actor)],
        )?,
    ])
    .await?;
    Ok(())
}

/// The agents whose config names this store.
pub(crate) async fn agents_using(db: &Db, store_id: &str) -> ApiResult<Vec<String>> {
    #[derive(Deserialize)]
    struct AgentIdRow {
        id: String,
    }
    let rows: Vec<AgentIdRow> =
        db.all("SELECT id FROM agents WHERE store_id = ?1 ORDER BY id", &[db::s(store_id)]).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// A store's versions before `before`, newest first.
pub(crate) async fn versions(
    db: &Db,
    store_id: &str,
    before: i64,
    limit: i64,
) -> ApiResult<Vec<VersionRow>> {
    db.all(
        "SELECT version, created_at, actor, cause, proposal_id, note, active_entries \
         FROM store_versions \
         WHERE store_id = ?1 AND version < ?2 ORDER BY version DESC LIMIT ?3",
        &[db::s(store_id), db::n(before), db::n(limit)],
    )
    .await
}

/// The active entries a version's row records, if the version has a row.
pub(crate) async fn active_entries(
    db: &Db,
    store_id: &str,
    version: i64,
) -> ApiResult<Option<i64>> {
    #[derive(Deserialize)]
    struct ActiveRow {
        active_entries: i64,
    }
    let found: Option<ActiveRow> = db
        .first(
            "SELECT active_entries FROM store_versions WHERE store_id = ?1 AND version = ?2",
            &[db::s(store_id), db::n(version)],
        )
        .await?;
    Ok(found.map(|a| a.active_entries))
}

/// A new version of a store, as its row records it.
pub(crate) struct NewVersion<'a> {
    pub store_id: &'a str,
    pub from_version: i64,
    pub to_version: i64,
    pub at: Timestamp,
    pub actor: &'a str,
    pub cause: &'a str,
    pub proposal_id: Option<&'a str>,
    pub note: Option<&'a str>,
    pub active_entries: usize,
}

/// The statements that make `v.to_version` the store's version: the
/// version's row, claimed by primary key (a write racing from the same
/// version fails there, as a whole), and the store's pointer, unless a
/// hold other than `holder`'s is still on at `now`.
pub(crate) fn claim_version(
    db: &Db,
    v: &NewVersion,
    holder: Option<&str>,
    now: Timestamp,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let (sid, version) = (db::s(v.store_id), db::n(v.to_version));
    Ok(vec![
        db.stmt(
            "INSERT INTO store_versions \
             (store_id, version, created_at, actor, cause, proposal_id, note, active_entries) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[
                sid.clone(),
                version.clone(),
                db::n(v.at.0),
                db::s(v.actor),
                db::s(v.cause),
                db::opt_s(v.proposal_id),
                db::opt_s(v.note),
                db::n(v.active_entries as i64),
            ],
        )?,
        // While a decision holds the store (see `hold`), any other write
        // sets the version NULL, which the column refuses: the batch
        // fails whole, and the caller gets a 409 to try again.
        db.stmt(
            "UPDATE stores SET version = CASE WHEN held_by IS NOT NULL AND held_by IS NOT ?4 \
             AND held_until > ?5 THEN NULL ELSE ?2 END, \
             held_by = NULL, held_until = NULL WHERE id = ?1 AND version = ?3",
            &[sid, version, db::n(v.from_version), db::opt_s(holder), db::n(now.0)],
        )?,
    ])
}

/// Holds store `store_id` at `version` for `token` until `until`, unless
/// it moved or another hold is on at `now`; whether this call holds it.
pub(crate) async fn hold(
    db: &Db,
    store_id: &str,
    version: i64,
    token: &str,
    until: i64,
    now: i64,
) -> ApiResult<bool> {
    let held = db
        .run(
            "UPDATE stores SET held_by = ?2, held_until = ?3 WHERE id = ?1 AND version = ?4 \
             AND (held_by IS NULL OR held_until < ?5)",
            &[db::s(store_id), db::s(token), db::n(until), db::n(version), db::n(now)],
        )
        .await?;
    Ok(held > 0)
}

/// A version as a marker on the outcomes chart.
#[derive(Deserialize)]
pub(crate) struct VersionMarkRow {
    pub version: i64,
    pub created_at: f64,
    pub cause: String,
    pub proposal_id: Option<String>,
}

/// Every version of a store, oldest first.
pub(crate) async fn version_marks(db: &Db, store_id: &str) -> ApiResult<Vec<VersionMarkRow>> {
    db.all(
        "SELECT version, created_at, cause, proposal_id FROM store_versions WHERE store_id = ?1 \
         ORDER BY version",
        &[db::s(store_id)],
    )
    .await
}
