//! Webhooks: per-agent endpoints told when a pass completes, a proposal is
//! applied or rejected, or a store is rolled back. Each delivery is signed
//! (`Reverie-Signature: t=<ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with
//! the endpoint's secret), logged, and retried: three quick attempts, then
//! the cron trigger tries again after 1 min, 10 min and 1 h before giving
//! up. The log is visible through the API.

use hmac::{Hmac, Mac};
use reverie_api::{self as api, DeliveryStatus};
use reverie_core::Timestamp;
use serde_json::{json, Value};
use sha2::Sha256;
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit};

use crate::db::Db;
use crate::http::{self, ApiError, ApiResult, Query};
use crate::repo::webhooks::{DeliveryRow, WebhookRow};
use crate::{repo, Cx};

pub(crate) const EVENTS: [&str; 5] = [
    "pass.completed",
    "proposal.applied",
    "proposal.rejected",
    "store.rolled_back",
    "store.change_reverted",
];

/// Quick attempts made at once, then waits before the cron retries.
const QUICK_ATTEMPTS: i64 = 3;
const LATER_WAITS_MS: [i64; 3] = [60_000, 600_000, 3_600_000];
const MAX_ATTEMPTS: i64 = QUICK_ATTEMPTS + LATER_WAITS_MS.len() as i64;
const TIMEOUT_MS: u64 = 10_000;

/// The longest webhook URL taken.
const MAX_URL_BYTES: usize = 2048;

fn describe(w: &WebhookRow) -> ApiResult<api::Webhook> {
    let tail: Vec<char> = w.secret.chars().rev().take(4).collect();
    Ok(api::Webhook {
        id: w.id.clone(),
        agent_id: w.agent_id.clone(),
        url: w.url.clone(),
        created_at: w.created_at as i64,
        events: serde_json::from_str(&w.events)?,
        secret_hint: format!("…{}", tail.into_iter().rev().collect::<String>()),
        secret: None,
    })
}

