//! Proposals in D1 and their review: list (pending first), read one with
//! each change's entries before, word diff and evidence, and decide —
//! approve all, reject with a reason, or a decision per change (accept,
//! reject, edited text). Applying goes through the core; a store that moved
//! under the proposal answers 409 naming the changes whose entries moved.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use reverie_api::{self as api, ProposalStatus};
use reverie_core::apply::{apply, Decision, Review};
use reverie_core::diff::word_diff;
use reverie_core::{Id, MemoryEntry, MemoryStore, Proposal, Timestamp};
use serde::Deserialize;
use serde_json::json;
use worker::Request;

use crate::db::{self, Db};
use crate::http::{self, ApiError, ApiResult, Query};
use crate::repo::proposals::{changes, ChangeRow, ProposalRow};
use crate::stores::{self, Commit};
use crate::{repo, Cx};

/// The status a proposal is saved with, before anyone decides on it.
pub(crate) fn initial_status(proposal: &Proposal) -> ProposalStatus {
    ProposalStatus::initial(proposal.changes.len())
}

async fn readable(cx: &Cx, id: &str) -> ApiResult<ProposalRow> {
    let row = repo::proposals::find(&cx.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("proposal", id))?;
    cx.who.can_read(&row.agent_id)?;
    shared_store_grants(cx, &row.store_id).await?;
    Ok(row)
}

/// A pass on a shared store reads the sessions of every agent using it and
/// quotes them as evidence: its proposals are for tokens granted all of
/// those agents.
async fn shared_store_grants(cx: &Cx, store_id: &str) -> ApiResult<()> {
    if cx.who.require_admin().is_ok() {
        return Ok(());
    }
    let Some(store) = stores::find(&cx.db, store_id).await? else { return Ok(()) };
    if !store.is_shared() {
        return Ok(());
    }
    let agents = stores::agents_using(&cx.db, store_id).await?;
    match agents.iter().find(|a| cx.who.can_read(a).is_err()) {
        None => Ok(()),
        Some(missing) => Err(ApiError::forbidden(format!(
            "proposals on the shared store `{store_id}` quote the sessions of every agent using it; this token is \
             not granted `{missing}`"
        ))),
    }
}

/// The core's proposal holding the changes `keep` selects.
pub(crate) fn core_proposal(
    row: &ProposalRow,
    changes: &[ChangeRow],
    keep: impl Fn(&ChangeRow) -> bool,
) -> ApiResult<Proposal> {
    let kept: Vec<&ChangeRow> = changes.iter().filter(|c| keep(c)).collect();
    Ok(Proposal {
        id: Id::new(row.id.clone())?,
        store_id: Id::new(row.store_id.clone())?,
        base_version: row.base_version as u64,
        created_at: Timestamp(row.created_at as i64),
        changes: kept.iter().map(|c| c.body.clone()).collect(),
        token_cost: serde_json::from_str(&row.token_cost)?,
        summary: serde_json::from_str(&row.summary)?,
        base_fingerprints: kept.iter().flat_map(|c| c.fingerprints.clone()).collect(),
    })
}

/// `GET /proposals?agent_id=&status=&limit=`: pending first, then newest.
pub(crate) async fn list(cx: &Cx, q: &Query) -> ApiResult {
    let status =
        q.one_of("status", &ProposalStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>())?;
    let agent = q.str("agent_id");
    if let Some(agent) = agent {
        cx.who.can_read(agent)?;
    }
    let limit = q.limit(50, 500)?;
    let grants = cx.who.grant_filter()?;
    let rows =
        repo::proposals::list(&cx.db, agent, status.as_deref(), grants.as_deref(), limit).await?;
    let mut visible = Vec::with_capacity(rows.len());
    let mut granted: HashMap<String, bool> = HashMap::new();
    for row in &rows {
        let ok = match granted.get(&row.store_id) {
            Some(ok) => *ok,
            None => {
                let ok = shared_store_grants(cx, &row.store_id).await.is_ok();
                granted.insert(row.store_id.clone(), ok);
                ok
            }
        };
        if ok {
            visible.push(row.describe()?);
        }
    }
    http::json(&api::ProposalList { proposals: visible })
}

