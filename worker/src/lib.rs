//! Reverie's edge service: a thin shell of routing, auth, storage and
//! network IO around `reverie-core`. No consolidation rule lives here.
//!
//! Every route is in `route` below, path first, then method; handlers live
//! in the module of the resource they serve.

mod agents;
mod auth;
mod db;
mod entries;
mod http;
mod imports;
mod llm;
mod outcomes;
mod passes;
mod proposals;
mod repo;
mod sessions;
mod stores;
mod webhooks;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use reverie_api as api;
use reverie_core::Timestamp;
use worker::{event, Context, Env, Method, Request, Response, ScheduleContext, ScheduledEvent};

use crate::auth::Principal;
use crate::db::Db;
use crate::http::{ApiError, ApiResult, Query};

/// The D1 binding name, as declared in `wrangler.toml`.
pub(crate) const DB: &str = "DB";

const OPENAPI: &str = include_str!("../openapi.json");

type Deferred = Pin<Box<dyn Future<Output = ()>>>;

/// What a handler works with: the environment, storage, the caller, the
/// request's time, and work to finish after the response.
pub(crate) struct Cx {
    pub env: Env,
    pub db: Db,
    pub who: Principal,
    pub now: Timestamp,
    deferred: RefCell<Vec<Deferred>>,
}

impl Cx {
    fn new(env: Env, who: Principal, now: Timestamp) -> worker::Result<Cx> {
        let db = Db(env.d1(DB)?);
        Ok(Cx::with_db(env, db, who, now))
    }

    fn with_db(env: Env, db: Db, who: Principal, now: Timestamp) -> Cx {
        Cx { env, db, who, now, deferred: RefCell::new(Vec::new()) }
    }

    /// Runs `work` after the response is sent (or at the end of a cron run).
    pub fn defer(&self, work: impl Future<Output = ()> + 'static) {
        self.deferred.borrow_mut().push(Box::pin(work));
    }

    /// A handle on the same database for work that outlives this request.
    pub fn fresh_db(&self) -> ApiResult<Db> {
        Ok(Db(self.env.d1(DB)?))
    }

    /// A context for background work: same caller and time, its own
    /// deferred work.
    pub fn detached(&self) -> ApiResult<Cx> {
        Ok(Cx::new(self.env.clone(), self.who.clone(), self.now)?)
    }

    /// Awaits deferred work, including work deferred while it runs.
    pub async fn run_deferred(&self) {
        loop {
            let batch: Vec<Deferred> = self.deferred.borrow_mut().drain(..).collect();
            if batch.is_empty() {
                break;
            }
            for work in batch {
                work.await;
            }
        }
    }
}

/// 32 random hex digits from the runtime's cryptographic generator.
pub(crate) fn random_hex() -> String {
    let uuid = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .and_then(|crypto| {
            let f = js_sys::Reflect::get(&crypto, &"randomUUID".into())?;
            js_sys::Function::from(f).call0(&crypto)
        })
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    let hex: String = uuid.chars().filter(char::is_ascii_hexdigit).collect();
    if hex.len() == 32 {
        hex
    } else {
        // crypto.randomUUID is part of every Workers runtime; if it were
        // ever missing, ids from the clock are unique enough to go on.
        format!(
            "{:032x}",
            (worker::Date::now().as_millis() as u128) << 20
                | u128::from(js_sys::Math::random().to_bits() as u32)
        )
    }
}

/// Lets the runtime take other requests before work goes on: between the
/// pages of a long request. A chain of storage calls that answer at once
/// (as a local database does) never leaves the runtime idle, and requests
/// arriving meanwhile would wait for the whole chain; a timer does.
pub(crate) async fn let_others_in() {
    worker::Delay::from(std::time::Duration::from_millis(1)).await;
}

/// [`let_others_in`] at most every `TURN_MS` of a long chain of pages.
pub(crate) struct Turns {
    since: f64,
}

/// How long a chain of pages runs before it lets other requests in.
const TURN_MS: f64 = 100.0;

impl Turns {
    pub(crate) fn new() -> Turns {
        Turns { since: worker::Date::now().as_millis() as f64 }
    }

    /// Lets other requests in when the chain has run `TURN_MS` since it
    /// last did.
    pub(crate) async fn take(&mut self) {
        if worker::Date::now().as_millis() as f64 - self.since >= TURN_MS {
            let_others_in().await;
            self.since = worker::Date::now().as_millis() as f64;
        }
    }
}

/// The runtime's clock. Inside a Worker it moves on only at I/O, so a
/// stage's time is read after the stage's first I/O.
pub(crate) fn now() -> Timestamp {
    Timestamp(worker::Date::now().as_millis() as i64)
}

/// Sends a panic's message to the runtime's log: a panic aborts the
/// WebAssembly instance, and without this only "unreachable" is seen.
fn log_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| worker::console_error!("panicked: {info}")));
    });
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    log_panics();
    let path = req.path();
    let result = if path == "/api/health" || path == "/api/v1/health" {
        health(&env).await
    } else if path == "/api/v1/openapi.json" {
        openapi()
    } else if let Some(rest) = path.strip_prefix("/api/v1/") {
        let rest = rest.to_string();
        handle(req, env, &ctx, &rest).await
    } else {
        Err(ApiError::not_found("route", &format!("{} {path}", req.method())))
    };
    result.or_else(ApiError::into_response)
}

