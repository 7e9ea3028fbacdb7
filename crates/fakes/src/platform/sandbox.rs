//! The sandbox: the eight platform fakes on one fixed port, each on its real
//! webhook path (they do not collide), with fixed, documented bots, and the
//! pages showing what each bot got; plus the plain-text page the tests read.

use super::*;
use axum::routing::get;

/// The sandbox's default listen address (`tocsin sandbox`, `tocsin demo`).
pub const DEFAULT_SANDBOX_LISTEN: &str = "127.0.0.1:9760";

/// One of the sandbox's fixed bots: what a user's contact needs to reach it.
#[derive(Clone, Copy, Debug)]
pub struct SandboxBot {
    pub platform: Platform,
    /// The Tocsin `channel` of a contact for it.
    pub channel: &'static str,
    /// The token in its URL (Lark hook, WeCom key, DingTalk access token, Slack
    /// path, Discord `{id}/{token}`, Teams `{workflow id}/{sig}`).
    pub token: &'static str,
    pub secret: Option<&'static str>,
    pub keyword: Option<&'static str>,
}

/// The fixed bots every sandbox serves (documented in the README).
pub const SANDBOX_BOTS: [SandboxBot; 8] = [
    SandboxBot {
        platform: Platform::Lark,
        channel: "lark",
        token: "sandbox-lark",
        secret: Some("sandbox-lark-secret"),
        keyword: Some("alert"),
    },
    SandboxBot {
        platform: Platform::WeCom,
        channel: "wecom",
        token: "sandbox-wecom",
        secret: None,
        keyword: None,
    },
    SandboxBot {
        platform: Platform::DingTalk,
        channel: "dingtalk",
        token: "sandbox-dingtalk",
        secret: Some("SECsandbox"),
        keyword: Some("alert"),
    },
    SandboxBot {
        platform: Platform::Slack,
        channel: "slack",
        token: "T0SANDBOX/B0SANDBOX/sandbox",
        secret: None,
        keyword: None,
    },
    SandboxBot {
        platform: Platform::Discord,
        channel: "discord",
        token: "1100000000000000001/sandbox-discord",
        secret: None,
        keyword: None,
    },
    SandboxBot {
        platform: Platform::Teams,
        channel: "teams",
        token: "5a4db0c0ffee4e11a0de000000000001/sandbox-teams-sig",
        secret: None,
        keyword: None,
    },
    // Telegram: the token is `{bot id}:{key}`; the bot is in every chat.
    SandboxBot {
        platform: Platform::Telegram,
        channel: "telegram",
        token: "7000000001:sandbox-telegram",
        secret: None,
        keyword: None,
    },
    // PagerDuty: a service's Events API v2 routing key (in the body; the
    // URL is /v2/enqueue).
    SandboxBot {
        platform: Platform::PagerDuty,
        channel: "pagerduty",
        token: SANDBOX_PAGERDUTY_KEY,
        secret: None,
        keyword: None,
    },
];

/// The sandbox service's routing key (32 characters, as PagerDuty's are).
pub const SANDBOX_PAGERDUTY_KEY: &str = "sandboxpagerdutyroutingkey000001";

impl SandboxBot {
    pub fn settings(&self) -> BotSettings {
        BotSettings {
            secret: self.secret.map(str::to_string),
            keywords: self.keyword.map(str::to_string).into_iter().collect(),
            rate: None,
            chats: Vec::new(),
        }
    }
}

const PLATFORMS: [Platform; 8] = [
    Platform::Lark,
    Platform::WeCom,
    Platform::DingTalk,
    Platform::Slack,
    Platform::Discord,
    Platform::Teams,
    Platform::Telegram,
    Platform::PagerDuty,
];

