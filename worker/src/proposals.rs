//! Proposals in D1 and their review: list (pending first), read one with
//! each change's entries before, word diff and evidence, and decide —
//! approve all, reject with a reason, or a decision per change (accept,
//! reject, edited text). Applying goes through the core; a store that moved
//! under the proposal answers 409 naming the changes whose entries moved.

use std::collections::{BTreeMap, HashMap};

use reverie_api::{self as api, ProposalRest, ProposalStatus};
use reverie_core::apply::{apply, Decision, Review};
use reverie_core::diff::word_diff;
use reverie_core::{Change, Id, MemoryEntry, MemoryStore, Proposal, Timestamp};
use worker::Request;

use crate::db::{self, Db};
use crate::http::{self, ApiError, ApiResult, Query};
use crate::repo::proposals::{ChangeRow, Known, ProposalRow};
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
    let Some(store) = repo::stores::find(&cx.db, store_id).await? else { return Ok(()) };
    if !store.is_shared() {
        return Ok(());
    }
    let agents = repo::stores::agents_using(&cx.db, store_id).await?;
    match agents.iter().find(|a| cx.who.can_read(a).is_err()) {
        None => Ok(()),
        Some(missing) => Err(ApiError::forbidden(format!(
            "proposals on the shared store `{store_id}` quote the sessions of every agent using it; this token is \
             not granted `{missing}`"
        ))),
    }
}

/// The core's proposal holding the changes `keep` selects.
pub(crate) fn core_proposal<'a>(
    row: &ProposalRow,
    changes: impl IntoIterator<Item = &'a ChangeRow>,
) -> ApiResult<Proposal> {
    let kept: Vec<&ChangeRow> = changes.into_iter().collect();
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
    let entries = repo::entries::by_id_at(db, store_id, ids, version).await?;
    Ok(entries.into_iter().map(|e| (e.id.clone(), e)).collect())
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
    let offset = q.int("offset")?.unwrap_or(0).clamp(0, row.change_count);
    let limit = q.limit(10_000, 10_000)?;
    let page = repo::proposals::changes_page(&cx.db, &row.id, offset, limit).await?;
    http::json(&api::Proposal {
        brief: row.describe()?,
        changes: change_views(&cx.db, &row.store_id, row.base_version, &page, Audience::Reviewer)
            .await?,
        offset: offset as usize,
    })
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
    let body: api::RejectBody = http::optional_json_body(req).await?;
    let reason = rejection_reason(body.reason)?;
    decide(cx, row, BTreeMap::new(), Fallback::Reject { reason, learn: true }).await
}

/// A rejection's reason as given: trimmed, none when blank, refused when
/// longer than a note may be.
fn rejection_reason(given: Option<String>) -> ApiResult<Option<String>> {
    let decision =
        Decision::Reject { reason: given }.tidied().map_err(|e| ApiError::new(422, e))?;
    Ok(decision.note().map(str::to_string))
}

/// `POST /proposals/{id}/partial_accept`.
pub(crate) async fn partial(cx: &Cx, id: &str, req: &mut Request) -> ApiResult {
    let row = reviewable(cx, id).await?;
    let body: api::PartialAccept = http::json_body(req, http::limits::LARGE).await?;
    let mut decisions = BTreeMap::new();
    for (change, decision) in body.decisions {
        let change = Id::new(change.clone())
            .map_err(|e| ApiError::new(422, format!("decisions.{change}: {e}")))?;
        let decision = decision
            .tidied()
            .map_err(|e| ApiError::new(422, format!("decisions.{change}: {e}")))?;
        decisions.insert(change, decision);
    }
    // Naming no change decides nothing, unless the rest is decided on
    // purpose: a client that lost its selection must not reject them all.
    if decisions.is_empty()
        && !matches!(
            body.rest,
            Some(ProposalRest::Accept | ProposalRest::AcceptUnflagged | ProposalRest::Reject)
        )
    {
        return Err(ApiError::new(
            422,
            "`decisions` names no change: name the changes to decide, or say `rest: accept`, \
             `rest: accept_unflagged` or `rest: reject` to decide the pending changes",
        ));
    }
    let fallback = match body.rest.unwrap_or(ProposalRest::Reject) {
        ProposalRest::Reject => {
            let reason = rejection_reason(body.reason)?
                .or_else(|| Some("not selected in a partial accept".into()));
            Fallback::Reject { reason, learn: false }
        }
        ProposalRest::Accept => Fallback::Accept,
        ProposalRest::AcceptUnflagged => Fallback::AcceptUnflagged { unflagged: 0 },
        ProposalRest::Pending => Fallback::Pending,
    };
    decide(cx, row, decisions, fallback).await
}