async fn handle(mut req: Request, env: Env, ctx: &Context, path: &str) -> ApiResult {
    let db = Db(env.d1(DB)?);
    let who = auth::authenticate(&req, &env, &db).await?;
    let cx = Cx::with_db(env, db, who, now());
    let result = route(&cx, &mut req, path).await;
    if !cx.deferred.borrow().is_empty() {
        ctx.wait_until(async move { cx.run_deferred().await });
    }
    result
}

/// Every `/api/v1` route: the path picks the resource, the method what is
/// done to it; a known path with another method is 405.
async fn route(cx: &Cx, req: &mut Request, path: &str) -> ApiResult {
    use Method::{Delete, Get, Patch, Post, Put};
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let q = Query::of(req)?;
    let method = req.method();
    let not_allowed = |allowed: &str| {
        Err(ApiError::new(405, format!("{method} is not allowed on /api/v1/{path}; use {allowed}")))
    };
    match segments.as_slice() {
        ["me"] => match method {
            Get => auth::me(cx),
            _ => not_allowed("GET"),
        },
        ["tokens"] => match method {
            Get => auth::list(cx, &q).await,
            Post => auth::create(cx, req).await,
            _ => not_allowed("GET, POST"),
        },
        ["tokens", id] => match method {
            Delete => auth::revoke(cx, id).await,
            _ => not_allowed("DELETE"),
        },
        ["agents"] => match method {
            Get => agents::list(cx).await,
            Post => agents::create(cx, req).await,
            _ => not_allowed("GET, POST"),
        },
        ["agents", id] => match method {
            Get => agents::show(cx, id).await,
            Patch => agents::update(cx, id, req).await,
            Delete => agents::delete(cx, id).await,
            _ => not_allowed("GET, PATCH, DELETE"),
        },
        ["agents", id, "config"] => match method {
            Get => agents::get_config(cx, id, &q).await,
            Put => agents::put_config(cx, id, req).await,
            _ => not_allowed("GET, PUT"),
        },
        ["agents", id, "passes"] => match method {
            Post => passes::start(cx, id, &q).await,
            _ => not_allowed("POST"),
        },
        ["agents", id, "sessions"] => match method {
            Get => sessions::list(cx, id, &q).await,
            Post => sessions::ingest(cx, id, req).await,
            _ => not_allowed("GET, POST"),
        },
        ["agents", id, "sessions", sid] => match method {
            Get => sessions::show(cx, id, sid, &q).await,
            _ => not_allowed("GET"),
        },
        ["agents", id, "sessions", sid, "metrics"] => match method {
            Post => sessions::record_metrics(cx, id, sid, req).await,
            _ => not_allowed("POST"),
        },
        ["agents", id, "imports"] => match method {
            Post => imports::create(cx, id, req).await,
            _ => not_allowed("POST"),
        },
        ["agents", id, "imports", "compare"] => match method {
            Post => imports::compare(cx, id, req).await,
            _ => not_allowed("POST"),
        },
        ["agents", id, "outcomes"] => match method {
            Get => outcomes::series(cx, id, &q).await,
            _ => not_allowed("GET"),
        },
        ["agents", id, "outcomes", "compare"] => match method {
            Get => outcomes::compare_windows(cx, id, &q).await,
            _ => not_allowed("GET"),
        },
        ["agents", id, "webhooks"] => match method {
            Get => webhooks::list(cx, id).await,
            Post => webhooks::create(cx, id, req).await,
            _ => not_allowed("GET, POST"),
        },
        ["agents", id, "webhooks", "deliveries"] => match method {
            Get => webhooks::deliveries(cx, id, &q).await,
            _ => not_allowed("GET"),
        },
        ["agents", id, "webhooks", "deliveries", did, "retry"] => match method {
            Post => webhooks::retry(cx, id, did).await,
            _ => not_allowed("POST"),
        },
        ["agents", id, "webhooks", wid] => match method {
            Delete => webhooks::delete(cx, id, wid).await,
            _ => not_allowed("DELETE"),
        },
        ["stores"] => match method {
            Get => stores::list(cx).await,
            Post => stores::create(cx, req).await,
            _ => not_allowed("GET, POST"),
        },
        ["stores", id] => match method {
            Get => stores::show(cx, id).await,
            _ => not_allowed("GET"),
        },
        ["stores", id, "entries"] => match method {
            Get => entries::list(cx, id, &q).await,
            Post => entries::add(cx, id, req).await,
            _ => not_allowed("GET, POST"),
        },
        ["stores", id, "entries", eid] => match method {
            Get => entries::show(cx, id, eid).await,
            Patch => entries::edit(cx, id, eid, req).await,
            Delete => entries::delete(cx, id, eid, req).await,
            _ => not_allowed("GET, PATCH, DELETE"),
        },
        ["stores", id, "export"] => match method {
            Get => imports::export(cx, id, &q).await,
            _ => not_allowed("GET"),
        },
        ["stores", id, "versions"] => match method {
            Get => stores::versions(cx, id, &q).await,
            _ => not_allowed("GET"),
        },
        ["stores", id, "versions", v] => match method {
            Get => stores::version(cx, id, v, &q).await,
            _ => not_allowed("GET"),
        },
        ["stores", id, "rollback"] => match method {
            Post => {
                let done = stores::rollback(cx, id, req).await?;
                webhooks::notify_store(cx, id, "store.rolled_back", serde_json::to_value(&done)?)
                    .await;
                http::json(&done)
            }
            _ => not_allowed("POST"),
        },
        ["stores", id, "audit"] => match method {
            Get => stores::audit_log(cx, id, &q).await,
            _ => not_allowed("GET"),
        },
        ["stores", id, "audit", "verify"] => match method {
            Get => stores::verify(cx, id).await,
            _ => not_allowed("GET"),
        },
        ["scheduler", "run"] => match method {
            Post => passes::run_scheduler(cx, &q).await,
            _ => not_allowed("POST"),
        },
        ["passes"] => match method {
            Get => passes::list(cx, &q).await,
            _ => not_allowed("GET"),
        },
        ["passes", id] => match method {
            Get => passes::show(cx, id).await,
            _ => not_allowed("GET"),
        },
        ["proposals"] => match method {
            Get => proposals::list(cx, &q).await,
            _ => not_allowed("GET"),
        },
        ["proposals", id] => match method {
            Get => proposals::show(cx, id, &q).await,
            _ => not_allowed("GET"),
        },
        ["proposals", id, "changes", change, "revert"] => match method {
            Post => {
                let done = proposals::revert(cx, id, change, req).await?;
                webhooks::notify_store(
                    cx,
                    &done.store_id,
                    "store.change_reverted",
                    serde_json::to_value(&done)?,
                )
                .await;
                http::json(&done)
            }
            _ => not_allowed("POST"),
        },
        ["proposals", id, action @ ("approve" | "reject" | "partial_accept")] => {
            match (method.clone(), *action) {
                (Post, "approve") => proposals::approve(cx, id).await,
                (Post, "reject") => proposals::reject(cx, id, req).await,
                (Post, _) => proposals::partial(cx, id, req).await,
                _ => not_allowed("POST"),
            }
        }
        _ => Err(ApiError::not_found("route", &format!("{method} /api/v1/{path}"))),
    }
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    log_panics();
    let who = Principal {
        token_id: "cron".into(),
        role: reverie_api::Role::Admin,
        label: "scheduler".into(),
        agents: vec![],
    };
    let cx = match Cx::new(env, who, Timestamp(event.schedule() as i64)) {
        Ok(cx) => cx,
        Err(e) => {
            worker::console_error!("scheduled run cannot reach D1: {e}");
            return;
        }
    };
    if let Err(err) = passes::run_scheduled(&cx).await {
        worker::console_error!("scheduled run failed: {}", err.message);
    }
    cx.run_deferred().await;
}

