//! The `proposals` and `changes` tables: a proposal's row, and each of
//! its changes with the decision on it.

use std::collections::BTreeMap;

use reverie_api::{self as api, ProposalStatus};
use reverie_core::apply::Decision;
use reverie_core::{Change, Fingerprint, Id, Proposal, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// A proposal as stored.
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
    /// Where the proposal is.
    pub fn status(&self) -> ApiResult<ProposalStatus> {
        db::word(ProposalStatus::parse(&self.status), "proposal status", &self.status)
    }

    /// The proposal as the API lists it.
    pub fn describe(&self) -> ApiResult<api::ProposalBrief> {
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

/// Stores a new proposal's changes, a few chunks per batch. No reader
/// sees them until [`save`] writes the proposal's row; should that fail,
/// [`forget_changes`] removes them.
pub(crate) async fn save_changes(db: &Db, proposal: &Proposal) -> ApiResult<()> {
    let rows = proposal.changes.iter().enumerate().map(|(seq, c)| {
        let fingerprints: BTreeMap<&Id, &Fingerprint> =
            c.targets.iter().filter_map(|t| proposal.base_fingerprints.get(t).map(|fp| (t, fp))).collect();
        json!({ "seq": seq, "id": c.id, "kind": c.kind, "risky": c.is_risky(), "flagged": c.needs_own_decision(), "body": c, "fingerprints": fingerprints })
    });
    db.write_in_batches(rows, |chunk| {
        db.stmt(
            "INSERT INTO changes (proposal_id, seq, id, kind, risky, flagged, body, fingerprints) \
             SELECT ?1, json_extract(value, '$.seq'), json_extract(value, '$.id'), json_extract(value, '$.kind'), \
             json_extract(value, '$.risky'), json_extract(value, '$.flagged'), json_extract(value, '$.body'), \
             json_extract(value, '$.fingerprints') \
             FROM json_each(?2)",
            &[db::s(proposal.id.as_str()), db::s(chunk)],
        )
    })
    .await
}

/// Removes the changes of a proposal whose row was never written (best
/// effort: they are unreachable without it).
pub(crate) async fn forget_changes(db: &Db, proposal_id: &str) {
    let removed = db
        .run(
            "DELETE FROM changes WHERE proposal_id = ?1 \
             AND NOT EXISTS (SELECT 1 FROM proposals WHERE id = ?1)",
            &[db::s(proposal_id)],
        )
        .await;
    if let Err(e) = removed {
        worker::console_error!("changes of unsaved proposal {proposal_id} remain: {}", e.message);
    }
}

/// The statement that stores a new proposal's row, which makes its
/// changes (written first by [`save_changes`]) visible.
pub(crate) fn save(
    db: &Db,
    proposal: &Proposal,
    agent_id: &str,
    pass_id: Option<i64>,
) -> ApiResult<D1PreparedStatement> {
    let status = ProposalStatus::initial(proposal.changes.len());
    db.stmt(
        &format!("INSERT INTO proposals ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?8, ?9, ?10, NULL)"),
        &[
            db::s(proposal.id.as_str()),
            db::s(agent_id),
            db::s(proposal.store_id.as_str()),
            pass_id.map_or(JsValue::NULL, db::n),
            db::n(proposal.base_version as i64),
            db::s(status.as_str()),
            db::n(proposal.created_at.0),
            db::n(proposal.changes.len() as i64),
            db::s(&serde_json::to_string(&proposal.summary)?),
            db::s(&serde_json::to_string(&proposal.token_cost)?),
        ],
    )
}

pub(crate) async fn find(db: &Db, id: &str) -> ApiResult<Option<ProposalRow>> {
    db.first(&format!("SELECT {COLUMNS} FROM proposals WHERE id = ?1"), &[db::s(id)]).await
}

/// A stored change as one JSON object (`ChangeRow`'s shape).
const CHANGE_JSON: &str = "json_object('seq', seq, 'body', json(body), 'fingerprints', json(fingerprints), \
     'decision', json(decision_body), 'decided_by', decided_by, 'decided_at', CAST(decided_at AS INTEGER), \
     'applied_version', applied_version)";

/// `limit` changes of a proposal from the `offset`-th, in order.
pub(crate) async fn changes_page(
    db: &Db,
    proposal_id: &str,
    offset: i64,
    limit: i64,
) -> ApiResult<Vec<ChangeRow>> {
    let sql = format!(
        "SELECT seq AS key, {CHANGE_JSON} AS body FROM changes \
         WHERE proposal_id = ?3 AND seq > ?1 AND seq < ?4 ORDER BY seq LIMIT ?2"
    );
    // Changes are numbered from 0 in order, so a page is a range of seq.
    let end = offset.saturating_add(limit);
    db.json_rows(&sql, db::n(offset - 1), &[db::s(proposal_id), db::n(end)]).await
}

/// One change of a proposal, by its id.
pub(crate) async fn change(
    db: &Db,
    proposal_id: &str,
    change_id: &str,
) -> ApiResult<Option<ChangeRow>> {
    let sql =
        format!("SELECT {CHANGE_JSON} AS body FROM changes WHERE proposal_id = ?1 AND id = ?2");
    db.body(&sql, &[db::s(proposal_id), db::s(change_id)]).await
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

/// Pending first, then newest: of one agent or of the agents in `grants`
/// (a JSON array of ids; `None` for every agent), of one status or any.
pub(crate) async fn list(
    db: &Db,
    agent: Option<&str>,
    status: Option<&str>,
    grants: Option<&str>,
    limit: i64,
) -> ApiResult<Vec<ProposalRow>> {
    db.all(
        &format!(
            "SELECT {COLUMNS} FROM proposals WHERE (?1 IS NULL OR agent_id = ?1) \
             AND (?2 IS NULL OR status = ?2) \
             AND (?3 IS NULL OR agent_id IN (SELECT value FROM json_each(?3))) \
             ORDER BY CASE status WHEN ?5 THEN 0 WHEN ?6 THEN 1 ELSE 2 END, \
             created_at DESC, id LIMIT ?4"
        ),
        &[
            db::opt_s(agent),
            db::opt_s(status),
            db::opt_s(grants),
            db::n(limit),
            db::s(ProposalStatus::Pending.as_str()),
            db::s(ProposalStatus::PartiallyApplied.as_str()),
        ],
    )
    .await
}

/// Records the decisions `token` staged on `proposal_id`'s changes
/// (`staging::decision_row`), made by `actor` at a time.
pub(crate) fn record_staged_decisions(
    db: &Db,
    proposal_id: &str,
    token: &str,
    (actor, at): (&str, Timestamp),
) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        // The decisions are read once into a table first: joined to the
        // JSON directly, SQLite reads it all again for each change of the
        // proposal (2.5 s per 1,000 decisions on a 5,000-change proposal,
        // against 2 ms this way).
        "WITH d (id, decision, body, applied_version) AS MATERIALIZED ( \
           SELECT json_extract(r.value, '$.id'), json_extract(r.value, '$.decision'), \
           json_extract(r.value, '$.body'), json_extract(r.value, '$.applied_version') \
           FROM staged_chunks s, json_each(s.chunk) r WHERE s.token = ?2 AND s.kind = 'decisions') \
         UPDATE changes SET decision = d.decision, decision_body = d.body, decided_by = ?3, \
         decided_at = ?4, applied_version = d.applied_version \
         FROM d WHERE changes.proposal_id = ?1 AND changes.id = d.id",
        &[db::s(proposal_id), db::s(token), db::s(actor), db::n(at.0)],
    )
}

/// Sets where a proposal is after a decision; `reason` is kept unless a
/// new one is given.
pub(crate) fn set_status(
    db: &Db,
    proposal_id: &str,
    status: ProposalStatus,
    pending: usize,
    at: Timestamp,
    reason: Option<&str>,
) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        "UPDATE proposals SET status = ?2, pending_count = ?3, updated_at = ?4, \
         reason = COALESCE(?5, reason) WHERE id = ?1",
        &[
            db::s(proposal_id),
            db::s(status.as_str()),
            db::n(pending as i64),
            db::n(at.0),
            db::opt_s(reason),
        ],
    )
}

