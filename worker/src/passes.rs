//! Consolidation passes: on demand over HTTP and on each agent's schedule
//! from the cron trigger. A pass loads the store, the sessions of its
//! window, the review history and the changes still waiting in open
//! proposals (left to them), runs the core, asks the model about the
//! groups the rules could not settle (when a key is configured), stores the
//! proposal, applies the safe part at once when the owner turned approval
//! off, and tells the webhooks. Every stage is recorded on the pass row, so
//! progress can be watched; a pass that fails records why and leaves the
//! store untouched.

use reverie_core::apply::{auto_apply_plan, moved_entries, Decision};
use reverie_core::config::DreamingConfig;
use reverie_core::llm::rewrite::Wording;
use reverie_core::pass::{retired_by, run_pass, PassConfig, PassInput};
use reverie_core::schedule::due_slot;
use reverie_core::{Id, MemoryStore, Proposal, Timestamp};

use reverie_api::{self as api, PassStage, PassStatus, ProposalStatus};

use crate::db::Db;
use crate::http::{self, ApiError, ApiResult, Query};
use crate::repo::agents::AgentRow;
use crate::{agents, llm, proposals, repo, stores, webhooks, Cx};

/// A pass still `running` after this long was stopped by the runtime.
const STALE_MS: i64 = 15 * 60_000;
/// Passes one cron tick runs at most; agents still due wait for the next
/// tick (their slot stays unclaimed), so a busy 03:00 spreads over a few
/// ticks instead of one invocation running past the platform's limits.
const PASSES_PER_TICK: usize = 10;
/// Changes listed in a webhook payload; the rest are in the API.
const WEBHOOK_CHANGES: usize = 200;

/// `GET /passes?agent_id=&limit=`: newest first, the caller's agents only.
pub(crate) async fn list(cx: &Cx, q: &Query) -> ApiResult {
    let agent = q.str("agent_id");
    if let Some(agent) = agent {
        cx.who.can_read(agent)?;
    }
    let limit = q.limit(100, 1000)?;
    let grants = cx.who.grant_filter()?;
    let rows = repo::passes::list(&cx.db, agent, grants.as_deref(), limit).await?;
    http::json(&api::PassList {
        passes: rows.iter().map(repo::passes::PassRow::describe).collect::<ApiResult<Vec<_>>>()?,
    })
}

/// `GET /passes/{id}`.
pub(crate) async fn show(cx: &Cx, id: &str) -> ApiResult {
    let n: i64 =
        id.parse().map_err(|_| ApiError::bad_request(format!("pass id `{id}` is not a number")))?;
    let row =
        repo::passes::find(&cx.db, n).await?.ok_or_else(|| ApiError::not_found("pass", id))?;
    cx.who.can_read(&row.agent_id)?;
    http::json(&row.describe()?)
}

/// Claims a pass for `agent`: a new `running` row, unless one is running
/// already (then `None`).
async fn claim(db: &Db, agent: &AgentRow, trigger: &str, now: Timestamp) -> ApiResult<Option<i64>> {
    let store = agent.store_id.as_deref();
    repo::passes::claim(db, &agent.id, store, trigger, now, now.0 - STALE_MS).await
}

/// `POST /agents/{id}/passes?wait=true|false`: starts a pass now. By
/// default it answers 202 at once and the pass runs on (poll
/// `GET /passes/{id}` for its stage); with `wait=true` it answers when the
/// pass is done.
pub(crate) async fn start(cx: &Cx, agent_id: &str, q: &Query) -> ApiResult {
    cx.who.can_review(agent_id)?;
    let agent = agents::readable(cx, agent_id).await?;
    if q.one_of("dry_run", &["true", "false"])?.as_deref() == Some("true") {
        return http::json(&dry_run(cx, &agent).await?);
    }
    let wait = q.one_of("wait", &["true", "false"])?.as_deref() == Some("true");
    let trigger = format!("on-demand:{}", cx.who.actor());
    let id = claim(&cx.db, &agent, &trigger, cx.now).await?.ok_or_else(|| {
        ApiError::conflict(format!(
            "a pass for agent {agent_id} is running already; wait for it to finish"
        ))
    })?;
    if wait {
        execute(cx, id, &agent, false).await;
        let row = repo::passes::find(&cx.db, id)
            .await?
            .ok_or_else(|| ApiError::not_found("pass", &id.to_string()))?;
        return http::json_status(201, &row.describe()?);
    }
    let row = repo::passes::find(&cx.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("pass", &id.to_string()))?;
    let background = cx.detached()?;
    cx.defer(async move {
        execute(&background, id, &agent, false).await;
        background.run_deferred().await;
    });
    http::json_status(202, &row.describe()?)
}

