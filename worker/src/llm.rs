//! Calls to the model: reading the sessions for memories, judging the
//! groups the rules could not settle, wording consolidations and promoted
//! preferences, and turning recurring mistakes into instructions. The core builds every request
//! body and checks every answer; this module only
//! sends, with a timeout per call, retries with backoff on 429 and 5xx, and
//! a per-pass token budget that is never exceeded. Any failure falls back
//! to the rules-only proposal, with the reason recorded on the pass.

use futures_util::future::{select, Either};
use reverie_core::llm::learn;
use reverie_core::llm::rewrite::{self, Refusal, Wording};
use reverie_core::llm::{
    build_request, check_answer, incorporate, max_output, parse_response, parse_tool_response,
    request_body, Checked, Provider, ToolCall,
};
use reverie_core::pass::UnsettledGroup;
use reverie_core::LlmStage;
use reverie_core::TokenCost;
use reverie_core::{MemoryStore, Proposal};
use serde::Serialize;
use worker::{AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit};

/// How the service reaches a model, from the environment: `LLM_API_KEY`
/// (a secret; none means rules-only passes), `LLM_PROVIDER` (`anthropic`,
/// the default, or `openai` for any OpenAI-compatible endpoint),
/// `LLM_BASE_URL`, `LLM_MODEL`, `LLM_TIMEOUT_MS`, `LLM_MAX_RETRIES`,
/// `LLM_TOKEN_BUDGET`, `LLM_MAX_TOKENS`, `LLM_GROUPS_PER_CALL` and the
/// prices `LLM_USD_PER_MTOK_IN` / `LLM_USD_PER_MTOK_OUT`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Settings {
    pub provider: Provider,
    pub base_url: String,
    pub model: String,
    #[serde(skip)]
    pub api_key: String,
    pub timeout_ms: u64,
    pub max_retries: u32,
    /// Input plus output tokens one pass may spend, at most.
    pub token_budget: u64,
    pub max_tokens: u32,
    pub groups_per_call: usize,
    pub usd_per_mtok_in: f64,
    pub usd_per_mtok_out: f64,
}

/// The default model: a current Sonnet.
const ANTHROPIC_MODEL: &str = "claude-sonnet-4-6";
/// Anthropic's published Sonnet 4.6 prices, US dollars per million tokens.
const SONNET_USD_IN: f64 = 3.0;
const SONNET_USD_OUT: f64 = 15.0;
const ANTHROPIC_VERSION: &str = "2023-06-01";

fn var(env: &Env, name: &str) -> Option<String> {
    let value =
        env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string()));
    value.ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(env: &Env, name: &str, default: T) -> Result<T, String> {
    match var(env, name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| format!("{name}=`{v}` is not a number")),
    }
}

/// The settings, `Ok(None)` when no key is configured (rules-only), or an
/// error naming the bad variable.
pub(crate) fn settings(env: &Env) -> Result<Option<Settings>, String> {
    let Some(api_key) = var(env, "LLM_API_KEY").or_else(|| var(env, "ANTHROPIC_API_KEY")) else {
        return Ok(None);
    };
    let provider = match var(env, "LLM_PROVIDER").as_deref() {
        None | Some("anthropic") => Provider::Anthropic,
        Some("openai") => Provider::OpenAi,
        Some(other) => return Err(format!("LLM_PROVIDER=`{other}`: expected anthropic or openai")),
    };
    let (default_url, default_model) = match provider {
        Provider::Anthropic => ("https://api.anthropic.com", Some(ANTHROPIC_MODEL)),
        Provider::OpenAi => ("https://api.openai.com", None),
    };
    let model = var(env, "LLM_MODEL")
        .or(default_model.map(str::to_string))
        .ok_or("LLM_MODEL must name the model of an OpenAI-compatible endpoint")?;
    Ok(Some(Settings {
        provider,
        base_url: var(env, "LLM_BASE_URL")
            .unwrap_or_else(|| default_url.to_string())
            .trim_end_matches('/')
            .to_string(),
        model,
        api_key,
        timeout_ms: number(env, "LLM_TIMEOUT_MS", 60_000)?,
        max_retries: number(env, "LLM_MAX_RETRIES", 3)?,
        token_budget: number(env, "LLM_TOKEN_BUDGET", 200_000)?,
        max_tokens: number(env, "LLM_MAX_TOKENS", 4096)?,
        groups_per_call: number(env, "LLM_GROUPS_PER_CALL", 20)?.max(1),
        usd_per_mtok_in: number(env, "LLM_USD_PER_MTOK_IN", SONNET_USD_IN)?,
        usd_per_mtok_out: number(env, "LLM_USD_PER_MTOK_OUT", SONNET_USD_OUT)?,
    }))
}

