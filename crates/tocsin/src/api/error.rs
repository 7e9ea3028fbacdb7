use crate::store::StoreError;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API error: a status and a JSON body with at least `error`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
        }
    }
}

impl ApiError {
    /// A store failure: 503 when retrying later can help (the API's 503s
    /// carry `Retry-After`), else 500 naming the problem (SQLite's words or
    /// the corrupt row and column; never a statement's parameters).
    /// `outcome` says what became of the request, e.g. "nothing was stored".
    pub fn store(e: &StoreError, outcome: Option<&str>) -> ApiError {
        let outcome = outcome.map(|o| format!("; {o}")).unwrap_or_default();
        if e.is_transient() {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{e}{outcome}; try again"),
            )
        } else {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{e}{outcome}; retrying will not help until the store is repaired"),
            )
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::store(&e, None)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body)).into_response();
        // A 503 is always "try again": say when.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        r
    }
}

impl ApiError {
    /// 408: the request body did not arrive within its deadline.
    pub fn body_timeout(limit: std::time::Duration) -> ApiError {
        ApiError::new(StatusCode::REQUEST_TIMEOUT, BodyTimeout(limit).to_string())
    }
}

/// What a request body yields when it did not arrive within its deadline
/// (`server.body_timeout`; the serve loop cuts it).
#[derive(Debug, thiserror::Error)]
#[error(
    "the request body did not arrive within {} (server.body_timeout)",
    crate::domain::humanize(*.0)
)]
pub struct BodyTimeout(pub std::time::Duration);
