//! The quarantine: an authenticated ingest request that could not be decoded
//! is kept in the store (bounded by `store.quarantine_max`) instead of lost
//! with its 400, so a producer whose format drifted loses nothing. Its body
//! is never logged.
//!
//! `GET /api/v1/quarantine`, `GET /api/v1/quarantine/{id}`,
//! `POST /api/v1/quarantine/{id}/replay`, `DELETE /api/v1/quarantine/{id}`.

use super::ApiError;
use super::history::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::app::App;
use crate::event::Format;
use crate::ingest::{DecodeError, RequestMeta};
use crate::store::{NewQuarantined, QuarantineFilter, QuarantineLimits, QuarantinedRequest};
use crate::timefmt::rfc3339;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// An identical body (same path and body hash) first seen within this long
/// is counted on the kept one.
pub const SAME_WITHIN_MS: i64 = 3_600_000;

/// The ingest path of a wire format, as kept with the request.
pub fn ingest_path(format: Format) -> &'static str {
    format.ingest_path()
}

fn format_of(path: &str) -> Option<Format> {
    Format::ALL.into_iter().find(|f| ingest_path(*f) == path)
}

/// Keeps an unreadable request; its id, or None when it could not be kept
/// (the store failed or refused it: logged, and the producer still gets
/// its 400).
pub async fn keep(
    app: &App,
    format: Format,
    meta: RequestMeta,
    body: &[u8],
    error: &DecodeError,
) -> Option<String> {
    let max_bytes = app.config().config.store.quarantine_max;
    let path = ingest_path(format);
    if max_bytes == 0 {
        return None;
    }
    let request = NewQuarantined {
        id: uuid::Uuid::now_v7().to_string(),
        path: path.to_string(),
        content_type: meta.content_type,
        headers: meta.headers,
        body: body.to_vec(),
        received_ms: crate::now_ms(),
        error: error.message.clone(),
        index: error.index.map(|i| i as u64),
        field: error.field.clone(),
    };
    let limits = QuarantineLimits {
        max_bytes,
        same_within_ms: SAME_WITHIN_MS,
    };
    match app.store.quarantine_put(request, limits).await {
        Ok(put) => {
            app.metrics.quarantined(put.id.is_some(), put.dropped);
            match &put.id {
                Some(id) => tracing::info!(
                    quarantine_id = %id, path, size = body.len(), error = %error.message,
                    dropped = put.dropped, "kept an unreadable ingest request in the quarantine"
                ),
                None => tracing::warn!(
                    path, size = body.len(), error = %error.message,
                    "an unreadable ingest request is larger than store.quarantine_max; not kept"
                ),
            }
            put.id
        }
        Err(e) => {
            tracing::error!(
                path, size = body.len(), error = %error.message, store_error = %e,
                "could not keep an unreadable ingest request in the quarantine"
            );
            None
        }
    }
}

/// Counts ingest requests refused before they were read (401: the token),
/// which never reach the ingest handler. Wraps the token check.
pub async fn count_refused(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let is_ingest = req.method() == Method::POST && req.uri().path().starts_with("/events");
    let resp = next.run(req).await;
    if is_ingest && resp.status() == StatusCode::UNAUTHORIZED {
        app.metrics
            .ingest_request(StatusCode::UNAUTHORIZED.as_u16());
    }
    resp
}

/// Keeps the size gauge right (the pruner and deletes change it too).
pub async fn refresh_gauge(app: &App) {
    if let Ok(bytes) = app.store.quarantine_bytes().await {
        app.metrics.set_quarantine_bytes(bytes);
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        body: json!({"error": message, "field": field}),
    }
}

fn store_error(e: crate::store::StoreError) -> ApiError {
    ApiError::from(e)
}

fn unknown(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no quarantined request with id {id}"),
    )
}

