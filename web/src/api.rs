//! Every HTTP call the dashboard makes, in one place: the bearer token from
//! session storage, JSON in and out, errors worded for the person at the
//! screen, and reads that fall back to the offline cache when the network
//! is gone.

use std::fmt;

use gloo_net::http::{Method, RequestBuilder};
use leptos::prelude::*;
use reverie_core::hash_str;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::cache;
use crate::connection::{self, Outcome};

pub use crate::token::{get as token, set as set_token};

/// Why a call failed.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// No answer at all: offline, DNS, connection refused.
    Network(String),
    /// The service answered with an error status; `details` holds the
    /// error object's other fields (e.g. `conflicting_changes`).
    Status { status: u16, message: String, details: ErrorDetails },
    /// The service answered 2xx with a body we could not read.
    Body(String),
}

impl ApiError {
    pub fn is_network(&self) -> bool {
        matches!(self, ApiError::Network(_))
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The changes a 409 names as conflicting.
    pub fn conflicting_changes(&self) -> Vec<String> {
        match self {
            ApiError::Status { status: 409, details, .. } => details.conflicting_changes.clone(),
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Network(_) => write!(f, "the service cannot be reached (offline or down)"),
            ApiError::Status { status: 401, .. } => {
                write!(f, "your token was not accepted (expired or revoked): sign in again")
            }
            ApiError::Status { status, message, .. } => write!(f, "{message} (HTTP {status})"),
            ApiError::Body(msg) => write!(f, "unreadable answer from the service ({msg})"),
        }
    }
}

/// Where data on screen came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Live,
    /// The copy saved on this device, shown at once while the service is
    /// asked for the current one.
    Saved,
    /// The copy saved on this device: the service is unreachable.
    Cache,
}

/// Sends one request; the body text of a 2xx answer, or the error.
pub async fn send(
    method: Method,
    path: &str,
    body: Option<(&str, &str)>,
) -> Result<String, ApiError> {
    let mut builder = RequestBuilder::new(path).method(method);
    if let Some(t) = token() {
        builder = builder.header("authorization", &format!("Bearer {t}"));
    }
    let request = match body {
        Some((content_type, text)) => {
            builder.header("content-type", content_type).body(text.to_string())
        }
        None => builder.build(),
    }
    .map_err(|e| ApiError::Body(e.to_string()))?;
    let resp = match request.send().await {
        Ok(resp) => resp,
        Err(e) => {
            connection::report(Outcome::NoAnswer);
            return Err(ApiError::Network(e.to_string()));
        }
    };
    let status = resp.status();
    if status == 401 && token().is_some() {
        SIGNALS.with(|x| x.refused.update(|n| *n += 1));
    }
    let text = match resp.text().await {
        Ok(text) => text,
        Err(e) => {
            connection::report(Outcome::NoAnswer);
            return Err(ApiError::Network(e.to_string()));
        }
    };
    let parsed: Option<ErrorBody> = if resp.ok() { None } else { serde_json::from_str(&text).ok() };
    // A gateway's page instead of the service's own error: the service is
    // down behind it.
    let gateway = matches!(status, 502..=504) && parsed.is_none();
    connection::report(if gateway { Outcome::GatewayDown } else { Outcome::Answered });
    if resp.ok() {
        return Ok(text);
    }
    if gateway {
        return Err(ApiError::Network(format!("HTTP {status} from a gateway")));
    }
    Err(match parsed {
        Some(ErrorBody { error }) => {
            ApiError::Status { status, message: error.message, details: error.details }
        }
        None => ApiError::Status {
            status,
            message: text.chars().take(200).collect(),
            details: ErrorDetails::default(),
        },
    })
}

fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::Body(e.to_string()))
}

/// The service's health route (no token needed); its answer, or silence,
/// tells `connection` whether the service can be reached.
pub async fn health() -> Result<(), ApiError> {
    send(Method::GET, "/api/v1/health", None).await.map(drop)
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    parse(&send(Method::GET, path, None).await?)
}

/// A read that is saved on this device when it succeeds and served from
/// there when the network is gone.
pub async fn get_cached<T: DeserializeOwned>(path: &str) -> Result<(T, Source), ApiError> {
    let key = cache::response_key(path);
    match send(Method::GET, path, None).await {
        Ok(text) => {
            let value = parse(&text)?;
            if let Err(err) = cache::put_response(&key, &text).await {
                leptos::logging::warn!("{err}");
            }
            Ok((value, Source::Live))
        }
        Err(err) if err.is_network() => match cache::get_response(&key).await {
            Ok(Some(text)) => Ok((parse(&text)?, Source::Cache)),
            _ => Err(err),
        },
        Err(err) => Err(err),
    }
}