fn openapi() -> ApiResult {
    let mut resp = Response::ok(OPENAPI)?;
    resp.headers_mut().set("content-type", "application/json")?;
    Ok(resp)
}

/// Whether the environment's `REVERIE_FAULT` (for tests of failure paths
/// only; never set in a deployment) names this point.
pub(crate) fn fault_injected(env: &Env, point: &str) -> bool {
    env.var("REVERIE_FAULT").map(|v| v.to_string() == point).unwrap_or(false)
}

/// Bytes of WebAssembly memory this isolate's engine holds: the most it
/// has needed since the isolate started, as that memory never shrinks.
pub(crate) fn engine_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    return core::arch::wasm32::memory_size(0) as u64 * 65_536;
    #[cfg(not(target_arch = "wasm32"))]
    0
}

/// Liveness plus one D1 round trip, so a green health check means storage
/// answers too. Needs no token.
async fn health(env: &Env) -> ApiResult {
    let started = worker::Date::now().as_millis();
    let agents = repo::agents::count(&Db(env.d1(DB)?))
        .await
        .map_err(|e| ApiError::new(503, format!("D1 is unavailable: {}", e.message)))?;
    let agents =
        agents.ok_or_else(|| ApiError::new(503, "D1 answered the health probe with no row"))?;
    let roundtrip_ms = (worker::Date::now().as_millis() - started) as f64;
    let llm = match llm::settings(env) {
        Ok(Some(s)) => api::LlmSettings {
            mode: api::LlmMode::Llm,
            provider: Some(s.provider),
            model: Some(s.model),
            error: None,
        },
        Ok(None) => api::LlmSettings::rules_only(None),
        Err(e) => api::LlmSettings::rules_only(Some(e)),
    };
    http::json(&api::Health {
        status: "ok".into(),
        core_version: reverie_core::VERSION.into(),
        d1: api::HealthD1 { agents: i64::from(agents), roundtrip_ms },
        llm,
        engine_memory_bytes: engine_memory_bytes(),
    })
}
