//! Lark / Feishu custom bots: an interactive card whose header is coloured by
//! level; every value from an event goes in `plain_text` elements, so no
//! event can add a mention, with its URLs defanged and bidi controls removed
//! ([`neutral`]), so it cannot add a link either. Signed in the body: `timestamp`
//! (seconds) and `sign` = Base64(HMAC-SHA256(key = "<ts>\n<secret>", "")).
//! Failures come back as HTTP 200 with a non-zero `code`.

use super::markup::neutral;
use super::pack::{self, Sizing};
use super::render::{self, Doc};
use super::{Disposition, Limits, MessageView, Notifier, Outgoing, RenderError, Rendered, Verdict};
use crate::config::{Channel, Level, RateLimit};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;

pub struct LarkNotifier;

/// Serialized body budget: the documented 20 KB, less room for the signature.
const BUDGET: usize = 19_500;

pub fn sign(secret: &str, timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    let mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn template(level: Level) -> &'static str {
    match level {
        Level::Critical => "red",
        Level::Warn => "orange",
        Level::Info => "blue",
    }
}

/// A `plain_text` block: no markup, but Lark links URLs in it, so each
/// event value in it went through [`neutral`].
fn plain(text: &str) -> Value {
    json!({"tag": "div", "text": {"tag": "plain_text", "content": text}})
}

fn card(doc: &Doc, msg: &MessageView<'_>) -> Value {
    let view = render::labels(doc.lang).view;
    let mut elements: Vec<Value> = Vec::new();
    let mut digest_lines: Vec<String> = Vec::new();
    // The contact's template: markdown, event values escaped for lark_md.
    if let Some(body) = &doc.body {
        elements.push(json!({"tag": "div", "text": {"tag": "lark_md", "content": body}}));
    }
    for s in &doc.sections {
        if let Some(line) = &s.line {
            digest_lines.push(neutral(line));
            continue;
        }
        let fields: Vec<Value> = s
            .fields
            .iter()
            .map(|(k, v)| json!({"is_short": true, "text": {"tag": "plain_text", "content": format!("{}: {}", neutral(k), neutral(v))}}))
            .collect();
        elements.push(json!({"tag": "div", "fields": fields}));
        if !s.details.is_empty() {
            let text: Vec<String> = s
                .details
                .iter()
                .map(|(k, v)| format!("{}: {}", neutral(k), neutral(v)))
                .collect();
            elements.push(plain(&text.join("\n")));
        }
        if let Some(link) = &s.link {
            elements.push(json!({"tag": "action", "actions": [
                {"tag": "button", "text": {"tag": "plain_text", "content": view}, "url": link, "type": "default"}
            ]}));
        }
    }
    if !digest_lines.is_empty() {
        elements.push(plain(&digest_lines.join("\n")));
    }
    if let Some(note) = render::cut_note(doc) {
        elements.push(plain(&neutral(&note)));
    }
    // Mentions come only from the contact's config; ids were validated at load.
    if let Some(m) = msg.contact.mentions.for_level(doc.level) {
        let mut ats: Vec<String> = m
            .users
            .iter()
            .map(|u| format!("<at id={u}></at>"))
            .collect();
        if m.all {
            ats.push("<at id=all></at>".into());
        }
        if !ats.is_empty() {
            elements
                .push(json!({"tag": "div", "text": {"tag": "lark_md", "content": ats.join(" ")}}));
        }
    }
    elements.push(json!({"tag": "hr"}));
    elements
        .push(json!({"tag": "note", "elements": [{"tag": "plain_text", "content": render::footer(doc, neutral)}]}));
    json!({
        "config": {"wide_screen_mode": true},
        "header": {"title": {"tag": "plain_text", "content": neutral(&doc.title)}, "template": if doc.resolved { "green" } else { template(doc.level) }},
        "elements": elements,
    })
}

/// The body's size without the signature, as Lark counts it.
fn measure(doc: &Doc, msg: &MessageView<'_>) -> usize {
    json!({"msg_type": "interactive", "card": card(doc, msg)})
        .to_string()
        .len()
}

impl Notifier for LarkNotifier {
    fn channel(&self) -> Channel {
        Channel::Lark
    }

    fn limits(&self) -> Limits {
        Limits {
            max_bytes: 20_000,
            rate: vec![
                RateLimit {
                    count: 100,
                    per: Duration::from_secs(60),
                },
                RateLimit {
                    count: 5,
                    per: Duration::from_secs(1),
                },
            ],
        }
    }

