//! The agents' schedule slots (`agents.last_slot`): a scheduled pass is
//! claimed by its slot, so overlapping cron triggers run it once.

use reverie_core::Timestamp;
use serde::Deserialize;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// The agents whose scheduled passes are on, by id.
pub(crate) async fn scheduled_agents(db: &Db) -> ApiResult<Vec<String>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    let rows: Vec<Row> =
        db.all("SELECT id FROM agents WHERE dreaming_enabled = 1 ORDER BY id", &[]).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Claims `slot` for `agent_id` unless it (or a later one) was claimed
/// already; whether this call claimed it.
pub(crate) async fn claim(db: &Db, agent_id: &str, slot: Timestamp) -> ApiResult<bool> {
    let changed = db
        .run(
            "UPDATE agents SET last_slot = ?2 WHERE id = ?1 AND (last_slot IS NULL OR last_slot < ?2)",
            &[db::s(agent_id), db::n(slot.0)],
        )
        .await?;
    Ok(changed > 0)
}

/// Gives `slot` back (the agent's last slot becomes `last` again), so the
/// next trigger runs it.
pub(crate) async fn release(
    db: &Db,
    agent_id: &str,
    slot: Timestamp,
    last: Option<Timestamp>,
) -> ApiResult<()> {
    db.run(
        "UPDATE agents SET last_slot = ?3 WHERE id = ?1 AND last_slot = ?2",
        &[db::s(agent_id), db::n(slot.0), last.map_or(wasm_bindgen::JsValue::NULL, |t| db::n(t.0))],
    )
    .await?;
    Ok(())
}