/// The eight platform fakes on one address. `GET /` lists the bots,
/// `GET /lark`, `/wecom`, `/dingtalk`, `/slack`, `/discord`, `/teams`, `/telegram` show what their bots got
/// (HTML, as the platform renders it), `GET /_sandbox` the same as plain
/// text, `GET /_sandbox/requests` every request as it arrived (JSON); webhook requests go to the platform their path belongs to:
/// `/open-apis/…` Lark, `/cgi-bin/…` WeCom, `/robot/…` DingTalk,
/// `/services/…` Slack, `/api/webhooks/…` (and `/api/v{n}/webhooks/…`)
/// Discord, `/workflows/…` (and `/powerautomate/…/workflows/…`) Teams,
/// `/bot<token>/…` Telegram, `/v2/enqueue` PagerDuty (its page `/pagerduty`
/// lists each service's incidents). Dropping it stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    bots: Vec<FakeBot>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sandbox {
    /// Binds `listen` and serves the eight platforms with [`SANDBOX_BOTS`].
    pub async fn start(listen: &str) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let bots: Vec<FakeBot> = PLATFORMS
            .iter()
            .map(|p| FakeBot::detached(*p, addr))
            .collect();
        for b in SANDBOX_BOTS {
            bots[index(b.platform)].add_bot(b.token, b.settings());
        }
        let cores: Arc<Vec<Arc<Core>>> = Arc::new(bots.iter().map(|b| b.core.clone()).collect());
        let app = Router::new()
            .route("/", get(index_handler))
            .route("/_sandbox", get(text_handler))
            .route("/_sandbox/requests", get(requests_handler))
            .fallback(route_request)
            .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
            .with_state(cores);
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Ok(Sandbox { addr, bots, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fake of `platform` (to add bots, read what it got, script answers).
    pub fn bot(&self, platform: Platform) -> &FakeBot {
        &self.bots[index(platform)]
    }

    /// The webhook URL of a bot.
    pub fn url(&self, platform: Platform, token: &str) -> String {
        self.bot(platform).url(token)
    }

    /// The HTML page of a platform's bots.
    pub fn page_url(&self, platform: Platform) -> String {
        format!("http://{}{}", self.addr, page::page_path(platform))
    }

    /// The index page.
    pub fn index_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// What every bot got, as plain text (as [`sandbox_page`]).
    pub fn text(&self) -> String {
        sandbox_page(&self.bots.iter().collect::<Vec<_>>())
    }
}

fn index(p: Platform) -> usize {
    PLATFORMS.iter().position(|x| *x == p).unwrap_or(0)
}

type Cores = Arc<Vec<Arc<Core>>>;

async fn index_handler(State(cores): State<Cores>) -> Response {
    let mut rows = Vec::new();
    for core in cores.iter() {
        let base = core.base.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let inner = core.lock();
        let mut tokens: Vec<(&String, &BotState)> = inner.bots.iter().collect();
        tokens.sort_by_key(|(t, _)| *t);
        for (token, state) in tokens {
            let mine = inner.received.iter().filter(|d| &d.token == token);
            let (acc, all) = mine.fold((0, 0), |(a, n), d| (a + usize::from(d.accepted()), n + 1));
            rows.push(page::IndexRow {
                platform: core.platform,
                token: token.clone(),
                url: format!("{base}{}", core.platform.url_path(token)),
                secret: state.settings.secret.clone(),
                keywords: state.settings.keywords.clone(),
                accepted: acc,
                refused: all - acc,
            });
        }
    }
    html(page::index_page(&rows))
}

async fn text_handler(State(cores): State<Cores>) -> Response {
    let text: String = cores.iter().map(|c| sandbox_section(c) + "\n").collect();
    ([("content-type", "text/plain; charset=utf-8")], text).into_response()
}

/// Every request each fake got, oldest first, with its body as sent (JSON
/// when it parses, else the text) and the answer: what a sender really put
/// on the wire, for tests and for users checking their own config.
async fn requests_handler(State(cores): State<Cores>) -> Response {
    let mut all = Vec::new();
    for core in cores.iter() {
        let inner = core.lock();
        for d in &inner.received {
            let body = serde_json::from_slice::<serde_json::Value>(&d.body).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&d.body).into_owned())
            });
            all.push(serde_json::json!({
                "platform": core.platform.name(),
                "token": d.token,
                "path": d.path,
                "query": d.query,
                "at_ms": d.at_ms,
                "body": body,
                "http_status": d.http_status,
                "code": d.code,
                "answer": d.answer,
            }));
        }
    }
    (
        [
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
        ],
        serde_json::Value::Array(all).to_string(),
    )
        .into_response()
}

