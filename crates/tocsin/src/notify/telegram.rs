//! Telegram bots (`POST {api_base}/bot<token>/sendMessage`,
//! <https://core.telegram.org/bots/api#sendmessage>, formatting
//! <https://core.telegram.org/bots/api#formatting-options>, limits
//! <https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this>):
//! one HTML message (`parse_mode: "HTML"`) to the contact's `chat_id`, link
//! previews off, info-level messages silent (`disable_notification`).
//!
//! Every value from an event is escaped for Telegram's HTML
//! ([`markup::telegram`]: `&`, `<`, `>`, `"` as entities, `@` defanged so no
//! `@username` is linked or notified, URLs defanged). The only tags are
//! Tocsin's own (`b`, `i`, `a href` to the event in Tocsin) and the
//! mentions the contact's `mentions.users` lists, written as
//! `<a href="tg://user?id=…">name</a>`: mentions never come from an event.
//!
//! The token is in the URL's path, so the URL is never shown or logged
//! whole (the API shows scheme and host; transport errors drop the URL).
//!
//! Limits: `text` is 1–4096 characters after entity parsing (counted here,
//! as Telegram does, in UTF-16 code units of the visible text). Answers are
//! `{"ok": true, "result": {…}}` or `{"ok": false, "error_code": N,
//! "description": "…", "parameters"?: {"retry_after", "migrate_to_chat_id"}}`
//! with the HTTP status equal to `error_code`. Rate: about 1 message a second
//! per chat, 20 a minute per group, 30 a second per bot.

use super::markup::{self, telegram as escape};
use super::pack::Sizing;
use super::render::{self, Doc};
use super::{Disposition, Limits, MessageView, Notifier, Outgoing, RenderError, Rendered, Verdict};
use crate::config::{Channel, Level, RateLimit};
use serde_json::{Value, json};
use std::time::Duration;

pub struct TelegramNotifier;

/// Telegram's limit on a message's text after entity parsing.
pub const TEXT_MAX: usize = 4096;

/// What Tocsin lets a message's visible text add up to: 4096 less a margin.
const BUDGET: usize = 3_900;

/// The tags Telegram's HTML parse mode knows (the subset Tocsin and
/// templates may use).
const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-spoiler",
];

/// The length Telegram checks: the text after entity parsing (tags
/// removed, `&lt;`-style entities one character), in UTF-16 code units.
pub fn visible_len(html: &str) -> usize {
    let mut n = 0;
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => match rest.find('>') {
                Some(end) => rest = &rest[end + 1..],
                None => {
                    n += rest.encode_utf16().count();
                    break;
                }
            },
            '&' => match rest.find(';').filter(|e| *e <= 10) {
                Some(end) => {
                    n += 1;
                    rest = &rest[end + 1..];
                }
                None => {
                    n += 1;
                    rest = &rest[1..];
                }
            },
            c => {
                n += c.len_utf16();
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    n
}

/// Makes a cut piece of HTML parse: drops a tag or entity cut in half and
/// closes the tags left open (Telegram refuses unclosed tags with "can't
/// parse entities"); unknown tags are shown as text.
pub fn balance(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 16);
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let Some(end) = rest.find('>') else {
                    break; // a tag cut in half
                };
                let tag = &rest[1..end];
                let closing = tag.starts_with('/');
                let name = tag
                    .trim_start_matches('/')
                    .split(|c: char| c.is_whitespace())
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if !TAGS.contains(&name.as_str()) || tag.contains('<') {
                    out.push_str("&lt;");
                    rest = &rest[1..];
                    continue;
                }
                if closing {
                    if open.last() == Some(&name) {
                        open.pop();
                        out.push_str(&rest[..=end]);
                    }
                } else {
                    open.push(name);
                    out.push_str(&rest[..=end]);
                }
                rest = &rest[end + 1..];
            }
            '&' => {
                let end = rest.find(';').filter(|e| {
                    *e <= 10
                        && rest[1..*e]
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'#')
                });
                match end {
                    Some(e) => {
                        out.push_str(&rest[..=e]);
                        rest = &rest[e + 1..];
                    }
                    // A cut entity at the end, or a bare `&`.
                    None if !rest[1..]
                        .contains(|c: char| !c.is_ascii_alphanumeric() && c != '#') =>
                    {
                        break;
                    }
                    None => {
                        out.push_str("&amp;");
                        rest = &rest[1..];
                    }
                }
            }
            '>' => {
                out.push_str("&gt;");
                rest = &rest[1..];
            }
            c => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    while let Some(t) = open.pop() {
        out.push_str(&format!("</{t}>"));
    }
    out
}

