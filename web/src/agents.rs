//! The agents a reviewer may see, and one agent's page: its dreaming
//! config as a form (checked as it is typed, by the same core the service
//! uses) and as YAML/JSON to copy, "Dream now" with the pass's progress,
//! and its proposals and passes.

use leptos::prelude::*;
use reverie_web_state::dream::{estimate_text, spend_text};
use reverie_web_state::settings::{config_text, Field, Form, Format};

use crate::api::{self, Agent, Pass, PassStatus, Source};
use crate::widgets::{loaded, sentence, utc, SourceNote};
use crate::Session;
use reverie_api::{LlmMode, PassStage};

#[component]
pub fn AgentList() -> impl IntoView {
    let agents = api::agents();
    let source = agents.source;
    view! {
        <section aria-labelledby="agents-title">
            <h1 id="agents-title">"Agents"</h1>
            {loaded("agents", move || agents.data.get(), move |v| match v {
                list if list.agents.is_empty() => view! {
                    <SourceNote source/>
                    <p class="empty-state" data-testid="no-agents">"No agents yet. An admin creates them through the API (POST /api/v1/agents)."</p>
                }.into_any(),
                list => view! {
                    <SourceNote source/>
                    <div class="table-wrap">
                        <table class="agents" data-testid="agent-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Agent"</th>
                                    <th scope="col">"Memory"</th>
                                    <th scope="col">"Last pass"</th>
                                    <th scope="col">"To review"</th>
                                    <th scope="col">"Schedule"</th>
                                    <th scope="col">"Approval"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {list.agents.into_iter().map(|a| view! { <AgentRow agent=a/> }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
            })}
        </section>
    }
}

#[component]
fn AgentRow(agent: Agent) -> impl IntoView {
    let href = format!("#/agents/{}", agent.id);
    let last = agent
        .last_pass
        .as_ref()
        .map_or("never".to_string(), |p| format!("{} · {}", p.status, utc(p.started_at)));
    let schedule = if agent.enabled {
        format!("{} at {}", agent.schedule, agent.schedule_time)
    } else {
        "off".into()
    };
    view! {
        <tr data-testid="agent-row">
            <th scope="row"><a href=href>{agent.name.clone()}</a><br/><span class="muted mono">{agent.id.clone()}</span></th>
            <td>
                {format!("{} active", agent.store.active_entries)}
                {agent.store.shared.then(|| view! { " " <span class="badge shared" title="Used by several agents: every pass needs approval">"shared"</span> })}
                <br/><span class="muted mono">{agent.store.id.clone()}</span>
            </td>
            <td>{last}</td>
            <td>
                {if agent.pending_proposals > 0 {
                    view! { <strong class="pending">{format!("{} proposal(s)", agent.pending_proposals)}</strong> }.into_any()
                } else {
                    view! { <span class="muted">"none"</span> }.into_any()
                }}
            </td>
            <td>{schedule}</td>
            <td>{if agent.require_approval { "required" } else { "off (risky changes still wait)" }}</td>
        </tr>
    }
}

#[component]
pub fn AgentPage(id: String) -> impl IntoView {
    // Bumped when a pass finishes: the proposal and pass lists reload.
    let lists = RwSignal::new(0u32);
    let agent = api::agent(id);
    let source = agent.source;
    // The page is rebuilt only when what it shows changes (name, store,
    // config), not when counts do: a form being filled in is kept.
    let shown = Memo::new(move |_| {
        agent.data.with(|d| match d {
            None => None,
            Some(Err(e)) => Some(Err(e.clone())),
            Some(Ok(a)) => Some(Ok((a.name.clone(), a.store.id.clone(), a.config.clone()))),
        })
    });
    view! {
        {loaded("the agent", move || shown.get(), move |_| match agent.data.get_untracked() {
            Some(Ok(a)) => view! { <AgentView agent=a source lists/> }.into_any(),
            _ => ().into_any(),
        })}
    }
}

#[component]
fn AgentView(agent: Agent, source: RwSignal<Source>, lists: RwSignal<u32>) -> impl IntoView {
    let id = agent.id.clone();
    view! {
        <nav class="crumbs" aria-label="Breadcrumb"><a href="#/">"Agents"</a>" › "{agent.name.clone()}</nav>
        <h1>{agent.name.clone()}" "<span class="muted mono">{agent.id.clone()}</span></h1>
        <SourceNote source/>
        <p class="links">
            <a href=format!("#/stores/{}/history", agent.store.id)>"History of "{agent.store.id.clone()}</a>
            " · "
            <a href=format!("#/agents/{}/outcomes", agent.id)>"Outcomes"</a>
            " · "
            <a href=format!("#/agents/{}/import", agent.id)>"Import & export"</a>
        </p>
        <div class="columns">
            <Settings agent=agent.clone()/>
            <div>
                <DreamNow agent=id.clone() lists/>
                <Proposals agent=id.clone() lists/>
                <Passes agent=id lists/>
            </div>
        </div>
    }
}

#[component]
fn Settings(agent: Agent) -> impl IntoView {
    let session = expect_context::<Session>();
    let form = RwSignal::new(Form::of(&agent));
    let agent_id = agent.id.clone();
    let shared = agent.store.shared;
    // Checked as typed, by the core: the same rules the service applies.
    let checked = Memo::new({
        let agent_id = agent_id.clone();
        move |_| form.with(|f| f.check(&agent_id, shared))
    });
    let error_for = move |field: Field| {
        move || {
            checked
                .with(|c| c.as_ref().err().filter(|p| p.field == field).map(|p| p.message.clone()))
        }
    };
    let format = RwSignal::new(Format::Yaml);
    let text = move || checked.with(|c| config_text(c, format.get()));
    let saved = RwSignal::new(None::<Result<String, String>>);
    let save = {
        let agent_id = agent_id.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let Ok(config) = checked.get_untracked() else { return };
            let agent_id = agent_id.clone();
            saved.set(None);
            leptos::task::spawn_local(async move {
                match api::save_config(&agent_id, &config.to_json()).await {
                    Ok(()) => saved.set(Some(Ok("Saved.".into()))),
                    Err(e) => saved.set(Some(Err(e.to_string()))),
                }
            });
        }
    };
    let copy = move |_| {
        let t = text();
        let _ = window().navigator().clipboard().write_text(&t);
    };
    let admin = session.is_admin();
    let set = move |f: fn(&mut Form, String)| {
        move |ev: leptos::ev::Event| form.update(|x| f(x, event_target_value(&ev)))
    };
    view! {
        <section class="panel" aria-labelledby="settings-title">
            <h3 id="settings-title">"Dreaming"</h3>
            {(!admin).then(|| view! { <p class="muted">"Only admins change the config; you can read it and copy it."</p> })}
            <form on:submit=save data-testid="settings-form">
                <fieldset disabled=!admin>
                    <label class="check">
                        <input type="checkbox" name="enabled" prop:checked=move || form.with(|f| f.enabled)
                            on:change=move |ev| form.update(|f| f.enabled = event_target_checked(&ev))/>
                        " Dreaming enabled"
                    </label>
                    <label for="schedule">"Schedule"</label>
                    <select id="schedule" name="schedule" aria-describedby="schedule-error"
                        prop:value=move || form.with(|f| f.schedule.clone())
                        on:change=set(|f, v| f.schedule = v)>
                        <option value="nightly">"Nightly"</option>
                        <option value="weekly">"Weekly (Mondays)"</option>
                        <option value="monthly">"Monthly (the 1st)"</option>
                        <option value="on-demand">"On demand only"</option>
                    </select>
                    <p id="schedule-error" class="error field-error">{error_for(Field::Schedule)}</p>
                    <label for="time">"Time of day (UTC)"</label>
                    <input id="time" name="time" inputmode="numeric" placeholder="03:00" aria-describedby="time-error"
                        prop:value=move || form.with(|f| f.time.clone()) on:input=set(|f, v| f.time = v)/>
                    <p id="time-error" class="error field-error">{error_for(Field::Time)}</p>
                    <label for="window">"Sessions since"</label>
                    <input id="window" name="window" placeholder="24h" aria-describedby="window-error window-help"
                        prop:value=move || form.with(|f| f.window.clone()) on:input=set(|f, v| f.window = v)/>
                    <p id="window-help" class="muted hint">"How far back a pass reads transcripts: 90m, 24h, 7d, 2w."</p>
                    <p id="window-error" class="error field-error">{error_for(Field::Window)}</p>
                    <label for="store">"Memory store"</label>
                    <input id="store" name="store" aria-describedby="store-error"
                        prop:value=move || form.with(|f| f.store.clone()) on:input=set(|f, v| f.store = v)/>
                    <p id="store-error" class="error field-error">{error_for(Field::Store)}</p>
                    <label class="check">
                        <input type="checkbox" name="approval" aria-describedby="approval-error"
                            prop:checked=move || form.with(|f| f.approval)
                            on:change=move |ev| form.update(|f| f.approval = event_target_checked(&ev))/>
                        " Require approval (off: safe changes apply at once; risky ones still wait)"
                    </label>
                    <p id="approval-error" class="error field-error">{error_for(Field::Approval)}</p>
                    <label for="notify">"Notify"</label>
                    <input id="notify" name="notify" placeholder="alice@team.example, bot@team.example" aria-describedby="notify-error"
                        prop:value=move || form.with(|f| f.notify.clone()) on:input=set(|f, v| f.notify = v)/>
                    <p id="notify-error" class="error field-error">{error_for(Field::Notify)}</p>
                    <p class="error field-error">{error_for(Field::Form)}</p>
                    <div class="form-actions">
                    <button type="submit" data-testid="save-config" disabled=move || checked.with(|c| c.is_err())>"Save"</button>
                    <span role="status" class="save-status" data-testid="save-status">
                        {move || saved.get().map(|r| match r {
                            Ok(m) => view! { <span class="ok">{m}</span> }.into_any(),
                            Err(m) => view! { <span class="error">{m}</span> }.into_any(),
                        })}
                    </span>
                    </div>
                </fieldset>
            </form>
            <div class="config-text">
                <div class="tabs" role="group" aria-label="Config format">
                    <button class:active=move || format.get() == Format::Yaml aria-pressed=move || (format.get() == Format::Yaml).to_string()
                        on:click=move |_| format.set(Format::Yaml)>"YAML"</button>
                    <button class:active=move || format.get() == Format::Json aria-pressed=move || (format.get() == Format::Json).to_string()
                        on:click=move |_| format.set(Format::Json)>"JSON"</button>
                    <button on:click=copy>"Copy"</button>
                </div>
                <pre data-testid="config-text"><code>{text}</code></pre>
            </div>
        </section>
    }
}

const STAGES: [(PassStage, &str); 6] = [
    (PassStage::Queued, "Queued"),
    (PassStage::Loading, "Reading memory and transcripts"),
    (PassStage::Rules, "Finding duplicates and changes"),
    (PassStage::Llm, "Asking the model about unclear groups"),
    (PassStage::Saving, "Saving the proposal"),
    (PassStage::Done, "Done"),
];

/// Starts a pass and follows it until its proposal is ready.
#[component]
fn DreamNow(agent: String, lists: RwSignal<u32>) -> impl IntoView {
    let session = expect_context::<Session>();
    let estimate_agent = agent.clone();
    let pass = RwSignal::new(None::<Pass>);
    let error = RwSignal::new(None::<String>);
    let running =
        move || pass.with(|p| p.as_ref().is_some_and(|p| p.status == PassStatus::Running));
    // The pass runs inside the request that starts it (work after a
    // response is cut short by the platform); while it runs, the agent's
    // newest pass is read for its stage. Both stop when the page is left.
    let start = move |_| {
        let agent = agent.clone();
        error.set(None);
        let done = StoredValue::new(false);
        let runner = agent.clone();
        leptos::task::spawn_local(async move {
            let result = api::run_pass(&runner).await;
            done.try_set_value(true);
            match result {
                Ok(p) => {
                    pass.try_set(Some(p));
                }
                Err(e) => {
                    error.try_set(Some(e.to_string()));
                }
            }
            lists.try_update(|n| *n += 1);
        });
        leptos::task::spawn_local(async move {
            let started = js_sys::Date::now() as i64;
            loop {
                gloo_timers_sleep(400).await;
                if done.try_get_value() != Some(false) {
                    break;
                }
                if let Ok(list) = api::latest_pass(&agent).await {
                    let newest =
                        list.passes.into_iter().next().filter(|p| p.started_at >= started - 5_000);
                    if done.try_get_value() == Some(false)
                        && newest.is_some()
                        && pass.try_set(newest).is_some()
                    {
                        break;
                    }
                }
            }
        });
        pass.set(Some(Pass {
            id: 0,
            agent_id: String::new(),
            trigger: String::new(),
            status: PassStatus::Running,
            stage: Some(PassStage::Queued),
            started_at: js_sys::Date::now() as i64,
            finished_at: None,
            duration_ms: None,
            proposal_id: None,
            store_id: None,
            error: None,
            stats: None,
        }));
    };
    // A dry run, asked for before dreaming: what the pass would do and cost.
    let estimate = RwSignal::new(None::<Result<Vec<String>, String>>);
    let estimating = RwSignal::new(false);
    let ask_estimate = move |_| {
        let agent = estimate_agent.clone();
        estimating.set(true);
        leptos::task::spawn_local(async move {
            let result = api::dry_run(&agent).await;
            estimating.try_set(false);
            estimate.try_set(Some(
                result.map(|d| estimate_text(&d)).map_err(|e| sentence(&e.to_string())),
            ));
        });
    };
    view! {
        <section class="panel" aria-labelledby="dream-title">
            <h3 id="dream-title">"Dream now"</h3>
            <p class="muted">"Run a consolidation pass over the recent sessions; the result is a proposal to review."</p>
            <div class="inline">
                <button data-testid="dream-estimate" on:click=ask_estimate
                    disabled=move || estimating.get() || running() || !session.can_review()>
                    {move || if estimating.get() { "Estimating…" } else { "Estimate first" }}
                </button>
                <button data-testid="dream-now" on:click=start disabled=move || running() || !session.can_review()>
                    {move || if running() { "Dreaming…" } else { "Dream now" }}
                </button>
            </div>
            <div role="status" data-testid="dream-estimate-text">
                {move || match estimate.get() {
                    Some(Ok(lines)) => lines.into_iter().map(|l| view! { <p>{l}</p> }).collect_view().into_any(),
                    Some(Err(why)) => view! { <p class="error">{why}</p> }.into_any(),
                    None => ().into_any(),
                }}
            </div>
            <p class="error" role="alert">{move || error.get()}</p>
            {move || pass.get().map(|p| {
                let stage = p.stage.unwrap_or(PassStage::Queued);
                let reached = STAGES.iter().position(|(s, _)| *s == stage).unwrap_or(0);
                // A finished pass says whether a model was asked at all.
                let no_model = p.stats.as_ref().filter(|s| s.llm.mode == LlmMode::RulesOnly);
                let open_groups = no_model.map_or(0, |s| s.unsettled_groups);
                view! {
                    <ol class="stages" aria-label="Pass progress" data-testid="pass-progress">
                        {STAGES.iter().enumerate().map(|(i, (step, label))| {
                            let skipped = *step == PassStage::Llm && no_model.is_some();
                            let class = if skipped { "skipped" } else if i < reached || p.status == PassStatus::Completed { "done" } else if i == reached { "current" } else { "todo" };
                            let label = if skipped { "No model configured: unclear groups not asked about" } else { *label };
                            view! { <li class=class aria-current=(class == "current").then_some("step")>{label}</li> }
                        }).collect_view()}
                    </ol>
                    {p.stats.as_ref().and_then(|s| s.llm.report.as_ref()).and_then(spend_text).map(|t| view! {
                        <p class="muted" data-testid="pass-spend">{t}</p>
                    })}
                    {(open_groups > 0).then(|| view! {
                        <p class="muted" data-testid="groups-left">{format!(
                            "{open_groups} group(s) the rules could not settle are left as they are: configure a model to have them judged, or merge them by hand."
                        )}</p>
                    })}
                    {match (p.status, p.proposal_id.clone()) {
                        (PassStatus::Completed, Some(pid)) => view! {
                            <p class="ok" data-testid="pass-done">
                                {format!("Pass #{} finished: {} change(s). ", p.id, p.stats.as_ref().map_or(0, |s| s.changes))}
                                <a href=format!("#/proposals/{pid}")>"Review the proposal"</a>
                            </p>
                        }.into_any(),
                        (PassStatus::Failed, _) => view! { <p class="error">{format!("The pass failed: {}", p.error.clone().unwrap_or_default())}</p> }.into_any(),
                        _ => ().into_any(),
                    }}
                }
            })}
        </section>
    }
}

/// Waits `ms` milliseconds.
pub async fn gloo_timers_sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[component]
fn Proposals(agent: String, lists: RwSignal<u32>) -> impl IntoView {
    let list = api::proposals(move || {
        lists.track();
        agent.clone()
    });
    view! {
        <section class="panel" aria-labelledby="proposals-title">
            <h3 id="proposals-title">"Proposals"</h3>
            {loaded("proposals", move || list.data.get(), move |v| match v {
                l if l.proposals.is_empty() => view! { <p class="muted">"No proposals yet: dream to make one."</p> }.into_any(),
                l => view! {
                    <ul class="plain" data-testid="proposal-list">
                        {l.proposals.into_iter().map(|p| view! {
                            <li>
                                <a href=format!("#/proposals/{}", p.id)>{p.id.clone()}</a>
                                " · " <span class=format!("status {}", p.status)>{p.status.as_str().replace('_', " ")}</span>
                                {format!(" · {} change(s), {} to review · {}", p.change_count, p.pending_count, utc(p.created_at))}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            })}
        </section>
    }
}

#[component]
fn Passes(agent: String, lists: RwSignal<u32>) -> impl IntoView {
    let list = api::passes(move || {
        lists.track();
        agent.clone()
    });
    view! {
        <section class="panel" aria-labelledby="passes-title">
            <h3 id="passes-title">"Passes"</h3>
            {loaded("passes", move || list.data.get(), move |v| match v {
                l if l.passes.is_empty() => view! { <p class="muted">"No passes yet."</p> }.into_any(),
                l => view! {
                    <table data-testid="pass-table">
                        <thead><tr><th scope="col">"Pass"</th><th scope="col">"Trigger"</th><th scope="col">"Status"</th><th scope="col">"Started"</th><th scope="col">"Changes"</th><th scope="col">"Tokens"</th></tr></thead>
                        <tbody>
                            {l.passes.into_iter().map(|p| view! {
                                <tr data-testid="pass-row">
                                    <td>{format!("#{}", p.id)}</td>
                                    <td>{p.trigger.clone()}</td>
                                    <td>{p.status.as_str()}{p.error.clone().map(|e| view! { <br/><span class="error">{e}</span> })}</td>
                                    <td>{utc(p.started_at)}</td>
                                    <td>{p.stats.as_ref().map(|s| s.changes.to_string()).unwrap_or_default()}</td>
                                    <td>{p.stats.as_ref().map_or(0, |s| s.input_tokens + s.output_tokens).to_string()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            })}
        </section>
    }
}
