//! Discord webhooks (`POST https://discord.com/api/webhooks/{id}/{token}`,
//! <https://discord.com/developers/docs/resources/webhook#execute-webhook>):
//! one embed coloured by level, whose title links to the event in Tocsin.
//! Every value from an event is escaped for Discord markdown
//! ([`markup::discord`]): no emphasis, quote, heading, masked link
//! `[text](url)`, autolink or mention can be written by an event, and its
//! `@` are defanged so `@everyone` does not even look like one. Every body
//! carries `allowed_mentions: {"parse": []}`: Discord pings nobody but the
//! user ids the contact's `mentions.users` lists (in `content`, named in
//! `allowed_mentions.users`).
//!
//! Limits (…/resources/message#embed-object-embed-limits): title 256,
//! description 4096, 25 fields (name 256, value 1024), footer 2048, all embed
//! texts together 6000 characters, `content` 2000. Errors are real HTTP
//! statuses with a JSON `{"code", "message"}`: 400 50035 Invalid Form Body
//! (with an `errors` tree naming the field), 401 50027 Invalid Webhook Token,
//! 404 10015 Unknown Webhook, 429 with `retry_after` in seconds
//! (…/topics/rate-limits). Success is 204 (200 with `?wait=true`).

use super::markup::{self, discord as escape};
use super::pack::Sizing;
use super::render::{self, Doc};
use super::{Disposition, Limits, MessageView, Notifier, Outgoing, RenderError, Rendered, Verdict};
use crate::config::{Channel, Level, RateLimit};
use serde_json::{Value, json};
use std::time::Duration;

pub struct DiscordNotifier;

pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 4096;
pub const FIELDS_MAX: usize = 25;
pub const FIELD_NAME_MAX: usize = 256;
pub const FIELD_VALUE_MAX: usize = 1024;
pub const FOOTER_MAX: usize = 2048;
/// All of an embed's texts together (title, description, field names and
/// values, footer, author name).
pub const EMBED_TOTAL_MAX: usize = 6000;
pub const CONTENT_MAX: usize = 2000;

/// The characters Tocsin lets a message's embed texts add up to: Discord's
/// 6000, less a margin.
const BUDGET: usize = 5_800;

/// Cuts `s` to at most `max` characters (Discord counts characters, not
/// bytes), marking the cut; never leaves a lone escaping backslash.
fn cut_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut kept: String = s.chars().take(max.saturating_sub(1)).collect();
    // An odd run of trailing backslashes would escape the mark.
    let run = kept.chars().rev().take_while(|c| *c == '\\').count();
    if run % 2 == 1 {
        kept.pop();
    }
    kept.push('…');
    kept
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn colour(level: Level) -> u32 {
    match level {
        Level::Critical => 0xD9_30_25,
        Level::Warn => 0xF2_99_00,
        Level::Info => 0x1A_73_E8,
    }
}

/// The embed's parts before Discord's per-part caps, for measuring.
struct Parts {
    title: String,
    description: String,
    fields: Vec<(String, String)>,
    footer: String,
    url: Option<String>,
}

fn parts(doc: &Doc) -> Parts {
    let mut lines: Vec<String> = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut url = None;
    // The contact's template: its markdown, event values escaped.
    if let Some(text) = &doc.body {
        lines.push(text.clone());
    }
    for s in &doc.sections {
        if let Some(line) = &s.line {
            lines.push(format!("• {}", escape(line)));
        }
        for (k, v) in &s.fields {
            fields.push((escape(k), escape(v)));
        }
        for (k, v) in &s.details {
            lines.push(format!("**{}**: {}", escape(k), escape(v)));
        }
    }
    if let Some(note) = render::cut_note(doc) {
        lines.push(format!("*{}*", escape(&note)));
    }
    // The title links to the event when the message is about one (a single
    // alert, its follow-up); a digest's many events have no one link.
    let mut links = doc.sections.iter().filter_map(|s| s.link.as_ref());
    if let (Some(only), None) = (links.next(), links.next()) {
        url = Some(only.clone());
    }
    Parts {
        title: escape(&doc.title),
        description: lines.join("\n"),
        fields,
        footer: render::footer(doc, markup::discord_plain),
        url,
    }
}

