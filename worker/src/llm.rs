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
    cache, check_answer, incorporate, judge_requests, max_output, parse_tool_response,
    request_body, AnswerError, Checked, Dropped, Prices, Provider, ToolCall,
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
/// `LLM_TOKEN_BUDGET`, `LLM_MAX_TOKENS`, `LLM_GROUPS_PER_CALL`, the
/// prices `LLM_USD_PER_MTOK_IN` / `LLM_USD_PER_MTOK_OUT` (cache writes and
/// reads `LLM_USD_PER_MTOK_CACHE_WRITE` / `LLM_USD_PER_MTOK_CACHE_READ`,
/// by default 1.25 and 0.1 times input for Anthropic, 1 and 0.5 for
/// OpenAI-compatible endpoints), and for scheduled passes on
/// Anthropic `LLM_BATCH` (`scheduled`, the default, sends their calls as
/// Message Batches; `never`), `LLM_BATCH_DEADLINE_MS` (how long a pass
/// waits for its batches in all: a batch still open then is canceled, and
/// its calls and those of later stages are made directly; 10 minutes) and
/// `LLM_BATCH_POLL_MS` (10 s).
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
    pub prices: Prices,
    /// Whether scheduled passes may send their calls as Message Batches
    /// (waiting for them `batch_deadline_ms` at most in all).
    pub batch_scheduled: bool,
    pub batch_deadline_ms: u64,
    pub batch_poll_ms: u64,
    /// Whether this pass sends its calls as batches (see `for_pass`).
    pub batches: bool,
}

impl Settings {
    /// The settings for a pass: a scheduled pass on Anthropic sends its
    /// calls as Message Batches (half the price; it waits, and nobody is
    /// waiting on it) unless `LLM_BATCH=never`.
    pub(crate) fn for_pass(mut self, scheduled: bool) -> Settings {
        self.batches = scheduled && self.batch_scheduled && self.provider == Provider::Anthropic;
        self
    }
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
    let usd_in = number(env, "LLM_USD_PER_MTOK_IN", SONNET_USD_IN)?;
    let mut ratios =
        Prices::with_cache_ratios(usd_in, number(env, "LLM_USD_PER_MTOK_OUT", SONNET_USD_OUT)?);
    if provider == Provider::OpenAi {
        // OpenAI caches by itself, writes at no extra cost, and reads at
        // a discount that differs by model: half, the smallest it
        // publishes, unless configured.
        ratios.cache_write = usd_in;
        ratios.cache_read = usd_in * 0.5;
    }
    let batch_scheduled = match var(env, "LLM_BATCH").as_deref() {
        None | Some("scheduled") => true,
        Some("never") => false,
        Some(other) => return Err(format!("LLM_BATCH=`{other}`: expected scheduled or never")),
    };
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
        prices: Prices {
            cache_write: number(env, "LLM_USD_PER_MTOK_CACHE_WRITE", ratios.cache_write)?,
            cache_read: number(env, "LLM_USD_PER_MTOK_CACHE_READ", ratios.cache_read)?,
            ..ratios
        },
        batch_scheduled,
        batch_deadline_ms: number(env, "LLM_BATCH_DEADLINE_MS", 600_000)?,
        batch_poll_ms: number(env, "LLM_BATCH_POLL_MS", 10_000)?.max(1),
        batches: false,
    }))
}

/// What the model calls of one pass did, for the pass record.
pub(crate) type Report = reverie_api::LlmReport;

/// Sends the unsettled groups a call's worth at a time and folds the
/// checked answers into `proposal`.
pub(crate) async fn settle(
    settings: &Settings,
    store: &MemoryStore,
    groups: &[UnsettledGroup],
    proposal: &mut Proposal,
    report: &mut Report,
) {
    let mark = Mark::of(report);
    let requests = judge_requests(store, groups, settings.groups_per_call);
    let sizes: Vec<usize> = requests.iter().map(|r| r.groups.len()).collect();
    let replies = send_stage(settings, &requests, LlmStage::Judge, &sizes, report).await;
    for (request, reply) in requests.iter().zip(replies) {
        let Some(reply) = reply else {
            report.groups_left += request.groups.len();
            continue;
        };
        report.groups_sent += request.groups.len();
        let (answer, usage) = take(settings, request, &reply, proposal, report, false);
        let before = proposal.changes.len();
        let checked = match answer {
            Ok(input) => check_answer(&input, request, store),
            Err(e) => {
                report.failures.push(e.to_string());
                Checked::none(Dropped::Unanswered, request.groups.len() as u32)
            }
        };
        report.dropped += checked.dropped();
        for (why, n) in &checked.why {
            *report.dropped_why.entry(word(why)).or_default() += n;
        }
        incorporate(proposal, store, checked, usage, &settings.model);
        report.changes_added += proposal.changes.len() - before;
    }
    mark.record(report, LlmStage::Judge);
}

