//! Proposals in D1 and their review: list (pending first), read one with
//! each change's entries before, word diff and evidence, and decide —
//! approve all, reject with a reason, or a decision per change (accept,
//! reject, edited text). Applying goes through the core; a store that moved
//! under the proposal answers 409 naming the changes whose entries moved.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use reverie_api::{self as api, ProposalStatus};
use reverie_core::apply::{apply, Decision, Review};
use reverie_core::diff::word_diff;
use reverie_core::{Change, Fingerprint, Id, MemoryEntry, MemoryStore, Proposal, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{D1PreparedStatement, Request};

use crate::db::{self, Db};
use crate::http::{self, ApiError, ApiResult, Query};
use crate::stores::{self, Commit};
use crate::{repo, Cx};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ProposalRow {
    pub id: String,
    pub agent_id: String,
    pub store_id: String,
    pub pass_id: Option<i64>,
    pub base_version: i64,
    pub status: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub change_count: i64,
    pub pending_count: i64,
    pub summary: String,
    pub token_cost: String,
    pub reason: Option<String>,
}

const COLUMNS: &str =
    "id, agent_id, store_id, pass_id, base_version, status, created_at, updated_at, change_count, \
     pending_count, summary, token_cost, reason";

/// A stored change and the decision on it, if any.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ChangeRow {
    pub seq: i64,
    pub body: Change,
    pub fingerprints: BTreeMap<Id, Fingerprint>,
    pub decision: Option<Decision>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub applied_version: Option<i64>,
}

impl ProposalRow {
    fn status(&self) -> ApiResult<ProposalStatus> {
        db::word(ProposalStatus::parse(&self.status), "proposal status", &self.status)
    }

    fn describe(&self) -> ApiResult<api::ProposalBrief> {
        Ok(api::ProposalBrief {
            id: self.id.clone(),
            agent_id: self.agent_id.clone(),
            store_id: self.store_id.clone(),
            pass_id: self.pass_id,
            base_version: self.base_version,
            status: self.status()?,
            created_at: self.created_at as i64,
            updated_at: Some(self.updated_at as i64),
            change_count: self.change_count,
            pending_count: self.pending_count,
            summary: serde_json::from_str(&self.summary)?,
            token_cost: serde_json::from_str(&self.token_cost)?,
            reason: self.reason.clone(),
        })
    }
}

/// The status a proposal is saved with, before anyone decides on it.
pub(crate) fn initial_status(proposal: &Proposal) -> ProposalStatus {
    ProposalStatus::initial(proposal.changes.len())
}

/// The statements that store a new proposal.
pub(crate) fn save(
    db: &Db,
    proposal: &Proposal,
    agent_id: &str,
    pass_id: i64,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let status = initial_status(proposal);
    let mut out = vec![db.stmt(
        &format!("INSERT INTO proposals ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?8, ?9, ?10, NULL)"),
        &[
            db::s(proposal.id.as_str()),
            db::s(agent_id),
            db::s(proposal.store_id.as_str()),
            db::n(pass_id),
            db::n(proposal.base_version as i64),
            db::s(status.as_str()),
            db::n(proposal.created_at.0),
            db::n(proposal.changes.len() as i64),
            db::s(&serde_json::to_string(&proposal.summary)?),
            db::s(&serde_json::to_string(&proposal.token_cost)?),
        ],
    )?];
    let rows = proposal.changes.iter().enumerate().map(|(seq, c)| {
        let fingerprints: BTreeMap<&Id, &Fingerprint> =
            c.targets.iter().filter_map(|t| proposal.base_fingerprints.get(t).map(|fp| (t, fp))).collect();
        json!({ "seq": seq, "id": c.id, "kind": c.kind, "risky": c.is_risky(), "body": c, "fingerprints": fingerprints })
    });
    for chunk in db::json_chunks(rows)? {
        out.push(db.stmt(
            "INSERT INTO changes (proposal_id, seq, id, kind, risky, body, fingerprints) \
             SELECT ?1, json_extract(value, '$.seq'), json_extract(value, '$.id'), json_extract(value, '$.kind'), \
             json_extract(value, '$.risky'), json_extract(value, '$.body'), json_extract(value, '$.fingerprints') \
             FROM json_each(?2)",
            &[db::s(proposal.id.as_str()), db::s(&chunk)],
        )?);
    }
    Ok(out)
}

pub(crate) async fn find(db: &Db, id: &str) -> ApiResult<Option<ProposalRow>> {
    db.first(&format!("SELECT {COLUMNS} FROM proposals WHERE id = ?1"), &[db::s(id)]).await
}

