//! D1, the way this service uses it: typed rows out, bound values in, and
//! bulk data moved as JSON text. Many rows go in as one JSON array bound to
//! a single parameter and unpacked by SQLite's `json_each` (D1 caps bound
//! parameters per statement, not their size); many rows come out as one
//! `group_concat` string per page, parsed by serde in one go rather than
//! row object by row object.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

use crate::http::{ApiError, ApiResult};

/// JSON arrays bound as one parameter stay under this many bytes, well
/// inside D1's 2 MB limit on a single value.
const CHUNK_BYTES: usize = 512 * 1024;

pub(crate) struct Db(pub D1Database);

pub(crate) fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

pub(crate) fn n(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

pub(crate) fn opt_s(v: Option<&str>) -> JsValue {
    v.map_or(JsValue::NULL, JsValue::from_str)
}

/// A row of one JSON column, `body`.
#[derive(Deserialize)]
struct Body {
    body: String,
}

#[derive(Deserialize)]
struct Page {
    n: i64,
    last: Option<serde_json::Value>,
    doc: Option<String>,
}

impl Db {
    pub fn stmt(&self, sql: &str, args: &[JsValue]) -> ApiResult<D1PreparedStatement> {
        Ok(self.0.prepare(sql).bind(args)?)
    }

    pub async fn all<T: DeserializeOwned>(&self, sql: &str, args: &[JsValue]) -> ApiResult<Vec<T>> {
        Ok(self.stmt(sql, args)?.all().await?.results::<T>()?)
    }

    pub async fn first<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[JsValue],
    ) -> ApiResult<Option<T>> {
        Ok(self.stmt(sql, args)?.first::<T>(None).await?)
    }

    /// The rows' JSON column `body`, parsed.
    pub async fn bodies<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[JsValue],
    ) -> ApiResult<Vec<T>> {
        let rows: Vec<Body> = self.all(sql, args).await?;
        rows.iter().map(|r| Ok(serde_json::from_str(&r.body)?)).collect()
    }

    /// The first row's JSON column `body`, parsed.
    pub async fn body<T: DeserializeOwned>(
        &self,
        sql: &str,
        args: &[JsValue],
    ) -> ApiResult<Option<T>> {
        let row: Option<Body> = self.first(sql, args).await?;
        row.map(|r| Ok(serde_json::from_str(&r.body)?)).transpose()
    }

    /// Runs a write; returns the number of rows it changed.
    pub async fn run(&self, sql: &str, args: &[JsValue]) -> ApiResult<usize> {
        let result = self.stmt(sql, args)?.run().await?;
        Ok(changes(&result))
    }

    /// Runs statements as one transaction: all or nothing.
    pub async fn batch(&self, statements: Vec<D1PreparedStatement>) -> ApiResult<Vec<D1Result>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.0.batch(statements).await?)
    }

    /// Reads a JSON column of many rows, a page at a time. `sql` selects
    /// `key` and `body` columns, takes the key to start after as `?1`
    /// (first `start`) and the page size as `?2`, then `args`; it must
    /// order by `key`.
    pub async fn json_rows<T: DeserializeOwned>(
        &self,
        sql: &str,
        start: JsValue,
        args: &[JsValue],
    ) -> ApiResult<Vec<T>> {
        let mut out = Vec::new();
        let mut after = Some(start);
        let mut turns = crate::Turns::new();
        while let Some(key) = after {
            let (rows, next) = self.json_page(sql, key, 1000, args).await?;
            out.extend(rows);
            after = next;
            turns.take().await;
        }
        Ok(out)
    }

    /// One page of [`json_rows`](Db::json_rows): at most `rows` rows after
    /// `after`, and the key to read on from when there may be more. A page
    /// is one string, which D1 caps at 2 MB: a page too big for that is
    /// asked for again at half the rows.
    pub async fn json_page<T: DeserializeOwned>(
        &self,
        sql: &str,
        after: JsValue,
        rows: i64,
        args: &[JsValue],
    ) -> ApiResult<(Vec<T>, Option<JsValue>)> {
        let paged = format!(
            "SELECT COUNT(*) AS n, MAX(key) AS last, '[' || group_concat(body, ',') || ']' AS doc FROM ({sql})"
        );
        let mut rows_per_page = rows.max(1);
        let page = loop {
            let mut bound = vec![after.clone(), n(rows_per_page)];
            bound.extend(args.iter().cloned());
            match self.stmt(&paged, &bound)?.first::<Page>(None).await {
                Ok(page) => break page,
                Err(e) if e.to_string().contains("TOOBIG") && rows_per_page > 1 => {
                    rows_per_page /= 2;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let Some(page) = page else { return Ok((Vec::new(), None)) };
        let out = match &page.doc {
            Some(doc) => serde_json::from_str(doc)?,
            None => Vec::new(),
        };
        let next = match page.last {
            Some(serde_json::Value::String(last)) if page.n == rows_per_page => Some(s(&last)),
            Some(serde_json::Value::Number(last)) if page.n == rows_per_page => {
                Some(JsValue::from_f64(last.as_f64().unwrap_or(f64::MAX)))
            }
            _ => None,
        };
        Ok((out, next))
    }
}

pub(crate) fn changes(result: &D1Result) -> usize {
    result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0)
}

/// Builds JSON arrays of at most `CHUNK_BYTES` each from items pushed one
/// at a time (an item larger than that travels alone).
struct Chunker {
    current: String,
}

impl Chunker {
    fn new() -> Self {
        Chunker { current: String::from("[") }
    }

    /// Adds `item`; returns the chunk it closed, if it closed one.
    fn push<T: Serialize>(&mut self, item: T) -> ApiResult<Option<String>> {
        let text = serde_json::to_string(&item)?;
        let mut closed = None;
        if self.current.len() > 1 && self.current.len() + text.len() + 2 > CHUNK_BYTES {
            self.current.push(']');
            closed = Some(std::mem::replace(&mut self.current, String::from("[")));
        }
        if self.current.len() > 1 {
            self.current.push(',');
        }
        self.current.push_str(&text);
        Ok(closed)
    }

    /// The last chunk, unless it is empty.
    fn finish(mut self) -> Option<String> {
        (self.current.len() > 1).then(|| {
            self.current.push(']');
            self.current
        })
    }
}

/// `items` as JSON arrays of at most `CHUNK_BYTES` each (an item larger
/// than that travels alone).
pub(crate) fn json_chunks<T: Serialize>(
    items: impl IntoIterator<Item = T>,
) -> ApiResult<Vec<String>> {
    let mut chunker = Chunker::new();
    let mut chunks = Vec::new();
    for item in items {
        chunks.extend(chunker.push(item)?);
    }
    chunks.extend(chunker.finish());
    Ok(chunks)
}

/// Chunks written per batch by [`Db::write_in_batches`].
const CHUNKS_PER_BATCH: usize = 4;

impl Db {
    /// Writes `items` as JSON array chunks, each through the statement
    /// `statement` makes of it, a few chunks per batch, so that no more
    /// than one batch of them is held at once. Not one transaction: the
    /// caller writes rows no reader sees until a last batch of its own
    /// makes them visible, and removes them if that fails.
    pub async fn write_in_batches<T: Serialize>(
        &self,
        items: impl IntoIterator<Item = T>,
        statement: impl Fn(&str) -> ApiResult<D1PreparedStatement>,
    ) -> ApiResult<()> {
        let mut chunker = Chunker::new();
        let mut batch = Vec::new();
        for item in items {
            if let Some(chunk) = chunker.push(item)? {
                batch.push(statement(&chunk)?);
                if batch.len() == CHUNKS_PER_BATCH {
                    self.batch(std::mem::take(&mut batch)).await?;
                }
            }
        }
        if let Some(chunk) = chunker.finish() {
            batch.push(statement(&chunk)?);
        }
        self.batch(batch).await?;
        Ok(())
    }
}

/// A status word read back from the database, which only this service
/// writes: one it does not know is a fault of the service, not the caller.
pub(crate) fn word<T>(parsed: Option<T>, what: &str, raw: &str) -> ApiResult<T> {
    parsed.ok_or_else(|| ApiError::new(500, format!("unknown {what} `{raw}` in the database")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(chunks: &[String]) -> Vec<String> {
        chunks.iter().flat_map(|c| serde_json::from_str::<Vec<String>>(c).unwrap()).collect()
    }

    #[test]
    fn nothing_makes_no_chunk() {
        assert!(json_chunks(Vec::<String>::new()).unwrap().is_empty());
    }

    #[test]
    fn chunks_are_json_arrays_under_the_cap_holding_every_item_in_order() {
        let all: Vec<String> =
            (0..40_000).map(|i| format!("entry {i:05} {}", "x".repeat(40))).collect();
        let chunks = json_chunks(&all).unwrap();
        assert!(chunks.len() > 2, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_BYTES), "a chunk over the cap");
        assert_eq!(items(&chunks), all);
    }

    #[test]
    fn an_item_over_the_cap_is_a_chunk_of_its_own() {
        let big = "y".repeat(CHUNK_BYTES + 10);
        let all = vec!["a".to_string(), big.clone(), "b".to_string()];
        let chunks = json_chunks(&all).unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(items(&chunks[1..2]), [big]);
        assert_eq!(items(&chunks), all);
    }

    #[test]
    fn an_unknown_word_in_the_database_is_the_services_fault() {
        let e = word(None::<u8>, "pass status", "paused").unwrap_err();
        assert_eq!(e.status, 500);
        assert!(e.message.contains("`paused`"), "{}", e.message);
        assert_eq!(word(Some(3), "pass status", "done").unwrap(), 3);
    }
}
