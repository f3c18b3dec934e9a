//! The `imports` and `import_files` tables: memory files read from another
//! tool's format, byte for byte, with each file's layout (its digest and
//! where its entries sit), so an export patches only what a review changed.

use reverie_core::formats::{Document, File, Format};
use reverie_core::Timestamp;
use serde::Deserialize;
use worker::D1PreparedStatement;

use crate::db::{self, Db};
use crate::http::ApiResult;

/// An import as recorded.
#[derive(Deserialize)]
pub(crate) struct ImportRow {
    pub id: String,
    pub store_id: String,
    pub format: Format,
    /// The store version the import made (or found).
    pub version: i64,
    /// How many files it held.
    pub files: i64,
}

/// One file of an import, with its layout.
#[derive(Deserialize)]
struct FileRow {
    path: String,
    content: String,
    /// A `formats::Document`, as JSON.
    document: String,
}

/// What an import records.
pub(crate) struct NewImport<'a> {
    pub id: &'a str,
    pub agent_id: &'a str,
    pub store_id: &'a str,
    pub format: Format,
    pub source: &'a str,
    pub version: i64,
    pub at: Timestamp,
    pub actor: &'a str,
    pub entries: usize,
    pub files: &'a [File],
    pub documents: &'a [Document],
}

/// The statements that record an import and its files, to run in the
/// batch that writes its entries.
pub(crate) fn insert(db: &Db, new: &NewImport<'_>) -> ApiResult<Vec<D1PreparedStatement>> {
    let mut out = vec![db.stmt(
        "INSERT INTO imports (id, agent_id, store_id, format, version, created_at, actor, \
         files, entries, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        &[
            db::s(new.id),
            db::s(new.agent_id),
            db::s(new.store_id),
            db::s(new.format.as_str()),
            db::n(new.version),
            db::n(new.at.0),
            db::s(new.actor),
            db::n(new.files.len() as i64),
            db::n(new.entries as i64),
            db::s(new.source),
        ],
    )?];
    // The files as JSON chunks, a statement each: a folder of thousands of
    // files is a handful of statements, not one per file.
    let rows = new.files.iter().zip(new.documents).enumerate().map(|(position, (f, d))| {
        Ok(serde_json::json!({
            "position": position,
            "path": f.path,
            "content": f.content,
            "document": serde_json::to_string(d)?,
        }))
    });
    let rows = rows.collect::<ApiResult<Vec<_>>>()?;
    for chunk in db::json_chunks(rows)? {
        out.push(db.stmt(
            "INSERT INTO import_files (import_id, position, path, content, document) \
             SELECT ?1, json_extract(value, '$.position'), json_extract(value, '$.path'), \
             json_extract(value, '$.content'), json_extract(value, '$.document') \
             FROM json_each(?2)",
            &[db::s(new.id), db::s(&chunk)],
        )?);
    }
    Ok(out)
}

/// The import `id` of store `store_id`, or, when `id` is `None`, its
/// latest (of `format` from `source`, when named).
pub(crate) async fn find(
    db: &Db,
    store_id: &str,
    id: Option<&str>,
    format: Option<(Format, &str)>,
) -> ApiResult<Option<ImportRow>> {
    const COLUMNS: &str = "SELECT id, store_id, format, version, files FROM imports";
    match id {
        Some(id) => {
            db.first(
                &format!("{COLUMNS} WHERE id = ?1 AND store_id = ?2"),
                &[db::s(id), db::s(store_id)],
            )
            .await
        }
        None => {
            db.first(
                &format!(
                    "{COLUMNS} WHERE store_id = ?1 AND (?2 IS NULL OR (format = ?2 AND \
                     source = ?3)) ORDER BY created_at DESC, rowid DESC LIMIT 1"
                ),
                &[
                    db::s(store_id),
                    db::opt_s(format.map(|(f, _)| f.as_str())),
                    db::s(format.map_or("", |(_, source)| source)),
                ],
            )
            .await
        }
    }
}

/// The statement that drops the files of the store's imports from
/// `source` but the latest `keep` (their rows stay, as history). Every
/// comparison has a source of its own (`compare:…`): they count as one.
pub(crate) fn forget_files(
    db: &Db,
    store_id: &str,
    source: &str,
    keep: i64,
) -> ApiResult<D1PreparedStatement> {
    db.stmt(
        "DELETE FROM import_files WHERE import_id IN (SELECT id FROM imports WHERE store_id = ?1 \
         AND (source = ?2 OR (?2 LIKE 'compare:%' AND source LIKE 'compare:%')) \
         ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?3)",
        &[db::s(store_id), db::s(source), db::n(keep)],
    )
}

/// The files of an import, in bundle order, with their layouts.
pub(crate) async fn files(db: &Db, import_id: &str) -> ApiResult<(Vec<File>, Vec<Document>)> {
    let rows: Vec<FileRow> = db
        .all(
            "SELECT path, content, document FROM import_files WHERE import_id = ?1 \
             ORDER BY position",
            &[db::s(import_id)],
        )
        .await?;
    let mut files = Vec::with_capacity(rows.len());
    let mut documents = Vec::with_capacity(rows.len());
    for row in rows {
        documents.push(serde_json::from_str(&row.document)?);
        files.push(File { path: row.path, content: row.content });
    }
    Ok((files, documents))
}
