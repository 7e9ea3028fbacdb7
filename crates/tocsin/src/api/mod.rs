//! The HTTP API: ingest, history, the configured objects, metrics and health.
//! Every error is JSON `{"error": ...}` with the right status.

mod auth;
mod error;
mod history;
mod ingest;
mod manage;
pub mod objects;
mod quarantine;

use crate::app::App;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
pub use error::{ApiError, BodyTimeout};
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router {
    let mut api = Router::new()
        .route("/events", post(ingest::native).get(history::list))
        .route("/events/aliyun", post(ingest::aliyun))
        .route("/events/alertmanager", post(ingest::alertmanager))
        .route("/events/falco", post(ingest::falco))
        .route("/events/cloudevents", post(ingest::cloudevents))
        .route("/events/{id}", get(history::detail))
        .route("/events/{id}/explain", get(history::explain))
        .route("/contacts/{name}/test", post(objects::test_contact))
        .route("/subscriptions/dry-run", post(history::dry_run))
        .route("/config/export", get(manage::export))
        .route("/audit", get(manage::audit))
        .route("/quarantine", get(quarantine::list))
        .route(
            "/quarantine/{id}",
            get(quarantine::show).delete(quarantine::delete),
        )
        .route("/quarantine/{id}/replay", post(quarantine::replay));
    for kind in crate::config::ObjectKind::ALL {
        api = manage::routes(api, kind);
    }
    let api = api
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::require_token,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            quarantine::count_refused,
        ));
    Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this path",
    )
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    quarantine::refresh_gauge(&app).await;
    // Read at scrape time: the store is the one place that knows the whole
    // outbox (workers hold only what is due).
    if let Ok(backlogs) = app.store.pending_by_contact().await {
        app.metrics
            .set_contact_backlogs(&backlogs, app.clock.now_ms());
    }
    if let Ok(bytes) = app.store.size_bytes().await {
        app.metrics.set_store_bytes(bytes);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.store.ping().await {
        Ok(()) => axum::Json(serde_json::json!({
            "status": "ready",
            "config_version": app.config().version,
        }))
        .into_response(),
        Err(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not reachable: {e}"),
        )
        .into_response(),
    }
}