/// A decision's test switch (the environment's `REVERIE_FAULT`; never set
/// in a deployment).
pub(crate) enum Fault {
    None,
    /// `decision-commit`: the last batch fails, after every page was staged.
    FailCommit,
    /// `decision-pause`: three seconds pass between the staging and the
    /// last batch, for a write to arrive while the store is held.
    PauseBeforeCommit,
}

/// What pending changes not named in the request get.
pub(crate) enum Fallback {
    Accept,
    /// Rejected; `learn` says whether review memory learns from it (a
    /// rejection someone chose does; the rest of a partial accept does not).
    Reject {
        reason: Option<String>,
        learn: bool,
    },
    /// Accepted unless they carry a risk flag of their own (see
    /// `Change::needs_own_decision`); those stay pending, each to be
    /// decided on its own. `unflagged`: how many unnamed
    /// pending changes carry no flag.
    AcceptUnflagged {
        unflagged: i64,
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
    let ids: Vec<&Id> = named.keys().collect();
    let known = repo::proposals::known_changes(&cx.db, id, &ids).await?;
    for change in named.keys() {
        match known.get(change.as_str()) {
            None => {
                return Err(ApiError::new(
                    422,
                    format!("decisions: proposal {id} has no change `{change}`"),
                ))
            }
            Some(Known { decided_by: Some(by), .. }) => {
                return Err(ApiError::conflict(format!(
                    "change {change} was decided already ({by})"
                )))
            }
            Some(_) => {}
        }
    }
    let fallback = match fallback {
        Fallback::AcceptUnflagged { .. } => {
            let named_unflagged = known.values().filter(|k| !k.flagged).count() as i64;
            let all = repo::proposals::pending_unflagged_count(&cx.db, id).await?;
            Fallback::AcceptUnflagged { unflagged: all - named_unflagged }
        }
        other => other,
    };
    let decides_rest = match fallback {
        Fallback::Pending => false,
        Fallback::AcceptUnflagged { unflagged } => unflagged > 0,
        _ => row.pending_count > 0,
    };
    if named.is_empty() && !decides_rest {
        let why = if matches!(fallback, Fallback::AcceptUnflagged { .. }) {
            "every pending change carries a risk flag: decide each on its own"
        } else {
            "the request decides no pending change"
        };
        return Err(ApiError::new(422, why));
    }
    let actor = cx.who.actor();
    let fault = if crate::fault_injected(&cx.env, "decision-commit") {
        Fault::FailCommit
    } else if crate::fault_injected(&cx.env, "decision-pause") {
        Fault::PauseBeforeCommit
    } else {
        Fault::None
    };
    let decided = Decided { named, fallback, learn_named: true, fault, actor: &actor, at: cx.now };
    let outcome = decide_in_pages(&cx.db, &row, decided).await?;
    let event = if outcome.accepted > 0 { "proposal.applied" } else { "proposal.rejected" };
    let decided = api::Decided {
        proposal_id: row.id.clone(),
        status: outcome.status,
        version: outcome.version,
        accepted: outcome.accepted,
        rejected: outcome.rejected,
        pending: outcome.pending,
    };
    crate::webhooks::notify(
        cx,
        &row.agent_id,
        event,
        serde_json::to_value(api::ProposalReviewed {
            agent_id: row.agent_id.clone(),
            store_id: row.store_id.clone(),
            decided: decided.clone(),
            decided_by: actor.clone(),
        })?,
    )
    .await;
    http::json(&decided)
}

pub(crate) struct Outcome {
    pub status: ProposalStatus,
    pub version: i64,
    pub accepted: usize,
    pub rejected: usize,
    pub pending: usize,
}

/// Decisions on the pending changes of a proposal, and who made them.
pub(crate) struct Decided<'a> {
    /// Decisions on named changes.
    pub named: BTreeMap<Id, Decision>,
    /// What the other pending changes get.
    pub fallback: Fallback,
    /// Whether review memory learns from the named decisions (not when no
    /// person chose them).
    pub learn_named: bool,
    /// For tests of failure paths only (the environment's `REVERIE_FAULT`).
    pub fault: Fault,
    pub actor: &'a str,
    pub at: Timestamp,
}

