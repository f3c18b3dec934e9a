//! Agents and their dreaming config: create, list (with store size, last
//! pass, pending proposals and schedule), get, rename, delete, and the
//! config as JSON or YAML, checked by the core with errors naming the field.

use reverie_core::config::{ConfigInput, DreamingConfig};
use reverie_core::schedule::next_slot;
use reverie_core::{Id, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

use reverie_api as api;

use crate::db::{self, Db};
use crate::http::{self, ApiError, ApiResult, Query};
use crate::{stores, Cx};

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
    scope: Option<String>,
    version: Option<i64>,
    active_entries: Option<i64>,
    pending_proposals: Option<i64>,
    last_pass: Option<String>,
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

const SELECT: &str = "SELECT a.id, a.name, a.config, a.store_id, a.created_at, a.updated_at, a.schedule_since, \
     a.last_slot, s.scope, s.version, \
     (SELECT COUNT(*) FROM entries e WHERE e.store_id = a.store_id AND e.status = 'active') AS active_entries, \
     (SELECT COUNT(*) FROM proposals p WHERE p.agent_id = a.id AND p.status IN ('pending', 'partially_applied')) \
        AS pending_proposals, \
     (SELECT json_object('id', id, 'status', status, 'trigger', trigger, 'started_at', CAST(started_at AS INTEGER), \
        'finished_at', CAST(finished_at AS INTEGER), 'proposal_id', proposal_id) FROM passes WHERE agent_id = a.id \
        ORDER BY started_at DESC, id DESC LIMIT 1) AS last_pass \
     FROM agents a LEFT JOIN stores s ON s.id = a.store_id";

/// The agent's row without the counts the listing shows: what every
/// request about an agent needs, at one indexed lookup.
const SELECT_LIGHT: &str = "SELECT a.id, a.name, a.config, a.store_id, a.created_at, a.updated_at, a.schedule_since, \
     a.last_slot, s.scope, s.version, NULL AS active_entries, NULL AS pending_proposals, NULL AS last_pass \
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

/// The agent (without summary counts), if it exists and the caller may
/// read it.
pub(crate) async fn readable(cx: &Cx, id: &str) -> ApiResult<AgentRow> {
    cx.who.can_read(id)?;
    find_light(&cx.db, id).await?.ok_or_else(|| ApiError::not_found("agent", id))
}

fn describe(row: &AgentRow, now: Timestamp) -> ApiResult<api::Agent> {
    let config = row.config()?;
    let next_run =
        if config.enabled { next_slot(config.schedule, config.schedule_time, now) } else { None };
    let last_pass: Option<api::PassBrief> =
        row.last_pass.as_deref().map(serde_json::from_str).transpose()?;
    Ok(api::Agent {
        id: row.id.clone(),
        name: row.name.clone(),
        created_at: Some(row.created_at as i64),
        updated_at: row.updated_at.map(|t| t as i64),
        store: api::StoreSummary {
            id: config.memory_store.to_string(),
            scope: row.scope.clone(),
            shared: row.scope.as_deref() == Some("shared"),
            version: row.version,
            active_entries: row.active_entries.unwrap_or(0),
        },
        enabled: config.enabled,
        schedule: config.schedule.as_str().to_string(),
        schedule_time: config.schedule_time.to_string(),
        sessions_since: config.sessions_since.to_string(),
        require_approval: config.require_approval,
        notify: config.notify.clone(),
        next_run_at: next_run.map(|t| t.0),
        last_pass,
        pending_proposals: row.pending_proposals.unwrap_or(0),
        config: config.to_json(),
    })
}

/// `GET /agents`: the agents the caller may read.
pub(crate) async fn list(cx: &Cx) -> ApiResult {
    let rows: Vec<AgentRow> =
        cx.db.all(&format!("{SELECT} WHERE a.deleted_at IS NULL ORDER BY a.id"), &[]).await?;
    let agents = rows
        .iter()
        .filter(|r| cx.who.can_read(&r.id).is_ok())
        .map(|r| describe(r, cx.now))
        .collect::<ApiResult<Vec<_>>>()?;
    http::json(&api::AgentList { agents })
}

/// `GET /agents/{id}`.
pub(crate) async fn show(cx: &Cx, id: &str) -> ApiResult {
    cx.who.can_read(id)?;
    let row = find(&cx.db, id).await?.ok_or_else(|| ApiError::not_found("agent", id))?;
    http::json(&describe(&row, cx.now)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAgent {
    id: String,
    name: String,
    #[serde(default)]
    config: Option<Value>,
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 120 || name.contains(char::is_control) {
        return Err(ApiError::new(422, "`name` must be 1 to 120 printable characters"));
    }
    Ok(name.to_string())
}

/// Reads a config document for `agent`, makes its store if needed, and
/// resolves the defaults that depend on the store.
async fn settle_config(cx: &Cx, agent: &Id, doc: &Value) -> ApiResult<DreamingConfig> {
    let input = ConfigInput::parse(doc, agent)?;
    let store_id = input.store_id();
    let shared = stores::find(&cx.db, store_id.as_str()).await?.is_some_and(|s| s.is_shared());
    let config = input.resolve(shared)?;
    stores::ensure(&cx.db, store_id.as_str(), agent.as_str(), false, cx.now).await?;
    Ok(config)
}

/// `POST /agents`.
pub(crate) async fn create(cx: &Cx, req: &mut Request) -> ApiResult {
    cx.who.require_admin()?;
    let new: NewAgent = http::json_body(req, http::limits::SMALL).await?;
    let id = Id::new(new.id.clone()).map_err(|e| ApiError::new(422, format!("`id`: {e}")))?;
    let name = check_name(&new.name)?;
    if find(&cx.db, id.as_str()).await?.is_some() {
        return Err(ApiError::conflict(format!("agent `{id}` exists already")));
    }
    let config = settle_config(cx, &id, new.config.as_ref().unwrap_or(&json!({}))).await?;
    // An agent deleted before comes back under its id, to its history.
    cx.db
        .run(
            "INSERT INTO agents (id, name, dreaming_enabled, created_at, config, store_id, schedule_since, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4, ?4) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, dreaming_enabled = excluded.dreaming_enabled, \
             config = excluded.config, store_id = excluded.store_id, schedule_since = excluded.schedule_since, \
             updated_at = excluded.updated_at, last_slot = NULL, deleted_at = NULL",
            &[
                db::s(id.as_str()),
                db::s(&name),
                db::n(i64::from(config.enabled)),
                db::n(cx.now.0),
                db::s(&config.to_json().to_string()),
                db::s(config.memory_store.as_str()),
            ],
        )
        .await?;
    let row = find(&cx.db, id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("agent", id.as_str()))?;
    http::json_status(201, &describe(&row, cx.now)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentPatch {
    name: String,
}

/// `PATCH /agents/{id}`: renames.
pub(crate) async fn update(cx: &Cx, id: &str, req: &mut Request) -> ApiResult {
    cx.who.require_admin()?;
    readable(cx, id).await?;
    let patch: AgentPatch = http::json_body(req, http::limits::SMALL).await?;
    let name = check_name(&patch.name)?;
    cx.db
        .run(
            "UPDATE agents SET name = ?2, updated_at = ?3 WHERE id = ?1",
            &[db::s(id), db::s(&name), db::n(cx.now.0)],
        )
        .await?;
    show(cx, id).await
}

/// `DELETE /agents/{id}`: the agent stops dreaming and leaves every
/// listing, and its webhooks go; its store, sessions, passes, proposals
/// and audit log stay (history is never destroyed), and an agent made
/// again with this id finds them.
pub(crate) async fn delete(cx: &Cx, id: &str) -> ApiResult {
    cx.who.require_admin()?;
    readable(cx, id).await?;
    cx.db
        .batch(vec![
            cx.db.stmt("DELETE FROM webhooks WHERE agent_id = ?1", &[db::s(id)])?,
            // Tokens are bound to the agent they were made for, not to its
            // id: an agent made again under this id must not revive them.
            // Its ingest tokens are revoked, and reviewers lose the grant.
            cx.db.stmt(
                "UPDATE tokens SET revoked_at = ?2 WHERE role = 'ingest' AND revoked_at IS NULL \
                 AND EXISTS (SELECT 1 FROM json_each(tokens.agents) WHERE value = ?1)",
                &[db::s(id), db::n(cx.now.0)],
            )?,
            cx.db.stmt(
                "UPDATE tokens SET agents = (SELECT json_group_array(value) \
                 FROM json_each(tokens.agents) WHERE value <> ?1) \
                 WHERE role = 'reviewer' AND EXISTS (SELECT 1 FROM json_each(tokens.agents) WHERE value = ?1)",
                &[db::s(id)],
            )?,
            cx.db.stmt(
                "UPDATE agents SET deleted_at = ?2, dreaming_enabled = 0, store_id = NULL WHERE id = ?1",
                &[db::s(id), db::n(cx.now.0)],
            )?,
        ])
        .await?;
    http::no_content()
}

/// `GET /agents/{id}/config?format=json|yaml`.
pub(crate) async fn get_config(cx: &Cx, id: &str, q: &Query) -> ApiResult {
    let row = readable(cx, id).await?;
    let config = row.config()?;
    if q.one_of("format", &["json", "yaml"])?.as_deref() == Some("yaml") {
        let mut resp = Response::ok(config.to_yaml())?;
        resp.headers_mut().set("content-type", "application/yaml; charset=utf-8")?;
        return Ok(resp);
    }
    http::json(&config.to_json())
}

/// `PUT /agents/{id}/config`: the announcement's block as JSON or YAML
/// (by content type; a body that does not start with `{` is read as YAML).
pub(crate) async fn put_config(cx: &Cx, id: &str, req: &mut Request) -> ApiResult {
    cx.who.require_admin()?;
    let row = readable(cx, id).await?;
    let content_type = req.headers().get("content-type")?.unwrap_or_default().to_ascii_lowercase();
    let text = http::body_text(req, http::limits::SMALL).await?;
    let is_json = content_type.contains("json")
        || (!content_type.contains("yaml") && text.trim_start().starts_with('{'));
    let doc: Value = if is_json {
        http::parse_json(&text)?
    } else {
        reverie_core::config::from_yaml(&text).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let agent = Id::new(row.id.clone())?;
    let before = row.config()?;
    let config = settle_config(cx, &agent, &doc).await?;
    // A changed schedule takes effect now: it does not run for a slot that
    // passed before it was set.
    let rescheduled =
        before.schedule != config.schedule || before.schedule_time != config.schedule_time;
    cx.db
        .run(
            "UPDATE agents SET config = ?2, store_id = ?3, dreaming_enabled = ?4, updated_at = ?5, \
             schedule_since = CASE WHEN ?6 THEN ?5 ELSE COALESCE(schedule_since, created_at) END WHERE id = ?1",
            &[
                db::s(id),
                db::s(&config.to_json().to_string()),
                db::s(config.memory_store.as_str()),
                db::n(i64::from(config.enabled)),
                db::n(cx.now.0),
                db::n(i64::from(rescheduled)),
            ],
        )
        .await?;
    let next = if config.enabled {
        next_slot(config.schedule, config.schedule_time, cx.now)
    } else {
        None
    };
    http::json(
        &json!({ "config": config.to_json(), "yaml": config.to_yaml(), "next_run_at": next }),
    )
}