async fn readable(cx: &Cx, id: &str) -> ApiResult<ProposalRow> {
    let row = find(&cx.db, id).await?.ok_or_else(|| ApiError::not_found("proposal", id))?;
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

/// A stored change as one JSON object (`ChangeRow`'s shape).
const CHANGE_JSON: &str = "json_object('seq', seq, 'body', json(body), 'fingerprints', json(fingerprints), \
     'decision', json(decision_body), 'decided_by', decided_by, 'decided_at', CAST(decided_at AS INTEGER), \
     'applied_version', applied_version)";

pub(crate) async fn changes(db: &Db, proposal_id: &str) -> ApiResult<Vec<ChangeRow>> {
    let sql = format!(
        "SELECT seq AS key, {CHANGE_JSON} AS body FROM changes WHERE proposal_id = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2"
    );
    db.json_rows(&sql, db::n(-1), &[db::s(proposal_id)]).await
}

/// The first `limit` changes of a proposal.
pub(crate) async fn first_changes(
    db: &Db,
    proposal_id: &str,
    limit: usize,
) -> ApiResult<Vec<ChangeRow>> {
    let sql = format!(
        "SELECT {CHANGE_JSON} AS body FROM changes WHERE proposal_id = ?1 ORDER BY seq LIMIT ?2"
    );
    db.bodies(&sql, &[db::s(proposal_id), db::n(limit as i64)]).await
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
    let rows: Vec<ProposalRow> = cx
        .db
        .all(
            &format!(
                "SELECT {COLUMNS} FROM proposals WHERE (?1 IS NULL OR agent_id = ?1) AND (?2 IS NULL OR status = ?2) \
                 AND (?3 IS NULL OR agent_id IN (SELECT value FROM json_each(?3))) \
                 ORDER BY CASE status WHEN 'pending' THEN 0 WHEN 'partially_applied' THEN 1 ELSE 2 END, \
                 created_at DESC, id LIMIT ?4"
            ),
            &[db::opt_s(agent), db::opt_s(status.as_deref()), db::opt_s(grants.as_deref()), db::n(limit)],
        )
        .await?;
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

/// A change as the dashboard and webhooks show it: the entries before,
/// the word diff from their text to the result's, and the decision.
fn change_view(c: &ChangeRow, before: &HashMap<Id, MemoryEntry>) -> api::ChangeView {
    let entries: Vec<&MemoryEntry> = c.body.targets.iter().filter_map(|t| before.get(t)).collect();
    let old: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
    let new = c.body.result.as_ref().map_or("", |r| r.text.as_str());
    api::ChangeView {
        change: c.body.clone(),
        seq: c.seq as usize,
        diff: word_diff(&old.join("\n"), new),
        before: entries.into_iter().cloned().collect(),
        decision: c.decision.clone(),
        decided_by: c.decided_by.clone(),
        decided_at: c.decided_at,
        applied_version: c.applied_version,
    }
}

/// `changes` of a proposal on `store_id` made at `base_version`, as shown.
pub(crate) async fn change_views(
    db: &Db,
    store_id: &str,
    base_version: i64,
    changes: &[ChangeRow],
) -> ApiResult<Vec<api::ChangeView>> {
    let ids: Vec<&Id> = changes.iter().flat_map(|c| &c.body.targets).collect();
    let before = entries_at(db, store_id, &ids, base_version).await?;
    Ok(changes.iter().map(|c| change_view(c, &before)).collect())
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
        changes: change_views(&cx.db, &row.store_id, row.base_version, page).await?,
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
    #[serde(default)]
    rest: Rest,
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
    let fallback = match body.rest {
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
    let rows = decisions.iter().map(|(id, d)| {
        let kind = match d {
            Decision::Accept => "accept",
            Decision::Reject { .. } => "reject",
            Decision::Edit { .. } => "edit",
        };
        let applied_version = (!matches!(d, Decision::Reject { .. })).then_some(version);
        json!({ "id": id, "decision": kind, "body": d, "applied_version": applied_version })
    });
    for chunk in db::json_chunks(rows)? {
        extra.push(db.stmt(
            "UPDATE changes SET decision = json_extract(d.value, '$.decision'), decision_body = json_extract(d.value, '$.body'), \
             decided_by = ?3, decided_at = ?4, applied_version = json_extract(d.value, '$.applied_version') \
             FROM json_each(?2) AS d WHERE changes.proposal_id = ?1 AND changes.id = json_extract(d.value, '$.id')",
            &[db::s(&proposal_id), db::s(&chunk), db::s(actor), db::n(now.0)],
        )?);
    }
    extra.push(db.stmt(
        "UPDATE proposals SET status = ?2, pending_count = ?3, updated_at = ?4, \
         reason = COALESCE(?5, reason) WHERE id = ?1",
        &[
            db::s(&proposal_id),
            db::s(status.as_str()),
            db::n(pending as i64),
            db::n(now.0),
            db::opt_s(decisions.values().find_map(|d| match d {
                Decision::Reject { reason } => reason.as_deref(),
                _ => None,
            })),
        ],
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
