//! PagerDuty Events API v2 (`POST /v2/enqueue`), written from PagerDuty's
//! documentation: <https://developer.pagerduty.com/docs/events-api-v2/trigger-events/>,
//! <https://developer.pagerduty.com/docs/events-api-v2/resolve-alerts/>,
//! <https://developer.pagerduty.com/api-reference/368ae3d938c9e-send-an-event-to-pager-duty>
//! and <https://developer.pagerduty.com/docs/events-api-v2-overview#api-limits>.
//! A "bot" is a service's integration, registered under its routing key
//! (32 characters); the key is read from the body, not the URL.
//!
//! Check order: a path other than `/v2/enqueue` → 404; not POST → 405;
//! body not a JSON object → 400 "invalid event" ("Malformed JSON"); then
//! every field error at once, as PagerDuty lists them in `errors`:
//! `routing_key` missing or not 32 characters, `event_action` not one of
//! trigger/acknowledge/resolve, `dedup_key` over 255 characters or missing
//! on acknowledge/resolve, and for a trigger `payload.summary` missing or
//! over 1024 characters, `payload.source` missing, `payload.severity` not
//! one of critical/error/warning/info, a `payload.timestamp` that is not
//! ISO 8601, `links`/`images` not arrays of objects with `href`/`src`; an
//! event over 512 KB → 400; an unknown routing key → 400 "Invalid routing
//! key"; over 120 events a minute per key → 429 (no Retry-After). Accepted:
//! 202 `{"status": "success", "message": "Event processed", "dedup_key"}`.
//!
//! Incidents are kept per key by `dedup_key`: a trigger opens one (or adds
//! an alert to the open one), acknowledge marks it, resolve closes it; an
//! acknowledge or resolve for a key with no open incident is accepted and
//! changes nothing, as PagerDuty does.

use crate::platform::{Answer, Ctx, Platform, Req, str_at};
use serde_json::{Value, json};

pub use crate::platform::{BotSettings, Delivery, FakeBot, ScriptedAnswer};

pub const PATH: &str = "/v2/enqueue";
pub const SUMMARY_MAX: usize = 1024;
pub const EVENT_MAX_BYTES: usize = 512 * 1024;
pub const PER_MINUTE: u32 = 120;

/// An incident as the service shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// The service's incident number (1, 2, ...).
    pub number: u64,
    pub dedup_key: String,
    pub summary: String,
    pub severity: String,
    /// `triggered`, `acknowledged` or `resolved`.
    pub status: String,
    /// Triggers de-duplicated into it.
    pub alerts: u32,
    pub opened_ms: i64,
    pub resolved_ms: Option<i64>,
}

pub(crate) fn invalid(errors: Vec<String>) -> Answer {
    let mut a = Answer::json(
        400,
        0,
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
    );
    a.code = None;
    a
}

pub(crate) fn rate_limited() -> Answer {
    let mut a = Answer::json(
        429,
        0,
        json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly.  Please retry later."}),
    );
    a.code = None;
    a
}

/// A scripted `Code` answer: HTTP `code` with PagerDuty's error body.
pub(crate) fn code_answer(code: i64, msg: &str) -> Answer {
    let status = u16::try_from(code)
        .ok()
        .filter(|s| (400..600).contains(s))
        .unwrap_or(400);
    let mut a = Answer::json(
        status,
        0,
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": [msg]}),
    );
    a.code = None;
    a
}

/// The routing key a request's body names ("" when none).
pub(crate) fn token_of_body(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("routing_key")?.as_str().map(str::to_string)
}

/// `YYYY-MM-DDTHH:MM:SS` with optional fraction and a `Z` or `±HH:MM` offset.
fn iso8601(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let head = digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    let zone = rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':');
    head && zone
}

