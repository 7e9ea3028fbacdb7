//! The management API: `GET`/`POST /api/v1/K`, `GET`/`PUT`/`DELETE
//! /api/v1/K/{name}` for contacts, contact groups, notification policies,
//! subscriptions, sources and silences; `GET /api/v1/config/export`;
//! `GET /api/v1/audit`. Objects from the config file are shown with
//! `"provisioned": true` (in the list views the API has always had); those
//! made through the API are shown as they were sent (the file's schema, so
//! they can be changed and PUT back), secrets masked.

use super::ApiError;
use super::objects;
use crate::app::App;
use crate::config::{Config, ObjectKind};
use crate::manage::{ChangeError, Request, etag_header, parse_if_match, redacted};
use crate::store::StoredObject;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

/// The routes of one kind.
pub fn routes(router: Router<Arc<App>>, kind: ObjectKind) -> Router<Arc<App>> {
    use axum::routing::get;
    let list_path = format!("/{}", kind.api_name());
    let one_path = format!("/{}/{{name}}", kind.api_name());
    router
        .route(
            &list_path,
            get(move |s: State<Arc<App>>| list(s, kind))
                .post(move |s: State<Arc<App>>, h: HeaderMap, b: Bytes| create(s, h, b, kind)),
        )
        .route(
            &one_path,
            get(move |s: State<Arc<App>>, p: Path<String>| show(s, p, kind))
                .put(
                    move |s: State<Arc<App>>, p: Path<String>, h: HeaderMap, b: Bytes| {
                        update(s, p, h, b, kind)
                    },
                )
                .delete(move |s: State<Arc<App>>, p: Path<String>, h: HeaderMap| {
                    delete(s, p, h, kind)
                }),
        )
}

/// The key the list is wrapped in (as the list views always were).
fn list_key(kind: ObjectKind) -> &'static str {
    kind.config_key()
}

/// The file's objects of a kind, as the list views have always shown them.
fn file_views(c: &Config, kind: ObjectKind) -> Vec<Value> {
    let v = match kind {
        ObjectKind::Contact => objects::contacts_json(c),
        ObjectKind::ContactGroup => objects::contact_groups_json(c),
        ObjectKind::NotificationPolicy => objects::policies_json(c),
        ObjectKind::Subscription => objects::subscriptions_json(c),
        ObjectKind::Source => objects::sources_json(c),
        ObjectKind::Silence => objects::silences_json(c),
    };
    match v {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

fn with_flag(mut v: Value, provisioned: bool) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("provisioned".into(), json!(provisioned));
    }
    v
}

fn api_view(o: &StoredObject) -> Value {
    let body: Value = serde_json::from_str(&o.body).unwrap_or(Value::Null);
    with_flag(redacted(&body), false)
}

/// Every object of a kind in the running config, each with its ETag.
async fn views(app: &App, kind: ObjectKind) -> Result<Vec<(String, Value, String)>, ApiError> {
    let snap = app.config();
    let stored = app.store.api_objects().await?;
    let names = kind.names(&snap.config);
    let file = file_views(&snap.config, kind);
    Ok(names
        .iter()
        .zip(file)
        .map(|(name, view)| {
            match stored
                .iter()
                .find(|o| o.kind == kind.api_name() && o.name == *name)
            {
                Some(o) => (name.to_string(), api_view(o), o.etag.clone()),
                None => {
                    let view = with_flag(view, true);
                    // A file object changes only with the file: its view's hash.
                    let etag = {
                        use sha2::{Digest, Sha256};
                        let h = hex::encode(Sha256::digest(view.to_string().as_bytes()));
                        format!("file-{}", &h[..16])
                    };
                    (name.to_string(), view, etag)
                }
            }
        })
        .collect())
}

async fn list(State(app): State<Arc<App>>, kind: ObjectKind) -> Result<Response, ApiError> {
    let items: Vec<Value> = views(&app, kind)
        .await?
        .into_iter()
        .map(|(_, v, _)| v)
        .collect();
    let mut body = serde_json::Map::new();
    body.insert(list_key(kind).into(), Value::Array(items));
    Ok(axum::Json(Value::Object(body)).into_response())
}

fn object_response(status: StatusCode, view: Value, etag: &str) -> Response {
    let mut r = (status, axum::Json(view)).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&etag_header(etag)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

async fn show(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    kind: ObjectKind,
) -> Result<Response, ApiError> {
    let found = views(&app, kind)
        .await?
        .into_iter()
        .find(|(n, _, _)| *n == name);
    match found {
        Some((_, view, etag)) => Ok(object_response(StatusCode::OK, view, &etag)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no {} named `{name}`", kind.singular()),
        )),
    }
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        )
    })
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_if_match)
}

