//! Reviewing a proposal: a summary, then its changes as a list (only the
//! rows in view are rendered, so thousands of changes scroll smoothly) and
//! the selected change in full — entries before, the result with a word
//! diff, justification, evidence that opens into the transcript,
//! confidence, risk flags. Per change: accept, reject, or edit the text
//! (with a live diff). Keyboard: j/k move, a accept, r reject, e edit,
//! ? help. Decisions are kept on this device as they are made, and
//! submitted through the outbox, so review works offline.

use leptos::html;
use leptos::prelude::*;
use reverie_core::apply::Decision;
use reverie_core::diff::{word_diff, DiffSpan, DiffTag};
use reverie_core::{ChangeKind, EvidenceSource, RiskKind};

use crate::api::{self, ChangeView, Proposal, Source};
use crate::sync::{self, Draft, Rest, Sent, State, Submission, SyncState};
use crate::widgets::{loaded, utc, Diff, SourceNote};
use crate::Session;
use reverie_web_state::{describe as headline, proposal_warnings, step, Filter, Key, Review};

/// Height of one row of the change list, in pixels (fixed, so the list
/// can place any row without measuring the others).
const ROW: f64 = 60.0;
/// Rows rendered beyond the visible ones, above and below.
const OVERSCAN: usize = 8;

#[component]
pub fn Review(id: String) -> impl IntoView {
    let sync = expect_context::<SyncState>();
    let reload = RwSignal::new(0u32);
    // Lives above the view, which is rebuilt when the proposal reloads
    // after a decision lands: the message about it must survive that.
    let notice = RwSignal::new(None::<(bool, String)>);
    // A submission that made a version may be undone for a minute after.
    let undo = RwSignal::new(None::<Undo>);
    let selected = RwSignal::new(0usize);
    let proposal = api::proposal(move || {
        reload.track();
        sync.landed.track();
        id.clone()
    });
    let source = proposal.source;
    view! {
        {loaded("the proposal", move || proposal.data.get(), move |p| view! { <ReviewView proposal=p source reload notice undo selected/> }.into_any())}
    }
}

fn kind_label(kind: ChangeKind) -> &'static str {
    kind.as_str()
}

fn decision_name(d: &Decision) -> &'static str {
    match d {
        Decision::Accept { .. } => "accepted",
        Decision::Reject { .. } => "rejected",
        Decision::Edit { .. } => "edited",
    }
}

