//! WeCom group bots: markdown (≤ 4096 bytes of content), or plain text when
//! the contact mentions mobiles or everyone (only text messages can). No
//! signing: the `key` in the URL is the credential. Failures come back as
//! HTTP 200 with a non-zero `errcode`.

use super::markup::{self, neutral};
use super::pack::Sizing;
use super::render::{self, Doc};
use super::{Disposition, Limits, MessageView, Notifier, Outgoing, RenderError, Rendered, Verdict};
use crate::config::{Channel, Level, RateLimit};
use serde_json::json;
use std::time::Duration;

pub struct WecomNotifier;

const MARKDOWN_MAX: usize = 4096;
const TEXT_MAX: usize = 2048;

/// Neutralizes WeCom markdown in untrusted text: `<@id>` mentions, `<font>`,
/// links, emphasis and line-start markup, by swapping in look-alike
/// characters (WeCom has no escape sequence); URLs defanged, bidi controls
/// removed. For values in the built-in layout.
pub fn escape(s: &str) -> String {
    markup::lookalikes(s, markup::WECOM, markup::Context::Layout)
}

/// [`escape`] for values a template prints next to anything: brackets too.
pub fn template_escape(s: &str) -> String {
    markup::lookalikes(s, markup::WECOM, markup::Context::Template)
}

fn colour(level: Level) -> &'static str {
    match level {
        Level::Critical => "warning",
        Level::Warn => "comment",
        Level::Info => "info",
    }
}

fn markdown(doc: &Doc, msg: &MessageView<'_>) -> String {
    let mut out = format!(
        "## <font color=\"{}\">{}</font>\n",
        if doc.resolved {
            "info"
        } else {
            colour(doc.level)
        },
        escape(&doc.title)
    );
    let view = render::labels(doc.lang).view;
    // The contact's template: markdown, event values escaped for WeCom.
    if let Some(body) = &doc.body {
        out.push_str(body);
        out.push('\n');
    }
    for s in &doc.sections {
        if let Some(line) = &s.line {
            out.push_str(&format!("> {}\n", escape(line)));
        }
        for (k, v) in &s.fields {
            out.push_str(&format!("**{}**: {}\n", escape(k), escape(v)));
        }
        for (k, v) in &s.details {
            out.push_str(&format!("> {}: {}\n", escape(k), escape(v)));
        }
        if let Some(link) = &s.link {
            out.push_str(&format!("[{view}]({link})\n"));
        }
    }
    if let Some(note) = render::cut_note(doc) {
        out.push_str(&format!("{}\n", escape(&note)));
    }
    if let Some(m) = msg.contact.mentions.for_level(doc.level) {
        let ats: Vec<String> = m.users.iter().map(|u| format!("<@{u}>")).collect();
        if !ats.is_empty() {
            out.push_str(&format!("{}\n", ats.join(" ")));
        }
    }
    out.push_str(&format!(
        "<font color=\"comment\">{}</font>",
        render::footer(doc, escape)
    ));
    out
}

fn text(doc: &Doc) -> String {
    // Text messages have no markup, but link URLs and mention `<@id>`.
    let mut out = format!("{}\n", neutral(&doc.title));
    if let Some(body) = &doc.body {
        out.push_str(body);
        out.push('\n');
    }
    for s in &doc.sections {
        if let Some(line) = &s.line {
            out.push_str(&format!("{}\n", neutral(line)));
        }
        for (k, v) in s.fields.iter().chain(s.details.iter()) {
            out.push_str(&format!("{}: {}\n", neutral(k), neutral(v)));
        }
        if let Some(link) = &s.link {
            out.push_str(&format!("{link}\n"));
        }
    }
    if let Some(note) = render::cut_note(doc) {
        out.push_str(&format!("{note}\n"));
    }
    out.push_str(&render::footer(doc, neutral));
    // `<@id>` also mentions in text messages.
    out.replace('<', "＜")
}

/// Only text messages can mention mobiles or everyone.
fn as_text(msg: &MessageView<'_>, level: Level) -> bool {
    msg.contact
        .mentions
        .for_level(level)
        .is_some_and(|m| m.all || !m.mobiles.is_empty())
}

impl Notifier for WecomNotifier {
    fn channel(&self) -> Channel {
        Channel::Wecom
    }

    fn limits(&self) -> Limits {
        Limits {
            max_bytes: MARKDOWN_MAX,
            rate: vec![RateLimit {
                count: 20,
                per: Duration::from_secs(60),
            }],
        }
    }

