//! Notifiers: one module per channel behind the [`Notifier`] trait. A
//! notifier renders a message for its platform (and signs it), and classifies
//! the platform's answer into delivered / retry later / failed for good, with
//! a plain-words reason. Sending itself is shared ([`send`]): one pooled HTTP
//! client, egress rules checked on the resolved address, no redirects.

pub mod dingtalk;
pub mod discord;
pub mod egress;
pub mod http;
pub mod lark;
pub mod markup;
pub mod pack;
pub mod pagerduty;
pub mod render;
pub mod slack;
pub mod teams;
pub mod telegram;
pub mod template;
pub mod webhook;
pub mod wecom;

use crate::config::{Channel, Contact, Level, RateLimit};
use crate::domain::MessageKind;
use crate::event::Event;
use std::sync::Arc;
use std::time::Duration;

/// A message as a notifier sees it.
pub struct MessageView<'a> {
    pub id: &'a str,
    pub kind: MessageKind,
    pub contact: &'a Contact,
    pub subscriptions: &'a [String],
    pub events: &'a [Arc<Event>],
    /// `server.public_url`: messages link to events there.
    pub public_url: Option<&'a str>,
    /// A sentence shown above the events (failure reports).
    pub note: Option<&'a str>,
    /// A subscription's template, overriding the contact's.
    pub template: Option<&'a str>,
}

/// A rendered request and how many events were left out to fit the
/// platform's size limit (the dispatcher packs digests so that none are).
pub struct Rendered {
    pub out: Outgoing,
    pub omitted: usize,
}

/// What a platform allows.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest message the platform accepts, in bytes of what it measures.
    pub max_bytes: usize,
    /// The platform's documented rate limits per bot.
    pub rate: Vec<RateLimit>,
}

/// The budget Tocsin keeps under a platform's documented limits: 10% fewer
/// messages (at least one) over a 5% longer window, so clock skew and the
/// platform's own counting never push us over.
pub fn with_margin(limits: &[RateLimit]) -> Vec<RateLimit> {
    limits
        .iter()
        .map(|l| RateLimit {
            count: (l.count.saturating_mul(9) / 10).max(1),
            per: l.per + l.per / 20,
        })
        .collect()
}

/// The rate limits a contact's bot is held to: its own `rate_limit`, else
/// the platform's limits with the safety margin.
pub fn effective_rate(contact: &Contact) -> Vec<RateLimit> {
    if !contact.rate_limit.is_empty() {
        return contact.rate_limit.clone();
    }
    with_margin(&notifier_for(contact.channel).limits().rate)
}

/// A rendered, signed request, ready to send.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Outgoing {
    /// A JSON POST to `url`: what every chat platform's webhook takes.
    pub fn json(url: String, body: &impl serde::Serialize) -> Result<Outgoing, RenderError> {
        Ok(Outgoing {
            url,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).map_err(|e| RenderError(e.to_string()))?,
        })
    }
}

/// What to do after an attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Disposition {
    Delivered,
    /// Try again later; `retry_after` when the receiver asked for a delay.
    Retry {
        retry_after: Option<Duration>,
    },
    /// The platform says the bot is over its rate limit: this message and
    /// every other one to the same bot wait.
    RateLimited {
        retry_after: Option<Duration>,
    },
    /// Trying again would not help.
    Permanent,
}

/// The verdict on one attempt, as recorded in the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub disposition: Disposition,
    pub http_status: Option<u16>,
    pub platform_code: Option<String>,
    pub platform_message: Option<String>,
    /// Plain words: what happened and, when it failed, what to do about it.
    pub reason: String,
}

impl Verdict {
    pub fn transport(reason: String) -> Verdict {
        Verdict {
            disposition: Disposition::Retry { retry_after: None },
            http_status: None,
            platform_code: None,
            platform_message: None,
            reason,
        }
    }
    pub fn permanent(reason: String) -> Verdict {
        Verdict {
            disposition: Disposition::Permanent,
            http_status: None,
            platform_code: None,
            platform_message: None,
            reason,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

/// One chat platform or the generic webhook.
pub trait Notifier: Send + Sync {
    fn channel(&self) -> Channel;
    fn limits(&self) -> Limits;
    /// Renders and signs a message. `now_ms` feeds signatures' timestamps.
    fn render(&self, msg: &MessageView<'_>, now_ms: i64) -> Result<Rendered, RenderError>;
    /// How the platform measures `msg` rendered at `level` (the budget its
    /// `render` fits to), for packing digests; `None`: no size budget.
    fn sizing<'m>(&self, msg: &'m MessageView<'_>, level: Level) -> Option<pack::Sizing<'m>> {
        let _ = (msg, level);
        None
    }
    /// Classifies the platform's answer.
    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict;
}

/// The notifier of a channel.
pub fn notifier_for(channel: Channel) -> &'static dyn Notifier {
    match channel {
        Channel::Webhook => &webhook::WebhookNotifier,
        Channel::Lark => &lark::LarkNotifier,
        Channel::Wecom => &wecom::WecomNotifier,
        Channel::Dingtalk => &dingtalk::DingtalkNotifier,
        Channel::Slack => &slack::SlackNotifier,
        Channel::Discord => &discord::DiscordNotifier,
        Channel::Teams => &teams::TeamsNotifier,
        Channel::Telegram => &telegram::TelegramNotifier,
        Channel::Pagerduty => &pagerduty::PagerdutyNotifier,
    }
}

/// Sends one rendered request and classifies the answer.
pub async fn send(
    http: &http::HttpContext,
    notifier: &dyn Notifier,
    out: Outgoing,
    timeout: Duration,
) -> Verdict {
    match http.post(out, timeout).await {
        Ok((status, headers, body)) => notifier.classify(status, &headers, &body),
        Err(e) => e.into_verdict(timeout),
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap, now_ms: i64) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(7 * 86_400)));
    }
    let at = jiff::fmt::rfc2822::parse(v)
        .ok()?
        .timestamp()
        .as_millisecond();
    Some(Duration::from_millis((at - now_ms).max(0) as u64))
}

