//! Reverie's edge service: a thin shell of routing, storage and network IO
//! around `reverie-core`. No consolidation rule lives here.

mod passes;

use serde::Serialize;
use worker::{event, Context, Env, Request, Response, Result, RouteContext, Router, ScheduleContext, ScheduledEvent};

/// The D1 binding name, as declared in `wrangler.toml`.
pub(crate) const DB: &str = "DB";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Router::new()
        .get_async("/api/health", health)
        .get_async("/api/v1/health", health)
        .get_async("/api/v1/passes", passes::list)
        .or_else_any_method_async("/api/*rest", |req, _| async move {
            error_response(404, &format!("no route for {} {}", req.method(), req.path()))
        })
        .run(req, env)
        .await
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    if let Err(err) = passes::run_scheduled(&env, &event.cron(), event.schedule()).await {
        worker::console_error!("scheduled pass failed: {err}");
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    core_version: &'static str,
    d1: D1Health,
}

#[derive(Serialize)]
struct D1Health {
    agents: u32,
    roundtrip_ms: f64,
}

#[derive(serde::Deserialize)]
struct D1Probe {
    agents: u32,
}

/// Liveness plus one D1 round trip, so a green health check means storage
/// answers too.
async fn health(_req: Request, ctx: RouteContext<()>) -> Result<Response> {
    let started = worker::Date::now().as_millis();
    let probe = ctx.env.d1(DB)?.prepare("SELECT COUNT(*) AS agents FROM agents").first::<D1Probe>(None).await;
    let probe = match probe {
        Ok(Some(probe)) => probe,
        Ok(None) => return error_response(503, "D1 answered the health probe with no row"),
        Err(err) => return error_response(503, &format!("D1 is unavailable: {err}")),
    };
    let roundtrip_ms = (worker::Date::now().as_millis() - started) as f64;
    Response::from_json(&Health {
        status: "ok",
        core_version: reverie_core::VERSION,
        d1: D1Health { agents: probe.agents, roundtrip_ms },
    })
}

/// Every API error is JSON: `{"error": {"status": N, "message": "..."}}`.
pub(crate) fn error_response(status: u16, message: &str) -> Result<Response> {
    let body = serde_json::json!({ "error": { "status": status, "message": message } });
    Ok(Response::from_json(&body)?.with_status(status))
}