/// The target entries as they were at `version`.
async fn entries_at(
    db: &Db,
    store_id: &str,
    ids: &[&Id],
    version: i64,
) -> ApiResult<HashMap<Id, MemoryEntry>> {
    let mut out = HashMap::new();
    let sql = format!(
        "SELECT h.body AS body FROM entry_history h WHERE h.store_id = ?1 \
         AND h.id IN (SELECT value FROM json_each(?2)) AND {}",
        stores::as_of("?3")
    );
    for chunk in db::json_chunks(ids)? {
        let entries: Vec<MemoryEntry> =
            db.bodies(&sql, &[db::s(store_id), db::s(&chunk), db::n(version)]).await?;
        out.extend(entries.into_iter().map(|e| (e.id.clone(), e)));
    }
    Ok(out)
}

/// Who a change is shown to, which decides what of a secret's value is
/// hidden.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Audience {
    /// A reviewer in the dashboard: the evidence and the justification
    /// (quotes of transcripts) hide secrets; the entries do not, since
    /// the reviewer decides whether to keep what they hold and may edit it.
    Reviewer,
    /// A webhook's receiver, outside the service: every text hides them.
    Outside,
}

/// A change as the dashboard and webhooks show it: the entries before,
/// the word diff from their text to the result's, and the decision.
fn change_view(
    c: &ChangeRow,
    before: &HashMap<Id, MemoryEntry>,
    audience: Audience,
) -> api::ChangeView {
    let mut change = c.body.clone();
    let mut entries: Vec<MemoryEntry> =
        change.targets.iter().filter_map(|t| before.get(t)).cloned().collect();
    reverie_core::redact_secrets_in(&mut change.justification);
    change.evidence.iter_mut().for_each(|e| reverie_core::redact_secrets_in(&mut e.quote));
    if audience == Audience::Outside {
        change
            .result
            .iter_mut()
            .chain(&mut entries)
            .for_each(|e| reverie_core::redact_secrets_in(&mut e.text));
    }
    let old: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
    let new = change.result.as_ref().map_or("", |r| r.text.as_str());
    api::ChangeView {
        diff: word_diff(&old.join("\n"), new),
        change,
        seq: c.seq as usize,
        before: entries,
        decision: c.decision.clone(),
        decided_by: c.decided_by.clone(),
        decided_at: c.decided_at,
        applied_version: c.applied_version,
    }
}

/// `changes` of a proposal on `store_id` made at `base_version`, as shown
/// to `audience`.
pub(crate) async fn change_views(
    db: &Db,
    store_id: &str,
    base_version: i64,
    changes: &[ChangeRow],
    audience: Audience,
) -> ApiResult<Vec<api::ChangeView>> {
    let ids: Vec<&Id> = changes.iter().flat_map(|c| &c.body.targets).collect();
    let before = entries_at(db, store_id, &ids, base_version).await?;
    Ok(changes.iter().map(|c| change_view(c, &before, audience)).collect())
}

/// `GET /proposals/{id}?offset=&limit=`.
pub(crate) async fn show(cx: &Cx, id: &str, q: &Query) -> ApiResult {
    let row = readable(cx, id).await?;
    let all = changes(&cx.db, &row.id).await?;
    let offset = q.int("offset")?.unwrap_or(0).clamp(0, all.len() as i64) as usize;
    let limit = q.limit(10_000, 10_000)? as usize;
    let page = &all[offset..(offset + limit).min(all.len())];
    http::json(&api::Proposal {
        brief: row.describe()?,
        changes: change_views(&cx.db, &row.store_id, row.base_version, page, Audience::Reviewer)
            .await?,
        offset,
    })
}

/// The rest of a proposal in a partial decision: rejected (the default,
/// as "accept these"), accepted, or left pending for later.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Rest {
    #[default]
    Reject,
    Accept,
    Pending,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialBody {
    decisions: BTreeMap<String, Decision>,
    /// `reject` when not given.
    #[serde(default)]
    rest: Option<Rest>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    #[serde(default)]
    reason: Option<String>,
}