/// `POST /scheduler/run?at=`: runs what the cron trigger runs, now or as
/// of `at` (epoch ms), and says what it did. For operators catching up
/// after an outage, and for tests of schedules.
pub(crate) async fn run_scheduler(cx: &Cx, q: &Query) -> ApiResult {
    cx.who.require_admin()?;
    let mut at = cx.detached()?;
    at.now = q.time("at")?.unwrap_or(cx.now);
    let report = run_scheduled(&at).await?;
    at.run_deferred().await;
    http::json(&report)
}

/// The cron trigger: every agent whose schedule has a due slot gets one
/// pass (claimed by slot, so overlapping triggers do not double it); stale
/// passes are closed and due webhook deliveries retried.
pub(crate) async fn run_scheduled(cx: &Cx) -> ApiResult<api::SchedulerRun> {
    // Staleness is judged by the real clock, also when the scheduler is
    // asked to run as of another time.
    let real_now = crate::now().0;
    repo::passes::fail_stale(&cx.db, real_now, real_now - STALE_MS).await?;
    let mut ran = Vec::new();
    for id in repo::slots::scheduled_agents(&cx.db).await? {
        if ran.len() >= PASSES_PER_TICK {
            break;
        }
        let Some(agent) = repo::agents::find_light(&cx.db, &id).await? else { continue };
        let config = match agent.config() {
            Ok(c) => c,
            Err(e) => {
                worker::console_error!("agent {id} has an unreadable config: {}", e.message);
                continue;
            }
        };
        let since = Timestamp(agent.schedule_since.unwrap_or(agent.created_at) as i64);
        let last = agent.last_slot.map(|t| Timestamp(t as i64));
        let Some(slot) = due_slot(config.schedule, config.schedule_time, last, since, cx.now)
        else {
            continue;
        };
        if !repo::slots::claim(&cx.db, &id, slot).await? {
            continue;
        }
        let trigger = format!("schedule:{}", config.schedule.as_str());
        match claim(&cx.db, &agent, &trigger, cx.now).await? {
            Some(pass) => {
                execute(cx, pass, &agent, true).await;
                ran.push(api::ScheduledPass { agent_id: id.clone(), pass_id: pass, slot: slot.0 });
            }
            // A pass is running already (say, one started by hand): the
            // slot is given back, so the next trigger runs it.
            None => repo::slots::release(&cx.db, &id, slot, last).await?,
        }
    }
    let retried = webhooks::retry_due(&cx.db, cx.now).await?;
    Ok(api::SchedulerRun { at: cx.now.0, passes: ran, webhook_deliveries_retried: retried })
}

/// Most changes one proposal holds: what a person can review (the
/// dashboard is tested at this size) and what one pass can hold beside a
/// store of a hundred thousand entries within a Worker's 128 MB. The
/// changes found beyond it wait for the next pass (`summary.deferred`).
const MAX_PROPOSAL_CHANGES: usize = 5_000;

/// The rules' settings for a pass making proposal `proposal_id` at `now`.
fn pass_config(proposal_id: Id, now: Timestamp) -> PassConfig {
    PassConfig {
        max_changes: Some(MAX_PROPOSAL_CHANGES),
        ..PassConfig::recommended(proposal_id, now)
    }
}

/// Runs pass `id` to completion (`scheduled`: by the cron trigger),
/// recording success or the reason it failed. Never returns an error: the
/// pass row is the outcome.
pub(crate) async fn execute(cx: &Cx, id: i64, agent: &AgentRow, scheduled: bool) {
    let started = crate::now().0;
    let result = run(cx, id, agent, started, scheduled).await;
    // Recorded on the pass's own time line: its start plus the time spent.
    let finished = cx.now.0 + (crate::now().0 - started);
    let (status, error, stats) = match result {
        Ok(stats) => (PassStatus::Completed, None, Some(stats)),
        Err(e) => (PassStatus::Failed, Some(e.message), None),
    };
    let recorded =
        repo::passes::finish(&cx.db, id, status, finished, error.as_deref(), stats.as_ref()).await;
    if let Err(e) = recorded {
        worker::console_error!(
            "pass {id} finished ({status}) but could not be recorded: {}",
            e.message
        );
    }
}

