//! Review without a connection. A reviewer's decisions on a proposal are a
//! draft kept on this device as they are made; submitting puts them in an
//! outbox that is sent at once, or when the connection comes back. A
//! submission the service refuses because the store moved (409) is kept,
//! marked with the conflicting changes, so the reviewer can look at those
//! again: no decision is dropped without the reviewer seeing it.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::cache;
use crate::connection::{self, Connection};

const OUTBOX: &str = "outbox";

pub use reverie_web_state::{Draft, Rest, State, Submission};

fn draft_key(proposal: &str) -> String {
    format!("draft:{proposal}")
}

pub async fn load_draft(proposal: &str) -> Draft {
    match cache::get_state(&draft_key(proposal)).await {
        Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_default(),
        _ => Draft::new(),
    }
}

pub async fn save_draft(proposal: &str, draft: &Draft) {
    let result = match draft.is_empty() {
        true => cache::delete_state(&draft_key(proposal)).await,
        false => {
            cache::put_state(
                &draft_key(proposal),
                &serde_json::to_string(draft).unwrap_or_default(),
            )
            .await
        }
    };
    if let Err(e) = result {
        leptos::logging::warn!("the draft could not be saved on this device: {e}");
    }
}

async fn load_outbox() -> Vec<Submission> {
    match cache::get_state(OUTBOX).await {
        Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_default(),
        _ => Vec::new(),
    }
}

async fn save_outbox(items: &[Submission]) -> Result<(), String> {
    cache::put_state(OUTBOX, &serde_json::to_string(items).map_err(|e| e.to_string())?).await
}

/// What sending one submission came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Sent {
    /// Accepted: the proposal's new status, the store's version, and how
    /// many changes this submission applied.
    Applied {
        status: reverie_api::ProposalStatus,
        version: i64,
        accepted: usize,
    },
    /// Kept on this device until the connection is back.
    Queued,
    Conflict(Vec<String>),
    Refused(String),
}

/// The sync state every screen can read.
#[derive(Clone, Copy)]
pub struct SyncState {
    /// Submissions not yet accepted, by proposal id, of the signed-in
    /// token (empty when nobody is signed in).
    pub outbox: RwSignal<Vec<Submission>>,
    /// Bumped whenever a submission lands, so screens reload.
    pub landed: RwSignal<u32>,
    /// What the service answered to the last submission that landed, by
    /// proposal.
    results: StoredValue<BTreeMap<String, api::Decided>>,
    /// A flush is running: another waits for it rather than sending the
    /// same submissions twice.
    flushing: StoredValue<bool>,
    again: StoredValue<bool>,
}

impl SyncState {
    /// Sends what waits whenever the service can be reached again (and
    /// every 20 s while anything waits). `signed_in` says who is signed
    /// in: the outbox is theirs, loaded when they sign in and put away when
    /// they sign out.
    pub fn start(signed_in: Signal<bool>) -> SyncState {
        let sync = SyncState {
            outbox: RwSignal::new(Vec::new()),
            landed: RwSignal::new(0),
            results: StoredValue::new(BTreeMap::new()),
            flushing: StoredValue::new(false),
            again: StoredValue::new(false),
        };
        Effect::new(move |_| {
            if signed_in.get() {
                leptos::task::spawn_local(async move {
                    sync.outbox.try_set(load_outbox().await);
                    sync.flush().await;
                });
            } else {
                sync.outbox.set(Vec::new());
            }
        });
        let state = connection::current();
        Effect::new(move |was: Option<Connection>| {
            let now = state.get();
            if was.is_some_and(|w| !w.is_online()) && now.is_online() {
                leptos::task::spawn_local(async move { sync.flush().await });
            }
            now
        });
        let timer = set_interval_with_handle(
            move || {
                let waiting =
                    sync.outbox.with_untracked(|o| o.iter().any(|s| s.state == State::Waiting));
                if waiting {
                    leptos::task::spawn_local(async move { sync.flush().await });
                }
            },
            std::time::Duration::from_secs(20),
        )
        .ok();
        on_cleanup(move || {
            if let Some(t) = timer {
                t.clear();
            }
        });
        sync
    }

    /// Queues a submission (replacing any earlier one for the proposal)
    /// and tries to send it now.
    pub async fn submit(self, submission: Submission) -> Sent {
        let id = submission.proposal_id.clone();
        self.outbox.update(|items| {
            items.retain(|s| s.proposal_id != id);
            items.push(submission);
        });
        self.save().await;
        self.flush().await;
        self.outcome_of(&id)
    }

    async fn save(self) {
        if api::token().is_none() {
            return;
        }
        let items = self.outbox.get_untracked();
        if let Err(e) = save_outbox(&items).await {
            leptos::logging::warn!("the outbox could not be saved on this device: {e}");
        }
    }

