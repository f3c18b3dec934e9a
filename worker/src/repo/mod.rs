//! The storage layer: one module per table family, with typed rows and
//! named operations; the worker's SQL lives here and nowhere else (but
//! for `db::json_page`, which wraps any query in pages). Statements that
//! must land together are returned, not run, and the caller sends them
//! in one batch.

pub(crate) mod agents;
pub(crate) mod audit;
pub(crate) mod entries;
pub(crate) mod faults;
pub(crate) mod imports;
pub(crate) mod passes;
pub(crate) mod proposals;
pub(crate) mod reviews;
pub(crate) mod sessions;
pub(crate) mod slots;
pub(crate) mod staging;
pub(crate) mod stores;
pub(crate) mod tokens;
pub(crate) mod webhooks;
