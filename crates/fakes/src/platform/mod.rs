//! The shared core of the chat-platform fakes: one loopback server per
//! platform kind, hosting any number of bots, recording every request with
//! what it answered. The per-platform modules (`lark`, `wecom`, `dingtalk`,
//! `slack`) only hold the checks and the answer shapes of each platform, as
//! described in `docs/channels.md`.
//!
//! `server.rs` holds the loopback server and the request handler,
//! `sandbox.rs` the sandbox page, `helpers.rs` the small shared checks.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

use crate::{dingtalk, discord, lark, pagerduty, slack, teams, telegram, wecom};

mod helpers;
mod page;
mod sandbox;
mod server;

pub(crate) use helpers::*;
use sandbox::sandbox_section;
pub use sandbox::{
    DEFAULT_SANDBOX_LISTEN, SANDBOX_BOTS, SANDBOX_PAGERDUTY_KEY, Sandbox, SandboxBot, sandbox_page,
};
pub use server::FakeBot;

/// Which platform a [`FakeBot`] server imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    Lark,
    WeCom,
    DingTalk,
    Slack,
    Discord,
    Teams,
    Telegram,
    PagerDuty,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Lark => "Lark / Feishu",
            Platform::WeCom => "WeCom",
            Platform::DingTalk => "DingTalk",
            Platform::Slack => "Slack",
            Platform::Discord => "Discord",
            Platform::Teams => "Teams",
            Platform::Telegram => "Telegram",
            Platform::PagerDuty => "PagerDuty",
        }
    }

    /// The platform's default rate limits (count per sliding window).
    pub fn default_rate(self) -> Vec<(u32, Duration)> {
        match self {
            Platform::Lark => vec![(100, Duration::from_secs(60)), (5, Duration::from_secs(1))],
            Platform::WeCom | Platform::DingTalk => vec![(20, Duration::from_secs(60))],
            Platform::Slack => vec![(1, Duration::from_secs(1))],
            // Per webhook (its bucket) and per channel (one webhook posts
            // into one channel).
            Platform::Discord => vec![(5, Duration::from_secs(2)), (30, Duration::from_secs(60))],
            // The thresholds Microsoft documented for the connectors
            // (Workflows publishes none).
            Platform::Teams => vec![(4, Duration::from_secs(1)), (60, Duration::from_secs(30))],
            // Per chat about 1 a second, 20 a minute in a group (a bot's
            // chats share one budget here).
            Platform::Telegram => vec![(1, Duration::from_secs(1)), (20, Duration::from_secs(60))],
            // Per routing key.
            Platform::PagerDuty => vec![(pagerduty::PER_MINUTE, Duration::from_secs(60))],
        }
    }

    fn url_path(self, token: &str) -> String {
        match self {
            Platform::Lark => format!("/open-apis/bot/v2/hook/{token}"),
            Platform::WeCom => format!("/cgi-bin/webhook/send?key={token}"),
            Platform::DingTalk => format!("/robot/send?access_token={token}"),
            Platform::Slack => format!("/services/{token}"),
            Platform::Discord => format!("/api/webhooks/{token}"),
            Platform::Teams => teams::url_path(token),
            Platform::Telegram => format!("/bot{token}/sendMessage"),
            // The routing key travels in the body.
            Platform::PagerDuty => pagerduty::PATH.to_string(),
        }
    }

    fn handle(self, ctx: &mut Ctx<'_>, req: &Req<'_>) -> Answer {
        match self {
            Platform::Lark => lark::handle(ctx, req),
            Platform::WeCom => wecom::handle(ctx, req),
            Platform::DingTalk => dingtalk::handle(ctx, req),
            Platform::Slack => slack::handle(ctx, req),
            Platform::Discord => discord::handle(ctx, req),
            Platform::Teams => teams::handle(ctx, req),
            Platform::Telegram => telegram::handle(ctx, req),
            Platform::PagerDuty => pagerduty::handle(ctx, req),
        }
    }

    /// The token a request addresses, as the platform reads it from the URL.
    fn token_of(self, path: &str, query: Option<&str>) -> Option<String> {
        match self {
            Platform::Lark => path
                .strip_prefix("/open-apis/bot/v2/hook/")
                .map(str::to_string),
            Platform::WeCom => query_param(query, "key"),
            Platform::DingTalk => query_param(query, "access_token"),
            Platform::Slack => path.strip_prefix("/services/").map(str::to_string),
            Platform::Discord => discord::token_of(path),
            Platform::Teams => teams::token_of(path, query),
            Platform::Telegram => telegram::token_of(path),
            // Read from the body ([`pagerduty::token_of_body`]).
            Platform::PagerDuty => None,
        }
    }

    /// A scripted `Code` answer in the platform's shape.
    fn code_answer(self, ctx: &Ctx<'_>, code: i64, msg: &str) -> Answer {
        match self {
            Platform::Lark => lark::error(code, msg),
            Platform::WeCom => wecom::error(ctx, code, msg),
            Platform::DingTalk => dingtalk::error(code, msg),
            Platform::Slack => {
                let status = u16::try_from(code)
                    .ok()
                    .filter(|s| (100..600).contains(s))
                    .unwrap_or(400);
                Answer::text(status, msg)
            }
            Platform::Discord => discord::error(discord::status_of(code), code, msg),
            Platform::Teams => teams::code_answer(code, msg),
            Platform::Telegram => telegram::error(code, msg),
            Platform::PagerDuty => pagerduty::code_answer(code, msg),
        }
    }

    fn rate_limited_answer(self, ctx: &Ctx<'_>) -> Answer {
        match self {
            Platform::Lark => lark::rate_limited(),
            Platform::WeCom => wecom::rate_limited(ctx),
            Platform::DingTalk => dingtalk::rate_limited(),
            Platform::Slack => slack::rate_limited(Duration::from_secs(1)),
            Platform::Discord => discord::rate_limited(Duration::from_millis(500)),
            Platform::Teams => teams::rate_limited(Duration::from_secs(1)),
            Platform::Telegram => telegram::rate_limited(Duration::from_secs(1)),
            Platform::PagerDuty => pagerduty::rate_limited(),
        }
    }

    fn render(self, body: &serde_json::Value) -> String {
        match self {
            Platform::Lark => lark::render(body),
            Platform::WeCom => wecom::render(body),
            Platform::DingTalk => dingtalk::render(body),
            Platform::Slack => slack::render(body),
            Platform::Discord => discord::render(body),
            Platform::Teams => teams::render(body),
            Platform::Telegram => telegram::render(body),
            Platform::PagerDuty => pagerduty::render(body),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct BotSettings {
    /// Signing secret (Lark, DingTalk); ignored by WeCom and Slack.
    pub secret: Option<String>,
    /// Custom keywords (Lark, DingTalk): a message must contain at least one.
    pub keywords: Vec<String>,
    /// `(count, window)` sliding limits; `None` = the platform's default.
    pub rate: Option<Vec<(u32, Duration)>>,
    /// Telegram: the chats the bot is in (`-100…` ids, `@channel`
    /// usernames); others get 400 "chat not found". Empty: any chat.
    pub chats: Vec<String>,
}

impl BotSettings {
    pub fn with_secret(secret: &str) -> BotSettings {
        BotSettings {
            secret: Some(secret.to_string()),
            ..BotSettings::default()
        }
    }
    pub fn with_keywords(keywords: &[&str]) -> BotSettings {
        BotSettings {
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            ..BotSettings::default()
        }
    }
}

/// An answer forced ahead of the normal checks (see [`FakeBot::script`]).
#[derive(Clone, Debug)]
pub enum ScriptedAnswer {
    /// The platform's own rate-limit answer: Lark 11232, WeCom 45009,
    /// DingTalk 130101 (HTTP 200), Slack HTTP 429 `Retry-After: 1`, Discord
    /// HTTP 429 `retry_after: 0.5`, Teams HTTP 429 `Retry-After: 1`.
    RateLimited,
    /// A business error in the platform's shape: HTTP 200 JSON with this
    /// `code`/`errcode` and message (WeCom adds its hint suffix); for Slack,
    /// HTTP status `code` (400 if not a status) with the message as body;
    /// for Discord, `{"code", "message"}` at the status Discord uses for it
    /// (10015 → 404, 50027 → 401, else 400); for Teams, HTTP status `code`
    /// (400 if not an error status) with `{"error": {"code", "message"}}`; for Telegram, `{"ok": false,
    /// "error_code": code, "description": message}` at HTTP `code`.
    Code(i64, String),
    /// Any HTTP answer.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Wait this long, then handle the request normally (to exceed a timeout).
    Delay(Duration),
}

impl ScriptedAnswer {
    /// A bare status with an empty body, e.g. a 500 or 502.
    pub fn status(status: u16) -> ScriptedAnswer {
        ScriptedAnswer::Http {
            status,
            headers: vec![],
            body: String::new(),
        }
    }
    /// A status with `Retry-After: <secs>` (e.g. 429 or 503).
    pub fn retry_after(status: u16, secs: u64, body: &str) -> ScriptedAnswer {
        ScriptedAnswer::Http {
            status,
            headers: vec![("Retry-After".into(), secs.to_string())],
            body: body.to_string(),
        }
    }
    pub fn code(code: i64, msg: &str) -> ScriptedAnswer {
        ScriptedAnswer::Code(code, msg.to_string())
    }
}

/// One request as the fake got it, with what it answered.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub platform: Platform,
    /// The token the URL addressed ("" when none could be read).
    pub token: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub http_status: u16,
    /// The `code`/`errcode` answered; `None` for Slack (and non-JSON answers).
    pub code: Option<i64>,
    /// The answer body.
    pub answer: String,
    /// The fake's clock (with any offset) when the request arrived, Unix ms.
    pub at_ms: i64,
}

impl Delivery {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the platform accepted it (it would show in the group).
    pub fn accepted(&self) -> bool {
        match self.platform {
            Platform::Slack => self.http_status == 200 && self.answer == "ok",
            Platform::Discord => matches!(self.http_status, 200 | 204),
            Platform::Teams => self.http_status == 202,
            Platform::PagerDuty => {
                self.http_status == 202
                    && serde_json::from_str::<serde_json::Value>(&self.answer)
                        .is_ok_and(|v| v["status"] == "success")
            }
            Platform::Telegram => {
                self.http_status == 200
                    && serde_json::from_str::<serde_json::Value>(&self.answer)
                        .is_ok_and(|v| v["ok"] == true)
            }
            _ => self.http_status == 200 && self.code == Some(0),
        }
    }

    /// The message as a person would read it in the group.
    pub fn rendered_text(&self) -> String {
        self.platform.render(&self.json())
    }

    /// The links a reader could click in it, as the platform parses them.
    pub fn links(&self) -> Vec<String> {
        crate::reading::links(self.platform, &self.json())
    }

    /// Who it notifies, as the platform parses it.
    pub fn mentions(&self) -> Vec<String> {
        crate::reading::mentions(self.platform, &self.json())
    }
}

/// A platform's answer.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub code: Option<i64>,
}