fn emoji(level: Level) -> &'static str {
    match level {
        Level::Critical => "🔴",
        Level::Warn => "🟠",
        Level::Info => "🔵",
    }
}

/// An attribute value (a link Tocsin made from `server.public_url`).
fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The mentions of the contact's `mentions.users` for this level:
/// `<a href="tg://user?id=ID">NAME</a>` (`ID:NAME` in the config; the id
/// when no name is given).
fn mentions(msg: &MessageView<'_>, level: Level) -> Option<String> {
    let m = msg.contact.mentions.for_level(level)?;
    let links: Vec<String> = m
        .users
        .iter()
        .filter_map(|u| {
            let (id, name) = u.split_once(':').unwrap_or((u.as_str(), u.as_str()));
            id.bytes().all(|b| b.is_ascii_digit()).then(|| {
                format!(
                    "<a href=\"tg://user?id={id}\">{}</a>",
                    markup::telegram(name)
                )
            })
        })
        .collect();
    (!links.is_empty()).then(|| links.join(" "))
}

/// The message's HTML.
fn html(doc: &Doc, msg: &MessageView<'_>) -> String {
    let mut lines: Vec<String> = vec![format!(
        "{} <b>{}</b>",
        if doc.resolved {
            "🟢"
        } else {
            emoji(doc.level)
        },
        escape(&doc.title)
    )];
    // The contact's template: its HTML, event values escaped.
    if let Some(text) = &doc.body {
        lines.push(balance(text));
    }
    for s in &doc.sections {
        if let Some(line) = &s.line {
            lines.push(format!("• {}", escape(line)));
        }
        for (k, v) in s.fields.iter().chain(&s.details) {
            lines.push(format!("<b>{}</b>: {}", escape(k), escape(v)));
        }
    }
    if let Some(note) = render::cut_note(doc) {
        lines.push(format!("<i>{}</i>", escape(&note)));
    }
    // A link to the event when the message is about one.
    let mut links = doc.sections.iter().filter_map(|s| s.link.as_ref());
    if let (Some(only), None) = (links.next(), links.next()) {
        lines.push(format!(
            "<a href=\"{}\">{}</a>",
            attr(only),
            escape(render::labels(doc.lang).view)
        ));
    }
    if let Some(m) = mentions(msg, doc.level) {
        lines.push(m);
    }
    // The footer; a keyword too is text here (Telegram has no keyword
    // rule), so it is escaped like the rest and cannot open a tag.
    let mut footer = escape(&doc.footer);
    if let Some(k) = &doc.keyword {
        footer.push_str(" · ");
        footer.push_str(&escape(k));
    }
    lines.push(format!("<i>{footer}</i>"));
    lines.join("\n")
}

fn measure_with(doc: &Doc, msg: &MessageView<'_>) -> usize {
    visible_len(&html(doc, msg))
}

/// `chat_id` as Telegram takes it: a number, or `@channelusername`.
fn chat_id(id: &str) -> Value {
    match id.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => json!(id),
    }
}

fn body(doc: &Doc, msg: &MessageView<'_>) -> Value {
    let text = html(doc, msg);
    json!({
        "chat_id": chat_id(&msg.contact.chat_id),
        "text": text,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": true},
        "disable_notification": doc.level == Level::Info,
    })
}

/// Telegram's answer: `ok`, `error_code`, `description`, `parameters`.
struct Answer {
    ok: bool,
    code: Option<i64>,
    description: String,
    retry_after: Option<u64>,
    migrate_to: Option<i64>,
}

fn answer(body: &[u8]) -> Option<Answer> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let ok = v.get("ok")?.as_bool()?;
    Some(Answer {
        ok,
        code: v.get("error_code").and_then(Value::as_i64),
        description: v
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        retry_after: v.pointer("/parameters/retry_after").and_then(Value::as_u64),
        migrate_to: v
            .pointer("/parameters/migrate_to_chat_id")
            .and_then(Value::as_i64),
    })
}

impl Notifier for TelegramNotifier {
    fn channel(&self) -> Channel {
        Channel::Telegram
    }

    fn limits(&self) -> Limits {
        Limits {
            // Characters of visible text, not bytes.
            max_bytes: TEXT_MAX,
            // Per chat about 1 a second, and 20 a minute into a group. (30
            // a second per bot is above both for one chat.)
            rate: vec![
                RateLimit {
                    count: 1,
                    per: Duration::from_secs(1),
                },
                RateLimit {
                    count: 20,
                    per: Duration::from_secs(60),
                },
            ],
        }
    }

