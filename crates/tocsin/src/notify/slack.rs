//! Slack incoming webhooks: blocks with a text fallback. Errors use real HTTP
//! statuses with a plain-text code; success is `200 ok`. Untrusted text is
//! escaped as Slack documents (`&`, `<`, `>`), so no event can write
//! `<@U…>`, `<!channel>` or a link, its emphasis, code, `@` and a leading
//! quote are swapped for look-alikes ([`markup::slack`]), and every `mrkdwn`
//! object is `verbatim` (no auto-linking or mention parsing).

use super::markup;
use super::pack::{self, Sizing};
use super::render::{self, Doc};
use super::{Disposition, Limits, MessageView, Notifier, Outgoing, RenderError, Rendered, Verdict};
use crate::config::{Channel, Level, RateLimit};
use serde_json::{Value, json};
use std::time::Duration;

pub struct SlackNotifier;

/// Stays well under the undocumented total-blocks limit (~13k characters).
const BUDGET: usize = 11_000;
const SECTION_MAX: usize = 2_900;

/// Event text in `mrkdwn`: see [`markup::slack`].
pub fn escape(s: &str) -> String {
    markup::slack(s)
}

/// A `mrkdwn` text object. `verbatim: true`: Slack does not auto-link URLs
/// or parse `@channel`-style mentions in it.
fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text, "verbatim": true})
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": mrkdwn(render::cut(&text, SECTION_MAX))})
}

fn body(doc: &Doc, msg: &MessageView<'_>) -> Value {
    let emoji = match doc.level {
        _ if doc.resolved => ":large_green_circle:",
        crate::config::Level::Critical => ":red_circle:",
        crate::config::Level::Warn => ":large_orange_circle:",
        crate::config::Level::Info => ":large_blue_circle:",
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": markup::neutral(&render::cut(&doc.title, 150))}}),
    ];
    let mut lines: Vec<String> = Vec::new();
    let view = render::labels(doc.lang).view;
    // The contact's template: one mrkdwn section (kept under SECTION_MAX by
    // `fit`), event values escaped for Slack.
    if let Some(text) = &doc.body {
        blocks.push(section(text.clone()));
    }
    for s in &doc.sections {
        if let Some(line) = &s.line {
            lines.push(format!("• {}", escape(line)));
        }
        if !s.fields.is_empty() {
            let fields: Vec<Value> = s
                .fields
                .iter()
                .take(10)
                .map(|(k, v)| {
                    mrkdwn(render::cut(
                        &format!("*{}*\n{}", escape(k), escape(v)),
                        1900,
                    ))
                })
                .collect();
            blocks.push(json!({"type": "section", "fields": fields}));
        }
        if !s.details.is_empty() {
            let text: Vec<String> = s
                .details
                .iter()
                .map(|(k, v)| format!("*{}*: {}", escape(k), escape(v)))
                .collect();
            blocks.push(section(text.join("\n")));
        }
        if let Some(link) = &s.link
            && s.line.is_none()
        {
            blocks.push(json!({"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": view}, "url": link}
            ]}));
        }
    }
    // Digest lines, several per section block.
    let mut chunk = String::new();
    for l in lines {
        if chunk.len() + l.len() + 1 > SECTION_MAX && !chunk.is_empty() {
            blocks.push(section(std::mem::take(&mut chunk)));
        }
        chunk.push_str(&l);
        chunk.push('\n');
    }
    if !chunk.is_empty() {
        blocks.push(section(chunk));
    }
    if let Some(note) = render::cut_note(doc) {
        blocks.push(section(escape(&note)));
    }
    if let Some(m) = msg.contact.mentions.for_level(doc.level) {
        let mut ats: Vec<String> = m.users.iter().map(|u| format!("<@{u}>")).collect();
        if m.all {
            ats.push("<!channel>".into());
        }
        if !ats.is_empty() {
            blocks.push(section(ats.join(" ")));
        }
    }
    blocks.push(json!({"type": "context", "elements": [mrkdwn(format!("{emoji} {}", render::footer(doc, escape)))]}));
    blocks.truncate(50);
    json!({"text": escape(&doc.title), "blocks": blocks})
}

