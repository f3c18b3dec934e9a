//! The `agents` table: each agent's name, dreaming config and store, with
//! the summary counts the listing shows. A deleted agent keeps its row
//! (`deleted_at`), so one made again under its id finds its history.

use reverie_core::config::{ConfigInput, DreamingConfig};
use reverie_core::{Id, Timestamp};
use serde::Deserialize;
use serde_json::Value;
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// An agent as stored, with its store's scope and version and, from
/// [`find`] and [`list`], its summary counts.
#[derive(Deserialize)]
pub(crate) struct AgentRow {
    pub id: String,
    pub name: String,
    pub config: Option<String>,
    pub store_id: Option<String>,
    pub created_at: f64,
    pub updated_at: Option<f64>,
    pub schedule_since: Option<f64>,
    pub last_slot: Option<f64>,
    pub scope: Option<String>,
    pub version: Option<i64>,
    pub active_entries: Option<i64>,
    pub pending_proposals: Option<i64>,
    pub last_pass: Option<String>,
}

impl AgentRow {
    /// The agent's config; an agent stored without one (the demo seed)
    /// has the recommended config.
    pub fn config(&self) -> ApiResult<DreamingConfig> {
        let id = Id::new(self.id.clone())?;
        let Some(text) = &self.config else { return Ok(DreamingConfig::recommended(id)) };
        let doc: Value = serde_json::from_str(text)?;
        Ok(ConfigInput::parse(&doc, &id)?.resolve(self.scope.as_deref() == Some("shared"))?)
    }
}

const SELECT: &str = "SELECT a.id, a.name, a.config, a.store_id, a.created_at, a.updated_at, \
     a.schedule_since, a.last_slot, s.scope, s.version, \
     (SELECT COUNT(*) FROM entries e WHERE e.store_id = a.store_id AND e.status = 'active') \
        AS active_entries, \
     (SELECT COUNT(*) FROM proposals p WHERE p.agent_id = a.id \
        AND p.status IN ('pending', 'partially_applied')) AS pending_proposals, \
     (SELECT json_object('id', id, 'status', status, 'trigger', trigger, \
        'started_at', CAST(started_at AS INTEGER), 'finished_at', CAST(finished_at AS INTEGER), \
        'proposal_id', proposal_id) FROM passes WHERE agent_id = a.id \
        ORDER BY started_at DESC, id DESC LIMIT 1) AS last_pass \
     FROM agents a LEFT JOIN stores s ON s.id = a.store_id";

/// The agent's row without the counts the listing shows: what every
/// request about an agent needs, at one indexed lookup.
const SELECT_LIGHT: &str = "SELECT a.id, a.name, a.config, a.store_id, a.created_at, \
     a.updated_at, a.schedule_since, a.last_slot, s.scope, s.version, \
     NULL AS active_entries, NULL AS pending_proposals, NULL AS last_pass \
     FROM agents a LEFT JOIN stores s ON s.id = a.store_id";

/// The agent with its summary counts.
pub(crate) async fn find(db: &Db, id: &str) -> ApiResult<Option<AgentRow>> {
    db.first(&format!("{SELECT} WHERE a.id = ?1 AND a.deleted_at IS NULL"), &[db::s(id)]).await
}

/// The agent without summary counts.
pub(crate) async fn find_light(db: &Db, id: &str) -> ApiResult<Option<AgentRow>> {
    db.first(&format!("{SELECT_LIGHT} WHERE a.id = ?1 AND a.deleted_at IS NULL"), &[db::s(id)])
        .await
}

/// Every agent not deleted, with its summary counts, by id.
pub(crate) async fn list(db: &Db) -> ApiResult<Vec<AgentRow>> {
    db.all(&format!("{SELECT} WHERE a.deleted_at IS NULL ORDER BY a.id"), &[]).await
}

/// Stores a new agent with its config, or brings a deleted one back under
/// its id with a new name and config; its schedule starts `now`.
pub(crate) async fn create(
    db: &Db,
    id: &str,
    name: &str,
    config: &DreamingConfig,
    now: Timestamp,
) -> ApiResult<()> {
    db.run(
        "INSERT INTO agents (id, name, dreaming_enabled, created_at, config, store_id, \
         schedule_since, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4, ?4) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
         dreaming_enabled = excluded.dreaming_enabled, config = excluded.config, \
         store_id = excluded.store_id, schedule_since = excluded.schedule_since, \
         updated_at = excluded.updated_at, last_slot = NULL, deleted_at = NULL",
        &[
            db::s(id),
            db::s(name),
            db::n(i64::from(config.enabled)),
            db::n(now.0),
            db::s(&config.to_json().to_string()),
            db::s(config.memory_store.as_str()),
        ],
    )
    .await?;
    Ok(())
}

/// Renames an agent.
pub(crate) async fn rename(db: &Db, id: &str, name: &str, now: Timestamp) -> ApiResult<()> {
    db.run(
        "UPDATE agents SET name = ?2, updated_at = ?3 WHERE id = ?1",
        &[db::s(id), db::s(name), db::n(now.0)],
    )
    .await?;
    Ok(())
}

/// Sets an agent's config (and with it its store and whether it dreams);
/// when `rescheduled`, its schedule starts again `now`.
pub(crate) async fn set_config(
    db: &Db,
    id: &str,
    config: &DreamingConfig,
    now: Timestamp,
    rescheduled: bool,
) -> ApiResult<()> {
    db.run(
        "UPDATE agents SET config = ?2, store_id = ?3, dreaming_enabled = ?4, updated_at = ?5, \
         schedule_since = CASE WHEN ?6 THEN ?5 ELSE COALESCE(schedule_since, created_at) END \
         WHERE id = ?1",
        &[
            db::s(id),
            db::s(&config.to_json().to_string()),
            db::s(config.memory_store.as_str()),
            db::n(i64::from(config.enabled)),
            db::n(now.0),
            db::n(i64::from(rescheduled)),
        ],
    )
    .await?;
    Ok(())
}

/// The statement that marks an agent deleted: it stops dreaming and lets
/// go of its store (in the batch that deletes the agent).
pub(crate) fn mark_deleted(db: &Db, id: &str, now: Timestamp) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        "UPDATE agents SET deleted_at = ?2, dreaming_enabled = 0, store_id = NULL WHERE id = ?1",
        &[db::s(id), db::n(now.0)],
    )
}

/// How many agent rows there are, deleted ones too: the health check's
/// round trip to D1.
pub(crate) async fn count(db: &Db) -> ApiResult<Option<u32>> {
    #[derive(Deserialize)]
    struct Row {
        agents: u32,
    }
    let row: Option<Row> = db.first("SELECT COUNT(*) AS agents FROM agents", &[]).await?;
    Ok(row.map(|r| r.agents))
}
