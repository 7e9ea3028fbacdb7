//! The generic webhook: Tocsin's own JSON message, signed with HMAC-SHA256
//! when the contact has a `secret`. Success is any 2xx.
//!
//! Body: `{"version": 1, "message_id", "kind", "contact", "subscriptions",
//! "events": [...native form...]}`. Headers: `X-Tocsin-Message-Id` (stable
//! across retries), and with a secret `X-Tocsin-Timestamp` (Unix seconds) and
//! `X-Tocsin-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.

use super::{Disposition, Limits, MessageView, Notifier, Outgoing, RenderError, Rendered, Verdict};
use crate::config::Channel;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub struct WebhookNotifier;

/// The message body, serialized straight from the message (keys in this order).
#[derive(serde::Serialize)]
struct Body<'a> {
    version: u32,
    message_id: &'a str,
    kind: &'static str,
    contact: &'a str,
    subscriptions: &'a [String],
    events: Vec<crate::event::NativeEvent<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repeats: Option<Repeats>,
}

#[derive(serde::Serialize)]
struct Repeats {
    count: usize,
    first: String,
    last: String,
}

/// Compact JSON whose strings carry bidi controls as `\uXXXX` escapes: the
/// receiver parses the same data (the webhook sends event text unchanged),
/// but the raw body, shown in a log or a terminal, cannot be reordered.
struct BidiEscaped;

impl serde_json::ser::Formatter for BidiEscaped {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some((i, c)) = rest
            .char_indices()
            .find(|(_, c)| super::markup::is_bidi_control(*c))
        {
            writer.write_all(&rest.as_bytes()[..i])?;
            write!(writer, "\\u{:04x}", u32::from(c))?;
            rest = &rest[i + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }
}

fn to_json(body: &impl serde::Serialize) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    body.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        BidiEscaped,
    ))?;
    Ok(out)
}

/// `sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Notifier for WebhookNotifier {
    fn channel(&self) -> Channel {
        Channel::Webhook
    }

    fn limits(&self) -> Limits {
        // A generic receiver states no limits; `rate_limit` on the contact sets one.
        Limits {
            max_bytes: usize::MAX,
            rate: Vec::new(),
        }
    }

    fn render(&self, msg: &MessageView<'_>, now_ms: i64) -> Result<Rendered, RenderError> {
        let repeats = (msg.kind == crate::domain::MessageKind::FollowUp && !msg.events.is_empty())
            .then(|| {
                let first = msg.events.iter().map(|e| e.received_ms).min().unwrap_or(0);
                let last = msg.events.iter().map(|e| e.received_ms).max().unwrap_or(0);
                Repeats {
                    count: msg.events.len(),
                    first: crate::timefmt::rfc3339(first),
                    last: crate::timefmt::rfc3339(last),
                }
            });
        let body = Body {
            version: 1,
            message_id: msg.id,
            kind: msg.kind.as_str(),
            contact: &msg.contact.name,
            subscriptions: msg.subscriptions,
            events: msg.events.iter().map(|e| e.native()).collect(),
            note: msg.note,
            repeats,
        };
        let body = to_json(&body).map_err(|e| RenderError(e.to_string()))?;
        let mut headers: Vec<(String, String)> = msg.contact.headers.clone();
        headers.push(("Content-Type".into(), "application/json".into()));
        headers.push(("X-Tocsin-Message-Id".into(), msg.id.to_string()));
        if !msg.contact.secret.is_empty() {
            let ts = now_ms.div_euclid(1000);
            headers.push(("X-Tocsin-Timestamp".into(), ts.to_string()));
            headers.push((
                "X-Tocsin-Signature".into(),
                signature(&msg.contact.secret, ts, &body),
            ));
        }
        Ok(Rendered {
            out: Outgoing {
                url: msg.contact.webhook.clone(),
                headers,
                body,
            },
            omitted: 0,
        })
    }

    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict {
        let text = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .map(|r| format!("HTTP {status} {r}"))
            .unwrap_or_else(|| format!("HTTP {status}"));
        let (disposition, reason) = match status {
            200..=299 => (Disposition::Delivered, format!("delivered ({text})")),
            429 => {
                let after = super::retry_after(headers, crate::now_ms());
                let wait = after
                    .map(|d| format!(" (Retry-After: {})", super::http::humanize(d)))
                    .unwrap_or_default();
                (
                    Disposition::Retry { retry_after: after },
                    format!("the receiver is rate limiting: {text}{wait}; will retry"),
                )
            }
            408 | 425 | 500..=599 => (
                Disposition::Retry {
                    retry_after: super::retry_after(headers, crate::now_ms()),
                },
                format!("the receiver answered {text}; will retry"),
            ),
            300..=399 => (
                Disposition::Permanent,
                format!(
                    "the receiver answered {text} (a redirect; Tocsin does not follow redirects: fix the webhook URL)"
                ),
            ),
            _ => (
                Disposition::Permanent,
                format!(
                    "the receiver refused the message: {text}; check the webhook URL, headers and secret"
                ),
            ),
        };
        Verdict {
            disposition,
            http_status: Some(status),
            platform_code: None,
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
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn signature_vector() {
        // Computed independently:
        // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            signature("s3cret", 1_700_000_000, br#"{"a":1}"#),
            "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }

    #[test]
    fn bidi_controls_are_escaped_in_the_raw_body() {
        let v = serde_json::json!({"name": "a\u{202E}gpj.exe\u{2066}\"b"});
        let raw = to_json(&v).unwrap();
        assert_eq!(
            std::str::from_utf8(&raw).unwrap(),
            r#"{"name":"a\u202egpj.exe\u2066\"b"}"#
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&raw).unwrap(),
            v
        );
    }

    #[test]
    fn classification() {
        let n = WebhookNotifier;
        let h = HeaderMap::new();
        assert_eq!(n.classify(204, &h, b"").disposition, Disposition::Delivered);
        assert_eq!(
            n.classify(503, &h, b"busy").disposition,
            Disposition::Retry { retry_after: None }
        );
        assert_eq!(n.classify(404, &h, b"").disposition, Disposition::Permanent);
        assert_eq!(n.classify(302, &h, b"").disposition, Disposition::Permanent);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        let v = n.classify(429, &h, b"slow down");
        assert_eq!(
            v.disposition,
            Disposition::Retry {
                retry_after: Some(std::time::Duration::from_secs(7))
            }
        );
        assert_eq!(v.platform_message.as_deref(), Some("slow down"));
        assert!(v.reason.contains("Retry-After: 7s"), "{}", v.reason);
    }
}
