//! The HTTP edge: one error type that becomes the JSON error body, request
//! bodies read under a size limit and parsed into typed values, query
//! parameters, and JSON responses.

use std::collections::HashMap;

use reverie_api as api;
use reverie_core::Timestamp;
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Request, Response};

/// A request that failed, with the status and words the caller sees:
/// `{"error": {"status": N, "message": "...", ...details}}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: u16,
    pub message: String,
    /// Extra fields of the error object, e.g. the conflicting changes
    /// (boxed: errors travel in every `Result`, and are mostly without).
    pub details: Box<api::ErrorDetails>,
}

pub(crate) type ApiResult<T = Response> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), details: Box::default() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(404, format!("no {kind} `{id}`"))
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }
    pub fn with_details(mut self, details: api::ErrorDetails) -> Self {
        self.details = Box::new(details);
        self
    }

    pub fn into_response(self) -> worker::Result<Response> {
        let body = api::ErrorBody {
            error: api::ErrorDetail {
                status: self.status,
                message: self.message,
                details: *self.details,
            },
        };
        Ok(Response::from_json(&body)?.with_status(self.status))
    }
}

impl From<worker::Error> for ApiError {
    fn from(err: worker::Error) -> Self {
        let text = err.to_string();
        if text.contains("UNIQUE constraint failed") {
            // Every write to a store claims its next version (or audit
            // sequence number) first; a unique violation means another
            // write got there between our read and our write.
            return ApiError::conflict(
                "a concurrent request changed the same data (for a store: it moved to a new version) while this \
                 one was being written; nothing was saved — reload and try again",
            );
        }
        if text.contains("NOT NULL constraint failed: stores.version") {
            // A write refused while a decision holds the store.
            return ApiError::conflict(
                "a decision is being applied to this store; nothing was saved — try again in a few \
                 seconds",
            );
        }
        worker::console_error!("runtime or storage error: {text}");
        ApiError::new(
            500,
            format!("internal error in the runtime or storage: {}", clip(&text, 300)),
        )
    }
}

impl From<reverie_core::Error> for ApiError {
    fn from(err: reverie_core::Error) -> Self {
        use reverie_core::Error as E;
        match &err {
            E::Conflict { base_version, current_version, changes } => {
                ApiError::conflict(err.to_string()).with_details(api::ErrorDetails {
                    base_version: Some(*base_version as i64),
                    current_version: Some(*current_version as i64),
                    conflicting_changes: changes.clone(),
                    ..Default::default()
                })
            }
            _ => ApiError::new(422, err.to_string()),
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        ApiError::new(500, format!("internal error: stored JSON is unreadable: {err}"))
    }
}

/// A reason given for an undo (`reason`): trimmed, and refused (422,
/// naming the field) when longer than `max` characters, never cut.
pub(crate) fn reason_text(given: &str, max: usize) -> ApiResult<&str> {
    let text = given.trim();
    let n = text.chars().count();
    if n > max {
        return Err(ApiError::new(422, format!("`reason` holds {n} characters; at most {max}")));
    }
    Ok(text)
}

pub(crate) fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Body size limits, by what the body carries.
pub(crate) mod limits {
    /// Configs, decisions, small objects.
    pub const SMALL: usize = 256 * 1024;
    /// Batches of entries.
    pub const LARGE: usize = 16 * 1024 * 1024;
    /// A session as sent: kept whole, in parts when it does not fit the
    /// session's row (see `repo::sessions`). A Claude Code log runs to
    /// megabytes, most of it tool output that reading shortens.
    pub const SESSION: usize = 8 * 1024 * 1024;
}

/// The store version a write was decided on: `expected` from the body, or
/// an `If-Match` header (`"12"`, `"v12"` or `W/"12"`). When given and the
/// store is at another version, the write is a 409: someone changed the
/// store since the caller read it, and deciding again on what is there now
/// is theirs to do, never a silent overwrite.
pub(crate) fn expect_version(
    req: &Request,
    expected: Option<i64>,
    store: &str,
    current: i64,
) -> ApiResult<()> {
    let header = req.headers().get("if-match")?;
    let from_header = match header.as_deref().map(str::trim) {
        None | Some("*") => None,
        Some(tag) => {
            let bare = tag.trim_start_matches("W/").trim_matches('"').trim_start_matches('v');
            Some(bare.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "If-Match `{}` is not a store version such as \"12\"",
                    clip(tag, 40)
                ))
            })?)
        }
    };
    match expected.or(from_header) {
        Some(seen) if seen != current => Err(ApiError::conflict(format!(
            "store `{store}` is at version {current}, not version {seen} that this was decided on; \
             reload it and decide again"
        ))
        .with_details(api::ErrorDetails {
            expected_version: Some(seen),
            current_version: Some(current),
            ..Default::default()
        })),
        _ => Ok(()),
    }
}