/// Records the stage reached; the time it was reached.
async fn stage(db: &Db, id: i64, stage: PassStage) -> ApiResult<i64> {
    repo::passes::set_stage(db, id, stage).await?;
    Ok(crate::now().0)
}

/// What a pass reads: the agent's store, the sessions of its window (of
/// every agent sharing the store) and the store's review history.
struct Inputs {
    store_row: repo::stores::StoreRow,
    store: MemoryStore,
    window_start: Timestamp,
    sessions: Vec<reverie_core::Session>,
    history: reverie_core::review::ReviewHistory,
    /// Changes waiting in the store's open proposals, on entries as they
    /// still are: the pass leaves what they touch to them.
    open: Vec<reverie_core::Change>,
}

/// What a pass of `agent` reads now. `create`: a store the agent has not
/// got yet is created (empty) for the pass; else it is read as empty and
/// nothing is written.
async fn inputs(
    cx: &Cx,
    agent: &AgentRow,
    config: &DreamingConfig,
    create: bool,
) -> ApiResult<Inputs> {
    let (db, now) = (&cx.db, cx.now);
    let store_id = config.memory_store.as_str();
    let store_row = if create {
        stores::ensure(db, store_id, &agent.id, false, now).await?
    } else {
        stores::existing_or_new(db, store_id, &agent.id, false, now).await?.0
    };
    let store = stores::load(db, &store_row).await?;
    let mut agents_of_store = repo::stores::agents_using(db, &store_row.id).await?;
    if !agents_of_store.contains(&agent.id) {
        agents_of_store.push(agent.id.clone());
    }
    let window_start = Timestamp(now.0 - config.sessions_since.millis());
    let sessions =
        repo::sessions::window(db, &agents_of_store, window_start, Timestamp(now.0 + 1)).await?;
    let history = repo::reviews::history(db, &store_row.id).await?;
    // A waiting change whose entries have moved since can no longer be
    // applied (its review is a 409): what it touched is free again.
    let waiting = repo::proposals::open_changes(db, &store_row.id).await?;
    let moved = moved_entries(&store, waiting.iter().flat_map(|row| &row.fingerprints));
    let open = waiting
        .iter()
        .filter(|row| row.fingerprints.keys().all(|id| !moved.contains(id)))
        .map(|row| row.body.clone())
        .collect();
    Ok(Inputs { store_row, store, window_start, sessions, history, open })
}

/// `POST /agents/{id}/passes?dry_run=true`: the rules run as a pass would
/// run them now; the model calls the pass would make are planned, priced
/// and checked against the budget, and none is made. Nothing is saved.
async fn dry_run(cx: &Cx, agent: &AgentRow) -> ApiResult<api::DryRun> {
    let config = agent.config()?;
    let Inputs { store_row, store, sessions, history, open, .. } =
        inputs(cx, agent, &config, false).await?;
    let proposal_id = Id::new("dry_run")?;
    let pass_config = pass_config(proposal_id, cx.now);
    let input = PassInput { open: &open, ..PassInput::new(&store, &sessions, &history) };
    let output = run_pass(&input, &pass_config)?;
    let rules_only = |reason: String| api::PlannedLlm {
        mode: api::LlmMode::RulesOnly,
        reason: Some(reason),
        provider: None,
        model: None,
        stages: Vec::new(),
        input_tokens: 0,
        max_output_tokens: 0,
        usd_estimate: 0.0,
        usd_batched: 0.0,
        scheduled_batched: false,
        token_budget: 0,
        within_budget: true,
    };
    let llm = match llm::settings(&cx.env) {
        Err(reason) => rules_only(format!("the LLM settings are invalid: {reason}")),
        Ok(None) => rules_only("no LLM key is configured".into()),
        Ok(Some(settings)) => {
            llm::planned(&settings, &store, &sessions, &output.unsettled, &output.proposal)
        }
    };
    Ok(api::DryRun {
        agent_id: agent.id.clone(),
        store_id: store_row.id.clone(),
        base_version: store.version as i64,
        sessions: sessions.len(),
        changes: output.proposal.changes.len(),
        changes_by_kind: output.proposal.summary.counts.clone(),
        unsettled_groups: output.unsettled.len(),
        llm,
    })
}