fn html(body: String) -> Response {
    (
        [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            (
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        body,
    )
        .into_response()
}

/// The platform a webhook path belongs to.
fn platform_of(path: &str) -> Option<Platform> {
    if path.starts_with("/open-apis/") {
        Some(Platform::Lark)
    } else if path.starts_with("/cgi-bin/") {
        Some(Platform::WeCom)
    } else if path.starts_with("/robot/") {
        Some(Platform::DingTalk)
    } else if path.starts_with("/services/") {
        Some(Platform::Slack)
    } else if path.starts_with("/api/webhooks/") || is_versioned_discord(path) {
        Some(Platform::Discord)
    } else if path.starts_with("/workflows/") || path.starts_with("/powerautomate/") {
        Some(Platform::Teams)
    } else if path.starts_with("/bot") {
        Some(Platform::Telegram)
    } else if path.trim_end_matches('/') == crate::pagerduty::PATH {
        Some(Platform::PagerDuty)
    } else {
        None
    }
}

/// `/api/v{n}/webhooks/…`, the versioned form Discord also accepts.
fn is_versioned_discord(path: &str) -> bool {
    path.strip_prefix("/api/v")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(n, rest)| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with("webhooks/")
        })
}

async fn route_request(
    State(cores): State<Cores>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::GET
        && let Some(p) = PLATFORMS
            .iter()
            .find(|p| page::page_path(**p) == uri.path())
    {
        return html(page::platform_page(&cores[index(*p)]));
    }
    match platform_of(uri.path()) {
        Some(p) => server::serve_request(&cores[index(p)], peer, method, uri, headers, body).await,
        None => (StatusCode::NOT_FOUND, "404 page not found").into_response(),
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

pub(super) fn sandbox_section(core: &Core) -> String {
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

use super::page::clock;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::testutil::{get, post_json};
    use serde_json::json;

    #[tokio::test]
    async fn one_port_serves_the_seven_platforms_on_their_paths_and_pages() {
        let sb = Sandbox::start("127.0.0.1:0").await.unwrap();
        // WeCom: unsigned; a second message shows first on the page.
        let url = sb.url(Platform::WeCom, "sandbox-wecom");
        assert_eq!(
            url,
            format!(
                "http://{}/cgi-bin/webhook/send?key=sandbox-wecom",
                sb.addr()
            )
        );
        for content in ["first <img src=x onerror=alert(1)>", "**second**"] {
            let a = post_json(
                &url,
                &json!({"msgtype":"markdown","markdown":{"content":content}}),
            )
            .await;
            assert_eq!(a.json()["errcode"], 0);
        }
        // Lark: signed with the documented secret and keyword, so unsigned is 19021.
        let lark = sb.url(Platform::Lark, "sandbox-lark");
        assert!(lark.ends_with("/open-apis/bot/v2/hook/sandbox-lark"));
        let a = post_json(
            &lark,
            &json!({"msg_type":"text","content":{"text":"alert"}}),
        )
        .await;
        assert_eq!(a.json()["code"], 19021);
        let ts = crate::platform::wall_ms() / 1000;
        let signed = json!({"msg_type":"text","content":{"text":"<script>x</script>"},
            "timestamp": ts.to_string(), "sign": crate::lark::expected_sign("sandbox-lark-secret", ts)});
        assert_eq!(post_json(&lark, &signed).await.json()["code"], 19024);
        // DingTalk and Slack answer on the same port.
        let ding = sb.url(Platform::DingTalk, "sandbox-dingtalk");
        assert!(ding.ends_with("/robot/send?access_token=sandbox-dingtalk"));
        let a = post_json(&ding, &json!({"msgtype":"text","text":{"content":"alert"}})).await;
        assert_eq!(
            a.json(),
            json!({"errcode":310000,"errmsg":"invalid timestamp"})
        );
        let slack = sb.url(Platform::Slack, "T0SANDBOX/B0SANDBOX/sandbox");
        assert!(slack.ends_with("/services/T0SANDBOX/B0SANDBOX/sandbox"));
        let a = post_json(&slack, &json!({"text":"*hi* &lt;script&gt;"})).await;
        assert_eq!((a.status, a.body.as_str()), (200, "ok"));
        // Discord: `/api/webhooks/{id}/{token}`, and the versioned path too.
        let discord = sb.url(Platform::Discord, "1100000000000000001/sandbox-discord");
        assert_eq!(
            discord,
            format!(
                "http://{}/api/webhooks/1100000000000000001/sandbox-discord",
                sb.addr()
            )
        );
        let msg = json!({"allowed_mentions": {"parse": []},
            "embeds": [{"title": "t <b>", "description": "**bold** <script>y</script>"}]});
        let a = post_json(&discord, &msg).await;
        assert_eq!((a.status, a.body.as_str()), (204, ""));
        let wrong = format!(
            "http://{}/api/v10/webhooks/1100000000000000001/wrong",
            sb.addr()
        );
        let a = post_json(&wrong, &msg).await;
        assert_eq!(
            (a.status, a.json()),
            (
                401,
                json!({"code": 50027, "message": "Invalid Webhook Token"})
            )
        );
        let a = post_json(
            &format!("{discord}?wait=true"),
            &json!({"content": "newer"}),
        )
        .await;
        assert_eq!(a.status, 200);
        // Teams: a Workflows trigger URL, its `sig` checked.
        let teams = sb.url(
            Platform::Teams,
            "5a4db0c0ffee4e11a0de000000000001/sandbox-teams-sig",
        );
        assert!(
            teams.starts_with(&format!(
                "http://{}/workflows/5a4db0c0ffee4e11a0de000000000001/triggers/manual/paths/invoke?",
                sb.addr()
            )),
            "{teams}"
        );
        let card = json!({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
            "content": {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "**card** <script>z</script>"}]}}]});
        let a = post_json(&teams, &card).await;
        assert_eq!((a.status, a.body.as_str()), (202, ""));
        let a = post_json(&teams.replace("sandbox-teams-sig", "forged"), &card).await;
        assert_eq!(a.status, 401);

        // Telegram: `/bot<token>/sendMessage`, its answers in its shape.
        let telegram = sb.url(Platform::Telegram, "7000000001:sandbox-telegram");
        assert_eq!(
            telegram,
            format!(
                "http://{}/bot7000000001:sandbox-telegram/sendMessage",
                sb.addr()
            )
        );
        let a = post_json(
            &telegram,
            &json!({"chat_id": -1001, "text": "<b>bold</b> &lt;script&gt;", "parse_mode": "HTML"}),
        )
        .await;
        assert_eq!((a.status, a.json()["ok"].clone()), (200, json!(true)));
        let a = post_json(
            &format!("http://{}/bot7000000001:wrong/sendMessage", sb.addr()),
            &json!({"chat_id": -1001, "text": "x"}),
        )
        .await;
        assert_eq!(
            (a.status, a.json()["description"].clone()),
            (401, json!("Unauthorized"))
        );
        let telegram_page = get(&sb.page_url(Platform::Telegram)).await.body;
        assert!(
            telegram_page.contains("<b>bold</b> &lt;script&gt;"),
            "{telegram_page}"
        );
        assert!(!telegram_page.contains("<script>"), "{telegram_page}");

        let page = get(&sb.page_url(Platform::WeCom)).await;
        assert_eq!(page.status, 200);
        assert_eq!(
            page.headers["content-type"].to_str().unwrap(),
            "text/html; charset=utf-8"
        );
        let b = &page.body;
        assert!(
            b.contains("<meta http-equiv=\"refresh\" content=\"2\">"),
            "{b}"
        );
        let second = b.find("<strong>second</strong>").expect("second rendered");
        let first = b
            .find("first &lt;img src=x onerror=alert(1)&gt;")
            .expect("first escaped");
        assert!(second < first, "newest first: {b}");
        assert!(!b.contains("<img"), "{b}");
        let lark_page = get(&sb.page_url(Platform::Lark)).await.body;
        assert!(
            lark_page.contains("refused (HTTP 200 code 19021)"),
            "{lark_page}"
        );
        assert!(
            lark_page.contains("refused (HTTP 200 code 19024)"),
            "{lark_page}"
        );
        assert!(!lark_page.contains("<script>x"), "{lark_page}");
        let slack_page = get(&sb.page_url(Platform::Slack)).await.body;
        assert!(
            slack_page.contains("<p><strong>hi</strong> &lt;script&gt;</p>"),
            "{slack_page}"
        );
        let discord_page = get(&sb.page_url(Platform::Discord)).await.body;
        assert!(
            discord_page.contains("<a href=\"/discord\">Discord</a>"),
            "{discord_page}"
        );
        let bold = discord_page
            .find("<strong>bold</strong>")
            .expect("embed rendered");
        let newer = discord_page.find("newer").expect("content rendered");
        assert!(newer < bold, "newest first: {discord_page}");
        assert!(discord_page.contains("t &lt;b&gt;"), "{discord_page}");
        assert!(!discord_page.contains("<script"), "{discord_page}");
        assert!(
            discord_page.contains("refused (HTTP 401 code 50027)"),
            "{discord_page}"
        );
        let teams_page = get(&sb.page_url(Platform::Teams)).await.body;
        assert!(
            teams_page.contains("<a href=\"/teams\">Teams</a>"),
            "{teams_page}"
        );
        assert!(
            teams_page.contains("<strong>card</strong> &lt;script&gt;z"),
            "{teams_page}"
        );
        assert!(!teams_page.contains("<script"), "{teams_page}");
        let requests = get(&format!("http://{}/_sandbox/requests", sb.addr())).await;
        assert_eq!(
            requests.headers["content-type"].to_str().unwrap(),
            "application/json"
        );
        let requests = requests.json();
        let first = requests
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["platform"] == "Discord")
            .expect("a Discord request");
        assert_eq!(first["token"], "1100000000000000001/sandbox-discord");
        assert_eq!(first["body"], msg);
        assert_eq!(first["http_status"], 204);
        let index = get(&sb.index_url()).await.body;
        assert!(index.contains(&esc_url(&discord)), "{index}");
        assert!(index.contains(&esc_url(&ding)), "{index}");
        assert!(index.contains("SECsandbox"), "{index}");
        assert!(sb.text().contains("=== WeCom sandbox"));
        assert!(
            get(&format!("http://{}/_sandbox", sb.addr()))
                .await
                .body
                .contains("**second**")
        );
        assert_eq!(get(&format!("http://{}/nope", sb.addr())).await.status, 404);
    }

    fn esc_url(u: &str) -> String {
        page::markup::esc(u)
    }

    #[tokio::test]
    async fn a_taken_port_is_an_error_not_a_panic() {
        let sb = Sandbox::start("127.0.0.1:0").await.unwrap();
        let err = Sandbox::start(&sb.addr().to_string()).await.err().unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    }
}
