//! The `tokens` table: API tokens, stored as the SHA-256 of their secret,
//! with their role and granted agents; a revoked token keeps its row.

use reverie_api::Role;
use reverie_core::Timestamp;
use serde::Deserialize;
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// An active token, as authentication reads it.
#[derive(Deserialize)]
pub(crate) struct ActiveTokenRow {
    pub id: String,
    pub role: Role,
    /// The granted agents, a JSON array.
    pub agents: String,
    pub label: String,
}

/// A token as listed (never its hash).
#[derive(Deserialize)]
pub(crate) struct TokenRow {
    pub id: String,
    pub role: Role,
    /// The granted agents, a JSON array.
    pub agents: String,
    pub label: String,
    pub created_at: f64,
    pub revoked_at: Option<f64>,
}

/// The unrevoked token whose secret hashes to `hash`.
pub(crate) async fn find_active(db: &Db, hash: &str) -> ApiResult<Option<ActiveTokenRow>> {
    db.first(
        "SELECT id, role, agents, label FROM tokens WHERE hash = ?1 AND revoked_at IS NULL",
        &[db::s(hash)],
    )
    .await
}

/// Stores a new token by the hash of its secret.
pub(crate) async fn insert(
    db: &Db,
    id: &str,
    hash: &str,
    role: Role,
    agents: &[String],
    label: &str,
    now: Timestamp,
) -> ApiResult<()> {
    db.run(
        "INSERT INTO tokens (id, hash, role, agents, label, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            db::s(id),
            db::s(hash),
            db::s(role.as_str()),
            db::s(&serde_json::to_string(agents)?),
            db::s(label),
            db::n(now.0),
        ],
    )
    .await?;
    Ok(())
}

/// Every token, revoked ones too, oldest first.
pub(crate) async fn list(db: &Db) -> ApiResult<Vec<TokenRow>> {
    db.all(
        "SELECT id, role, agents, label, created_at, revoked_at FROM tokens \
         ORDER BY created_at, id",
        &[],
    )
    .await
}

/// Revokes a token; whether it was active.
pub(crate) async fn revoke(db: &Db, id: &str, now: Timestamp) -> ApiResult<bool> {
    let changed = db
        .run(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            &[db::s(id), db::n(now.0)],
        )
        .await?;
    Ok(changed > 0)
}

/// The statement that revokes the active ingest tokens of `agent_id` (in
/// the batch that deletes the agent).
pub(crate) fn revoke_ingest_of(
    db: &Db,
    agent_id: &str,
    now: Timestamp,
) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        "UPDATE tokens SET revoked_at = ?2 WHERE role = 'ingest' AND revoked_at IS NULL \
         AND EXISTS (SELECT 1 FROM json_each(tokens.agents) WHERE value = ?1)",
        &[db::s(agent_id), db::n(now.0)],
    )
}

/// The statement that takes `agent_id` out of reviewers' grants (in the
/// batch that deletes the agent).
pub(crate) fn drop_reviewer_grant(db: &Db, agent_id: &str) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        "UPDATE tokens SET agents = (SELECT json_group_array(value) \
         FROM json_each(tokens.agents) WHERE value <> ?1) \
         WHERE role = 'reviewer' \
         AND EXISTS (SELECT 1 FROM json_each(tokens.agents) WHERE value = ?1)",
        &[db::s(agent_id)],
    )
}