/// The JSON body's size; over 50 blocks, or a template's output over one
/// section, counts as too big.
fn measure(doc: &Doc, msg: &MessageView<'_>) -> usize {
    let b = body(doc, msg);
    let blocks = b["blocks"].as_array().map_or(0, Vec::len);
    if blocks >= 50 || doc.body.as_ref().is_some_and(|t| t.len() > SECTION_MAX) {
        usize::MAX
    } else {
        b.to_string().len()
    }
}

impl Notifier for SlackNotifier {
    fn channel(&self) -> Channel {
        Channel::Slack
    }

    fn limits(&self) -> Limits {
        Limits {
            max_bytes: BUDGET,
            rate: vec![RateLimit {
                count: 1,
                per: Duration::from_secs(1),
            }],
        }
    }

    fn render(&self, msg: &MessageView<'_>, _now_ms: i64) -> Result<Rendered, RenderError> {
        let doc = render::fit(render::document(msg), BUDGET, |d| measure(d, msg));
        Ok(Rendered {
            out: Outgoing::json(msg.contact.webhook.clone(), &body(&doc, msg))?,
            omitted: doc.omitted,
        })
    }

    fn sizing<'m>(&self, msg: &'m MessageView<'_>, _level: Level) -> Option<Sizing<'m>> {
        Some(Sizing {
            budget: BUDGET,
            measure: Box::new(move |d| measure(d, msg)),
            // "• <line>\n" inside a section's JSON text (a new section block
            // every SECTION_MAX bytes is left to the exact measurement).
            line_cost: Box::new(|line, _link| pack::json_len(&escape(line)) + 5),
        })
    }

    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict {
        let text = String::from_utf8_lossy(body).trim().to_string();
        let code =
            (!text.is_empty() && text.len() < 64 && !text.contains(' ')).then(|| text.clone());
        let (disposition, reason) = match (status, text.as_str()) {
            (200..=299, _) => (Disposition::Delivered, "delivered (Slack answered ok)".to_string()),
            (429, _) => (
                Disposition::RateLimited { retry_after: super::retry_after(headers, crate::now_ms()) },
                "Slack is rate limiting this webhook (HTTP 429, about 1 message a second); this bot waits, then Tocsin retries".into(),
            ),
            (_, "no_service" | "no_team" | "no_active_hooks" | "no_service_id" | "team_disabled") => (
                Disposition::Permanent,
                format!("Slack says this webhook is gone ({text}): it was removed or revoked; create a new incoming webhook"),
            ),
            (_, "invalid_token") => (Disposition::Permanent, "Slack refused the webhook's token (invalid_token): create a new incoming webhook".into()),
            (_, "channel_not_found" | "channel_is_archived") => {
                (Disposition::Permanent, format!("Slack cannot post to the webhook's channel ({text})"))
            }
            (_, "action_prohibited" | "posting_to_general_channel_denied") => {
                (Disposition::Permanent, format!("a Slack admin restriction refused the message ({text})"))
            }
            (500..=599, _) => (Disposition::Retry { retry_after: super::retry_after(headers, crate::now_ms()) }, format!("Slack answered HTTP {status} ({text}); will retry")),
            _ => (Disposition::Permanent, format!("Slack refused the message: HTTP {status} {text}")),
        };
        Verdict {
            disposition,
            http_status: Some(status),
            platform_code: if (200..300).contains(&status) {
                None
            } else {
                code
            },
            platform_message: if (200..300).contains(&status) {
                None
            } else {
                super::body_excerpt(body)
            },
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let h = reqwest::header::HeaderMap::new();
        let n = SlackNotifier;
        assert_eq!(
            n.classify(200, &h, b"ok").disposition,
            Disposition::Delivered
        );
        assert_eq!(
            n.classify(404, &h, b"no_service").disposition,
            Disposition::Permanent
        );
        assert_eq!(
            n.classify(400, &h, b"invalid_payload").disposition,
            Disposition::Permanent
        );
        let mut h429 = reqwest::header::HeaderMap::new();
        h429.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("3"),
        );
        assert_eq!(
            n.classify(429, &h429, b"rate_limited").disposition,
            Disposition::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert!(matches!(
            n.classify(500, &h, b"rollup_error").disposition,
            Disposition::Retry { .. }
        ));
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<!channel> <@U1> a&b"),
            "&lt;!channel&gt; &lt;＠U1&gt; a&amp;b"
        );
    }
}