/// The learn stage, first and within the pass's budget: the excerpts the
/// rules pick from `sessions` go to the model a call's worth at a time,
/// each call carrying the memory the stage's excerpts touch; the memories
/// it proposes that pass the core's checks join `proposal` as `add`
/// changes (see `llm::learn`). What `open` proposals would add counts as
/// held.
pub(crate) async fn learn(
    settings: &Settings,
    store: &MemoryStore,
    sessions: &[reverie_core::Session],
    open: &[reverie_core::Change],
    proposal: &mut Proposal,
    report: &mut Report,
) {
    let mut seen = learn::Seen::of(store, proposal.changes.iter().chain(open));
    let (excerpts, selection) = learn::select(sessions, &seen);
    let mut stage = reverie_api::LearnReport { selection, ..Default::default() };
    let mark = Mark::of(report);
    let chunks = learn::chunks(&excerpts);
    let touching = learn::Touching::new(store, &excerpts);
    let shared = learn::shared_memory(&touching, &chunks);
    let mut requests: Vec<_> = chunks.iter().map(|c| learn::build_request(c, &shared)).collect();
    // A call cut off at its output limit is sent again once, in halves.
    for round in 0..2 {
        let sizes: Vec<usize> = requests.iter().map(|r| r.excerpts.len()).collect();
        let replies = send_stage(settings, &requests, LlmStage::Learn, &sizes, report).await;
        let mut cut = Vec::new();
        for (request, reply) in requests.iter().zip(replies) {
            let Some(reply) = reply else {
                stage.left += request.excerpts.len();
                continue;
            };
            let (answer, usage) = take(settings, request, &reply, proposal, report, true);
            let checked = match answer {
                Ok(input) => learn::check_answer(&input, request, &mut seen, proposal.created_at),
                Err(AnswerError::Truncated) if round == 0 && request.excerpts.len() > 1 => {
                    let (a, b) = request.excerpts.split_at(request.excerpts.len() / 2);
                    cut.extend([a, b].map(|half| learn::build_request(half, &shared)));
                    stage.split += 1;
                    continue;
                }
                Err(e) => {
                    report.failures.push(e.to_string());
                    learn::Checked::default()
                }
            };
            stage.sent += request.excerpts.len();
            for (why, n) in &checked.dropped {
                *stage.dropped.entry(word(why)).or_default() += n;
            }
            stage.taken += checked.changes.len();
            report.changes_added += checked.changes.len();
            learn::incorporate(proposal, store, sessions, checked, &settings.model, usage);
        }
        if cut.is_empty() {
            break;
        }
        requests = cut;
    }
    (stage.input_tokens, stage.output_tokens) = mark.record(report, LlmStage::Learn);
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
    let chunks: Vec<_> = items.chunks(settings.groups_per_call.max(1)).collect();
    let requests: Vec<_> = chunks.iter().map(|c| rewrite::build_request(c, wording)).collect();
    let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
    let replies = send_stage(settings, &requests, wording.stage(), &sizes, report).await;
    for ((chunk, request), reply) in chunks.iter().zip(&requests).zip(replies) {
        let Some(reply) = reply else {
            stage.left += chunk.len();
            continue;
        };
        stage.sent += chunk.len();
        let (answer, usage) = take(settings, request, &reply, proposal, report, true);
        let checked = match answer {
            Ok(input) => rewrite::check_answer(&input, request, &mut held),
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
            *stage.kept_rules_wording.entry(word(why)).or_default() += 1;
        }
        rewrite::apply(proposal, store, &checked, &settings.model, wording, usage);
    }
    (stage.input_tokens, stage.output_tokens) = mark.record(report, wording.stage());
    match wording {
        Wording::Concise => report.rewrite = Some(stage),
        Wording::Instruction => report.synthesize = Some(stage),
    }
}

/// An answer to one call: the response body (a message), and whether it
/// came from a batch (billed at half).
struct Reply {
    text: String,
    batched: bool,
}