#[component]
fn ReviewView(
    proposal: Proposal,
    source: RwSignal<Source>,
    reload: RwSignal<u32>,
    notice: RwSignal<Option<(bool, String)>>,
    undo: RwSignal<Option<Undo>>,
    selected: RwSignal<usize>,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let sync = expect_context::<SyncState>();
    let pid = proposal.brief.id.clone();
    let agent = proposal.brief.agent_id.clone();
    let changes = StoredValue::new(proposal.changes.clone());
    let count = proposal.changes.len();
    // The first part of a proposal, shown while the rest comes (see
    // `api::proposal`): bulk actions wait for the whole.
    let loading_rest = count < proposal.brief.change_count as usize && count < 10_000;
    let draft = RwSignal::new(Draft::new());
    let editing = RwSignal::new(None::<String>);
    let previewing = RwSignal::new(false);
    let help = RwSignal::new(false);
    // A bulk decision waiting for its confirmation.
    let confirm = RwSignal::new(None::<BulkAction>);
    let open = proposal.brief.status.is_open() && session.can_review();
    let review = StoredValue::new(Review::new(&proposal.changes, open));

    // Decisions wait for the saved draft, so a key pressed while it loads
    // neither overwrites it nor is overwritten by it.
    let draft_ready = RwSignal::new(false);
    {
        let pid = pid.clone();
        leptos::task::spawn_local(async move {
            let saved = sync::load_draft(&pid).await;
            draft.try_set(saved);
            draft_ready.try_set(true);
        });
    }
    let persist = {
        let pid = pid.clone();
        move || {
            let pid = pid.clone();
            let d = draft.get_untracked();
            leptos::task::spawn_local(async move { sync::save_draft(&pid, &d).await });
        }
    };

    // The decision shown for change `i`: the service's, else the draft's.
    let decision_of = move |i: usize| -> Option<(Decision, bool)> {
        review.with_value(|r| draft.with(|d| r.decision_of(d, i)))
    };

    // Every change to the draft: none before the saved one is loaded, and
    // the draft saved on this device after each that changed it.
    let edit_draft = {
        let persist = persist.clone();
        move |edit: &dyn Fn(&Review, &mut Draft) -> bool| {
            if !draft_ready.get_untracked() {
                return;
            }
            let mut changed = false;
            review.with_value(|r| draft.update(|d| changed = edit(r, d)));
            if changed {
                persist();
            }
        }
    };
    let decide = {
        let edit_draft = edit_draft.clone();
        Callback::new(move |(i, d): (usize, Option<Decision>)| {
            edit_draft(&|r, draft| r.decide(draft, i, d.clone()))
        })
    };
    let comment = {
        let edit_draft = edit_draft.clone();
        Callback::new(move |(i, note): (usize, String)| {
            edit_draft(&|r, draft| r.comment(draft, i, &note))
        })
    };
    // An edit starts from the last edit of the change, else its result:
    // the same for the key and the button.
    let start_edit = Callback::new(move |i: usize| {
        let text = review.with_value(|r| draft.with_untracked(|d| r.edit_text(d, i)));
        if text.is_some() {
            editing.set(text);
            request_animation_frame(|| focus("edit-text"));
        }
    });
    let select = Callback::new(move |i: usize| {
        if let Some(i) = review.with_value(|r| r.clamp(i)) {
            selected.set(i);
            editing.set(None);
        }
    });
    let filter = RwSignal::new(Filter::default());
    let shown = Memo::new(move |_| {
        filter.with(|f| draft.with(|d| review.with_value(|r| r.matching(d, f))))
    });
    // A filter that hides the selected change selects the first it shows.
    Effect::new(move |_| {
        shown.with(|s| {
            if !s.is_empty() && !s.contains(&selected.get_untracked()) {
                select.run(s[0]);
            }
        })
    });
    // Accept or reject what a filter shows, into the draft: one kind, one
    // search, at once. Flagged changes are left to their own decisions.
    let decide_shown = Callback::new(move |decision: Decision| {
        edit_draft(&|r, draft| shown.with_untracked(|s| r.decide_shown(draft, s, &decision) > 0))
    });
    let next_undecided = Callback::new(move |from: usize| {
        let next = review.with_value(|r| {
            draft.with_untracked(|d| shown.with_untracked(|s| r.next_undecided(d, s, from)))
        });
        if let Some(i) = next {
            select.run(i);
        }
    });

    listen_for_keys(KeyTargets {
        selected,
        shown,
        select,
        next_undecided,
        decide,
        start_edit,
        help,
        editing,
        confirm,
    });

    let submit = {
        let pid = pid.clone();
        let store = proposal.brief.store_id.clone();
        move |decisions: Draft, rest: Rest, reason: Option<String>| {
            let submission = Submission::new(&pid, decisions, rest, reason);
            notice.set(Some((true, "Sending…".into())));
            let (store, proposal) = (store.clone(), pid.clone());
            leptos::task::spawn_local(async move {
                match sync.submit(submission).await {
                    Sent::Applied { status, version, accepted } => {
                        notice.set(Some((
                            true,
                            format!(
                                "Done: the proposal is {}, the store at version {version}.",
                                status.as_str().replace('_', " ")
                            ),
                        )));
                        if accepted > 0 {
                            offer_undo(undo, Undo { store, version, proposal });
                        }
                        reload.update(|n| *n += 1);
                    }
                    Sent::Queued => notice.set(Some((
                        true,
                        "Saved on this device: it will be sent when the connection is back.".into(),
                    ))),
                    Sent::Conflict(ids) => notice.set(Some((
                        false,
                        format!("The store moved: {} change(s) need another look.", ids.len()),
                    ))),
                    Sent::Refused(m) => notice.set(Some((false, m))),
                }
            });
        }
    };
    let conflicts = {
        let pid = pid.clone();
        Memo::new(move |_| match sync.submission(&pid) {
            Some(Submission { state: State::Conflict { changes, .. }, .. }) => changes,
            _ => Vec::new(),
        })
    };
    let refused = {
        let pid = pid.clone();
        Memo::new(move |_| match sync.submission(&pid) {
            Some(Submission { state: State::Refused { message }, .. }) => Some(message),
            _ => None,
        })
    };
    // A conflict found while syncing replaces the "saved on this device"
    // message: the banner says what happened.
    Effect::new(move |_| {
        if !conflicts.get().is_empty() {
            notice.set(None);
        }
    });
    let reject_reason = RwSignal::new(String::new());
    let rest = RwSignal::new(Rest::Pending);

    let submit_draft = {
        let submit = submit.clone();
        move |_| submit(draft.get_untracked(), rest.get_untracked(), None)
    };
    // Bulk decisions take every pending change, also those beyond the ones
    // loaded here, once confirmed; an approval leaves each change with a
    // flag of its own to its own decision.
    let confirmed = {
        let submit = submit.clone();
        Callback::new(move |action: BulkAction| {
            confirm.set(None);
            match action {
                BulkAction::Approve => submit(Draft::new(), Rest::AcceptUnflagged, None),
                BulkAction::Reject => {
                    let reason = reject_reason.get_untracked().trim().to_string();
                    submit(Draft::new(), Rest::Reject, Some(reason).filter(|r| !r.is_empty()))
                }
            }
        })
    };
    let approve_all = move |_| confirm.set(Some(BulkAction::Approve));
    let reject_all = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        confirm.set(Some(BulkAction::Reject));
    };
    // Forgets this proposal's submission on the device, once its conflict
    // or refusal has been seen.
    let dismiss = {
        let pid = pid.clone();
        move || {
            let pid = pid.clone();
            leptos::task::spawn_local(async move { sync.dismiss(&pid).await });
        }
    };
    // The conflicting changes leave the submission (and stay pending, to
    // be looked at again); the others are decided as before: with nothing
    // decided one by one, that was "accept all".
    let set_aside = {
        let persist = persist.clone();
        let dismiss = dismiss.clone();
        let pid = pid.clone();
        move |_| {
            let ids = conflicts.get_untracked();
            let bulk = sync.submission(&pid).and_then(|s| s.bulk_accept());
            review.with_value(|r| draft.update(|d| r.set_aside(d, &ids, bulk)));
            rest.set(Rest::Pending);
            persist();
            dismiss();
            notice.set(Some((
                true,
                format!("{} conflicting change(s) set aside; submit to apply the rest.", ids.len()),
            )));
        }
    };
    let dismiss_refused = dismiss.clone();
    let warnings = proposal_warnings(&proposal.changes);
    let more = (proposal.brief.change_count as usize).saturating_sub(count);

    view! {
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="#/">"Agents"</a>" › "<a href=format!("#/agents/{agent}")>{agent.clone()}</a>" › "{pid.clone()}
        </nav>
        <section class="review" aria-labelledby="review-title" data-testid="review">
            <header class="review-head">
                <ProposalHead brief=proposal.brief.clone() warnings source/>
                {move || {
                    let ids = conflicts.get();
                    (!ids.is_empty()).then(|| {
                        let dismiss = dismiss.clone();
                        view! {
                            <div class="banner conflict" role="alert" data-testid="conflict-banner">
                                <strong>"The store moved since this proposal was made."</strong>
                                {format!(" These changes touch entries that changed meanwhile: {}. Look at them again, then submit again. ", ids.join(", "))}
                                <button data-testid="set-aside" on:click=set_aside.clone()>"Set the conflicting changes aside"</button>
                                " "
                                <button class="link" on:click=move |_| dismiss()>"Dismiss"</button>
                            </div>
                        }
                    })
                }}
                {move || refused.get().map(|m| {
                    let dismiss = dismiss_refused.clone();
                    view! {
                        <div class="banner conflict" role="alert" data-testid="refused-banner">
                            <strong>"Your decisions were refused: "</strong>{m}" "
                            <button class="link" on:click=move |_| dismiss()>"Dismiss"</button>
                        </div>
                    }
                })}
                {move || notice.get().map(|(ok, m)| view! {
                    <p class=if ok { "notice" } else { "notice error" } role="status" data-testid="review-notice">{m}</p>
                })}
                {move || undo.get().map(|u| view! {
                    <p class="notice">
                        <button data-testid="undo" on:click=move |_| run_undo(u.clone(), undo, notice, reload)>
                            {format!("Undo (back to version {})", u.version - 1)}
                        </button>
                        <span class="muted">" · a new version equal to the one before this review; the history stays"</span>
                    </p>
                })}
                {open.then(|| view! {
                    <div class="actions" data-testid="proposal-actions">
                        <button data-testid="approve-all" on:click=approve_all disabled=loading_rest>"Approve all"</button>
                        <form class="inline" on:submit=reject_all>
                            <label for="reject-reason" class="sr-only">"Reason for rejecting"</label>
                            <input id="reject-reason" maxlength="2000" placeholder="Reason (e.g. too aggressive)"
                                prop:value=move || reject_reason.get() on:input=move |ev| reject_reason.set(event_target_value(&ev))/>
                            <button type="submit" data-testid="reject-all" disabled=loading_rest>"Reject all"</button>
                        </form>
                        <span class="submit-group">
                            <button data-testid="submit-partial" on:click=submit_draft disabled=move || draft.with(|d| d.is_empty())>
                                {move || format!("Submit {} decision(s)", draft.with(|d| d.len()))}
                            </button>
                            <label><input type="radio" name="rest" prop:checked=move || rest.get() == Rest::Pending on:change=move |_| rest.set(Rest::Pending)/>" leave the rest for later"</label>
                            <label><input type="radio" name="rest" prop:checked=move || rest.get() == Rest::Reject on:change=move |_| rest.set(Rest::Reject)/>" reject the rest"</label>
                        </span>
                        <button class="link" on:click=move |_| help.update(|h| *h = !*h)>"Keys (?)"</button>
                        <button class="link" data-testid="preview-memory" aria-pressed=move || previewing.get().to_string()
                            on:click=move |_| previewing.update(|p| *p = !*p)>"Memory after"</button>
                    </div>
                })}
            </header>

            {(proposal.brief.change_count as usize > count).then(|| view! {
                <p class="banner" role="note" data-testid="partial-note">{if loading_rest {
                    format!("Showing the first {count} of {} changes; the others are on their way.", proposal.brief.change_count)
                } else {
                    format!(
                        "Showing the first {count} of {} changes: the service sends at most 10,000 at a time.",
                        proposal.brief.change_count
                    )
                }}</p>
            })}
            {if count == 0 {
                view! { <p class="empty-state" data-testid="no-changes">"Nothing to consolidate: this pass found no changes to propose."</p> }.into_any()
            } else {
                view! {
                    <div class="review-body">
                        <div class="list-column">
                            <FilterBar filter review draft shown decide_shown open/>
                            <ChangeList changes shown selected decision_of conflicts select/>
                        </div>
                        <ChangeDetail changes selected select decision_of decide comment editing start_edit open agent=agent.clone()
                            proposal_id=pid.clone() store=proposal.brief.store_id.clone() reload notice/>
                    </div>
                }.into_any()
            }}
            {let (store, made_at) = (proposal.brief.store_id.clone(), proposal.brief.created_at); move || previewing.get().then(|| view! {
                <MemoryAfter store=store.clone() made_at changes draft/>
            })}
            {move || help.get().then(|| view! { <Help close=move || help.set(false)/> })}
            {move || confirm.get().map(|action| view! {
                <ConfirmBulk action bulk=review.with_value(Review::bulk) changes more confirmed
                    cancel=Callback::new(move |()| confirm.set(None))/>
            })}
        </section>
    }
}