async fn run(
    cx: &Cx,
    id: i64,
    agent: &AgentRow,
    started: i64,
    scheduled: bool,
) -> ApiResult<api::PassStats> {
    let db = &cx.db;
    // The pass's "now" is the request's or the schedule's time; the clock
    // only measures how long the stages take.
    let now = cx.now;
    let config = agent.config()?;
    let t_load = stage(db, id, PassStage::Loading).await?;
    let Inputs { store_row, store, window_start, sessions, history, open } =
        inputs(cx, agent, &config, true).await?;

    let t_rules = stage(db, id, PassStage::Rules).await?;
    let proposal_id = Id::new(format!("prop_{}", &crate::random_hex()[..12]))?;
    let pass_config = pass_config(proposal_id, now);
    let input = PassInput { open: &open, ..PassInput::new(&store, &sessions, &history) };
    let mut output = run_pass(&input, &pass_config)?;

    let t_llm = stage(db, id, PassStage::Llm).await?;
    let rules_only = |reason: String| api::LlmUse {
        mode: api::LlmMode::RulesOnly,
        reason: Some(reason),
        provider: None,
        model: None,
        report: None,
    };
    let llm_use = match llm::settings(&cx.env) {
        Err(reason) => rules_only(format!("the LLM settings are invalid: {reason}")),
        Ok(None) => rules_only("no LLM key is configured".into()),
        Ok(Some(settings)) => {
            // Four stages, one budget: read the sessions, judge the open
            // groups, word what the rules set side by side, and make
            // instructions of recurring mistakes. A scheduled pass sends
            // each stage's calls as one Message Batch.
            let settings = settings.for_pass(scheduled);
            let mut report = llm::Report::default();
            let proposal = &mut output.proposal;
            llm::learn(&settings, &store, &sessions, &open, proposal, &mut report).await;
            llm::settle(&settings, &store, &output.unsettled, proposal, &mut report).await;
            llm::reword(&settings, &store, proposal, &mut report, Wording::Concise).await;
            llm::reword(&settings, &store, proposal, &mut report, Wording::Instruction).await;
            if llm::found_work(&report) {
                api::LlmUse {
                    mode: api::LlmMode::Llm,
                    reason: None,
                    provider: Some(settings.provider),
                    model: Some(settings.model.clone()),
                    report: Some(report),
                }
            } else {
                rules_only(
                    "nothing in the sessions to read, and the rules settled every group and \
                     worded every change"
                        .into(),
                )
            }
        }
    };
    let proposal = output.proposal;

    let t_save = stage(db, id, PassStage::Saving).await?;
    // The changes first, a few chunks a batch (at 100 k entries they are
    // 29 MB of JSON, too much to hold at once beside the store); then the
    // proposal's row, which makes them visible, in one last batch.
    let saved = async {
        repo::proposals::save_changes(db, &proposal).await?;
        let mut batch = vec![
            repo::proposals::save(db, &proposal, &agent.id, Some(id))?,
            repo::passes::set_proposal(db, id, proposal.id.as_str())?,
        ];
        if crate::fault_injected(&cx.env, "pass-save") {
            batch.push(repo::faults::failing_statement(db)?);
        }
        db.batch(batch).await
    };
    if let Err(e) = saved.await {
        repo::proposals::forget_changes(db, proposal.id.as_str()).await;
        return Err(e);
    }
    let t_saved = crate::now().0;

    let active = store.active().count();
    let unattended =
        !config.require_approval && !store_row.is_shared() && !proposal.changes.is_empty();
    let (auto, status) = if unattended {
        let (report, status) =
            auto_apply(db, active, &proposal, pass_config.large_deletion, now).await?;
        (Some(report), status)
    } else {
        (None, proposals::initial_status(&proposal))
    };
    let t_done = crate::now().0;

    let stats = api::PassStats {
        entries: store.entries.len(),
        active_entries: active,
        base_version: store.version,
        sessions: sessions.len(),
        window_since: window_start.0,
        changes: proposal.changes.len(),
        changes_by_kind: proposal.summary.counts.clone(),
        retires: proposal.changes.iter().map(retired_by).sum::<usize>(),
        risky_changes: proposal.changes.iter().filter(|c| c.is_risky()).count(),
        unsettled_groups: output.unsettled.len(),
        held_back: proposal.summary.held_back,
        deferred: proposal.summary.deferred,
        waiting: proposal.summary.waiting,
        dropped_llm_changes: proposal.summary.dropped_llm_changes,
        input_tokens: proposal.token_cost.input_tokens,
        output_tokens: proposal.token_cost.output_tokens,
        cost_usd: llm_use.report.as_ref().map_or(0.0, |r| r.cost_usd),
        llm: llm_use,
        auto_apply: auto,
        engine_memory_bytes: Some(crate::engine_memory_bytes()),
        timings_ms: api::PassTimings {
            load: t_rules - t_load,
            rules: t_llm - t_rules,
            llm: t_save - t_llm,
            save: t_saved - t_save,
            auto_apply: t_done - t_saved,
            total: t_done - started,
        },
    };

    let suggested = match &stats.auto_apply {
        _ if proposal.changes.is_empty() => "none: nothing to consolidate",
        Some(a) if a.waiting == 0 => {
            "none: applied without review (approval is off for this agent)"
        }
        Some(_) => "review: some changes wait for a person",
        None => "review: approve, reject or partly accept the proposal",
    };
    // The first changes as stored (with what the unattended apply decided),
    // not all of them read back.
    let shown = repo::proposals::first_changes(db, proposal.id.as_str(), WEBHOOK_CHANGES).await?;
    let views = proposals::change_views(
        db,
        &store_row.id,
        proposal.base_version as i64,
        &shown,
        proposals::Audience::Outside,
    )
    .await?;
    let total = proposal.changes.len();
    webhooks::notify(
        cx,
        &agent.id,
        "pass.completed",
        serde_json::to_value(api::PassCompleted {
            agent_id: agent.id.clone(),
            store_id: store_row.id.clone(),
            pass_id: id,
            proposal_id: proposal.id.to_string(),
            status,
            suggested_action: suggested.to_string(),
            auto_apply: stats.auto_apply.clone(),
            notify: config.notify.clone(),
            summary: proposal.summary.clone(),
            token_cost: proposal.token_cost,
            cost_by_stage: stats.llm.report.as_ref().map(|r| r.stages.clone()).unwrap_or_default(),
            changes: views,
            changes_total: total,
            changes_truncated: total > WEBHOOK_CHANGES,
        })?,
    )
    .await;
    Ok(stats)
}

