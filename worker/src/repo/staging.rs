//! The staging tables: the writes of a decision applied a page of changes
//! at a time, held out of readers' sight until one last batch moves them
//! into place with the new store version (`stores::commit_staged`), or
//! drops them. Each staging has a token; a staging whose request died is
//! dropped by the next one to start after an hour.

use reverie_core::audit::AuditRecord;
use reverie_core::{Id, MemoryEntry, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// A staging older than this belongs to a request that died.
const ABANDONED_MS: i64 = 60 * 60_000;

/// Starts staging `token` for `store_id`, first dropping abandoned ones.
pub(crate) async fn begin(db: &Db, token: &str, store_id: &str, now: Timestamp) -> ApiResult<()> {
    let old = db::n(now.0 - ABANDONED_MS);
    db.batch(vec![
        db.stmt(
            "DELETE FROM staged_entries WHERE token IN (SELECT token FROM stagings WHERE created_at < ?1)",
            std::slice::from_ref(&old),
        )?,
        db.stmt(
            "DELETE FROM staged_chunks WHERE token IN (SELECT token FROM stagings WHERE created_at < ?1)",
            std::slice::from_ref(&old),
        )?,
        db.stmt("DELETE FROM stagings WHERE created_at < ?1", &[old])?,
        db.stmt(
            "INSERT INTO stagings (token, store_id, created_at) VALUES (?1, ?2, ?3)",
            &[db::s(token), db::s(store_id), db::n(now.0)],
        )?,
    ])
    .await?;
    Ok(())
}

/// Drops what `token` staged, and its hold on the store.
pub(crate) fn drop_statements(db: &Db, token: &str) -> ApiResult<Vec<D1PreparedStatement>> {
    let mut out: Vec<D1PreparedStatement> = ["staged_entries", "staged_chunks", "stagings"]
        .iter()
        .map(|table| db.stmt(&format!("DELETE FROM {table} WHERE token = ?1"), &[db::s(token)]))
        .collect::<ApiResult<_>>()?;
    out.push(db.stmt(
        "UPDATE stores SET held_by = NULL, held_until = NULL WHERE held_by = ?1",
        &[db::s(token)],
    )?);
    Ok(out)
}

/// Drops what `token` staged, after a failure (best effort: what is left
/// is dropped as abandoned later).
pub(crate) async fn discard(db: &Db, token: &str) {
    if let Ok(statements) = drop_statements(db, token) {
        if let Err(e) = db.batch(statements).await {
            worker::console_error!("staging {token} could not be dropped: {}", e.message);
        }
    }
}

#[derive(Deserialize)]
struct StagedRow {
    id: String,
    body: Option<String>,
}

/// The entries among `ids` that earlier pages of `token` wrote, with their
/// staged state (`None`: removed).
pub(crate) async fn entries(
    db: &Db,
    token: &str,
    ids: &[&Id],
) -> ApiResult<Vec<(Id, Option<MemoryEntry>)>> {
    let mut out = Vec::new();
    for chunk in db::json_chunks(ids)? {
        let rows: Vec<StagedRow> = db
            .all(
                "SELECT id, body FROM staged_entries WHERE token = ?1 \
                 AND id IN (SELECT value FROM json_each(?2))",
                &[db::s(token), db::s(&chunk)],
            )
            .await?;
        for row in rows {
            let body = row.body.map(|b| serde_json::from_str(&b)).transpose()?;
            out.push((Id::new(row.id)?, body));
        }
    }
    Ok(out)
}

#[derive(Serialize)]
struct EntryWrite<'a> {
    id: &'a Id,
    body: Option<&'a MemoryEntry>,
}