thread_local! {
    static SIGNALS: Signals = Signals {
        refused: ArcRwSignal::new(0),
        retry: ArcRwSignal::new(0),
    };
}

/// What every screen's reads share.
struct Signals {
    /// Bumped when the service refuses the token in use (401).
    refused: ArcRwSignal<u32>,
    /// Bumped to read again whatever failed.
    retry: ArcRwSignal<u32>,
}

/// Changes each time the service refuses the token in use (reactive).
pub fn token_refused() -> ArcRwSignal<u32> {
    SIGNALS.with(|x| x.refused.clone())
}

/// Changes each time the reader asks to read again (reactive): reads
/// made outside `swr` track it to follow Retry too.
pub fn retried() -> ArcRwSignal<u32> {
    SIGNALS.with(|x| x.retry.clone())
}

/// Reads every read on screen again.
pub fn retry() {
    SIGNALS.with(|x| x.retry.update(|n| *n += 1));
}

/// A read shown without waiting: the copy saved on this device at once
/// (if any), then the service's answer when it comes (and saved for next
/// time). `data` changes only when the answer differs from what is shown.
pub struct Swr<T: Send + Sync + 'static> {
    pub data: RwSignal<Option<Result<T, ApiError>>>,
    pub source: RwSignal<Source>,
    /// The path and a hash of the answer on screen.
    shown: StoredValue<(String, u64)>,
    /// Bumped by each read; an answer to an older read is dropped, so a
    /// slow answer cannot replace a newer one.
    generation: StoredValue<u64>,
}

impl<T: Send + Sync + 'static> Clone for Swr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Send + Sync + 'static> Copy for Swr<T> {}

/// Reads `path()` stale-while-revalidate; reads again whenever a signal
/// `path` reads changes.
pub fn swr<T: DeserializeOwned + Send + Sync + 'static>(
    path: impl Fn() -> String + 'static,
) -> Swr<T> {
    swr_first(path, None)
}

/// A first part of an answer to ask for before the whole: the query
/// (`limit=100`), and whether a part is the whole already.
pub type First<T> = (&'static str, fn(&T) -> bool);

/// `swr`, and when this device has no copy to show at once, `first`'s
/// part of the answer asked for before the whole: shown until the whole
/// comes, and never saved, unless it is the whole already, which then
/// stands as the answer.
pub fn swr_first<T: DeserializeOwned + Send + Sync + 'static>(
    path: impl Fn() -> String + 'static,
    first: Option<First<T>>,
) -> Swr<T> {
    let out = Swr {
        data: RwSignal::new(None),
        source: RwSignal::new(Source::Live),
        shown: StoredValue::new((String::new(), 0)),
        generation: StoredValue::new(0),
    };
    let again = SIGNALS.with(|x| x.retry.clone());
    Effect::new(move |_| {
        again.track();
        let path = path();
        // The page may be left while this runs: every access below is a
        // `try_`, which does nothing once the signals are gone.
        out.generation.update_value(|g| *g += 1);
        let mine = out.generation.get_value();
        let current = move || out.generation.try_get_value() == Some(mine);
        leptos::task::spawn_local(async move {
            let key = cache::response_key(&path);
            let Some(new_path) = out.shown.try_with_value(|(p, _)| *p != path) else { return };
            if new_path {
                if let Ok(Some(text)) = cache::get_response(&key).await {
                    if let Ok(value) = parse::<T>(&text) {
                        out.data.try_set(Some(Ok(value)));
                        out.source.try_set(Source::Saved);
                        out.shown.try_set_value((path.clone(), hash_str(&text)));
                    }
                }
            }
            // Nothing on screen yet: the first part first (asked for
            // before the whole, not beside it: a service answering one
            // request at a time would make it wait behind the whole).
            let nothing_shown = out.shown.try_with_value(|(p, _)| *p != path) == Some(true);
            if let Some((query, whole)) = first.filter(|_| nothing_shown) {
                let sep = if path.contains('?') { '&' } else { '?' };
                if let Ok(text) = send(Method::GET, &format!("{path}{sep}{query}"), None).await {
                    if !current() {
                        return;
                    }
                    if let Ok(value) = parse::<T>(&text) {
                        let complete = whole(&value);
                        out.data.try_set(Some(Ok(value)));
                        out.shown.try_set_value((path.clone(), hash_str(&text)));
                        if complete {
                            out.source.try_set(Source::Live);
                            if let Err(err) = cache::put_response(&key, &text).await {
                                leptos::logging::warn!("{err}");
                            }
                            return;
                        }
                    }
                }
            }
            let answer = send(Method::GET, &path, None).await;
            if !current() {
                return;
            }
            match answer {
                Ok(text) => {
                    let hash = hash_str(&text);
                    if out.shown.try_with_value(|shown| *shown != (path.clone(), hash))
                        == Some(true)
                    {
                        out.data.try_set(Some(parse(&text)));
                        out.shown.try_set_value((path.clone(), hash));
                    }
                    out.source.try_set(Source::Live);
                    if let Err(err) = cache::put_response(&key, &text).await {
                        leptos::logging::warn!("{err}");
                    }
                }
                // Something is on screen already: keep it, marked as the
                // saved copy, rather than trade it for an error page.
                Err(err) if out.shown.try_with_value(|(p, _)| *p == path) == Some(true) => {
                    if !err.is_network() {
                        leptos::logging::warn!("refreshing {path} failed: {err}");
                    }
                    out.source.try_set(Source::Cache);
                }
                Err(err) => {
                    out.data.try_set(Some(Err(err)));
                    out.shown.try_set_value((String::new(), 0));
                }
            }
        });
    });
    out
}