/// Reads the body as text, refusing more than `limit` bytes.
pub(crate) async fn body_text(req: &mut Request, limit: usize) -> ApiResult<String> {
    let too_large = |n: usize| {
        ApiError::new(413, format!("the request body is {n} bytes; the limit here is {limit}"))
    };
    if let Some(declared) =
        req.headers().get("content-length")?.and_then(|v| v.trim().parse::<usize>().ok())
    {
        if declared > limit {
            return Err(too_large(declared));
        }
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))?;
    if bytes.len() > limit {
        return Err(too_large(bytes.len()));
    }
    // Bytes that are no UTF-8 are refused, not replaced: a transcript or
    // an entry is kept as sent, or not at all.
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // The prefix is valid UTF-8 up to there by the error's word.
        let before = std::str::from_utf8(valid).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let place = match json_path_at(before) {
            Some(path) if !path.is_empty() => format!("in `{path}` "),
            _ => String::new(),
        };
        ApiError::bad_request(format!(
            "the request body is not valid UTF-8: {place}at byte {} (line {line}); \
             send text encoded as UTF-8",
            valid.len()
        ))
    })
}

/// Where in a JSON document that `prefix` starts its reading stops: the
/// path of the value being read ("transcript.messages[2].content"), or
/// `None` when `prefix` is no JSON object's start.
fn json_path_at(prefix: &str) -> Option<String> {
    enum Frame {
        /// The key last read, and whether a key comes next.
        Object(Option<String>, bool),
        Array(usize),
    }
    if !prefix.trim_start().starts_with('{') {
        return None;
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut chars = prefix.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut read = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => read.push(c),
                    }
                }
                if let Some(Frame::Object(key, wants_key @ true)) = stack.last_mut() {
                    *key = Some(if closed { read } else { format!("{read}…") });
                    *wants_key = false;
                }
            }
            '{' => stack.push(Frame::Object(None, true)),
            '[' => stack.push(Frame::Array(0)),
            '}' | ']' => {
                stack.pop();
            }
            ',' => match stack.last_mut() {
                Some(Frame::Object(_, wants_key)) => *wants_key = true,
                Some(Frame::Array(i)) => *i += 1,
                None => {}
            },
            _ => {}
        }
    }
    let mut path = String::new();
    for frame in &stack {
        match frame {
            Frame::Object(Some(key), _) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object(None, _) => {}
            Frame::Array(i) => path.push_str(&format!("[{i}]")),
        }
    }
    Some(path)
}

/// Parses a JSON object body into `T`; serde's message names the bad
/// field.
pub(crate) fn parse_json<T: DeserializeOwned>(text: &str) -> ApiResult<T> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("the request body is empty; a JSON object was expected"));
    }
    // serde reads a struct from an array too, field by field in order:
    // every body of this API is an object, and anything else is refused.
    if !text.trim_start().starts_with('{') {
        return Err(ApiError::bad_request("the request body must be a JSON object (`{...}`)"));
    }
    serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}

pub(crate) async fn json_body<T: DeserializeOwned>(
    req: &mut Request,
    limit: usize,
) -> ApiResult<T> {
    parse_json(&body_text(req, limit).await?)
}

/// A JSON body that may be empty (then `T::default()`).
pub(crate) async fn optional_json_body<T: DeserializeOwned + Default>(
    req: &mut Request,
) -> ApiResult<T> {
    let text = body_text(req, limits::SMALL).await?;
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    parse_json(&text)
}

