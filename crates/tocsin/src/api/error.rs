use axum::http::StatusCode;
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
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
