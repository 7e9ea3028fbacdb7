//! The shared core of the chat-platform fakes: one loopback server per
//! platform kind, hosting any number of bots, recording every request with
//! what it answered. The per-platform modules (`lark`, `wecom`, `dingtalk`,
//! `slack`) only hold the checks and the answer shapes of each platform, as
//! described in `docs/channels.md`.

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

use crate::{dingtalk, lark, slack, wecom};

/// Which platform a [`FakeBot`] server imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    Lark,
    WeCom,
    DingTalk,
    Slack,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Lark => "Lark / Feishu",
            Platform::WeCom => "WeCom",
            Platform::DingTalk => "DingTalk",
            Platform::Slack => "Slack",
        }
    }

    /// The platform's default rate limits (count per sliding window).
    pub fn default_rate(self) -> Vec<(u32, Duration)> {
        match self {
            Platform::Lark => vec![(100, Duration::from_secs(60)), (5, Duration::from_secs(1))],
            Platform::WeCom | Platform::DingTalk => vec![(20, Duration::from_secs(60))],
            Platform::Slack => vec![(1, Duration::from_secs(1))],
        }
    }

    fn url_path(self, token: &str) -> String {
        match self {
            Platform::Lark => format!("/open-apis/bot/v2/hook/{token}"),
            Platform::WeCom => format!("/cgi-bin/webhook/send?key={token}"),
            Platform::DingTalk => format!("/robot/send?access_token={token}"),
            Platform::Slack => format!("/services/{token}"),
        }
    }

    fn handle(self, ctx: &mut Ctx<'_>, req: &Req<'_>) -> Answer {
        match self {
            Platform::Lark => lark::handle(ctx, req),
            Platform::WeCom => wecom::handle(ctx, req),
            Platform::DingTalk => dingtalk::handle(ctx, req),
            Platform::Slack => slack::handle(ctx, req),
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
        }
    }

    fn rate_limited_answer(self, ctx: &Ctx<'_>) -> Answer {
        match self {
            Platform::Lark => lark::rate_limited(),
            Platform::WeCom => wecom::rate_limited(ctx),
            Platform::DingTalk => dingtalk::rate_limited(),
            Platform::Slack => slack::rate_limited(Duration::from_secs(1)),
        }
    }

    fn render(self, body: &serde_json::Value) -> String {
        match self {
            Platform::Lark => lark::render(body),
            Platform::WeCom => wecom::render(body),
            Platform::DingTalk => dingtalk::render(body),
            Platform::Slack => slack::render(body),
        }
    }
}