/// One page's writes, staged: the entries' latest states, the audit
/// records and the decisions (rows of `decision_row`, which
/// `proposals::record_staged_decisions` reads).
/// `seq` numbers the chunks across pages and is moved on.
pub(crate) fn page<D: Serialize>(
    db: &Db,
    token: &str,
    seq: &mut i64,
    writes: &[(Id, Option<MemoryEntry>)],
    records: &[AuditRecord],
    decisions: impl IntoIterator<Item = D>,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let mut out = Vec::new();
    let entries = writes.iter().map(|(id, body)| EntryWrite { id, body: body.as_ref() });
    for chunk in db::json_chunks(entries)? {
        out.push(db.stmt(
            "INSERT INTO staged_entries (token, id, body) \
             SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.body') \
             FROM json_each(?2) WHERE true \
             ON CONFLICT (token, id) DO UPDATE SET body = excluded.body",
            &[db::s(token), db::s(&chunk)],
        )?);
    }
    let chunks = db::json_chunks(records)?
        .into_iter()
        .map(|c| ("audit", c))
        .chain(db::json_chunks(decisions)?.into_iter().map(|c| ("decisions", c)));
    for (kind, chunk) in chunks {
        *seq += 1;
        out.push(db.stmt(
            "INSERT INTO staged_chunks (token, seq, kind, chunk) VALUES (?1, ?2, ?3, ?4)",
            &[db::s(token), db::n(*seq), db::s(kind), db::s(&chunk)],
        )?);
    }
    Ok(out)
}

/// The statements that move `token`'s staged writes into place as
/// `version` of `store_id` (entries, their history, the audit records,
/// the decisions on `proposal_id`'s changes), count the store's active
/// entries into the version's row, and drop the staging.
pub(crate) fn finish(
    db: &Db,
    token: &str,
    store_id: &str,
    version: i64,
    proposal_id: &str,
    decided: (&str, Timestamp),
) -> ApiResult<Vec<D1PreparedStatement>> {
    let (t, sid, v) = (db::s(token), db::s(store_id), db::n(version));
    let mut out = vec![
        db.stmt(
            "INSERT INTO entries (store_id, id, status, kind, version, body) \
             SELECT ?1, id, json_extract(body, '$.status'), json_extract(body, '$.kind'), ?2, body \
             FROM staged_entries WHERE token = ?3 AND body IS NOT NULL \
             ON CONFLICT (store_id, id) DO UPDATE SET status = excluded.status, kind = excluded.kind, \
             version = excluded.version, body = excluded.body",
            &[sid.clone(), v.clone(), t.clone()],
        )?,
        db.stmt(
            "DELETE FROM entries WHERE store_id = ?1 \
             AND id IN (SELECT id FROM staged_entries WHERE token = ?2 AND body IS NULL)",
            &[sid.clone(), t.clone()],
        )?,
        db.stmt(
            "INSERT INTO entry_history (store_id, id, version, body) \
             SELECT ?1, id, ?2, body FROM staged_entries WHERE token = ?3",
            &[sid.clone(), v.clone(), t.clone()],
        )?,
        db.stmt(
            "INSERT INTO audit (store_id, seq, at, actor, action, store_version, proposal_id, record) \
             SELECT ?1, json_extract(r.value, '$.seq'), json_extract(r.value, '$.at'), \
             json_extract(r.value, '$.actor'), json_extract(r.value, '$.action'), \
             json_extract(r.value, '$.store_version'), json_extract(r.value, '$.proposal_id'), r.value \
             FROM staged_chunks s, json_each(s.chunk) r WHERE s.token = ?2 AND s.kind = 'audit' \
             ORDER BY s.seq, r.key",
            &[sid.clone(), t.clone()],
        )?,
        crate::repo::proposals::record_staged_decisions(db, proposal_id, token, decided)?,
        db.stmt(
            "UPDATE store_versions SET active_entries = \
             (SELECT COUNT(*) FROM entries WHERE store_id = ?1 AND status = 'active') \
             WHERE store_id = ?1 AND version = ?2",
            &[sid, v],
        )?,
    ];
    out.extend(drop_statements(db, token)?);
    Ok(out)
}

/// A decision row as staged: what `record_staged_decisions` reads.
pub(crate) fn decision_row(
    id: &Id,
    decision: &reverie_core::apply::Decision,
    applied_version: Option<i64>,
) -> serde_json::Value {
    use reverie_core::apply::Decision;
    let kind = match decision {
        Decision::Accept { .. } => "accept",
        Decision::Reject { .. } => "reject",
        Decision::Edit { .. } => "edit",
    };
    json!({ "id": id, "decision": kind, "body": decision, "applied_version": applied_version })
}