    fn render(&self, msg: &MessageView<'_>, now_ms: i64) -> Result<Rendered, RenderError> {
        let doc = render::fit(render::document(msg), BUDGET, |d| measure(d, msg));
        let mut body = json!({"msg_type": "interactive", "card": card(&doc, msg)});
        // What Lark searches for a keyword: the card's text, not its links.
        render::check_keywords(&msg.contact.keywords, &render::texts(&body["card"]))?;
        if !msg.contact.secret.is_empty() {
            let ts = now_ms.div_euclid(1000);
            body["timestamp"] = json!(ts.to_string());
            body["sign"] = json!(sign(&msg.contact.secret, ts));
        }
        Ok(Rendered {
            out: Outgoing::json(msg.contact.webhook.clone(), &body)?,
            omitted: doc.omitted,
        })
    }

    fn sizing<'m>(&self, msg: &'m MessageView<'_>, _level: Level) -> Option<Sizing<'m>> {
        Some(Sizing {
            budget: BUDGET,
            measure: Box::new(move |d| measure(d, msg)),
            // Digest lines share one plain_text element, joined by "\n"
            // (two bytes escaped); their links are not shown.
            line_cost: Box::new(|line, _link| pack::json_len(line) + 2),
        })
    }

    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict {
        let Some((code, msg)) =
            super::json_code(body, &["code", "StatusCode"], &["msg", "StatusMessage"])
        else {
            return super::status_only_verdict("Lark", status, headers, body);
        };
        let (disposition, reason) = match code {
            0 => (Disposition::Delivered, "delivered (Lark code 0)".to_string()),
            11232 | 11247 => (
                Disposition::RateLimited { retry_after: Some(Duration::from_secs(10)) },
                format!("Lark is rate limiting this bot (code {code}); this bot waits, then Tocsin retries"),
            ),
            9499 => (Disposition::Permanent, format!("Lark refused the message as malformed or too large (code 9499 {msg})")),
            19001 => (
                Disposition::Permanent,
                "Lark does not know this webhook (code 19001): the bot was removed or the URL is wrong; copy the webhook URL from the bot's settings again".into(),
            ),
            19002 => (Disposition::Permanent, format!("Lark refused the message's parameters (code 19002 {msg})")),
            19021 => (
                Disposition::Permanent,
                "Lark's signature check failed (code 19021): the contact's secret is not the bot's signing secret, or this machine's clock is off by more than an hour".into(),
            ),
            19022 => (
                Disposition::Permanent,
                "Lark refused Tocsin's IP address (code 19022): add this machine's egress IP to the bot's IP allowlist".into(),
            ),
            19024 => (
                Disposition::Permanent,
                "Lark refused the message: none of the bot's keywords appears in it (code 19024); set the contact's `keywords` to the bot's keywords".into(),
            ),
            _ if status >= 500 => (Disposition::Retry { retry_after: None }, format!("Lark answered HTTP {status} (code {code}); will retry")),
            _ => (Disposition::Retry { retry_after: None }, format!("Lark answered an unknown code {code} ({msg}); will retry")),
        };
        super::platform_verdict(disposition, status, Some(code), &msg, reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_vectors() {
        assert_eq!(
            sign("SEC000test", 1_700_000_000),
            "VJoDIs2fdNFeN6NS/KG4L8NIxm+bN/FYQRhY2lP3Mf8="
        );
        assert_eq!(
            sign("demo", 1_599_360_473),
            "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
        );
        assert_eq!(
            sign("xxx", 1_661_860_880),
            "QnWVTSBe6FmQDE0bG6X0mURbI+DnvVyu1h+j5dHOjrU="
        );
    }

    #[test]
    fn classification() {
        let h = reqwest::header::HeaderMap::new();
        let n = LarkNotifier;
        let ok =
            br#"{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}"#;
        assert_eq!(n.classify(200, &h, ok).disposition, Disposition::Delivered);
        let old = br#"{"Extra":null,"StatusCode":0,"StatusMessage":"success"}"#;
        assert_eq!(n.classify(200, &h, old).disposition, Disposition::Delivered);
        let v = n.classify(
            200,
            &h,
            br#"{"code":19024,"msg":"Key Words Not Found","data":{}}"#,
        );
        assert_eq!(v.disposition, Disposition::Permanent);
        assert_eq!(v.platform_code.as_deref(), Some("19024"));
        assert!(v.reason.contains("keywords"), "{}", v.reason);
        for code in [19001, 19021, 19022, 9499, 19002] {
            let body = format!(r#"{{"code":{code},"msg":"x"}}"#);
            assert_eq!(
                n.classify(200, &h, body.as_bytes()).disposition,
                Disposition::Permanent,
                "{code}"
            );
        }
        let v = n.classify(200, &h, br#"{"code":11232,"msg":"frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]"}"#);
        assert!(matches!(v.disposition, Disposition::RateLimited { .. }));
        assert!(matches!(
            n.classify(502, &h, b"bad gateway").disposition,
            Disposition::Retry { .. }
        ));
        assert_eq!(
            n.classify(400, &h, br#"{"code":9499,"msg":"Bad Request"}"#)
                .disposition,
            Disposition::Permanent
        );
    }
}