/// Who is asking, for the audit: the token's name.
fn actor(app: &App) -> &'static str {
    if app.config().config.server.api_token.is_empty() {
        "anonymous"
    } else {
        "api-token"
    }
}

fn refusal(e: ChangeError) -> ApiError {
    let message = e.to_string();
    let (status, body) = match e {
        ChangeError::Invalid(problems) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "error": message,
                "problems": problems.iter().map(|p| json!({
                    "path": if p.path.is_empty() { "(object)" } else { p.path.as_str() },
                    "message": p.message,
                })).collect::<Vec<_>>(),
            }),
        ),
        ChangeError::Exists { .. } => (StatusCode::CONFLICT, json!({"error": message})),
        ChangeError::Missing { .. } => (StatusCode::NOT_FOUND, json!({"error": message})),
        ChangeError::Provisioned { file, .. } => (
            StatusCode::CONFLICT,
            json!({"error": message, "provisioned": true, "file": file}),
        ),
        ChangeError::Referenced { by, .. } => (
            StatusCode::CONFLICT,
            json!({
                "error": message,
                "referenced_by": by.iter().map(|(k, n)| json!({"kind": k.api_name(), "name": n})).collect::<Vec<_>>(),
            }),
        ),
        ChangeError::Stale { .. } => (StatusCode::PRECONDITION_FAILED, json!({"error": message})),
        ChangeError::NoDocument => (StatusCode::CONFLICT, json!({"error": message})),
        ChangeError::Store(e) => return ApiError::store(&e, Some("nothing was changed")),
    };
    ApiError { status, body }
}

async fn answer_change(
    app: &App,
    kind: ObjectKind,
    request: Request,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let changed = app
        .change(kind, request, actor(app))
        .await
        .map_err(refusal)?;
    Ok(match changed.object {
        Some(o) => {
            let mut r = object_response(status, api_view(&o), &o.etag);
            if let Ok(v) = header::HeaderValue::from_str(&changed.version) {
                r.headers_mut().insert("x-tocsin-config-version", v);
            }
            r
        }
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn create(
    State(app): State<Arc<App>>,
    _headers: HeaderMap,
    body: Bytes,
    kind: ObjectKind,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    answer_change(&app, kind, Request::Create(body), StatusCode::CREATED).await
}

async fn update(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
    kind: ObjectKind,
) -> Result<Response, ApiError> {
    let body = json_body(&body)?;
    let request = Request::Update {
        name,
        body,
        if_match: if_match(&headers),
    };
    answer_change(&app, kind, request, StatusCode::OK).await
}

async fn delete(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    kind: ObjectKind,
) -> Result<Response, ApiError> {
    let request = Request::Delete {
        name,
        if_match: if_match(&headers),
    };
    answer_change(&app, kind, request, StatusCode::NO_CONTENT).await
}

/// `GET /api/v1/config/export`: the effective configuration as YAML that
/// `tocsin check` accepts, secrets as `${TOCSIN_SECRET_...}` placeholders.
pub async fn export(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let snap = app.config();
    let objects = app.api_objects().await?;
    let yaml =
        crate::config::merge::export_yaml(snap.config.document.get(), &objects).map_err(|p| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "the config file cannot be exported: {}: {}",
                    p.path, p.message
                ),
            )
        })?;
    Ok(([(header::CONTENT_TYPE, "text/yaml; charset=utf-8")], yaml).into_response())
}

#[derive(serde::Deserialize)]
pub struct AuditQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /api/v1/audit`: every change, newest first, paged by cursor.
pub async fn audit(
    State(app): State<Arc<App>>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let bad = |field: &str, message: &str| ApiError {
        status: StatusCode::BAD_REQUEST,
        body: json!({"error": message, "field": field}),
    };
    let limit = match q.limit.filter(|s| !s.is_empty()) {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(bad(
                    "limit",
                    "`limit` must be a whole number from 1 to 1000",
                ));
            }
        },
    };
    let cursor = match q.cursor.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<i64>()
                .map_err(|_| bad("cursor", "`cursor` is not one this server gave"))?,
        ),
    };
    let page = app.store.audit_list(cursor, limit).await?;
    let entries: Vec<Value> = page
        .entries
        .iter()
        .map(|e| {
            let r = &e.record;
            json!({
                "at": crate::timefmt::rfc3339(r.at_ms),
                "actor": r.actor,
                "action": r.action,
                "kind": r.kind,
                "name": r.name,
                "version": r.version,
                "diff": r.diff.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "entries": entries,
        "next_cursor": page.next_cursor.map(|c| c.to_string()),
    }))
    .into_response())
}