/// Characters of the embed as Discord counts them, or more than the budget
/// when a part is over its own limit: `max(total, description + the rest
/// of the budget)`, so a digest line adds its length whichever limit binds.
fn measure(doc: &Doc) -> usize {
    let p = parts(doc);
    if p.fields.len() > FIELDS_MAX || p.fields.iter().any(|(_, v)| chars(v) > FIELD_VALUE_MAX) {
        return usize::MAX;
    }
    let description = chars(&p.description);
    let total = chars(&p.title).min(TITLE_MAX)
        + description
        + p.fields
            .iter()
            .map(|(k, v)| chars(k).min(FIELD_NAME_MAX) + chars(v))
            .sum::<usize>()
        + chars(&p.footer).min(FOOTER_MAX);
    total.max(description + (BUDGET - DESCRIPTION_MAX))
}

/// Who the message pings: the contact's user ids only, in `content`.
fn content(msg: &MessageView<'_>, level: Level) -> (Option<String>, Vec<String>) {
    let Some(m) = msg.contact.mentions.for_level(level) else {
        return (None, Vec::new());
    };
    let mut text = String::new();
    let mut users = Vec::new();
    for u in &m.users {
        let at = format!("<@{u}>");
        if chars(&text) + chars(&at) + 1 > CONTENT_MAX {
            break;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&at);
        users.push(u.clone());
    }
    ((!text.is_empty()).then_some(text), users)
}

fn body(doc: &Doc, msg: &MessageView<'_>) -> Value {
    let p = parts(doc);
    let mut embed = json!({
        "title": cut_chars(&p.title, TITLE_MAX),
        "color": if doc.resolved { 0x2E_A0_43 } else { colour(doc.level) },
    });
    if let Some(url) = &p.url {
        embed["url"] = json!(url);
    }
    if !p.description.is_empty() {
        embed["description"] = json!(cut_chars(&p.description, DESCRIPTION_MAX));
    }
    if !p.fields.is_empty() {
        embed["fields"] = p
            .fields
            .iter()
            .take(FIELDS_MAX)
            .map(|(k, v)| {
                json!({
                    "name": cut_chars(k, FIELD_NAME_MAX),
                    "value": if v.is_empty() { "-".to_string() } else { cut_chars(v, FIELD_VALUE_MAX) },
                    "inline": chars(v) <= 40,
                })
            })
            .collect();
    }
    embed["footer"] = json!({"text": cut_chars(&p.footer, FOOTER_MAX)});
    // A single alert's time; digests and tests carry no event time.
    if let [e] = msg.events
        && msg.kind != crate::domain::MessageKind::Test
        && let Ok(ts) = jiff::Timestamp::from_millisecond(e.time_ms)
    {
        embed["timestamp"] = json!(ts.to_string());
    }
    let (content, users) = content(msg, doc.level);
    let mut out = json!({
        "username": "Tocsin",
        "embeds": [embed],
        "allowed_mentions": {"parse": [], "users": users},
    });
    if let Some(c) = content {
        out["content"] = json!(c);
    }
    out
}

/// Discord's answer: `{"code", "message", "errors"?}`; the first field
/// errors of a 50035, as `path: message`.
fn answer(body: &[u8]) -> Option<(i64, String, Vec<String>)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let code = v.get("code")?.as_i64()?;
    let message = v
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut problems = Vec::new();
    fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
        let Some(o) = v.as_object() else { return };
        for (k, x) in o {
            if k == "_errors" {
                for e in x.as_array().into_iter().flatten() {
                    let msg = e
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("invalid");
                    out.push(format!("{}: {msg}", path.join(".")));
                }
            } else {
                path.push(k.clone());
                walk(x, path, out);
                path.pop();
            }
        }
    }
    if let Some(errors) = v.get("errors") {
        walk(errors, &mut Vec::new(), &mut problems);
    }
    problems.truncate(3);
    Some((code, message, problems))
}

/// The delay a 429 asks for: the body's `retry_after` (seconds, a float),
/// else `Retry-After`.
fn retry_after(headers: &reqwest::header::HeaderMap, body: &[u8]) -> Option<Duration> {
    let from_body = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("retry_after").and_then(Value::as_f64))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s.min(86_400.0)).ok());
    from_body.or_else(|| super::retry_after(headers, crate::now_ms()))
}

