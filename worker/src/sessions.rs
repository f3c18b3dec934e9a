//! Session transcripts: ingest (Anthropic Messages, OpenAI chat, OpenAI
//! Responses items, Claude Code session JSONL, or the project's own shape,
//! detected when not named) with per-session outcome metrics, list by time
//! window, read one (or a window of its messages), and record more metrics
//! later. The transcript is kept exactly as sent.

use std::collections::BTreeMap;

use reverie_api as api;
use reverie_core::import::{detect_format, import_transcript, ImportMeta, TranscriptFormat};
use reverie_core::{Id, Session, Timestamp};
use serde_json::Value;
use worker::Request;

use crate::http::{self, ApiError, ApiResult, Query};
use crate::{repo, Cx};

/// The most metrics one session may carry.
const MAX_METRICS: usize = 64;

/// Metric names are short snake_case words; values are finite numbers.
pub(crate) fn check_metrics(metrics: &BTreeMap<String, f64>) -> ApiResult<()> {
    if metrics.len() > MAX_METRICS {
        return Err(ApiError::new(
            422,
            format!("`metrics` holds {}; the limit is {MAX_METRICS}", metrics.len()),
        ));
    }
    for (name, value) in metrics {
        let good_name = (1..=64).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && name.as_bytes()[0].is_ascii_lowercase();
        if !good_name {
            return Err(ApiError::new(
                422,
                format!("`metrics.{name}`: names are snake_case, 1 to 64 characters"),
            ));
        }
        if !value.is_finite() {
            return Err(ApiError::new(422, format!("`metrics.{name}`: must be a finite number")));
        }
    }
    Ok(())
}

/// `POST /agents/{id}/sessions`. Sending the same session again is
/// harmless (200 with the stored one); the same id with other content is
/// a conflict.
pub(crate) async fn ingest(cx: &Cx, agent_id: &str, req: &mut Request) -> ApiResult {
    cx.who.can_ingest(agent_id)?;
    crate::agents::readable(cx, agent_id).await?;
    let new: api::NewSession = http::json_body(req, http::limits::SESSION).await?;
    check_metrics(&new.metrics)?;
    let raw = new.transcript.get().to_string();
    let format = match new.format {
        Some(f) => f,
        None => detect_format(&raw)?,
    };
    let given =
        new.id.as_ref().map(|id| Id::new(id).map_err(|e| ApiError::new(422, format!("`id`: {e}"))));
    let given = given.transpose()?;
    // A Reverie session names itself (the import reads its id and times); a
    // Claude Code file names and times itself where the request does not;
    // other transcripts get the id given, or a new one, and start now.
    let meta = ImportMeta {
        agent_id: Id::new(agent_id)?,
        id: given.clone(),
        started_at: new.started_at,
        ended_at: new.ended_at,
        default_id: Id::new(format!("s_{}", &crate::random_hex()[..16]))?,
        default_started_at: cx.now,
    };
    let imported = import_transcript(format, &raw, meta)?;
    let session = imported.session;
    // Told on every answer, a retry's too: the transcript is read again.
    let skipped = imported
        .skipped
        .map(|counts| counts.into_iter().map(|(reason, n)| (reason.to_string(), n)).collect());
    let id = given.unwrap_or_else(|| session.id.clone());
    if session.agent_id.as_str() != agent_id || session.id != id {
        return Err(ApiError::new(
            422,
            format!(
                "the transcript is session `{}` of agent `{}`, not `{id}` of `{agent_id}`",
                session.id, session.agent_id
            ),
        ));
    }
    let existing = repo::sessions::find(&cx.db, agent_id, id.as_str()).await?;
    if let Some(existing) = existing {
        // A client retrying after a lost answer sends the same thing again:
        // that is harmless. Anything else under the same id is refused, as
        // sessions are kept exactly as they were sent.
        let stored: Session = serde_json::from_str(&existing.body)?;
        let stored_metrics: BTreeMap<String, f64> = serde_json::from_str(&existing.metrics)?;
        let same = existing.raw == raw
            && new.started_at.is_none_or(|t| t == stored.started_at)
            && (new.metrics.is_empty() || new.metrics == stored_metrics);
        // The same session gone on (a log that grew since it was sent):
        // what was read before is kept, message for message, and the rest
        // joins it, so evidence citing earlier messages still holds.
        let grows = !same
            && session.started_at == stored.started_at
            && session.messages.len() > stored.messages.len()
            && session.messages[..stored.messages.len()] == stored.messages[..]
            && (new.metrics.is_empty() || new.metrics == stored_metrics);
        if grows {
            let body = repo::sessions::body_of(&session)?;
            if !repo::sessions::grow(&cx.db, &session, &body, &raw, &existing.body).await? {
                return Err(ApiError::conflict(format!(
                    "session `{id}` changed while this request read it; send it again"
                )));
            }
            return http::json(&api::SessionWritten {
                session: summary(&session, format, stored_metrics),
                created: false,
                skipped,
                grew_by: Some(session.messages.len() - stored.messages.len()),
            });
        }
        if !same {
            return Err(ApiError::conflict(format!(
                "session `{id}` was ingested before with other content, times or metrics; sessions are kept as sent, \
                 or grow when the new transcript begins with the stored one (send new ones under a new id, and \
                 later metrics to …/sessions/{id}/metrics)"
            )));
        }
        let format = serde_json::from_value(Value::String(existing.format))?;
        return http::json(&api::SessionWritten {
            session: summary(&stored, format, stored_metrics),
            created: false,
            skipped,
            grew_by: None,
        });
    }
    let body = repo::sessions::body_of(&session)?;
    repo::sessions::insert(
        &cx.db,
        &session,
        &body,
        format_name(format),
        &raw,
        &new.metrics,
        cx.now,
    )
    .await?;
    http::json_status(
        201,
        &api::SessionWritten {
            session: summary(&session, format, new.metrics),
            created: true,
            skipped,
            grew_by: None,
        },
    )
}

