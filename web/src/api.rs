//! Every HTTP call the dashboard makes, in one place.

use std::fmt;

use gloo_net::http::Request;
use serde::de::DeserializeOwned;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct Health {
    pub core_version: String,
    pub d1: D1Health,
}

#[derive(Clone, Debug, Deserialize)]
pub struct D1Health {
    pub roundtrip_ms: f64,
    pub agents: u32,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, Deserialize)]
pub struct Pass {
    pub id: i64,
    pub agent_id: String,
    pub trigger: String,
    pub status: String,
    pub started_at: f64,
    pub finished_at: Option<f64>,
}

#[derive(Clone, Debug, serde::Serialize, Deserialize)]
pub struct PassList {
    pub passes: Vec<Pass>,
}

/// Why a call failed, worded for the person looking at the screen.
#[derive(Clone, Debug)]
pub enum ApiError {
    /// No answer at all: offline, DNS, connection refused.
    Network(String),
    /// The service answered with an error status.
    Status { status: u16, message: String },
    /// The service answered 2xx with a body we could not read.
    Body(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Network(msg) => write!(f, "no connection to the service ({msg})"),
            ApiError::Status { status, message } => write!(f, "HTTP {status}: {message}"),
            ApiError::Body(msg) => write!(f, "unreadable answer from the service ({msg})"),
        }
    }
}

pub async fn health() -> Result<Health, ApiError> {
    get_json("/api/v1/health").await
}

/// The raw body is returned too, so the caller can cache exactly what the
/// service said.
pub async fn passes() -> Result<(PassList, String), ApiError> {
    let body = get_text("/api/v1/passes").await?;
    let list = serde_json::from_str(&body).map_err(|e| ApiError::Body(e.to_string()))?;
    Ok((list, body))
}

async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    let body = get_text(path).await?;
    serde_json::from_str(&body).map_err(|e| ApiError::Body(e.to_string()))
}

async fn get_text(path: &str) -> Result<String, ApiError> {
    let resp = Request::get(path).send().await.map_err(|e| ApiError::Network(e.to_string()))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| ApiError::Body(e.to_string()))?;
    if !resp.ok() {
        #[derive(Deserialize)]
        struct ErrorBody {
            error: ErrorDetail,
        }
        #[derive(Deserialize)]
        struct ErrorDetail {
            message: String,
        }
        let message = serde_json::from_str::<ErrorBody>(&body)
            .map(|b| b.error.message)
            .unwrap_or_else(|_| body.chars().take(200).collect());
        return Err(ApiError::Status { status, message });
    }
    Ok(body)
}