/// The input of the tool `request` forces (or why the answer is
/// unusable) and the call's usage, counted with its cost on the pass
/// (and, with `on_proposal`, on the proposal: judging counts it there
/// itself).
fn take(
    settings: &Settings,
    request: &impl ToolCall,
    reply: &Reply,
    proposal: &mut Proposal,
    report: &mut Report,
    on_proposal: bool,
) -> (Result<serde_json::Value, AnswerError>, TokenCost) {
    let (answer, usage) = parse_tool_response(settings.provider, request.tool().0, &reply.text);
    report.add_tokens(usage);
    report.cost_usd += settings.prices.usd(usage, reply.batched);
    if on_proposal {
        proposal.token_cost.add(usage);
    }
    (answer, usage)
}

/// A stage's calls as the provider is sent them (each output limited to
/// what the call carries, `sizes`; the shared prefix marked for caching
/// when there are several), sent within the budget: one by one, or as a
/// Message Batch when the pass batches (see `Settings::for_pass`). The
/// answer to each, in order; `None` for a call not sent or not answered.
/// Sent one by one, a stage stops at its first call without an answer
/// (later ones would fail the same way); a batch's unanswered calls are
/// sent one by one.
async fn send_stage(
    settings: &Settings,
    requests: &[impl ToolCall],
    stage: LlmStage,
    sizes: &[usize],
    report: &mut Report,
) -> Vec<Option<Reply>> {
    let cached = cache(settings.provider, requests.len());
    let calls: Vec<(String, u32)> = requests
        .iter()
        .zip(sizes)
        .map(|(r, &n)| {
            let max = max_output(stage, n, settings.max_tokens);
            (request_body(r, settings.provider, &settings.model, max, cached).to_string(), max)
        })
        .collect();
    let mut replies: Vec<Option<Reply>> = calls.iter().map(|_| None).collect();
    let mut direct: Vec<usize> = (0..calls.len()).collect();
    let waited_out = report.batch_wait_ms >= settings.batch_deadline_ms;
    if settings.batches && !calls.is_empty() && waited_out {
        report.failures.push(format!(
            "the pass had waited {} ms for its batches: the {} stage's calls were sent one by one",
            settings.batch_deadline_ms,
            serde_json::to_value(stage)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ));
    }
    if settings.batches && !calls.is_empty() && !waited_out {
        // Reserved as calls made one by one would be, so the budget holds
        // whatever the batch leaves to direct calls.
        let mut fits = 0;
        let mut reserved = 0;
        for (body, max) in &calls {
            let cost = reserve(settings, body, *max);
            if spent(report) + reserved + cost > settings.token_budget {
                report.budget_exhausted = true;
                break;
            }
            reserved += cost;
            fits += 1;
        }
        let bodies: Vec<&str> = calls[..fits].iter().map(|(b, _)| b.as_str()).collect();
        let answered = batch(settings, &bodies, report).await;
        direct.clear();
        for (i, text) in answered.into_iter().enumerate() {
            match text {
                Some(text) => {
                    report.calls += 1;
                    report.batched_calls += 1;
                    replies[i] = Some(Reply { text, batched: true });
                }
                None => direct.push(i),
            }
        }
    }
    for i in direct {
        let (body, max) = &calls[i];
        match within_budget(settings, body, *max, report).await {
            Sent::Answered(text) => replies[i] = Some(Reply { text, batched: false }),
            Sent::OverBudget | Sent::Failed => break,
        }
    }
    replies
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
    batched_calls: u32,
    tokens: TokenCost,
    cost_usd: f64,
}

impl Mark {
    fn of(report: &Report) -> Mark {
        Mark {
            calls: report.calls,
            batched_calls: report.batched_calls,
            tokens: report.tokens(),
            cost_usd: report.cost_usd,
        }
    }

    /// Records what `stage` spent since the mark (when it made a call);
    /// returns the stage's tokens in (afresh and cached) and out.
    fn record(self, report: &mut Report, stage: LlmStage) -> (u64, u64) {
        let tokens = report.tokens().since(self.tokens);
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
                    batched_calls: report.batched_calls - self.batched_calls,
                    input_tokens: tokens.input_tokens,
                    output_tokens: tokens.output_tokens,
                    cache_write_tokens: tokens.cache_write_tokens,
                    cache_read_tokens: tokens.cache_read_tokens,
                    cost_usd: report.cost_usd - self.cost_usd,
                },
            );
        }
        let input = tokens.input_tokens + tokens.cache_write_tokens + tokens.cache_read_tokens;
        (input, tokens.output_tokens)
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