    fn outcome_of(&self, id: &str) -> Sent {
        match self
            .outbox
            .with_untracked(|o| o.iter().find(|s| s.proposal_id == id).map(|s| s.state.clone()))
        {
            None => {
                let landed = self.results.with_value(|r| r.get(id).cloned());
                landed.map_or(Sent::Queued, |d| Sent::Applied {
                    status: d.status,
                    version: d.version,
                    accepted: d.accepted,
                })
            }
            Some(State::Waiting) => Sent::Queued,
            Some(State::Conflict { changes, .. }) => Sent::Conflict(changes),
            Some(State::Refused { message }) => Sent::Refused(message),
        }
    }

    /// Sends every waiting submission in order, one flush at a time; stops
    /// at the first network failure (the rest would fail the same way).
    /// Failures that may pass — the service down (5xx), a request that
    /// raced another (409 without conflicting changes), an expired token —
    /// leave the submission waiting; only a refusal that will not change
    /// (a conflict, a decision already taken, bad input) is final.
    pub async fn flush(self) {
        if api::token().is_none() {
            return;
        }
        if self.flushing.get_value() {
            self.again.set_value(true);
            return;
        }
        self.flushing.set_value(true);
        loop {
            self.again.set_value(false);
            self.flush_once().await;
            if !self.again.get_value() {
                break;
            }
        }
        self.flushing.set_value(false);
    }

    async fn flush_once(self) {
        let waiting: Vec<Submission> = self
            .outbox
            .with_untracked(|o| o.iter().filter(|s| s.state == State::Waiting).cloned().collect());
        if waiting.is_empty() {
            return;
        }
        let mut landed = 0;
        for item in waiting {
            let body = api::PartialAccept {
                decisions: item.decisions.clone(),
                rest: Some(item.rest),
                reason: item.reason.clone(),
            };
            let outcome = match api::decide(&item.proposal_id, &body).await {
                Ok(decided) => {
                    self.results.update_value(|r| {
                        r.insert(item.proposal_id.clone(), decided);
                    });
                    save_draft(&item.proposal_id, &Draft::new()).await;
                    landed += 1;
                    None
                }
                Err(ApiError::Network(_)) => break,
                Err(e) if e.status() == Some(409) && !e.conflicting_changes().is_empty() => {
                    Some(State::Conflict {
                        changes: e.conflicting_changes(),
                        message: e.to_string(),
                    })
                }
                Err(e) if matches!(e.status(), Some(401) | Some(409) | Some(500..=599)) => {
                    Some(State::Waiting)
                }
                Err(e) => Some(State::Refused { message: e.to_string() }),
            };
            // Merged into the outbox as it is now: a submission queued or
            // replaced meanwhile is kept as it is.
            self.outbox.update(|items| {
                let same = |s: &Submission| {
                    s.proposal_id == item.proposal_id && s.decisions == item.decisions
                };
                match &outcome {
                    None => items.retain(|s| !same(s)),
                    Some(state) => {
                        if let Some(s) = items.iter_mut().find(|s| same(s)) {
                            s.state = state.clone();
                        }
                    }
                }
            });
            if outcome == Some(State::Waiting) {
                break;
            }
        }
        self.save().await;
        if landed > 0 {
            self.landed.update(|n| *n += 1);
        }
    }

    /// Forgets a submission (after the reviewer dealt with its conflict).
    pub async fn dismiss(self, proposal_id: &str) {
        self.outbox.update(|items| items.retain(|s| s.proposal_id != proposal_id));
        self.save().await;
    }

    pub fn submission(&self, proposal_id: &str) -> Option<Submission> {
        self.outbox.with(|o| o.iter().find(|s| s.proposal_id == proposal_id).cloned())
    }
}

/// The connection and the outbox, in the top bar.
#[component]
pub fn Status() -> impl IntoView {
    let sync = expect_context::<SyncState>();
    let state = connection::current();
    let waiting =
        move || sync.outbox.with(|o| o.iter().filter(|s| s.state == State::Waiting).count());
    view! {
        <span class="sync" role="status" aria-live="polite">
            {move || {
                let now = state.get();
                now.label().map(|label| view! {
                    <span class="badge offline" data-testid="connection-badge"
                        data-state=if now == Connection::Offline { "offline" } else { "unreachable" }>
                        {label}
                    </span>
                })
            }}
            {move || (waiting() > 0).then(|| view! {
                <span class="badge waiting" data-testid="outbox-badge">
                    {format!("{} review(s) waiting to sync", waiting())}
                </span>
            })}
        </span>
    }
}
