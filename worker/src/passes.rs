//! Consolidation passes: recording the ones the cron trigger starts, and
//! listing them.

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{Env, Request, Response, Result, RouteContext};

use crate::DB;

#[derive(Serialize, Deserialize)]
pub(crate) struct PassRow {
    id: i64,
    agent_id: String,
    trigger: String,
    status: String,
    started_at: f64,
    finished_at: Option<f64>,
}

/// `GET /api/v1/passes`: newest first.
pub(crate) async fn list(_req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let rows = ctx
        .env
        .d1(DB)?
        .prepare(
            "SELECT id, agent_id, trigger, status, started_at, finished_at \
             FROM passes ORDER BY started_at DESC, id DESC LIMIT 100",
        )
        .all()
        .await?
        .results::<PassRow>()?;
    Response::from_json(&serde_json::json!({ "passes": rows }))
}

/// Records one pass per enabled agent for this cron tick.
pub(crate) async fn run_scheduled(env: &Env, cron: &str, scheduled_ms: f64) -> Result<()> {
    let db = env.d1(DB)?;
    let insert = db
        .prepare(
            "INSERT INTO passes (agent_id, trigger, status, started_at, finished_at) \
             SELECT id, ?1, 'completed', ?2, ?2 FROM agents WHERE dreaming_enabled = 1",
        )
        .bind(&[JsValue::from_str(&format!("cron:{cron}")), JsValue::from_f64(scheduled_ms)])?;
    insert.run().await?;
    Ok(())
}