/// The proposal's title, state and summary, and what is said about it as
/// a whole (once, not per change).
#[component]
fn ProposalHead(
    brief: api::ProposalBrief,
    warnings: Vec<(RiskKind, String)>,
    source: RwSignal<Source>,
) -> impl IntoView {
    let counts: Vec<(String, u32)> =
        brief.summary.counts.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let (tokens_in, tokens_out) = (brief.token_cost.input_tokens, brief.token_cost.output_tokens);
    let (deferred, waiting) = (brief.summary.deferred, brief.summary.waiting);
    // Priced at the default model's rates; the pass records its own cost.
    let cost = (tokens_in as f64 * 3.0 + tokens_out as f64 * 15.0) / 1e6;
    let history = format!("#/stores/{}/history", brief.store_id);
    let meta = format!(
        " · store {} at version {} · {} · ",
        brief.store_id,
        brief.base_version,
        utc(brief.created_at)
    );
    view! {
        <h1 id="review-title">"Proposal "<span class="mono">{brief.id.clone()}</span></h1>
        <SourceNote source/>
        <p class="meta">
            <span class=format!("status {}", brief.status) data-testid="proposal-status">{brief.status.as_str().replace('_', " ")}</span>
            {meta}
            <a href=history>"history"</a>
        </p>
        {(!warnings.is_empty()).then(|| view! {
            <ul class="warnings" aria-label="About the whole proposal" data-testid="proposal-warnings">
                {warnings.into_iter().map(|(kind, said)| view! {
                    <li><strong>{risk_label(kind)}</strong>": "{said}</li>
                }).collect_view()}
            </ul>
        })}
        <ul class="chips" aria-label="Changes by kind" data-testid="summary">
            {counts.into_iter().map(|(k, n)| view! { <li class=format!("kind {k}")>{format!("{k} {n}")}</li> }).collect_view()}
            <li>{format!("{} {}", brief.change_count, if brief.change_count == 1 { "change" } else { "changes" })}</li>
            // A rules-only pass spent nothing: no token count to show.
            {(tokens_in + tokens_out > 0).then(|| view! {
                <li title="Model tokens spent on this proposal">{format!("{tokens_in} + {tokens_out} tokens")}</li>
                <li title="At Sonnet prices">{format!("≈ ${cost:.4}")}</li>
            })}
        </ul>
        {(deferred > 0).then(|| view! {
            <p class="muted" data-testid="deferred">{format!(
                "The pass found {deferred} more change(s) than one proposal holds; the next pass proposes them."
            )}</p>
        })}
        {(waiting > 0).then(|| view! {
            <p class="muted" data-testid="waiting">{format!(
                "{waiting} change(s) of earlier proposals were still waiting for a decision: this pass left the entries they touch to them."
            )}</p>
        })}
    }
}

/// What the review screen's keys act on.
#[derive(Clone, Copy)]
struct KeyTargets {
    selected: RwSignal<usize>,
    shown: Memo<Vec<usize>>,
    select: Callback<usize>,
    next_undecided: Callback<usize>,
    decide: Callback<(usize, Option<Decision>)>,
    start_edit: Callback<usize>,
    help: RwSignal<bool>,
    editing: RwSignal<Option<String>>,
    confirm: RwSignal<Option<BulkAction>>,
}

/// Keyboard, while the review is on screen: j/k move, a accept, r reject,
/// e edit, ? help, Esc closes what is open.
fn listen_for_keys(t: KeyTargets) {
    // The change j (forward) or k lands on, among those shown.
    let step = move |i: usize, forward: bool| {
        if let Some(next) = t.shown.with_untracked(|s| step(s, i, forward)) {
            t.select.run(next);
        }
    };
    let handle = window_event_listener(leptos::ev::keydown, move |ev: web_sys::KeyboardEvent| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let typing = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        if ev.key() == "Escape" {
            t.help.set(false);
            t.editing.set(None);
            t.confirm.set(None);
            return;
        }
        // While a bulk decision waits for its confirmation, a key
        // decides nothing behind it.
        if typing || t.confirm.get_untracked().is_some() {
            return;
        }
        // Arrows move through the list only from inside it (elsewhere they
        // scroll the page); letters only while shortcuts are on.
        let key = ev.key();
        if key.starts_with("Arrow") {
            let in_list = ev
                .target()
                .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
                .is_some_and(|el| el.closest(".change-list").ok().flatten().is_some());
            if !in_list {
                return;
            }
        } else if !shortcuts_on() {
            return;
        }
        let i = t.selected.get_untracked();
        match Key::of(&ev.key()) {
            Some(Key::Next) => step(i, true),
            Some(Key::Previous) => step(i, false),
            Some(Key::NextUndecided) => t.next_undecided.run(i),
            Some(Key::Accept) => {
                t.decide.run((i, Some(Decision::ACCEPT)));
                step(i, true);
            }
            Some(Key::Reject) => {
                t.decide.run((i, Some(Decision::Reject { reason: None })));
                step(i, true);
            }
            Some(Key::Edit) => t.start_edit.run(i),
            Some(Key::Help) => t.help.update(|h| *h = !*h),
            None => return,
        }
        ev.prevent_default();
    });
    on_cleanup(move || handle.remove());
}

const SHORTCUTS_KEY: &str = "reverie.shortcuts";

/// Whether single-key shortcuts are on (they are unless turned off on
/// this device: WCAG 2.1.4).
fn shortcuts_on() -> bool {
    let stored =
        window().local_storage().ok().flatten().and_then(|s| s.get_item(SHORTCUTS_KEY).ok());
    stored.flatten().as_deref() != Some("off")
}