fn format_name(format: TranscriptFormat) -> &'static str {
    match format {
        TranscriptFormat::Reverie => "reverie",
        TranscriptFormat::Anthropic => "anthropic",
        TranscriptFormat::OpenAi => "openai",
        TranscriptFormat::ClaudeCode => "claude_code",
        TranscriptFormat::OpenAiResponses => "openai_responses",
    }
}

fn summary(
    session: &Session,
    format: TranscriptFormat,
    metrics: BTreeMap<String, f64>,
) -> api::SessionSummary {
    api::SessionSummary {
        id: session.id.to_string(),
        agent_id: session.agent_id.to_string(),
        started_at: session.started_at.0,
        ended_at: session.ended_at.map(|t| t.0),
        format: format_name(format).to_string(),
        message_count: session.messages.len(),
        metrics,
    }
}

/// `GET /agents/{id}/sessions?since=&until=&limit=&after=`: oldest first
/// within the window; `after` is the `next_after` of the previous page.
pub(crate) async fn list(cx: &Cx, agent_id: &str, q: &Query) -> ApiResult {
    crate::agents::readable(cx, agent_id).await?;
    let since = q.time("since")?.unwrap_or(Timestamp(i64::MIN / 2));
    let until = q.time("until")?.unwrap_or(Timestamp(i64::MAX / 2));
    let limit = q.limit(100, 1000)?;
    let (after_time, after_id) = match q.str("after") {
        None => (i64::MIN / 2, String::new()),
        Some(cursor) => {
            let (t, id) = cursor.split_once(':').ok_or_else(|| {
                ApiError::bad_request("query `after`: not a cursor from `next_after`")
            })?;
            (
                t.parse().map_err(|_| {
                    ApiError::bad_request("query `after`: not a cursor from `next_after`")
                })?,
                id.to_string(),
            )
        }
    };
    let rows = repo::sessions::list(&cx.db, agent_id, since, until, (after_time, &after_id), limit)
        .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| format!("{}:{}", r.started_at as i64, r.id)))
        .flatten();
    let sessions = rows
        .iter()
        .map(|r| {
            Ok(api::SessionSummary {
                id: r.id.clone(),
                agent_id: agent_id.to_string(),
                started_at: r.started_at as i64,
                ended_at: r.ended_at.map(|t| t as i64),
                format: r.format.clone(),
                message_count: r.message_count as usize,
                metrics: serde_json::from_str(&r.metrics)?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    http::json(&api::SessionList { sessions, next_after: next })
}

/// `GET /agents/{id}/sessions/{sid}?around=N&context=K&raw=true`: the
/// session as read, or messages N-K..=N+K of it (to show evidence in
/// context), or the transcript exactly as it was sent.
pub(crate) async fn show(cx: &Cx, agent_id: &str, session_id: &str, q: &Query) -> ApiResult {
    crate::agents::readable(cx, agent_id).await?;
    let row = repo::sessions::find(&cx.db, agent_id, session_id).await?;
    let row = row.ok_or_else(|| {
        ApiError::not_found("session", &format!("{session_id} of agent {agent_id}"))
    })?;
    if q.str("raw") == Some("true") {
        // The transcript goes out byte for byte as it came in.
        let text = format!(
            r#"{{"id":{},"format":{},"transcript":{}}}"#,
            Value::from(session_id),
            Value::from(row.format.as_str()),
            row.raw
        );
        let mut resp = worker::Response::ok(text)?;
        resp.headers_mut().set("content-type", "application/json")?;
        return Ok(resp);
    }
    let session: Session = serde_json::from_str(&row.body)?;
    let total = session.messages.len();
    let (first, messages) = match q.int("around")? {
        None => (0, session.messages.clone()),
        Some(around) => {
            let context = q.int("context")?.unwrap_or(3).clamp(0, 50);
            let lo = around.saturating_sub(context).clamp(0, total as i64) as usize;
            let hi = around.saturating_add(context).saturating_add(1).clamp(lo as i64, total as i64)
                as usize;
            (lo, session.messages[lo..hi].to_vec())
        }
    };
    // Shown to reviewers as evidence: secrets' values stay hidden (the raw
    // transcript above is the export, for whoever may read the agent).
    let mut messages = messages;
    messages.iter_mut().for_each(|m| reverie_core::redact_secrets_in(&mut m.content));
    let format = serde_json::from_value(Value::String(row.format.clone()))?;
    http::json(&api::SessionExcerpt {
        session: summary(&session, format, serde_json::from_str(&row.metrics)?),
        first_index: first,
        messages,
    })
}

/// `POST /agents/{id}/sessions/{sid}/metrics`: adds or replaces metrics
/// (built-in or custom) of a session.
pub(crate) async fn record_metrics(
    cx: &Cx,
    agent_id: &str,
    session_id: &str,
    req: &mut Request,
) -> ApiResult {
    cx.who.can_ingest(agent_id)?;
    let body: api::MetricsBody = http::json_body(req, http::limits::SMALL).await?;
    check_metrics(&body.metrics)?;
    if !repo::sessions::patch_metrics(&cx.db, agent_id, session_id, &body.metrics).await? {
        return Err(ApiError::not_found("session", &format!("{session_id} of agent {agent_id}")));
    }
    let metrics = repo::sessions::metrics(&cx.db, agent_id, session_id).await?.unwrap_or_default();
    http::json(&api::SessionMetricsSet { session_id: session_id.to_string(), metrics })
}
