//! The loopback server hosting a platform's bots, and its request handler.

use super::*;

/// A fake of one chat platform's incoming-webhook service on 127.0.0.1,
/// hosting one or more bots. Dropping it stops the server.
pub struct FakeBot {
    platform: Platform,
    addr: SocketAddr,
    pub(super) core: Arc<Core>,
    /// The server task; `None` when the bot is served by a [`super::Sandbox`].
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeBot {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
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
    /// Bots are registered as `"{id}/{token}"` (the id a number).
    pub async fn discord() -> FakeBot {
        Self::start(Platform::Discord).await
    }
    /// Bots are registered as `"{workflow id}/{sig}"`.
    pub async fn teams() -> FakeBot {
        Self::start(Platform::Teams).await
    }
    /// Bots are registered by token (`123456789:AAH…`), with the chats
    /// they are in in [`BotSettings::chats`](crate::BotSettings).
    pub async fn telegram() -> FakeBot {
        Self::start(Platform::Telegram).await
    }
    /// Services are registered by routing key (32 characters).
    pub async fn pagerduty() -> FakeBot {
        Self::start(Platform::PagerDuty).await
    }

    /// PagerDuty: the incidents of the service behind `routing_key`,
    /// oldest first.
    pub fn incidents(&self, routing_key: &str) -> Vec<crate::pagerduty::Incident> {
        self.core
            .lock()
            .bots
            .get(routing_key)
            .map(|b| b.incidents.clone())
            .unwrap_or_default()
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
        let mut bot = FakeBot::detached(platform, addr);
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
            .with_state(bot.core.clone());
        bot.task = Some(tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        }));
        bot
    }

    /// A fake whose requests some other server (the sandbox) hands to
    /// [`serve_request`]; `addr` is where that server listens.
    pub(super) fn detached(platform: Platform, addr: SocketAddr) -> FakeBot {
        let core = Arc::new(Core {
            platform,
            inner: Mutex::default(),
            notify: Notify::new(),
            counter: AtomicU64::new(0),
            base: Mutex::new(format!("http://{addr}")),
        });
        FakeBot {
            platform,
            addr,
            core,
            task: None,
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
                incidents: Vec::new(),
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

    /// The `GET /_sandbox` page of this fake (on a [`super::Sandbox`], the
    /// platform's HTML page).
    pub fn sandbox_url(&self) -> String {
        if self.task.is_none() {
            return format!(
                "http://{}{}",
                self.addr,
                super::page::page_path(self.platform)
            );
        }
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
        let mut inner = self.core.lock();
        inner.frozen_at = Some(Instant::now());
        inner.rate_advance = Duration::ZERO;
    }

    /// Moves the clock of the rate windows and blocks forward by `by`, as if
    /// that much time had passed (tests cross a window without sleeping).
    pub fn advance(&self, by: Duration) {
        let mut inner = self.core.lock();
        inner.rate_advance = inner.rate_advance.saturating_add(by);
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

async fn handle(
    State(core): State<Arc<Core>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == "/_sandbox" && method == Method::GET {
        return (
            [("content-type", "text/plain; charset=utf-8")],
            sandbox_section(&core),
        )
            .into_response();
    }
    serve_request(&core, peer, method, uri, headers, body).await
}

/// Checks and records one request to the platform `core` imitates, and
/// answers it the way the platform does.
pub(super) async fn serve_request(
    core: &Core,
    peer: SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().map(str::to_string);
    let platform = core.platform;
    let token = match platform {
        Platform::PagerDuty => crate::pagerduty::token_of_body(&body),
        _ => platform.token_of(&path, query.as_deref()),
    };
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
    let now = inner.frozen_at.unwrap_or_else(Instant::now) + inner.rate_advance;
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
