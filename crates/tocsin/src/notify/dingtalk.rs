//! DingTalk custom robots: markdown with a title; mentions through the `at`
//! object (plus `@id` in the text). Signed in the query: `timestamp` (ms) and
//! `sign` = URL-encoded Base64(HMAC-SHA256(key = secret, "<ts>\n<secret>")).
//! Failures come back as HTTP 200 with a non-zero `errcode`.

use super::markup;
use super::pack::{self, Sizing};
use super::render::{self, Doc};
use super::{Disposition, Limits, MessageView, Notifier, Outgoing, RenderError, Rendered, Verdict};
use crate::config::{Channel, Level, RateLimit};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;

/// How long DingTalk blocks a robot that sent more than 20 messages in a
/// minute (errcode 130101, or the x5 throttle's status 1111).
pub const ROBOT_BLOCK: Duration = Duration::from_secs(600);

pub struct DingtalkNotifier;

const BUDGET: usize = 19_500;

/// The signature before URL-encoding.
pub fn sign(secret: &str, timestamp_ms: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The webhook URL with `timestamp` and the percent-encoded `sign` appended.
pub fn signed_url(webhook: &str, secret: &str, timestamp_ms: i64) -> String {
    let sig: String =
        url::form_urlencoded::byte_serialize(sign(secret, timestamp_ms).as_bytes()).collect();
    let sep = if webhook.contains('?') { '&' } else { '?' };
    format!("{webhook}{sep}timestamp={timestamp_ms}&sign={sig}")
}

/// Neutralizes markdown and `@` mentions in untrusted text; URLs defanged,
/// bidi controls removed. For values in the built-in layout.
pub fn escape(s: &str) -> String {
    markup::lookalikes(s, markup::DINGTALK, markup::Context::Layout)
}

/// [`escape`] for values a template prints next to anything: brackets too.
pub fn template_escape(s: &str) -> String {
    markup::lookalikes(s, markup::DINGTALK, markup::Context::Template)
}

fn markdown(doc: &Doc, msg: &MessageView<'_>) -> String {
    let mut out = format!("### {}\n\n", escape(&doc.title));
    let view = render::labels(doc.lang).view;
    // The contact's template: markdown, event values escaped for DingTalk.
    if let Some(body) = &doc.body {
        out.push_str(body);
        out.push('\n');
    }
    for s in &doc.sections {
        if let Some(line) = &s.line {
            out.push_str(&format!("- {}\n", escape(line)));
        }
        for (k, v) in &s.fields {
            out.push_str(&format!("- **{}**: {}\n", escape(k), escape(v)));
        }
        for (k, v) in &s.details {
            out.push_str(&format!("> {}: {}\n\n", escape(k), escape(v)));
        }
        if let Some(link) = &s.link {
            out.push_str(&format!("\n[{view}]({link})\n"));
        }
    }
    if let Some(note) = render::cut_note(doc) {
        out.push_str(&format!("\n{}\n", escape(&note)));
    }
    if let Some(m) = msg.contact.mentions.for_level(doc.level) {
        let ats: Vec<String> = m
            .mobiles
            .iter()
            .chain(m.users.iter())
            .map(|x| format!("@{x}"))
            .collect();
        if !ats.is_empty() {
            out.push_str(&format!("\n{}\n", ats.join(" ")));
        }
    }
    out.push_str(&format!("\n---\n{}", render::footer(doc, escape)));
    out
}

fn body(doc: &Doc, msg: &MessageView<'_>) -> serde_json::Value {
    let m = msg
        .contact
        .mentions
        .for_level(doc.level)
        .cloned()
        .unwrap_or_default();
    json!({
        "msgtype": "markdown",
        "markdown": {"title": markup::neutral(&render::cut(&doc.title, 120)), "text": markdown(doc, msg)},
        "at": {"atMobiles": m.mobiles, "atUserIds": m.users, "isAtAll": m.all},
    })
}

/// The JSON body's size, as DingTalk counts it.
fn measure(doc: &Doc, msg: &MessageView<'_>) -> usize {
    body(doc, msg).to_string().len()
}

impl Notifier for DingtalkNotifier {
    fn channel(&self) -> Channel {
        Channel::Dingtalk
    }

    fn limits(&self) -> Limits {
        Limits {
            max_bytes: 20_000,
            rate: vec![RateLimit {
                count: 20,
                per: Duration::from_secs(60),
            }],
        }
    }

    fn render(&self, msg: &MessageView<'_>, now_ms: i64) -> Result<Rendered, RenderError> {
        let doc = render::fit(render::document(msg), BUDGET, |d| measure(d, msg));
        let body = body(&doc, msg);
        // What DingTalk searches for a keyword: the message object's strings.
        render::check_keywords(&msg.contact.keywords, &render::texts(&body["markdown"]))?;
        let url = if msg.contact.secret.is_empty() {
            msg.contact.webhook.clone()
        } else {
            signed_url(&msg.contact.webhook, &msg.contact.secret, now_ms)
        };
        Ok(Rendered {
            out: Outgoing::json(url, &body)?,
            omitted: doc.omitted,
        })
    }

    fn sizing<'m>(&self, msg: &'m MessageView<'_>, _level: Level) -> Option<Sizing<'m>> {
        let view = render::labels(msg.contact.lang).view;
        Some(Sizing {
            budget: BUDGET,
            measure: Box::new(move |d| measure(d, msg)),
            // "- <line>\n", then "\n[<view>](<link>)\n", inside the JSON text.
            line_cost: Box::new(move |line, link| {
                pack::json_len(&escape(line))
                    + 4
                    + link.map_or(0, |l| pack::json_len(view) + pack::json_len(l) + 8)
            }),
        })
    }

    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict {
        let Some((code, msg)) = super::json_code(body, &["errcode"], &["errmsg"]) else {
            // The x5 anti-abuse throttle answers without errcode. Its
            // `wait` (5 s) is not what happens: the robot is blocked for
            // about 10 minutes, like errcode 130101 (channels.md), and a
            // retry into the block only extends it.
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
                && v.get("status").and_then(serde_json::Value::as_i64) == Some(1111)
            {
                let quoted: String = String::from_utf8_lossy(body).chars().take(200).collect();
                return super::platform_verdict(
                    Disposition::RateLimited {
                        retry_after: Some(ROBOT_BLOCK),
                    },
                    status,
                    Some(1111),
                    &quoted,
                    "DingTalk's anti-abuse throttle blocked this robot (status 1111, no errcode; it blocks for about 10 minutes whatever its `wait` says); this bot rests 10 minutes, its backlog then goes out folded into digests".into(),
                );
            }
            return super::status_only_verdict("DingTalk", status, headers, body);
        };
        let (disposition, reason) = match code {
            0 => (Disposition::Delivered, "delivered (DingTalk errcode 0)".to_string()),
            130101 | 410100 => (
                Disposition::RateLimited { retry_after: Some(ROBOT_BLOCK) },
                format!("DingTalk is rate limiting this robot (errcode {code}; over 20 a minute blocks it for 10 minutes); this bot waits, then Tocsin retries"),
            ),
            -1 => (Disposition::Retry { retry_after: None }, "DingTalk is busy (errcode -1); will retry".into()),
            310000 if msg.contains("keyword") => (
                Disposition::Permanent,
                "DingTalk refused the message: none of the robot's keywords appears in it (errcode 310000); set the contact's `keywords` to the robot's keywords".into(),
            ),
            310000 if msg.contains("sign") => (
                Disposition::Permanent,
                "DingTalk's signature check failed (errcode 310000 sign not match): the contact's secret is not the robot's signing secret".into(),
            ),
            310000 if msg.contains("timestamp") => (
                Disposition::Permanent,
                "DingTalk refused the timestamp (errcode 310000 invalid timestamp): this machine's clock is off by more than an hour".into(),
            ),
            310000 if msg.contains("whitelist") || msg.contains("ip") => (
                Disposition::Permanent,
                "DingTalk refused Tocsin's IP address (errcode 310000): add this machine's egress IP to the robot's allowlist".into(),
            ),
            310000 => (Disposition::Permanent, format!("DingTalk's security settings refused the message (errcode 310000 {msg})")),
            300001 | 300005 | 400101 | 400106 => (
                Disposition::Permanent,
                format!("DingTalk does not know this robot's access token (errcode {code}): the robot was removed or the URL is wrong; copy the webhook URL again"),
            ),
            400013 => (Disposition::Permanent, "DingTalk says the group was disbanded (errcode 400013): point the contact at another robot".into()),
            400102 => (Disposition::Permanent, "DingTalk says the robot is disabled (errcode 400102): enable it in the group's settings".into()),
            40035 => (Disposition::Permanent, "the webhook URL has no access_token (errcode 40035)".into()),
            400105 => (Disposition::Permanent, "DingTalk does not support this message type (errcode 400105)".into()),
            460101 => (Disposition::Permanent, "DingTalk refused the message as too long (errcode 460101)".into()),
            430101..=430104 => (Disposition::Permanent, format!("DingTalk's content moderation refused the message (errcode {code} {msg})")),
            _ => (Disposition::Retry { retry_after: None }, format!("DingTalk answered an unknown errcode {code} ({msg}); will retry")),
        };
        super::platform_verdict(disposition, status, Some(code), &msg, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_vector() {
        assert_eq!(
            sign("SEC000test", 1_700_000_000_000),
            "1hLl2KkRX3rps9FaitIUwaac+CtAFEaP345jvdrTL7c="
        );
        assert_eq!(
            signed_url(
                "http://h/robot/send?access_token=t",
                "SEC000test",
                1_700_000_000_000
            ),
            "http://h/robot/send?access_token=t&timestamp=1700000000000&sign=1hLl2KkRX3rps9FaitIUwaac%2BCtAFEaP345jvdrTL7c%3D"
        );
    }

    #[test]
    fn classification() {
        let h = reqwest::header::HeaderMap::new();
        let n = DingtalkNotifier;
        assert_eq!(
            n.classify(200, &h, br#"{"errcode":0,"errmsg":"ok"}"#)
                .disposition,
            Disposition::Delivered
        );
        for body in [
            r#"{"errcode":310000,"errmsg":"keywords not in content"}"#,
            r#"{"errcode":310000,"errmsg":"sign not match"}"#,
            r#"{"errcode":300005,"errmsg":"token is not exist"}"#,
            r#"{"errcode":400013,"errmsg":"x"}"#,
        ] {
            assert_eq!(
                n.classify(200, &h, body.as_bytes()).disposition,
                Disposition::Permanent,
                "{body}"
            );
        }
        let v = n.classify(
            200,
            &h,
            br#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#,
        );
        assert!(matches!(v.disposition, Disposition::RateLimited { .. }));
        let v = n.classify(
            200,
            &h,
            br#"{"status":1111,"wait":5,"source":"x5","punish":"deny","uuid":"u"}"#,
        );
        assert_eq!(
            v.disposition,
            Disposition::RateLimited {
                retry_after: Some(ROBOT_BLOCK)
            }
        );
    }
}
