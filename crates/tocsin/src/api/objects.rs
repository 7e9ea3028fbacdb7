//! The configured objects, as the API shows them: secrets, tokens and header
//! values are never shown; webhook URLs keep scheme and host only (their
//! paths and queries carry the bot's key).

use crate::app::App;
use crate::config::Config;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::sync::Arc;

pub use crate::config::{MASK, redact_url};

pub fn contacts_json(c: &Config) -> Value {
    Value::Array(
        c.contacts
            .iter()
            .map(|x| {
                let headers: serde_json::Map<String, Value> =
                    x.headers.iter().map(|(k, _)| (k.clone(), json!(MASK))).collect();
                json!({
                    "name": x.name,
                    "channel": x.channel.as_str(),
                    "webhook": redact_url(&x.webhook),
                    "headers": headers,
                    "secret": if x.secret.is_empty() { Value::Null } else { json!(MASK) },
                    "concurrency": x.concurrency,
                    // What the bot is really held to: the contact's own
                    // limits, else the platform's with Tocsin's margin.
                    "rate_limit": crate::notify::effective_rate(x)
                        .iter()
                        .map(|r| format!("{}/{}", r.count, crate::domain::humanize(r.per)))
                        .collect::<Vec<_>>(),
                    "rate_limit_source": if x.rate_limit.is_empty() { "platform" } else { "contact" },
                    "rate_limit_rest": x.rate_limit_rest.map(crate::domain::humanize),
                    "keywords": x.keywords,
                    "mentions": {
                        "users": x.mentions.users,
                        "mobiles": x.mentions.mobiles,
                        "all": x.mentions.all,
                        "levels": x.mentions.levels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
                    },
                    "lang": x.lang.as_str(),
                    "timezone": x.timezone,
                    "template": x.template,
                })
            })
            .collect(),
    )
}

pub fn contact_groups_json(c: &Config) -> Value {
    json!(
        c.contact_groups
            .iter()
            .map(|g| json!({"name": g.name, "contacts": g.contacts}))
            .collect::<Vec<_>>()
    )
}

pub fn policies_json(c: &Config) -> Value {
    json!(
        c.notification_policies
            .iter()
            .map(|p| json!({"name": p.name, "contact_groups": p.contact_groups}))
            .collect::<Vec<_>>()
    )
}

pub fn subscriptions_json(c: &Config) -> Value {
    json!(
        c.subscriptions
            .iter()
            .map(|s| json!({
                "name": s.name,
                "products": s.products,
                "event_types": s.event_types,
                "event_names": s.event_names,
                "levels": s.levels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
                "deny_list": s.deny_list,
                "groups": s.groups,
                "resources": s.resources,
                "content_keywords": s.content_keywords,
                "notification_policy": s.notification_policy,
            }))
            .collect::<Vec<_>>()
    )
}

pub fn sources_json(c: &Config) -> Value {
    json!(
        c.sources
            .iter()
            .flatten()
            .map(|s| {
                let items: serde_json::Map<String, Value> = crate::config::Item::ALL
                    .iter()
                    .map(|i| {
                        let sw = s.items.get(i);
                        (
                            i.key().to_string(),
                            json!({
                                "details": sw.is_none_or(|w| w.details),
                                "overview": sw.is_none_or(|w| w.overview),
                            }),
                        )
                    })
                    .collect();
                json!({"name": s.name, "product": s.product, "items": items})
            })
            .collect::<Vec<_>>()
    )
}

pub fn silences_json(c: &Config) -> Value {
    json!(
        c.silences
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "matchers": {
                        "products": s.products,
                        "event_types": s.event_types,
                        "event_names": s.event_names,
                        "levels": s.levels.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
                        "resources": s.resources,
                    },
                    "starts_at": s.starts_ms.map(crate::timefmt::rfc3339),
                    "ends_at": crate::timefmt::rfc3339(s.ends_ms),
                    "comment": s.comment,
                })
            })
            .collect::<Vec<_>>()
    )
}

/// The whole config, redacted: what the store keeps for each config version.
pub fn redacted_config(c: &Config) -> Value {
    json!({
        "contacts": contacts_json(c),
        "contact_groups": contact_groups_json(c),
        "notification_policies": policies_json(c),
        "subscriptions": subscriptions_json(c),
        "sources": sources_json(c),
        "silences": silences_json(c),
        "has_sources": c.sources.is_some(),
    })
}

/// `POST /api/v1/contacts/{name}/test`: a real test message, and the
/// platform's own verdict.
pub async fn test_contact(
    State(app): State<Arc<App>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<Json<Value>, super::ApiError> {
    let snap = app.config();
    let Some(contact) = snap.contact(&name) else {
        return Err(super::ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("no contact named {name}"),
        ));
    };
    let http = app.dispatcher.http();
    let v = crate::notify::test_contact(
        &http,
        contact,
        &snap.config.delivery,
        snap.config.server.public_url.as_deref(),
    )
    .await;
    Ok(Json(crate::notify::verdict_json(&v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_scheme_and_host_only() {
        assert_eq!(
            redact_url("https://open.feishu.cn/open-apis/bot/v2/hook/SECRET?x=KEY"),
            "https://open.feishu.cn/***"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:9000/hook"),
            "http://127.0.0.1:9000/***"
        );
        assert_eq!(redact_url("not a url SECRET"), "***");
    }
}