/// `POST /agents/{id}/webhooks`: the secret is shown in this answer only.
pub(crate) async fn create(cx: &Cx, agent_id: &str, req: &mut worker::Request) -> ApiResult {
    cx.who.require_admin()?;
    crate::agents::readable(cx, agent_id).await?;
    let new: api::NewWebhook = http::json_body(req, http::limits::SMALL).await?;
    // URL parsers drop tabs and line breaks silently; a URL sent with them
    // (or one longer than any endpoint needs) is refused, not repaired.
    if new.url.len() > MAX_URL_BYTES {
        return Err(ApiError::new(
            422,
            format!("`url` is {} bytes; at most {MAX_URL_BYTES}", new.url.len()),
        ));
    }
    if new.url.chars().any(char::is_control) {
        return Err(ApiError::new(422, "`url` contains a control character (a tab or line break)"));
    }
    let url = worker::Url::parse(new.url.trim())
        .map_err(|e| ApiError::new(422, format!("`url`: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(ApiError::new(422, "`url` must be an http or https address"));
    }
    let events = new.events.unwrap_or_else(|| EVENTS.iter().map(|e| e.to_string()).collect());
    if events.is_empty() {
        return Err(ApiError::new(
            422,
            format!("`events` must name at least one of {}", EVENTS.join(", ")),
        ));
    }
    if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(ApiError::new(
            422,
            format!("`events`: `{bad}` is not one of {}", EVENTS.join(", ")),
        ));
    }
    let secret = match new.secret {
        Some(s) if (16..=200).contains(&s.chars().count()) => s,
        Some(_) => return Err(ApiError::new(422, "`secret` must be 16 to 200 characters")),
        None => format!("whsec_{}", crate::random_hex()),
    };
    let row = WebhookRow {
        id: format!("wh_{}", &crate::random_hex()[..12]),
        agent_id: agent_id.to_string(),
        url: url.to_string(),
        secret: secret.clone(),
        events: serde_json::to_string(&events)?,
        created_at: cx.now.0 as f64,
    };
    repo::webhooks::insert(&cx.db, &row).await?;
    let out = api::Webhook { secret: Some(secret), ..describe(&row)? };
    http::json_status(201, &out)
}

/// `GET /agents/{id}/webhooks`.
pub(crate) async fn list(cx: &Cx, agent_id: &str) -> ApiResult {
    crate::agents::readable(cx, agent_id).await?;
    let rows = repo::webhooks::list(&cx.db, agent_id).await?;
    http::json(&api::WebhookList { webhooks: rows.iter().map(describe).collect::<ApiResult<_>>()? })
}

/// `DELETE /agents/{id}/webhooks/{wid}`; its delivery log stays.
pub(crate) async fn delete(cx: &Cx, agent_id: &str, id: &str) -> ApiResult {
    cx.who.require_admin()?;
    if !repo::webhooks::delete(&cx.db, id, agent_id).await? {
        return Err(ApiError::not_found("webhook", &format!("{id} of agent {agent_id}")));
    }
    http::no_content()
}

fn delivery_json(d: &DeliveryRow, with_payload: bool) -> ApiResult<api::Delivery> {
    Ok(api::Delivery {
        id: d.id.clone(),
        webhook_id: d.webhook_id.clone(),
        event: d.event.clone(),
        status: d.status,
        attempts: d.attempts,
        last_status: d.last_status,
        last_error: d.last_error.clone(),
        next_attempt_at: d.next_attempt_at.map(|t| t as i64),
        created_at: d.created_at as i64,
        delivered_at: d.delivered_at.map(|t| t as i64),
        payload: with_payload.then(|| serde_json::from_str(&d.payload)).transpose()?,
    })
}

/// `GET /agents/{id}/webhooks/deliveries?limit=&payload=true`: newest first.
pub(crate) async fn deliveries(cx: &Cx, agent_id: &str, q: &Query) -> ApiResult {
    crate::agents::readable(cx, agent_id).await?;
    let limit = q.limit(50, 500)?;
    let rows = repo::webhooks::deliveries(&cx.db, agent_id, limit).await?;
    let with_payload = q.str("payload") == Some("true");
    let deliveries =
        rows.iter().map(|d| delivery_json(d, with_payload)).collect::<ApiResult<_>>()?;
    http::json(&api::DeliveryList { deliveries })
}

/// `POST /agents/{id}/webhooks/deliveries/{did}/retry`: one more attempt
/// now, whatever the delivery's state.
pub(crate) async fn retry(cx: &Cx, agent_id: &str, id: &str) -> ApiResult {
    cx.who.can_review(agent_id)?;
    let row = repo::webhooks::find_delivery(&cx.db, id, agent_id).await?;
    let row =
        row.ok_or_else(|| ApiError::not_found("delivery", &format!("{id} of agent {agent_id}")))?;
    let done = attempt(&cx.db, row, cx.now, true).await?;
    http::json(&delivery_json(&done, false)?)
}

/// Records a delivery of `event` for every webhook of `agent_id` that
/// wants it, and returns them for `deliver`.
async fn enqueue(
    db: &Db,
    agent_id: &str,
    event: &str,
    payload: &Value,
    now: Timestamp,
) -> ApiResult<Vec<DeliveryRow>> {
    let hooks = repo::webhooks::of_agent(db, agent_id).await?;
    // The quick attempts are made by the request that queued a delivery;
    // the cron trigger only steps in if they did not finish.
    let later = now.0 + LATER_WAITS_MS[0];
    let mut out = Vec::new();
    for hook in hooks {
        let events: Vec<String> = serde_json::from_str(&hook.events)?;
        if !events.iter().any(|e| e == event) {
            continue;
        }
        let id = format!("dlv_{}", &crate::random_hex()[..16]);
        let mut body = payload.clone();
        body["event"] = json!(event);
        body["delivery_id"] = json!(id);
        body["created_at"] = json!(now);
        let row = DeliveryRow {
            id,
            webhook_id: hook.id,
            agent_id: agent_id.to_string(),
            event: event.to_string(),
            payload: body.to_string(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_status: None,
            last_error: None,
            next_attempt_at: Some(later as f64),
            created_at: now.0 as f64,
            delivered_at: None,
        };
        repo::webhooks::insert_delivery(db, &row, now, later).await?;
        out.push(row);
    }
    Ok(out)
}

/// Tells `agent_id`'s webhooks about `event`; the sending happens after
/// the response (or at the end of the cron run). It runs after what it
/// reports was saved, so a failure here is logged, never turned into the
/// request's error.
pub(crate) async fn notify(cx: &Cx, agent_id: &str, event: &str, payload: Value) {
    if let Err(e) = notify_or_fail(cx, agent_id, event, fit(payload)).await {
        worker::console_error!(
            "webhook {event} for agent {agent_id} was not queued: {}",
            e.message
        );
    }
}

/// Webhook payloads stay under this many bytes (D1 keeps each in one
/// value); a long list of changes is shortened, and says so.
const MAX_PAYLOAD: usize = 512 * 1024;

fn fit(mut payload: Value) -> Value {
    while payload.to_string().len() > MAX_PAYLOAD {
        let Some(changes) = payload["changes"].as_array_mut().filter(|c| !c.is_empty()) else {
            break;
        };
        let keep = changes.len() / 2;
        changes.truncate(keep);
        payload["changes_truncated"] = json!(true);
    }
    payload
}

async fn notify_or_fail(cx: &Cx, agent_id: &str, event: &str, payload: Value) -> ApiResult<()> {
    let rows = enqueue(&cx.db, agent_id, event, &payload, cx.now).await?;
    if !rows.is_empty() {
        let db = cx.fresh_db()?;
        cx.defer(async move {
            for row in rows {
                if let Err(e) = deliver(&db, row).await {
                    worker::console_error!("webhook delivery could not be recorded: {}", e.message);
                }
            }
        });
    }
    Ok(())
}

/// `notify` for every agent using `store_id`.
pub(crate) async fn notify_store(cx: &Cx, store_id: &str, event: &str, payload: Value) {
    match repo::stores::agents_using(&cx.db, store_id).await {
        Ok(agents) => {
            for agent in agents {
                notify(cx, &agent, event, payload.clone()).await;
            }
        }
        Err(e) => worker::console_error!(
            "webhook {event} for store {store_id} was not queued: {}",
            e.message
        ),
    }
}

/// The quick attempts of a new delivery.
async fn deliver(db: &Db, mut row: DeliveryRow) -> ApiResult<()> {
    for quick in 0..QUICK_ATTEMPTS {
        if quick > 0 {
            Delay::from(std::time::Duration::from_millis(500 << quick)).await;
        }
        row = attempt(db, row, crate::now(), false).await?;
        if row.status != DeliveryStatus::Pending || row.attempts >= QUICK_ATTEMPTS {
            break;
        }
    }
    Ok(())
}

/// Deliveries whose next attempt is due: run by the cron trigger.
pub(crate) async fn retry_due(db: &Db, now: Timestamp) -> ApiResult<usize> {
    let rows = repo::webhooks::due_deliveries(db, now).await?;
    let n = rows.len();
    for row in rows {
        attempt(db, row, now, false).await?;
    }
    Ok(n)
}

/// The signature header value for `body` at `t`.
pub(crate) fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// One attempt; records the outcome and when to try next. The attempt is
/// claimed first (its number moves on only if nobody else moved it), so a
/// delivery the cron trigger and a request both pick up is sent once.
async fn attempt(
    db: &Db,
    mut row: DeliveryRow,
    now: Timestamp,
    manual: bool,
) -> ApiResult<DeliveryRow> {
    let next = now.0 + LATER_WAITS_MS[1];
    if !repo::webhooks::claim_attempt(db, &row.id, row.attempts, next).await? {
        let current = repo::webhooks::delivery(db, &row.id).await?;
        return current.ok_or_else(|| ApiError::not_found("delivery", &row.id));
    }
    let hook = repo::webhooks::endpoint(db, &row.webhook_id).await?;
    row.attempts += 1;
    let hook_gone = hook.is_none();
    let outcome = match hook {
        None => Err((None, "the webhook was deleted".to_string())),
        Some(hook) => post(&hook.url, &hook.secret, &row, now).await,
    };
    match outcome {
        Ok(status) => {
            row.status = DeliveryStatus::Delivered;
            row.last_status = Some(status);
            row.last_error = None;
            row.next_attempt_at = None;
            row.delivered_at = Some(now.0 as f64);
        }
        Err((status, error)) => {
            row.last_status = status;
            row.last_error = Some(error);
            let later = row.attempts - QUICK_ATTEMPTS;
            if hook_gone || (!manual && row.attempts >= MAX_ATTEMPTS) {
                row.status = DeliveryStatus::Failed;
                row.next_attempt_at = None;
            } else {
                row.status = DeliveryStatus::Pending;
                let wait = if later < 0 {
                    0
                } else {
                    LATER_WAITS_MS[(later as usize).min(LATER_WAITS_MS.len() - 1)]
                };
                row.next_attempt_at = Some((now.0 + wait) as f64);
            }
        }
    }
    repo::webhooks::record_attempt(db, &row).await?;
    Ok(row)
}

/// POSTs the payload; `Ok(status)` for 2xx.
async fn post(
    url: &str,
    secret: &str,
    row: &DeliveryRow,
    now: Timestamp,
) -> Result<i64, (Option<i64>, String)> {
    let fail = |e: worker::Error| (None, e.to_string());
    let headers = Headers::new();
    headers.set("content-type", "application/json").map_err(fail)?;
    headers
        .set("user-agent", concat!("Reverie-Webhooks/", env!("CARGO_PKG_VERSION")))
        .map_err(fail)?;
    headers.set("reverie-event", &row.event).map_err(fail)?;
    headers.set("reverie-delivery", &row.id).map_err(fail)?;
    headers.set("reverie-signature", &signature(secret, now.0, &row.payload)).map_err(fail)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(row.payload.as_str().into()));
    let request = Request::new_with_init(url, &init).map_err(fail)?;
    let controller = worker::AbortController::default();
    let signal = controller.signal();
    let call = Box::pin(async move { Fetch::Request(request).send_with_signal(&signal).await });
    let timeout = Box::pin(Delay::from(std::time::Duration::from_millis(TIMEOUT_MS)));
    match futures_util::future::select(call, timeout).await {
        futures_util::future::Either::Right(_) => {
            controller.abort();
            Err((None, format!("no answer within {TIMEOUT_MS} ms")))
        }
        futures_util::future::Either::Left((Err(e), _)) => {
            Err((None, format!("network error: {e}")))
        }
        futures_util::future::Either::Left((Ok(resp), _)) => {
            let status = i64::from(resp.status_code());
            if (200..300).contains(&status) {
                Ok(status)
            } else {
                Err((Some(status), format!("the endpoint answered {status}")))
            }
        }
    }
}
