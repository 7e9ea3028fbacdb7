//! Notifiers: one module per channel behind the [`Notifier`] trait. A
//! notifier renders a message for its platform (and signs it), and classifies
//! the platform's answer into delivered / retry later / failed for good, with
//! a plain-words reason. Sending itself is shared ([`send`]): one pooled HTTP
//! client, egress rules checked on the resolved address, no redirects.

pub mod egress;
pub mod http;
pub mod webhook;

use crate::config::{Channel, Contact};
use crate::event::Event;
use crate::store::MessageKind;
use std::sync::Arc;
use std::time::Duration;

/// A message as a notifier sees it.
pub struct MessageView<'a> {
    pub id: &'a str,
    pub kind: MessageKind,
    pub contact: &'a Contact,
    pub subscriptions: &'a [String],
    pub events: &'a [Arc<Event>],
}

/// A rendered, signed request, ready to send.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What to do after an attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Disposition {
    Delivered,
    /// Try again later; `retry_after` when the receiver asked for a delay.
    Retry {
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
    /// Renders and signs a message. `now_ms` feeds signatures' timestamps.
    fn render(&self, msg: &MessageView<'_>, now_ms: i64) -> Result<Outgoing, RenderError>;
    /// Classifies the platform's answer.
    fn classify(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Verdict;
}

/// The notifier of a channel.
pub fn notifier_for(channel: Channel) -> &'static dyn Notifier {
    match channel {
        Channel::Webhook => &webhook::WebhookNotifier,
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
