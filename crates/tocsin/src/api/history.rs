//! The event history: `GET /api/v1/events` and `GET /api/v1/events/{id}`.

use super::ApiError;
use crate::app::App;
use crate::store::{EventDetail, EventFilter, StoredEvent};
use crate::timefmt::{parse_rfc3339, rfc3339};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    product: Option<String>,
    event_type: Option<String>,
    level: Option<String>,
    outcome: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn bad(field: &str, message: String) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        body: json!({"error": message, "field": field}),
    }
}

fn time_param(field: &str, v: Option<String>) -> Result<Option<i64>, ApiError> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            parse_rfc3339(&s)
                .ok_or_else(|| bad(field, format!("`{field}` must be an RFC 3339 time")))
        })
        .transpose()
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

pub async fn list(
    State(app): State<Arc<App>>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = match nonempty(q.limit) {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| bad("limit", "`limit` must be a positive integer".into()))?
            .clamp(1, MAX_LIMIT),
    };
    let level = match nonempty(q.level) {
        None => None,
        Some(l) => Some(
            crate::config::Level::parse(&l)
                .ok_or_else(|| bad("level", "`level` must be critical, warn or info".into()))?
                .as_str()
                .to_string(),
        ),
    };
    let outcome = match nonempty(q.outcome) {
        None => None,
        Some(o) => Some(
            crate::route::Outcome::parse(&o)
                .ok_or_else(|| {
                    bad(
                        "outcome",
                        "`outcome` must be routed, unmatched or stopped_by_switch".into(),
                    )
                })?
                .as_str()
                .to_string(),
        ),
    };
    let cursor = nonempty(q.cursor)
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| bad("cursor", "`cursor` is not one this server gave".into()))
        })
        .transpose()?;
    let filter = EventFilter {
        product: nonempty(q.product),
        event_type: nonempty(q.event_type),
        level,
        outcome,
        since_ms: time_param("since", q.since)?,
        until_ms: time_param("until", q.until)?,
        limit,
        cursor,
    };
    let page = app.store.list_events(filter).await.map_err(store_error)?;
    let events: Vec<Value> = page
        .events
        .into_iter()
        .map(|s| {
            let mut v = event_json(&s.stored);
            let deliveries: Map<String, Value> = s
                .deliveries
                .into_iter()
                .map(|(status, n)| (status, json!(n)))
                .collect();
            v.insert("deliveries".into(), Value::Object(deliveries));
            Value::Object(v)
        })
        .collect();
    Ok(axum::Json(json!({
        "events": events,
        "next_cursor": page.next_cursor.map(|c| c.to_string()),
    }))
    .into_response())
}

pub async fn detail(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match app.store.get_event(&id).await.map_err(store_error)? {
        Some(d) => Ok(axum::Json(Value::Object(detail_json(&d))).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no event with id {id}"),
        )),
    }
}

/// `POST /api/v1/subscriptions/dry-run`: `{"subscription": {...}, "since"?, "until"?}`.
pub async fn dry_run(
    State(app): State<Arc<App>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| bad("subscription", format!("the body is not valid JSON: {e}")))?;
    let Some(candidate) = v.get("subscription").filter(|s| s.is_object()) else {
        return Err(bad(
            "subscription",
            "`subscription` (an object, the config file's schema) is required".into(),
        ));
    };
    let str_field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let since = time_param("since", str_field("since"))?;
    let until = time_param("until", str_field("until"))?;
    let snap = app.config();
    // `field` as the config file would name it; `problems` with paths
    // inside the candidate, so a client can point at its own file's lines.
    let config_path = |path: &str| match path {
        "" => "subscriptions[0]".to_string(),
        p => format!("subscriptions[0].{p}"),
    };
    let (sub, warnings) =
        crate::dryrun::candidate(&snap.config, candidate).map_err(|errors| ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "error": format!("the subscription is not valid: {}", errors.iter().map(|p| format!("{}: {}", config_path(&p.path), p.message)).collect::<Vec<_>>().join("; ")),
                "field": errors.first().map(|p| config_path(&p.path)),
                "problems": errors,
            }),
        })?;
    let forecast = crate::dryrun::dry_run(app.store.as_ref(), &snap.config, sub, since, until)
        .await
        .map_err(store_error)?;
    let mut body = serde_json::to_value(&forecast).unwrap_or_default();
    body["warnings"] = json!(warnings);
    Ok(axum::Json(body).into_response())
}

/// `GET /api/v1/events/{id}/explain`: the recorded journey as steps.
pub async fn explain(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match app.store.get_event(&id).await.map_err(store_error)? {
        Some(d) => Ok(axum::Json(json!({"event_id": id, "outcome": d.stored.outcome, "steps": crate::explain::explain(&d)}))
            .into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no event with id {id}"))),
    }
}

fn store_error(e: crate::store::StoreError) -> ApiError {
    ApiError::from(e)
}

/// The event's fields at the top level, with its outcome.
pub fn event_json(s: &StoredEvent) -> Map<String, Value> {
    let Value::Object(mut v) = s.event.to_native_json() else {
        unreachable!("native form is an object")
    };
    v.insert("format".into(), json!(s.event.format.as_str()));
    v.insert("state".into(), json!(s.event.state.as_str()));
    if let Some(key) = &s.event.identity_key {
        v.insert("identity_key".into(), json!(key));
    }
    v.insert("outcome".into(), json!(s.outcome));
    if let (Some(item), Some(kind)) = (&s.switch_item, &s.switch_kind) {
        v.insert(
            "stopped_by".into(),
            json!({"source": s.switch_source, "item": item, "switch": kind,
                   "reason": format!("push switch off for item {item}/{kind}")}),
        );
    }
    v.insert("config_version".into(), json!(s.config_version));
    v
}

pub fn detail_json(d: &EventDetail) -> Map<String, Value> {
    let mut v = event_json(&d.stored);
    let decisions = crate::explain::decisions(d);
    let matched: Vec<&str> = decisions
        .iter()
        .filter(|x| x.matched)
        .map(|x| x.subscription.as_str())
        .collect();
    v.insert("subscriptions".into(), json!(matched));
    v.insert(
        "route".into(),
        Value::Array(
            decisions
                .iter()
                .map(|x| json!({"subscription": x.subscription, "matched": x.matched, "code": x.code, "detail": x.detail}))
                .collect(),
        ),
    );
    let deliveries: Vec<Value> = d
        .deliveries
        .iter()
        .map(|r| {
            let attempts: Vec<Value> = r
                .attempts
                .iter()
                .map(|a| {
                    json!({
                        "at": rfc3339(a.at_ms),
                        "duration_ms": a.duration_ms,
                        "http_status": a.http_status,
                        "platform_code": a.platform_code,
                        "platform_message": a.platform_message,
                        "reason": a.reason,
                        "outcome": a.outcome,
                    })
                })
                .collect();
            json!({
                "contact": r.contact,
                "status": r.status,
                "subscriptions": r.subscriptions,
                "message_id": r.message_id,
                "message_kind": r.message_kind,
                "reason": crate::explain::sentences::delivery_reason(r),
                "attempts": attempts,
            })
        })
        .collect();
    v.insert("deliveries".into(), Value::Array(deliveries));
    if d.stored.event.state == crate::event::EventState::Resolved {
        v.insert("resolves".into(), json!(d.resolves));
    } else if !d.resolved_by.is_empty() {
        v.insert("resolved_by".into(), json!(d.resolved_by));
    }
    v.insert("raw".into(), d.stored.event.raw.clone());
    v
}