fn set_shortcuts(on: bool) {
    if let Ok(Some(s)) = window().local_storage() {
        let _ = s.set_item(SHORTCUTS_KEY, if on { "on" } else { "off" });
    }
}

/// A submitted review that made store version `version`: undone by a
/// rollback to the version before, decided on `version`.
#[derive(Clone, Debug, PartialEq)]
struct Undo {
    store: String,
    version: i64,
    proposal: String,
}

/// How long a submitted review may be undone from its page.
const UNDO_MS: u64 = 60_000;

/// Offers `u` for a minute (a later offer replaces it).
fn offer_undo(undo: RwSignal<Option<Undo>>, u: Undo) {
    undo.try_set(Some(u.clone()));
    set_timeout(
        move || {
            if undo.try_get_untracked().flatten().as_ref() == Some(&u) {
                undo.try_set(None);
            }
        },
        std::time::Duration::from_millis(UNDO_MS),
    );
}

/// Rolls the store back to the version before the review: a new version;
/// a store that moved meanwhile is a 409, said, and nothing is undone.
fn run_undo(
    u: Undo,
    undo: RwSignal<Option<Undo>>,
    notice: RwSignal<Option<(bool, String)>>,
    reload: RwSignal<u32>,
) {
    undo.set(None);
    leptos::task::spawn_local(async move {
        let why = format!("undo of the review of {}", u.proposal);
        match api::rollback(&u.store, u.version - 1, Some(u.version), &why).await {
            Ok(r) => {
                notice.try_set(Some((
                    true,
                    format!(
                        "Undone: version {} equals version {}; the history keeps both.",
                        r.version,
                        u.version - 1
                    ),
                )));
                reload.try_update(|n| *n += 1);
            }
            Err(e) => {
                notice.try_set(Some((false, format!("Not undone: {e}"))));
            }
        }
    });
}

/// A decision on every pending change at once.
#[derive(Clone, Copy, Debug, PartialEq)]
enum BulkAction {
    Approve,
    Reject,
}