/// What the model calls of one pass did, for the pass record.
pub(crate) type Report = reverie_api::LlmReport;

/// Sends the unsettled groups in batches and folds the checked answers
/// into `proposal`.
pub(crate) async fn settle(
    settings: &Settings,
    store: &MemoryStore,
    groups: &[UnsettledGroup],
    proposal: &mut Proposal,
    report: &mut Report,
) {
    let mark = Mark::of(report);
    let mut next = 0;
    while next < groups.len() {
        let request = build_request(store, &groups[next..], settings.groups_per_call);
        let batch = settings.groups_per_call.min(groups.len() - next);
        next += batch;
        if request.groups.is_empty() {
            continue;
        }
        let max = max_output(LlmStage::Judge, request.groups.len(), settings.max_tokens);
        let body = request_body(&request, settings.provider, &settings.model, max).to_string();
        let text = match within_budget(settings, &body, max, report).await {
            Sent::Answered(text) => text,
            // Over budget, or the endpoint is down or refusing (later
            // batches would fail the same way): this batch and the rest
            // stay with the rules.
            Sent::OverBudget | Sent::Failed => {
                next -= batch;
                break;
            }
        };
        report.groups_sent += request.groups.len();
        let (answer, usage) = parse_response(settings.provider, &text);
        report.input_tokens += usage.input_tokens;
        report.output_tokens += usage.output_tokens;
        let before = proposal.changes.len();
        let checked = match answer {
            Ok(input) => check_answer(&input, &request, store),
            Err(e) => {
                report.failures.push(e.to_string());
                Checked { changes: Vec::new(), dropped: request.groups.len() as u32 }
            }
        };
        report.dropped += checked.dropped;
        incorporate(proposal, store, checked, usage, &settings.model);
        report.changes_added += proposal.changes.len() - before;
    }
    report.groups_left = groups.len().saturating_sub(next);
    mark.record(settings, report, LlmStage::Judge);
}

/// The learn stage, first and within the pass's budget: the excerpts the
/// rules pick from `sessions` go to the model a call's worth at a time;
/// the memories it proposes that pass the core's checks join `proposal`
/// as `add` changes (see `llm::learn`).
pub(crate) async fn learn(
    settings: &Settings,
    store: &MemoryStore,
    sessions: &[reverie_core::Session],
    proposal: &mut Proposal,
    report: &mut Report,
) {
    let mut seen = learn::Seen::of(store, proposal);
    let (excerpts, selection) = learn::select(sessions, &seen);
    let mut stage = reverie_api::LearnReport { selection, ..Default::default() };
    let mark = Mark::of(report);
    let chunks = learn::chunks(&excerpts);
    let touching = learn::Touching::new(store, &excerpts);
    for (n, chunk) in chunks.iter().enumerate() {
        let request = learn::build_request(chunk, &touching);
        let Some((answer, usage)) =
            call_stage(settings, &request, LlmStage::Learn, chunk.len(), proposal, report).await
        else {
            stage.left = chunks[n..].iter().map(|c| c.len()).sum();
            break;
        };
        stage.sent += chunk.len();
        let checked = match answer {
            Ok(input) => learn::check_answer(&input, &request, &mut seen, proposal.created_at),
            Err(e) => {
                report.failures.push(e.to_string());
                learn::Checked::default()
            }
        };
        for (why, n) in &checked.dropped {
            let why = serde_json::to_value(why).ok().and_then(|v| v.as_str().map(str::to_string));
            *stage.dropped.entry(why.unwrap_or_default()).or_default() += n;
        }
        stage.taken += checked.changes.len();
        report.changes_added += checked.changes.len();
        learn::incorporate(proposal, store, sessions, checked, &settings.model, usage);
    }
    (stage.input_tokens, stage.output_tokens) = mark.record(settings, report, LlmStage::Learn);
    report.learn = Some(stage);
}