/// A short, printable excerpt of a response body for the history.
pub fn body_excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut end = text.len().min(256);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(
        text[..end]
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}

/// `code` and message of a JSON answer body, under the platform's key names.
pub fn json_code(body: &[u8], code_keys: &[&str], msg_keys: &[&str]) -> Option<(i64, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = code_keys
        .iter()
        .find_map(|k| v.get(*k).and_then(serde_json::Value::as_i64))?;
    let msg = msg_keys
        .iter()
        .find_map(|k| v.get(*k).and_then(serde_json::Value::as_str))
        .unwrap_or("")
        .to_string();
    Some((code, msg))
}

/// A verdict from a platform's own code.
pub fn platform_verdict(
    disposition: Disposition,
    status: u16,
    code: Option<i64>,
    msg: &str,
    reason: String,
) -> Verdict {
    Verdict {
        disposition,
        http_status: Some(status),
        platform_code: code.map(|c| c.to_string()),
        platform_message: (!msg.is_empty()).then(|| msg.chars().take(300).collect()),
        reason,
    }
}

/// The answer of a platform that answered without its JSON: judged by the
/// HTTP status alone.
pub fn status_only_verdict(
    platform: &str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Verdict {
    let after = retry_after(headers, crate::now_ms());
    let (disposition, reason) = match status {
        429 => (
            Disposition::RateLimited { retry_after: after },
            format!(
                "{platform} is rate limiting this bot (HTTP 429); this bot waits, then Tocsin retries"
            ),
        ),
        408 | 425 | 500..=599 => (
            Disposition::Retry { retry_after: after },
            format!("{platform} answered HTTP {status}; will retry"),
        ),
        _ => (
            Disposition::Permanent,
            format!(
                "{platform} answered HTTP {status} without a result code; check the contact's webhook URL"
            ),
        ),
    };
    Verdict {
        disposition,
        http_status: Some(status),
        platform_code: None,
        platform_message: body_excerpt(body),
        reason,
    }
}

/// Sends a test message through a contact and returns the platform's own
/// verdict (nothing is stored).
pub async fn test_contact(
    http: &http::HttpContext,
    contact: &Contact,
    delivery: &crate::config::DeliveryConfig,
    public_url: Option<&str>,
) -> Verdict {
    let notifier = notifier_for(contact.channel);
    let now = crate::now_ms();
    let event = Arc::new(Event {
        event_type: "Test".into(),
        time_ms: now,
        received_ms: now,
        ..Event::minimal(
            format!("tocsin-test-{now}"),
            "Tocsin",
            "Tocsin:TestMessage",
            crate::config::Level::Info,
        )
    });
    let id = uuid::Uuid::now_v7().to_string();
    let events = [event];
    let view = MessageView {
        id: &id,
        kind: MessageKind::Test,
        contact,
        subscriptions: &[],
        events: &events,
        public_url,
        note: None,
        template: None,
    };
    match notifier.render(&view, now) {
        Ok(r) => {
            let mut v = send(http, notifier, r.out, delivery.timeout).await;
            if contact.channel == Channel::Pagerduty && v.disposition == Disposition::Delivered {
                v.reason.push_str(
                    "; the test was a resolve for a dedup_key no incident has: PagerDuty checked the routing key and no one was paged",
                );
            }
            v
        }
        Err(e) => Verdict::permanent(format!("the test message could not be rendered: {e}")),
    }
}

/// The JSON of a test verdict: `{"ok", "http_status", "platform_code", "platform_message", "reason"}`.
pub fn verdict_json(v: &Verdict) -> serde_json::Value {
    serde_json::json!({
        "ok": v.disposition == Disposition::Delivered,
        "http_status": v.http_status,
        "platform_code": v.platform_code,
        "platform_message": v.platform_message,
        "reason": v.reason,
    })
}