/// Applies the changes no person needs to see (core's `auto_apply_plan`;
/// `active` entries in the store the pass read), as the pass saved them,
/// and leaves the rest pending. Should the store have moved since the pass
/// read it, the apply goes ahead only if none of its targets moved (as
/// with a person's approval); otherwise nothing is applied. Returns the report for the pass record and the
/// proposal's status.
async fn auto_apply(
    db: &Db,
    active: usize,
    proposal: &Proposal,
    large_deletion: usize,
    now: Timestamp,
) -> ApiResult<(api::AutoApply, ProposalStatus)> {
    let plan = auto_apply_plan(proposal, active, large_deletion);
    let wait: Vec<api::Waiting> = plan
        .wait
        .iter()
        .map(|(id, why)| api::Waiting { change_id: id.to_string(), reason: why.to_string() })
        .collect();
    let report = |applied: usize, version: Option<i64>, waiting: usize, error: Option<String>| {
        api::AutoApply { applied, version, waiting, wait: wait.clone(), error }
    };
    if plan.apply.is_empty() {
        return Ok((report(0, None, wait.len(), None), ProposalStatus::Pending));
    }
    let row = repo::proposals::find(db, proposal.id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("proposal", proposal.id.as_str()))?;
    let decided = proposals::Decided {
        named: plan.apply.iter().map(|id| (id.clone(), Decision::ACCEPT)).collect(),
        fallback: proposals::Fallback::Pending,
        // No person chose these: review memory learns nothing from them.
        learn_named: false,
        fault: proposals::Fault::None,
        actor: "reverie:auto-approve",
        at: now,
    };
    match proposals::decide_in_pages(db, &row, decided).await {
        Ok(outcome) => {
            Ok((report(outcome.accepted, Some(outcome.version), wait.len(), None), outcome.status))
        }
        // The store moved while the pass ran: nothing is applied, and the
        // whole proposal waits for a person.
        Err(e) if e.status == 409 => Ok((
            api::AutoApply {
                applied: 0,
                version: None,
                waiting: proposal.changes.len(),
                wait: Vec::new(),
                error: Some(e.message),
            },
            ProposalStatus::Pending,
        )),
        Err(e) => Err(e),
    }
}
