//! Agents and their dreaming config: create, list (with store size, last
//! pass, pending proposals and schedule), get, rename, delete, and the
//! config as JSON or YAML, checked by the core with errors naming the field.

use reverie_core::config::{ConfigInput, DreamingConfig};
use reverie_core::schedule::next_slot;
use reverie_core::{Id, Timestamp};
use serde_json::{json, Value};
use worker::{Request, Response};

use reverie_api as api;

use crate::http::{self, ApiError, ApiResult, Query};
use crate::repo::agents::AgentRow;
use crate::{repo, stores, Cx};

/// The agent (without summary counts), if it exists and the caller may
/// read it.
pub(crate) async fn readable(cx: &Cx, id: &str) -> ApiResult<AgentRow> {
    cx.who.can_read(id)?;
    repo::agents::find_light(&cx.db, id).await?.ok_or_else(|| ApiError::not_found("agent", id))
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
    let rows = repo::agents::list(&cx.db).await?;
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
    let row =
        repo::agents::find(&cx.db, id).await?.ok_or_else(|| ApiError::not_found("agent", id))?;
    http::json(&describe(&row, cx.now)?)
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
    let shared =
        repo::stores::find(&cx.db, store_id.as_str()).await?.is_some_and(|s| s.is_shared());
    let config = input.resolve(shared)?;
    stores::ensure(&cx.db, store_id.as_str(), agent.as_str(), false, cx.now).await?;
    Ok(config)
}

/// `POST /agents`.
pub(crate) async fn create(cx: &Cx, req: &mut Request) -> ApiResult {
    cx.who.require_admin()?;
    let new: api::NewAgent = http::json_body(req, http::limits::SMALL).await?;
    let id = Id::new(new.id.clone()).map_err(|e| ApiError::new(422, format!("`id`: {e}")))?;
    let name = check_name(&new.name)?;
    if repo::agents::find(&cx.db, id.as_str()).await?.is_some() {
        return Err(ApiError::conflict(format!("agent `{id}` exists already")));
    }
    let config = settle_config(cx, &id, new.config.as_ref().unwrap_or(&json!({}))).await?;
    // An agent deleted before comes back under its id, to its history.
    repo::agents::create(&cx.db, id.as_str(), &name, &config, cx.now).await?;
    let row = repo::agents::find(&cx.db, id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("agent", id.as_str()))?;
    http::json_status(201, &describe(&row, cx.now)?)
}

/// `PATCH /agents/{id}`: renames.
pub(crate) async fn update(cx: &Cx, id: &str, req: &mut Request) -> ApiResult {
    cx.who.require_admin()?;
    readable(cx, id).await?;
    let patch: api::AgentPatch = http::json_body(req, http::limits::SMALL).await?;
    let name = check_name(&patch.name)?;
    repo::agents::rename(&cx.db, id, &name, cx.now).await?;
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
            repo::webhooks::delete_of_agent(&cx.db, id)?,
            // Tokens are bound to the agent they were made for, not to its
            // id: an agent made again under this id must not revive them.
            // Its ingest tokens are revoked, and reviewers lose the grant.
            repo::tokens::revoke_ingest_of(&cx.db, id, cx.now)?,
            repo::tokens::drop_reviewer_grant(&cx.db, id)?,
            repo::agents::mark_deleted(&cx.db, id, cx.now)?,
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
    repo::agents::set_config(&cx.db, id, &config, cx.now, rescheduled).await?;
    let next = if config.enabled {
        next_slot(config.schedule, config.schedule_time, cx.now)
    } else {
        None
    };
    http::json(&api::ConfigUpdated {
        config: config.to_json(),
        yaml: config.to_yaml(),
        next_run_at: next.map(|t| t.0),
    })
}
