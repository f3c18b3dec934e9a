//! The `entries` and `entry_history` tables: each store's entries as they
//! are now, and every state each entry had, by version (a removal is a
//! state with no body).

use std::collections::BTreeMap;

use reverie_core::{Id, MemoryEntry};
use serde::Deserialize;
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// An entry's state at a version and the state before it (JSON; `None`:
/// not in the store).
#[derive(Deserialize)]
pub(crate) struct ChangedRow {
    pub after: Option<String>,
    pub before: Option<String>,
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

/// Every entry of a store as it is now.
pub(crate) async fn all(db: &Db, store_id: &str) -> ApiResult<Vec<MemoryEntry>> {
    db.json_rows(
        "SELECT id AS key, body FROM entries WHERE store_id = ?3 AND id > ?1 ORDER BY id LIMIT ?2",
        db::s(""),
        &[db::s(store_id)],
    )
    .await
}

/// Every entry of a store as it was at `version`.
pub(crate) async fn all_at(db: &Db, store_id: &str, version: i64) -> ApiResult<Vec<MemoryEntry>> {
    let sql = format!(
        "SELECT h.id AS key, h.body AS body FROM entry_history h \
         WHERE h.store_id = ?3 AND h.id > ?1 AND {} \
         ORDER BY h.id LIMIT ?2",
        as_of("?4")
    );
    db.json_rows(&sql, db::s(""), &[db::s(store_id), db::n(version)]).await
}

/// The entries of a store among `ids`, as they are now.
pub(crate) async fn by_id(db: &Db, store_id: &str, ids: &[&Id]) -> ApiResult<Vec<MemoryEntry>> {
    let mut out = Vec::new();
    for chunk in db::json_chunks(ids)? {
        out.extend(
            db.bodies::<MemoryEntry>(
                "SELECT body FROM entries WHERE store_id = ?1 \
                 AND id IN (SELECT value FROM json_each(?2))",
                &[db::s(store_id), db::s(&chunk)],
            )
            .await?,
        );
    }
    Ok(out)
}

/// The entry `id` of a store as it is now.
pub(crate) async fn find(db: &Db, store_id: &str, id: &str) -> ApiResult<Option<MemoryEntry>> {
    db.body(
        "SELECT body FROM entries WHERE store_id = ?1 AND id = ?2",
        &[db::s(store_id), db::s(id)],
    )
    .await
}

/// Up to 20 of `ids` that the store holds already.
pub(crate) async fn existing_ids(db: &Db, store_id: &str, ids: &[&str]) -> ApiResult<Vec<String>> {
    #[derive(Deserialize)]
    struct IdRow {
        id: String,
    }
    let rows: Vec<IdRow> = db
        .all(
            "SELECT id FROM entries WHERE store_id = ?1 \
             AND id IN (SELECT value FROM json_each(?2)) LIMIT 20",
            &[db::s(store_id), db::s(&serde_json::to_string(&ids)?)],
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// A page of a store's entries as they are now, after the id `after`, of
/// `status` and `kind` when given.
pub(crate) async fn list(
    db: &Db,
    store_id: &str,
    after: &str,
    status: Option<&str>,
    kind: Option<&str>,
    limit: i64,
) -> ApiResult<Vec<MemoryEntry>> {
    db.bodies(
        "SELECT body FROM entries WHERE store_id = ?1 AND id > ?2 AND (?3 IS NULL OR status = ?3) \
         AND (?4 IS NULL OR kind = ?4) ORDER BY id LIMIT ?5",
        &[db::s(store_id), db::s(after), db::opt_s(status), db::opt_s(kind), db::n(limit)],
    )
    .await
}

/// A page of a store's entries as they are now, after the id `after`.
pub(crate) async fn page(
    db: &Db,
    store_id: &str,
    after: &str,
    limit: i64,
) -> ApiResult<Vec<MemoryEntry>> {
    db.bodies(
        "SELECT body FROM entries WHERE store_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        &[db::s(store_id), db::s(after), db::n(limit)],
    )
    .await
}

/// A page of a store's entries as they were at `version`, after the id
/// `after`.
pub(crate) async fn page_at(
    db: &Db,
    store_id: &str,
    version: i64,
    after: &str,
    limit: i64,
) -> ApiResult<Vec<MemoryEntry>> {
    let sql = format!(
        "SELECT h.body AS body FROM entry_history h \
         WHERE h.store_id = ?1 AND h.id > ?2 AND {} \
         ORDER BY h.id LIMIT ?3",
        as_of("?4")
    );
    db.bodies(&sql, &[db::s(store_id), db::s(after), db::n(limit), db::n(version)]).await
}

/// The entries `version` wrote, by id, each with its state before.
pub(crate) async fn changed_at(
    db: &Db,
    store_id: &str,
    version: i64,
) -> ApiResult<Vec<ChangedRow>> {
    db.all(
        "SELECT h.body AS after, (SELECT p.body FROM entry_history p \
         WHERE p.store_id = h.store_id \
         AND p.id = h.id AND p.version < h.version ORDER BY p.version DESC LIMIT 1) AS before \
         FROM entry_history h WHERE h.store_id = ?1 AND h.version = ?2 ORDER BY h.id",
        &[db::s(store_id), db::n(version)],
    )
    .await
}

/// Counts of a store's entries by status.
pub(crate) async fn status_counts(db: &Db, store_id: &str) -> ApiResult<BTreeMap<String, i64>> {
    #[derive(Deserialize)]
    struct StatusCountRow {
        status: String,
        n: i64,
    }
    let rows: Vec<StatusCountRow> = db
        .all(
            "SELECT status, COUNT(*) AS n FROM entries WHERE store_id = ?1 GROUP BY status",
            &[db::s(store_id)],
        )
        .await?;
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}

/// The statements that write `upserts` and `removals` into a store as
/// `version`, each with its history row (a removal's has no body).
pub(crate) fn write(
    db: &Db,
    store_id: &str,
    version: i64,
    upserts: &[&MemoryEntry],
    removals: &[&Id],
) -> ApiResult<Vec<D1PreparedStatement>> {
    let sid = db::s(store_id);
    let version = db::n(version);
    let mut out = Vec::new();
    for chunk in db::json_chunks(upserts)? {
        let c = db::s(&chunk);
        out.push(db.stmt(
            "INSERT INTO entries (store_id, id, status, kind, version, body) \
             SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.status'), \
             json_extract(value, '$.kind'), ?2, value \
             FROM json_each(?3) WHERE true \
             ON CONFLICT (store_id, id) DO UPDATE SET status = excluded.status, \
             kind = excluded.kind, version = excluded.version, body = excluded.body",
            &[sid.clone(), version.clone(), c.clone()],
        )?);
        out.push(db.stmt(
            "INSERT INTO entry_history (store_id, id, version, body) \
             SELECT ?1, json_extract(value, '$.id'), ?2, value FROM json_each(?3)",
            &[sid.clone(), version.clone(), c],
        )?);
    }
    for chunk in db::json_chunks(removals)? {
        let c = db::s(&chunk);
        out.push(db.stmt(
            "DELETE FROM entries WHERE store_id = ?1 \
             AND id IN (SELECT value FROM json_each(?2))",
            &[sid.clone(), c.clone()],
        )?);
        out.push(db.stmt(
            "INSERT INTO entry_history (store_id, id, version, body) \
             SELECT ?1, value, ?2, NULL FROM json_each(?3)",
            &[sid.clone(), version.clone(), c],
        )?);
    }
    Ok(out)
}

/// The entries of a store among `ids`, as they were at `version`.
pub(crate) async fn by_id_at(
    db: &Db,
    store_id: &str,
    ids: &[&Id],
    version: i64,
) -> ApiResult<Vec<MemoryEntry>> {
    let mut out = Vec::new();
    let sql = format!(
        "SELECT h.body AS body FROM entry_history h WHERE h.store_id = ?1 \
         AND h.id IN (SELECT value FROM json_each(?2)) AND {}",
        as_of("?3")
    );
    for chunk in db::json_chunks(ids)? {
        out.extend(
            db.bodies::<MemoryEntry>(&sql, &[db::s(store_id), db::s(&chunk), db::n(version)])
                .await?,
        );
    }
    Ok(out)
}