/// A proposal the caller may decide on.
async fn reviewable(cx: &Cx, id: &str) -> ApiResult<ProposalRow> {
    let row = readable(cx, id).await?;
    cx.who.can_review(&row.agent_id)?;
    Ok(row)
}

/// `POST /proposals/{id}/approve`.
pub(crate) async fn approve(cx: &Cx, id: &str) -> ApiResult {
    let row = reviewable(cx, id).await?;
    decide(cx, row, BTreeMap::new(), Fallback::Accept).await
}

/// `POST /proposals/{id}/reject` with an optional `{"reason": ...}`.
pub(crate) async fn reject(cx: &Cx, id: &str, req: &mut Request) -> ApiResult {
    let row = reviewable(cx, id).await?;
    let body: RejectBody = http::optional_json_body(req).await?;
    let reason =
        body.reason.map(|r| http::clip(r.trim(), 2000).to_string()).filter(|r| !r.is_empty());
    decide(cx, row, BTreeMap::new(), Fallback::Reject { reason, learn: true }).await
}

/// `POST /proposals/{id}/partial_accept`.
pub(crate) async fn partial(cx: &Cx, id: &str, req: &mut Request) -> ApiResult {
    let row = reviewable(cx, id).await?;
    let body: PartialBody = http::json_body(req, http::limits::LARGE).await?;
    let mut decisions = BTreeMap::new();
    for (change, decision) in body.decisions {
        let change = Id::new(change.clone())
            .map_err(|e| ApiError::new(422, format!("decisions.{change}: {e}")))?;
        decisions.insert(change, decision);
    }
    // Naming no change decides nothing, unless the rest is decided on
    // purpose: a client that lost its selection must not reject them all.
    if decisions.is_empty() && !matches!(body.rest, Some(Rest::Accept | Rest::Reject)) {
        return Err(ApiError::new(
            422,
            "`decisions` names no change: name the changes to decide, or say `rest: accept` or \
             `rest: reject` to decide every pending change",
        ));
    }
    let fallback = match body.rest.unwrap_or(Rest::Reject) {
        Rest::Reject => {
            let reason = body
                .reason
                .map(|r| http::clip(r.trim(), 2000).to_string())
                .filter(|r| !r.is_empty());
            let reason = reason.or_else(|| Some("not selected in a partial accept".into()));
            Fallback::Reject { reason, learn: false }
        }
        Rest::Accept => Fallback::Accept,
        Rest::Pending => Fallback::Pending,
    };
    decide(cx, row, decisions, fallback).await
}

/// What pending changes not named in the request get.
enum Fallback {
    Accept,
    /// Rejected; `learn` says whether review memory learns from it (a
    /// rejection someone chose does; the rest of a partial accept does not).
    Reject {
        reason: Option<String>,
        learn: bool,
    },
    Pending,
}