/// A read of a store at `version`, with the version as its `ETag`, for
/// the caller to send back as `If-Match` (see [`expect_version`]).
pub(crate) fn json_at_version<T: Serialize>(value: &T, version: i64) -> ApiResult {
    let mut resp = Response::from_json(value)?;
    resp.headers_mut().set("etag", &format!("\"{version}\""))?;
    Ok(resp)
}

pub(crate) fn json<T: Serialize>(value: &T) -> ApiResult {
    Ok(Response::from_json(value)?)
}

pub(crate) fn json_status<T: Serialize>(status: u16, value: &T) -> ApiResult {
    Ok(Response::from_json(value)?.with_status(status))
}

pub(crate) fn no_content() -> ApiResult {
    Ok(Response::empty()?.with_status(204))
}

/// Query parameters, read into typed values with errors naming the
/// parameter.
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub fn of(req: &Request) -> ApiResult<Query> {
        let url = req.url()?;
        Ok(Query(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()))
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn int(&self, name: &str) -> ApiResult<Option<i64>> {
        self.str(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("query `{name}`: `{v}` is not a whole number"))
                })
            })
            .transpose()
    }

    pub fn time(&self, name: &str) -> ApiResult<Option<Timestamp>> {
        Ok(self.int(name)?.map(Timestamp))
    }

    /// `limit`, defaulting to `default` and capped at `max`.
    pub fn limit(&self, default: i64, max: i64) -> ApiResult<i64> {
        match self.int("limit")? {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(n) => {
                Err(ApiError::bad_request(format!("query `limit`: {n} is outside 1..={max}")))
            }
        }
    }

    /// One of `allowed`, if given.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> ApiResult<Option<String>> {
        match self.str(name) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
            Some(v) => Err(ApiError::bad_request(format!(
                "query `{name}`: `{v}` is not one of {}",
                allowed.join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_names_where_reading_stopped() {
        let at = |s: &str| json_path_at(s);
        assert_eq!(
            at(r#"{"transcript": {"messages": [{"role": "user"}, {"content": "ab"#).as_deref(),
            Some("transcript.messages[1].content")
        );
        assert_eq!(at(r#"{"a": 1, "b": ["x", "y", "#).as_deref(), Some("b[2]"));
        // An escaped character is skipped, never read as the key's end.
        assert_eq!(at(r#"{"say \"hi\"": "#).as_deref(), Some("say hi"));
        assert_eq!(at(r#"{"unfinished key"#).as_deref(), Some("unfinished key…"));
        assert_eq!(at("[1, 2"), None, "not an object");
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
        assert_eq!(clip("short", 40), "short");
    }

    #[test]
    fn queries_name_the_parameter_at_fault() {
        let q = |pairs: &[(&str, &str)]| {
            Query(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
        };
        assert_eq!(q(&[]).limit(100, 1000).unwrap(), 100);
        assert_eq!(q(&[("limit", "7")]).limit(100, 1000).unwrap(), 7);
        for bad in ["0", "1001", "ten"] {
            let e = q(&[("limit", bad)]).limit(100, 1000).unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.message.contains("`limit`"), "{}", e.message);
        }
        assert_eq!(q(&[("at", "")]).time("at").unwrap(), None, "empty is absent");
        let e = q(&[("order", "sideways")]).one_of("order", &["asc", "desc"]).unwrap_err();
        assert!(e.message.contains("order"), "{}", e.message);
    }

    #[test]
    fn a_core_conflict_is_a_409_with_its_details() {
        let e = ApiError::from(reverie_core::Error::Conflict {
            base_version: 4,
            current_version: 6,
            changes: vec!["c0002".into()],
        });
        assert_eq!(e.status, 409);
        assert_eq!(e.details.base_version, Some(4));
        assert_eq!(e.details.current_version, Some(6));
        assert_eq!(e.details.conflicting_changes, ["c0002"]);
        let body = api::ErrorBody {
            error: api::ErrorDetail { status: e.status, message: e.message, details: *e.details },
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["error"]["conflicting_changes"][0], "c0002");
        assert!(json["error"].get("existing_ids").is_none(), "empty details are left out");
    }
}