fn summary(r: &QuarantinedRequest) -> serde_json::Map<String, Value> {
    let Value::Object(mut m) = json!({
        "id": r.id,
        "received_at": rfc3339(r.received_ms),
        "last_received_at": rfc3339(r.last_ms),
        "path": r.path,
        "content_type": r.content_type,
        "size": r.size,
        "count": r.count,
        "error": r.error,
        "index": r.index,
        "field": r.field,
    }) else {
        unreachable!("an object")
    };
    // Only formats that read headers keep any (CloudEvents' binary mode).
    if !r.headers.is_empty() {
        let headers: serde_json::Map<String, Value> = r
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect();
        m.insert("headers".into(), Value::Object(headers));
    }
    m
}

pub async fn list(
    State(app): State<Arc<App>>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = match q.limit.filter(|s| !s.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| bad("limit", "`limit` must be a positive integer"))?
            .clamp(1, MAX_LIMIT),
    };
    let cursor = q
        .cursor
        .filter(|s| !s.is_empty())
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| bad("cursor", "`cursor` is not one this server gave"))
        })
        .transpose()?;
    let page = app
        .store
        .quarantine_list(QuarantineFilter {
            since_ms: None,
            limit,
            cursor,
        })
        .await
        .map_err(store_error)?;
    let requests: Vec<Value> = page
        .requests
        .iter()
        .map(|r| Value::Object(summary(r)))
        .collect();
    Ok(axum::Json(json!({
        "requests": requests,
        "next_cursor": page.next_cursor.map(|c| c.to_string()),
    }))
    .into_response())
}

pub async fn show(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let _slot = match super::ingest::ingest_slot(&app) {
        Ok(slot) => slot,
        Err(busy) => return Ok(busy.into_response()),
    };
    let r = app
        .store
        .quarantine_get(&id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| unknown(&id))?;
    let mut v = summary(&r);
    let body = r.body.unwrap_or_default();
    match String::from_utf8(body) {
        Ok(text) => {
            v.insert("body".into(), Value::String(text));
        }
        Err(e) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(e.as_bytes());
            v.insert("body".into(), Value::String(b64));
            v.insert("body_encoding".into(), json!("base64"));
        }
    }
    Ok(axum::Json(Value::Object(v)).into_response())
}

/// Decodes the kept body again with today's code and config, and answers
/// exactly like ingest to its path: accepted, it leaves the quarantine;
/// refused again, it stays with its new error.
pub async fn replay(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let _slot = match super::ingest::ingest_slot(&app) {
        Ok(slot) => slot,
        Err(busy) => return Ok(busy.into_response()),
    };
    let r = app
        .store
        .quarantine_get(&id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| unknown(&id))?;
    let format = format_of(&r.path).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{} is not an ingest path this server reads", r.path),
        )
    })?;
    let body = r.body.unwrap_or_default();
    let meta = RequestMeta {
        content_type: r.content_type.clone(),
        headers: r.headers.clone(),
    };
    let result = app.ingest_request(format, &body, &meta).await;
    let kept = match &result {
        Ok(_) => {
            match app.store.quarantine_delete(&id).await {
                Ok(_) => {
                    tracing::info!(quarantine_id = %id, "a replayed request was accepted and left the quarantine")
                }
                Err(e) => {
                    tracing::error!(quarantine_id = %id, error = %e, "a replayed request was accepted but could not leave the quarantine")
                }
            }
            None
        }
        Err(crate::app::IngestError::Invalid(e)) => {
            match app
                .store
                .quarantine_set_error(
                    &id,
                    &e.message,
                    e.index.map(|i| i as u64),
                    e.field.as_deref(),
                )
                .await
            {
                Ok(true) => Some(id.clone()),
                Ok(false) => None,
                Err(err) => {
                    tracing::error!(quarantine_id = %id, error = %err, "could not record a replay's new error");
                    Some(id.clone())
                }
            }
        }
        Err(_) => None,
    };
    refresh_gauge(&app).await;
    Ok(super::ingest::answer(result, kept))
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if app
        .store
        .quarantine_delete(&id)
        .await
        .map_err(store_error)?
    {
        refresh_gauge(&app).await;
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(unknown(&id))
    }
}
