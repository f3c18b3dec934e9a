//! Review memory (`review_tallies`, `rejected_groups`): what reviewers
//! accepted and rejected on a store, which the next pass reads.

use reverie_core::review::{ReviewHistory, Tally};
use reverie_core::ChangeKind;
use serde::Deserialize;
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// What a review teaches the next pass (`learned`, made by core's
/// `ReviewHistory::record`), as increments that add up under concurrent
/// reviews. Only decisions a person chose teach: not the changes left over
/// in a partial accept, nor unattended applies.
pub(crate) fn learn(
    db: &Db,
    store_id: &str,
    learned: &ReviewHistory,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let mut out = Vec::new();
    for (kind, Tally { accepted, rejected }) in &learned.tallies {
        out.push(db.stmt(
            "INSERT INTO review_tallies (store_id, kind, accepted, rejected) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (store_id, kind) DO UPDATE SET accepted = accepted + excluded.accepted, rejected = rejected + excluded.rejected",
            &[db::s(store_id), db::s(kind.as_str()), db::n(i64::from(*accepted)), db::n(i64::from(*rejected))],
        )?);
    }
    for group in &learned.rejected_groups {
        out.push(db.stmt(
            "INSERT OR IGNORE INTO rejected_groups (store_id, members) VALUES (?1, ?2)",
            &[db::s(store_id), db::s(&serde_json::to_string(group)?)],
        )?);
    }
    Ok(out)
}

/// The review history of a store, for the next pass.
pub(crate) async fn history(db: &Db, store_id: &str) -> ApiResult<ReviewHistory> {
    #[derive(Deserialize)]
    struct TallyRow {
        kind: ChangeKind,
        accepted: u32,
        rejected: u32,
    }
    #[derive(Deserialize)]
    struct GroupRow {
        members: String,
    }
    let tallies: Vec<TallyRow> = db
        .all(
            "SELECT kind, accepted, rejected FROM review_tallies WHERE store_id = ?1",
            &[db::s(store_id)],
        )
        .await?;
    let groups: Vec<GroupRow> = db
        .all("SELECT members FROM rejected_groups WHERE store_id = ?1", &[db::s(store_id)])
        .await?;
    let mut history = ReviewHistory::default();
    for t in tallies {
        history.tallies.insert(t.kind, Tally { accepted: t.accepted, rejected: t.rejected });
    }
    for g in groups {
        history.rejected_groups.insert(serde_json::from_str(&g.members)?);
    }
    Ok(history)
}
