//! Microsoft Teams through a Workflows webhook (the Power Automate flow
//! "Post to a channel when a webhook request is received", which replaces
//! the retired Office 365 connectors:
//! <https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook>,
//! <https://support.microsoft.com/en-us/office/create-incoming-webhooks-with-workflows-for-microsoft-teams-8ae491c7-0394-4861-ba59-055e33f75498>).
//! The contact's `webhook` is the flow's URL (`https://<region>.logic.azure.com/workflows/<id>/triggers/manual/paths/invoke?api-version=…&sp=…&sv=…&sig=<SAS>`
//! or `https://<env>.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/<id>/triggers/manual/paths/invoke?…`);
//! its `sig` is the credential (URLs are shown with path and query masked).
//!
//! The body is `{"type": "message", "attachments": [one Adaptive Card 1.4]}`
//! (<https://adaptivecards.io/explorer/>): a title `TextBlock` coloured by
//! level (`attention`, `warning`, `good`), a `FactSet` of the fields, the
//! details and digest lines, the footer, and an `Action.OpenUrl` to the
//! event when the message is about one. Every event value is escaped for
//! the card's markdown ([`markup::teams`]): no link, `<at>` mention or
//! emphasis can come from an event. Mentions come from the contact's
//! `mentions.users` only (`<at>id</at>` named in `msteams.entities`).
//!
//! Limits: the message is at most 28 KB; Tocsin keeps it under 24,000
//! bytes. Answers: 202 Accepted (empty) when the flow took it (it posts
//! asynchronously); 400 with `{"error": {"code", "message"}}` for a body
//! the trigger refuses; 401/403 for a bad signature; 404 for an unknown
//! flow; 413 for an oversized message; 429 with `Retry-After`.

use super::markup;
use super::pack::{self, Sizing};
use super::render::{self, Doc};
use super::{Disposition, Limits, MessageView, Notifier, Outgoing, RenderError, Rendered, Verdict};
use crate::config::{Channel, Level, RateLimit};
use serde_json::{Value, json};
use std::time::Duration;

pub struct TeamsNotifier;

/// Teams' documented message size limit (28 KB).
pub const MAX_BYTES: usize = 28_000;
/// What Tocsin lets a card's JSON grow to: 28 KB less room for the
/// envelope Workflows adds and the mentions.
const BUDGET: usize = 24_000;
const TITLE_MAX: usize = 400;
const VALUE_MAX: usize = 2_000;

/// Event text in the card's markdown: see [`markup::teams`].
pub fn escape(s: &str) -> String {
    markup::teams(s)
}

fn colour(level: Level) -> &'static str {
    match level {
        Level::Critical => "attention",
        Level::Warn => "warning",
        Level::Info => "good",
    }
}

fn text_block(text: String) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true})
}

/// One digest line: a `TextBlock` with no spacing above it.
fn line_block(text: String) -> Value {
    json!({"type": "TextBlock", "text": text, "wrap": true, "spacing": "None"})
}

fn facts(pairs: &[(String, String)]) -> Value {
    let facts: Vec<Value> = pairs
        .iter()
        .map(|(k, v)| {
            let v = escape(v);
            json!({
                "title": render::cut(&escape(k), 200),
                "value": if v.is_empty() { "-".to_string() } else { render::cut(&v, VALUE_MAX) },
            })
        })
        .collect();
    json!({"type": "FactSet", "facts": facts})
}

/// The `<at>` text and the `msteams.entities` of the contact's mentions
/// for this level.
fn mentions(msg: &MessageView<'_>, level: Level) -> (Option<String>, Vec<Value>) {
    let Some(m) = msg.contact.mentions.for_level(level) else {
        return (None, Vec::new());
    };
    let mut ats = Vec::new();
    let mut entities = Vec::new();
    for u in &m.users {
        let at = format!("<at>{u}</at>");
        entities.push(json!({"type": "mention", "text": at, "mentioned": {"id": u, "name": u}}));
        ats.push(at);
    }
    ((!ats.is_empty()).then(|| ats.join(" ")), entities)
}