pub async fn post<T: DeserializeOwned>(path: &str, body: &impl Serialize) -> Result<T, ApiError> {
    let text = serde_json::to_string(body).map_err(|e| ApiError::Body(e.to_string()))?;
    parse(&send(Method::POST, path, Some(("application/json", &text))).await?)
}

// ---- what the service takes and returns: the contract's types ----

pub use reverie_api::{
    Agent, AgentList, AuditPage, ChangeView, Compared, Decided, DryRun, EntryPage, ErrorBody,
    ErrorDetails, Imported, Me, NewImport, NewSession, Outcomes, PartialAccept, Pass, PassList,
    PassMark, PassStatus, Proposal, ProposalBrief, ProposalList, RevertRequest, Reverted,
    RollbackRequest, RolledBack, SessionExcerpt, SessionWritten, Store, StoreExport, Verified,
    Version, VersionDiff, VersionList,
};

// ---- the calls ----

/// Who the token belongs to; saved, so a reload offline still knows.
pub async fn me() -> Result<(Me, Source), ApiError> {
    get_cached("/api/v1/me").await
}

pub fn agents() -> Swr<AgentList> {
    swr(|| "/api/v1/agents".to_string())
}

pub fn agent(id: String) -> Swr<Agent> {
    swr(move || format!("/api/v1/agents/{id}"))
}

pub async fn save_config(agent: &str, config: &Value) -> Result<(), ApiError> {
    let text = config.to_string();
    send(Method::PUT, &format!("/api/v1/agents/{agent}/config"), Some(("application/json", &text)))
        .await
        .map(drop)
}

/// Runs a pass and answers when it is done.
pub async fn run_pass(agent: &str) -> Result<Pass, ApiError> {
    post(&format!("/api/v1/agents/{agent}/passes?wait=true"), &serde_json::json!({})).await
}

/// What a pass would do now, without running it (see `DryRun`).
pub async fn dry_run(agent: &str) -> Result<DryRun, ApiError> {
    post(&format!("/api/v1/agents/{agent}/passes?dry_run=true"), &serde_json::json!({})).await
}

/// The agent's newest pass, to follow one that is running.
pub async fn latest_pass(agent: &str) -> Result<PassList, ApiError> {
    get(&format!("/api/v1/passes?agent_id={agent}&limit=1")).await
}

pub fn passes(agent: impl Fn() -> String + 'static) -> Swr<PassList> {
    swr(move || format!("/api/v1/passes?agent_id={}&limit=20", agent()))
}

pub fn proposals(agent: impl Fn() -> String + 'static) -> Swr<ProposalList> {
    swr(move || format!("/api/v1/proposals?agent_id={}", agent()))
}

/// A proposal; on a first visit, its first hundred changes are shown
/// while the rest come (a proposal of thousands takes the service a while
/// to send), and one of a hundred or fewer is read once.
pub fn proposal(id: impl Fn() -> String + 'static) -> Swr<Proposal> {
    let whole = |p: &Proposal| p.changes.len() >= p.brief.change_count as usize;
    swr_first(move || format!("/api/v1/proposals/{}", id()), Some(("limit=100", whole)))
}