/// The rewrite stage (`Wording::Concise`: consolidations and promoted
/// preferences) or the synthesize stage (`Wording::Instruction`: recurring
/// corrections and tool failures as instructions to the agent), after
/// judging and within what is left of the same budget, a few a call: the
/// model's wording is taken where it passes the core's checks (see
/// `llm::rewrite`).
pub(crate) async fn reword(
    settings: &Settings,
    store: &MemoryStore,
    proposal: &mut Proposal,
    report: &mut Report,
    wording: Wording,
) {
    let items = rewrite::candidates(proposal, store, wording);
    let mut held = rewrite::held(store, proposal, &items);
    let mut stage = reverie_api::RewriteReport::default();
    let mark = Mark::of(report);
    for (n, chunk) in items.chunks(settings.groups_per_call.max(1)).enumerate() {
        let request = rewrite::build_request(chunk, wording);
        let Some((answer, usage)) =
            call_stage(settings, &request, wording.stage(), chunk.len(), proposal, report).await
        else {
            stage.left = items.len() - n * settings.groups_per_call.max(1);
            break;
        };
        stage.sent += chunk.len();
        let checked = match answer {
            Ok(input) => rewrite::check_answer(&input, &request, &mut held),
            Err(e) => {
                report.failures.push(e.to_string());
                rewrite::Checked {
                    taken: Vec::new(),
                    refused: chunk.iter().map(|i| (i.change.clone(), Refusal::Malformed)).collect(),
                }
            }
        };
        stage.taken += checked.taken.len();
        for (_, why) in &checked.refused {
            let why = serde_json::to_value(why).ok().and_then(|v| v.as_str().map(str::to_string));
            *stage.kept_rules_wording.entry(why.unwrap_or_default()).or_default() += 1;
        }
        rewrite::apply(proposal, store, &checked, &settings.model, wording, usage);
    }
    (stage.input_tokens, stage.output_tokens) = mark.record(settings, report, wording.stage());
    match wording {
        Wording::Concise => report.rewrite = Some(stage),
        Wording::Instruction => report.synthesize = Some(stage),
    }
}

/// One call of a stage carrying `items`: sent within the budget (its
/// output limited to what it carries), its tokens counted on the pass and
/// the proposal; the tool input, or why the answer is unusable. `None`
/// when it was not sent or got no answer: the stage stops there.
async fn call_stage(
    settings: &Settings,
    request: &impl ToolCall,
    stage: LlmStage,
    items: usize,
    proposal: &mut Proposal,
    report: &mut Report,
) -> Option<(Result<serde_json::Value, reverie_core::llm::AnswerError>, TokenCost)> {
    let max = max_output(stage, items, settings.max_tokens);
    let body = request_body(request, settings.provider, &settings.model, max).to_string();
    let Sent::Answered(text) = within_budget(settings, &body, max, report).await else {
        return None;
    };
    let (answer, usage) = parse_tool_response(settings.provider, request.tool().0, &text);
    report.input_tokens += usage.input_tokens;
    report.output_tokens += usage.output_tokens;
    proposal.token_cost.input_tokens += usage.input_tokens;
    proposal.token_cost.output_tokens += usage.output_tokens;
    Some((answer, usage))
}

/// Whether any stage had something for the model: excerpts picked, groups
/// open, or changes to word (sent or left for want of budget).
pub(crate) fn found_work(report: &Report) -> bool {
    let worded =
        |r: &Option<reverie_api::RewriteReport>| r.as_ref().is_some_and(|r| r.sent + r.left > 0);
    report.learn.as_ref().is_some_and(|l| l.selection.picked > 0)
        || report.groups_sent + report.groups_left > 0
        || worded(&report.rewrite)
        || worded(&report.synthesize)
}