/// The value of `name` in a query string, percent- and form-decoded (a raw
/// `+` becomes a space, as on the real servers).
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A registered bot's security and rate settings.
#[derive(Clone, Debug, Default)]
pub struct BotSettings {
    /// Signing secret (Lark, DingTalk); ignored by WeCom and Slack.
    pub secret: Option<String>,
    /// Custom keywords (Lark, DingTalk): a message must contain at least one.
    pub keywords: Vec<String>,
    /// `(count, window)` sliding limits; `None` = the platform's default.
    pub rate: Option<Vec<(u32, Duration)>>,
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
    /// DingTalk 130101 (HTTP 200), Slack HTTP 429 `Retry-After: 1`.
    RateLimited,
    /// A business error in the platform's shape: HTTP 200 JSON with this
    /// `code`/`errcode` and message (WeCom adds its hint suffix); for Slack,
    /// HTTP status `code` (400 if not a status) with the message as body.
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
            _ => self.http_status == 200 && self.code == Some(0),
        }
    }

    /// The message as a person would read it in the group.
    pub fn rendered_text(&self) -> String {
        self.platform.render(&self.json())
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
    /// Set: the clock rate limits run on is frozen at this instant plus
    /// what [`FakeBot::advance`] added.
    manual: Option<(Instant, Duration)>,
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

/// A fake of one chat platform's incoming-webhook service on 127.0.0.1,
/// hosting one or more bots. Dropping it stops the server.
pub struct FakeBot {
    platform: Platform,
    addr: SocketAddr,
    core: Arc<Core>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeBot {
    pub async fn lark() -> FakeBot {
        Self::start(Platform::Lark).await
    }
    pub async fn wecom() -> FakeBot {
        Self::start(Platform::WeCom).await
    }
    pub async fn dingtalk() -> FakeBot {
        Self::start(Platform::DingTalk).await
    }
    pub async fn slack() -> FakeBot {
        Self::start(Platform::Slack).await
    }

    /// Starts a fake of `platform` on 127.0.0.1 with an ephemeral port.
    pub async fn start(platform: Platform) -> FakeBot {
        Self::start_on(platform, "127.0.0.1:0").await
    }

    pub async fn start_on(platform: Platform, addr: &str) -> FakeBot {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the fake platform");
        let addr = listener.local_addr().expect("local addr");
        let core = Arc::new(Core {
            platform,
            inner: Mutex::default(),
            notify: Notify::new(),
            counter: AtomicU64::new(0),
            base: Mutex::new(format!("http://{addr}")),
        });
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
            .with_state(core.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        FakeBot {
            platform,
            addr,
            core,
            task,
        }
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers (or replaces) a bot. Requests to other tokens get the
    /// platform's "unknown token" answer.
    pub fn add_bot(&self, token: &str, settings: BotSettings) {
        self.core.lock().bots.insert(
            token.to_string(),
            BotState {
                settings,
                sent: VecDeque::new(),
                blocked_until: None,
            },
        );
    }

    /// Removes a bot (as if deleted from its group).
    pub fn remove_bot(&self, token: &str) {
        self.core.lock().bots.remove(token);
    }

    /// Forgets a bot's rate history and lifts a DingTalk 10-minute block.
    pub fn reset_rate(&self, token: &str) {
        if let Some(b) = self.core.lock().bots.get_mut(token) {
            b.sent.clear();
            b.blocked_until = None;
        }
    }

    /// The webhook URL Tocsin should be configured with for `token`.
    pub fn url(&self, token: &str) -> String {
        format!("http://{}{}", self.addr, self.platform.url_path(token))
    }

    /// The `GET /_sandbox` page of this fake.
    pub fn sandbox_url(&self) -> String {
        format!("http://{}/_sandbox", self.addr)
    }

    /// Every request, in order, with what the fake answered.
    pub fn received(&self) -> Vec<Delivery> {
        self.core.lock().received.clone()
    }

    /// Only the requests the platform accepted.
    pub fn accepted(&self) -> Vec<Delivery> {
        self.core
            .lock()
            .received
            .iter()
            .filter(|d| d.accepted())
            .cloned()
            .collect()
    }

    /// Waits until at least `n` messages were accepted, or the timeout passes.
    pub async fn wait_for_accepted(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        self.wait_until(timeout, |_, acc| acc.len() >= n).await.1
    }

    /// Waits until at least `n` requests arrived, or the timeout passes.
    pub async fn wait_for_received(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        self.wait_until(timeout, |all, _| all.len() >= n).await.0
    }

    async fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&[Delivery], &[Delivery]) -> bool,
    ) -> (Vec<Delivery>, Vec<Delivery>) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.core.notify.notified();
            let all = self.received();
            let acc: Vec<Delivery> = all.iter().filter(|d| d.accepted()).cloned().collect();
            if done(&all, &acc) || tokio::time::Instant::now() >= deadline {
                return (all, acc);
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    /// Shifts the fake's clock (timestamp checks, `at_ms`) by `ms`.
    pub fn set_clock_offset_ms(&self, ms: i64) {
        self.core.lock().clock_offset_ms = ms;
    }

    /// Freezes the clock the rate limits (and DingTalk's block) run on: it
    /// then moves only with [`FakeBot::advance`], in step with a server on a
    /// manual clock, so a test can hold both to the same time.
    pub fn use_manual_clock(&self) {
        self.core.lock().manual = Some((Instant::now(), Duration::ZERO));
    }

    /// Moves the manual rate clock forward (see [`FakeBot::use_manual_clock`]).
    pub fn advance(&self, by: Duration) {
        if let Some((_, elapsed)) = &mut self.core.lock().manual {
            *elapsed += by;
        }
    }

    /// Forces the next answers for `token` ahead of the normal checks.
    pub fn script(&self, token: &str, answers: impl IntoIterator<Item = ScriptedAnswer>) {
        self.core
            .lock()
            .scripts
            .entry(token.to_string())
            .or_default()
            .extend(answers);
    }

    /// What each registered bot accepted, as the platform shows it.
    pub fn sandbox_text(&self) -> String {
        sandbox_section(&self.core)
    }
}

/// A readable page of what each sandbox bot received, rendered as the
/// platform shows it (accepted messages), plus a line per refused request.
pub fn sandbox_page(bots: &[&FakeBot]) -> String {
    let mut out = String::new();
    for b in bots {
        out.push_str(&b.sandbox_text());
        out.push('\n');
    }
    out
}

fn sandbox_section(core: &Core) -> String {
    let inner = core.lock();
    let base = core.base.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut out = format!("=== {} sandbox ({base}) ===\n", core.platform.name());
    let mut tokens: Vec<&String> = inner.bots.keys().collect();
    tokens.sort();
    for token in tokens {
        let mine: Vec<&Delivery> = inner
            .received
            .iter()
            .filter(|d| &d.token == token)
            .collect();
        let accepted = mine.iter().filter(|d| d.accepted()).count();
        out.push_str(&format!(
            "--- bot {token}: {accepted} shown in the group, {} refused ---\n",
            mine.len() - accepted
        ));
        for d in mine {
            if d.accepted() {
                out.push_str(&format!("[{}]\n", clock(d.at_ms)));
                for line in d.rendered_text().lines() {
                    out.push_str(&format!("    {line}\n"));
                }
            } else {
                let why = match d.code {
                    Some(c) => format!("HTTP {} code {c}", d.http_status),
                    None => format!("HTTP {}", d.http_status),
                };
                out.push_str(&format!(
                    "[{}] refused ({why}): {}\n",
                    clock(d.at_ms),
                    d.answer.chars().take(160).collect::<String>()
                ));
            }
        }
    }
    let strays = inner
        .received
        .iter()
        .filter(|d| !inner.bots.contains_key(&d.token))
        .count();
    if strays > 0 {
        out.push_str(&format!("--- {strays} request(s) to unknown bots ---\n"));
    }
    out
}

/// `HH:MM:SS.mmm` UTC.
fn clock(ms: i64) -> String {
    let day_ms = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

pub(crate) fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn handle(
    State(core): State<Arc<Core>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().map(str::to_string);
    if path == "/_sandbox" && method == Method::GET {
        return (
            [("content-type", "text/plain; charset=utf-8")],
            sandbox_section(&core),
        )
            .into_response();
    }
    let platform = core.platform;
    let token = platform.token_of(&path, query.as_deref());
    let script_key = token.clone().unwrap_or_default();

    // Scripted answers first; a Delay just postpones the normal handling.
    let mut scripted = None;
    loop {
        let next = core
            .lock()
            .scripts
            .get_mut(&script_key)
            .and_then(|q| q.pop_front());
        match next {
            Some(ScriptedAnswer::Delay(d)) => tokio::time::sleep(d).await,
            other => {
                scripted = other.or(scripted);
                break;
            }
        }
    }

    let n = core.counter.fetch_add(1, Ordering::Relaxed);
    let mut inner = core.lock();
    let now_ms = wall_ms() + inner.clock_offset_ms;
    let now = match inner.manual {
        Some((base, elapsed)) => base + elapsed,
        None => Instant::now(),
    };
    let mut ctx = Ctx {
        bots: &mut inner.bots,
        now_ms,
        now,
        peer_ip: peer.ip().to_string(),
        request_id: format!(
            "{}{:06}-{:08x}",
            now_ms / 1000,
            n % 1_000_000,
            n.wrapping_mul(0x9e37_79b9) as u32
        ),
    };
    let req = Req {
        method: &method,
        path: &path,
        query: query.as_deref(),
        body: &body,
        token: token.as_deref(),
    };
    let answer = match scripted {
        Some(ScriptedAnswer::RateLimited) => platform.rate_limited_answer(&ctx),
        Some(ScriptedAnswer::Code(code, msg)) => platform.code_answer(&ctx, code, &msg),
        Some(ScriptedAnswer::Http {
            status,
            headers,
            body,
        }) => Answer::from_http(status, headers, body),
        Some(ScriptedAnswer::Delay(_)) | None => platform.handle(&mut ctx, &req),
    };
    let delivery = Delivery {
        platform,
        token: token.unwrap_or_default(),
        path,
        query,
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        http_status: answer.status,
        code: if platform == Platform::Slack {
            None
        } else {
            answer.code
        },
        answer: answer.body.clone(),
        at_ms: now_ms,
    };
    inner.received.push(delivery);
    drop(inner);
    core.notify.notify_waiters();

    let mut r = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK),
        answer.body,
    )
        .into_response();
    for (k, v) in answer.headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(&v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

// ---- helpers shared by the platform modules ----

/// HMAC-SHA256, standard Base64 — written independently of Tocsin's signer.
pub(crate) fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Every string value under `v`, skipping values of keys `skip` says to.
pub(crate) fn strings<'a>(
    v: &'a serde_json::Value,
    skip: &dyn Fn(&str) -> bool,
    out: &mut Vec<&'a str>,
) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, skip, out)),
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                if !skip(k) {
                    strings(x, skip, out);
                }
            }
        }
        _ => {}
    }
}

/// Whether any keyword occurs in any of `texts` (no keywords = pass).
pub(crate) fn has_keyword(keywords: &[String], texts: &[&str]) -> bool {
    keywords.is_empty()
        || keywords
            .iter()
            .any(|k| texts.iter().any(|t| t.contains(k.as_str())))
}

/// A string field of a JSON object ("" when absent or not a string).
pub(crate) fn str_at<'a>(v: &'a serde_json::Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(|x| x.as_str()).unwrap_or("")
}

/// Joins the non-empty parts with newlines.
pub(crate) fn join_lines<S: AsRef<str>>(parts: impl IntoIterator<Item = S>) -> String {
    parts
        .into_iter()
        .filter(|p| !p.as_ref().trim().is_empty())
        .map(|p| p.as_ref().to_string())
        .collect::<Vec<_>>()
        .join("\n")
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
