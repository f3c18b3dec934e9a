//! The `sessions` table: transcripts as sent and as read, with their
//! outcome metrics.

use std::collections::BTreeMap;

use reverie_core::{Session, Timestamp};
use serde::Deserialize;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// A stored session: as read, as sent, its format and metrics (JSON).
#[derive(Deserialize)]
pub(crate) struct StoredSession {
    pub body: String,
    pub raw: String,
    pub format: String,
    pub metrics: String,
}

/// A session's metrics (JSON) with its id and start.
#[derive(Deserialize)]
pub(crate) struct MetricsRow {
    pub id: String,
    pub started_at: f64,
    pub metrics: String,
}

/// A session's listing row.
#[derive(Deserialize)]
pub(crate) struct SessionRow {
    pub id: String,
    pub started_at: f64,
    pub ended_at: Option<f64>,
    pub format: String,
    pub message_count: i64,
    pub metrics: String,
}

pub(crate) async fn find(db: &Db, agent_id: &str, id: &str) -> ApiResult<Option<StoredSession>> {
    db.first(
        "SELECT body, raw, format, metrics FROM sessions WHERE agent_id = ?1 AND id = ?2",
        &[db::s(agent_id), db::s(id)],
    )
    .await
}

/// Stores a session as read (`session`) and as sent (`raw`).
pub(crate) async fn insert(
    db: &Db,
    session: &Session,
    format: &str,
    raw: &str,
    metrics: &BTreeMap<String, f64>,
    now: Timestamp,
) -> ApiResult<()> {
    db.run(
        "INSERT INTO sessions (agent_id, id, started_at, ended_at, format, message_count, body, \
         raw, metrics, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        &[
            db::s(session.agent_id.as_str()),
            db::s(session.id.as_str()),
            db::n(session.started_at.0),
            session.ended_at.map_or(wasm_bindgen::JsValue::NULL, |t| db::n(t.0)),
            db::s(format),
            db::n(session.messages.len() as i64),
            db::s(&serde_json::to_string(session)?),
            db::s(raw),
            db::s(&serde_json::to_string(metrics)?),
            db::n(now.0),
        ],
    )
    .await?;
    Ok(())
}

/// Replaces a stored session by a longer one that begins with it (the
/// same session, gone on): as read, as sent, its end and message count.
/// Only if the stored body is still `was` (a racing write loses).
pub(crate) async fn grow(db: &Db, session: &Session, raw: &str, was: &str) -> ApiResult<bool> {
    let changed = db
        .run(
            "UPDATE sessions SET ended_at = ?3, message_count = ?4, body = ?5, raw = ?6 \
             WHERE agent_id = ?1 AND id = ?2 AND body = ?7",
            &[
                db::s(session.agent_id.as_str()),
                db::s(session.id.as_str()),
                session.ended_at.map_or(wasm_bindgen::JsValue::NULL, |t| db::n(t.0)),
                db::n(session.messages.len() as i64),
                db::s(&serde_json::to_string(session)?),
                db::s(raw),
                db::s(was),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Oldest first, started in `[since, until)`, after the cursor `after`
/// (start time and id).
pub(crate) async fn list(
    db: &Db,
    agent_id: &str,
    since: Timestamp,
    until: Timestamp,
    after: (i64, &str),
    limit: i64,
) -> ApiResult<Vec<SessionRow>> {
    db.all(
        "SELECT id, started_at, ended_at, format, message_count, metrics FROM sessions \
         WHERE agent_id = ?1 AND started_at >= ?2 AND started_at < ?3 \
         AND (started_at > ?4 OR (started_at = ?4 AND id > ?5)) ORDER BY started_at, id LIMIT ?6",
        &[
            db::s(agent_id),
            db::n(since.0),
            db::n(until.0),
            db::n(after.0),
            db::s(after.1),
            db::n(limit),
        ],
    )
    .await
}

/// Adds or replaces metrics of a session; whether the session exists.
pub(crate) async fn patch_metrics(
    db: &Db,
    agent_id: &str,
    id: &str,
    metrics: &BTreeMap<String, f64>,
) -> ApiResult<bool> {
    let changed = db
        .run(
            "UPDATE sessions SET metrics = json_patch(metrics, ?3) WHERE agent_id = ?1 AND id = ?2",
            &[db::s(agent_id), db::s(id), db::s(&serde_json::to_string(metrics)?)],
        )
        .await?;
    Ok(changed > 0)
}

/// A session's metrics, by name.
pub(crate) async fn metrics(
    db: &Db,
    agent_id: &str,
    id: &str,
) -> ApiResult<Option<BTreeMap<String, f64>>> {
    #[derive(Deserialize)]
    struct Row {
        metrics: String,
    }
    let row: Option<Row> = db
        .first(
            "SELECT metrics FROM sessions WHERE agent_id = ?1 AND id = ?2",
            &[db::s(agent_id), db::s(id)],
        )
        .await?;
    Ok(row.map(|r| serde_json::from_str(&r.metrics)).transpose()?)
}

/// The sessions of `agents` that started in `[since, until)`, as the core
/// reads them.
pub(crate) async fn window(
    db: &Db,
    agents: &[String],
    since: Timestamp,
    until: Timestamp,
) -> ApiResult<Vec<Session>> {
    let mut out = Vec::new();
    for agent in agents {
        let sessions: Vec<Session> = db
            .json_rows(
                "SELECT id AS key, body FROM sessions WHERE agent_id = ?3 AND id > ?1 \
                 AND started_at >= ?4 AND started_at < ?5 ORDER BY id LIMIT ?2",
                db::s(""),
                &[db::s(agent), db::n(since.0), db::n(until.0)],
            )
            .await?;
        out.extend(sessions);
    }
    Ok(out)
}

/// The metrics of up to 20,000 sessions of an agent started in
/// `[from, to)`, oldest first.
pub(crate) async fn metrics_between(
    db: &Db,
    agent_id: &str,
    from: i64,
    to: i64,
) -> ApiResult<Vec<MetricsRow>> {
    db.all(
        "SELECT id, started_at, metrics FROM sessions \
         WHERE agent_id = ?1 AND started_at >= ?2 AND started_at < ?3 \
         ORDER BY started_at, id LIMIT 20000",
        &[db::s(agent_id), db::n(from), db::n(to)],
    )
    .await
}
