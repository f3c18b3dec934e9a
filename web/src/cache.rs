//! What the dashboard keeps in IndexedDB so review works offline: the last
//! good answer of each API read (as the JSON text the service sent), and
//! the reviewer's own state — decisions in progress and submissions
//! waiting to sync. Keys carry a fingerprint of the signed-in token, so two
//! people sharing a browser never see each other's copies.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;

const DB_NAME: &str = "reverie";
const DB_VERSION: u32 = 2;
/// API answers, by token and path.
const RESPONSES: &str = "responses";
/// Drafts and the outbox, by token and name.
const STATE: &str = "state";

async fn open() -> Result<Database, String> {
    Database::open(DB_NAME)
        .with_version(DB_VERSION)
        .with_on_upgrade_needed(|event, db| {
            if event.old_version() < 1.0 {
                db.create_object_store(RESPONSES).build()?;
            }
            if event.old_version() < 2.0 {
                db.create_object_store(STATE).build()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| format!("cannot open the offline cache: {e}"))
}

/// A short, stable fingerprint of the signed-in token (FNV-1a). Not the
/// core's `hash_str`: drafts saved offline on devices are filed under this
/// key, and another hash would orphan them.
fn who() -> String {
    let token = crate::token::get().unwrap_or_default();
    let hash = token
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

pub fn response_key(path: &str) -> String {
    format!("{}|{path}", who())
}

fn state_key(name: &str) -> String {
    format!("{}|{name}", who())
}

async fn put(store: &str, key: &str, value: &str) -> Result<(), String> {
    let db = open().await?;
    let tx = db
        .transaction(store)
        .with_mode(TransactionMode::Readwrite)
        .build()
        .map_err(|e| e.to_string())?;
    let os = tx.object_store(store).map_err(|e| e.to_string())?;
    os.put(value.to_string()).with_key(key.to_string()).await.map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

async fn get(store: &str, key: &str) -> Result<Option<String>, String> {
    let db = open().await?;
    let tx = db.transaction(store).build().map_err(|e| e.to_string())?;
    let os = tx.object_store(store).map_err(|e| e.to_string())?;
    os.get::<String, _, _>(key.to_string()).await.map_err(|e| e.to_string())
}

async fn delete(store: &str, key: &str) -> Result<(), String> {
    let db = open().await?;
    let tx = db
        .transaction(store)
        .with_mode(TransactionMode::Readwrite)
        .build()
        .map_err(|e| e.to_string())?;
    let os = tx.object_store(store).map_err(|e| e.to_string())?;
    os.delete(key.to_string()).await.map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())
}

pub async fn put_response(key: &str, body: &str) -> Result<(), String> {
    put(RESPONSES, key, body).await
}

pub async fn get_response(key: &str) -> Result<Option<String>, String> {
    get(RESPONSES, key).await
}

pub async fn put_state(name: &str, value: &str) -> Result<(), String> {
    put(STATE, &state_key(name), value).await
}

pub async fn get_state(name: &str) -> Result<Option<String>, String> {
    get(STATE, &state_key(name)).await
}

pub async fn delete_state(name: &str) -> Result<(), String> {
    delete(STATE, &state_key(name)).await
}