impl Decided<'_> {
    /// The decision on `change`, and whether review memory learns from it;
    /// `None` when it stays pending.
    fn on(&self, change: &Change) -> Option<(Decision, bool)> {
        match (self.named.get(&change.id), &self.fallback) {
            (Some(d), _) => Some((d.clone(), self.learn_named)),
            (None, Fallback::Accept) => Some((Decision::ACCEPT, true)),
            (None, Fallback::AcceptUnflagged { .. }) => {
                (!change.needs_own_decision()).then_some((Decision::ACCEPT, true))
            }
            (None, Fallback::Reject { reason, learn }) => {
                Some((Decision::Reject { reason: reason.clone() }, *learn))
            }
            (None, Fallback::Pending) => None,
        }
    }

    /// Whether any change is accepted, which decides whether the decision
    /// makes a new store version.
    fn accepts_any(&self, pending: i64) -> bool {
        self.named.values().any(Decision::applies)
            || matches!(self.fallback, Fallback::Accept) && pending > self.named.len() as i64
            || matches!(self.fallback, Fallback::AcceptUnflagged { unflagged } if unflagged > 0)
    }

    /// The reason a rejection gave, kept on the proposal.
    fn reason(&self) -> Option<&str> {
        let named = self.named.values().find_map(|d| match d {
            Decision::Reject { reason } => reason.as_deref(),
            _ => None,
        });
        named.or(match &self.fallback {
            Fallback::Reject { reason, .. } => reason.as_deref(),
            _ => None,
        })
    }
}

/// Changes applied per page: what one page holds at once is these, the
/// entries they touch, and their audit records.
const CHANGES_PER_PAGE: i64 = 2000;

/// What the pages of a decision did.
#[derive(Default)]
struct Pages {
    accepted: usize,
    rejected: usize,
    /// Changes whose targets moved since the proposal was made.
    moved: Vec<String>,
    learned: reverie_core::review::ReviewHistory,
}

/// Applies `decided` to proposal `row`'s pending changes through the core
/// a page of changes at a time, staging each page's writes (see
/// `repo::staging`), then commits them all as one new store version with
/// the audit records, the decisions, the proposal's new status and what
/// review memory learns, in one batch: all of it or nothing. No step holds
/// the whole store or proposal, so a decision on any size of proposal
/// fits a Worker's memory.
pub(crate) async fn decide_in_pages(
    db: &Db,
    row: &ProposalRow,
    decided: Decided<'_>,
) -> ApiResult<Outcome> {
    let store_row = stores::get(db, &row.store_id).await?;
    let from = store_row.version;
    let to = if decided.accepts_any(row.pending_count) { from + 1 } else { from };
    let token = crate::random_hex();
    repo::staging::begin(db, &token, &row.store_id, decided.at).await?;
    // Other writes wait until this commits: a decision of many pages would
    // otherwise lose the version to any write that lands meanwhile.
    if let Err(e) = stores::hold(db, &store_row, &token).await {
        repo::staging::discard(db, &token).await;
        return Err(e);
    }
    let pages = match stage_pages(db, row, &store_row, &decided, &token, to).await {
        Ok(pages) if pages.moved.is_empty() => pages,
        Ok(pages) => {
            repo::staging::discard(db, &token).await;
            let conflict = reverie_core::Error::Conflict {
                base_version: row.base_version as u64,
                current_version: from as u64,
                changes: pages.moved,
            };
            return Err(conflict.into());
        }
        Err(e) => {
            repo::staging::discard(db, &token).await;
            return Err(e);
        }
    };
    let decided_now = pages.accepted + pages.rejected;
    let pending = (row.pending_count as usize).saturating_sub(decided_now);
    let accepted_total = repo::proposals::accepted_count(db, &row.id).await? + pages.accepted;
    let status = ProposalStatus::after(pending, accepted_total);
    let mut extra = vec![repo::proposals::set_status(
        db,
        &row.id,
        status,
        pending,
        decided.at,
        decided.reason(),
    )?];
    extra.extend(repo::reviews::learn(db, &row.store_id, &pages.learned)?);
    match decided.fault {
        Fault::FailCommit => extra.push(repo::faults::failing_statement(db)?),
        Fault::PauseBeforeCommit => worker::Delay::from(std::time::Duration::from_secs(3)).await,
        Fault::None => {}
    }
    stores::commit_staged(
        db,
        &token,
        Commit {
            store_id: row.store_id.clone(),
            from_version: from,
            to_version: to,
            actor: decided.actor.to_string(),
            at: decided.at,
            cause: "proposal",
            proposal_id: Some(row.id.clone()),
            note: None,
            active_entries: 0,
            events: Vec::new(),
            extra,
        },
    )
    .await?;
    Ok(Outcome { status, version: to, accepted: pages.accepted, rejected: pages.rejected, pending })
}

