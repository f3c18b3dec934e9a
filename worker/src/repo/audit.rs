//! The `audit` table: each store's audit records, a hash chain numbered by
//! `seq`, kept as the JSON core makes of them.

use reverie_core::audit::AuditRecord;
use serde::Deserialize;
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// An audit record as stored (JSON).
#[derive(Deserialize)]
struct RecordRow {
    record: String,
}

impl RecordRow {
    /// The record, parsed.
    fn parse(&self) -> ApiResult<AuditRecord> {
        Ok(serde_json::from_str(&self.record)?)
    }
}

/// The last audit record of a store, which the next one chains to.
pub(crate) async fn last_record(db: &Db, store_id: &str) -> ApiResult<Option<AuditRecord>> {
    let last: Option<RecordRow> = db
        .first(
            "SELECT record FROM audit WHERE store_id = ?1 ORDER BY seq DESC LIMIT 1",
            &[db::s(store_id)],
        )
        .await?;
    last.map(|r| r.parse()).transpose()
}

/// Up to `limit` records of a store past `seq`: before it, newest first
/// (`newest_first`), or after it, oldest first.
pub(crate) async fn page(
    db: &Db,
    store_id: &str,
    seq: i64,
    limit: i64,
    newest_first: bool,
) -> ApiResult<Vec<AuditRecord>> {
    let sql = if newest_first {
        "SELECT record FROM audit WHERE store_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3"
    } else {
        "SELECT record FROM audit WHERE store_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    };
    let rows: Vec<RecordRow> = db.all(sql, &[db::s(store_id), db::n(seq), db::n(limit)]).await?;
    rows.iter().map(RecordRow::parse).collect()
}

/// Every record of a store, oldest first.
pub(crate) async fn all(db: &Db, store_id: &str) -> ApiResult<Vec<AuditRecord>> {
    db.json_rows(
        "SELECT seq AS key, record AS body FROM audit WHERE store_id = ?3 AND seq > ?1 \
         ORDER BY seq LIMIT ?2",
        db::n(-1),
        &[db::s(store_id)],
    )
    .await
}

/// The statements that append `records` to a store's audit log.
pub(crate) fn append(
    db: &Db,
    store_id: &str,
    records: &[AuditRecord],
) -> ApiResult<Vec<D1PreparedStatement>> {
    let sid = db::s(store_id);
    db::json_chunks(records)?
        .into_iter()
        .map(|chunk| {
            db.stmt(
                "INSERT INTO audit \
                 (store_id, seq, at, actor, action, store_version, proposal_id, record) \
                 SELECT ?1, json_extract(value, '$.seq'), json_extract(value, '$.at'), \
                 json_extract(value, '$.actor'), json_extract(value, '$.action'), \
                 json_extract(value, '$.store_version'), json_extract(value, '$.proposal_id'), \
                 value FROM json_each(?2)",
                &[sid.clone(), db::s(&chunk)],
            )
        })
        .collect()
}