/// Where the report stood when a stage began, to record what it spent.
#[derive(Clone, Copy)]
struct Mark {
    calls: u32,
    input_tokens: u64,
    output_tokens: u64,
}

impl Mark {
    fn of(report: &Report) -> Mark {
        Mark {
            calls: report.calls,
            input_tokens: report.input_tokens,
            output_tokens: report.output_tokens,
        }
    }

    /// Records what `stage` spent since the mark (when it made a call),
    /// and the pass's cost so far; returns the stage's tokens in and out.
    fn record(self, settings: &Settings, report: &mut Report, stage: LlmStage) -> (u64, u64) {
        let tokens = TokenCost {
            input_tokens: report.input_tokens - self.input_tokens,
            output_tokens: report.output_tokens - self.output_tokens,
        };
        let calls = report.calls - self.calls;
        if calls > 0 {
            let name = serde_json::to_value(stage)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            report.stages.insert(
                name,
                reverie_api::StageCost {
                    calls,
                    input_tokens: tokens.input_tokens,
                    output_tokens: tokens.output_tokens,
                    cost_usd: cost(settings, tokens),
                },
            );
        }
        report.cost_usd = cost(
            settings,
            TokenCost { input_tokens: report.input_tokens, output_tokens: report.output_tokens },
        );
        (tokens.input_tokens, tokens.output_tokens)
    }
}

/// What came of one call sent within the budget.
enum Sent {
    /// The answer's body.
    Answered(String),
    /// Not sent: the budget could not cover it (`budget_exhausted`).
    OverBudget,
    /// Sent, with no answer (the reason is in `failures`).
    Failed,
}

/// Sends `body` if the pass's budget still covers it: a conservative bound
/// on what one attempt may cost (its input at two bytes a token; prose
/// runs nearer four, ids, JSON and other scripts denser; plus every output
/// token the call allows, `max_tokens`), for each attempt it may take,
/// since attempts that time out or fail may still be billed.
async fn within_budget(
    settings: &Settings,
    body: &str,
    max_tokens: u32,
    report: &mut Report,
) -> Sent {
    let estimate = body.len() as u64 / 2 + u64::from(max_tokens);
    let attempts = 1 + u64::from(settings.max_retries);
    if report.input_tokens + report.output_tokens + report.unanswered_tokens + estimate * attempts
        > settings.token_budget
    {
        report.budget_exhausted = true;
        return Sent::OverBudget;
    }
    report.calls += 1;
    let retries_before = report.retries;
    let sent = send(settings, body, &mut report.retries).await;
    let retried = u64::from(report.retries - retries_before);
    match sent {
        Ok(text) => {
            report.unanswered_tokens += estimate * retried;
            Sent::Answered(text)
        }
        Err(reason) => {
            report.unanswered_tokens += estimate * (retried + 1);
            report.failures.push(reason);
            Sent::Failed
        }
    }
}

/// The model calls a pass would make (see `llm::plan`), priced: input
/// estimated at four bytes a token, output at the most each call may take;
/// and whether the budget covers them as a pass counts it.
pub(crate) fn planned(
    settings: &Settings,
    store: &MemoryStore,
    sessions: &[reverie_core::Session],
    groups: &[UnsettledGroup],
    proposal: &Proposal,
) -> reverie_api::PlannedLlm {
    let plans = reverie_core::llm::plan(
        store,
        sessions,
        groups,
        proposal,
        settings.provider,
        &settings.model,
        settings.max_tokens,
        settings.groups_per_call,
    );
    let mut counted = 0;
    let stages: Vec<reverie_api::PlannedStage> = plans
        .iter()
        .map(|p| {
            let output = p.max_output_tokens;
            let input = (p.request_bytes as u64).div_ceil(4);
            counted += p.request_bytes as u64 / 2 + output;
            reverie_api::PlannedStage {
                stage: p.stage,
                calls: p.calls,
                items: p.items,
                input_tokens: input,
                max_output_tokens: output,
                usd_estimate: cost(
                    settings,
                    TokenCost { input_tokens: input, output_tokens: output },
                ),
            }
        })
        .collect();
    let input_tokens = stages.iter().map(|s| s.input_tokens).sum();
    let max_output_tokens = stages.iter().map(|s| s.max_output_tokens).sum();
    reverie_api::PlannedLlm {
        mode: reverie_api::LlmMode::Llm,
        reason: None,
        provider: Some(settings.provider),
        model: Some(settings.model.clone()),
        usd_estimate: stages.iter().map(|s| s.usd_estimate).sum(),
        stages,
        input_tokens,
        max_output_tokens,
        token_budget: settings.token_budget,
        within_budget: counted <= settings.token_budget,
    }
}