impl Notifier for DiscordNotifier {
    fn channel(&self) -> Channel {
        Channel::Discord
    }

    fn limits(&self) -> Limits {
        Limits {
            // Discord measures characters (of the embed's texts), not bytes.
            max_bytes: EMBED_TOTAL_MAX,
            // ~5 requests per 2 s per webhook (its X-RateLimit bucket), and
            // 30 messages a minute into one channel.
            rate: vec![
                RateLimit {
                    count: 5,
                    per: Duration::from_secs(2),
                },
                RateLimit {
                    count: 30,
                    per: Duration::from_secs(60),
                },
            ],
        }
    }

    fn render(&self, msg: &MessageView<'_>, _now_ms: i64) -> Result<Rendered, RenderError> {
        let doc = render::fit(render::document(msg), BUDGET, measure);
        Ok(Rendered {
            out: Outgoing::json(msg.contact.webhook.clone(), &body(&doc, msg))?,
            omitted: doc.omitted,
        })
    }

    fn sizing<'m>(&self, _msg: &'m MessageView<'_>, _level: Level) -> Option<Sizing<'m>> {
        Some(Sizing {
            budget: BUDGET,
            measure: Box::new(measure),
            // "• <line>" and the "\n" joining it, in characters.
            line_cost: Box::new(|line, _link| chars(&escape(line)) + 3),
        })
    }

    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict {
        if (200..300).contains(&status) {
            return super::platform_verdict(
                Disposition::Delivered,
                status,
                None,
                "",
                format!("delivered (Discord answered HTTP {status})"),
            );
        }
        if status == 429 {
            let after = retry_after(headers, body);
            let global = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("global").and_then(Value::as_bool))
                .unwrap_or(false);
            let scope = if global {
                "all of this machine's Discord requests (global)"
            } else {
                "this webhook"
            };
            let wait = after
                .map(|d| format!(" for {:.1} s", d.as_secs_f64()))
                .unwrap_or_default();
            let (code, message) = match answer(body) {
                Some((c, m, _)) => (Some(c), m),
                None => (None, super::body_excerpt(body).unwrap_or_default()),
            };
            return super::platform_verdict(
                Disposition::RateLimited { retry_after: after },
                status,
                code,
                &message,
                format!(
                    "Discord is rate limiting {scope} (HTTP 429, about 5 messages per 2 s and 30 a minute per channel); this bot waits{wait}, then Tocsin retries"
                ),
            );
        }
        let Some((code, message, problems)) = answer(body) else {
            return super::status_only_verdict("Discord", status, headers, body);
        };
        let (disposition, reason) = match code {
            10015 => (
                Disposition::Permanent,
                "Discord does not know this webhook (10015 Unknown Webhook): it was deleted, or the URL's id is wrong; create a webhook in the channel's settings (Integrations → Webhooks) and copy its URL into the contact's `webhook`".to_string(),
            ),
            50027 => (
                Disposition::Permanent,
                "Discord refused the webhook's token (50027 Invalid Webhook Token): the URL's last part is wrong or the webhook was reset; copy its URL again".to_string(),
            ),
            50035 => (
                Disposition::Permanent,
                format!(
                    "Discord refused a field of the message (50035 Invalid Form Body: {})",
                    if problems.is_empty() { message.clone() } else { problems.join("; ") }
                ),
            ),
            50006 => (
                Disposition::Permanent,
                "Discord refused an empty message (50006)".to_string(),
            ),
            _ if status >= 500 => (
                Disposition::Retry { retry_after: super::retry_after(headers, crate::now_ms()) },
                format!("Discord answered HTTP {status} (code {code} {message}); will retry"),
            ),
            _ => (
                Disposition::Permanent,
                format!("Discord refused the message: HTTP {status}, code {code} ({message})"),
            ),
        };
        super::platform_verdict(disposition, status, Some(code), &message, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let h = reqwest::header::HeaderMap::new();
        let n = DiscordNotifier;
        assert_eq!(n.classify(204, &h, b"").disposition, Disposition::Delivered);
        assert_eq!(
            n.classify(200, &h, br#"{"id":"1","content":""}"#)
                .disposition,
            Disposition::Delivered
        );
        let v = n.classify(404, &h, br#"{"message": "Unknown Webhook", "code": 10015}"#);
        assert_eq!(v.disposition, Disposition::Permanent);
        assert_eq!(v.platform_code.as_deref(), Some("10015"));
        assert_eq!(v.platform_message.as_deref(), Some("Unknown Webhook"));
        assert!(v.reason.contains("Integrations"), "{}", v.reason);
        let v = n.classify(
            401,
            &h,
            br#"{"message": "Invalid Webhook Token", "code": 50027}"#,
        );
        assert_eq!(
            (v.disposition, v.platform_code.as_deref()),
            (Disposition::Permanent, Some("50027"))
        );
        let v = n.classify(
            400,
            &h,
            br#"{"code": 50035, "message": "Invalid Form Body", "errors": {"embeds": {"0": {"description": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 4096 or fewer in length."}]}}}}}"#,
        );
        assert_eq!(v.disposition, Disposition::Permanent);
        assert!(
            v.reason
                .contains("embeds.0.description: Must be 4096 or fewer in length."),
            "{}",
            v.reason
        );
        let mut h429 = reqwest::header::HeaderMap::new();
        h429.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("1"),
        );
        let v = n.classify(
            429,
            &h429,
            br#"{"message": "You are being rate limited.", "retry_after": 0.5, "global": false}"#,
        );
        assert_eq!(
            v.disposition,
            Disposition::RateLimited {
                retry_after: Some(Duration::from_millis(500))
            }
        );
        assert!(v.reason.contains("this webhook"), "{}", v.reason);
        // Without a body, the header.
        assert_eq!(
            n.classify(429, &h429, b"").disposition,
            Disposition::RateLimited {
                retry_after: Some(Duration::from_secs(1))
            }
        );
        assert!(matches!(
            n.classify(502, &h, b"<html>bad gateway</html>").disposition,
            Disposition::Retry { .. }
        ));
        assert!(matches!(
            n.classify(
                500,
                &h,
                br#"{"message": "500: Internal Server Error", "code": 0}"#
            )
            .disposition,
            Disposition::Retry { .. }
        ));
    }

    fn event(id: &str) -> std::sync::Arc<crate::event::Event> {
        std::sync::Arc::new(crate::event::Event {
            id: id.into(),
            product: "Sas".into(),
            event_type: "Incident".into(),
            name: "Incident:BruteForce @everyone".into(),
            level: Level::Critical,
            severity: None,
            status: None,
            resource: None,
            instance: Some("web-01".into()),
            region: None,
            group: None,
            time_ms: 1_764_381_600_000,
            received_ms: 1_764_381_600_000,
            content: json!({}),
            format: crate::event::Format::Native,
            raw: json!({}),
            state: crate::event::EventState::Firing,
            identity_key: None,
        })
    }

    /// The title links to the event of a single alert and of a follow-up,
    /// not to one of a digest's events; pings only come from the config.
    #[test]
    fn one_link_per_message_about_one_event() {
        use crate::domain::MessageKind;
        let yaml = "contacts:\n  - { name: d, channel: discord, webhook: \"https://discord.com/api/webhooks/1/t\", timezone: UTC, mentions: { users: [\"42\"], levels: [warn] } }\n";
        let c = crate::config::load_str(yaml, "t", &|_| None)
            .config
            .unwrap()
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
            let r = DiscordNotifier.render(&view, 0).unwrap();
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
            assert_eq!(b["embeds"][0]["url"].as_str(), url, "{kind:?}: {b:#}");
            assert_eq!(
                b["allowed_mentions"],
                json!({"parse": [], "users": []}),
                "{kind:?}"
            );
            // Critical: the warn-only mention does not apply.
            assert!(b.get("content").is_none(), "{kind:?}: {b:#}");
            assert!(!b.to_string().contains("@everyone"), "{b}");
        }
    }

    #[test]
    fn cuts_count_characters_and_keep_escapes_whole() {
        assert_eq!(cut_chars("登录失败", 3), "登录…");
        assert_eq!(cut_chars("ab\\[", 4), "ab\\[");
        assert_eq!(cut_chars("ab\\[cd", 4), "ab…");
        assert_eq!(cut_chars(&"é".repeat(300), 256).chars().count(), 256);
    }
}
