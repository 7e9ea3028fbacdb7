//! `POST /api/v1/events` (native) and `POST /api/v1/events/{format}`
//! (`aliyun`, `alertmanager`, `falco`, `cloudevents`).

use super::ApiError;
use crate::app::{App, IngestError};
use crate::event::Format;
use crate::ingest::RequestMeta;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

pub async fn native(State(app): State<Arc<App>>, req: Request) -> Response {
    handle(app, Format::Native, req).await
}

pub async fn aliyun(State(app): State<Arc<App>>, req: Request) -> Response {
    handle(app, Format::Aliyun, req).await
}

pub async fn alertmanager(State(app): State<Arc<App>>, req: Request) -> Response {
    handle(app, Format::Alertmanager, req).await
}

pub async fn falco(State(app): State<Arc<App>>, req: Request) -> Response {
    handle(app, Format::Falco, req).await
}

pub async fn cloudevents(State(app): State<Arc<App>>, req: Request) -> Response {
    handle(app, Format::CloudEvents, req).await
}

/// What the format's decoder reads besides the body: the content type and
/// the headers it keeps (see [`crate::ingest::kept_header`]). A header
/// value that is not visible ASCII is passed as it decodes lossily, and the
/// decoder names it if it cannot read it.
fn request_meta(format: Format, headers: &header::HeaderMap) -> RequestMeta {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let kept = headers
        .iter()
        .filter(|(name, _)| crate::ingest::kept_header(format, name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    RequestMeta {
        content_type,
        headers: kept,
    }
}

/// A slot under `server.max_concurrent_ingest`, or [`Busy`] to answer
/// instead. Shared by ingest and quarantine replay, which decodes a body
/// just as large.
pub(super) fn ingest_slot(app: &App) -> Result<crate::app::IngestSlot<'_>, Busy> {
    let limit = app.config().config.server.max_concurrent_ingest;
    app.ingest_slots.try_take(limit).ok_or(Busy(limit))
}

/// Every ingest slot is taken (the limit it had): `503` with
/// `Retry-After: 1`.
pub(super) struct Busy(u32);

impl IntoResponse for Busy {
    fn into_response(self) -> Response {
        let mut resp = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many ingest requests at once (server.max_concurrent_ingest is {}); nothing was stored, try again",
                self.0
            ),
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        resp
    }
}

async fn handle(app: Arc<App>, format: Format, req: Request) -> Response {
    let meta = request_meta(format, req.headers());
    let _slot = match ingest_slot(&app) {
        Ok(slot) => slot,
        Err(busy) => {
            let resp = busy.into_response();
            app.metrics.ingest_request(resp.status().as_u16());
            return resp;
        }
    };
    let resp = match read_body(&app, req).await {
        Ok(body) => {
            let result = app.ingest_request(format, &body, &meta).await;
            // Nothing unreadable is thrown away: the body is kept first, so
            // the 400 can name where (see quarantine.rs).
            let kept = match &result {
                Err(IngestError::Invalid(e)) => {
                    let id = super::quarantine::keep(&app, format, meta, &body, e).await;
                    super::quarantine::refresh_gauge(&app).await;
                    id
                }
                _ => None,
            };
            answer(result, kept)
        }
        Err(e) => e.into_response(),
    };
    app.metrics.ingest_request(resp.status().as_u16());
    resp
}

/// The ingest answer (also a quarantine replay's): 202, 400 (with
/// `quarantine_id` when the request is kept), 503 (the store is unavailable;
/// retry) or 500 (the store fails deterministically).
pub(super) fn answer(
    result: Result<crate::app::IngestAnswer, IngestError>,
    quarantine_id: Option<String>,
) -> Response {
    match result {
        Ok(answer) => (StatusCode::ACCEPTED, axum::Json(answer)).into_response(),
        Err(IngestError::Invalid(e)) => {
            let mut body = json!({"error": e.message, "index": e.index, "field": e.field});
            if let Some(id) = quarantine_id {
                body["quarantine_id"] = json!(id);
            }
            ApiError {
                status: StatusCode::BAD_REQUEST,
                body,
            }
            .into_response()
        }
        Err(IngestError::Store(e)) => {
            tracing::error!(error = %e, transient = e.is_transient(), "ingest refused: the store failed");
            ApiError::store(&e, Some("nothing was stored")).into_response()
        }
    }
}

async fn read_body(app: &App, req: Request) -> Result<axum::body::Bytes, ApiError> {
    let limit = usize::try_from(app.config().config.server.max_body).unwrap_or(usize::MAX);
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than server.max_body ({limit} bytes)"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let body: Body = req.into_body();
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let length_limit = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if length_limit || e.to_string().contains("length limit") {
            too_large()
        } else if let Some(timeout) = body_timeout(&e) {
            ApiError::body_timeout(timeout.0)
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("could not read the body: {e}"),
            )
        }
    })
}

/// The serve loop's deadline error, when that is why the body read failed.
fn body_timeout(e: &axum::Error) -> Option<&super::BodyTimeout> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<super::BodyTimeout>() {
            return Some(t);
        }
        source = s.source();
    }
    None
}
