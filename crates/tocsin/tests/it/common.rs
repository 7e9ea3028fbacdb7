#![allow(dead_code)]

use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tocsin::clock::{ManualClock, SharedClock};
use tocsin::config::{Config, load_str};
use tocsin::server::{ServeOptions, Server};
pub use tocsin_fakes::{Reply, WebhookReceiver};

pub const WAIT: Duration = Duration::from_secs(20);

/// Loads a config; `{data}` in the text is replaced by the data dir.
pub fn config(yaml: &str, env: &[(&str, &str)]) -> Config {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let loaded = load_str(yaml, "test.yaml", &|name| {
        env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    });
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| !d.warning)
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "config errors: {errors:#?}");
    loaded.config.expect("config")
}

pub struct Harness {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    /// Set: the server runs on this manual clock (see [`Harness::start_manual`]).
    pub clock: Option<Arc<ManualClock>>,
}

impl Harness {
    pub async fn start(yaml: &str) -> Harness {
        Self::start_env(yaml, &[]).await
    }

    pub async fn start_env(yaml: &str, env: &[(&str, &str)]) -> Harness {
        Self::start_on(yaml, env, None).await
    }

    /// Starts a server whose time only moves with `h.clock()`'s `advance`.
    pub async fn start_manual(yaml: &str) -> Harness {
        Self::start_on(yaml, &[], Some(ManualClock::starting_now())).await
    }