pub(crate) fn cost(settings: &Settings, tokens: TokenCost) -> f64 {
    (tokens.input_tokens as f64 * settings.usd_per_mtok_in
        + tokens.output_tokens as f64 * settings.usd_per_mtok_out)
        / 1_000_000.0
}

enum Attempt {
    Done(String),
    /// Worth trying again, after at least this many milliseconds.
    Retry(String, u64),
    Fail(String),
}

/// One call with retries: 429 waits for `retry-after` (at most 30 s),
/// 5xx, timeouts and network errors back off 0.5 s, 1 s, 2 s, … (at most
/// 8 s); other statuses fail at once.
async fn send(settings: &Settings, body: &str, retries: &mut u32) -> Result<String, String> {
    let mut attempt = 0;
    loop {
        match once(settings, body).await {
            Attempt::Done(text) => return Ok(text),
            Attempt::Fail(reason) => return Err(reason),
            Attempt::Retry(reason, wait_ms) => {
                if attempt >= settings.max_retries {
                    return Err(format!("{reason} (gave up after {} attempts)", attempt + 1));
                }
                let backoff = 500u64.saturating_mul(1 << attempt.min(4)).min(8_000);
                Delay::from(std::time::Duration::from_millis(wait_ms.max(backoff))).await;
                attempt += 1;
                *retries += 1;
            }
        }
    }
}

async fn once(settings: &Settings, body: &str) -> Attempt {
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    let prepared = (|| {
        set("content-type", "application/json")?;
        let url = match settings.provider {
            Provider::Anthropic => {
                set("x-api-key", &settings.api_key)?;
                set("anthropic-version", ANTHROPIC_VERSION)?;
                format!("{}/v1/messages", settings.base_url)
            }
            Provider::OpenAi => {
                set("authorization", &format!("Bearer {}", settings.api_key))?;
                format!("{}/v1/chat/completions", settings.base_url)
            }
        };
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers.clone()).with_body(Some(body.into()));
        Request::new_with_init(&url, &init).map_err(|e| e.to_string())
    })();
    let request = match prepared {
        Ok(r) => r,
        Err(e) => return Attempt::Fail(format!("cannot build the model request: {e}")),
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let call = Box::pin(async move {
        let mut resp = Fetch::Request(request).send_with_signal(&signal).await?;
        let status = resp.status_code();
        let retry_after = resp.headers().get("retry-after").ok().flatten();
        let text = resp.text().await?;
        Ok::<_, worker::Error>((status, retry_after, text))
    });
    let timeout = Box::pin(Delay::from(std::time::Duration::from_millis(settings.timeout_ms)));
    match select(call, timeout).await {
        Either::Right(((), _)) => {
            controller.abort();
            Attempt::Retry(format!("no answer within {} ms", settings.timeout_ms), 0)
        }
        Either::Left((Err(e), _)) => Attempt::Retry(format!("network error: {e}"), 0),
        Either::Left((Ok((status, retry_after, text)), _)) => match status {
            200..=299 => Attempt::Done(text),
            429 => {
                let wait = retry_after
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .map_or(0, |s| (s * 1000.0) as u64);
                Attempt::Retry(
                    format!("rate limited (429): {}", error_message(&text)),
                    wait.min(30_000),
                )
            }
            500..=599 => {
                Attempt::Retry(format!("server error ({status}): {}", error_message(&text)), 0)
            }
            _ => Attempt::Fail(format!("refused ({status}): {}", error_message(&text))),
        },
    }
}

/// The message of a provider's error body, or the start of the body.
fn error_message(text: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(text).ok();
    parsed
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| crate::http::clip(text, 200).to_string())
}