fn card(doc: &Doc, msg: &MessageView<'_>) -> Value {
    let mut items = vec![json!({
        "type": "TextBlock",
        "text": render::cut(&escape(&doc.title), TITLE_MAX),
        "size": "Large",
        "weight": "Bolder",
        "color": if doc.resolved { "good" } else { colour(doc.level) },
        "wrap": true,
        "style": "heading",
    })];
    let (at_text, entities) = mentions(msg, doc.level);
    if let Some(t) = at_text {
        items.push(text_block(t));
    }
    // The contact's template: its markdown, event values escaped.
    if let Some(text) = &doc.body {
        items.push(text_block(text.clone()));
    }
    let mut first_line = true;
    for s in &doc.sections {
        if let Some(line) = &s.line {
            let text = format!("• {}", escape(line));
            items.push(if first_line {
                text_block(text)
            } else {
                line_block(text)
            });
            first_line = false;
        }
        if !s.fields.is_empty() {
            items.push(facts(&s.fields));
        }
        if !s.details.is_empty() {
            items.push(facts(&s.details));
        }
    }
    if let Some(note) = render::cut_note(doc) {
        let mut b = text_block(escape(&note));
        b["isSubtle"] = json!(true);
        items.push(b);
    }
    let mut footer = text_block(render::footer(doc, escape));
    footer["size"] = json!("Small");
    footer["isSubtle"] = json!(true);
    items.push(footer);
    let mut content = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": items,
        "msteams": {"width": "Full"},
    });
    if !entities.is_empty() {
        content["msteams"]["entities"] = Value::Array(entities);
    }
    // The button opens the event when the message is about one (a single
    // alert, its follow-up); a digest's many events have no one link.
    let mut links = doc.sections.iter().filter_map(|s| s.link.as_ref());
    if let (Some(only), None) = (links.next(), links.next()) {
        content["actions"] = json!([{
            "type": "Action.OpenUrl",
            "title": render::labels(doc.lang).view,
            "url": only,
        }]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": content,
        }],
    })
}

fn measure(doc: &Doc, msg: &MessageView<'_>) -> usize {
    card(doc, msg).to_string().len()
}

/// The bytes a digest line's `TextBlock` adds to the body, less its text.
fn line_overhead() -> usize {
    line_block(String::new()).to_string().len() + 1
}

/// Workflows' (Logic Apps') error: `{"error": {"code", "message"}}`.
fn answer(body: &[u8]) -> Option<(String, String)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?;
    let code = e.get("code")?.as_str()?.to_string();
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some((code, message))
}

fn verdict(
    disposition: Disposition,
    status: u16,
    code: Option<String>,
    message: Option<String>,
    reason: String,
) -> Verdict {
    Verdict {
        disposition,
        http_status: Some(status),
        platform_code: code,
        platform_message: message
            .filter(|m| !m.is_empty())
            .map(|m| m.chars().take(300).collect()),
        reason,
    }
}

impl Notifier for TeamsNotifier {
    fn channel(&self) -> Channel {
        Channel::Teams
    }

    fn limits(&self) -> Limits {
        Limits {
            max_bytes: BUDGET,
            // Microsoft publishes no Workflows throttle for this trigger;
            // the retired connectors documented 4 a second and 60 in 30 s.
            // Tocsin assumes 4 a second and 60 a minute.
            rate: vec![
                RateLimit {
                    count: 4,
                    per: Duration::from_secs(1),
                },
                RateLimit {
                    count: 60,
                    per: Duration::from_secs(60),
                },
            ],
        }
    }

    fn render(&self, msg: &MessageView<'_>, _now_ms: i64) -> Result<Rendered, RenderError> {
        let doc = render::fit(render::document(msg), BUDGET, |d| measure(d, msg));
        Ok(Rendered {
            out: Outgoing::json(msg.contact.webhook.clone(), &card(&doc, msg))?,
            omitted: doc.omitted,
        })
    }