impl Answer {
    pub fn json(status: u16, code: i64, body: serde_json::Value) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            code: Some(code),
        }
    }
    pub fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.to_string(),
            code: None,
        }
    }
    fn from_http(status: u16, headers: Vec<(String, String)>, body: String) -> Answer {
        let code = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("code").or_else(|| v.get("errcode")).cloned())
            .and_then(|c| c.as_i64());
        Answer {
            status,
            headers,
            body,
            code,
        }
    }
}

/// A request as the platform handlers see it.
pub(crate) struct Req<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    pub token: Option<&'a str>,
}

pub(crate) struct BotState {
    pub settings: BotSettings,
    /// When each accepted message arrived (pruned to the longest window).
    sent: VecDeque<Instant>,
    /// DingTalk's 10-minute throttle after exceeding the rate.
    pub blocked_until: Option<Instant>,
    /// PagerDuty: the service's incidents, oldest first.
    pub incidents: Vec<pagerduty::Incident>,
}

impl BotState {
    /// `Some(retry_after)` when one more message would exceed a limit.
    pub fn over_rate(&mut self, platform: Platform, now: Instant) -> Option<Duration> {
        let limits = self
            .settings
            .rate
            .clone()
            .unwrap_or_else(|| platform.default_rate());
        let longest = limits.iter().map(|(_, w)| *w).max().unwrap_or_default();
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            self.sent.pop_front();
        }
        let mut wait: Option<Duration> = None;
        for (count, window) in limits {
            let in_window: Vec<&Instant> = self
                .sent
                .iter()
                .filter(|t| now.duration_since(**t) < window)
                .collect();
            if in_window.len() >= count as usize {
                // Room frees up when the oldest counted one leaves the window.
                let idx = in_window.len() - count as usize;
                let free_at = *in_window.get(idx).copied().unwrap_or(&now) + window;
                let w = free_at.saturating_duration_since(now);
                wait = Some(wait.map_or(w, |x| x.max(w)));
            }
        }
        wait
    }

    /// How many accepted messages arrived in the last `window`.
    pub fn sent_within(&self, now: Instant, window: Duration) -> usize {
        self.sent
            .iter()
            .filter(|t| now.duration_since(**t) < window)
            .count()
    }

    pub fn record_sent(&mut self, now: Instant) {
        self.sent.push_back(now);
    }
}