/// A conservative bound on what one attempt of a call may cost: its input
/// at two bytes a token (prose runs nearer four, ids, JSON and other
/// scripts denser) plus every output token it allows, `max_tokens`.
fn estimate(body: &str, max_tokens: u32) -> u64 {
    body.len() as u64 / 2 + u64::from(max_tokens)
}

/// What a call is reserved against the budget: its estimate for each
/// attempt it may take (attempts that time out or fail may still be
/// billed).
fn reserve(settings: &Settings, body: &str, max_tokens: u32) -> u64 {
    estimate(body, max_tokens) * (1 + u64::from(settings.max_retries))
}

/// What the pass has spent or may have been billed, in tokens.
fn spent(report: &Report) -> u64 {
    report.tokens().total() + report.unanswered_tokens
}

/// Sends `body` if the pass's budget still covers it (see `reserve`).
async fn within_budget(
    settings: &Settings,
    body: &str,
    max_tokens: u32,
    report: &mut Report,
) -> Sent {
    if spent(report) + reserve(settings, body, max_tokens) > settings.token_budget {
        report.budget_exhausted = true;
        return Sent::OverBudget;
    }
    report.calls += 1;
    let retries_before = report.retries;
    let sent = send(settings, Method::Post, MESSAGES, Some(body), &mut report.retries).await;
    let retried = u64::from(report.retries - retries_before);
    let estimate = estimate(body, max_tokens);
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

/// Polls batch `id` until it has ended (its last state in `state`), or
/// until the pass has waited `batch_deadline_ms` for its batches in all,
/// when it is canceled; why it did not end, as a failure to record.
async fn wait_for(
    settings: &Settings,
    id: &str,
    state: &mut serde_json::Value,
    report: &mut Report,
) -> Result<(), String> {
    let started = crate::now().0;
    let deadline = settings.batch_deadline_ms.saturating_sub(report.batch_wait_ms);
    while state["processing_status"] != "ended" {
        let waited = u64::try_from(crate::now().0 - started).unwrap_or(0);
        if waited >= deadline {
            // Requests not yet processed are not billed once canceled.
            let cancel = format!("{BATCHES}/{id}/cancel");
            let _ = send(settings, Method::Post, &cancel, Some("{}"), &mut report.retries).await;
            return Err(format!(
                "batch {id} had not ended when the pass had waited {} ms for its batches: \
                 canceled, calls sent one by one",
                settings.batch_deadline_ms
            ));
        }
        let wait = settings.batch_poll_ms.min(deadline - waited);
        Delay::from(std::time::Duration::from_millis(wait)).await;
        let poll = format!("{BATCHES}/{id}");
        let text = send(settings, Method::Get, &poll, None, &mut report.retries)
            .await
            .map_err(|e| format!("batch {id} could not be polled ({e}); calls sent one by one"))?;
        *state = serde_json::from_str(&text).map_err(|_| {
            format!("batch {id} answered its poll unreadably; calls sent one by one")
        })?;
    }
    Ok(())
}

/// Where a call to the model goes (for OpenAI-compatible endpoints, see
/// `once`).
const MESSAGES: &str = "/v1/messages";
const BATCHES: &str = "/v1/messages/batches";

/// Sends `bodies` as one Message Batch and waits for it to end (see
/// `wait_for`): the answer to each (a message), or `None`
/// where the batch gave none (errored, expired, canceled, missing), or
/// for all when the batch could not be made or did not end in time (it is
/// then canceled). Why is recorded in `failures`; those calls go one by
/// one.
async fn batch(settings: &Settings, bodies: &[&str], report: &mut Report) -> Vec<Option<String>> {
    let mut out: Vec<Option<String>> = bodies.iter().map(|_| None).collect();
    if bodies.is_empty() {
        return out;
    }
    let requests: Vec<String> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| format!(r#"{{"custom_id":"c{i}","params":{b}}}"#))
        .collect();
    let body = format!(r#"{{"requests":[{}]}}"#, requests.join(","));
    let retries = &mut report.retries;
    let created = send(settings, Method::Post, BATCHES, Some(&body), retries).await;
    let mut state = match created.map(|t| serde_json::from_str::<serde_json::Value>(&t)) {
        Ok(Ok(v)) if v["id"].is_string() => v,
        Ok(_) => {
            report
                .failures
                .push("no batch was made (unreadable answer); calls sent one by one".into());
            return out;
        }
        Err(e) => {
            report.failures.push(format!("no batch was made ({e}); calls sent one by one"));
            return out;
        }
    };
    report.batches += 1;
    let id = state["id"].as_str().unwrap_or_default().to_string();
    let started = crate::now().0;
    let ended = wait_for(settings, &id, &mut state, report).await;
    report.batch_wait_ms += u64::try_from(crate::now().0 - started).unwrap_or(0);
    if let Err(why) = ended {
        report.failures.push(why);
        return out;
    }
    // Read from the configured endpoint (never a host the answer names).
    let results = match state["results_url"].as_str() {
        Some(_) => {
            let path = format!("{BATCHES}/{id}/results");
            send(settings, Method::Get, &path, None, &mut report.retries).await
        }
        None => Err("the batch named no results".into()),
    };
    let results = match results {
        Ok(text) => text,
        Err(e) => {
            report
                .failures
                .push(format!("batch {id}'s results were not read ({e}); calls sent one by one"));
            return out;
        }
    };
    // Why calls were left unanswered, by the batch's word for it.
    let mut unanswered: std::collections::BTreeMap<String, usize> = Default::default();
    for line in results.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            *unanswered.entry("unreadable".into()).or_default() += 1;
            continue;
        };
        let index =
            v["custom_id"].as_str().and_then(|c| c.strip_prefix('c')?.parse::<usize>().ok());
        let Some(slot) = index.and_then(|i| out.get_mut(i)) else { continue };
        match v["result"]["type"].as_str() {
            Some("succeeded") => *slot = Some(v["result"]["message"].to_string()),
            other => *unanswered.entry(other.unwrap_or("unreadable").to_string()).or_default() += 1,
        }
    }
    let left = out.iter().filter(|o| o.is_none()).count();
    let named: usize = unanswered.values().sum();
    if left > named {
        unanswered.insert("missing".into(), left - named);
    }
    if left > 0 {
        let why: Vec<String> = unanswered.iter().map(|(k, n)| format!("{n} {k}")).collect();
        report.failures.push(format!(
            "batch {id} left {left} of {} calls unanswered ({}); they were sent one by one",
            out.len(),
            why.join(", ")
        ));
    }
    out
}

/// The model calls a pass would make (see `llm::plan`), priced as the
/// provider bills them (see `StagePlan::tokens`), made one by one and as
/// a batch; and whether the budget covers them as a pass counts it.
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
            let tokens = p.tokens(settings.provider);
            counted += p.request_bytes as u64 / 2 + p.max_output_tokens;
            reverie_api::PlannedStage {
                stage: p.stage,
                calls: p.calls,
                items: p.items,
                input_tokens: tokens.total() - tokens.output_tokens,
                cache_read_tokens: tokens.cache_read_tokens,
                max_output_tokens: p.max_output_tokens,
                usd_estimate: settings.prices.usd(tokens, false),
                usd_batched: settings.prices.usd(tokens, true),
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
        usd_batched: stages.iter().map(|s| s.usd_batched).sum(),
        scheduled_batched: settings.clone().for_pass(true).batches,
        stages,
        input_tokens,
        max_output_tokens,
        token_budget: settings.token_budget,
        within_budget: counted <= settings.token_budget,
    }
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
async fn send(
    settings: &Settings,
    method: Method,
    path: &str,
    body: Option<&str>,
    retries: &mut u32,
) -> Result<String, String> {
    let mut attempt = 0;
    loop {
        match once(settings, method.clone(), path, body).await {
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

/// One request to the provider, to `path` under the base URL (a call to
/// the model, `MESSAGES`, goes where the provider takes it).
async fn once(settings: &Settings, method: Method, path: &str, body: Option<&str>) -> Attempt {
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    let prepared = (|| {
        set("content-type", "application/json")?;
        let path = match settings.provider {
            Provider::Anthropic => {
                set("x-api-key", &settings.api_key)?;
                set("anthropic-version", ANTHROPIC_VERSION)?;
                path
            }
            Provider::OpenAi => {
                set("authorization", &format!("Bearer {}", settings.api_key))?;
                if path == MESSAGES {
                    "/v1/chat/completions"
                } else {
                    path
                }
            }
        };
        let url = format!("{}{path}", settings.base_url);
        let mut init = RequestInit::new();
        init.with_method(method).with_headers(headers.clone()).with_body(body.map(Into::into));
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

/// A reason's fixed word, as the report counts it (its serialized name).
fn word(why: &impl Serialize) -> String {
    serde_json::to_value(why).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
