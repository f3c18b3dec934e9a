//! Statements that fail on purpose, for the tests of failure paths only
//! (`REVERIE_FAULT`; never set in a deployment).

use worker::D1PreparedStatement;

use crate::db::Db;
use crate::http::ApiResult;

/// A statement that breaks a CHECK constraint, for the last place in a
/// batch: the tests' proof that a batch failing half-way leaves nothing.
pub(crate) fn failing_statement(db: &Db) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        "INSERT INTO stores (id, scope, version, created_at) \
         VALUES ('fault-injected', 'neither', 0, 0)",
        &[],
    )
}
