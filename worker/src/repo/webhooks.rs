//! The `webhooks` and `deliveries` tables: each agent's endpoints, and the
//! log of every delivery to them with its attempts.

use reverie_api::DeliveryStatus;
use reverie_core::Timestamp;
use serde::{Deserialize, Serialize};
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// A webhook as stored.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct WebhookRow {
    pub id: String,
    pub agent_id: String,
    pub url: String,
    pub secret: String,
    /// The events it wants, a JSON array.
    pub events: String,
    pub created_at: f64,
}

/// Where a delivery goes and what signs it.
#[derive(Deserialize)]
pub(crate) struct EndpointRow {
    pub url: String,
    pub secret: String,
}

/// A delivery as stored.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub agent_id: String,
    pub event: String,
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<f64>,
    pub created_at: f64,
    pub delivered_at: Option<f64>,
}

const DELIVERY_COLUMNS: &str =
    "id, webhook_id, agent_id, event, payload, status, attempts, last_status, last_error, \
     next_attempt_at, created_at, delivered_at";

/// Stores a new webhook.
pub(crate) async fn insert(db: &Db, row: &WebhookRow) -> ApiResult<()> {
    db.run(
        "INSERT INTO webhooks (id, agent_id, url, secret, events, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            db::s(&row.id),
            db::s(&row.agent_id),
            db::s(&row.url),
            db::s(&row.secret),
            db::s(&row.events),
            db::n(row.created_at as i64),
        ],
    )
    .await?;
    Ok(())
}

/// An agent's webhooks, oldest first.
pub(crate) async fn list(db: &Db, agent_id: &str) -> ApiResult<Vec<WebhookRow>> {
    db.all(
        "SELECT id, agent_id, url, secret, events, created_at FROM webhooks WHERE agent_id = ?1 \
         ORDER BY created_at",
        &[db::s(agent_id)],
    )
    .await
}

/// An agent's webhooks in no set order, for queueing deliveries.
pub(crate) async fn of_agent(db: &Db, agent_id: &str) -> ApiResult<Vec<WebhookRow>> {
    db.all(
        "SELECT id, agent_id, url, secret, events, created_at FROM webhooks WHERE agent_id = ?1",
        &[db::s(agent_id)],
    )
    .await
}

/// Deletes a webhook of an agent; whether there was one.
pub(crate) async fn delete(db: &Db, id: &str, agent_id: &str) -> ApiResult<bool> {
    let changed = db
        .run("DELETE FROM webhooks WHERE id = ?1 AND agent_id = ?2", &[db::s(id), db::s(agent_id)])
        .await?;
    Ok(changed > 0)
}

/// The statement that deletes every webhook of an agent (in the batch
/// that deletes the agent).
pub(crate) fn delete_of_agent(db: &Db, agent_id: &str) -> ApiResult<D1PreparedStatement> {
    db.stmt("DELETE FROM webhooks WHERE agent_id = ?1", &[db::s(agent_id)])
}

/// The URL and secret of a webhook, unless it was deleted.
pub(crate) async fn endpoint(db: &Db, id: &str) -> ApiResult<Option<EndpointRow>> {
    db.first("SELECT url, secret FROM webhooks WHERE id = ?1", &[db::s(id)]).await
}

/// Stores a new delivery, pending, created `now` and due at `next_attempt_at`.
pub(crate) async fn insert_delivery(
    db: &Db,
    row: &DeliveryRow,
    now: Timestamp,
    next_attempt_at: i64,
) -> ApiResult<()> {
    db.run(
        &format!(
            "INSERT INTO deliveries ({DELIVERY_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, NULL, NULL, ?7, ?6, NULL)"
        ),
        &[
            db::s(&row.id),
            db::s(&row.webhook_id),
            db::s(&row.agent_id),
            db::s(&row.event),
            db::s(&row.payload),
            db::n(now.0),
            db::n(next_attempt_at),
        ],
    )
    .await?;
    Ok(())
}

/// An agent's `limit` newest deliveries.
pub(crate) async fn deliveries(db: &Db, agent_id: &str, limit: i64) -> ApiResult<Vec<DeliveryRow>> {
    db.all(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE agent_id = ?1 \
             ORDER BY created_at DESC, id LIMIT ?2"
        ),
        &[db::s(agent_id), db::n(limit)],
    )
    .await
}

/// A delivery of an agent.
pub(crate) async fn find_delivery(
    db: &Db,
    id: &str,
    agent_id: &str,
) -> ApiResult<Option<DeliveryRow>> {
    db.first(
        &format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1 AND agent_id = ?2"),
        &[db::s(id), db::s(agent_id)],
    )
    .await
}

/// A delivery as it is now.
pub(crate) async fn delivery(db: &Db, id: &str) -> ApiResult<Option<DeliveryRow>> {
    db.first(&format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1"), &[db::s(id)])
        .await
}

/// Up to 50 pending deliveries whose next attempt is due at `now`, most
/// overdue first.
pub(crate) async fn due_deliveries(db: &Db, now: Timestamp) -> ApiResult<Vec<DeliveryRow>> {
    db.all(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE status = 'pending' \
             AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT 50"
        ),
        &[db::n(now.0)],
    )
    .await
}

/// Claims the next attempt of a delivery that has made `attempts` so far,
/// moving its next attempt to `next_attempt_at`; whether this call claimed
/// it (nobody else moved the count on first).
pub(crate) async fn claim_attempt(
    db: &Db,
    id: &str,
    attempts: i64,
    next_attempt_at: i64,
) -> ApiResult<bool> {
    let claimed = db
        .run(
            "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?3 \
             WHERE id = ?1 AND attempts = ?2",
            &[db::s(id), db::n(attempts), db::n(next_attempt_at)],
        )
        .await?;
    Ok(claimed > 0)
}

/// Records the outcome of the attempt `row.attempts` of a delivery.
pub(crate) async fn record_attempt(db: &Db, row: &DeliveryRow) -> ApiResult<()> {
    db.run(
        "UPDATE deliveries SET status = ?2, last_status = ?4, last_error = ?5, \
         next_attempt_at = ?6, delivered_at = ?7 WHERE id = ?1 AND attempts = ?3",
        &[
            db::s(&row.id),
            db::s(row.status.as_str()),
            db::n(row.attempts),
            row.last_status.map_or(wasm_bindgen::JsValue::NULL, db::n),
            db::opt_s(row.last_error.as_deref()),
            row.next_attempt_at.map_or(wasm_bindgen::JsValue::NULL, |t| db::n(t as i64)),
            row.delivered_at.map_or(wasm_bindgen::JsValue::NULL, |t| db::n(t as i64)),
        ],
    )
    .await?;
    Ok(())
}