    async fn start_on(
        yaml: &str,
        env: &[(&str, &str)],
        clock: Option<Arc<ManualClock>>,
    ) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut h = Harness {
            server: None,
            dir,
            client: client(),
            clock,
        };
        h.boot(config(yaml, env)).await;
        h
    }

    /// The manual clock the server runs on.
    pub fn clock(&self) -> &ManualClock {
        self.clock.as_deref().expect("started with start_manual")
    }

    /// (Re)starts a server on this harness's data dir.
    pub async fn boot(&mut self, config: Config) {
        let options = ServeOptions {
            config_path: None,
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(self.dir.path().to_path_buf()),
            clock: self.clock.clone().map(|c| c as SharedClock),
        };
        self.server = Some(
            Server::start_with(config, options)
                .await
                .expect("server starts"),
        );
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.server.as_ref().expect("running").base_url(),
            path
        )
    }

    pub async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.post_with(path, body, None).await
    }

    pub async fn post_with(&self, path: &str, body: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// `GET /metrics` as text (Prometheus' format).
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.get_with(path, None).await
    }

    pub async fn get_with(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn event(&self, id: &str) -> Value {
        let (status, v) = self.get(&format!("/api/v1/events/{id}")).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// Polls an event until its delivery to `contact` has the given status.
    pub async fn wait_status(&self, id: &str, contact: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.event(id).await;
            let d = v["deliveries"]
                .as_array()
                .and_then(|ds| ds.iter().find(|d| d["contact"] == contact))
                .cloned();
            if d.as_ref().is_some_and(|d| d["status"] == status) {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("delivery of {id} to {contact} never became {status}: {v:#}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

pub fn client() -> reqwest::Client {
    tocsin::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A config with one webhook contact `hook` at `url`, one group, one policy
/// and the given subscriptions (YAML list items, indented two spaces).
pub fn one_hook(url: &str, extra_contact: &str, subscriptions: &str) -> String {
    format!(
        r#"
delivery:
  allow_private_networks: true
  backoff: {{ initial: 50ms, max: 200ms }}
  timeout: 2s
contacts:
  - name: hook
    channel: webhook
    webhook: "{url}"
{extra_contact}
contact_groups:
  - {{ name: team, contacts: [hook] }}
notification_policies:
  - {{ name: policy, contact_groups: [team] }}
subscriptions:
{subscriptions}
"#
    )
}

pub const ALL: &str = "  - { name: all, notification_policy: policy }\n";

pub fn native(id: &str, name: &str, level: &str) -> String {
    format!(
        r#"{{"id":"{id}","product":"Sas","event_type":"Suspicious","name":"{name}","level":"{level}",
            "resource":"acs:ecs:cn-hangzhou:1:instance/i-bp1abc","instance":"web-01","region":"cn-hangzhou",
            "time":"2026-11-29T02:00:00Z","content":{{"alarmUniqueInfo":"u-{id}","desc":"unusual login"}}}}"#
    )
}

/// The chat `platform_config` sends Telegram messages to.
pub const TELEGRAM_CHAT: i64 = -1_001_234_567_890;

/// A config with one chat-platform contact `bot` (`channel` at `url`, plus
/// `extra` contact keys), one group, one policy and one subscription to everything.
/// The routing key of the PagerDuty fake's service in the tests.
pub const PAGERDUTY_KEY: &str = "R0UT1NGKEYTESTS00000000000000001";

pub fn platform_config(channel: &str, url: &str, extra: &str) -> String {
    // Telegram has no webhook URL: its fake's bot URL
    // `{api_base}/bot{token}/sendMessage` becomes the contact's keys.
    let target = match channel {
        "telegram" => {
            let (base, rest) = url.rsplit_once("/bot").expect("a Telegram bot URL");
            let token = rest.trim_end_matches("/sendMessage");
            format!(
                "bot_token: \"{token}\"\n    chat_id: {TELEGRAM_CHAT}\n    api_base: \"{base}\""
            )
        }
        // PagerDuty: the routing key in the body, the fake's URL as `url`.
        "pagerduty" => format!("routing_key: {PAGERDUTY_KEY}\n    url: \"{url}\""),
        _ => format!("webhook: \"{url}\""),
    };
    format!(
        r#"
server:
  public_url: https://tocsin.example.com
delivery:
  allow_private_networks: true
  backoff: {{ initial: 50ms, max: 200ms }}
  timeout: 2s
contacts:
  - name: bot
    channel: {channel}
    {target}
{extra}
contact_groups:
  - {{ name: team, contacts: [bot] }}
notification_policies:
  - {{ name: policy, contact_groups: [team] }}
subscriptions:
  - {{ name: sec-feed, notification_policy: policy }}
"#
    )
}

/// The pending messages of `contact`: (id, attempts made, next attempt), read
/// from the store's own table.
pub fn pending_of(h: &Harness, contact: &str) -> Vec<(String, i64, i64)> {
    let db = rusqlite::Connection::open(h.dir.path().join("tocsin.db")).unwrap();
    let mut q = db
        .prepare(
            "SELECT id, attempts, next_attempt_ms FROM messages \
             WHERE contact = ?1 AND status = 'pending' ORDER BY id",
        )
        .unwrap();
    q.query_map([contact], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Waits until the store shows `n` pending messages of `contact` with
/// `attempts` attempts in all: the workers have acted on the current instant.
pub async fn settled(
    h: &Harness,
    contact: &str,
    n: usize,
    attempts: i64,
) -> Vec<(String, i64, i64)> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let p = pending_of(h, contact);
        if p.len() == n && p.iter().map(|m| m.1).sum::<i64>() == attempts {
            return p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {attempts} attempts on {n} pending messages: {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until the store in `data_dir` holds no pending message: every
/// message was tried and ended, so the workers will send nothing more. A
/// deterministic barrier before asserting what a receiver did not get.
pub async fn idle_db(data_dir: &std::path::Path) {
    let db = rusqlite::Connection::open(data_dir.join("tocsin.db")).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let pending: i64 = db
            .query_row(
                "SELECT count(*) FROM messages WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{pending} messages still pending"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// [`idle_db`] on this harness's store.
pub async fn idle(h: &Harness) {
    idle_db(h.dir.path()).await
}

/// Waits until the file at `path` contains `needle`.
pub async fn wait_for_text(path: &std::path::Path, needle: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} never contained {needle:?}:\n{text}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