    fn render(&self, msg: &MessageView<'_>, _now_ms: i64) -> Result<Rendered, RenderError> {
        let doc = render::fit(render::document(msg), BUDGET, |d| measure_with(d, msg));
        let body = body(&doc, msg);
        if body["text"].as_str().map_or(0, visible_len) > TEXT_MAX {
            return Err(RenderError(format!(
                "the message is longer than Telegram's {TEXT_MAX} characters even shortened"
            )));
        }
        Ok(Rendered {
            out: Outgoing::json(msg.contact.webhook.clone(), &body)?,
            omitted: doc.omitted,
        })
    }

    fn sizing<'m>(&self, msg: &'m MessageView<'_>, _level: Level) -> Option<Sizing<'m>> {
        Some(Sizing {
            budget: BUDGET,
            measure: Box::new(move |d| measure_with(d, msg)),
            // "• <line>" and the "\n" before it.
            line_cost: Box::new(|line, _link| visible_len(&escape(line)) + 3),
        })
    }

    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict {
        let a = answer(body);
        if (200..300).contains(&status) && a.as_ref().is_some_and(|a| a.ok) {
            return super::platform_verdict(
                Disposition::Delivered,
                status,
                None,
                "",
                format!("delivered (Telegram answered HTTP {status}, ok: true)"),
            );
        }
        let Some(a) = a.filter(|a| !a.ok) else {
            return super::status_only_verdict("Telegram", status, headers, body);
        };
        let code = a.code.unwrap_or(i64::from(status));
        let d = a.description.clone();
        let lower = d.to_lowercase();
        if code == 429 || status == 429 {
            let after = a
                .retry_after
                .map(|s| Duration::from_secs(s.min(86_400)))
                .or_else(|| super::retry_after(headers, crate::now_ms()));
            let wait = after
                .map(|d| format!(" for {} s", d.as_secs()))
                .unwrap_or_default();
            return super::platform_verdict(
                Disposition::RateLimited { retry_after: after },
                status,
                Some(code),
                &d,
                format!(
                    "Telegram is rate limiting this bot (429 Too Many Requests: about 1 message a second per chat and 20 a minute per group); this bot waits{wait}, then Tocsin retries"
                ),
            );
        }
        let (disposition, reason) = if let Some(to) = a.migrate_to {
            (
                Disposition::Permanent,
                format!(
                    "Telegram says the group became a supergroup ({code} {d}): set the contact's `chat_id` to {to}"
                ),
            )
        } else if lower.contains("chat not found") {
            (
                Disposition::Permanent,
                format!(
                    "Telegram does not know the chat ({code} {d}): the contact's `chat_id` is wrong, or the bot was never added to it; add the bot to the group (or as an admin of the channel) and check the id (groups are negative, channels may use @username)"
                ),
            )
        } else if lower.contains("message is too long") {
            (
                Disposition::Permanent,
                format!(
                    "Telegram refused the message as too long ({code} {d}): more than 4096 characters after entity parsing; shorten the contact's template"
                ),
            )
        } else if lower.contains("can't parse entities") {
            (
                Disposition::Permanent,
                format!(
                    "Telegram could not parse the message's HTML ({code} {d}): the contact's template uses a tag Telegram does not know or leaves one open (allowed: b, i, u, s, a href, code, pre, blockquote)"
                ),
            )
        } else if code == 401 {
            (
                Disposition::Permanent,
                format!(
                    "Telegram refused the bot token ({code} {d}): the contact's `bot_token` is wrong or was revoked; copy it from @BotFather (/token)"
                ),
            )
        } else if code == 404 {
            (
                Disposition::Permanent,
                format!(
                    "Telegram answered {code} {d}: the contact's `bot_token` or `api_base` is wrong (the URL is not a bot's sendMessage)"
                ),
            )
        } else if code == 403 {
            let what = if lower.contains("blocked") {
                "the user blocked the bot: they must unblock it (or /start it again)"
            } else if lower.contains("kicked") {
                "the bot was removed from the group: add it again"
            } else {
                "the bot may not post in this chat: add it to the chat, or give it the right to post (channels: as an admin)"
            };
            (
                Disposition::Permanent,
                format!("Telegram forbids the message ({code} {d}): {what}"),
            )
        } else if status >= 500 || code >= 500 {
            (
                Disposition::Retry {
                    retry_after: super::retry_after(headers, crate::now_ms()),
                },
                format!("Telegram answered HTTP {status} ({code} {d}); will retry"),
            )
        } else {
            (
                Disposition::Permanent,
                format!("Telegram refused the message: HTTP {status}, {code} {d}"),
            )
        };
        super::platform_verdict(disposition, status, Some(code), &d, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let h = reqwest::header::HeaderMap::new();
        let n = TelegramNotifier;
        let v = n.classify(
            200,
            &h,
            br#"{"ok":true,"result":{"message_id":1,"chat":{"id":-100}}}"#,
        );
        assert_eq!(v.disposition, Disposition::Delivered);
        // 200 without `ok: true` is no delivery.
        assert_ne!(
            n.classify(200, &h, b"ok").disposition,
            Disposition::Delivered
        );
        for (status, body, code, words) in [
            (
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
                "400",
                "`chat_id` is wrong",
            ),
            (
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}"#,
                "400",
                "4096",
            ),
            (
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: can't parse entities: Unsupported start tag \"div\" at byte offset 3"}"#,
                "400",
                "tag Telegram does not know",
            ),
            (
                401,
                r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#,
                "401",
                "@BotFather",
            ),
            (
                403,
                r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
                "403",
                "unblock",
            ),
            (
                403,
                r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked from the group chat"}"#,
                "403",
                "add it again",
            ),
            (
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234}}"#,
                "400",
                "-1001234",
            ),
        ] {
            let v = n.classify(status, &h, body.as_bytes());
            assert_eq!(v.disposition, Disposition::Permanent, "{body}");
            assert_eq!(v.platform_code.as_deref(), Some(code));
            assert!(v.reason.contains(words), "{}", v.reason);
            assert!(v.reason.starts_with("Telegram"), "{}", v.reason);
        }
        let v = n.classify(
            429,
            &h,
            br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#,
        );
        assert_eq!(
            v.disposition,
            Disposition::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(v.reason.contains("rate limit"), "{}", v.reason);
        assert!(matches!(
            n.classify(502, &h, b"<html>bad gateway</html>").disposition,
            Disposition::Retry { .. }
        ));
    }

    #[test]
    fn visible_length_counts_what_telegram_counts() {
        assert_eq!(visible_len("<b>a&amp;b</b>"), 3);
        assert_eq!(visible_len("<a href=\"x\">登录</a>"), 2);
        // UTF-16: an emoji outside the BMP is two.
        assert_eq!(visible_len("🔴 x"), 4);
    }

    #[test]
    fn balance_closes_tags_and_drops_cut_pieces() {
        assert_eq!(balance("<b>bold <i>it"), "<b>bold <i>it</i></b>");
        assert_eq!(balance("a &amp; b &am"), "a &amp; b ");
        assert_eq!(balance("x <a href=\"h"), "x ");
        assert_eq!(balance("<div>x</div>"), "&lt;div&gt;x&lt;/div&gt;");
        assert_eq!(balance("a & b"), "a &amp; b");
    }

    fn event(id: &str) -> std::sync::Arc<crate::event::Event> {
        std::sync::Arc::new(crate::event::Event {
            instance: Some("web-01 @admin <b>x</b>".into()),
            ..crate::event::Event::minimal(
                id.to_string(),
                "Sas",
                "Incident:BruteForce @everyone <a href=\"tg://user?id=9\">x</a>",
                Level::Critical,
            )
        })
    }

    #[test]
    fn mentions_only_from_the_config_and_one_link_per_event() {
        use crate::domain::MessageKind;
        let yaml = "contacts:\n  - { name: t, channel: telegram, bot_token: \"123:abc\", chat_id: -100123, timezone: UTC, mentions: { users: [\"42:Alice\", \"43\"] } }\n";
        let loaded = crate::config::load_str(yaml, "t", &|_| None);
        let c = loaded
            .config
            .unwrap_or_else(|| panic!("{:?}", loaded.diagnostics))
            .contacts[0]
            .clone();
        assert_eq!(c.webhook, "https://api.telegram.org/bot123:abc/sendMessage");
        let one = [event("a")];
        let two = [event("a"), event("b")];
        for (kind, events, link) in [
            (MessageKind::Single, &one[..], true),
            (MessageKind::Digest, &two[..], false),
        ] {
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
            let r = TelegramNotifier.render(&view, 0).unwrap();
            let b: Value = serde_json::from_slice(&r.out.body).unwrap();
            assert_eq!(b["chat_id"], json!(-100123));
            assert_eq!(b["parse_mode"], "HTML");
            assert_eq!(b["link_preview_options"], json!({"is_disabled": true}));
            let text = b["text"].as_str().unwrap();
            assert_eq!(
                text.contains("<a href=\"https://tocsin.example.com/api/v1/events/a\">"),
                link,
                "{text}"
            );
            // The only tg:// links are the config's.
            assert_eq!(text.matches("<a href=\"tg://user?id=").count(), 2, "{text}");
            assert!(
                text.contains("<a href=\"tg://user?id=42\">Alice</a>"),
                "{text}"
            );
            assert!(
                !text.contains("@admin") && !text.contains("@everyone"),
                "{text}"
            );
            assert!(!text.contains("<b>x</b>"), "{text}");
        }
    }
}
