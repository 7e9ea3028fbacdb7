//! Tokens. `server.api_token` (when set) guards every /api/ call;
//! `server.ingest_token` (when set) is accepted on the ingest paths only, as
//! a Bearer token or `?token=` for producers that can only be given a URL.
//! When either token is set, ingest needs one of them; the admin token is
//! accepted on ingest as a Bearer token only, never in the query string.
//! With `server.tls.client_ca`, a request on a connection whose client
//! certificate that CA verified may ingest without a token.

use super::ApiError;
use crate::app::App;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use subtle::ConstantTimeEq;

fn same(a: &str, b: &str) -> bool {
    !b.is_empty() && a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn query_token(req: &Request) -> Option<String> {
    let q = req.uri().query()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

pub async fn require_token(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let snap = app.config();
    let api = snap.config.server.api_token.as_str();
    let ingest = snap.config.server.ingest_token.as_str();
    let is_ingest = req.method() == Method::POST && req.uri().path().starts_with("/events");
    let ok = if is_ingest {
        // No token configured, or a client certificate the CA verified.
        if api.is_empty() && ingest.is_empty()
            || req
                .extensions()
                .get::<crate::tls::VerifiedClient>()
                .is_some()
        {
            true
        } else {
            // The admin token only as a header: a `?token=` URL lands in
            // proxy logs and producer configs, so only the ingest token may.
            bearer(&req).is_some_and(|t| same(t, api) || same(t, ingest))
                || query_token(&req).is_some_and(|t| same(&t, ingest))
        }
    } else {
        api.is_empty() || bearer(&req).is_some_and(|t| same(t, api))
    };
    if ok {
        next.run(req).await
    } else {
        let mut resp = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: send Authorization: Bearer <token>",
        )
        .into_response();
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        resp
    }
}