/// Up to `rows` undecided changes of a proposal after `after` (a `seq`;
/// -1 for the first), and the `seq` to read on from when there may be more.
pub(crate) async fn pending_page(
    db: &Db,
    proposal_id: &str,
    after: JsValue,
    rows: i64,
) -> ApiResult<(Vec<ChangeRow>, Option<JsValue>)> {
    let sql = format!(
        "SELECT seq AS key, {CHANGE_JSON} AS body FROM changes \
         WHERE proposal_id = ?3 AND decision IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2"
    );
    db.json_page(&sql, after, rows, &[db::s(proposal_id)]).await
}

/// The undecided changes of the store's open proposals (pending, or
/// partly applied), a page at a time.
pub(crate) async fn open_changes(db: &Db, store_id: &str) -> ApiResult<Vec<ChangeRow>> {
    #[derive(Deserialize)]
    struct Open {
        id: String,
    }
    let open: Vec<Open> = db
        .all(
            "SELECT id FROM proposals WHERE store_id = ?1 AND status IN (?2, ?3) ORDER BY id",
            &[
                db::s(store_id),
                db::s(ProposalStatus::Pending.as_str()),
                db::s(ProposalStatus::PartiallyApplied.as_str()),
            ],
        )
        .await?;
    let mut out = Vec::new();
    for proposal in open {
        let mut after = db::n(-1);
        loop {
            let (rows, next) = pending_page(db, &proposal.id, after, 500).await?;
            out.extend(rows);
            match next {
                Some(key) => after = key,
                None => break,
            }
        }
    }
    Ok(out)
}