/// What a bulk decision would do, for the reviewer to confirm: the pending
/// changes by kind and, for an approval, the flagged changes it leaves to
/// their own decisions.
#[component]
fn ConfirmBulk(
    action: BulkAction,
    bulk: reverie_web_state::Bulk,
    changes: StoredValue<Vec<ChangeView>>,
    /// Changes of the proposal not loaded on this page.
    more: usize,
    confirmed: Callback<BulkAction>,
    cancel: Callback<()>,
) -> impl IntoView {
    let kinds = bulk
        .by_kind
        .iter()
        .map(|(k, n)| format!("{n} {}", k.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let beyond = (more > 0).then(|| format!(" (and {more} more not shown here)"));
    let (title, button, n) = match action {
        BulkAction::Approve => ("Approve the pending changes?", "Approve", bulk.approvable()),
        BulkAction::Reject => ("Reject every pending change?", "Reject", bulk.pending),
    };
    let flagged: Vec<(String, String, String)> = changes.with_value(|c| {
        bulk.flagged
            .iter()
            .map(|&i| {
                let c = &c[i];
                let flags: Vec<&str> = own_flags(c).map(|r| risk_label(r.kind)).collect();
                (c.change.id.to_string(), flags.join(", "), headline(c))
            })
            .collect()
    });
    let testid = match action {
        BulkAction::Approve => "confirm-approve",
        BulkAction::Reject => "confirm-reject",
    };
    request_animation_frame(|| focus("confirm-cancel"));
    view! {
        <div class="dialog-backdrop">
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="confirm-title" data-testid="confirm-bulk">
                <h3 id="confirm-title">{title}</h3>
                <p data-testid="confirm-counts">{format!("{} pending: {kinds}", bulk.pending)}{beyond}</p>
                {(action == BulkAction::Approve && !flagged.is_empty()).then(|| view! {
                    <p class="warning">{format!(
                        "{} flagged change(s) need a decision of their own and stay pending:",
                        flagged.len()
                    )}</p>
                    <ul class="flagged" data-testid="confirm-flagged">
                        {flagged.into_iter().map(|(id, flags, line)| view! {
                            <li><span class="mono">{id}</span>" "<strong>{flags}</strong>" — "{line}</li>
                        }).collect_view()}
                    </ul>
                })}
                <div class="form-actions">
                    <button data-testid=testid disabled=n == 0 on:click=move |_| confirmed.run(action)>
                        {if n == 0 {
                            "Nothing to decide in bulk: decide each flagged change on its own".to_string()
                        } else {
                            format!("{button} {n} change(s)")
                        }}
                    </button>
                    <button id="confirm-cancel" class="link" data-testid="confirm-cancel" on:click=move |_| cancel.run(())>"Cancel"</button>
                </div>
            </div>
        </div>
    }
}

fn focus(id: &str) {
    if let Some(el) = document().get_element_by_id(id) {
        if let Ok(el) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el) {
            let _ = el.focus();
        }
    }
}

/// The list of changes, rendering only the rows in view.
#[component]
fn ChangeList(
    changes: StoredValue<Vec<ChangeView>>,
    /// The changes the filter lets through, in order.
    shown: Memo<Vec<usize>>,
    selected: RwSignal<usize>,
    decision_of: impl Fn(usize) -> Option<(Decision, bool)> + Copy + Send + Sync + 'static,
    conflicts: Memo<Vec<String>>,
    select: Callback<usize>,
) -> impl IntoView {
    let count = move || shown.with(Vec::len);
    let scroll = RwSignal::new(0.0f64);
    let height = RwSignal::new(600.0f64);
    let list = NodeRef::<html::Div>::new();
    let measure = move || {
        if let Some(el) = list.get_untracked() {
            scroll.set(f64::from(el.scroll_top()));
            height.set(f64::from(el.client_height()).max(ROW));
        }
    };
    Effect::new(move |_| {
        if list.get().is_some() {
            measure();
        }
    });
    // Keep the selected row in view when the keyboard moves it.
    Effect::new(move |_| {
        let Some(i) = shown.with(|s| s.iter().position(|&i| i == selected.get())) else {
            return;
        };
        let i = i as f64;
        if let Some(el) = list.get_untracked() {
            let (top, h) = (f64::from(el.scroll_top()), f64::from(el.client_height()));
            if i * ROW < top {
                el.set_scroll_top((i * ROW) as i32);
            } else if (i + 1.0) * ROW > top + h {
                el.set_scroll_top(((i + 1.0) * ROW - h) as i32);
            }
        }
    });
    // The rows in view: (place in the list, change).
    let window_rows = move || {
        let first = ((scroll.get() / ROW).floor() as usize).saturating_sub(OVERSCAN);
        let last = (((scroll.get() + height.get()) / ROW).ceil() as usize + OVERSCAN).min(count());
        shown.with(|s| (first..last).map(|p| (p, s[p])).collect::<Vec<_>>())
    };
    view! {
        <div class="change-list" node_ref=list on:scroll=move |_| measure() role="listbox" tabindex="0"
            aria-label=move || format!("{} changes; j and k move, n goes to the next undecided", count()) data-testid="change-list"
            aria-activedescendant=move || format!("change-row-{}", selected.get())>
            {move || (count() == 0).then(|| view! { <p class="empty-state" data-testid="no-match">"No change matches the filter."</p> })}
            <div class="rows" style=move || format!("height: {}px", count() as f64 * ROW)>
                <For each=window_rows key=|pair| *pair let:pair>
                    {let (p, i) = pair;
                    {changes.with_value(|c| {
                        let c = &c[i];
                        let id = c.change.id.to_string();
                        let kind = kind_label(c.change.kind);
                        let badges: Vec<(&str, &str)> = own_flags(c).map(|r| risk_badge(r.kind)).collect();
                        let line = headline(c);
                        let confidence = format!("{:.0}%", c.change.confidence * 100.0);
                        let conflict_id = id.clone();
                        view! {
                            <div class="row" role="option" id=format!("change-row-{i}") data-testid="change-row"
                                data-change=id.clone()
                                style=format!("top: {}px; height: {}px", p as f64 * ROW, ROW)
                                aria-selected=move || (selected.get() == i).to_string()
                                class:selected=move || selected.get() == i
                                on:click=move |_| select.run(i)>
                                <span class=format!("kind {kind}")>{kind}</span>
                                <span class="risks">
                                    {badges.into_iter().map(|(word, tone)| view! {
                                        <span class=format!("badge risk {tone}") data-testid="risk-badge">{word}</span>
                                    }).collect_view()}
                                </span>
                                <span class="line">{move || match decision_of(i) {
                                    Some((Decision::Edit { text, .. }, _)) => format!("edited · {text}"),
                                    _ => line.clone(),
                                }}</span>
                                <span class="conf">{confidence}</span>
                                <span class="state">
                                    {move || conflicts.with(|c| c.contains(&conflict_id)).then(|| view! { <span class="badge conflict">"conflict"</span> })}
                                    {move || decision_of(i).map(|(d, done)| view! {
                                        <span class=format!("decision {}{}", decision_name(&d), if done { " done" } else { "" })>
                                            {decision_name(&d)}
                                        </span>
                                    })}
                                </span>
                            </div>
                        }
                    })}}
                </For>
            </div>
        </div>
    }
}

/// Narrows the list by kind, flag, decision and words, and says how far
/// the review has come.
#[component]
fn FilterBar(
    filter: RwSignal<Filter>,
    review: StoredValue<Review>,
    draft: RwSignal<Draft>,
    shown: Memo<Vec<usize>>,
    decide_shown: Callback<Decision>,
    /// Whether the reviewer may decide.
    open: bool,
) -> impl IntoView {
    let kinds: Vec<ChangeKind> = review.with_value(|r| r.kinds());
    let progress = move || {
        let (done, all) = draft.with(|d| review.with_value(|r| r.progress(d)));
        let showing = (!filter.with(Filter::is_empty))
            .then(|| format!(" · showing {} of {all}", shown.with(Vec::len)));
        format!("{done} of {all} decided{}", showing.unwrap_or_default())
    };
    view! {
        <div class="filters" role="search" aria-label="Filter the changes" data-testid="filters">
            <label class="sr-only" for="filter-kind">"Kind"</label>
            <select id="filter-kind" data-testid="filter-kind" on:change=move |ev| {
                let v = event_target_value(&ev);
                filter.update(|f| f.kind = ChangeKind::ALL.into_iter().find(|k| k.as_str() == v));
            }>
                <option value="">"Every kind"</option>
                {kinds.into_iter().map(|k| view! { <option value=k.as_str()>{k.as_str()}</option> }).collect_view()}
            </select>
            <YesNo id="filter-flag" label="Risk" words=["Flagged or not", "Flagged", "Not flagged"]
                set=Callback::new(move |v| filter.update(|f| f.flagged = v))/>
            <YesNo id="filter-decided" label="Decision" words=["Decided or not", "Decided", "Undecided"]
                set=Callback::new(move |v| filter.update(|f| f.decided = v))/>
            <label class="sr-only" for="filter-search">"Search the texts"</label>
            <input id="filter-search" type="search" placeholder="Search" data-testid="filter-search"
                on:input=move |ev| { let v = event_target_value(&ev); filter.update(|f| f.search = v); }/>
            <span class="progress" role="status" data-testid="progress">{progress}</span>
            {move || (open && !filter.with(Filter::is_empty) && !shown.with(Vec::is_empty)).then(|| view! {
                <span class="shown-actions">
                    <button class="link" data-testid="accept-shown" on:click=move |_| decide_shown.run(Decision::ACCEPT)>
                        "Accept the shown"
                    </button>
                    " · "
                    <button class="link" data-testid="reject-shown" on:click=move |_| decide_shown.run(Decision::Reject { reason: None })>
                        "Reject the shown"
                    </button>
                    <span class="muted">" (flagged ones stay for their own decision)"</span>
                </span>
            })}
        </div>
    }
}

/// A filter of three choices: either, yes, no (`words` in that order).
#[component]
fn YesNo(
    id: &'static str,
    label: &'static str,
    words: [&'static str; 3],
    set: Callback<Option<bool>>,
) -> impl IntoView {
    let [either, yes, no] = words;
    view! {
        <label class="sr-only" for=id>{label}</label>
        <select id=id data-testid=id on:change=move |ev| {
            set.run(match event_target_value(&ev).as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            })
        }>
            <option value="">{either}</option>
            <option value="yes">{yes}</option>
            <option value="no">{no}</option>
        </select>
    }
}

/// The store as the decisions so far would leave it (see
/// `reverie_web_state::preview`): its active entries (the first 5,000),
/// each marked reworded, new or retired by the change that does it, or
/// only those, as the reviewer chooses.
#[component]
fn MemoryAfter(
    store: String,
    /// When the pass ran: results made since are new entries.
    made_at: i64,
    changes: StoredValue<Vec<ChangeView>>,
    draft: RwSignal<Draft>,
) -> impl IntoView {
    use reverie_web_state::preview::{memory_after, Mark};
    // The first 5,000 active entries; for a larger store, its count too
    // (the entries the changes touch come with the changes).
    let entries = LocalResource::new(move || {
        let store = store.clone();
        async move {
            let page = api::get::<api::EntryPage>(&format!(
                "/api/v1/stores/{store}/entries?status=active&limit=5000"
            ))
            .await?;
            let active = match page.next_after {
                Some(_) => Some(api::store(&store).await?.active_entries),
                None => None,
            };
            Ok::<_, api::ApiError>((page, active))
        }
    });
    let only_changed = RwSignal::new(true);
    view! {
        <section class="panel memory-after" aria-labelledby="memory-after-title" data-testid="memory-after">
            <h3 id="memory-after-title">"Memory after these decisions"</h3>
            <label class="toggle"><input type="checkbox" data-testid="only-changed" prop:checked=move || only_changed.get()
                on:change=move |ev| only_changed.set(event_target_checked(&ev))/>" only what changes"</label>
            {move || match entries.get() {
                None => view! { <p class="muted">"Reading the store…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{format!("The store could not be read: {e}")}</p> }.into_any(),
                Some(Ok((page, active))) => {
                    let rows = draft.with(|d| changes.with_value(|c| memory_after(&page.entries, c, d, made_at)));
                    let count = |f: fn(&Mark) -> bool| rows.iter().filter(|r| f(&r.mark)).count();
                    let (retired, new) = (count(|m| matches!(m, Mark::Retired { .. })), count(|m| matches!(m, Mark::New { .. })));
                    let after = match active {
                        Some(n) => (n.max(0) as usize + new).saturating_sub(retired),
                        None => rows.len() - retired,
                    };
                    let summary = format!(
                        "{after} entries after ({} reworded, {new} new, {retired} retired){}.",
                        count(|m| matches!(m, Mark::Reworded { .. })),
                        if active.is_some() { "; listed: the store's first 5,000 entries and every entry a change touches" } else { "" }
                    );
                    let shown: Vec<_> = rows
                        .into_iter()
                        .filter(|r| !only_changed.get() || r.mark != Mark::Kept)
                        .collect();
                    view! {
                        <p data-testid="memory-after-summary">{summary}</p>
                        <ul class="entries">
                            {shown.into_iter().map(|r| {
                                let (class, said) = match &r.mark {
                                    Mark::Kept => ("kept", String::new()),
                                    Mark::Reworded { by } => ("reworded", format!("reworded by {by}")),
                                    Mark::New { by } => ("new", format!("new, by {by}")),
                                    Mark::Retired { by } => ("retired", format!("retired by {by}")),
                                };
                                view! {
                                    <li class=class data-testid="memory-after-row" data-mark=class>
                                        <span class="mono muted">{r.id}</span>" "
                                        {if class == "retired" { view! { <del>{r.text}</del> }.into_any() } else { view! { <span>{r.text}</span> }.into_any() }}
                                        {(!said.is_empty()).then(|| view! { " " <span class="badge">{said}</span> })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// Undoing an applied change on its own: a reason, then a new version
/// with its entries as they were (see `api::revert_change`), decided on
/// the store's version read when the form opens.
#[component]
fn UndoChange(
    proposal_id: String,
    change_id: String,
    store: String,
    reload: RwSignal<u32>,
    notice: RwSignal<Option<(bool, String)>>,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let seen = RwSignal::new(None::<i64>);
    let reason = RwSignal::new(String::new());
    let failed = RwSignal::new(None::<String>);
    let open = move |_| {
        let store = store.clone();
        asking.set(true);
        seen.set(None);
        failed.set(None);
        leptos::task::spawn_local(async move {
            match api::store(&store).await {
                Ok(s) => seen.set(Some(s.version)),
                Err(e) => failed.set(Some(e.to_string())),
            }
        });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(version) = seen.get_untracked() else { return };
        let (proposal, change) = (proposal_id.clone(), change_id.clone());
        let why = reason.get_untracked();
        leptos::task::spawn_local(async move {
            match api::revert_change(&proposal, &change, version, why.trim()).await {
                Ok(r) => {
                    notice.set(Some((
                        true,
                        format!(
                            "Undid {change}: version {} has its {} entries as they were.",
                            r.version, r.entries_changed
                        ),
                    )));
                    asking.set(false);
                    reload.update(|n| *n += 1);
                }
                Err(e) => failed.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <div class="undo-change">
            {move || if asking.get() {
                let submit = submit.clone();
                view! {
                    <form class="confirm" on:submit=submit role="alertdialog" aria-label="Undo this change" data-testid="undo-change-form">
                        <p>"Put the entries this change touched back as they were before it, as a new version? The history stays."</p>
                        <p class="muted" data-testid="undo-change-version">{move || match seen.get() {
                            Some(v) => format!("Memory is at version {v} now; undoing makes version {}.", v + 1),
                            None => "Reading the store's version…".to_string(),
                        }}</p>
                        <label for="undo-reason">"Reason (kept in the audit log)"</label>
                        <input id="undo-reason" required maxlength="500" data-testid="undo-change-reason"
                            prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/>
                        <button type="submit" data-testid="confirm-undo-change"
                            disabled=move || seen.get().is_none() || reason.with(|r| r.trim().is_empty())>"Undo the change"</button>
                        <button type="button" class="link" on:click=move |_| asking.set(false)>"Cancel"</button>
                        {move || failed.get().map(|m| view! { <p class="error" role="alert" data-testid="undo-change-error">{m}</p> })}
                    </form>
                }.into_any()
            } else {
                let open = open.clone();
                view! {
                    <button class="link" data-testid="undo-change" on:click=open>"Undo this change…"</button>
                }.into_any()
            }}
        </div>
    }
}

/// `spans` (a word diff) in one text, deletions struck and insertions
/// marked; or, `side` by side, the text before with its deletions beside
/// the text after with its insertions.
#[component]
fn TextDiff(spans: Vec<DiffSpan>, side: bool) -> impl IntoView {
    if !side {
        return view! { <Diff spans/> }.into_any();
    }
    let only = |drop: DiffTag| spans.iter().filter(|s| s.tag != drop).cloned().collect::<Vec<_>>();
    let (left, right) = (only(DiffTag::Insert), only(DiffTag::Delete));
    view! {
        <div class="side-by-side" data-testid="side-by-side">
            <div><span class="muted">"before"</span><Diff spans=left/></div>
            <div><span class="muted">"after"</span><Diff spans=right/></div>
        </div>
    }
    .into_any()
}

/// The selected change in full, with the reviewer's actions.
#[component]
fn ChangeDetail(
    changes: StoredValue<Vec<ChangeView>>,
    selected: RwSignal<usize>,
    select: Callback<usize>,
    decision_of: impl Fn(usize) -> Option<(Decision, bool)> + Copy + Send + Sync + 'static,
    decide: Callback<(usize, Option<Decision>)>,
    comment: Callback<(usize, String)>,
    editing: RwSignal<Option<String>>,
    start_edit: Callback<usize>,
    open: bool,
    agent: String,
    proposal_id: String,
    store: String,
    reload: RwSignal<u32>,
    notice: RwSignal<Option<(bool, String)>>,
) -> impl IntoView {
    // Kept from change to change while the review is open.
    let side_by_side = RwSignal::new(false);
    let related_index = StoredValue::new(None::<reverie_web_state::Related>);
    let session = expect_context::<Session>();
    move || {
        let i = selected.get();
        let Some(c) = changes.with_value(|c| c.get(i).cloned()) else { return ().into_any() };
        let before_text = c.before.iter().map(|e| e.text.as_str()).collect::<Vec<_>>().join("\n");
        let result = c.change.result.clone();
        let locked = c.decision.is_some();
        let id = c.change.id.to_string();

        let before_for_edit = before_text.clone();
        view! {
            <article class="change-detail" aria-labelledby="change-title" data-testid="change-detail">
                <h3 id="change-title">
                    <span class=format!("kind {}", kind_label(c.change.kind))>{kind_label(c.change.kind)}</span>
                    " " <span class="mono">{id.clone()}</span>
                    <span class="muted">{format!(" · {} of {}", i + 1, changes.with_value(|c| c.len()))}</span>
                </h3>
                {(own_flags(&c).count() > 0).then(|| view! {
                    <div class="banner risk" role="note" data-testid="risk-flags">
                        <strong>"Risk flags: decide this change on its own"</strong>
                        <ul>
                            {own_flags(&c).map(|r| view! {
                                <li><strong>{risk_label(r.kind)}</strong>": "{r.detail.clone()}</li>
                            }).collect_view()}
                        </ul>
                    </div>
                })}
                <p class="justification">{c.change.justification.clone()}</p>
                {
                    // Read once, at the first change opened.
                    if related_index.with_value(Option::is_none) {
                        related_index.set_value(Some(changes.with_value(|all| reverie_web_state::Related::new(all))));
                    }
                    let related = related_index.with_value(|r| r.as_ref().map(|r| r.of(i)).unwrap_or_default());
                    (!related.is_empty()).then(|| view! {
                        <p class="related" data-testid="related">
                            "Related: "
                            {related.into_iter().map(|(j, shared)| {
                                let (id, kind) = changes.with_value(|all| {
                                    (all[j].change.id.to_string(), kind_label(all[j].change.kind))
                                });
                                view! {
                                    <button class="link" data-testid="related-change"
                                        on:click=move |_| select.run(j)>
                                        {format!("{id} ({kind}, {shared})")}
                                    </button>" "
                                }
                            }).collect_view()}
                        </p>
                    })
                }
                <p class="muted">
                    {format!("Confidence {:.0}%", c.change.confidence * 100.0)}
                    {c.change.sessions_seen.map(|n| format!(" · seen in {n} sessions"))}
                    {c.change.made_by.as_ref().map(|m| view! {
                        <span data-testid="made-by">{made_by_text(m)}</span>
                    })}
                </p>
                <h4>"Before"</h4>
                {if c.before.is_empty() {
                    view! { <p class="muted">"A new entry."</p> }.into_any()
                } else {
                    view! {
                        <ul class="entries">
                            {c.before.iter().map(|e| view! {
                                <li>
                                    <span class="mono muted">{e.id.to_string()}</span>" "{e.text.clone()}
                                    <br/><span class="entry-meta muted" data-testid="entry-meta">{entry_meta(e)}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                <h4 class="after-head">"After"
                    <label class="toggle">
                        <input type="checkbox" data-testid="side-by-side-toggle" prop:checked=move || side_by_side.get()
                            on:change=move |ev| side_by_side.set(event_target_checked(&ev))/>
                        " side by side"
                    </label>
                </h4>
                {
                    let (proposed, before) = (c.diff.clone(), before_text.clone());
                    let retires = result.is_none();
                    // Each entry a merge joins, against the text it keeps (none
                    // for an entry holding that text word for word), and
                    // whether it is the entry kept.
                    let merged: Vec<(String, bool, Option<Vec<DiffSpan>>)> = match &result {
                        Some(r) if c.before.len() > 1 => c
                            .before
                            .iter()
                            .map(|e| {
                                let same = e.text == r.text;
                                let diff = (!same).then(|| word_diff(&e.text, &r.text));
                                (e.id.to_string(), e.id == r.id, diff)
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    // The reviewer's wording, once edited, is what applies.
                    move || {
                        let side = side_by_side.get();
                        match decision_of(i) {
                            Some((Decision::Edit { text, .. }, _)) => view! {
                                <p class="muted" data-testid="after-edited">"Your wording:"</p>
                                <TextDiff spans=word_diff(&before, &text) side/>
                            }.into_any(),
                            _ if retires => view! { <p class="muted">"Retired: no entry replaces it."</p> }.into_any(),
                            _ if !merged.is_empty() => view! {
                                <ul class="merged" data-testid="merged-diffs">
                                    {merged.iter().map(|(id, kept, spans)| match (spans, kept) {
                                        (Some(spans), _) => view! {
                                            <li>
                                                <span class="mono muted">{format!("{id} → the result")}</span>
                                                <TextDiff spans=spans.clone() side/>
                                            </li>
                                        }.into_any(),
                                        (None, true) => view! {
                                            <li><span class="mono muted">{id.clone()}</span>" kept as the result"</li>
                                        }.into_any(),
                                        (None, false) => view! {
                                            <li><span class="mono muted">{id.clone()}</span>" retired: the result says it word for word"</li>
                                        }.into_any(),
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                            _ => view! { <TextDiff spans=proposed.clone() side/> }.into_any(),
                        }
                    }
                }
                {move || editing.get().map(|text| {
                    let before = before_for_edit.clone();

                    let live = RwSignal::new(text.clone());
                    view! {
                        <div class="editor" data-testid="editor">
                            <label for="edit-text">"Your wording"</label>
                            <textarea id="edit-text" rows="4" prop:value=text
                                on:input=move |ev| live.set(event_target_value(&ev))></textarea>
                            <p class="muted">"Live diff from the entries before:"</p>
                            {move || view! { <Diff spans=word_diff(&before, &live.get())/> }}
                            <button data-testid="save-edit" on:click=move |_| {
                                let t = live.get_untracked();
                                if !t.trim().is_empty() {
                                    decide.run((i, Some(Decision::edit(t))));
                                    editing.set(None);
                                }
                            }>"Keep this wording"</button>
                            <button class="link" on:click=move |_| editing.set(None)>"Cancel"</button>
                        </div>
                    }
                })}
                <Evidence change=c.clone() agent=agent.clone()/>
                {(c.applied_version.is_some() && session.can_review()).then(|| view! {
                    <UndoChange proposal_id=proposal_id.clone() change_id=id.clone() store=store.clone() reload notice/>
                })}
                <div class="decide" role="group" aria-label="Decision on this change">
                    {move || decision_of(i).map(|(d, done)| {
                        let note = d.note().map(str::to_string);
                        view! {
                            <p class="decided" data-testid="decision">
                                {if done { "Decided: " } else { "Your decision: " }}<strong>{decision_name(&d)}</strong>
                                {match &d { Decision::Edit { text, .. } => format!(" — “{text}”"), _ => String::new() }}
                            </p>
                            {match (done, note) {
                                (true, Some(n)) => Some(view! {
                                    <p class="muted" data-testid="decision-note">{format!("Comment: {n}")}</p>
                                }.into_any()),
                                (true, None) => None,
                                // Kept with the decision, and in each audit event it makes.
                                (false, n) => Some(view! {
                                    <p class="comment">
                                        <label for="decision-comment">"Comment (kept in history)"</label>
                                        <input id="decision-comment" data-testid="decision-comment" maxlength="2000"
                                            prop:value=n.unwrap_or_default()
                                            on:change=move |ev| comment.run((i, event_target_value(&ev)))/>
                                    </p>
                                }.into_any()),
                            }}
                        }
                    })}
                    {(open && !locked).then(|| view! {
                        <button data-testid="accept" on:click=move |_| decide.run((i, Some(Decision::ACCEPT)))>"Accept (a)"</button>
                        <button data-testid="reject" on:click=move |_| decide.run((i, Some(Decision::Reject { reason: None })))>"Reject (r)"</button>
                        {result.is_some().then(|| view! { <button data-testid="edit" on:click=move |_| start_edit.run(i)>"Edit (e)"</button> })}
                        <button class="link" on:click=move |_| decide.run((i, None))>"Undecide"</button>
                    })}
                </div>
            </article>
        }
        .into_any()
    }
}

fn risk_label(kind: RiskKind) -> &'static str {
    match kind {
        RiskKind::PoisoningSuspected => "Possible memory poisoning",
        RiskKind::UntrustedSource => "Untrusted source",
        RiskKind::Overreach => "Beyond the user's own word",
        RiskKind::SharedStore => "Shared store",
        RiskKind::LargeDeletion => "Large deletion",
        RiskKind::ProposalWideDeletion => "Large deletion",
        RiskKind::SensitiveData => "Sensitive data",
        RiskKind::DifferentNames => "Joins different things",
    }
}

/// A change's own flag as a row shows it: a short word, and the class that
/// colours it (danger, warning or note).
fn risk_badge(kind: RiskKind) -> (&'static str, &'static str) {
    match kind {
        RiskKind::PoisoningSuspected => ("poisoning?", "danger"),
        RiskKind::SensitiveData => ("secret", "danger"),
        RiskKind::UntrustedSource => ("untrusted", "warning"),
        RiskKind::Overreach => ("beyond the user", "warning"),
        RiskKind::DifferentNames => ("different things?", "warning"),
        RiskKind::LargeDeletion => ("large deletion", "note"),
        RiskKind::SharedStore | RiskKind::ProposalWideDeletion => ("", "note"),
    }
}

/// The change's own flags (those about the whole proposal are shown once,
/// in its header).
fn own_flags(c: &ChangeView) -> impl Iterator<Item = &reverie_core::RiskFlag> {
    c.change.risk.iter().filter(|r| !r.kind.is_proposal_wide())
}

/// When an entry was observed, whose word it is, and where it came from:
/// what a reviewer weighs to say which entry is newer or better founded.
fn entry_meta(e: &reverie_core::MemoryEntry) -> String {
    let observed = e.observed_at.unwrap_or(e.created_at);
    // A file it was read from names where it lives; else the session.
    let files: Vec<&str> =
        e.tags.iter().filter_map(|t| t.strip_prefix(reverie_core::formats::FILE_TAG)).collect();
    let from = match e.provenance.sources.first() {
        _ if !files.is_empty() => format!("from {}", files.join(", ")),
        Some(m) => format!("from session {}", m.session_id),
        None => "written to the store".to_string(),
    };
    format!("observed {} · {} · {from}", utc(observed.0), e.provenance.trust.as_str())
}

/// Evidence quotes; a quote from a transcript opens into the messages
/// around it.
#[component]
fn Evidence(change: ChangeView, agent: String) -> impl IntoView {
    // A quote of an entry shown in full under "Before" says nothing new.
    let (repeats, evidence): (Vec<_>, Vec<_>) =
        change.change.evidence.into_iter().partition(|e| match &e.source {
            EvidenceSource::Entry { entry_id } => {
                change.before.iter().any(|b| b.id == *entry_id && b.text.trim() == e.quote.trim())
            }
            EvidenceSource::Message { .. } => false,
        });
    if evidence.is_empty() && repeats.is_empty() {
        return ().into_any();
    }
    view! {
        <h4>"Evidence"</h4>
        {(!repeats.is_empty()).then(|| view! {
            <p class="muted" data-testid="evidence-folded">{format!(
                "{} quote(s) of the entries before, shown above.",
                repeats.len()
            )}</p>
        })}
        <ul class="evidence" data-testid="evidence">
            {evidence.into_iter().map(|e| {
                let agent = agent.clone();
                match e.source {
                    EvidenceSource::Entry { entry_id } => view! {
                        <li><q>{e.quote}</q><span class="muted">{format!(" — entry {entry_id}")}</span></li>
                    }.into_any(),
                    EvidenceSource::Message { session_id, message_index } => {
                        let shown = RwSignal::new(None::<Result<api::SessionExcerpt, String>>);
                        let sid = session_id.to_string();
                        let expand = move |_| {
                            if shown.get_untracked().is_some() {
                                shown.set(None);
                                return;
                            }
                            let (agent, sid) = (agent.clone(), sid.clone());
                            leptos::task::spawn_local(async move {
                                let r = api::session_excerpt(&agent, &sid, message_index).await;
                                shown.set(Some(r.map(|(x, _)| x).map_err(|e| e.to_string())));
                            });
                        };
                        view! {
                            <li>
                                <q>{e.quote}</q>
                                <span class="muted">{format!(" — session {session_id}, message {message_index} ")}</span>
                                <button class="link" data-testid="expand-evidence" aria-expanded=move || shown.with(|s| s.is_some()).to_string()
                                    on:click=expand>{move || if shown.with(|s| s.is_some()) { "hide transcript" } else { "show in transcript" }}</button>
                                {move || shown.get().map(|r| match r {
                                    Err(m) => view! { <p class="error">{m}</p> }.into_any(),
                                    Ok(x) => view! {
                                        <ol class="transcript" start=(x.first_index + 1).to_string() data-testid="transcript">
                                            {x.messages.into_iter().enumerate().map(|(k, m)| {
                                                let here = x.first_index + k == message_index as usize;
                                                view! { <li class:quoted=here><strong>{m.role.as_str()}": "</strong>{m.content}</li> }
                                            }).collect_view()}
                                        </ol>
                                    }.into_any(),
                                })}
                            </li>
                        }.into_any()
                    }
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn Help(close: impl Fn() + 'static) -> impl IntoView {
    let on = RwSignal::new(shortcuts_on());
    view! {
        <div class="help" role="dialog" aria-modal="false" aria-labelledby="help-title" data-testid="help">
            <h3 id="help-title">"Keyboard"</h3>
            <dl>
                <dt>"j / ↓"</dt><dd>"next change"</dd>
                <dt>"k / ↑"</dt><dd>"previous change"</dd>
                <dt>"a"</dt><dd>"accept, then move on"</dd>
                <dt>"r"</dt><dd>"reject, then move on"</dd>
                <dt>"e"</dt><dd>"edit the resulting text"</dd>
                <dt>"n"</dt><dd>"next change with no decision yet"</dd>
                <dt>"?"</dt><dd>"this help"</dd>
                <dt>"Esc"</dt><dd>"close help or the editor"</dd>
            </dl>
            <p class="muted">"Arrows work inside the list of changes."</p>
            <label class="check">
                <input type="checkbox" data-testid="shortcuts-toggle" prop:checked=move || on.get()
                    on:change=move |ev| { let v = event_target_checked(&ev); set_shortcuts(v); on.set(v); }/>
                " Single-key shortcuts (j, k, a, r, e, n, ?)"
            </label>
            <button on:click=move |_| close()>"Close"</button>
        </div>
    }
}

/// Which model stage made or worded a change, and its share of the call,
/// in words.
fn made_by_text(m: &reverie_core::MadeBy) -> String {
    let tokens = m.tokens.input_tokens + m.tokens.output_tokens;
    let share = if tokens > 0 { format!(" · ≈ {tokens} tokens") } else { String::new() };
    let by = match m.stage {
        reverie_core::LlmStage::Learn => {
            format!(" · learned by {} from the sessions (every quote checked)", m.model)
        }
        reverie_core::LlmStage::Judge => format!(" · judged by {}", m.model),
        reverie_core::LlmStage::Synthesize => {
            format!(" · made an instruction by {} from a recurring mistake", m.model)
        }
        reverie_core::LlmStage::Rewrite => {
            format!(" · worded by {} (checked to keep every number, name and negation)", m.model)
        }
    };
    by + &share
}
