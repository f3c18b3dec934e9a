//! A store's history: its versions (who made each, and why), any version's
//! diff against the one before, the audit log newest first, the result of
//! checking its hash chain, and rolling back to a version after a
//! confirmation. Rolling back makes a new version; nothing is erased.

use std::collections::BTreeMap;

use leptos::prelude::*;
use reverie_core::audit::AuditRecord;
use reverie_core::diff::{EntryChange, EntryDiff, Retired};

use crate::api::{self, Version};
use crate::widgets::{loaded, utc, Diff, Failure, SourceNote};
use crate::Session;

#[component]
pub fn History(store: String) -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let versions = {
        let store = store.clone();
        api::versions(move || {
            reload.track();
            store.clone()
        })
    };
    let source = versions.source;
    let chosen = RwSignal::new(None::<i64>);
    // Above the list, which is rebuilt when a rollback reloads it.
    let notice = RwSignal::new(None::<Result<String, String>>);
    view! {
        <nav class="crumbs" aria-label="Breadcrumb"><a href="#/">"Agents"</a>" › history of "{store.clone()}</nav>
        <h1>"History of "<span class="mono">{store.clone()}</span></h1>
        <ChainCheck store=store.clone() reload/>
        {move || notice.get().map(|r| match r {
            Ok(m) => view! { <p class="ok" role="status" data-testid="rollback-done">{m}</p> }.into_any(),
            Err(m) => view! { <p class="error" role="alert">{m}</p> }.into_any(),
        })}
        <div class="columns">
            <section class="panel" aria-labelledby="versions-title">
                <h3 id="versions-title">"Versions"</h3>
                {let store = store.clone(); loaded("versions", move || versions.data.get(), move |list| {
                        if chosen.get_untracked().is_none() {
                            chosen.set(Some(list.current_version));
                        }
                        view! {
                            <SourceNote source/>
                            <ol class="versions" reversed data-testid="versions">
                                {list.versions.into_iter().map(|v| view! {
                                    <VersionItem v store=store.clone() current=list.current_version chosen reload notice/>
                                }).collect_view()}
                            </ol>
                        }.into_any()
                    })}
            </section>
            <div>
                {let store = store.clone(); move || chosen.get().map(|v| {
                    // The proposal a version applied, if it applied one.
                    let proposal = versions.data.with(|d| {
                        let list = d.as_ref()?.as_ref().ok()?;
                        list.versions.iter().find(|x| x.version == v)?.proposal_id.clone()
                    });
                    view! { <VersionDiff store=store.clone() version=v proposal/> }
                })}
                <AuditLog store=store.clone() reload/>
            </div>
        </div>
    }
}

#[component]
fn VersionItem(
    v: Version,
    store: String,
    current: i64,
    chosen: RwSignal<Option<i64>>,
    reload: RwSignal<u32>,
    notice: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let confirming = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let version = v.version;
    let store_for_preview = store.clone();
    let rollback = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let store = store.clone();
        let why = reason.get_untracked();
        leptos::task::spawn_local(async move {
            match api::rollback(&store, version, Some(current), why.trim()).await {
                Ok(r) => {
                    notice.set(Some(Ok(format!(
                        "Rolled back: version {} equals version {version} ({} entries changed).",
                        r.version, r.entries_changed
                    ))));
                    confirming.set(false);
                    reload.update(|n| *n += 1);
                }
                Err(e) => notice.set(Some(Err(e.to_string()))),
            }
        });
    };
    let what = match (v.cause.as_str(), &v.proposal_id) {
        ("proposal", Some(p)) => {
            view! { "applied " <a href=format!("#/proposals/{p}")>{p.clone()}</a> }.into_any()
        }
        (cause, _) => view! { {cause.to_string()} }.into_any(),
    };
    view! {
        <li data-testid="version" data-version=version.to_string() class:chosen=move || chosen.get() == Some(version)>
            <button class="link" on:click=move |_| chosen.set(Some(version)) aria-pressed=move || (chosen.get() == Some(version)).to_string()>
                {format!("v{version}")}
            </button>
            {(version == current).then(|| view! { " " <span class="badge">"current"</span> })}
            " · " {what} {format!(" · {} · {} · {} active", v.actor, utc(v.created_at), v.active_entries)}
            {v.note.clone().map(|n| view! { <br/><span class="muted">{n}</span> })}
            {(version < current && session.can_review()).then(|| view! {
                " " <button class="link" data-testid="rollback" on:click=move |_| confirming.set(true)>"Roll back to this"</button>
            })}
            {move || confirming.get().then(|| view! {
                <form class="confirm" on:submit=rollback.clone() role="alertdialog" aria-label="Confirm rollback">
                    <p>{format!("Make a new version equal to v{version}? Every later change is undone in it; the history stays.")}</p>
                    <RollbackPreview store=store_for_preview.clone() version/>
                    <label for=format!("reason-{version}")>"Reason (kept in the audit log)"</label>
                    <input id=format!("reason-{version}") required maxlength="500" data-testid="rollback-reason"
                        prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/>
                    <button type="submit" data-testid="confirm-rollback" disabled=move || reason.with(|r| r.trim().is_empty())>"Roll back"</button>
                    <button type="button" class="link" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </form>
            })}
        </li>
    }
}