/// Every field error of an event, in PagerDuty's words.
fn field_errors(v: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let key = str_at(v, "/routing_key");
    if key.is_empty() {
        errors.push("'routing_key' is missing or blank".to_string());
    } else if key.chars().count() != 32 {
        errors.push("Length of 'routing_key' is incorrect (should be 32 characters)".to_string());
    }
    let action = str_at(v, "/event_action");
    if !["trigger", "acknowledge", "resolve"].contains(&action) {
        errors.push(
            "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"
                .to_string(),
        );
    }
    let dedup = v.get("dedup_key");
    match dedup {
        Some(Value::String(d)) if d.chars().count() > 255 => {
            errors.push("'dedup_key' is too long (maximum is 255 characters)".to_string())
        }
        Some(Value::String(d)) if d.is_empty() && action != "trigger" => {
            errors.push("'dedup_key' is missing or blank".to_string())
        }
        None if action == "acknowledge" || action == "resolve" => {
            errors.push("'dedup_key' is missing or blank".to_string())
        }
        Some(Value::String(_)) | None => {}
        Some(_) => errors.push("'dedup_key' must be a string".to_string()),
    }
    if action == "trigger" {
        let summary = str_at(v, "/payload/summary");
        if summary.trim().is_empty() {
            errors.push("'payload.summary' is missing or blank".to_string());
        } else if summary.chars().count() > SUMMARY_MAX {
            errors.push("'payload.summary' is too long (maximum is 1024 characters)".to_string());
        }
        if str_at(v, "/payload/source").trim().is_empty() {
            errors.push("'payload.source' is missing or blank".to_string());
        }
        let sev = str_at(v, "/payload/severity");
        if !["critical", "error", "warning", "info"].contains(&sev) {
            errors.push(
                "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')"
                    .to_string(),
            );
        }
        if let Some(t) = v.pointer("/payload/timestamp")
            && !t.as_str().is_some_and(iso8601)
        {
            errors.push("'payload.timestamp' is invalid (must be ISO 8601)".to_string());
        }
        if let Some(d) = v.pointer("/payload/custom_details")
            && !(d.is_object() || d.is_string())
        {
            errors.push("'payload.custom_details' must be an object".to_string());
        }
        for (list, field) in [("links", "href"), ("images", "src")] {
            if let Some(l) = v.get(list) {
                let ok = l.as_array().is_some_and(|a| {
                    a.iter().all(|x| {
                        x.get(field)
                            .and_then(Value::as_str)
                            .is_some_and(|h| !h.is_empty())
                    })
                });
                if !ok {
                    errors.push(format!(
                        "'{list}' must be an array of objects with '{field}'"
                    ));
                }
            }
        }
    }
    errors
}

fn random_key(ctx: &Ctx<'_>) -> String {
    let h = ctx
        .request_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    format!("{h:016x}{:016x}", h.rotate_left(29) ^ 0x9e37_79b9_7f4a_7c15)
}

pub(crate) fn handle(ctx: &mut Ctx<'_>, req: &Req<'_>) -> Answer {
    if req.path.trim_end_matches('/') != PATH {
        return Answer::text(404, "Not Found");
    }
    if req.method != axum::http::Method::POST {
        return Answer::text(405, "Method Not Allowed");
    }
    let Some(v) = serde_json::from_slice::<Value>(req.body)
        .ok()
        .filter(Value::is_object)
    else {
        return invalid(vec!["Malformed JSON".into()]);
    };
    let errors = field_errors(&v);
    if !errors.is_empty() {
        return invalid(errors);
    }
    if req.body.len() > EVENT_MAX_BYTES {
        return invalid(vec![
            "Event is too large (the maximum event size is 512 KB)".into(),
        ]);
    }
    let key = str_at(&v, "/routing_key");
    let dedup = match str_at(&v, "/dedup_key") {
        "" => random_key(ctx),
        d => d.to_string(),
    };
    let now_ms = ctx.now_ms;
    let now = ctx.now;
    let Some(bot) = ctx.bots.get_mut(key) else {
        return invalid(vec!["Invalid routing key".into()]);
    };
    if bot.over_rate(Platform::PagerDuty, now).is_some() {
        return rate_limited();
    }
    bot.record_sent(now);
    let open = bot
        .incidents
        .iter_mut()
        .rev()
        .find(|i| i.dedup_key == dedup && i.status != "resolved");
    match (str_at(&v, "/event_action"), open) {
        ("trigger", Some(i)) => i.alerts += 1,
        ("trigger", None) => {
            let number = bot.incidents.len() as u64 + 1;
            bot.incidents.push(Incident {
                number,
                dedup_key: dedup.clone(),
                summary: str_at(&v, "/payload/summary").to_string(),
                severity: str_at(&v, "/payload/severity").to_string(),
                status: "triggered".into(),
                alerts: 1,
                opened_ms: now_ms,
                resolved_ms: None,
            });
        }
        ("acknowledge", Some(i)) => i.status = "acknowledged".into(),
        ("resolve", Some(i)) => {
            i.status = "resolved".into();
            i.resolved_ms = Some(now_ms);
        }
        _ => {}
    }
    let mut a = Answer::json(
        202,
        0,
        json!({"status": "success", "message": "Event processed", "dedup_key": dedup}),
    );
    a.code = None;
    a
}

/// The event as a line of the incident's log: action, severity, summary,
/// source, dedup key, links.
pub(crate) fn render(body: &Value) -> String {
    let action = str_at(body, "/event_action");
    let mut lines = vec![format!(
        "{action} {} [{}]",
        str_at(body, "/payload/severity"),
        str_at(body, "/dedup_key")
    )];
    if action == "trigger" {
        lines.push(str_at(body, "/payload/summary").to_string());
        lines.push(format!(
            "source: {} · component: {} · class: {}",
            str_at(body, "/payload/source"),
            str_at(body, "/payload/component"),
            str_at(body, "/payload/class")
        ));
    }
    for l in body
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        lines.push(format!(
            "link: {} <{}>",
            str_at(l, "/text"),
            str_at(l, "/href")
        ));
    }
    lines.join("\n")
}