/// The pages of [`decide_in_pages`], staged under `token`; their audit
/// records name store version `to`. Once a page finds moved targets, the
/// rest are only checked, so the conflict names every moved change.
async fn stage_pages(
    db: &Db,
    row: &ProposalRow,
    store_row: &repo::stores::StoreRow,
    decided: &Decided<'_>,
    token: &str,
    to: i64,
) -> ApiResult<Pages> {
    let mut pages = Pages::default();
    let mut last_record = repo::audit::last_record(db, &row.store_id).await?;
    // The store without entries (its id, version and scope), read once;
    // each page fills in the entries it touches.
    let shell = stores::partial(db, store_row, Vec::new()).await?;
    // Entries an earlier page wrote: a later page reads them from staging.
    let mut staged: std::collections::HashSet<Id> = Default::default();
    let (mut after, mut seq) = (db::n(-1), 0);
    loop {
        let (page, next) =
            repo::proposals::pending_page(db, &row.id, after, CHANGES_PER_PAGE).await?;
        let mut decisions = BTreeMap::new();
        let mut chosen = Vec::new();
        for c in &page {
            if let Some((decision, learn)) = decided.on(&c.body) {
                decisions.insert(c.body.id.clone(), decision);
                chosen.push(c);
                if learn {
                    pages.learned.record(
                        c.body.kind,
                        &c.body.targets,
                        decisions[&c.body.id].applies(),
                    );
                }
            }
        }
        if !chosen.is_empty() {
            let proposal = core_proposal(row, chosen.iter().copied())?;
            let store = page_store(db, &shell, &proposal, &staged, token).await?;
            let review = Review { actor: decided.actor.to_string(), at: decided.at, decisions };
            match apply(&store, &proposal, &review) {
                Err(reverie_core::Error::Conflict { changes, .. }) => pages.moved.extend(changes),
                Err(e) => return Err(e.into()),
                Ok(_) if !pages.moved.is_empty() => {}
                Ok(mut applied) => {
                    for event in &mut applied.events {
                        event.store_version = to as u64;
                    }
                    let writes: Vec<(Id, Option<MemoryEntry>)> = stores::writes_of(&applied.events)
                        .into_iter()
                        .map(|(id, entry)| (id.clone(), entry.cloned()))
                        .collect();
                    staged.extend(writes.iter().map(|(id, _)| id.clone()));
                    let rows = review.decisions.iter().map(|(id, d)| {
                        repo::staging::decision_row(id, d, d.applies().then_some(to))
                    });
                    let records = reverie_core::audit::chain(last_record.as_ref(), applied.events);
                    if let Some(last) = records.last() {
                        last_record = Some(last.clone());
                    }
                    let statements =
                        repo::staging::page(db, token, &mut seq, &writes, &records, rows)?;
                    db.batch(statements).await?;
                    pages.accepted += applied.accepted.len();
                    pages.rejected += applied.rejected.len();
                }
            }
        }
        match next {
            Some(key) => after = key,
            None => break,
        }
        crate::let_others_in().await;
    }
    Ok(pages)
}

/// The entries a page of changes reads: its targets and the entries its
/// results replace, as an earlier page staged them or as they are.
async fn page_store(
    db: &Db,
    shell: &MemoryStore,
    proposal: &Proposal,
    staged: &std::collections::HashSet<Id>,
    token: &str,
) -> ApiResult<MemoryStore> {
    let mut ids: Vec<&Id> = proposal
        .changes
        .iter()
        .flat_map(|c| c.targets.iter().chain(c.result.as_ref().map(|r| &r.id)))
        .collect();
    ids.sort();
    ids.dedup();
    let (earlier, unstaged): (Vec<&Id>, Vec<&Id>) =
        ids.into_iter().partition(|id| staged.contains(*id));
    let mut entries = repo::entries::by_id(db, shell.id.as_str(), &unstaged).await?;
    if !earlier.is_empty() {
        let from_staging = repo::staging::entries(db, token, &earlier).await?;
        entries.extend(from_staging.into_iter().filter_map(|(_, body)| body));
    }
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(MemoryStore { entries, ..shell.clone() })
}