#[component]
fn VersionDiff(store: String, version: i64, proposal: Option<String>) -> impl IntoView {
    let diff = api::version_diff(store, version);
    view! {
        <section class="panel" aria-labelledby="diff-title" data-testid="version-diff">
            <h3 id="diff-title">{format!("v{version} against v{}", version - 1)}</h3>
            {loaded("the diff", move || diff.data.get(), move |v| match v {
                d if d.diffs.is_empty() => view! { <p class="muted">"No entry changed in this version."</p> }.into_any(),
                d => view! { <EntryDiffs diffs=d.diffs by=d.by_change proposal=proposal.clone()/> }.into_any(),
            })}
        </section>
    }
}

/// Entries as a version, or a rollback, changes them: what happened to
/// each (added, removed, a status change, edited), into which entry or
/// why when it was retired, and its text's diff.
///
/// `by` names the change of `proposal` that touched an entry, linked.
#[component]
fn EntryDiffs(
    diffs: Vec<EntryDiff>,
    by: BTreeMap<String, String>,
    proposal: Option<String>,
) -> impl IntoView {
    view! {
        <ul class="entries">
            {diffs.into_iter().map(|e| {
                let change = match e.change {
                    EntryChange::Added => "added".to_string(),
                    EntryChange::Removed => "removed".to_string(),
                    EntryChange::Changed => match (&e.status_before, &e.status_after) {
                        (Some(b), Some(a)) if b != a => format!("{b} → {a}"),
                        _ => "edited".to_string(),
                    },
                };
                // Into which entry, or why: what the version did to it.
                let retired = e.retired.map(|r| match r {
                    Retired::MergedInto(id) => format!("merged into {id}"),
                    Retired::SupersededBy(id) => format!("superseded by {id}"),
                    Retired::Pruned(why) => format!("pruned: {why}"),
                });
                view! {
                    <li data-testid="entry-diff">
                        <span class="mono muted">{e.id.to_string()}</span>" "<span class="badge">{change}</span>
                        {retired.map(|r| view! { " " <span class="muted" data-testid="retired">{r}</span> })}
                        {by.get(e.id.as_str()).zip(proposal.as_ref()).map(|(change, p)| view! {
                            " " <span class="muted" data-testid="by-change">"by change "
                                <a href=format!("#/proposals/{p}")>{change.clone()}</a></span>
                        })}
                        <Diff spans=e.text/>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// What a rollback to `version` would change now, for its confirmation:
/// counted, then the first entries shown.
#[component]
fn RollbackPreview(store: String, version: i64) -> impl IntoView {
    const SHOWN: usize = 20;
    let preview = LocalResource::new(move || {
        let store = store.clone();
        async move { api::rollback_preview(&store, version).await }
    });
    view! {
        <div class="preview" data-testid="rollback-preview">
            {move || match preview.get() {
                None => view! { <p class="muted">"Reading what the rollback would change…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{format!("What the rollback would change could not be read: {e}")}</p> }.into_any(),
                Some(Ok(d)) if d.diffs.is_empty() => view! {
                    <p data-testid="rollback-summary">"Nothing would change: the store holds what it held then."</p>
                }.into_any(),
                Some(Ok(d)) => {
                    let count = |c: EntryChange| d.diffs.iter().filter(|e| e.change == c).count();
                    let summary = format!(
                        "{} entries would change: {} come back, {} leave, {} change back.",
                        d.diffs.len(),
                        count(EntryChange::Added),
                        count(EntryChange::Removed),
                        count(EntryChange::Changed)
                    );
                    let more = d.diffs.len().saturating_sub(SHOWN);
                    let diffs: Vec<EntryDiff> = d.diffs.into_iter().take(SHOWN).collect();
                    view! {
                        <p data-testid="rollback-summary">{summary}</p>
                        <EntryDiffs diffs by=BTreeMap::new() proposal=None/>
                        {(more > 0).then(|| view! { <p class="muted">{format!("… and {more} more.")}</p> })}
                    }.into_any()
                }
            }}
        </div>
    }
}

/// Runs the hash-chain check when the page opens and after each rollback.
#[component]
fn ChainCheck(store: String, reload: RwSignal<u32>) -> impl IntoView {
    let check = LocalResource::new(move || {
        reload.track();
        let store = store.clone();
        async move { api::verify(&store).await }
    });
    view! {
        <p class="chain" role="status" data-testid="chain-check">
            {move || match check.get() {
                None => "Checking the audit chain…".to_string().into_any(),
                Some(Err(e)) => view! { <span class="muted">{format!("The audit chain could not be checked: {e}")}</span> }.into_any(),
                Some(Ok(v)) if v.verification.ok => view! {
                    <span class="ok">{format!("✓ Audit chain intact: {} records, each hashed with the one before.", v.verification.records)}</span>
                }.into_any(),
                Some(Ok(v)) => view! {
                    <span class="error">{format!("✗ Audit chain broken: {}", v.verification.problem.unwrap_or_default())}</span>
                }.into_any(),
            }}
        </p>
    }
}

/// The action of a record as words: `apply change`, `rollback`, ….
fn action_name(r: &AuditRecord) -> String {
    serde_json::to_value(r.event.action)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default()
}

#[component]
fn AuditLog(store: String, reload: RwSignal<u32>) -> impl IntoView {
    let records = RwSignal::new(Vec::<AuditRecord>::new());
    let next = RwSignal::new(None::<u64>);
    let error = RwSignal::new(None::<api::ApiError>);
    let load = {
        let store = store.clone();
        move |before: Option<u64>| {
            let store = store.clone();
            leptos::task::spawn_local(async move {
                match api::audit(&store, before).await {
                    Ok((page, _)) => {
                        records.update(|r| {
                            if before.is_none() {
                                r.clear();
                            }
                            r.extend(page.records);
                        });
                        next.set(page.next_before);
                    }
                    Err(e) => error.set(Some(e)),
                }
            });
        }
    };
    {
        let load = load.clone();
        Effect::new(move |_| {
            reload.track();
            load(None);
        });
    }
    view! {
        <section class="panel" aria-labelledby="audit-title">
            <h3 id="audit-title">"Audit log"</h3>
            {move || error.get().map(|e| view! { <Failure error=e/> })}
            <ol class="timeline" data-testid="audit-log">
                <For each=move || records.get() key=|r| r.seq let:r>
                    <li data-testid="audit-record">
                        <span class="mono">{format!("#{}", r.seq)}</span>" "
                        <strong>{action_name(&r)}</strong>
                        {format!(" · {} · {} · v{}", r.event.actor, utc(r.event.at.0), r.event.store_version)}
                        {r.event.proposal_id.clone().map(|p| view! { " · " <a href=format!("#/proposals/{p}")>{p.to_string()}</a> })}
                        {r.event.change_id.clone().map(|c| format!(" · change {c}"))}
                        {r.event.entry_id.clone().map(|e| format!(" · entry {e}"))}
                        {r.event.note.clone().map(|n| view! { <br/><span class="muted">{n}</span> })}
                    </li>
                </For>
            </ol>
            {move || next.get().map(|before| {
                let load = load.clone();
                view! { <button on:click=move |_| load(Some(before))>"Older records"</button> }
            })}
        </section>
    }
}