/// The links a responder could click: `links[].href` and `client_url`.
pub fn hrefs(body: &Value) -> Vec<String> {
    let mut out: Vec<String> = body
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("href").and_then(Value::as_str).map(String::from))
        .collect();
    if let Some(u) = body.get("client_url").and_then(Value::as_str) {
        out.push(u.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testutil::{post, post_json};

    const KEY: &str = "R0UT1NGKEY0000000000000000000001";

    fn trigger(dedup: &str) -> Value {
        json!({"routing_key": KEY, "event_action": "trigger", "dedup_key": dedup,
            "payload": {"summary": "x", "source": "h", "severity": "critical",
                "timestamp": "2026-12-03T10:00:00.000Z"}})
    }

    #[tokio::test]
    async fn trigger_then_resolve_with_the_same_dedup_key() {
        let fake = FakeBot::pagerduty().await;
        fake.add_bot(KEY, BotSettings::default());
        let url = fake.url(KEY);
        assert!(url.ends_with("/v2/enqueue"));
        for _ in 0..2 {
            let a = post_json(&url, &trigger("k1")).await;
            assert_eq!(a.status, 202);
            assert_eq!(
                a.json(),
                json!({"status":"success","message":"Event processed","dedup_key":"k1"})
            );
        }
        let i = fake.incidents(KEY);
        assert_eq!(
            (i.len(), i[0].alerts, i[0].status.as_str()),
            (1, 2, "triggered")
        );
        let a = post_json(
            &url,
            &json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "k1"}),
        )
        .await;
        assert_eq!(a.status, 202);
        assert_eq!(fake.incidents(KEY)[0].status, "resolved");
        // A resolve for a key with no incident changes nothing.
        let a = post_json(
            &url,
            &json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "none"}),
        )
        .await;
        assert_eq!(a.status, 202);
        assert_eq!(fake.incidents(KEY).len(), 1);
        // A new trigger after the resolve opens a new incident.
        post_json(&url, &trigger("k1")).await;
        assert_eq!(fake.incidents(KEY).len(), 2);
        assert_eq!(fake.accepted().len(), 5);
    }

    #[tokio::test]
    async fn invalid_events_are_refused_with_every_error() {
        let fake = FakeBot::pagerduty().await;
        fake.add_bot(KEY, BotSettings::default());
        let url = fake.url(KEY);
        let a = post(&url, "nope").await;
        assert_eq!(
            (a.status, a.json()["errors"][0].as_str()),
            (400, Some("Malformed JSON"))
        );
        let a = post_json(
            &url,
            &json!({"routing_key": "short", "event_action": "fire",
                "payload": {"summary": "x".repeat(1025), "severity": "high"}}),
        )
        .await;
        assert_eq!(a.status, 400);
        assert_eq!(a.json()["status"], "invalid event");
        let errors = a.json()["errors"].to_string();
        for e in ["routing_key", "event_action"] {
            assert!(errors.contains(e), "{errors}");
        }
        let mut bad = trigger("k");
        bad["payload"]["summary"] = json!("x".repeat(1025));
        bad["payload"]["severity"] = json!("high");
        bad["payload"]["timestamp"] = json!("yesterday");
        let errors = post_json(&url, &bad).await.json()["errors"].to_string();
        for e in ["payload.summary", "payload.severity", "payload.timestamp"] {
            assert!(errors.contains(e), "{errors}");
        }
        let mut other = trigger("k");
        other["routing_key"] = json!("R0UT1NGKEY0000000000000000000999");
        let a = post_json(&url, &other).await;
        assert_eq!(a.json()["errors"], json!(["Invalid routing key"]));
        assert!(!a.body.contains("R0UT1NGKEY"), "{}", a.body);
        assert!(fake.incidents(KEY).is_empty());
    }

    #[tokio::test]
    async fn over_120_a_minute_is_429() {
        let fake = FakeBot::pagerduty().await;
        fake.add_bot(KEY, BotSettings::default());
        fake.use_manual_clock();
        let url = fake.url(KEY);
        for i in 0..PER_MINUTE {
            assert_eq!(
                post_json(&url, &trigger(&format!("k{i}"))).await.status,
                202
            );
        }
        let a = post_json(&url, &trigger("over")).await;
        assert_eq!(a.status, 429);
        assert!(a.headers.get("retry-after").is_none());
        fake.advance(std::time::Duration::from_secs(61));
        assert_eq!(post_json(&url, &trigger("later")).await.status, 202);
    }
}