    fn render(&self, msg: &MessageView<'_>, _now_ms: i64) -> Result<Rendered, RenderError> {
        let doc0 = render::document(msg);
        let mentions = msg.contact.mentions.for_level(doc0.level);
        let (body, omitted) = if as_text(msg, doc0.level) {
            let m = mentions.cloned().unwrap_or_default();
            let doc = render::fit(doc0, TEXT_MAX, |d| text(d).len());
            let mut users = m.users.clone();
            let mut mobiles = m.mobiles.clone();
            if m.all {
                users.push("@all".into());
                if !mobiles.is_empty() {
                    mobiles.push("@all".into());
                }
            }
            (
                json!({"msgtype": "text", "text": {"content": text(&doc), "mentioned_list": users, "mentioned_mobile_list": mobiles}}),
                doc.omitted,
            )
        } else {
            let doc = render::fit(doc0, MARKDOWN_MAX, |d| markdown(d, msg).len());
            (
                json!({"msgtype": "markdown", "markdown": {"content": markdown(&doc, msg)}}),
                doc.omitted,
            )
        };
        Ok(Rendered {
            out: Outgoing::json(msg.contact.webhook.clone(), &body)?,
            omitted,
        })
    }

    fn sizing<'m>(&self, msg: &'m MessageView<'_>, level: Level) -> Option<Sizing<'m>> {
        // WeCom counts the content's bytes, not the JSON's.
        if as_text(msg, level) {
            return Some(Sizing {
                budget: TEXT_MAX,
                measure: Box::new(|d| text(d).len()),
                // "<line>\n" and "<link>\n", every '<' as '＜' (3 bytes).
                line_cost: Box::new(|line, link| {
                    let angle = |s: &str| s.len() + 2 * s.matches('<').count();
                    angle(line) + 1 + link.map_or(0, |l| angle(l) + 1)
                }),
            });
        }
        let view = render::labels(msg.contact.lang).view;
        Some(Sizing {
            budget: MARKDOWN_MAX,
            measure: Box::new(move |d| markdown(d, msg).len()),
            // "> <line>\n", then "[<view>](<link>)\n".
            line_cost: Box::new(move |line, link| {
                escape(line).len() + 3 + link.map_or(0, |l| view.len() + l.len() + 5)
            }),
        })
    }

    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict {
        let Some((code, msg)) = super::json_code(body, &["errcode"], &["errmsg"]) else {
            return super::status_only_verdict("WeCom", status, headers, body);
        };
        // The errmsg carries a hint and the caller's IP; keep its first part.
        let short = msg.split(", hint:").next().unwrap_or("").trim().to_string();
        let (disposition, reason) = match code {
            0 => (Disposition::Delivered, "delivered (WeCom errcode 0)".to_string()),
            45009 => (
                Disposition::RateLimited { retry_after: Some(Duration::from_secs(60)) },
                "WeCom is rate limiting this bot (errcode 45009, about 20 messages a minute); this bot waits a minute, then Tocsin retries".into(),
            ),
            45033 | -1 => (Disposition::Retry { retry_after: None }, format!("WeCom is busy (errcode {code}); will retry")),
            93000 => (
                Disposition::Permanent,
                "WeCom does not know this webhook key (errcode 93000): the bot was removed from its group or the key is wrong; copy the webhook URL from the bot again".into(),
            ),
            40008 => (Disposition::Permanent, "WeCom refused the message type (errcode 40008)".into()),
            44004 => (Disposition::Permanent, "WeCom refused an empty message (errcode 44004)".into()),
            40058 => (Disposition::Permanent, format!("WeCom refused the message as too long (errcode 40058: {short})")),
            _ => (Disposition::Retry { retry_after: None }, format!("WeCom answered an unknown errcode {code} ({short}); will retry")),
        };
        super::platform_verdict(disposition, status, Some(code), &short, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_blocks_mentions_and_links() {
        let hostile = "<@all> [click](http://evil) **x** # h\n> quote `code`";
        let e = escape(hostile);
        assert!(
            !e.contains('<') && !e.contains("](") && !e.contains('*') && !e.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn classification() {
        let h = reqwest::header::HeaderMap::new();
        let n = WecomNotifier;
        assert_eq!(
            n.classify(200, &h, br#"{"errcode":0,"errmsg":"ok"}"#)
                .disposition,
            Disposition::Delivered
        );
        let v = n.classify(200, &h, br#"{"errcode":93000,"errmsg":"invalid webhook url, hint: [1], from ip: 1.2.3.4, more info at https://x"}"#);
        assert_eq!(v.disposition, Disposition::Permanent);
        assert_eq!(v.platform_message.as_deref(), Some("invalid webhook url"));
        let v = n.classify(
            200,
            &h,
            br#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
        );
        assert!(matches!(v.disposition, Disposition::RateLimited { .. }));
        assert_eq!(
            n.classify(200, &h, br#"{"errcode":40058,"errmsg":"x"}"#)
                .disposition,
            Disposition::Permanent
        );
        assert!(matches!(
            n.classify(200, &h, br#"{"errcode":-1,"errmsg":"busy"}"#)
                .disposition,
            Disposition::Retry { .. }
        ));
    }
}
