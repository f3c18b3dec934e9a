//! The offline cache: the last good answer of each API read, kept in
//! IndexedDB as the JSON text the service sent, keyed by what was asked.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;

const DB_NAME: &str = "reverie";
const DB_VERSION: u32 = 1;
const STORE: &str = "responses";

async fn open() -> Result<Database, String> {
    Database::open(DB_NAME)
        .with_version(DB_VERSION)
        .with_on_upgrade_needed(|event, db| {
            if event.old_version() < 1.0 {
                db.create_object_store(STORE).build()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| format!("cannot open the offline cache: {e}"))
}

/// Stores `body` under `key`, replacing what was there.
pub async fn put(key: &str, body: &str) -> Result<(), String> {
    let db = open().await?;
    let tx = db.transaction(STORE).with_mode(TransactionMode::Readwrite).build().map_err(|e| e.to_string())?;
    let store = tx.object_store(STORE).map_err(|e| e.to_string())?;
    store.put(body.to_string()).with_key(key.to_string()).await.map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

/// The body last stored under `key`, if any.
pub async fn get(key: &str) -> Result<Option<String>, String> {
    let db = open().await?;
    let tx = db.transaction(STORE).build().map_err(|e| e.to_string())?;
    let store = tx.object_store(STORE).map_err(|e| e.to_string())?;
    store.get::<String, _, _>(key.to_string()).await.map_err(|e| e.to_string())
}