/// `POST /proposals/{id}/changes/{change_id}/revert` with `{"reason": ...}`:
/// undoes one applied change as a new version of the store, each entry it
/// touched back as it was before. Refused with 409 when one of them has
/// changed since the change made it (a later change or edit builds on
/// it), or when the store is not at `expected_version` (or `If-Match`).
pub(crate) async fn revert(
    cx: &Cx,
    id: &str,
    change_id: &str,
    req: &mut Request,
) -> ApiResult<api::Reverted> {
    let row = reviewable(cx, id).await?;
    let body: api::RevertRequest = http::json_body(req, http::limits::SMALL).await?;
    let reason = http::reason_text(&body.reason, 500)?.to_string();
    if reason.is_empty() {
        return Err(ApiError::new(422, "`reason` is required: say why the change is undone"));
    }
    let change = repo::proposals::change(&cx.db, &row.id, change_id)
        .await?
        .ok_or_else(|| ApiError::not_found("change", &format!("{change_id} of proposal {id}")))?;
    let Some(applied) = change.applied_version else {
        return Err(ApiError::conflict(format!(
            "change {change_id} was not applied: there is nothing to undo"
        )));
    };
    let store = repo::stores::find(&cx.db, &row.store_id)
        .await?
        .ok_or_else(|| ApiError::not_found("store", &row.store_id))?;
    http::expect_version(req, body.expected_version, &store.id, store.version)?;
    // What the change touched: its targets and the entry it wrote.
    let mut ids: Vec<&Id> = change.body.targets.iter().collect();
    ids.extend(change.body.result.as_ref().map(|r| &r.id));
    ids.sort();
    ids.dedup();
    // Each as it is now, as the change made it and as it was before: one
    // read of each for all of them.
    let by_id = |found: Vec<MemoryEntry>| -> HashMap<Id, MemoryEntry> {
        found.into_iter().map(|e| (e.id.clone(), e)).collect()
    };
    let mut now = by_id(repo::entries::by_id(&cx.db, &store.id, &ids).await?);
    let made = by_id(repo::entries::by_id_at(&cx.db, &store.id, &ids, applied).await?);
    let mut before = by_id(repo::entries::by_id_at(&cx.db, &store.id, &ids, applied - 1).await?);
    let mut entries = Vec::new();
    let mut moved = Vec::new();
    for entry_id in ids {
        let now = now.remove(entry_id);
        if now.as_ref() != made.get(entry_id) {
            moved.push(entry_id.to_string());
        }
        entries.push((entry_id.clone(), now, before.remove(entry_id)));
    }
    if !moved.is_empty() {
        return Err(ApiError::conflict(format!(
            "entries {} changed after change {change_id} made them (version {applied}): \
             undo the later changes first, or roll the store back",
            moved.join(", ")
        )));
    }
    let version = store.version + 1;
    let note = format!("reverted change {change_id} of proposal {id}: {reason}");
    let events = reverie_core::apply::revert_change(
        &Id::new(store.id.clone())?,
        version as u64,
        entries,
        &cx.who.actor(),
        cx.now,
        &Id::new(row.id.clone())?,
        &change.body.id,
        &note,
    );
    let active = |e: &Option<MemoryEntry>| e.as_ref().is_some_and(MemoryEntry::is_active);
    let delta: i64 =
        events.iter().map(|e| i64::from(active(&e.after)) - i64::from(active(&e.before))).sum();
    let counts = repo::entries::status_counts(&cx.db, &store.id).await?;
    let active_now = counts.get("active").copied().unwrap_or(0);
    let changed = events.len();
    stores::commit(
        &cx.db,
        Commit {
            store_id: store.id.clone(),
            from_version: store.version,
            to_version: version,
            actor: cx.who.actor(),
            at: cx.now,
            cause: "revert",
            proposal_id: Some(row.id.clone()),
            note: Some(note),
            active_entries: usize::try_from(active_now + delta).unwrap_or(0),
            events,
            extra: Vec::new(),
        },
    )
    .await?;
    Ok(api::Reverted {
        store_id: store.id,
        proposal_id: row.id,
        change_id: change_id.to_string(),
        version,
        entries_changed: changed,
    })
}
