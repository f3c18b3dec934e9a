//! The `passes` table: one row per consolidation pass, from its claim to
//! its outcome.

use reverie_api::{self as api, PassStage, PassStatus};
use reverie_core::Timestamp;
use serde::{Deserialize, Serialize};
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// A pass as stored.
#[derive(Serialize, Deserialize)]
pub(crate) struct PassRow {
    pub id: i64,
    pub agent_id: String,
    trigger: String,
    status: String,
    stage: Option<String>,
    started_at: f64,
    finished_at: Option<f64>,
    proposal_id: Option<String>,
    store_id: Option<String>,
    error: Option<String>,
    stats: Option<String>,
}

/// A pass as a marker on the outcomes chart.
#[derive(Deserialize)]
pub(crate) struct PassMarkRow {
    pub id: i64,
    pub started_at: f64,
    pub status: String,
    pub proposal_id: Option<String>,
}

const COLUMNS: &str = "id, agent_id, trigger, status, stage, started_at, finished_at, \
                       proposal_id, store_id, error, stats";

impl PassRow {
    /// The pass as the API shows it.
    pub fn describe(&self) -> ApiResult<api::Pass> {
        let stats: Option<api::PassStats> =
            self.stats.as_deref().map(serde_json::from_str).transpose()?;
        Ok(api::Pass {
            id: self.id,
            agent_id: self.agent_id.clone(),
            trigger: self.trigger.clone(),
            status: db::word(PassStatus::parse(&self.status), "pass status", &self.status)?,
            stage: self
                .stage
                .as_deref()
                .map(|s| db::word(PassStage::parse(s), "pass stage", s))
                .transpose()?,
            started_at: self.started_at as i64,
            finished_at: self.finished_at.map(|t| t as i64),
            duration_ms: self.finished_at.map(|f| (f - self.started_at) as i64),
            proposal_id: self.proposal_id.clone(),
            store_id: self.store_id.clone(),
            error: self.error.clone(),
            stats,
        })
    }
}

pub(crate) async fn find(db: &Db, id: i64) -> ApiResult<Option<PassRow>> {
    db.first(&format!("SELECT {COLUMNS} FROM passes WHERE id = ?1"), &[db::n(id)]).await
}

/// Newest first: of one agent, or of the agents in `grants` (a JSON array
/// of ids; `None` for every agent).
pub(crate) async fn list(
    db: &Db,
    agent: Option<&str>,
    grants: Option<&str>,
    limit: i64,
) -> ApiResult<Vec<PassRow>> {
    db.all(
        &format!(
            "SELECT {COLUMNS} FROM passes WHERE (?1 IS NULL OR agent_id = ?1) \
             AND (?2 IS NULL OR agent_id IN (SELECT value FROM json_each(?2))) \
             ORDER BY started_at DESC, id DESC LIMIT ?3"
        ),
        &[db::opt_s(agent), db::opt_s(grants), db::n(limit)],
    )
    .await
}

/// Claims a pass for `agent_id`: a new running row, unless one started
/// after `stale_before` is running already (then `None`).
pub(crate) async fn claim(
    db: &Db,
    agent_id: &str,
    store_id: Option<&str>,
    trigger: &str,
    now: Timestamp,
    stale_before: i64,
) -> ApiResult<Option<i64>> {
    let result = db
        .stmt(
            "INSERT INTO passes (agent_id, trigger, status, stage, started_at, store_id) \
             SELECT ?1, ?2, ?6, ?7, ?3, ?4 WHERE NOT EXISTS \
             (SELECT 1 FROM passes WHERE agent_id = ?1 AND status = ?6 AND started_at > ?5)",
            &[
                db::s(agent_id),
                db::s(trigger),
                db::n(now.0),
                db::opt_s(store_id),
                db::n(stale_before),
                db::s(PassStatus::Running.as_str()),
                db::s(PassStage::Queued.as_str()),
            ],
        )?
        .run()
        .await?;
    if db::changes(&result) == 0 {
        return Ok(None);
    }
    Ok(result.meta()?.and_then(|m| m.last_row_id))
}

/// Records the stage a running pass has reached.
pub(crate) async fn set_stage(db: &Db, id: i64, stage: PassStage) -> ApiResult<()> {
    db.run("UPDATE passes SET stage = ?2 WHERE id = ?1", &[db::n(id), db::s(stage.as_str())])
        .await?;
    Ok(())
}

/// The statement that links a pass to the proposal it made (in the batch
/// that saves the proposal).
pub(crate) fn set_proposal(db: &Db, id: i64, proposal_id: &str) -> ApiResult<D1PreparedStatement> {
    db.stmt("UPDATE passes SET proposal_id = ?2 WHERE id = ?1", &[db::n(id), db::s(proposal_id)])
}

/// Records a pass's outcome; stats already recorded are kept when none
/// are given.
pub(crate) async fn finish(
    db: &Db,
    id: i64,
    status: PassStatus,
    finished: i64,
    error: Option<&str>,
    stats: Option<&api::PassStats>,
) -> ApiResult<()> {
    let stats = stats.map(serde_json::to_string).transpose()?;
    db.run(
        "UPDATE passes SET status = ?2, stage = ?6, finished_at = ?3, error = ?4, \
         stats = COALESCE(?5, stats) WHERE id = ?1",
        &[
            db::n(id),
            db::s(status.as_str()),
            db::n(finished),
            db::opt_s(error),
            db::opt_s(stats.as_deref()),
            db::s(PassStage::Done.as_str()),
        ],
    )
    .await?;
    Ok(())
}

/// Closes passes still running that started at or before `stale_before`:
/// the runtime stopped them before they could record an outcome.
pub(crate) async fn fail_stale(db: &Db, now: i64, stale_before: i64) -> ApiResult<()> {
    db.run(
        "UPDATE passes SET status = ?3, finished_at = ?1, \
         error = 'the pass did not finish: the runtime stopped it before it could record an \
         outcome' WHERE status = ?4 AND started_at <= ?2",
        &[
            db::n(now),
            db::n(stale_before),
            db::s(PassStatus::Failed.as_str()),
            db::s(PassStatus::Running.as_str()),
        ],
    )
    .await?;
    Ok(())
}

/// Up to 1,000 passes of an agent started in `[since, until)`, oldest
/// first.
pub(crate) async fn marks(
    db: &Db,
    agent_id: &str,
    since: i64,
    until: i64,
) -> ApiResult<Vec<PassMarkRow>> {
    db.all(
        "SELECT id, started_at, status, proposal_id FROM passes \
         WHERE agent_id = ?1 AND started_at >= ?2 AND started_at < ?3 \
         ORDER BY started_at LIMIT 1000",
        &[db::s(agent_id), db::n(since), db::n(until)],
    )
    .await
}