    fn sizing<'m>(&self, msg: &'m MessageView<'_>, _level: Level) -> Option<Sizing<'m>> {
        let overhead = line_overhead();
        Some(Sizing {
            budget: BUDGET,
            measure: Box::new(move |d| measure(d, msg)),
            // "• <line>" in its own TextBlock.
            line_cost: Box::new(move |line, _link| {
                pack::json_len(&format!("• {}", escape(line))) + overhead
            }),
        })
    }

    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict {
        let excerpt = super::body_excerpt(body);
        // The retired connectors answered 200 with this text when throttled.
        let connector_throttle = excerpt
            .as_deref()
            .is_some_and(|t| t.contains("returned HTTP error 429"));
        if (200..300).contains(&status) && !connector_throttle {
            return verdict(
                Disposition::Delivered,
                status,
                None,
                None,
                format!(
                    "delivered (Teams Workflows answered HTTP {status}: the flow took the card and posts it to the channel)"
                ),
            );
        }
        let after = super::retry_after(headers, crate::now_ms());
        let (code, message) = match answer(body) {
            Some((c, m)) => (Some(c), Some(m)),
            None => (None, excerpt.clone()),
        };
        let said = match (&code, &message) {
            (Some(c), Some(m)) if !m.is_empty() => format!(" ({c}: {m})"),
            (Some(c), _) => format!(" ({c})"),
            (None, Some(m)) => format!(" ({m})"),
            (None, None) => String::new(),
        };
        let (disposition, reason) = match status {
            _ if status == 429 || connector_throttle => {
                let wait = after
                    .map(|d| format!(" for {:.1} s", d.as_secs_f64()))
                    .unwrap_or_default();
                (
                    Disposition::RateLimited { retry_after: after },
                    format!(
                        "Teams Workflows is throttling this flow (HTTP 429; Tocsin assumes 4 messages a second and 60 a minute); this bot waits{wait}, then Tocsin retries"
                    ),
                )
            }
            401 | 403 => (
                Disposition::Permanent,
                format!(
                    "Teams Workflows refused the webhook's signature (HTTP {status}{said}): the URL's `sig` is wrong or was regenerated; copy the flow's HTTP POST URL again (Teams → the channel's Workflows → the flow) into the contact's `webhook`"
                ),
            ),
            404 => (
                Disposition::Permanent,
                format!(
                    "Teams Workflows does not know this flow (HTTP 404{said}): it was deleted or turned off, or the URL is wrong; create a \"Post to a channel when a webhook request is received\" workflow and copy its URL into the contact's `webhook`"
                ),
            ),
            413 => (
                Disposition::Permanent,
                format!(
                    "Teams refused the message as too large (HTTP 413{said}): a message is at most 28 KB; shorten the contact's template"
                ),
            ),
            400 => (
                Disposition::Permanent,
                format!("Teams Workflows refused the card (HTTP 400{said})"),
            ),
            500..=599 => (
                Disposition::Retry { retry_after: after },
                format!("Teams Workflows answered HTTP {status}{said}; will retry"),
            ),
            _ => (
                Disposition::Permanent,
                format!("Teams Workflows refused the message: HTTP {status}{said}"),
            ),
        };
        verdict(disposition, status, code, message, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let h = reqwest::header::HeaderMap::new();
        let n = TeamsNotifier;
        let v = n.classify(202, &h, b"");
        assert_eq!(v.disposition, Disposition::Delivered);
        assert_eq!((v.platform_code, v.platform_message), (None, None));
        let v = n.classify(
            401,
            &h,
            br#"{"error":{"code":"DirectApiAuthorizationRequired","message":"The request must be authenticated only by Shared Access scheme."}}"#,
        );
        assert_eq!(v.disposition, Disposition::Permanent);
        assert_eq!(
            v.platform_code.as_deref(),
            Some("DirectApiAuthorizationRequired")
        );
        assert!(v.reason.contains("`sig`"), "{}", v.reason);
        assert_eq!(n.classify(403, &h, b"").disposition, Disposition::Permanent);
        let v = n.classify(
            404,
            &h,
            br#"{"error":{"code":"WorkflowNotFound","message":"The workflow 'x' could not be found."}}"#,
        );
        assert!(v.reason.contains("does not know this flow"), "{}", v.reason);
        let v = n.classify(
            400,
            &h,
            br#"{"error":{"code":"InvalidRequestContent","message":"attachments[0].content.body[1].facts[0].value: required"}}"#,
        );
        assert_eq!(v.disposition, Disposition::Permanent);
        assert!(
            v.reason.contains(
                "InvalidRequestContent: attachments[0].content.body[1].facts[0].value: required"
            ),
            "{}",
            v.reason
        );
        let v = n.classify(
            413,
            &h,
            br#"{"error":{"code":"MessageTooLarge","message":"x"}}"#,
        );
        assert!(v.reason.contains("28 KB"), "{}", v.reason);
        let mut h429 = reqwest::header::HeaderMap::new();
        h429.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("2"),
        );
        assert_eq!(
            n.classify(429, &h429, b"").disposition,
            Disposition::RateLimited {
                retry_after: Some(Duration::from_secs(2))
            }
        );
        // The retired connectors' throttle: 200 with the text.
        assert!(matches!(
            n.classify(
                200,
                &h,
                b"Microsoft Teams endpoint returned HTTP error 429 with ContextId ..."
            )
            .disposition,
            Disposition::RateLimited { .. }
        ));
        assert!(matches!(
            n.classify(502, &h, b"<html>bad gateway</html>").disposition,
            Disposition::Retry { .. }
        ));
    }

