//! The `sessions` table: transcripts as sent and as read, with their
//! outcome metrics.

use std::collections::BTreeMap;

use reverie_core::{Session, Timestamp};
use serde::Deserialize;

use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::{ApiError, ApiResult};

/// The most bytes of a session's row: D1 caps a row at 2 MB. The session
/// as read must fit; the transcript as sent goes beside it when both fit,
/// else into `session_raw` in parts of at most [`RAW_PART`] bytes.
pub(crate) const ROW_BYTES: usize = 1_800_000;

/// The most bytes of one part of a transcript kept in `session_raw`.
const RAW_PART: usize = 900 * 1024;

/// A stored session: as read, as sent, its format and metrics (JSON).
#[derive(Deserialize)]
pub(crate) struct StoredSession {
    pub body: String,
    pub raw: String,
    pub format: String,
    pub metrics: String,
}

#[derive(Deserialize)]
struct StoredRow {
    body: String,
    raw: String,
    raw_parts: i64,
    format: String,
    metrics: String,
}

#[derive(Deserialize)]
struct Part {
    text: String,
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

/// A stored session, with its transcript as sent put back together.
pub(crate) async fn find(db: &Db, agent_id: &str, id: &str) -> ApiResult<Option<StoredSession>> {
    let row: Option<StoredRow> = db
        .first(
            "SELECT body, raw, raw_parts, format, metrics FROM sessions \
             WHERE agent_id = ?1 AND id = ?2",
            &[db::s(agent_id), db::s(id)],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut raw = row.raw;
    if row.raw_parts > 0 {
        let parts: Vec<Part> = db
            .all(
                "SELECT text FROM session_raw WHERE agent_id = ?1 AND id = ?2 ORDER BY part",
                &[db::s(agent_id), db::s(id)],
            )
            .await?;
        if parts.len() as i64 != row.raw_parts {
            return Err(ApiError::new(
                500,
                format!(
                    "session {id} of agent {agent_id}: {} of its transcript's {} parts are stored",
                    parts.len(),
                    row.raw_parts
                ),
            ));
        }
        raw = parts.into_iter().map(|p| p.text).collect();
    }
    Ok(Some(StoredSession { body: row.body, raw, format: row.format, metrics: row.metrics }))
}

/// A session as read, as the row holds it: refused when it would not fit.
pub(crate) fn body_of(session: &Session) -> ApiResult<String> {
    let body = serde_json::to_string(session)?;
    if body.len() > ROW_BYTES {
        return Err(ApiError::new(
            413,
            format!(
                "session {} is {} bytes as read (tool output already shortened); one session \
                 holds at most {ROW_BYTES}: send it as several sessions",
                session.id,
                body.len()
            ),
        ));
    }
    Ok(body)
}

/// The transcript as sent, split where it does not fit beside `body`:
/// what the row holds, and the parts kept beside it (none when it fits).
fn split_raw<'a>(body: &str, raw: &'a str) -> (&'a str, Vec<&'a str>) {
    if body.len() + raw.len() <= ROW_BYTES {
        return (raw, Vec::new());
    }
    let mut parts = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let mut end = rest.len().min(RAW_PART);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        parts.push(&rest[..end]);
        rest = &rest[end..];
    }
    ("", parts)
}

/// The statements that replace a session's stored parts by `parts`, each
/// only while the row holds `body` (so a write that lost a race to another
/// leaves the winner's parts alone).
fn write_parts(
    db: &Db,
    session: &Session,
    body: &str,
    parts: &[&str],
) -> ApiResult<Vec<D1PreparedStatement>> {
    let (agent, id) = (session.agent_id.as_str(), session.id.as_str());
    let held = "EXISTS (SELECT 1 FROM sessions WHERE agent_id = ?1 AND id = ?2 AND body = ?3)";
    let mut out = vec![db.stmt(
        &format!("DELETE FROM session_raw WHERE agent_id = ?1 AND id = ?2 AND {held}"),
        &[db::s(agent), db::s(id), db::s(body)],
    )?];
    for (n, text) in parts.iter().enumerate() {
        out.push(db.stmt(
            &format!(
                "INSERT INTO session_raw (agent_id, id, part, text) SELECT ?1, ?2, ?4, ?5 \
                 WHERE {held}"
            ),
            &[db::s(agent), db::s(id), db::s(body), db::n(n as i64), db::s(text)],
        )?);
    }
    Ok(out)
}

/// Stores a session as read (`body`, from [`body_of`]) and as sent (`raw`).
pub(crate) async fn insert(
    db: &Db,
    session: &Session,
    body: &str,
    format: &str,
    raw: &str,
    metrics: &BTreeMap<String, f64>,
    now: Timestamp,
) -> ApiResult<()> {
    let (inline, parts) = split_raw(body, raw);
    let mut statements = vec![db.stmt(
        "INSERT INTO sessions (agent_id, id, started_at, ended_at, format, message_count, body, \
         raw, raw_parts, metrics, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
         ?11)",
        &[
            db::s(session.agent_id.as_str()),
            db::s(session.id.as_str()),
            db::n(session.started_at.0),
            session.ended_at.map_or(wasm_bindgen::JsValue::NULL, |t| db::n(t.0)),
            db::s(format),
            db::n(session.messages.len() as i64),
            db::s(body),
            db::s(inline),
            db::n(parts.len() as i64),
            db::s(&serde_json::to_string(metrics)?),
            db::n(now.0),
        ],
    )?];
    if !parts.is_empty() {
        statements.extend(write_parts(db, session, body, &parts)?);
    }
    db.batch(statements).await?;
    Ok(())
}

/// Replaces a stored session by a longer one that begins with it (the
/// same session, gone on): as read (`body`), as sent, its end and message
/// count. Only if the stored body is still `was` (a racing write loses).
pub(crate) async fn grow(
    db: &Db,
    session: &Session,
    body: &str,
    raw: &str,
    was: &str,
) -> ApiResult<bool> {
    let (inline, parts) = split_raw(body, raw);
    let mut statements = vec![db.stmt(
        "UPDATE sessions SET ended_at = ?3, message_count = ?4, body = ?5, raw = ?6, \
         raw_parts = ?8 WHERE agent_id = ?1 AND id = ?2 AND body = ?7",
        &[
            db::s(session.agent_id.as_str()),
            db::s(session.id.as_str()),
            session.ended_at.map_or(wasm_bindgen::JsValue::NULL, |t| db::n(t.0)),
            db::n(session.messages.len() as i64),
            db::s(body),
            db::s(inline),
            db::s(was),
            db::n(parts.len() as i64),
        ],
    )?];
    statements.extend(write_parts(db, session, body, &parts)?);
    let results = db.batch(statements).await?;
    Ok(results.first().is_some_and(|r| db::changes(r) == 1))
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
