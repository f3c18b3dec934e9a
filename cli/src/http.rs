//! Talking to the service: JSON in and out, the bearer token on every
//! request, and errors that say which request failed and what the service
//! said about it.

use std::fmt;
use std::time::Duration;

use reverie_api::ErrorBody;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The largest answer read. An export carries whole files (up to 2,000 of
/// a megabyte each), so ureq's default of 10 MB is too small.
const MAX_ANSWER: u64 = 256 * 1024 * 1024;

/// A client for one service and token.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: String,
}

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// No answer: the service could not be reached or the connection broke.
    Network { request: String, message: String },
    /// The service answered with an error status.
    Status { request: String, status: u16, message: String },
    /// The service answered 2xx, but not with what this client reads.
    Answer { request: String, message: String },
}

impl ApiError {
    /// The HTTP status, when the service answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The service's own words for an error status (`error.message`).
    pub fn message(&self) -> &str {
        match self {
            ApiError::Network { message, .. }
            | ApiError::Status { message, .. }
            | ApiError::Answer { message, .. } => message,
        }
    }

    /// Whether every later request would fail the same way: no service,
    /// a token it refuses, or an agent it does not have.
    pub fn stops_everything(&self) -> bool {
        matches!(self, ApiError::Network { .. }) || matches!(self.status(), Some(401 | 403 | 404))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Network { request, message } => {
                write!(f, "cannot reach the service ({request}): {message}")
            }
            ApiError::Status { request, status, message } => {
                write!(
                    f,
                    "the service answered {status} {} to {request}: {message}",
                    reason(*status)
                )
            }
            ApiError::Answer { request, message } => write!(
                f,
                "the service's answer to {request} is not what this client reads ({message}); \
                 is the client as new as the service?"
            ),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

impl Client {
    /// A client of the service at `base` (no trailing slash).
    pub fn new(base: &str, token: &str) -> Client {
        let config = ureq::Agent::config_builder()
            // Error statuses are answers too: their bodies say what went wrong.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_global(Some(Duration::from_secs(300)))
            .user_agent(format!("reverie-cli/{}", env!("CARGO_PKG_VERSION")))
            .build();
        Client { agent: config.into(), base: base.to_string(), token: token.to_string() }
    }

    /// The service's base URL, as given.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The full URL of an `/api/v1` path.
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// `GET /api/v1{path}`, the answer read as `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let url = self.url(path);
        let request = format!("GET {url}");
        let answer = self.agent.get(&url).header("authorization", self.bearer()).call();
        read(&request, answer)
    }

    /// `POST /api/v1{path}` with `body` as JSON, the answer read as `T`.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let url = self.url(path);
        let request = format!("POST {url}");
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ApiError::Answer { request: request.clone(), message: e.to_string() })?;
        let answer = self
            .agent
            .post(&url)
            .header("authorization", self.bearer())
            .content_type("application/json")
            .send(&bytes);
        read(&request, answer)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

fn read<T: DeserializeOwned>(
    request: &str,
    answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<T, ApiError> {
    let network =
        |e: ureq::Error| ApiError::Network { request: request.to_string(), message: e.to_string() };
    let mut answer = answer.map_err(network)?;
    let status = answer.status().as_u16();
    let body = answer.body_mut().with_config().limit(MAX_ANSWER).read_to_vec().map_err(network)?;
    if !(200..300).contains(&status) {
        return Err(ApiError::Status {
            request: request.to_string(),
            status,
            message: error_message(&body),
        });
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::Answer { request: request.to_string(), message: e.to_string() })
}

/// The service's `error.message`, else the start of whatever came back (a
/// proxy's page, say).
pub fn error_message(body: &[u8]) -> String {
    if let Ok(e) = serde_json::from_slice::<ErrorBody>(body) {
        return e.error.message;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(no message)".to_string();
    }
    let short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// A path segment with everything but unreserved characters (and `:`,
/// which ids may hold) percent-encoded.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_their_message() {
        let body = br#"{"error":{"status":409,"message":"entries differ","existing_ids":["a"]}}"#;
        assert_eq!(error_message(body), "entries differ");
        assert_eq!(error_message(b"<html>Bad gateway</html>"), "<html>Bad gateway</html>");
        assert_eq!(error_message(b""), "(no message)");
        let long = "é".repeat(400);
        assert!(error_message(long.as_bytes()).ends_with('…'));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("agent_1.a:b-c"), "agent_1.a:b-c");
        assert_eq!(seg("a/b c?"), "a%2Fb%20c%3F");
        assert_eq!(seg("ü"), "%C3%BC");
    }

    #[test]
    fn a_service_that_is_not_there_is_named() {
        // A port just freed on loopback: nobody listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let client = Client::new(&format!("http://127.0.0.1:{port}"), "t");
        let err = client.get::<serde_json::Value>("/health").unwrap_err();
        assert!(err.stops_everything());
        let text = err.to_string();
        assert!(text.contains(&format!("GET http://127.0.0.1:{port}/api/v1/health")), "{text}");
    }
}
