//! Outcomes: the per-session metrics of an agent over time, with the store
//! versions as markers, and the core's comparison of a baseline window with
//! a candidate window (two time ranges, or the sessions run under two store
//! versions), with regressions flagged and a version to roll back to.

use std::collections::BTreeMap;

use reverie_api::{self as api, PassStatus};
use reverie_core::outcomes::{compare, CompareConfig, SessionMetrics};

use crate::db::{self, Db};
use crate::http::{self, ApiError, ApiResult, Query};
use crate::repo::stores::VersionMarkRow;
use crate::{repo, Cx};

/// The bootstrap seed when none is given, so the same question gets the
/// same answer.
const DEFAULT_SEED: u64 = 20_260_506;

async fn metrics_between(
    db: &Db,
    agent_id: &str,
    from: i64,
    to: i64,
) -> ApiResult<Vec<SessionMetrics>> {
    let rows = repo::sessions::metrics_between(db, agent_id, from, to).await?;
    rows.into_iter()
        .map(|r| {
            let values: BTreeMap<String, f64> = serde_json::from_str(&r.metrics)?;
            Ok(SessionMetrics { session_id: r.id, at: r.started_at as i64, values })
        })
        .collect()
}

/// `GET /agents/{id}/outcomes?since=&until=`: every session's metrics in
/// the window, and the store versions made in it.
pub(crate) async fn series(cx: &Cx, agent_id: &str, q: &Query) -> ApiResult {
    let agent = crate::agents::readable(cx, agent_id).await?;
    let since = q.int("since")?.unwrap_or(cx.now.0 - 30 * 86_400_000);
    let until = q.int("until")?.unwrap_or(cx.now.0 + 1);
    let sessions = metrics_between(&cx.db, agent_id, since, until).await?;
    let store_id = agent.config()?.memory_store.to_string();
    let markers: Vec<api::Marker> = repo::stores::version_marks(&cx.db, &store_id)
        .await?
        .into_iter()
        .filter(|v| (since..until).contains(&(v.created_at as i64)) && v.version > 0)
        .map(|v| api::Marker {
            version: v.version,
            at: v.created_at as i64,
            cause: v.cause,
            proposal_id: v.proposal_id,
        })
        .collect();
    let passes = repo::passes::marks(&cx.db, agent_id, since, until).await?;
    let passes = passes
        .into_iter()
        .map(|p| {
            Ok(api::PassMark {
                id: p.id,
                at: p.started_at as i64,
                status: db::word(PassStatus::parse(&p.status), "pass status", &p.status)?,
                proposal_id: p.proposal_id,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    http::json(&api::Outcomes {
        agent_id: agent_id.to_string(),
        store_id,
        since,
        until,
        sessions,
        markers,
        passes,
    })
}

/// A window: `v<N>` (sessions begun while version N was current) or
/// `<from>..<to>` in epoch milliseconds.
enum Window {
    Version(i64),
    Range(i64, i64),
}

fn window(name: &str, spec: &str) -> ApiResult<Window> {
    let bad = || {
        ApiError::bad_request(format!(
            "query `{name}`: `{spec}` is neither v<version> nor <from_ms>..<to_ms>"
        ))
    };
    if let Some(v) = spec.strip_prefix('v') {
        return v.parse().map(Window::Version).map_err(|_| bad());
    }
    let (from, to) = spec.split_once("..").ok_or_else(bad)?;
    let (from, to): (i64, i64) = (from.parse().map_err(|_| bad())?, to.parse().map_err(|_| bad())?);
    if from >= to {
        return Err(ApiError::bad_request(format!("query `{name}`: the range `{spec}` is empty")));
    }
    Ok(Window::Range(from, to))
}

fn range_of(w: &Window, versions: &[VersionMarkRow], name: &str) -> ApiResult<(i64, i64)> {
    match *w {
        Window::Range(from, to) => Ok((from, to)),
        Window::Version(v) => {
            let i = versions.iter().position(|r| r.version == v).ok_or_else(|| {
                ApiError::bad_request(format!("query `{name}`: the store has no version {v}"))
            })?;
            let from = versions[i].created_at as i64;
            let to = versions.get(i + 1).map_or(i64::MAX / 2, |r| r.created_at as i64);
            Ok((from, to))
        }
    }
}

/// `GET /agents/{id}/outcomes/compare?baseline=&candidate=&seed=`.
pub(crate) async fn compare_windows(cx: &Cx, agent_id: &str, q: &Query) -> ApiResult {
    let agent = crate::agents::readable(cx, agent_id).await?;
    let store_id = agent.config()?.memory_store.to_string();
    let all_versions = repo::stores::version_marks(&cx.db, &store_id).await?;
    let spec = |name: &str| {
        q.str(name).ok_or_else(|| ApiError::bad_request(format!("query `{name}` is required")))
    };
    let (baseline, candidate) =
        (window("baseline", spec("baseline")?)?, window("candidate", spec("candidate")?)?);
    let (b_from, b_to) = range_of(&baseline, &all_versions, "baseline")?;
    let (c_from, c_to) = range_of(&candidate, &all_versions, "candidate")?;
    let seed = q.int("seed")?.map_or(DEFAULT_SEED, |s| s as u64);
    let base = metrics_between(&cx.db, agent_id, b_from, b_to).await?;
    let cand = metrics_between(&cx.db, agent_id, c_from, c_to).await?;
    let comparison = compare(&base, &cand, &CompareConfig::recommended(seed));
    // A regression after a version is undone by going back to the
    // baseline's version, or else the version before the candidate.
    let rollback_to = match (&baseline, &candidate) {
        _ if comparison.regressions.is_empty() => None,
        (Window::Version(b), _) => Some(*b),
        (_, Window::Version(c)) if *c > 0 => Some(c - 1),
        _ => None,
    };
    http::json(&api::Compared {
        agent_id: agent_id.to_string(),
        store_id,
        baseline: api::Window { from: b_from, to: b_to, sessions: base.len() },
        candidate: api::Window { from: c_from, to: c_to, sessions: cand.len() },
        seed,
        regressed: !comparison.regressions.is_empty(),
        comparison,
        rollback_to,
    })
}