async fn decide(
    cx: &Cx,
    row: ProposalRow,
    named: BTreeMap<Id, Decision>,
    fallback: Fallback,
) -> ApiResult {
    let id = row.id.as_str();
    if !row.status()?.is_open() {
        return Err(ApiError::conflict(format!(
            "proposal {id} is {}; only pending proposals can be decided",
            row.status
        )));
    }
    let all = changes(&cx.db, &row.id).await?;
    let by_id: HashMap<&Id, &ChangeRow> = all.iter().map(|c| (&c.body.id, c)).collect();
    for change in named.keys() {
        match by_id.get(change) {
            None => {
                return Err(ApiError::new(
                    422,
                    format!("decisions: proposal {id} has no change `{change}`"),
                ))
            }
            Some(c) if c.decision.is_some() => {
                return Err(ApiError::conflict(format!(
                    "change {change} was decided already ({})",
                    c.decided_by.as_deref().unwrap_or("?")
                )))
            }
            Some(_) => {}
        }
    }
    let mut decisions = BTreeMap::new();
    let mut chosen = BTreeSet::new();
    for c in all.iter().filter(|c| c.decision.is_none()) {
        let (d, learn) = match (named.get(&c.body.id), &fallback) {
            (Some(d), _) => (d.clone(), true),
            (None, Fallback::Accept) => (Decision::Accept, true),
            (None, Fallback::Reject { reason, learn }) => {
                (Decision::Reject { reason: reason.clone() }, *learn)
            }
            (None, Fallback::Pending) => continue,
        };
        if learn {
            chosen.insert(c.body.id.clone());
        }
        decisions.insert(c.body.id.clone(), d);
    }
    if decisions.is_empty() {
        return Err(ApiError::new(422, "the request decides no pending change"));
    }
    let actor = cx.who.actor();
    let store_row = stores::get(&cx.db, &row.store_id).await?;
    let store = stores::load(&cx.db, &store_row).await?;
    let pending = core_proposal(&row, &all, |c| c.decision.is_none())?;
    let accepted_before = all
        .iter()
        .filter(|c| matches!(c.decision, Some(Decision::Accept | Decision::Edit { .. })))
        .count();
    let outcome = apply_decisions(
        &cx.db,
        &store,
        &pending,
        accepted_before,
        Decisions { decisions, learn_from: chosen, actor: &actor, at: cx.now },
    )
    .await?;
    let event = if outcome.accepted > 0 { "proposal.applied" } else { "proposal.rejected" };
    crate::webhooks::notify(
        cx,
        &row.agent_id,
        event,
        json!({
            "agent_id": row.agent_id, "store_id": row.store_id, "proposal_id": row.id, "status": outcome.status,
            "version": outcome.version, "accepted": outcome.accepted, "rejected": outcome.rejected,
            "pending": outcome.pending, "decided_by": actor,
        }),
    )
    .await;
    http::json(&api::Decided {
        proposal_id: row.id.clone(),
        status: outcome.status,
        version: outcome.version,
        accepted: outcome.accepted,
        rejected: outcome.rejected,
        pending: outcome.pending,
    })
}

pub(crate) struct Outcome {
    pub status: ProposalStatus,
    pub version: i64,
    pub accepted: usize,
    pub rejected: usize,
    pub pending: usize,
}

/// Decisions on some pending changes of a proposal, and who made them.
pub(crate) struct Decisions<'a> {
    pub decisions: BTreeMap<Id, Decision>,
    /// The decisions review memory learns from (see `learn`).
    pub learn_from: BTreeSet<Id>,
    pub actor: &'a str,
    pub at: Timestamp,
}

/// Applies `decided` to `store` through the core — `pending` holds the
/// proposal's undecided changes, `accepted_before` counts those accepted
/// earlier — and commits the new version, the audit records, the
/// decisions, the proposal's new status and what the review teaches, all
/// at once. A store that moved since it was read makes the commit a 409.
pub(crate) async fn apply_decisions(
    db: &Db,
    store: &MemoryStore,
    pending: &Proposal,
    accepted_before: usize,
    decided: Decisions<'_>,
) -> ApiResult<Outcome> {
    let Decisions { decisions, learn_from, actor, at: now } = decided;
    let proposal_id = pending.id.to_string();
    let store_id = store.id.to_string();
    let subset = pending.subset(|c| decisions.contains_key(&c.id));
    let review = Review { actor: actor.to_string(), at: now, decisions: decisions.clone() };
    let applied = apply(store, &subset, &review)?;
    let version = applied.store.version as i64;
    let pending = pending.changes.len() - decisions.len();
    let accepted_total = accepted_before + applied.accepted.len();
    let status = ProposalStatus::after(pending, accepted_total);
    let mut extra = Vec::new();
    extra.extend(repo::proposals::record_decisions(
        db,
        &proposal_id,
        &decisions,
        version,
        actor,
        now,
        status,
        pending,
    )?);
    extra.extend(repo::reviews::learn(db, &store_id, &subset.changes, &decisions, &learn_from)?);
    stores::commit(
        db,
        Commit {
            store_id: store_id.clone(),
            from_version: store.version as i64,
            to_version: version,
            actor: actor.to_string(),
            at: now,
            cause: "proposal",
            proposal_id: Some(proposal_id.clone()),
            note: None,
            active_entries: applied.store.active().count(),
            events: applied.events,
            extra,
        },
    )
    .await?;
    Ok(Outcome {
        status,
        version,
        accepted: applied.accepted.len(),
        rejected: applied.rejected.len(),
        pending,
    })
}