/// What a platform handler can see and change while checking one request.
pub(crate) struct Ctx<'a> {
    pub bots: &'a mut HashMap<String, BotState>,
    /// The platform's clock (with the offset), Unix ms.
    pub now_ms: i64,
    pub now: Instant,
    pub peer_ip: String,
    pub request_id: String,
}

#[derive(Default)]
struct Inner {
    bots: HashMap<String, BotState>,
    scripts: HashMap<String, VecDeque<ScriptedAnswer>>,
    received: Vec<Delivery>,
    clock_offset_ms: i64,
    /// How far the rate windows' clock runs ahead of the monotonic clock
    /// ([`FakeBot::advance`]), so tests cross a window without sleeping.
    rate_advance: Duration,
    /// Set by [`FakeBot::use_manual_clock`]: the rate clock is frozen at this
    /// instant and moves only by `rate_advance`.
    frozen_at: Option<Instant>,
}

struct Core {
    platform: Platform,
    inner: Mutex<Inner>,
    notify: Notify,
    counter: AtomicU64,
    base: Mutex<String>,
}

impl Core {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A tiny HTTP client for the platform tests.

    pub struct Answer {
        pub status: u16,
        pub headers: reqwest::header::HeaderMap,
        pub body: String,
    }

    impl Answer {
        pub fn json(&self) -> serde_json::Value {
            serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
        }
    }

    /// reqwest may be built without a TLS provider (feature unification
    /// with the main crate): install ring's, as the binary does.
    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    pub async fn post(url: &str, body: impl Into<Vec<u8>>) -> Answer {
        let r = client()
            .post(url)
            .header("content-type", "application/json")
            .body(body.into())
            .send()
            .await
            .expect("send to the fake");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.expect("read the answer");
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn post_json(url: &str, body: &serde_json::Value) -> Answer {
        post(url, body.to_string()).await
    }

    pub async fn get(url: &str) -> Answer {
        let r = client().get(url).send().await.expect("get from the fake");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.expect("read the answer");
        Answer {
            status,
            headers,
            body,
        }
    }
}