/// Decides on a proposal: decisions by change id, and what the rest get.
pub async fn decide(proposal: &str, body: &PartialAccept) -> Result<Decided, ApiError> {
    post(&format!("/api/v1/proposals/{proposal}/partial_accept"), body).await
}

pub async fn session_excerpt(
    agent: &str,
    session: &str,
    around: u32,
) -> Result<(SessionExcerpt, Source), ApiError> {
    get_cached(&format!("/api/v1/agents/{agent}/sessions/{session}?around={around}&context=3"))
        .await
}

pub fn versions(store: impl Fn() -> String + 'static) -> Swr<VersionList> {
    swr(move || format!("/api/v1/stores/{}/versions?limit=100", store()))
}

pub fn version_diff(store: String, version: i64) -> Swr<VersionDiff> {
    swr(move || format!("/api/v1/stores/{store}/versions/{version}?diff=previous"))
}

/// What rolling back to `version` would change in the store now.
pub async fn rollback_preview(store: &str, version: i64) -> Result<VersionDiff, ApiError> {
    get(&format!("/api/v1/stores/{store}/versions/{version}?diff=current")).await
}

pub async fn audit(store: &str, before: Option<u64>) -> Result<(AuditPage, Source), ApiError> {
    let cursor = before.map(|b| format!("&before={b}")).unwrap_or_default();
    get_cached(&format!("/api/v1/stores/{store}/audit?order=desc&limit=50{cursor}")).await
}

pub async fn verify(store: &str) -> Result<Verified, ApiError> {
    get(&format!("/api/v1/stores/{store}/audit/verify")).await
}

/// The store as it is now (its version, its entries counted), read from
/// the service, never a saved copy.
pub async fn store(store: &str) -> Result<Store, ApiError> {
    get(&format!("/api/v1/stores/{store}")).await
}

/// Undoes one applied change of a proposal, for `reason`, decided on the
/// store at `seen` (a store that moved since is a 409).
pub async fn revert_change(
    proposal: &str,
    change: &str,
    seen: i64,
    reason: &str,
) -> Result<Reverted, ApiError> {
    post(
        &format!("/api/v1/proposals/{proposal}/changes/{change}/revert"),
        &RevertRequest { reason: reason.to_string(), expected_version: Some(seen) },
    )
    .await
}

/// Rolls back to `version`, decided on the store at `seen` when the
/// screen knows it (a store that moved since is a 409, never a silent
/// undo).
pub async fn rollback(
    store: &str,
    version: i64,
    seen: Option<i64>,
    reason: &str,
) -> Result<RolledBack, ApiError> {
    post(
        &format!("/api/v1/stores/{store}/rollback"),
        &RollbackRequest { version, expected_version: seen, reason: Some(reason.to_string()) },
    )
    .await
}

pub fn outcomes(agent: String, since: i64) -> Swr<Outcomes> {
    swr(move || format!("/api/v1/agents/{agent}/outcomes?since={since}"))
}

pub async fn compare(agent: &str, baseline: &str, candidate: &str) -> Result<Compared, ApiError> {
    get(&format!(
        "/api/v1/agents/{agent}/outcomes/compare?baseline={baseline}&candidate={candidate}"
    ))
    .await
}

/// Pushes memory files into the agent's store.
/// Sends a transcript as a session of `agent`.
pub async fn send_session(agent: &str, body: &NewSession) -> Result<SessionWritten, ApiError> {
    post(&format!("/api/v1/agents/{agent}/sessions"), body).await
}

pub async fn import(agent: &str, body: &NewImport) -> Result<Imported, ApiError> {
    post(&format!("/api/v1/agents/{agent}/imports"), body).await
}

/// The files of the store's latest import as `version` (the current one
/// when `None`) has them. Not saved on this device: a stale export would
/// be downloaded as if it were current.
pub async fn export(store: &str, version: Option<i64>) -> Result<StoreExport, ApiError> {
    let version = version.map(|v| format!("?version={v}")).unwrap_or_default();
    get(&format!("/api/v1/stores/{store}/export{version}")).await
}

/// Every file of the store's last import as `version` has them, as a tar
/// archive. Its bytes read as text: its headers are ASCII and NUL, and the
/// service keeps only UTF-8 files.
pub async fn export_tar(store: &str, version: i64) -> Result<String, ApiError> {
    send(Method::GET, &format!("/api/v1/stores/{store}/export?archive=tar&version={version}"), None)
        .await
}