    fn event(id: &str) -> std::sync::Arc<crate::event::Event> {
        let mut e = crate::event::Event::minimal(
            id,
            "Sas",
            "Incident:BruteForce <at>everyone</at> [x](http://e.vil)",
            Level::Critical,
        );
        e.instance = Some("web-01".into());
        std::sync::Arc::new(e)
    }

    /// The button opens the event of a single alert and of a follow-up,
    /// not of a digest; mentions only come from the config.
    #[test]
    fn one_link_per_message_about_one_event_and_config_mentions() {
        use crate::domain::MessageKind;
        let yaml = "contacts:\n  - { name: t, channel: teams, webhook: \"https://prod-00.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s\", timezone: UTC, mentions: { users: [\"alice@contoso.com\"], levels: [critical] } }\n";
        let loaded = crate::config::load_str(yaml, "t", &|_| None);
        let c = loaded
            .config
            .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics))
            .contacts[0]
            .clone();
        let body = |kind, events: &[std::sync::Arc<crate::event::Event>]| {
            let view = MessageView {
                id: "m",
                kind,
                contact: &c,
                subscriptions: &[],
                events,
                public_url: Some("https://tocsin.example.com"),
                note: None,
                template: None,
            };
            let r = TeamsNotifier.render(&view, 0).unwrap();
            serde_json::from_slice::<Value>(&r.out.body).unwrap()
        };
        let one = [event("a")];
        let two = [event("a"), event("b")];
        for (kind, events, url) in [
            (
                MessageKind::Single,
                &one[..],
                Some("https://tocsin.example.com/api/v1/events/a"),
            ),
            (
                MessageKind::FollowUp,
                &two[..],
                Some("https://tocsin.example.com/api/v1/events/a"),
            ),
            (MessageKind::Digest, &two[..], None),
        ] {
            let b = body(kind, events);
            let card = &b["attachments"][0]["content"];
            assert_eq!(card["actions"][0]["url"].as_str(), url, "{kind:?}: {b:#}");
            assert_eq!(
                card["msteams"]["entities"],
                json!([{"type": "mention", "text": "<at>alice@contoso.com</at>",
                    "mentioned": {"id": "alice@contoso.com", "name": "alice@contoso.com"}}]),
                "{kind:?}"
            );
            let text = b.to_string();
            // One `<at>`: the configured one.
            assert_eq!(text.matches("<at>").count(), 2, "{text}");
            assert!(!text.contains("](http"), "{text}");
        }
    }
}