/// The changes applied in `version` of the store by the proposal that
/// made it: each entry they touched (targets and result), with the change.
pub(crate) async fn applied_in(
    db: &Db,
    store_id: &str,
    version: i64,
) -> ApiResult<BTreeMap<String, String>> {
    #[derive(Deserialize)]
    struct Applied {
        id: String,
        targets: String,
        result: Option<String>,
    }
    let rows: Vec<Applied> = db
        .all(
            "SELECT c.id, json_extract(c.body, '$.targets') AS targets, \
             json_extract(c.body, '$.result.id') AS result \
             FROM store_versions v JOIN changes c ON c.proposal_id = v.proposal_id \
             WHERE v.store_id = ?1 AND v.version = ?2 AND c.applied_version = ?2",
            &[db::s(store_id), db::n(version)],
        )
        .await?;
    let mut by = BTreeMap::new();
    for row in rows {
        let targets: Vec<String> = serde_json::from_str(&row.targets)?;
        for entry in targets.into_iter().chain(row.result) {
            by.insert(entry, row.id.clone());
        }
    }
    Ok(by)
}

#[derive(Deserialize)]
struct KnownRow {
    id: String,
    decided_by: Option<String>,
    decided: i64,
    flagged: i64,
}

/// A change a decision names, as the proposal has it.
pub(crate) struct Known {
    /// Who decided it; `None` while it is pending.
    pub decided_by: Option<String>,
    /// Whether it carries a risk flag of its own.
    pub flagged: bool,
}

/// Of `ids`, the changes the proposal has.
pub(crate) async fn known_changes(
    db: &Db,
    proposal_id: &str,
    ids: &[&Id],
) -> ApiResult<BTreeMap<String, Known>> {
    let mut out = BTreeMap::new();
    for chunk in db::json_chunks(ids)? {
        let rows: Vec<KnownRow> = db
            .all(
                "SELECT id, decided_by, decision IS NOT NULL AS decided, flagged FROM changes \
                 WHERE proposal_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
                &[db::s(proposal_id), db::s(&chunk)],
            )
            .await?;
        for r in rows {
            let decided_by = (r.decided != 0).then(|| r.decided_by.unwrap_or_else(|| "?".into()));
            out.insert(r.id, Known { decided_by, flagged: r.flagged != 0 });
        }
    }
    Ok(out)
}

/// How many pending changes carry no risk flag of their own.
pub(crate) async fn pending_unflagged_count(db: &Db, proposal_id: &str) -> ApiResult<i64> {
    let row: Option<Count> = db
        .first(
            "SELECT COUNT(*) AS n FROM changes \
             WHERE proposal_id = ?1 AND decision IS NULL AND flagged = 0",
            &[db::s(proposal_id)],
        )
        .await?;
    Ok(row.map_or(0, |r| r.n))
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

/// How many of a proposal's changes were accepted (as proposed or edited).
pub(crate) async fn accepted_count(db: &Db, proposal_id: &str) -> ApiResult<usize> {
    let row: Option<Count> = db
        .first(
            "SELECT COUNT(*) AS n FROM changes WHERE proposal_id = ?1 AND decision IN ('accept', 'edit')",
            &[db::s(proposal_id)],
        )
        .await?;
    Ok(row.map_or(0, |r| r.n as usize))
}
